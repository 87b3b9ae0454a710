"""Profile's repository in memory: the same protocol as the MongoDB one, for handler unit tests."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from careline_contracts.migration import SliceCounts
from careline_profile.repository import BANDS, PHASES, SCHEDULED
from careline_testing.slices import fill_slices
from careline_testing.uow import FakeClock, FakeUnitOfWork

Document = dict[str, Any]


class FakeProfiles:
    """``ProfileWriter`` and ``ProfileReader`` over two dicts."""

    def __init__(self) -> None:
        self.profiles: dict[str, Document] = {}
        self.assessments: dict[str, Document] = {}

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
        self, user_id: str, previous: datetime | None, state: Document, now: datetime
    ) -> bool:
        profile = self.profiles.get(user_id)
        if profile is None or profile.get("last_checkin_at") != previous:
            return False
        profile.update(last_checkin_at=now, assessment_in_progress=copy.deepcopy(state), updated_at=now)
        return True

    async def claim_nudge(self, user_id: str, previous: datetime | None, days: int, now: datetime) -> bool:
        profile = self.profiles.get(user_id)
        if profile is None or profile.get("last_checkin_at") != previous:
            return False
        if days in profile.get("reengagements_sent", []):
            return False
        profile.update(last_checkin_at=now, updated_at=now)
        profile["reengagements_sent"] = [*profile.get("reengagements_sent", []), days]
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
    async def checkin_candidates(self, band: str, quiet_since: datetime, limit: int) -> list[Document]:
        found = [
            p for p in self.profiles.values()
            if p.get("burnout_band") == band and p["last_contact_at"] <= quiet_since
        ]  # fmt: skip
        return copy.deepcopy(sorted(found, key=lambda p: p["last_contact_at"])[:limit])

    async def chosen_checkin_candidates(self, quiet_since: datetime, limit: int) -> list[Document]:
        found = [
            p for p in self.profiles.values()
            if (p.get("checkins") or {}).get("frequency") in SCHEDULED
            and p["last_contact_at"] <= quiet_since
            and p.get("bereaved_at") is None
        ]  # fmt: skip
        return copy.deepcopy(sorted(found, key=lambda p: p["last_contact_at"])[:limit])

    async def silent_since(self, before: datetime, limit: int) -> list[Document]:
        found = [
            p for p in self.profiles.values()
            if p["last_contact_at"] <= before and p.get("journey_phase") != "churned"
        ]  # fmt: skip
        return copy.deepcopy(sorted(found, key=lambda p: p["last_contact_at"])[:limit])

    async def in_crisis_support(self, calm_since: datetime, limit: int) -> list[Document]:
        found = [
            p for p in self.profiles.values()
            if p.get("journey_phase") == "crisis_support"
            and p.get("last_crisis_at") is not None
            and p["last_crisis_at"] <= calm_since
        ]  # fmt: skip
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
