"""Outbound SMS: Twilio through its official SDK, or the local sandbox without credentials."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from careline_contracts import subjects
from careline_contracts.conversation import SandboxSmsSent
from careline_platform.jobs import PermanentJobError
from careline_platform.messaging import Publisher

# How far Twilio's clock may be behind ours when we compare its creation times with our claims.
CLOCK_SKEW = timedelta(seconds=30)

# Twilio error codes that no retry can fix (unsubscribed, invalid or unreachable numbers).
PERMANENT_TWILIO_CODES = frozenset({21211, 21408, 21610, 21612, 21614, 30003, 30004, 30005, 30006})


@dataclass(frozen=True)
class SentMessage:
    sid: str
    status: str


class SmsSender(Protocol):
    async def send(self, *, to: str, body: str, idempotency_key: str) -> SentMessage: ...

    async def find_sent(self, *, to: str, body: str, since: datetime) -> list[SentMessage]:
        """Messages with this text the provider accepted for ``to`` about ``since`` or later:
        the candidates for an earlier attempt's message whose answer was lost. The caller
        rules out those another job recorded as its own."""
        ...


class TwilioSender:
    """Sends through the Twilio REST API; ``api_base_url`` points the SDK elsewhere (tests)."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        api_base_url: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.http = AsyncTwilioHttpClient(timeout=timeout_s)
        self.client = Client(account_sid, auth_token, http_client=self.http)
        if api_base_url:
            self.client.api.base_url = api_base_url.rstrip("/")
        self.from_number = from_number

    async def close(self) -> None:
        """Close the SDK's HTTP session (on shutdown; otherwise it is reported unclosed at exit)."""
        await self.http.close()

    async def send(self, *, to: str, body: str, idempotency_key: str) -> SentMessage:
        try:
            msg = await self.client.messages.create_async(to=to, from_=self.from_number, body=body)
        except TwilioRestException as exc:
            if exc.code in PERMANENT_TWILIO_CODES or (400 <= exc.status < 500 and exc.status != 429):
                raise PermanentJobError(f"twilio {exc.status} code {exc.code}") from exc
            raise
        return SentMessage(sid=str(msg.sid), status=str(msg.status or "queued"))

    async def find_sent(self, *, to: str, body: str, since: datetime) -> list[SentMessage]:
        """Ask Twilio whether an earlier attempt's message went out after all.

        The newest messages to ``to``, filtered here by when Twilio created them: a ``DateSent``
        filter would miss a message still queued, which has no send date yet.
        """
        recent = await self.client.messages.list_async(to=to, limit=50)
        earliest = since - CLOCK_SKEW
        return [
            SentMessage(sid=str(m.sid), status=str(m.status or "sent"))
            for m in recent
            if m.body == body and (m.date_created is None or m.date_created >= earliest)
        ]


class SandboxSender:
    """Delivers outbound SMS to the SANDBOX stream, where `make chat` and tests read them."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    async def send(self, *, to: str, body: str, idempotency_key: str) -> SentMessage:
        sid = "SB" + hashlib.sha1(idempotency_key.encode()).hexdigest()[:32]
        event = SandboxSmsSent(occurred_at=datetime.now(UTC), sid=sid, to=to, body=body)
        await self.publisher.publish_raw(
            subjects.SANDBOX_SMS_SENT,
            event.to_bytes(),
            f"sandbox:{idempotency_key}",
            subjects.SANDBOX.name,
        )
        return SentMessage(sid=sid, status="sent")

    async def find_sent(self, *, to: str, body: str, since: datetime) -> list[SentMessage]:
        return []  # a re-send carries the same Nats-Msg-Id and is de-duplicated by JetStream
