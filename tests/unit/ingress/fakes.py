"""In-memory stand-ins for ingress's ports: the ``users`` repository and the JetStream publishers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from careline_contracts import subjects
from careline_contracts.base import Event
from careline_ingress.domain.webhooks import HeldSms
from careline_platform.messaging import PublishFailed

Document = dict[str, Any]


@dataclass(frozen=True)
class Published:
    event: Event
    msg_id: str
    key: str
    stream: str


@dataclass
class FakePublisher:
    """Records what was published; ``down`` makes every publish fail as an unanswered broker does."""

    published: list[Published] = field(default_factory=list)
    held: list[HeldSms] = field(default_factory=list)
    down: bool = False

    async def publish(self, event: Event, *, msg_id: str, key: str, stream: subjects.Stream) -> bool:
        if self.down:
            raise PublishFailed("TimeoutError")
        duplicate = any(p.msg_id == msg_id for p in self.published)
        if not duplicate:
            self.published.append(Published(event, msg_id, key, stream.name))
        return duplicate

    async def hold_sms(self, held: HeldSms) -> None:
        self.held.append(held)

    def subjects(self) -> list[str]:
        return [p.event.subject for p in self.published]


@dataclass(frozen=True)
class RawPublished:
    subject: str
    msg_id: str
    stream: str
    payload: bytes
    headers: dict[str, str] | None


@dataclass
class FakeJetStream:
    """``Publisher.publish_raw`` in memory: de-duplicates by message id; ``fail_after`` publishes
    are acknowledged, then every one fails (None: never); ``down`` fails them all."""

    published: list[RawPublished] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)
    down: bool = False
    fail_after: int | None = None

    async def publish_raw(
        self, subject: str, payload: bytes, msg_id: str, stream: str, headers: dict[str, str] | None = None
    ) -> bool:
        self.attempts.append(msg_id)
        if self.down or (self.fail_after is not None and len(self.published) >= self.fail_after):
            raise PublishFailed("TimeoutError")
        duplicate = any(p.msg_id == msg_id for p in self.published)
        if not duplicate:
            self.published.append(RawPublished(subject, msg_id, stream, payload, headers))
        return duplicate

    async def publish(self, event: Event, *, msg_id: str, key: str, stream: subjects.Stream) -> bool:
        """The platform publisher's typed publish (the drainer's replay of a held text uses it)."""
        headers = {"Correlation-Id": event.correlation_id} if event.correlation_id else None
        return await self.publish_raw(
            subjects.partitioned(event.subject, key), event.to_bytes(), msg_id, stream.name, headers
        )

    def msg_ids(self) -> list[str]:
        return [p.msg_id for p in self.published]


@dataclass
class FakeUsers:
    """The identity part of the ``users`` repository, in a dict keyed by phone."""

    by_phone: dict[str, Document] = field(default_factory=dict)
    down: bool = False
    """The database does not answer: a lookup hangs (as a server that is away does, until timeouts)."""

    async def find_or_create(self, phone: str, now: datetime) -> tuple[Document, bool]:
        if self.down:
            await asyncio.sleep(3600)
        if phone in self.by_phone:
            return self.by_phone[phone], False
        doc: Document = {
            "_id": f"usr_{len(self.by_phone) + 1}",
            "phone": phone,
            "registered_published": False,
        }
        self.by_phone[phone] = doc
        return doc, True

    async def mark_registered_published(self, user_id: str) -> None:
        for doc in self.by_phone.values():
            if doc["_id"] == user_id:
                doc["registered_published"] = True
