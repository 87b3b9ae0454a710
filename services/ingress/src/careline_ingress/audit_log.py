"""Ingress's audit log: what staff read of caregivers through the admin API, and role changes.

Support staff can read any caregiver's record, crisis alerts included, so every such read is
accountable: each read route of ``/admin`` writes one ``careline_platform.audit.AuditRecord``
(actor, role, action, the caregiver concerned, time) to ingress's ``audit_log`` before it
answers. A read whose entry cannot be written is not answered (the write fails, the request
gets a 500), so no read goes unrecorded. Entries hold ids and plain facts only; a phone number
someone looked up is kept as its keyed hash (``careline_platform.phone.phone_hash``).

Admins page through the log newest first (``GET /admin/audit``); the cursor is the id of the
last entry of a page.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from careline_contracts.http import AuditEntry, AuditPage
from careline_platform.audit import AuditRecord, Detail, ensure_audit_indexes
from careline_platform.clock import Clock

Document = dict[str, Any]


class UnknownCursor(ValueError):
    """``before`` names no entry of the log."""


class AuditLog:
    def __init__(self, db: AsyncDatabase[Document], clock: Clock) -> None:
        self.col = db.audit_log
        self.clock = clock

    async def ensure_indexes(self) -> None:
        await ensure_audit_indexes(self.col)

    async def record(
        self,
        actor: str,
        role: str,
        action: str,
        *,
        user_id: str | None = None,
        ref: str | None = None,
        detail: dict[str, Detail] | None = None,
    ) -> None:
        """Write one entry, now (validated: a dotted action, plain details)."""
        entry = AuditRecord(
            at=self.clock.now(),
            actor=actor,
            role=role,
            action=action,
            user_id=user_id,
            ref=ref,
            detail=detail or {},
        )
        await self.col.insert_one(entry.model_dump())

    async def page(
        self,
        *,
        limit: int,
        before: str | None = None,
        user_id: str | None = None,
        actor: str | None = None,
    ) -> AuditPage:
        """Up to ``limit`` entries, newest first, older than the entry ``before`` when given,
        about caregiver ``user_id`` and by ``actor`` when given."""
        query: Document = {k: v for k, v in (("user_id", user_id), ("actor", actor)) if v is not None}
        if before is not None:
            query = {"$and": [query, await self._older_than(before)]}
        sort = [("at", DESCENDING), ("_id", DESCENDING)]
        docs = await self.col.find(query).sort(sort).limit(limit + 1).to_list()
        entries = [_entry(doc) for doc in docs[:limit]]
        return AuditPage(entries=entries, next=entries[-1].id if len(docs) > limit else None)

    async def _older_than(self, entry_id: str) -> Document:
        try:
            oid = ObjectId(entry_id)
        except (InvalidId, TypeError) as exc:
            raise UnknownCursor(entry_id) from exc
        cursor = await self.col.find_one({"_id": oid}, {"at": 1})
        if cursor is None:
            raise UnknownCursor(entry_id)
        at = cursor["at"]
        return {"$or": [{"at": {"$lt": at}}, {"at": at, "_id": {"$lt": oid}}]}


def _entry(doc: Document) -> AuditEntry:
    return AuditEntry(
        id=str(doc["_id"]),
        at=doc["at"],
        actor=doc["actor"],
        role=doc.get("role"),
        action=doc["action"],
        user_id=doc.get("user_id"),
        ref=doc.get("ref"),
        detail=doc.get("detail") or {},
    )
