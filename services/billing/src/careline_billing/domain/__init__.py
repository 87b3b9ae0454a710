"""Billing's rules, pure: who has access, how Stripe events move an account, what is owed.

``access`` says who may use the AI companion (trial, subscription, a past_due grace period) and
which entitlement event a change owes; ``lifecycle`` reads Stripe's events (which status an
event means, which event is newer) and the trial's and grace period's ends. Nothing here does
input or output: the handlers read and write, these functions decide.
"""
