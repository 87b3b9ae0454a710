"""Profile's repository in memory: the same protocol as the MongoDB one, for handler unit tests."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from careline_contracts.migration import SliceCounts
from careline_profile.domain import due
from careline_profile.repository import BANDS, PHASES, DueCursor
from careline_testing.slices import fill_slices
from careline_testing.uow import FakeClock, FakeUnitOfWork

Document = dict[str, Any]


class FakeProfiles:
    """``ProfileWriter`` and ``ProfileReader`` over two dicts."""

    def __init__(self) -> None:
        self.profiles: dict[str, Document] = {}
        self.assessments: dict[str, Document] = {}

    def put(self, profile: Document, now: datetime) -> None:
        """Store a profile as the service keeps it: with ``next_due_at`` from ``domain.due``."""
        self.profiles[str(profile["_id"])] = {
            **copy.deepcopy(profile),
            due.FIELD: due.next_due_at(profile, now),
        }

    # writer
    async def create_profile(self, user_id: str, now: datetime) -> None:
        self.profiles.setdefault(
            user_id,
            {
                "_id": user_id,
                "journey_phase": "onboarding",
                "burnout_band": None,
                "last_contact_at": now,
                "assessment_in_progress": None,
                "opted_out": False,
                "last_checkin_at": None,
                "band_history": [],
                "reengagements_sent": [],
                due.FIELD: due.next_due_at({"last_contact_at": now, "journey_phase": "onboarding"}, now),
                "created_at": now,
                "updated_at": now,
            },
        )

    async def set_fields(self, user_id: str, fields: Document, now: datetime) -> None:
        await self.create_profile(user_id, now)
        self.profiles[user_id].update(copy.deepcopy(fields), updated_at=now)

    async def get_or_create(self, user_id: str, now: datetime) -> Document:
        await self.create_profile(user_id, now)
        return copy.deepcopy(self.profiles[user_id])

    async def add_assessment(self, doc: Document) -> None:
        if doc["_id"] in self.assessments:
            raise KeyError(f"duplicate assessment {doc['_id']}")
        self.assessments[doc["_id"]] = copy.deepcopy(doc)

    async def claim_checkin(
        self,
        user_id: str,
        previous: datetime | None,
        state: Document,
        next_due: datetime | None,
        now: datetime,
    ) -> bool:
        profile = self.profiles.get(user_id)
        if profile is None or profile.get("last_checkin_at") != previous:
            return False
        profile.update(last_checkin_at=now, assessment_in_progress=copy.deepcopy(state), updated_at=now)
        profile[due.FIELD] = next_due
        return True

    async def claim_nudge(
        self, user_id: str, previous: datetime | None, days: int, next_due: datetime | None, now: datetime
    ) -> bool:
        profile = self.profiles.get(user_id)
        if profile is None or profile.get("last_checkin_at") != previous:
            return False
        if days in profile.get("reengagements_sent", []):
            return False
        profile.update(last_checkin_at=now, updated_at=now)
        profile["reengagements_sent"] = [*profile.get("reengagements_sent", []), days]
        profile[due.FIELD] = next_due
        return True

    async def reschedule(self, user_id: str, seen: datetime | None, next_due: datetime | None) -> bool:
        profile = self.profiles.get(user_id)
        if profile is None or profile.get(due.FIELD) != seen:
            return False
        profile[due.FIELD] = next_due
        return True

    async def backfill(self, slices: list[Document], now: datetime) -> SliceCounts:
        counts, _created = fill_slices(self.profiles, slices, fill_stamp={"updated_at": now})
        return counts

    async def erase_caregiver(self, user_id: str) -> Document:
        had = self.profiles.pop(user_id, None) is not None
        mine = [k for k, a in self.assessments.items() if a["user_id"] == user_id]
        for key in mine:
            del self.assessments[key]
        return {"erased": True, "deleted": {"user_profiles": int(had), "assessments": len(mine)}}

    # reader
    async def due_profiles(self, now: datetime, after: DueCursor | None, limit: int) -> list[Document]:
        found = sorted(
            (p for p in self.profiles.values() if p.get(due.FIELD) is not None and p[due.FIELD] <= now),
            key=lambda p: (p[due.FIELD], p["_id"]),
        )
        if after is not None:
            found = [p for p in found if (p[due.FIELD], p["_id"]) > after]
        return copy.deepcopy(found[:limit])

    async def daily_metrics(self, start: datetime, end: datetime) -> Document:
        profiles = list(self.profiles.values())
        return {
            "bands": {b: sum(p.get("burnout_band") == b for p in profiles) for b in BANDS},
            "journey": {p: sum(x.get("journey_phase") == p for x in profiles) for p in PHASES},
            "assessments_completed": sum(start <= a["completed_at"] < end for a in self.assessments.values()),
        }

    async def read_caregiver(self, user_id: str) -> Document:
        return {
            "user_profile": copy.deepcopy(self.profiles.get(user_id)),
            "assessments": [copy.deepcopy(a) for a in self.assessments.values() if a["user_id"] == user_id],
        }


def profile_uow(clock: FakeClock | None = None) -> FakeUnitOfWork[FakeProfiles, FakeProfiles]:
    return FakeUnitOfWork(FakeProfiles(), clock=clock)
