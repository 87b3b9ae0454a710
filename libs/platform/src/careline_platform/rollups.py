"""Daily rollups: each service precomputes its own metrics for a day into ``rollups``.

A periodic job (hourly) recomputes today's document and, early in a day, also finishes
yesterday's, so the numbers the admin pages show are read, never computed per request.
Each service counts only its own collections with index-backed queries.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from careline_platform.clock import Clock
from careline_platform.jobs import Job, JobType, Periodic, RetryPolicy

Document = dict[str, Any]
ROLLUP_JOB = "rollup.daily"
ROLLUP_EVERY = timedelta(hours=1)
Metrics = Callable[[datetime, datetime], Awaitable[Document]]


def day_bounds(day: datetime) -> tuple[datetime, datetime]:
    start = datetime.combine(day.astimezone(UTC).date(), time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def rollup_periodic() -> Periodic:
    return Periodic(ROLLUP_JOB, ROLLUP_EVERY)


def rollup_job_type(db: AsyncDatabase[Document], service: str, clock: Clock, metrics: Metrics) -> JobType:
    """The job that writes today's (and in the first hours, yesterday's) rollup of a service."""

    async def run(_job: Job) -> dict[str, Any]:
        now = clock.now()
        days = [now] if now - day_bounds(now)[0] > ROLLUP_EVERY * 2 else [now - timedelta(days=1), now]
        return {"days": [await write_rollup(db, service, metrics, day, now) for day in days]}

    return JobType(run, RetryPolicy(max_attempts=3))


async def write_rollup(
    db: AsyncDatabase[Document], service: str, metrics: Metrics, day: datetime, now: datetime
) -> str:
    """Compute and store one day's rollup of a service (idempotent: a recompute overwrites it)."""
    start, end = day_bounds(day)
    values = await metrics(start, end)
    await db.rollups.update_one(
        {"_id": start.date().isoformat()},
        {"$set": {**values, "service": service, "day": start, "computed_at": now}},
        upsert=True,
    )
    return start.date().isoformat()


class MongoRollups:
    """A service's ``rollups`` as the admin operations read and refresh them."""

    def __init__(
        self, db: AsyncDatabase[Document], service: str, clock: Clock, metrics: Metrics | None
    ) -> None:
        self.db, self.service, self.clock, self.metrics = db, service, clock, metrics

    async def recent(self, days: int) -> list[Document]:
        """The most recent ``days`` rollups, newest first."""
        return await self.db.rollups.find({}).sort("_id", -1).limit(days).to_list()

    async def refresh(self) -> str | None:
        """Recompute today's rollup now; None when the service keeps no rollups."""
        if self.metrics is None:
            return None
        now = self.clock.now()
        return await write_rollup(self.db, self.service, self.metrics, now, now)
