"""Crisis alerts and the on-call roster, in conversation's own database.

``crisis_alerts``: one document per crisis message, ``_id`` the alert job's key. This module
writes only the fields it owns, each with ``$set`` or ``$push`` (the turn writes a
``follow_up`` sub-document on the same document): who and what (``user_id``, ``category``,
``tier``, ``priority``), ``status`` (open, acknowledged, resolved), ``paging`` (the current
round, step and roster position), ``pages``, ``page_requests`` (what started each round),
``acknowledged_*``, ``resolved_*``, ``outcome``, ``note`` and ``staff_messages`` (who sent one,
when, its job key; never its text).

``oncall_roster``: one document, ``_id`` ``current``, the people in escalation order.

``audit_log``: who did what to an alert or the roster (``careline_platform.audit``'s rows),
written in the transaction of the change it records.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any, Protocol

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from careline_contracts.admin import AlertView, PageView
from careline_conversation.domain.alerts import Cursor, NewAlert
from careline_conversation.domain.roster import OnCall
from careline_platform.audit import AuditRecord, ensure_audit_indexes
from careline_platform.uow import ReadCollection, ReadDb, WriteDb

Document = dict[str, Any]
ROSTER_ID = "current"
Roster = tuple[tuple[OnCall, ...], Document]


class AlertsReader(Protocol):
    async def find_alert(self, alert_id: str) -> Document | None: ...
    async def recent_alerts(self, limit: int, status: str | None = None) -> list[Document]: ...
    async def roster(self) -> Roster: ...


class AlertsWriter(Protocol):
    async def find_alert(self, alert_id: str) -> Document | None: ...
    async def roster(self) -> Roster: ...
    async def open_alert(self, alert: NewAlert, now: datetime) -> Document | None: ...
    async def begin_round(
        self, alert_id: str, cursor: Cursor, reason: str, request: Document, page: Document | None
    ) -> None: ...
    async def advance_paging(
        self, alert_id: str, before: Cursor, cursor: Cursor, page: Document | None
    ) -> bool: ...
    async def record_page_request(self, alert_id: str, request: Document) -> None: ...
    async def acknowledge_alert(self, alert_id: str, by: str, now: datetime) -> bool: ...
    async def resolve_alert(self, alert_id: str, by: str, outcome: str, note: str, now: datetime) -> bool: ...
    async def note_staff_message(self, alert_id: str, by: str, job_key: str, now: datetime) -> None: ...
    async def replace_roster(self, people: tuple[OnCall, ...], by: str, now: datetime) -> None: ...
    async def audit(self, record: AuditRecord) -> None:
        """An audit row, in the transaction of the change it records."""


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    await db.crisis_alerts.create_index("user_id")
    await ensure_audit_indexes(db.audit_log)
    # the roster exists from the start, so replacing it never inserts inside a transaction;
    # another replica may create it at the same moment
    with contextlib.suppress(DuplicateKeyError):
        await db.oncall_roster.update_one(
            {"_id": ROSTER_ID}, {"$setOnInsert": {"people": [], "updated_at": None}}, upsert=True
        )


async def _roster(rosters: ReadCollection) -> Roster:
    """The people in escalation order, and the document (who changed it, when)."""
    doc = await rosters.find_one({"_id": ROSTER_ID}) or {}
    people = tuple(sorted((OnCall.from_doc(p) for p in doc.get("people") or []), key=lambda p: p.order))
    return people, doc


class MongoAlertsReader:
    def __init__(self, db: ReadDb) -> None:
        self.alerts = db["crisis_alerts"]
        self.rosters = db["oncall_roster"]

    async def find_alert(self, alert_id: str) -> Document | None:
        return await self.alerts.find_one({"_id": alert_id})

    async def recent_alerts(self, limit: int, status: str | None = None) -> list[Document]:
        query = {"status": status} if status else {}
        return await self.alerts.find(query).sort("opened_at", DESCENDING).limit(limit).to_list()

    async def roster(self) -> Roster:
        return await _roster(self.rosters)


class MongoAlertsWriter:
    def __init__(self, db: WriteDb) -> None:
        self.crisis_alerts = db["crisis_alerts"]
        self.rosters = db["oncall_roster"]
        self.audit_log = db["audit_log"]

    async def find_alert(self, alert_id: str) -> Document | None:
        return await self.crisis_alerts.find_one({"_id": alert_id})

    async def roster(self) -> Roster:
        return await _roster(self.rosters)

    async def open_alert(self, alert: NewAlert, now: datetime) -> Document | None:
        """Open the alert; None if it was opened before (a retried job). Read first: inside a
        transaction a duplicate key would abort it all."""
        existing = await self.find_alert(alert.id)
        if existing is not None and existing.get("status"):
            return None
        fields: Document = {
            "user_id": alert.user_id,
            "message_sid": alert.message_sid,
            "category": alert.category,
            "tier": alert.tier,
            "priority": alert.priority,
            "language": alert.language,
            "correlation_id": alert.correlation_id,
            "status": "open",
            "opened_at": now,
            "paging": None,
            "pages": [],
            "page_requests": [],
            "staff_messages": [],
        }
        await self.crisis_alerts.update_one({"_id": alert.id}, {"$set": fields}, upsert=True)
        return {**(existing or {}), "_id": alert.id, **fields}

    async def begin_round(
        self, alert_id: str, cursor: Cursor, reason: str, request: Document, page: Document | None
    ) -> None:
        """A new round: paging starts over and the alert is open again until acknowledged."""
        push: Document = {"page_requests": request}
        if page is not None:
            push["pages"] = page
        paging = {**cursor.to_doc(), "reason": reason}
        await self.crisis_alerts.update_one(
            {"_id": alert_id}, {"$set": {"paging": paging, "status": "open"}, "$push": push}
        )

    async def advance_paging(
        self, alert_id: str, before: Cursor, cursor: Cursor, page: Document | None
    ) -> bool:
        """Move paging from ``before`` to ``cursor``; False if it was no longer at ``before``."""
        update: Document = {"$set": {f"paging.{k}": v for k, v in cursor.to_doc().items()}}
        if page is not None:
            update["$push"] = {"pages": page}
        result = await self.crisis_alerts.update_one(
            {"_id": alert_id, "status": "open", "paging.round": before.round, "paging.step": before.step},
            update,
        )
        return result.modified_count == 1

    async def record_page_request(self, alert_id: str, request: Document) -> None:
        await self.crisis_alerts.update_one({"_id": alert_id}, {"$push": {"page_requests": request}})

    async def acknowledge_alert(self, alert_id: str, by: str, now: datetime) -> bool:
        result = await self.crisis_alerts.update_one(
            {"_id": alert_id, "status": "open"},
            {"$set": {"status": "acknowledged", "acknowledged_by": by, "acknowledged_at": now}},
        )
        return result.modified_count == 1

    async def resolve_alert(self, alert_id: str, by: str, outcome: str, note: str, now: datetime) -> bool:
        resolved = {
            "status": "resolved",
            "resolved_by": by,
            "resolved_at": now,
            "outcome": outcome,
            "note": note,
        }
        result = await self.crisis_alerts.update_one(
            {"_id": alert_id, "status": {"$ne": "resolved"}}, {"$set": resolved}
        )
        return result.modified_count == 1

    async def note_staff_message(self, alert_id: str, by: str, job_key: str, now: datetime) -> None:
        entry = {"by": by, "at": now, "job": job_key}
        await self.crisis_alerts.update_one({"_id": alert_id}, {"$push": {"staff_messages": entry}})

    async def replace_roster(self, people: tuple[OnCall, ...], by: str, now: datetime) -> None:
        await self.rosters.update_one(
            {"_id": ROSTER_ID},
            {"$set": {"people": [p.to_doc() for p in people], "updated_at": now, "updated_by": by}},
            upsert=True,
        )

    async def audit(self, record: AuditRecord) -> None:
        await self.audit_log.insert_one(record.model_dump())


def alert_view(doc: Document) -> AlertView:
    """What staff see of an alert: its facts, status and pages; never the message or a number."""
    paging = doc.get("paging") or {}
    return AlertView(
        id=doc["_id"],
        user_id=doc.get("user_id", ""),
        category=doc.get("category", ""),
        tier=doc.get("tier"),
        priority=doc.get("priority", "high"),
        status=doc.get("status", "open"),
        opened_at=doc["opened_at"],
        pages=[PageView.model_validate(p) for p in doc.get("pages") or []],
        paging_round=paging.get("round"),
        acknowledged_by=doc.get("acknowledged_by"),
        acknowledged_at=doc.get("acknowledged_at"),
        resolved_by=doc.get("resolved_by"),
        resolved_at=doc.get("resolved_at"),
        outcome=doc.get("outcome"),
        note=doc.get("note"),
        staff_messages=len(doc.get("staff_messages") or []),
    )
