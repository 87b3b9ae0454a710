"""The check-in scan with caregivers' own choices, on a real MongoDB-wire server: the index-backed
query finds who chose a frequency (band or not), and pauses, "off" and a loss hold check-ins back."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio

from careline_contracts import subjects
from careline_platform.jobs import Job, JobStore
from careline_platform.mongo import connect
from careline_platform.uow import UnitOfWork
from careline_profile import assessments, repository
from careline_profile.domain import due
from careline_profile.repository import MongoProfileReader, MongoProfileWriter
from careline_testing.servers import Backends

pytestmark = pytest.mark.asyncio
_names = itertools.count()
NOON_IN_SF = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
SCAN = Job(key="checkin.scan:x", type="checkin.scan", payload={}, attempts=1, max_attempts=None,
           progress={}, token="t")  # fmt: skip


class FixedClock:
    def now(self) -> datetime:
        return NOON_IN_SF


@pytest_asyncio.fixture
async def world(backends: Backends) -> AsyncIterator[tuple[Any, Any, JobStore]]:
    client = connect(backends.mongodb_uri)
    db = client[f"checkin_choices_{next(_names)}"]
    await repository.ensure_indexes(db)
    jobs = JobStore(db.jobs, FixedClock())
    await jobs.ensure_indexes()
    await db.create_collection("processed_messages")
    uow = UnitOfWork(
        client, db, jobs=jobs, clock=FixedClock(), stream=subjects.PROFILE,
        writer=MongoProfileWriter, reader=MongoProfileReader,
    )  # fmt: skip
    yield uow, db.user_profiles, jobs
    await client.close()


def caregiver(user: str, band: str | None, frequency: str | None, **extra: Any) -> dict[str, Any]:
    """Silent for 2 days, never checked in on, in San Francisco (noon there now)."""
    return {
        "_id": user, "burnout_band": band, "last_contact_at": NOON_IN_SF - timedelta(days=2),
        "last_checkin_at": None, "opted_out": False, "time_zone": "America/Los_Angeles",
        "journey_phase": "active", "reengagements_sent": [],
        "checkins": {"frequency": frequency, "paused_until": None, "hour": None, "minute": 0},
        **extra,
    }  # fmt: skip


async def test_chosen_frequencies_are_found_and_pauses_off_and_losses_are_not(
    world: tuple[Any, Any, JobStore],
) -> None:
    uow, profiles, jobs = world
    await profiles.insert_many(
        [
            caregiver("daily-no-band", None, "daily"),
            caregiver("daily-over-moderate", "moderate", "daily"),  # the band alone: not for 5 more days
            caregiver("weekly-over-crisis", "crisis", "weekly"),  # the band alone would be due
            caregiver("paused", None, "daily", checkins={"frequency": "daily",
                      "paused_until": NOON_IN_SF + timedelta(days=5)}),
            caregiver("off", "high", "off"),
            caregiver("bereaved", None, "daily", bereaved_at=NOON_IN_SF - timedelta(days=1)),
            caregiver("evening", None, "daily", checkins={"frequency": "daily", "hour": 18}),  # not yet
        ]
    )  # fmt: skip
    assert await repository.fill_next_due(profiles.database, NOON_IN_SF) == 7  # written before next_due_at
    result = await assessments.scan_checkins(SCAN, uow)
    assert result["started"] == 2
    owed = sorted([d["payload"]["msg_id"] async for d in jobs.col.find({"type": "outbox.publish"})])
    today = NOON_IN_SF.date().isoformat()
    assert owed == [f"checkin:daily-no-band:{today}", f"checkin:daily-over-moderate:{today}"]
    assert (await assessments.scan_checkins(SCAN, uow))["started"] == 0  # once a day


async def test_the_start_up_migration_fills_next_due_at_once_per_database(
    world: tuple[Any, Any, JobStore],
) -> None:
    _uow, profiles, _jobs = world
    await profiles.insert_one(caregiver("older", "high", None))  # written before next_due_at existed
    await repository.migrate(profiles.database, NOON_IN_SF)
    older = await profiles.find_one({"_id": "older"})
    assert older is not None and older[due.FIELD] == due.next_due_at(older, NOON_IN_SF) is not None
    await profiles.insert_one(caregiver("by-hand", "high", None))
    await repository.migrate(profiles.database, NOON_IN_SF)  # the marker: no second pass over everyone
    by_hand = await profiles.find_one({"_id": "by-hand"})
    assert by_hand is not None and due.FIELD not in by_hand
