"""Events published by ingress: what arrived from Twilio and Stripe, and new identities."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from careline_contracts import subjects
from careline_contracts.base import Event


class UserRegistered(Event):
    """A phone number texted the line for the first time and became a user."""

    subject: ClassVar[str] = subjects.USER_REGISTERED
    user_id: str
    phone: str


class SmsReceived(Event):
    """A caregiver's text, verified and made durable by ingress."""

    subject: ClassVar[str] = subjects.SMS_INBOUND_RECEIVED
    message_sid: str = Field(min_length=1, max_length=64)
    user_id: str
    phone: str
    to: str = ""
    body: str = Field(max_length=1600)


class SmsStatusUpdated(Event):
    """Twilio's delivery status callback for one outbound message."""

    subject: ClassVar[str] = subjects.SMS_STATUS_UPDATED
    message_sid: str = Field(min_length=1, max_length=64)
    status: str
    error_code: str | None = None


class StripeEventReceived(Event):
    """A verified Stripe webhook event, passed on whole for billing to interpret."""

    subject: ClassVar[str] = subjects.STRIPE_EVENT_RECEIVED
    event_id: str = Field(min_length=1)
    type: str
    created: int
    data: dict[str, Any]

    def caregivers(self) -> list[str]:
        """The caregivers the event names: a checkout's ``client_reference_id``, a subscription's
        ``metadata.user_id`` (what an erasure's guard checks; a customer id alone names none)."""
        obj = self.data.get("object")
        if not isinstance(obj, dict):
            return []
        metadata = obj.get("metadata")
        named = [
            obj.get("client_reference_id"),
            metadata.get("user_id") if isinstance(metadata, dict) else None,
        ]
        return [user for user in named if isinstance(user, str) and user]
