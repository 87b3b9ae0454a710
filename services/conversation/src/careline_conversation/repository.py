"""Conversation's own data: ``conversation_state`` and ``outbound_messages``.

Crisis alerts and the on-call roster have their own repository (``alerts_repository``); erasing
or showing a caregiver covers them here, with the audit log's rows about the caregiver.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from careline_platform.audit import AuditLog

Document = dict[str, Any]
RECENT_WINDOW = 12

# Twilio statuses in the order they can follow each other; a later callback never lowers it.
STATUS_RANK = {
    "accepted": 1,
    "queued": 1,
    "scheduled": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "read": 5,
}


class ConversationRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.states = db.conversation_state
        self.outbound = db.outbound_messages
        self.alerts = db.crisis_alerts
        self.audit = AuditLog(db.audit_log)

    async def ensure_indexes(self) -> None:
        await self.outbound.create_index("user_id")
        await self.alerts.create_index([("status", 1), ("opened_at", 1)])
        await self.alerts.create_index("opened_at")
        await self.outbound.create_index("sent_at")
        # also creates the collection up front: one created inside a transaction conflicts
        # with every concurrent transaction that writes it
        await self.states.create_index("last_inbound_at")
        await self.audit.ensure_indexes()

    async def record_inbound(
        self,
        user_id: str,
        body: str,
        message_sid: str,
        now: datetime,
        session: AsyncClientSession,
        *,
        phone: str | None = None,
        keep: int = 31,
    ) -> Document | None:
        """Append the inbound message; returns the state as it was before (None if new).

        ``inbound_at`` keeps the last ``keep`` arrival times, enough to judge the rate limits.
        """
        fields: Document = {"updated_at": now, "last_inbound_at": now}
        if phone is not None:
            fields["phone"] = phone
        return await self.states.find_one_and_update(
            {"_id": user_id},
            {
                "$setOnInsert": {"conversation_started_at": now, "summary": ""},
                "$push": {
                    "recent_messages": {
                        "$each": [{"dir": "in", "sid": message_sid, "text": body, "at": now}],
                        "$slice": -RECENT_WINDOW,
                    },
                    "inbound_at": {"$each": [now], "$slice": -keep},
                },
                "$inc": {"total_interactions": 1},
                "$set": fields,
            },
            upsert=True,
            return_document=ReturnDocument.BEFORE,
            session=session,
        )

    async def update_state(self, user_id: str, fields: Document, session: AsyncClientSession) -> None:
        await self.states.update_one({"_id": user_id}, {"$set": fields}, session=session)

    async def find_state(self, user_id: str, session: AsyncClientSession) -> Document | None:
        return await self.states.find_one({"_id": user_id}, session=session)

    async def project_entitlement(
        self, user_id: str, entitled: bool, status: str, at: datetime, session: AsyncClientSession
    ) -> None:
        """Keep billing's newest word on entitlement; an older event changes nothing."""
        current = await self.states.find_one({"_id": user_id}, {"entitlement": 1}, session=session)
        known = (current or {}).get("entitlement")
        if known is not None and known["at"] > at:
            return
        await self.states.update_one(
            {"_id": user_id},
            {
                "$set": {"entitlement": {"entitled": entitled, "status": status, "at": at}},
                "$setOnInsert": {"conversation_started_at": at, "summary": ""},
            },
            upsert=True,
            session=session,
        )

    async def note_on_alert(
        self,
        alert_id: str,
        user_id: str,
        field: str,
        answer: str,
        now: datetime,
        session: AsyncClientSession,
        *,
        escalate: bool = False,
    ) -> None:
        """Record the caregiver's answer (yes/no/unclear) on the alert; a yes to the question raises it."""
        fields: Document = {field: {"answer": answer, "at": now}}
        if escalate:
            fields.update(priority="high", tier="explicit")
        # the alert job may not have run yet: the upsert keeps the answer, and whose alert it is
        await self.alerts.update_one(
            {"_id": alert_id},
            {"$set": fields, "$setOnInsert": {"user_id": user_id}},
            upsert=True,
            session=session,
        )

    async def note_follow_up_sent(
        self, alert_id: str, step: int, now: datetime, session: AsyncClientSession
    ) -> None:
        await self.alerts.update_one(
            {"_id": alert_id}, {"$set": {f"follow_up_sent.{step}": now}}, session=session
        )

    async def record_reply(self, user_id: str, text: str, now: datetime, session: AsyncClientSession) -> None:
        await self.states.update_one(
            {"_id": user_id},
            {
                "$push": {
                    "recent_messages": {
                        "$each": [{"dir": "out", "text": text, "at": now}],
                        "$slice": -RECENT_WINDOW,
                    }
                }
            },
            session=session,
        )

    async def record_staff_message(
        self, user_id: str, text: str, staff_id: str, job_key: str, now: datetime, session: AsyncClientSession
    ) -> None:
        """Add a message staff wrote to the caregiver's recent messages, marked as staff's."""
        entry = {"dir": "out", "by": "staff", "staff_id": staff_id, "text": text, "at": now, "job": job_key}
        await self.states.update_one(
            {"_id": user_id},
            {"$push": {"recent_messages": {"$each": [entry], "$slice": -RECENT_WINDOW}}},
            session=session,
        )

    async def read_caregiver(self, user_id: str) -> Document:
        return {
            "conversation_state": await self.states.find_one({"_id": user_id}),
            "outbound_messages": await self.outbound.count_documents({"user_id": user_id}),
            "crisis_alerts": await self.alerts.find({"user_id": user_id}).to_list(),
            "audit_log": await self.audit.of_user(user_id),
        }

    async def erase_caregiver(self, user_id: str) -> Document:
        """Delete the caregiver's slice (alerts and their pages included), and any reply, page or
        job still owed to them. Audit rows stay, with only the user id (the record is accountable,
        the person is gone)."""
        jobs = self.states.database.jobs
        return {
            "erased": True,
            "deleted": {
                "conversation_state": (await self.states.delete_one({"_id": user_id})).deleted_count,
                "outbound_messages": (await self.outbound.delete_many({"user_id": user_id})).deleted_count,
                "crisis_alerts": (await self.alerts.delete_many({"user_id": user_id})).deleted_count,
                "jobs": (
                    await jobs.delete_many({"payload.user_id": user_id, "status": {"$ne": "processing"}})
                ).deleted_count,
            },
            "anonymised": {"audit_log": await self.audit.forget_user(user_id)},
        }

    async def daily_metrics(self, start: datetime, end: datetime) -> Document:
        """One day's numbers, each an index-backed count (inbound from the processed-message inbox)."""
        day = {"$gte": start, "$lt": end}
        inbox = self.states.database.processed_messages
        return {
            "active_caregivers": await self.states.count_documents({"last_inbound_at": day}),
            "messages_in": await inbox.count_documents({"at": day, "_id": {"$regex": "^twilio:"}}),
            "messages_out": await self.outbound.count_documents({"sent_at": day}),
            "crisis_alerts": await self.alerts.count_documents({"opened_at": day}),
        }

    async def state(self, user_id: str) -> Document | None:
        return await self.states.find_one({"_id": user_id})

    async def set_summary(self, user_id: str, summary: str, now: datetime) -> None:
        await self.states.update_one({"_id": user_id}, {"$set": {"summary": summary, "summary_at": now}})

    async def record_reply_once(self, user_id: str, job_key: str, text: str, now: datetime) -> None:
        """Append a reply a job composed; a retried job does not append it twice."""
        await self.states.update_one(
            {"_id": user_id, "recent_messages.job": {"$ne": job_key}},
            {
                "$push": {
                    "recent_messages": {
                        "$each": [{"dir": "out", "text": text, "at": now, "job": job_key}],
                        "$slice": -RECENT_WINDOW,
                    }
                }
            },
        )

    async def record_sent(
        self, sid: str, user_id: str | None, job_key: str, status: str, now: datetime
    ) -> None:
        """Remember an outbound message the provider accepted (status callbacks may precede)."""
        await self.outbound.update_one(
            {"_id": sid},
            {
                "$setOnInsert": {"status": status, "rank": STATUS_RANK.get(status, 0)},
                "$set": {"user_id": user_id, "job_key": job_key, "sent_at": now},
            },
            upsert=True,
        )

    async def adopt_sent(
        self, sid: str, user_id: str | None, job_key: str, status: str, now: datetime
    ) -> bool:
        """Record ``sid`` as ``job_key``'s message unless another job's record holds it: one
        conditional upsert, so two jobs can never both take the same message. False when the
        message is another job's."""
        try:
            await self.outbound.update_one(
                {"_id": sid, "job_key": {"$in": [None, job_key]}},
                {
                    "$setOnInsert": {"status": status, "rank": STATUS_RANK.get(status, 0)},
                    "$set": {"user_id": user_id, "job_key": job_key, "sent_at": now},
                },
                upsert=True,
            )
        except DuplicateKeyError:  # the message exists, and its record names another job
            return False
        return True

    async def apply_status(
        self, sid: str, status: str, error_code: str | None, now: datetime, session: AsyncClientSession
    ) -> bool:
        """Move a message's status forward; an older or repeated callback changes nothing."""
        rank = STATUS_RANK.get(status, 0)
        fields = {"status": status, "rank": rank, "error_code": error_code, "status_at": now}
        # No upsert-and-catch here: a duplicate key error would abort the whole transaction.
        current = await self.outbound.find_one({"_id": sid}, {"rank": 1}, session=session)
        if current is None:
            await self.outbound.insert_one({"_id": sid, **fields}, session=session)
            return True
        if current.get("rank", 0) >= rank:
            return False
        await self.outbound.update_one({"_id": sid}, {"$set": fields}, session=session)
        return True
