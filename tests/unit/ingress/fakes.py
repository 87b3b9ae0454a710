"""In-memory stand-ins for ingress's ports: the ``users`` repository and the JetStream publisher."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from careline_contracts import subjects
from careline_contracts.base import Event
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
    down: bool = False

    async def publish(self, event: Event, *, msg_id: str, key: str, stream: subjects.Stream) -> bool:
        if self.down:
            raise PublishFailed("TimeoutError")
        duplicate = any(p.msg_id == msg_id for p in self.published)
        if not duplicate:
            self.published.append(Published(event, msg_id, key, stream.name))
        return duplicate

    def subjects(self) -> list[str]:
        return [p.event.subject for p in self.published]


@dataclass
class FakeUsers:
    """The identity part of the ``users`` repository, in a dict keyed by phone."""

    by_phone: dict[str, Document] = field(default_factory=dict)

    async def find_or_create(self, phone: str, now: datetime) -> tuple[Document, bool]:
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
