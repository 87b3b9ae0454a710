"""Events published by billing."""

from __future__ import annotations

from typing import ClassVar

from careline_contracts import subjects
from careline_contracts.base import Event


class EntitlementChanged(Event):
    """A caregiver's right to the AI companion flipped (trial, subscription, lapse).

    Published only when ``entitled`` changes, so consumers keep a projection of the flag;
    ``status`` is billing's subscription status at that moment.
    """

    subject: ClassVar[str] = subjects.BILLING_ENTITLEMENT_CHANGED
    user_id: str
    entitled: bool
    status: str


class CheckoutLinkReady(Event):
    """A checkout link for a caregiver who is not entitled; conversation texts it to them."""

    subject: ClassVar[str] = subjects.BILLING_CHECKOUT_LINK_READY
    user_id: str
    session_id: str
    url: str
