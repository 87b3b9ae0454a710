"""Stopping a replica on real NATS and MongoDB-wire servers: work in flight finishes or is handed back."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from faststream.nats import NatsBroker
from pydantic import BaseModel
from pymongo.asynchronous.collection import AsyncCollection

from careline_contracts import subjects
from careline_platform.clock import SystemClock
from careline_platform.jobs import Job, JobStatus, JobStore, JobType, JobWorker, new_job
from careline_platform.messaging import (
    ConsumerSpec,
    Delivery,
    Publisher,
    declare_streams,
    ensure_consumers,
    register_consumer,
    stop_consuming,
)
from careline_platform.mongo import connect
from careline_testing.servers import Backends, ServerProcess
from careline_testing.waiting import eventually

pytestmark = pytest.mark.asyncio
STREAM = subjects.Stream("SHUTDOWN_TESTS", "shutdown", ("shutdown.>",))
_names = itertools.count()


class Thing(BaseModel):
    n: int


async def replica(url: str) -> NatsBroker:
    broker = NatsBroker(url, logger=logging.getLogger("faststream"))
    await broker.connect()
    return broker


@pytest_asyncio.fixture
async def nats_url(nats: ServerProcess) -> AsyncIterator[str]:
    url = nats.url
    broker = await replica(url)
    await declare_streams(broker.connection.jetstream(), (STREAM, subjects.DEAD_LETTERS))
    await broker.stop()
    yield url


async def start_consuming(broker: NatsBroker, spec: ConsumerSpec) -> None:
    pairs = await ensure_consumers(broker.connection.jetstream(), spec)
    register_consumer(broker, spec, Publisher(broker), pairs)
    await broker.start()


def spec_for(durable: str, handler: Any) -> ConsumerSpec:
    # ack_wait far above the test's timeouts: a prompt redelivery can only come from a nak
    return ConsumerSpec("test", STREAM, "shutdown.thing", durable, Thing, handler, ack_wait_s=30.0)


async def publish(broker: NatsBroker, n: int) -> None:
    await broker.publish(
        Thing(n=n).model_dump_json().encode(),
        subject="shutdown.thing.0",
        stream=STREAM.name,
        headers={"Nats-Msg-Id": f"thing-{n}-{next(_names)}"},
    )


async def test_a_handler_in_flight_finishes_and_is_acked_before_the_replica_stops(nats_url: str) -> None:
    durable = f"finish-{next(_names)}"
    handled: list[int] = []
    started = asyncio.Event()

    async def slow(thing: Thing, _delivery: Delivery) -> None:
        started.set()
        await asyncio.sleep(0.5)
        handled.append(thing.n)

    broker = await replica(nats_url)
    await start_consuming(broker, spec_for(durable, slow))
    await publish(broker, 1)
    await asyncio.wait_for(started.wait(), 10)
    stopped = await stop_consuming(broker, grace_s=5.0)
    js = broker.connection.jetstream()
    infos: list[Any] = []

    async def acked() -> bool:  # the ack is a plain publish: the server may count it a moment later
        infos.append(await js.consumer_info(STREAM.name, f"{durable}-p0"))
        return infos[-1].num_ack_pending == 0

    await eventually(acked, timeout_s=5)
    await broker.stop()
    assert (stopped.finished, stopped.released) == (1, 0)
    assert handled == [1]
    assert infos[-1].num_redelivered == 0


async def test_a_handler_that_outlasts_the_grace_is_naked_and_another_replica_takes_it_at_once(
    nats_url: str,
) -> None:
    """With a 30 s ack_wait, the second replica still gets the message within seconds, in order."""
    durable = f"release-{next(_names)}"
    first_started = asyncio.Event()
    taken_over: list[tuple[int, int]] = []

    async def stuck(_thing: Thing, _delivery: Delivery) -> None:
        first_started.set()
        await asyncio.sleep(60)

    async def quick(thing: Thing, delivery: Delivery) -> None:
        taken_over.append((thing.n, delivery.deliveries))

    first = await replica(nats_url)
    await start_consuming(first, spec_for(durable, stuck))
    for n in (1, 2):
        await publish(first, n)
    await asyncio.wait_for(first_started.wait(), 10)

    began = time.monotonic()
    stopped = await stop_consuming(first, grace_s=0.3)
    await first.stop()
    second = await replica(nats_url)
    await start_consuming(second, spec_for(durable, quick))
    try:
        await eventually(lambda: len(taken_over) == 2, timeout_s=10)
    finally:
        await second.stop()
    assert (stopped.finished, stopped.released) == (0, 1)
    assert taken_over == [(1, 2), (2, 1)]  # the released message first: the partition keeps its order
    assert time.monotonic() - began < 8  # far sooner than the 30 s ack_wait


@pytest_asyncio.fixture
async def jobs_col(backends: Backends) -> AsyncIterator[AsyncCollection[Any]]:
    client = connect(backends.mongodb_uri)
    col = client[f"shutdown_it_{next(_names)}"].jobs
    yield col
    await client.close()


async def no_dead_letters(_doc: dict[str, Any]) -> None:
    return None


def worker(store: JobStore, handler: Any, owner: str) -> JobWorker:
    return JobWorker(
        store, {"work": JobType(handler)}, owner=owner, dead_letter_sink=no_dead_letters, poll_interval_s=0.1
    )


async def test_a_job_that_outlasts_the_grace_is_released_not_left_leased(
    jobs_col: AsyncCollection[Any],
) -> None:
    """Stopped with a job running: the job is pending again at once, its attempt not counted."""
    store = JobStore(jobs_col, SystemClock())
    await store.ensure_indexes()
    started = asyncio.Event()
    ran_by: list[str] = []

    async def stuck(job: Job) -> None:
        await store.record_progress(job, step="half-way")
        started.set()
        await asyncio.sleep(60)

    async def quick(job: Job) -> None:
        ran_by.append(job.progress.get("step", ""))

    await store.enqueue(new_job("job:1", "work", {}, now=datetime.now(UTC)))
    first = worker(store, stuck, "first")
    first.start()
    await asyncio.wait_for(started.wait(), 10)
    finished, released = await first.stop(grace_s=0.2)
    doc = await jobs_col.find_one({"_id": "job:1"})
    assert (finished, released) == (0, 1)
    assert doc is not None
    assert doc["status"] == JobStatus.PENDING.value and doc["lease"] is None and doc["attempts"] == 0
    assert doc["progress"] == {"step": "half-way"}  # what the attempt learned is kept for the next

    second = worker(store, quick, "second")
    second.start()
    try:
        await eventually(lambda: ran_by == ["half-way"], timeout_s=5)  # not after a 30 s lease
    finally:
        await second.stop()


async def test_jobs_in_flight_finish_within_the_grace(jobs_col: AsyncCollection[Any]) -> None:
    store = JobStore(jobs_col, SystemClock())
    await store.ensure_indexes()
    started = asyncio.Event()

    async def slow(_job: Job) -> None:
        started.set()
        await asyncio.sleep(0.3)

    await store.enqueue(new_job("job:1", "work", {}, now=datetime.now(UTC)))
    running = worker(store, slow, "only")
    running.start()
    await asyncio.wait_for(started.wait(), 10)
    assert await running.stop(grace_s=5.0) == (1, 0)
    doc = await jobs_col.find_one({"_id": "job:1"})
    assert doc is not None and doc["status"] == JobStatus.COMPLETED.value
