"""The audit log: who did what, to which record, when; never what anyone said.

One collection (``audit_log``) in the database of the service that carries out the actions.
Each row is an ``AuditRecord``: a staff member's user id (from their admin token) or
``system``, a dotted action name (``crisis.page``, ``oncall.replace``), the caregiver the action
concerns, the record acted on, and a few plain details (a round number, an outcome). Message
text and phone numbers never go in: a row must stay safe to keep after the caregiver is erased.

Rows are written in the same transaction as the change they record, so an action and its row
exist together or not at all. Erasing a caregiver keeps their rows (that an alert was paged and
by whom stays accountable) but drops what points back at them beyond their user id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection

Document = dict[str, Any]
SYSTEM = "system"
"""The actor of what the service does on its own (a page, an escalation)."""

Detail = str | int | float | bool | None | list[str]


class AuditRecord(BaseModel):
    """One audited action."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: datetime
    actor: str = Field(min_length=1, description="a staff user id, or 'system'")
    action: str = Field(pattern=r"^[a-z_]+(\.[a-z_]+)+$", description="dotted: <area>.<verb>")
    user_id: str | None = Field(default=None, description="the caregiver the action concerns")
    ref: str | None = Field(default=None, description="the record acted on (an alert id, say)")
    detail: dict[str, Detail] = Field(default_factory=dict, description="plain facts; no text")


class AuditLog:
    """The ``audit_log`` collection of one service."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self.col = collection

    async def ensure_indexes(self) -> None:
        """Also creates the collection up front: one created inside a transaction conflicts
        with every concurrent transaction that writes it."""
        await self.col.create_index("at")
        await self.col.create_index([("user_id", ASCENDING), ("at", ASCENDING)])
        await self.col.create_index("ref")

    async def record(self, record: AuditRecord, session: AsyncClientSession | None = None) -> None:
        """Add a row; pass the session of the change it records."""
        await self.col.insert_one(record.model_dump(), session=session)

    # Rows are read as plain JSON-ready data: the database's own ``_id`` stays behind.

    async def of_user(self, user_id: str, limit: int = 500) -> list[Document]:
        cursor = self.col.find({"user_id": user_id}, {"_id": 0}).sort("at", ASCENDING).limit(limit)
        return await cursor.to_list()

    async def of_ref(self, ref: str, limit: int = 500) -> list[Document]:
        cursor = self.col.find({"ref": ref}, {"_id": 0}).sort("at", ASCENDING).limit(limit)
        return await cursor.to_list()

    async def recent(self, limit: int = 100) -> list[Document]:
        return await self.col.find({}, {"_id": 0}).sort("at", DESCENDING).limit(limit).to_list()

    async def forget_user(self, user_id: str) -> int:
        """Keep an erased caregiver's rows, with only their user id: the record each row
        pointed at (an alert id names the caregiver's message) and its details go."""
        result = await self.col.update_many(
            {"user_id": user_id},
            {"$set": {"ref": None, "detail": {}, "erased": True}},
        )
        return result.modified_count
