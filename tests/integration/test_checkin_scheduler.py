"""The check-in scan on a real MongoDB-wire server: who is due, quiet hours, once a day, nudges, churn."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.collection import AsyncCollection

from careline_contracts import subjects
from careline_platform.jobs import Job, JobStore
from careline_platform.mongo import connect
from careline_platform.uow import ReadDb, UnitOfWork
from careline_profile import assessments, repository
from careline_profile.domain import due
from careline_profile.repository import MongoProfileReader, MongoProfileWriter
from careline_testing.servers import Backends

pytestmark = pytest.mark.asyncio
_names = itertools.count()
NOON_IN_SF = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)  # 12:00 in America/Los_Angeles
MIDNIGHT_IN_SF = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
SCAN = Job(
    key="checkin.scan:x",
    type="checkin.scan",
    payload={},
    attempts=1,
    max_attempts=None,
    progress={},
    token="t",
)


class MovableClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@dataclass
class Deps:
    uow: UnitOfWork[MongoProfileWriter, MongoProfileReader]
    profiles: AsyncCollection[dict[str, Any]]
    jobs: JobStore


@pytest_asyncio.fixture
async def world(backends: Backends) -> AsyncIterator[tuple[Deps, MovableClock]]:
    client = connect(backends.mongodb_uri)
    db = client[f"checkins_{next(_names)}"]
    await repository.ensure_indexes(db)
    clock = MovableClock(NOON_IN_SF)
    jobs = JobStore(db.jobs, clock)
    await jobs.ensure_indexes()
    await db.create_collection("processed_messages")
    uow = UnitOfWork(
        client,
        db,
        jobs=jobs,
        clock=clock,
        stream=subjects.PROFILE,
        writer=MongoProfileWriter,
        reader=MongoProfileReader,
    )
    yield Deps(uow, db.user_profiles, jobs), clock
    await client.close()


def profile(user: str, band: str | None, silent_days: float, **extra: Any) -> dict[str, Any]:
    """A caregiver as the service keeps them, ``next_due_at`` included (``domain.due``)."""
    doc = {
        "_id": user,
        "burnout_band": band,
        "last_contact_at": NOON_IN_SF - timedelta(days=silent_days),
        "last_checkin_at": None,
        "opted_out": False,
        "time_zone": "America/Los_Angeles",
        "journey_phase": "active",
        "reengagements_sent": [],
        **extra,
    }
    return {**doc, due.FIELD: due.next_due_at(doc, NOON_IN_SF)}


async def owed(deps: Deps) -> list[str]:
    found = [d["payload"]["msg_id"] async for d in deps.jobs.col.find({"type": "outbox.publish"})]
    return sorted(found)


async def test_due_caregivers_get_one_check_in_a_day_and_nobody_else_does(
    world: tuple[Deps, MovableClock],
) -> None:
    deps, _clock = world
    await deps.profiles.insert_many(
        [
            profile("high-4d", "high", 4),  # every 3 days: due
            profile("high-1d", "high", 1.5),  # wrote recently: not due
            profile("moderate-4d", "moderate", 4),  # weekly: not yet
            profile("mild-20d", "mild", 5),  # only on request
            profile("high-optout", "high", 4, opted_out=True),
            profile("high-ny", "high", 4, time_zone="America/New_York"),  # 15:00 there: due too
        ]
    )
    first = await assessments.scan_checkins(SCAN, deps.uow)
    again = await assessments.scan_checkins(SCAN, deps.uow)  # a second replica, the same slot
    assert (first["started"], again["started"]) == (2, 0)
    today = NOON_IN_SF.date().isoformat()
    assert await owed(deps) == [f"checkin:high-4d:{today}", f"checkin:high-ny:{today}"]
    started = await deps.profiles.find_one({"_id": "high-4d"})
    assert started is not None and started["assessment_in_progress"]["instrument"] == "checkin"


async def test_nobody_is_checked_in_on_during_their_night(world: tuple[Deps, MovableClock]) -> None:
    deps, clock = world
    clock.at = MIDNIGHT_IN_SF
    await deps.profiles.insert_one(profile("high-4d", "high", 4))
    assert (await assessments.scan_checkins(SCAN, deps.uow))["started"] == 0


async def test_dormant_caregivers_are_nudged_on_days_7_and_14_once_then_churn(
    world: tuple[Deps, MovableClock],
) -> None:
    deps, clock = world
    await deps.profiles.insert_one(profile("quiet", "thriving", 8))
    assert (await assessments.scan_checkins(SCAN, deps.uow))["nudged"] == 1
    assert (await assessments.scan_checkins(SCAN, deps.uow))["nudged"] == 0  # once
    clock.at = NOON_IN_SF + timedelta(days=7)  # 15 days of silence
    assert (await assessments.scan_checkins(SCAN, deps.uow))["nudged"] == 1
    assert await owed(deps) == ["reengage:quiet:14", "reengage:quiet:7"]
    clock.at = NOON_IN_SF + timedelta(days=24)  # 32 days of silence
    assert (await assessments.scan_checkins(SCAN, deps.uow))["churned"] == 1
    churned = await deps.profiles.find_one({"_id": "quiet"})
    assert churned is not None and churned["journey_phase"] == "churned"


async def test_a_due_check_in_goes_before_a_nudge_and_counts_as_the_days_one_message(
    world: tuple[Deps, MovableClock],
) -> None:
    deps, _clock = world
    eleven_days_ago = NOON_IN_SF - timedelta(days=11)
    await deps.profiles.insert_one(profile("high-11d", "high", 11, last_checkin_at=eleven_days_ago))
    result = await assessments.scan_checkins(SCAN, deps.uow)
    assert (result["started"], result["nudged"]) == (1, 0)


async def test_crisis_support_ends_after_a_calm_week(world: tuple[Deps, MovableClock]) -> None:
    deps, _clock = world
    await deps.profiles.insert_many(
        [
            profile(
                "calm", None, 1, journey_phase="crisis_support", last_crisis_at=NOON_IN_SF - timedelta(days=8)
            ),
            profile(
                "recent",
                None,
                1,
                journey_phase="crisis_support",
                last_crisis_at=NOON_IN_SF - timedelta(days=2),
            ),
        ]
    )
    assert (await assessments.scan_checkins(SCAN, deps.uow))["calmed"] == 1
    phases = {d["_id"]: d["journey_phase"] async for d in deps.profiles.find({})}
    assert phases == {"calm": "active", "recent": "crisis_support"}


async def test_a_band_full_of_churned_opted_out_and_paused_caregivers_does_not_starve_its_due_ones(
    world: tuple[Deps, MovableClock],
) -> None:
    """600 caregivers of the high band the line must leave alone, silent longer than anyone (the
    old scan took the 200 oldest of a band and found only them), and 250 due: more than a page.
    Every due one gets a check-in, and the scan reads no one else."""
    deps, _clock = world
    paused = {"frequency": None, "paused_until": NOON_IN_SF + timedelta(days=3)}
    left_alone = [
        *(profile(f"churned-{i}", "high", 33, journey_phase="churned") for i in range(200)),
        *(profile(f"stopped-{i}", "high", 10, opted_out=True) for i in range(200)),
        *(profile(f"paused-{i}", "high", 10, checkins=paused) for i in range(200)),
    ]
    await deps.profiles.insert_many([*left_alone, *(profile(f"due-{i:03d}", "high", 4) for i in range(250))])
    result = await assessments.scan_checkins(SCAN, deps.uow)
    assert (result["started"], result["read"]) == (250, 250)
    started = await owed(deps)
    assert len(started) == 250 and all(msg_id.startswith("checkin:due-") for msg_id in started)
    again = await assessments.scan_checkins(SCAN, deps.uow)
    assert (again["started"], again["read"]) == (0, 0)  # each one's next look is days away


class Finds(monitoring.CommandListener):
    def __init__(self) -> None:
        self.filters: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find":
            self.filters.append(event.command["filter"])

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None: ...

    def failed(self, event: monitoring.CommandFailedEvent) -> None: ...


async def test_every_page_of_the_scan_is_bounded_on_both_sides_of_the_index(
    world: tuple[Deps, MovableClock], backends: Backends
) -> None:
    """Churned caregivers have no due time (null), and nulls sort first in the index. MongoDB
    reads ``$lte`` on a date as dates only; the local MongoDB-wire server walked every null to
    find nothing (1.2 s at 100k profiles), so each page names its lower bound too."""
    deps, _clock = world
    await deps.profiles.insert_many(
        [*(profile(f"churned-{i}", "high", 33, journey_phase="churned") for i in range(50)),
         *(profile(f"due-{i}", "high", 4) for i in range(3))]
    )  # fmt: skip
    assert await deps.profiles.count_documents({due.FIELD: None}) == 50
    finds = Finds()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        backends.mongodb_uri, event_listeners=[finds], tz_aware=True
    )
    try:
        reader = MongoProfileReader(ReadDb(client[deps.profiles.database.name]))
        first = await reader.due_profiles(NOON_IN_SF, None, 2)
        rest = await reader.due_profiles(NOON_IN_SF, (first[-1][due.FIELD], first[-1]["_id"]), 2)
    finally:
        await client.close()
    assert sorted(p["_id"] for p in [*first, *rest]) == ["due-0", "due-1", "due-2"]
    ranges = [f[due.FIELD] for f in finds.filters if isinstance(f[due.FIELD], dict)]
    assert ranges and all(set(r) >= {"$lte"} and ("$gte" in r or "$gt" in r) for r in ranges), (
        ranges
    )  # no page starts at the nulls
    assert all(r.get("$gte", due.EARLIEST) == due.EARLIEST for r in ranges)
