"""Profile's own data: ``user_profiles``, one per caregiver."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]


class ProfileRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.profiles = db.user_profiles

    async def ensure_indexes(self) -> None:
        await self.profiles.create_index([("journey_phase", ASCENDING)])
        await self.profiles.create_index([("burnout_band", ASCENDING)])
        await self.profiles.create_index([("burnout_band", ASCENDING), ("last_contact_at", ASCENDING)])

    async def create_profile(self, user_id: str, now: datetime, session: AsyncClientSession) -> None:
        await self.profiles.update_one(
            {"_id": user_id},
            {
                "$setOnInsert": {
                    "first_name": None,
                    "relationship": None,
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
                    "created_at": now,
                    "updated_at": now,
                }
            },
            upsert=True,
            session=session,
        )

    async def set_fields(
        self, user_id: str, fields: Document, now: datetime, session: AsyncClientSession
    ) -> None:
        """Set profile fields, creating the profile first if its registration is still on its way."""
        await self.create_profile(user_id, now, session)
        await self.profiles.update_one(
            {"_id": user_id}, {"$set": {**fields, "updated_at": now}}, session=session
        )
