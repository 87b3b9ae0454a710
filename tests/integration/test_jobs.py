"""The jobs engine against a real MongoDB-wire server: exactly-once claims, leases, order, retries."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from pymongo.asynchronous.collection import AsyncCollection

from careline_platform.clock import SystemClock
from careline_platform.jobs import (
    Job,
    JobStatus,
    JobStore,
    JobType,
    JobWorker,
    LeaseLost,
    PermanentJobError,
    RetryPolicy,
    new_job,
)
from careline_platform.mongo import connect
from careline_testing.servers import Backends
from careline_testing.waiting import eventually

pytestmark = pytest.mark.asyncio
_names = itertools.count()


class MovableClock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.current = datetime.now(UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@pytest_asyncio.fixture
async def jobs_col(backends: Backends) -> AsyncIterator[AsyncCollection[Any]]:
    client = connect(backends.mongodb_uri)
    col = client[f"jobs_it_{next(_names)}"].jobs
    yield col
    await client.close()


async def no_dead_letters(_doc: dict[str, Any]) -> None:
    return None


@pytest.mark.slow  # started first (tests/conftest.py)
async def test_ten_workers_run_a_thousand_jobs_each_exactly_once(jobs_col: AsyncCollection[Any]) -> None:
    """10 concurrent workers claiming from 1,000 jobs: each job runs once, all complete."""
    store = JobStore(jobs_col, SystemClock())
    await store.ensure_indexes()
    now = datetime.now(UTC)
    await jobs_col.insert_many([new_job(f"job:{i}", "count", {"i": i}, now=now) for i in range(1000)])
    runs: Counter[str] = Counter()

    async def handler(job: Job) -> None:
        runs[job.key] += 1

    workers = [
        JobWorker(store, {"count": JobType(handler)}, owner=f"w{i}", dead_letter_sink=no_dead_letters)
        for i in range(10)
    ]

    async def drain(worker: JobWorker) -> None:
        while await worker.run_once():
            pass

    await asyncio.gather(*(drain(w) for w in workers))
    assert len(runs) == 1000
    assert set(runs.values()) == {1}
    assert await jobs_col.count_documents({"status": "completed"}) == 1000


async def test_expired_lease_is_reclaimed_and_the_slow_workers_completion_is_refused(
    jobs_col: AsyncCollection[Any],
) -> None:
    """A worker past its lease loses the job; its late complete() raises LeaseLost and changes nothing."""
    clock = MovableClock()
    store = JobStore(jobs_col, clock)
    await store.enqueue(new_job("job:slow", "t", {}, now=clock.now()))
    slow = await store.claim("slow", lease_s=30)
    assert slow is not None
    assert await store.claim("fast", lease_s=30) is None  # leased: nobody else gets it
    clock.advance(31)
    fast = await store.claim("fast", lease_s=30)
    assert fast is not None and fast.attempts == 2
    with pytest.raises(LeaseLost):
        await store.complete(slow, {"by": "slow"})
    await store.complete(fast, {"by": "fast"})
    doc = await jobs_col.find_one({"_id": "job:slow"})
    assert doc is not None and doc["result"] == {"by": "fast"} and doc["status"] == "completed"


async def test_retries_follow_the_schedule_then_die_and_permanent_errors_die_at_once(
    jobs_col: AsyncCollection[Any],
) -> None:
    """Failures back off 2, 4, 8 s (no jitter) and the last attempt goes dead; permanent ones at once."""
    clock = MovableClock()
    store = JobStore(jobs_col, clock)
    policy = RetryPolicy(max_attempts=4, base_s=2, jitter=0)
    start = clock.now()
    await store.enqueue(new_job("job:flaky", "t", {}, now=start, max_attempts=4))
    delays = []
    for attempt in range(1, 5):
        job = await store.claim("w", 30)
        assert job is not None and job.attempts == attempt
        status = await store.fail(job, "boom", permanent=False, policy=policy)
        doc = await jobs_col.find_one({"_id": "job:flaky"})
        assert doc is not None
        if attempt < 4:
            assert status is JobStatus.FAILED
            delays.append(round((doc["next_attempt_at"] - clock.now()).total_seconds()))
            assert await store.claim("w", 30) is None  # not due yet
            clock.advance(delays[-1])
        else:
            assert status is JobStatus.DEAD and doc["dead_letter_published"] is False
    assert delays == [2, 4, 8]

    await store.enqueue(new_job("job:permanent", "t", {}, now=clock.now()))
    job = await store.claim("w", 30)
    assert job is not None
    assert await store.fail(job, "21610", permanent=True, policy=policy) is JobStatus.DEAD
    assert await store.retry("job:permanent")
    again = await store.claim("w", 30)
    assert again is not None and again.key == "job:permanent" and again.attempts == 1


async def test_one_actors_jobs_run_in_order_while_others_run_in_parallel(
    jobs_col: AsyncCollection[Any],
) -> None:
    """Jobs of one actor never overlap and run in creation order; different actors interleave."""
    store = JobStore(jobs_col, SystemClock())
    await store.ensure_indexes()
    base = datetime.now(UTC)
    for n in range(10):
        for actor in ("a", "b", "c"):
            await store.enqueue(
                new_job(f"{actor}:{n}", "t", {"n": n}, now=base + timedelta(microseconds=n), actor=actor)
            )
    ran: dict[str, list[int]] = {"a": [], "b": [], "c": []}
    busy: set[str] = set()
    overlaps = []

    async def handler(job: Job) -> None:
        if job.actor in busy:
            overlaps.append(job.key)
        busy.add(str(job.actor))
        await asyncio.sleep(0.005)
        ran[str(job.actor)].append(job.payload["n"])
        busy.discard(str(job.actor))

    workers = [
        JobWorker(store, {"t": JobType(handler)}, owner=f"w{i}", dead_letter_sink=no_dead_letters)
        for i in range(4)
    ]

    async def drain(worker: JobWorker) -> None:
        idle = 0
        while idle < 5:
            idle = 0 if await worker.run_once() else idle + 1
            await asyncio.sleep(0)

    await asyncio.gather(*(drain(w) for w in workers))
    assert overlaps == []
    assert all(order == list(range(10)) for order in ran.values())


async def test_worker_classifies_errors(jobs_col: AsyncCollection[Any]) -> None:
    """A PermanentJobError goes dead after one attempt; another error is scheduled for retry."""
    store = JobStore(jobs_col, SystemClock())
    now = datetime.now(UTC)
    await store.enqueue(new_job("job:perm", "perm", {}, now=now))
    await store.enqueue(new_job("job:temp", "temp", {}, now=now))

    async def permanent(_job: Job) -> None:
        raise PermanentJobError("unsubscribed recipient")

    async def temporary(_job: Job) -> None:
        raise ConnectionError("provider away")

    worker = JobWorker(
        store,
        {"perm": JobType(permanent), "temp": JobType(temporary)},
        owner="w",
        dead_letter_sink=no_dead_letters,
    )
    while await worker.run_once():
        pass
    perm = await jobs_col.find_one({"_id": "job:perm"})
    temp = await jobs_col.find_one({"_id": "job:temp"})
    assert perm is not None and perm["status"] == "dead" and perm["attempts"] == 1
    assert temp is not None and temp["status"] == "failed" and "ConnectionError" in temp["last_error"]


async def test_a_queue_headed_by_types_this_worker_does_not_run_still_yields_its_own(
    jobs_col: AsyncCollection[Any],
) -> None:
    """Types are filtered after the index walk; a head of foreign types falls back to asking by type."""
    clock = MovableClock()
    store = JobStore(jobs_col, clock)
    await store.ensure_indexes()
    for i in range(20):  # an older release's jobs, due first
        await store.enqueue(new_job(f"job:old:{i}", "retired", {}, now=clock.now()))
    clock.advance(1)
    await store.enqueue(new_job("job:mine", "mine", {}, now=clock.now()))
    clock.advance(1)
    job = await store.claim("w", lease_s=30, types=["mine"])
    assert job is not None and job.key == "job:mine"
    assert await store.claim("w", lease_s=30, types=["mine"]) is None
    retired = await jobs_col.count_documents({"type": "retired", "status": "pending"})
    assert retired == 20  # never claimed by a worker that cannot run them


async def test_an_actor_waits_only_for_its_own_unfinished_earlier_jobs(
    jobs_col: AsyncCollection[Any],
) -> None:
    clock = MovableClock()
    store = JobStore(jobs_col, clock)
    await store.ensure_indexes()
    for key in ("a1", "a2", "a3"):
        await store.enqueue(new_job(key, "t", {}, now=clock.now(), actor="ana"))
    await store.enqueue(new_job("b1", "t", {}, now=clock.now(), actor="ben"))
    first = await store.claim("w", lease_s=30)
    second = await store.claim("w", lease_s=30)
    assert {first.key if first else None, second.key if second else None} == {"a1", "b1"}
    assert await store.claim("w", lease_s=30) is None  # a2 waits for a1, which is running
    await store.complete(first if first and first.key == "a1" else second, None)  # type: ignore[arg-type]
    nxt = await store.claim("w", lease_s=30)
    assert nxt is not None and nxt.key == "a2"


async def test_a_claim_knows_whether_the_job_ran_before_even_from_a_stale_read(
    jobs_col: AsyncCollection[Any],
) -> None:
    """A worker that read the job before another claimed and released it must not take it as
    never claimed: the attempt in between may have done its effect."""
    clock = MovableClock()
    store = JobStore(jobs_col, clock)
    await store.ensure_indexes()
    await store.enqueue(new_job("once", "t", {}, now=clock.now()))
    stale = await jobs_col.find_one({"_id": "once"})
    assert stale is not None

    first = await store.claim("y", lease_s=30)
    assert first is not None and first.claimed_before is None
    assert await store.release(first)  # pending and due again, as it was when read

    pending = {"status": "pending", "next_attempt_at": {"$lte": clock.now()}}
    assert await store.take(stale, pending, "x", 30, clock.now()) is None  # the stale read loses
    again = await store.claim("x", lease_s=30)
    doc = await jobs_col.find_one({"_id": "once"})
    assert again is not None and doc is not None
    assert again.claimed_before == doc["first_claimed_at"] is not None


class CountingStore(JobStore):
    """The real store, counting which claims the worker asks for."""

    def __init__(self, collection: AsyncCollection[Any], clock: Any) -> None:
        super().__init__(collection, clock)
        self.asked: Counter[str] = Counter()

    async def claim_new(self, owner: str, lease_s: float, types: list[str] | None = None) -> Job | None:
        self.asked["new"] += 1
        return await super().claim_new(owner, lease_s, types)

    async def claim_retry(self, owner: str, lease_s: float, types: list[str] | None = None) -> Job | None:
        self.asked["retry"] += 1
        return await super().claim_retry(owner, lease_s, types)


async def test_a_wake_asks_for_new_jobs_only_and_retries_are_looked_for_once_per_poll(
    jobs_col: AsyncCollection[Any],
) -> None:
    """Twenty committed jobs, each with a wake: twenty-odd one-query claims, not three queries
    each; the look for retries and expired leases happens on the poll clock."""
    store = CountingStore(jobs_col, SystemClock())
    await store.ensure_indexes()
    ran: list[str] = []

    async def handler(job: Job) -> None:
        ran.append(job.key)

    worker = JobWorker(
        store, {"t": JobType(handler)}, owner="w", dead_letter_sink=no_dead_letters, poll_interval_s=30
    )
    worker.start()
    try:
        for i in range(20):
            await store.enqueue(new_job(f"new:{i}", "t", {}, now=datetime.now(UTC)))
            worker.wake()
            await eventually(lambda i=i: len(ran) == i + 1, timeout_s=10)
    finally:
        await worker.stop()
    assert store.asked["retry"] == 1  # at start; the next look is 30 s away
    assert 20 <= store.asked["new"] <= 80


async def test_due_retries_are_not_starved_by_a_steady_stream_of_new_jobs(
    jobs_col: AsyncCollection[Any],
) -> None:
    """A failed job whose attempt is due runs before the new jobs behind it, however many come."""
    store = JobStore(jobs_col, SystemClock())
    await store.ensure_indexes()
    past = datetime.now(UTC) - timedelta(seconds=5)
    await store.enqueue(new_job("retry:1", "t", {}, now=past))
    failing = await store.claim("w", lease_s=30)
    assert failing is not None
    await store.fail(failing, "provider away", permanent=False, policy=RetryPolicy(base_s=0.01, jitter=0))
    for i in range(30):
        await store.enqueue(new_job(f"new:{i}", "t", {}, now=past))
    order: list[str] = []

    async def handler(job: Job) -> None:
        order.append(job.key)

    worker = JobWorker(store, {"t": JobType(handler)}, owner="w", dead_letter_sink=no_dead_letters)
    while await worker.run_once():
        pass
    assert order[0] == "retry:1" and len(order) == 31
