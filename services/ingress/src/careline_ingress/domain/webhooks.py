"""What a verified webhook becomes: the events to publish, their ids and keys, or a refusal.

Every rule here is pure (no broker, no database, no clock of its own), so each is a plain
unit test. The message ids are the de-duplication contract (DESIGN.md, Messaging): the same
provider delivery always gets the same ``Nats-Msg-Id``, however often the provider retries.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from careline_contracts import subjects
from careline_contracts.base import Event
from careline_contracts.ingress import SmsReceived, SmsStatusUpdated, StripeEventReceived, UserRegistered
from careline_platform.phone import InvalidPhoneNumber, to_e164

MAX_BODY_BYTES = 64 * 1024
MAX_SMS_CHARS = 1600
MESSAGE_SID = re.compile(r"(SM|MM)[0-9a-f]{32}")
"""Twilio's message id: SM (SMS) or MM (MMS) and 32 lower-case hex digits."""
ACCOUNT_SID = re.compile(r"AC[0-9a-f]{32}")
"""Twilio's account id: AC and 32 lower-case hex digits; Twilio sends it with every webhook."""
Document = dict[str, Any]


class BadRequest(Exception):
    """A signed request we cannot use; answered 400 with this message."""


@dataclass(frozen=True)
class Publication:
    """One event to make durable: what, under which ``Nats-Msg-Id``, about whom, in which stream."""

    event: Event
    msg_id: str
    key: str
    stream: subjects.Stream


@dataclass(frozen=True)
class InboundSms:
    """The two fields an inbound text cannot do without: Twilio's id and the sender."""

    sid: str
    phone: str


@dataclass(frozen=True)
class HeldSms:
    """A verified inbound text kept whole until its sender can be looked up (the spool's ``sms``).

    ``received_at`` is when the webhook arrived: the event published later says so, not when
    the spool was drained.
    """

    params: dict[str, str]
    correlation_id: str
    received_at: datetime

    def to_bytes(self) -> bytes:
        document = {"params": self.params, "cid": self.correlation_id, "at": self.received_at.isoformat()}
        return json.dumps(document).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> HeldSms:
        document = json.loads(raw)
        return cls(dict(document["params"]), document["cid"], datetime.fromisoformat(document["at"]))


def check_size(raw: bytes) -> bytes:
    """The body, if within the limit (a chunked body has no Content-Length to refuse early)."""
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest("body too large")
    return raw


def parse_form(raw: bytes) -> list[tuple[str, str]]:
    """Twilio's form body as ordered pairs (the signature covers them all, blanks included)."""
    check_size(raw)
    try:
        return parse_qsl(raw.decode(), keep_blank_values=True, strict_parsing=bool(raw))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("body is not a form") from exc


def twilio_ids(params: Mapping[str, str], sid: str) -> str:
    """``sid``, once it and the AccountSid have Twilio's shapes.

    An id of any other shape is refused (400): it would otherwise become a ``Nats-Msg-Id`` and a
    job key, and a signed post whose parameter boundary was shifted (``MessageSid=SMabc`` and
    ``NumMedia=0`` read as ``MessageSid=SMabcNumMedia0``) would pass for a new message.
    """
    if not MESSAGE_SID.fullmatch(sid):
        raise BadRequest("MessageSid is not a Twilio message id (SM or MM and 32 hex digits)")
    if not ACCOUNT_SID.fullmatch(params.get("AccountSid") or ""):
        raise BadRequest("AccountSid is not a Twilio account id (AC and 32 hex digits)")
    return sid


def inbound_sms(params: Mapping[str, str]) -> InboundSms:
    """Who sent which message; older Twilio posts name the id ``SmsSid``."""
    sid, sender = params.get("MessageSid") or params.get("SmsSid"), params.get("From")
    if not sid or not sender:
        raise BadRequest("MessageSid and From are required")
    twilio_ids(params, sid)
    try:
        return InboundSms(sid, to_e164(sender))
    except InvalidPhoneNumber as exc:
        raise BadRequest("From is not a phone number") from exc


def needs_registration(user: Document) -> bool:
    """True until ``user.registered`` is known to be published for this identity."""
    return not user.get("registered_published")


def user_registered(user_id: str, phone: str, now: datetime, correlation_id: str) -> Publication:
    """The new caregiver's ``user.registered``: one id per user, so a repeat is a duplicate."""
    event = UserRegistered(occurred_at=now, correlation_id=correlation_id, user_id=user_id, phone=phone)
    return Publication(event, f"user.registered:{user_id}", user_id, subjects.USERS)


def sms_received(
    sms: InboundSms, user_id: str, params: Mapping[str, str], now: datetime, correlation_id: str
) -> Publication:
    """The caregiver's text, keyed by user (one actor per caregiver), id ``twilio:<MessageSid>``."""
    event = SmsReceived(
        occurred_at=now,
        correlation_id=correlation_id,
        message_sid=sms.sid,
        user_id=user_id,
        phone=sms.phone,
        to=params.get("To", ""),
        body=params.get("Body", "")[:MAX_SMS_CHARS],
    )
    return Publication(event, f"twilio:{sms.sid}", user_id, subjects.SMS)


def status_updated(params: Mapping[str, str], now: datetime, correlation_id: str) -> Publication:
    """A delivery status callback; each (message, status) pair is published once."""
    sid, status = params.get("MessageSid"), params.get("MessageStatus")
    if not sid or not status:
        raise BadRequest("MessageSid and MessageStatus are required")
    twilio_ids(params, sid)
    event = SmsStatusUpdated(
        occurred_at=now,
        correlation_id=correlation_id,
        message_sid=sid,
        status=status.lower(),
        error_code=params.get("ErrorCode") or None,
    )
    return Publication(event, f"twilio-status:{sid}:{event.status}", sid, subjects.SMS)


def stripe_received(raw: bytes, now: datetime, correlation_id: str) -> Publication:
    """A verified Stripe event, whole; keyed by its customer so one customer's events stay in order."""
    try:
        payload: Any = json.loads(raw)
        obj = payload["data"]["object"]
        event = StripeEventReceived(
            occurred_at=now,
            correlation_id=correlation_id,
            event_id=payload["id"],
            type=payload["type"],
            created=payload["created"],
            data=payload["data"],
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise BadRequest("body is not a Stripe event") from exc
    key = (obj.get("customer") or obj.get("id")) if isinstance(obj, dict) else None
    return Publication(event, f"stripe:{event.event_id}", str(key or event.event_id), subjects.STRIPE)
