"""Conversation's own data: ``conversation_state``, ``outbound_messages``, ``message_memory``
and (through ``alerts_repository``) ``crisis_alerts``, ``oncall_roster`` and ``audit_log``.

``message_memory`` keeps the caregiver's past messages worth recalling (one document per
inbound message: its text, and the embedding its ``memory.embed`` job stores later), so a reply
can draw on more than the recent window; it is personal data and goes with the caregiver.

``ConversationWriter`` is what a transaction may do, ``ConversationReader`` what a read outside
one may; ``Writer`` and ``Reader`` add the alerts' protocols, and are what the unit of work's
``tx.repo`` and ``uow.read()`` are. ``SentMessages`` is the one part written outside any
transaction: the SMS job's record of what the provider accepted (see its docstring). The
MongoDB classes below implement them all; the unit tests' in-memory fakes do too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from careline_contracts.migration import SliceCounts
from careline_conversation.alerts_repository import (
    AlertsReader,
    AlertsWriter,
    MongoAlertsReader,
    MongoAlertsWriter,
)
from careline_conversation.alerts_repository import ensure_indexes as ensure_alert_indexes
from careline_platform.backfill import write_slices
from careline_platform.uow import ReadDb, UnitOfWorkApi, WriteCollection, WriteDb

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


class ConversationWriter(Protocol):
    async def record_inbound(
        self, user_id: str, body: str, message_sid: str, now: datetime, *, phone: str | None, keep: int
    ) -> Document | None: ...
    async def uncount_inbound(self, user_id: str, at: datetime) -> None: ...
    async def find_state(self, user_id: str) -> Document | None: ...
    async def update_state(self, user_id: str, fields: Document) -> None: ...
    async def project_entitlement(
        self, user_id: str, entitled: bool, status: str, at: datetime, subscribed: bool = False
    ) -> None: ...
    async def note_on_alert(
        self, alert_id: str, user_id: str, field: str, answer: str, now: datetime, *, escalate: bool
    ) -> None: ...
    async def note_follow_up_sent(self, alert_id: str, step: int, now: datetime) -> None: ...
    async def record_reply(self, user_id: str, text: str, now: datetime) -> None: ...
    async def record_reply_once(self, user_id: str, job_key: str, text: str, now: datetime) -> None: ...
    async def record_staff_message(
        self, user_id: str, text: str, staff_id: str, job_key: str, now: datetime
    ) -> None: ...
    async def set_summary(self, user_id: str, summary: str, now: datetime) -> None: ...
    async def apply_status(self, sid: str, status: str, error_code: str | None, now: datetime) -> bool: ...
    async def backfill(self, slices: list[Document], now: datetime) -> SliceCounts: ...
    async def project_backfilled_entitlements(
        self, projection: dict[str, Document], at: datetime
    ) -> None: ...
    async def erase_caregiver(self, user_id: str) -> Document: ...
    async def keep_message(self, user_id: str, message_sid: str, text: str, now: datetime) -> None: ...
    async def store_embedding(
        self, message_sid: str, vector: list[float], model: str, now: datetime
    ) -> bool: ...


class ConversationReader(Protocol):
    async def state(self, user_id: str) -> Document | None: ...
    async def kept_message(self, message_sid: str) -> Document | None: ...
    async def kept_messages(self, user_id: str, limit: int) -> list[Document]: ...
    async def read_caregiver(self, user_id: str) -> Document: ...
    async def daily_metrics(self, start: datetime, end: datetime) -> Document: ...


class Writer(ConversationWriter, AlertsWriter, Protocol):
    """Everything one conversation transaction may write: the caregiver's state and the alerts."""


class Reader(ConversationReader, AlertsReader, Protocol):
    """Everything conversation reads outside a transaction."""


ConversationUow = UnitOfWorkApi[Writer, Reader]


class SentMessages(Protocol):
    """The SMS job's record of what the provider accepted, written outside any transaction.

    Each write is one atomic single-document upsert that must stand whatever the job does next
    (the message is out), and ``adopt_sent`` relies on a duplicate-key error to refuse a message
    another job holds, which inside a transaction would abort it.
    """

    async def record_sent(
        self, sid: str, user_id: str | None, job_key: str, status: str, now: datetime
    ) -> None: ...
    async def adopt_sent(
        self, sid: str, user_id: str | None, job_key: str, status: str, now: datetime
    ) -> bool: ...


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    await db.outbound_messages.create_index("user_id")
    await db.crisis_alerts.create_index([("status", 1), ("opened_at", 1)])
    await db.crisis_alerts.create_index("opened_at")
    await db.outbound_messages.create_index("sent_at")
    # also creates the collection up front: one created inside a transaction conflicts
    # with every concurrent transaction that writes it
    await db.conversation_state.create_index("last_inbound_at")
    await db.message_memory.create_index([("user_id", ASCENDING), ("at", ASCENDING)])
    await ensure_alert_indexes(db)


def _outbound_upsert(user_id: str | None, job_key: str, status: str, now: datetime) -> Document:
    return {
        "$setOnInsert": {"status": status, "rank": STATUS_RANK.get(status, 0)},
        "$set": {"user_id": user_id, "job_key": job_key, "sent_at": now},
    }


class MongoSentMessages:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.outbound = WriteCollection(db.outbound_messages, None)  # no session: see SentMessages

    async def record_sent(
        self, sid: str, user_id: str | None, job_key: str, status: str, now: datetime
    ) -> None:
        """Remember an outbound message the provider accepted (status callbacks may precede)."""
        await self.outbound.update_one(
            {"_id": sid}, _outbound_upsert(user_id, job_key, status, now), upsert=True
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
                _outbound_upsert(user_id, job_key, status, now),
                upsert=True,
            )
        except DuplicateKeyError:  # the message exists, and its record names another job
            return False
        return True


class MongoConversationReader:
    def __init__(self, db: ReadDb) -> None:
        self.states = db["conversation_state"]
        self.outbound = db["outbound_messages"]
        self.alerts = db["crisis_alerts"]
        self.audit = db["audit_log"]
        self.inbox = db["processed_messages"]
        self.kept = db["message_memory"]

    async def state(self, user_id: str) -> Document | None:
        return await self.states.find_one({"_id": user_id})

    async def kept_message(self, message_sid: str) -> Document | None:
        return await self.kept.find_one({"_id": message_sid})

    async def kept_messages(self, user_id: str, limit: int) -> list[Document]:
        """The caregiver's latest ``limit`` kept messages, newest first (the (user, at) index)."""
        return await self.kept.find({"user_id": user_id}).sort("at", -1).limit(limit).to_list()

    async def read_caregiver(self, user_id: str) -> Document:
        audit = self.audit.find({"user_id": user_id}, {"_id": 0}).sort("at", ASCENDING).limit(500)
        return {
            "conversation_state": await self.states.find_one({"_id": user_id}),
            "outbound_messages": await self.outbound.count_documents({"user_id": user_id}),
            "message_memory": await self.kept.count_documents({"user_id": user_id}),
            "crisis_alerts": await self.alerts.find({"user_id": user_id}).to_list(),
            "audit_log": await audit.to_list(),
        }

    async def daily_metrics(self, start: datetime, end: datetime) -> Document:
        """One day's numbers, each an index-backed count (inbound from the processed-message inbox)."""
        day = {"$gte": start, "$lt": end}
        return {
            "active_caregivers": await self.states.count_documents({"last_inbound_at": day}),
            "messages_in": await self.inbox.count_documents({"at": day, "_id": {"$regex": "^twilio:"}}),
            "messages_out": await self.outbound.count_documents({"sent_at": day}),
            "crisis_alerts": await self.alerts.count_documents({"opened_at": day}),
        }


class MongoConversationWriter:
    def __init__(self, db: WriteDb) -> None:
        self.states = db["conversation_state"]
        self.outbound = db["outbound_messages"]
        self.crisis_alerts = db["crisis_alerts"]
        self.audit_log = db["audit_log"]
        self.jobs = db["jobs"]
        self.kept = db["message_memory"]

    async def keep_message(self, user_id: str, message_sid: str, text: str, now: datetime) -> None:
        """Keep an inbound message for later recall (its embedding comes later, from a job)."""
        doc = {"user_id": user_id, "text": text, "at": now, "vector": None, "model": None}
        await self.kept.update_one({"_id": message_sid}, {"$setOnInsert": doc}, upsert=True)

    async def store_embedding(self, message_sid: str, vector: list[float], model: str, now: datetime) -> bool:
        """Store a kept message's embedding; False when the message is gone (its caregiver erased)."""
        update = {"$set": {"vector": vector, "model": model, "embedded_at": now}}
        return (await self.kept.update_one({"_id": message_sid}, update)).matched_count == 1

    async def uncount_inbound(self, user_id: str, at: datetime) -> None:
        """Leave the message that arrived ``at`` out of the rate limits' count (it answered the
        line's own question)."""
        await self.states.update_one({"_id": user_id}, {"$pull": {"inbound_at": at}})

    async def record_inbound(
        self, user_id: str, body: str, message_sid: str, now: datetime, *, phone: str | None, keep: int
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
        )

    async def find_state(self, user_id: str) -> Document | None:
        return await self.states.find_one({"_id": user_id})

    async def update_state(self, user_id: str, fields: Document) -> None:
        await self.states.update_one({"_id": user_id}, {"$set": fields})

    async def project_entitlement(
        self, user_id: str, entitled: bool, status: str, at: datetime, subscribed: bool = False
    ) -> None:
        """Keep billing's newest word on entitlement; an older event changes nothing."""
        current = await self.states.find_one({"_id": user_id}, {"entitlement": 1})
        known = (current or {}).get("entitlement")
        if known is not None and known["at"] > at:
            return
        await self.states.update_one(
            {"_id": user_id},
            {
                "$set": {
                    "entitlement": {
                        "entitled": entitled,
                        "status": status,
                        "at": at,
                        "subscribed": subscribed,
                    }
                },
                "$setOnInsert": {"conversation_started_at": at, "summary": ""},
            },
            upsert=True,
        )

    async def note_on_alert(
        self, alert_id: str, user_id: str, field: str, answer: str, now: datetime, *, escalate: bool
    ) -> None:
        """Record the caregiver's answer (yes/no/unclear) on the alert; a yes to the question raises it."""
        fields: Document = {field: {"answer": answer, "at": now}}
        if escalate:
            fields.update(priority="high", tier="explicit")
        # the alert job may not have run yet: the upsert keeps the answer, and whose alert it is
        await self.crisis_alerts.update_one(
            {"_id": alert_id}, {"$set": fields, "$setOnInsert": {"user_id": user_id}}, upsert=True
        )

    async def note_follow_up_sent(self, alert_id: str, step: int, now: datetime) -> None:
        await self.crisis_alerts.update_one({"_id": alert_id}, {"$set": {f"follow_up_sent.{step}": now}})

    async def _push_recent(self, user_id: str, entry: Document, guard: Document | None = None) -> None:
        await self.states.update_one(
            {"_id": user_id, **(guard or {})},
            {"$push": {"recent_messages": {"$each": [entry], "$slice": -RECENT_WINDOW}}},
        )

    async def record_reply(self, user_id: str, text: str, now: datetime) -> None:
        await self._push_recent(user_id, {"dir": "out", "text": text, "at": now})

    async def record_reply_once(self, user_id: str, job_key: str, text: str, now: datetime) -> None:
        """Append a reply a job composed; a retried job does not append it twice."""
        entry = {"dir": "out", "text": text, "at": now, "job": job_key}
        await self._push_recent(user_id, entry, {"recent_messages.job": {"$ne": job_key}})

    async def record_staff_message(
        self, user_id: str, text: str, staff_id: str, job_key: str, now: datetime
    ) -> None:
        """Add a message staff wrote to the caregiver's recent messages, marked as staff's."""
        entry = {"dir": "out", "by": "staff", "staff_id": staff_id, "text": text, "at": now, "job": job_key}
        await self._push_recent(user_id, entry)

    async def set_summary(self, user_id: str, summary: str, now: datetime) -> None:
        await self.states.update_one({"_id": user_id}, {"$set": {"summary": summary, "summary_at": now}})

    async def apply_status(self, sid: str, status: str, error_code: str | None, now: datetime) -> bool:
        """Move a message's status forward; an older or repeated callback changes nothing."""
        rank = STATUS_RANK.get(status, 0)
        fields = {"status": status, "rank": rank, "error_code": error_code, "status_at": now}
        # No upsert-and-catch here: a duplicate key error would abort the whole transaction.
        current = await self.outbound.find_one({"_id": sid}, {"rank": 1})
        if current is None:
            await self.outbound.insert_one({"_id": sid, **fields})
            return True
        if current.get("rank", 0) >= rank:
            return False
        await self.outbound.update_one({"_id": sid}, {"$set": fields})
        return True

    async def backfill(self, slices: list[Document], now: datetime) -> SliceCounts:
        """Create the missing states of a legacy batch and fill the gaps of live ones (a state
        that is only billing's entitlement projection so far is completed)."""
        counts, _created = await write_slices(
            self.states, slices, fill_stamp={"updated_at": now}, placeholder=frozenset({"entitlement"})
        )
        return counts

    async def project_backfilled_entitlements(self, projection: dict[str, Document], at: datetime) -> None:
        """Project a backfill batch's entitlements (user id -> entitlement) in a few bulk writes.

        A newer projection wins; a state not written yet gets a projection-only document, which
        the batch's slice then completes.
        """
        ids = list(projection)
        found = {
            d["_id"] for d in await self.states.find({"_id": {"$in": ids}}, {"entitlement": 1}).to_list()
        }
        missing = [{"_id": uid, "entitlement": p} for uid, p in projection.items() if uid not in found]
        if missing:
            await self.states.insert_many(missing)
        groups: dict[tuple[bool, str], list[str]] = {}
        for uid, p in projection.items():
            if uid in found:
                groups.setdefault((p["entitled"], p["status"]), []).append(uid)
        for (is_entitled, status), group in groups.items():  # few statuses: a handful of bulk updates
            value = {"entitled": is_entitled, "status": status, "at": at}
            for older in ({"entitlement": None}, {"entitlement.at": {"$lte": at}}):
                await self.states.update_many(
                    {"_id": {"$in": group}, **older}, {"$set": {"entitlement": value}}
                )

    async def erase_caregiver(self, user_id: str) -> Document:
        """Delete the caregiver's slice (alerts and their pages, kept messages and their vectors
        included); the unit of work cancels
        the jobs owed to them. Audit rows stay, with only the user id (the record is accountable,
        the person is gone): the record each row pointed at and its details go. Their number is
        returned among the ``identifiers``: the messages that name it go from the streams."""
        state = await self.states.find_one({"_id": user_id}, {"phone": 1}) or {}
        forgotten = await self.audit_log.update_many(
            {"user_id": user_id}, {"$set": {"ref": None, "detail": {}, "erased": True}}
        )
        return {
            "erased": True,
            "deleted": {
                "conversation_state": (await self.states.delete_one({"_id": user_id})).deleted_count,
                "outbound_messages": (await self.outbound.delete_many({"user_id": user_id})).deleted_count,
                "crisis_alerts": (await self.crisis_alerts.delete_many({"user_id": user_id})).deleted_count,
                "message_memory": (await self.kept.delete_many({"user_id": user_id})).deleted_count,
            },
            "anonymised": {"audit_log": forgotten.modified_count},
            "identifiers": [state["phone"]] if state.get("phone") else [],
        }


class MongoWriter(MongoConversationWriter, MongoAlertsWriter):
    """``Writer`` on one transaction's ``WriteDb``."""

    def __init__(self, db: WriteDb) -> None:
        MongoConversationWriter.__init__(self, db)
        MongoAlertsWriter.__init__(self, db)


class MongoReader(MongoConversationReader, MongoAlertsReader):
    """``Reader`` on the read-only ``ReadDb``."""

    def __init__(self, db: ReadDb) -> None:
        MongoConversationReader.__init__(self, db)
        MongoAlertsReader.__init__(self, db)
