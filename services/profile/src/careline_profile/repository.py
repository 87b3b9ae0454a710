"""Profile's own data: ``user_profiles``, one per caregiver, and ``assessments``, the history.

``ProfileWriter`` is what a transaction may do, ``ProfileReader`` what a read outside one may;
the MongoDB classes below implement them on the unit of work's ``WriteDb`` and ``ReadDb``, and
the unit tests' in-memory fakes implement them too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from careline_contracts.migration import SliceCounts
from careline_platform.backfill import write_slices
from careline_platform.uow import ReadDb, UnitOfWorkApi, WriteDb

Document = dict[str, Any]
BANDS = ("crisis", "high", "moderate", "mild", "thriving")
SCHEDULED = ("daily", "every_3_days", "weekly")
"""The chosen frequencies that bring check-ins (``domain.preferences.Frequency`` but ``off``)."""
PHASES = ("onboarding", "active", "maintenance", "crisis_support", "churned", "bereavement")


class ProfileReader(Protocol):
    async def checkin_candidates(self, band: str, quiet_since: datetime, limit: int) -> list[Document]: ...
    async def chosen_checkin_candidates(self, quiet_since: datetime, limit: int) -> list[Document]: ...
    async def silent_since(self, before: datetime, limit: int) -> list[Document]: ...
    async def in_crisis_support(self, calm_since: datetime, limit: int) -> list[Document]: ...
    async def daily_metrics(self, start: datetime, end: datetime) -> Document: ...
    async def read_caregiver(self, user_id: str) -> Document: ...


class ProfileWriter(Protocol):
    async def create_profile(self, user_id: str, now: datetime) -> None: ...
    async def set_fields(self, user_id: str, fields: Document, now: datetime) -> None: ...
    async def get_or_create(self, user_id: str, now: datetime) -> Document: ...
    async def add_assessment(self, doc: Document) -> None: ...
    async def claim_checkin(
        self, user_id: str, previous: datetime | None, state: Document, now: datetime
    ) -> bool: ...
    async def claim_nudge(
        self, user_id: str, previous: datetime | None, days: int, now: datetime
    ) -> bool: ...
    async def erase_caregiver(self, user_id: str) -> Document: ...
    async def backfill(self, slices: list[Document], now: datetime) -> SliceCounts: ...


ProfileUow = UnitOfWorkApi[ProfileWriter, ProfileReader]


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    await db.assessments.create_index([("user_id", ASCENDING), ("completed_at", ASCENDING)])
    await db.assessments.create_index("completed_at")
    await db.user_profiles.create_index([("last_contact_at", ASCENDING)])
    await db.user_profiles.create_index([("journey_phase", ASCENDING)])
    await db.user_profiles.create_index([("burnout_band", ASCENDING)])
    await db.user_profiles.create_index([("burnout_band", ASCENDING), ("last_contact_at", ASCENDING)])
    await db.user_profiles.create_index([("checkins.frequency", ASCENDING), ("last_contact_at", ASCENDING)])


class MongoProfileReader:
    def __init__(self, db: ReadDb) -> None:
        self.profiles = db["user_profiles"]
        self.assessments = db["assessments"]

    async def checkin_candidates(self, band: str, quiet_since: datetime, limit: int) -> list[Document]:
        """Caregivers of a band silent since ``quiet_since``: the (band, last contact) index, bounded."""
        cursor = (
            self.profiles.find({"burnout_band": band, "last_contact_at": {"$lte": quiet_since}})
            .sort("last_contact_at", ASCENDING)
            .limit(limit)
        )
        return await cursor.to_list()

    async def chosen_checkin_candidates(self, quiet_since: datetime, limit: int) -> list[Document]:
        """Caregivers who chose how often check-ins come, silent since ``quiet_since``: the
        (chosen frequency, last contact) index, bounded."""
        cursor = (
            self.profiles.find(
                {
                    "checkins.frequency": {"$in": list(SCHEDULED)},
                    "last_contact_at": {"$lte": quiet_since},
                    "bereaved_at": None,
                }
            )
            .sort("last_contact_at", ASCENDING)
            .limit(limit)
        )
        return await cursor.to_list()

    async def daily_metrics(self, start: datetime, end: datetime) -> Document:
        """Band and journey distributions (index-backed counts) and the day's completed assessments."""
        return {
            "bands": {b: await self.profiles.count_documents({"burnout_band": b}) for b in BANDS},
            "journey": {p: await self.profiles.count_documents({"journey_phase": p}) for p in PHASES},
            "assessments_completed": await self.assessments.count_documents(
                {"completed_at": {"$gte": start, "$lt": end}}
            ),
        }

    async def silent_since(self, before: datetime, limit: int) -> list[Document]:
        """Caregivers not heard from since ``before``, not yet churned: the last-contact index, bounded."""
        cursor = (
            self.profiles.find({"last_contact_at": {"$lte": before}, "journey_phase": {"$ne": "churned"}})
            .sort("last_contact_at", ASCENDING)
            .limit(limit)
        )
        return await cursor.to_list()

    async def in_crisis_support(self, calm_since: datetime, limit: int) -> list[Document]:
        """Caregivers in crisis support whose last crisis is older than ``calm_since`` (journey index)."""
        cursor = self.profiles.find(
            {"journey_phase": "crisis_support", "last_crisis_at": {"$lte": calm_since}}
        ).limit(limit)
        return await cursor.to_list()

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
        now: datetime,
    ) -> bool:
        """Mark the check-in started unless someone else just did (the last check-in moved)."""
        res = await self.profiles.update_one(
            {"_id": user_id, "last_checkin_at": previous},
            {"$set": {"last_checkin_at": now, "assessment_in_progress": state, "updated_at": now}},
        )
        return res.modified_count == 1

    async def claim_nudge(self, user_id: str, previous: datetime | None, days: int, now: datetime) -> bool:
        """Record a re-engagement nudge (it counts as the day's proactive message) unless one raced us."""
        res = await self.profiles.update_one(
            {"_id": user_id, "last_checkin_at": previous, "reengagements_sent": {"$ne": days}},
            {"$set": {"last_checkin_at": now, "updated_at": now}, "$push": {"reengagements_sent": days}},
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
