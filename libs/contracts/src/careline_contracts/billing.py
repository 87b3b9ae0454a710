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
