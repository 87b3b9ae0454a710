"""Ingress's side of the providers: checking what Twilio and Stripe signed."""
