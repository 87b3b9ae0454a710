"""Crisis alerts and the on-call roster, in conversation's own database.

``crisis_alerts``: one document per crisis message, ``_id`` the alert job's key. This module
writes only the fields it owns, each with ``$set`` or ``$push`` (the turn writes a
``follow_up`` sub-document on the same document): who and what (``user_id``, ``category``,
``tier``, ``priority``), ``status`` (open, acknowledged, resolved), ``paging`` (the current
round, step and roster position), ``pages``, ``page_requests`` (what started each round),
``acknowledged_*``, ``resolved_*``, ``outcome``, ``note`` and ``staff_messages`` (who sent one,
when, its job key; never its text).

``oncall_roster``: one document, ``_id`` ``current``, the people in escalation order.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from careline_contracts.admin import AlertView, PageView
from careline_conversation.domain.alerts import Cursor, NewAlert
from careline_conversation.domain.roster import OnCall

Document = dict[str, Any]
ROSTER_ID = "current"


class AlertsRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.alerts = db.crisis_alerts
        self.rosters = db.oncall_roster

    async def ensure_indexes(self) -> None:
        await self.alerts.create_index("user_id")
        # the roster exists from the start, so replacing it never inserts inside a transaction;
        # another replica may create it at the same moment
        with contextlib.suppress(DuplicateKeyError):
            await self.rosters.update_one(
                {"_id": ROSTER_ID}, {"$setOnInsert": {"people": [], "updated_at": None}}, upsert=True
            )

    # --- alerts ------------------------------------------------------------------------------

    async def find(self, alert_id: str, session: AsyncClientSession | None = None) -> Document | None:
        return await self.alerts.find_one({"_id": alert_id}, session=session)

    async def open(self, alert: NewAlert, now: datetime, session: AsyncClientSession) -> Document | None:
        """Open the alert; None if it was opened before (a retried job). Read first: inside a
        transaction a duplicate key would abort it all."""
        existing = await self.find(alert.id, session)
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
        await self.alerts.update_one({"_id": alert.id}, {"$set": fields}, upsert=True, session=session)
        return {**(existing or {}), "_id": alert.id, **fields}

    async def begin_round(
        self,
        alert_id: str,
        cursor: Cursor,
        reason: str,
        request: Document,
        page: Document | None,
        session: AsyncClientSession,
    ) -> None:
        """A new round: paging starts over and the alert is open again until acknowledged."""
        push: Document = {"page_requests": request}
        if page is not None:
            push["pages"] = page
        paging = {**cursor.to_doc(), "reason": reason}
        await self.alerts.update_one(
            {"_id": alert_id}, {"$set": {"paging": paging, "status": "open"}, "$push": push}, session=session
        )

    async def advance(
        self,
        alert_id: str,
        before: Cursor,
        cursor: Cursor,
        page: Document | None,
        session: AsyncClientSession,
    ) -> bool:
        """Move paging from ``before`` to ``cursor``; False if it was no longer at ``before``."""
        update: Document = {"$set": {f"paging.{k}": v for k, v in cursor.to_doc().items()}}
        if page is not None:
            update["$push"] = {"pages": page}
        result = await self.alerts.update_one(
            {"_id": alert_id, "status": "open", "paging.round": before.round, "paging.step": before.step},
            update,
            session=session,
        )
        return result.modified_count == 1

    async def record_page_request(
        self, alert_id: str, request: Document, session: AsyncClientSession
    ) -> None:
        await self.alerts.update_one(
            {"_id": alert_id}, {"$push": {"page_requests": request}}, session=session
        )

    async def acknowledge(self, alert_id: str, by: str, now: datetime, session: AsyncClientSession) -> bool:
        result = await self.alerts.update_one(
            {"_id": alert_id, "status": "open"},
            {"$set": {"status": "acknowledged", "acknowledged_by": by, "acknowledged_at": now}},
            session=session,
        )
        return result.modified_count == 1

    async def resolve(
        self, alert_id: str, by: str, outcome: str, note: str, now: datetime, session: AsyncClientSession
    ) -> bool:
        result = await self.alerts.update_one(
            {"_id": alert_id, "status": {"$ne": "resolved"}},
            {
                "$set": {
                    "status": "resolved",
                    "resolved_by": by,
                    "resolved_at": now,
                    "outcome": outcome,
                    "note": note,
                }
            },
            session=session,
        )
        return result.modified_count == 1

    async def record_staff_message(
        self, alert_id: str, by: str, job_key: str, now: datetime, session: AsyncClientSession
    ) -> None:
        entry = {"by": by, "at": now, "job": job_key}
        await self.alerts.update_one({"_id": alert_id}, {"$push": {"staff_messages": entry}}, session=session)

    async def recent(self, limit: int, status: str | None = None) -> list[Document]:
        query = {"status": status} if status else {}
        return await self.alerts.find(query).sort("opened_at", DESCENDING).limit(limit).to_list()

    # --- the roster --------------------------------------------------------------------------

    async def roster(self, session: AsyncClientSession | None = None) -> tuple[tuple[OnCall, ...], Document]:
        """The people in escalation order, and the document (who changed it, when)."""
        doc = await self.rosters.find_one({"_id": ROSTER_ID}, session=session) or {}
        people = tuple(sorted((OnCall.from_doc(p) for p in doc.get("people") or []), key=lambda p: p.order))
        return people, doc

    async def replace_roster(
        self, people: tuple[OnCall, ...], by: str, now: datetime, session: AsyncClientSession
    ) -> None:
        await self.rosters.update_one(
            {"_id": ROSTER_ID},
            {"$set": {"people": [p.to_doc() for p in people], "updated_at": now, "updated_by": by}},
            upsert=True,
            session=session,
        )


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
