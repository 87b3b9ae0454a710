"""Profile's own data: ``user_profiles``, one per caregiver, and ``assessments``, the history.

``ProfileWriter`` is what a transaction may do, ``ProfileReader`` what a read outside one may;
the MongoDB classes below implement them on the unit of work's ``WriteDb`` and ``ReadDb``, and
the unit tests' in-memory fakes implement them too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from careline_contracts.migration import SliceCounts
from careline_platform.backfill import write_slices
from careline_platform.uow import ReadDb, UnitOfWorkApi, WriteDb
from careline_profile.domain import due

Document = dict[str, Any]
DueCursor = tuple[datetime, str]
"""Where a page of due profiles ended: the last one's ``next_due_at`` and ``_id``."""
BANDS = ("crisis", "high", "moderate", "mild", "thriving")
SCHEDULED = ("daily", "every_3_days", "weekly")
"""The chosen frequencies that bring check-ins (``domain.preferences.Frequency`` but ``off``)."""
NEXT_DUE_MIGRATION = "user_profiles.next_due_at"
PHASES = ("onboarding", "active", "maintenance", "crisis_support", "churned", "bereavement")


class ProfileReader(Protocol):
    async def due_profiles(self, now: datetime, after: DueCursor | None, limit: int) -> list[Document]: ...
    async def daily_metrics(self, start: datetime, end: datetime) -> Document: ...
    async def read_caregiver(self, user_id: str) -> Document: ...


class ProfileWriter(Protocol):
    async def create_profile(self, user_id: str, now: datetime) -> None: ...
    async def set_fields(self, user_id: str, fields: Document, now: datetime) -> None: ...
    async def get_or_create(self, user_id: str, now: datetime) -> Document: ...
    async def add_assessment(self, doc: Document) -> None: ...
    async def claim_checkin(
        self,
        user_id: str,
        previous: datetime | None,
        state: Document,
        next_due: datetime | None,
        now: datetime,
    ) -> bool: ...
    async def claim_nudge(
        self, user_id: str, previous: datetime | None, days: int, next_due: datetime | None, now: datetime
    ) -> bool: ...
    async def reschedule(self, user_id: str, seen: datetime | None, next_due: datetime | None) -> bool: ...
    async def erase_caregiver(self, user_id: str) -> Document: ...
    async def backfill(self, slices: list[Document], now: datetime) -> SliceCounts: ...


ProfileUow = UnitOfWorkApi[ProfileWriter, ProfileReader]


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    await db.assessments.create_index([("user_id", ASCENDING), ("completed_at", ASCENDING)])
    await db.assessments.create_index("completed_at")
    await db.user_profiles.create_index([("last_contact_at", ASCENDING)])
    await db.user_profiles.create_index([("journey_phase", ASCENDING)])
    await db.user_profiles.create_index([("burnout_band", ASCENDING)])
    await db.user_profiles.create_index([(due.FIELD, ASCENDING), ("_id", ASCENDING)])


async def fill_next_due(db: AsyncDatabase[Document], now: datetime, page: int = 500) -> int:
    """Give every profile without ``next_due_at`` (written before it existed) its value from
    ``domain.due``, a page at a time; a profile a handler updated meanwhile keeps its own."""
    filled = 0
    while batch := await db.user_profiles.find({due.FIELD: {"$exists": False}}).limit(page).to_list():
        writes = [
            UpdateOne(
                {"_id": p["_id"], due.FIELD: {"$exists": False}},
                {"$set": {due.FIELD: due.next_due_at(p, now)}},
            )
            for p in batch
        ]
        filled += (await db.user_profiles.bulk_write(writes, ordered=False)).modified_count
    return filled


async def migrate(db: AsyncDatabase[Document], now: datetime) -> None:
    """On start: fill ``next_due_at`` once per database (a marker in ``migrations`` skips the
    pass afterwards, so a start does not read every profile)."""
    if await db.migrations.find_one({"_id": NEXT_DUE_MIGRATION}) is not None:
        return
    filled = await fill_next_due(db, now)
    await db.migrations.update_one(
        {"_id": NEXT_DUE_MIGRATION}, {"$set": {"done_at": now, "filled": filled}}, upsert=True
    )


class MongoProfileReader:
    def __init__(self, db: ReadDb) -> None:
        self.profiles = db["user_profiles"]
        self.assessments = db["assessments"]

    async def due_profiles(self, now: datetime, after: DueCursor | None, limit: int) -> list[Document]:
        """A page of profiles whose ``next_due_at`` has come, in (``next_due_at``, ``_id``) order
        after ``after``: a walk of the index on both, bounded.

        The rest of ``after``'s own instant first, then what follows it: two simple queries
        rather than one ``$or``, which the MongoDB-wire server would answer with a collection scan.
        The first page is bounded below too: MongoDB reads ``$lte`` on a date as a range of
        dates, but the MongoDB-wire server walked the index from its start, through every
        caregiver with no due time (null), to find none (1.2 s at 100k profiles, 30k of them
        churned; 2 ms with the bound, ``make bench-scale``).
        """
        order = [(due.FIELD, ASCENDING), ("_id", ASCENDING)]
        query: Document = {due.FIELD: {"$gte": due.EARLIEST, "$lte": now}}
        if after is not None:
            at, user = after
            same = (
                await self.profiles.find({due.FIELD: at, "_id": {"$gt": user}})
                .sort(order)
                .limit(limit)
                .to_list()
            )
            if same:
                return same
            query = {due.FIELD: {"$gt": at, "$lte": now}}
        return await self.profiles.find(query).sort(order).limit(limit).to_list()

    async def daily_metrics(self, start: datetime, end: datetime) -> Document:
        """Band and journey distributions (index-backed counts) and the day's completed assessments."""
        return {
            "bands": {b: await self.profiles.count_documents({"burnout_band": b}) for b in BANDS},
            "journey": {p: await self.profiles.count_documents({"journey_phase": p}) for p in PHASES},
            "assessments_completed": await self.assessments.count_documents(
                {"completed_at": {"$gte": start, "$lt": end}}
            ),
        }

    async def read_caregiver(self, user_id: str) -> Document:
        return {
            "user_profile": await self.profiles.find_one({"_id": user_id}),
            "assessments": await self.assessments.find({"user_id": user_id}).to_list(),
        }


class MongoProfileWriter:
    def __init__(self, db: WriteDb) -> None:
        self.profiles = db["user_profiles"]
        self.assessments = db["assessments"]

    async def backfill(self, slices: list[Document], now: datetime) -> SliceCounts:
        """Create the missing profiles of a legacy batch and fill the gaps of live ones."""
        counts, _created = await write_slices(self.profiles, slices, fill_stamp={"updated_at": now})
        return counts

    async def create_profile(self, user_id: str, now: datetime) -> None:
        await self.profiles.update_one(
            {"_id": user_id},
            {
                "$setOnInsert": {
                    "first_name": None,
                    "relationship": None,
                    "condition": None,
                    "zip": None,
                    "time_zone": None,
                    "journey_phase": "onboarding",
                    "burnout_score": None,
                    "burnout_band": None,
                    "pressure_zones": [],
                    "last_contact_at": now,
                    "assessment_in_progress": None,
                    "opted_out": False,
                    "next_checkin_at": None,
                    "last_checkin_at": None,
                    "band_history": [],
                    "reengagements_sent": [],
                    due.FIELD: due.next_due_at({"last_contact_at": now, "journey_phase": "onboarding"}, now),
                    "created_at": now,
                    "updated_at": now,
                }
            },
            upsert=True,
        )

    async def set_fields(self, user_id: str, fields: Document, now: datetime) -> None:
        """Set profile fields, creating the profile first if its registration is still on its way."""
        await self.create_profile(user_id, now)
        await self.profiles.update_one({"_id": user_id}, {"$set": {**fields, "updated_at": now}})

    async def get_or_create(self, user_id: str, now: datetime) -> Document:
        await self.create_profile(user_id, now)
        found = await self.profiles.find_one({"_id": user_id})
        assert found is not None  # created just above, in this transaction
        return found

    async def add_assessment(self, doc: Document) -> None:
        await self.assessments.insert_one(doc)

    async def claim_checkin(
        self,
        user_id: str,
        previous: datetime | None,
        state: Document,
        next_due: datetime | None,
        now: datetime,
    ) -> bool:
        """Mark the check-in started unless someone else just did (the last check-in moved)."""
        fields = {
            "last_checkin_at": now,
            "assessment_in_progress": state,
            due.FIELD: next_due,
            "updated_at": now,
        }
        res = await self.profiles.update_one({"_id": user_id, "last_checkin_at": previous}, {"$set": fields})
        return res.modified_count == 1

    async def claim_nudge(
        self, user_id: str, previous: datetime | None, days: int, next_due: datetime | None, now: datetime
    ) -> bool:
        """Record a re-engagement nudge (it counts as the day's proactive message) unless one raced us."""
        res = await self.profiles.update_one(
            {"_id": user_id, "last_checkin_at": previous, "reengagements_sent": {"$ne": days}},
            {
                "$set": {"last_checkin_at": now, due.FIELD: next_due, "updated_at": now},
                "$push": {"reengagements_sent": days},
            },
        )
        return res.modified_count == 1

    async def reschedule(self, user_id: str, seen: datetime | None, next_due: datetime | None) -> bool:
        """Move ``next_due_at`` on, unless a handler recomputed it since the scan read ``seen``."""
        res = await self.profiles.update_one(
            {"_id": user_id, due.FIELD: seen}, {"$set": {due.FIELD: next_due}}
        )
        return res.modified_count == 1

    async def erase_caregiver(self, user_id: str) -> Document:
        return {
            "erased": True,
            "deleted": {
                "user_profiles": (await self.profiles.delete_one({"_id": user_id})).deleted_count,
                "assessments": (await self.assessments.delete_many({"user_id": user_id})).deleted_count,
            },
        }
