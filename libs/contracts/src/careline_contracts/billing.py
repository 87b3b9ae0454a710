"""Events published by billing."""

from __future__ import annotations

from typing import ClassVar, Literal

from careline_contracts import subjects
from careline_contracts.base import Event

Plan = Literal["monthly", "annual"]


class EntitlementChanged(Event):
    """A caregiver's right to the AI companion flipped (trial, subscription, lapse), or their
    Stripe subscription began or ended.

    Published only when ``entitled`` or ``subscribed`` changes, so consumers keep a projection
    of the flags; ``status`` is billing's subscription status at that moment. ``subscribed``
    (added later, so v1 events without it stay valid) says a Stripe subscription may still
    charge the caregiver: a STOP confirmation then says how to cancel it.
    """

    subject: ClassVar[str] = subjects.BILLING_ENTITLEMENT_CHANGED
    user_id: str
    entitled: bool
    status: str
    subscribed: bool = False


class CheckoutLinkReady(Event):
    """A checkout link for a caregiver; conversation texts it to them.

    ``situation`` says why (added later, defaults keep v1 events valid): ``new`` (the trial
    ended), ``lapsed`` (a subscription ended), ``payment`` (a payment keeps failing),
    ``incomplete`` (a first payment was never completed) or ``asked`` (BILLING or ANNUAL);
    ``plan`` is the price the link is for.
    """

    subject: ClassVar[str] = subjects.BILLING_CHECKOUT_LINK_READY
    user_id: str
    session_id: str
    url: str
    situation: Literal["new", "lapsed", "payment", "incomplete", "asked"] = "new"
    plan: Plan = "monthly"


Notice = Literal[
    "trial_ending", "trial_converting", "payment_failed", "payment_overdue", "thanks", "canceled", "portal"
]
"""The billing notices conversation has a text for (``BillingNoticeReady``)."""


class BillingNoticeReady(Event):
    """Something billing owes the caregiver a text about; conversation words and sends it.

    ``notice`` names the text: ``trial_ending`` (``days_left`` of the local trial),
    ``trial_converting`` (``days_left`` of a trial Stripe runs: the subscription starts then),
    ``payment_failed``
    (``url``: the billing portal, to update the card), ``payment_overdue`` (the same, once the
    grace period is over and replies are paused), ``thanks`` (a checkout completed),
    ``canceled`` (``days_left`` of access after a cancellation) or ``portal`` (BILLING from a
    caregiver with a Stripe customer; ``url``: the billing portal). ``notice_id`` names the
    fact, so conversation sends each notice once.
    """

    subject: ClassVar[str] = subjects.BILLING_NOTICE_READY
    user_id: str
    notice: Notice
    notice_id: str
    url: str | None = None
    days_left: int | None = None
