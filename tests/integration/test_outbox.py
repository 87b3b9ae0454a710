"""The outbox relay on real servers: an event written with a state change leaves exactly once."""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from faststream.nats import NatsBroker
from pymongo import AsyncMongoClient

from careline_contracts import subjects
from careline_contracts.billing import EntitlementChanged
from careline_platform.clock import SystemClock
from careline_platform.jobs import Job, JobStatus, JobStore, JobWorker
from careline_platform.messaging import Publisher, declare_streams
from careline_platform.mongo import connect
from careline_platform.outbox import OUTBOX_PUBLISH, relay_job_type
from careline_platform.uow import UnitOfWork, WriteCollection
from careline_testing.servers import Backends, ServerProcess
from careline_testing.waiting import eventually

pytestmark = pytest.mark.asyncio
_names = itertools.count()


class Parts:
    def __init__(self, client: AsyncMongoClient[Any], broker: NatsBroker, name: str) -> None:
        self.client = client
        self.db = client[name]
        self.broker = broker
        self.publisher = Publisher(broker, timeout_s=2.0)
        self.store = JobStore(self.db.jobs, SystemClock())
        self.uow = UnitOfWork(
            client, self.db, jobs=self.store, clock=SystemClock(), stream=subjects.BILLING,
            writer=lambda db: db["accounts"], reader=lambda db: db["accounts"],
        )  # fmt: skip

    @property
    def js(self) -> Any:
        return self.broker.connection.jetstream()

    def worker(self) -> JobWorker:
        async def no_dead_letters(_doc: dict[str, Any]) -> None:
            return None

        return JobWorker(
            self.store,
            {OUTBOX_PUBLISH: relay_job_type(self.publisher)},
            owner="test-relay",
            dead_letter_sink=no_dead_letters,
            poll_interval_s=0.2,
        )

    async def stream_messages(self) -> list[Any]:
        state = (await self.js.stream_info(subjects.BILLING.name)).state
        if state.messages == 0:
            return []
        return [await self.js.get_msg(subjects.BILLING.name, seq) for seq in range(1, state.last_seq + 1)]


@pytest_asyncio.fixture
async def parts(backends: Backends, nats: ServerProcess) -> AsyncIterator[Parts]:
    client = connect(backends.mongodb_uri)
    broker = NatsBroker(
        nats.url,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        logger=logging.getLogger("faststream"),
    )
    await broker.connect()
    built = Parts(client, broker, f"outbox_it_{next(_names)}")
    await built.store.ensure_indexes()
    await built.db.create_collection("accounts")
    await declare_streams(built.js, (subjects.BILLING,), duplicate_window_s=120)
    yield built
    await broker.stop()
    await client.close()


def entitlement(user: str, entitled: bool, correlation_id: str = "corr-1") -> EntitlementChanged:
    return EntitlementChanged(
        occurred_at=datetime.now(UTC),
        correlation_id=correlation_id,
        user_id=user,
        entitled=entitled,
        status="active" if entitled else "canceled",
    )


async def change_and_owe(parts: Parts, user: str, cause: str, entitled: bool, fail: bool = False) -> None:
    """A state change and its event in one transaction, as a handler writes them."""
    async with parts.uow.begin(cause) as tx:
        accounts: WriteCollection = tx.repo
        await accounts.update_one({"_id": user}, {"$set": {"entitled": entitled}}, upsert=True)
        await tx.emit(entitlement(user, entitled), key=user, msg_id=f"entitlement:{user}:{cause}")
        if fail:
            raise RuntimeError("the handler failed after writing")


async def test_an_owed_event_is_published_once_with_its_deterministic_id(parts: Parts) -> None:
    await change_and_owe(parts, "usr_a", "stripe:evt_1", entitled=True)
    worker = parts.worker()
    worker.start()
    try:
        await eventually(lambda: parts.store.col.count_documents({"status": "completed"}), timeout_s=20)
        await eventually(_count_is(parts, 1), timeout_s=10)
    finally:
        await worker.stop()
    [msg] = await parts.stream_messages()
    assert msg.headers["Nats-Msg-Id"] == "entitlement:usr_a:stripe:evt_1"
    assert msg.headers["Correlation-Id"] == "corr-1"
    assert msg.subject == subjects.partitioned(subjects.BILLING_ENTITLEMENT_CHANGED, "usr_a")
    received = EntitlementChanged.model_validate_json(msg.data)
    assert (received.user_id, received.entitled) == ("usr_a", True)


def _count_is(parts: Parts, n: int) -> Any:
    async def check() -> bool:
        return len(await parts.stream_messages()) == n

    return check


async def test_a_rolled_back_change_owes_nothing(parts: Parts) -> None:
    with pytest.raises(RuntimeError):
        await change_and_owe(parts, "usr_b", "stripe:evt_2", entitled=True, fail=True)
    assert await parts.store.col.count_documents({}) == 0
    assert await parts.db.accounts.count_documents({}) == 0
    assert await parts.stream_messages() == []


async def test_a_relay_that_dies_after_the_ack_publishes_no_second_copy(parts: Parts) -> None:
    """The first attempt published and then died before completing; the retry is a duplicate."""
    await change_and_owe(parts, "usr_c", "stripe:evt_3", entitled=False)
    doc = await parts.store.col.find_one({})
    assert doc is not None
    job = Job.from_doc({**doc, "lease": {"token": "t"}})
    relay = relay_job_type(parts.publisher).handler
    first, second = await relay(job), await relay(job)
    assert (first, second) == ({"duplicate": False}, {"duplicate": True})
    assert len(await parts.stream_messages()) == 1


async def test_one_caregivers_events_leave_in_the_order_they_were_written(parts: Parts) -> None:
    flips = [i % 2 == 0 for i in range(6)]
    for i, entitled in enumerate(flips):
        await change_and_owe(parts, "usr_d", f"stripe:evt_d{i}", entitled=entitled)
    worker = parts.worker()
    worker.start()
    try:
        await eventually(_count_is(parts, len(flips)), timeout_s=30)
    finally:
        await worker.stop()
    published = [
        EntitlementChanged.model_validate_json(m.data).entitled for m in await parts.stream_messages()
    ]
    assert published == flips


async def test_events_owed_while_the_broker_is_away_leave_when_it_is_back(
    parts: Parts, nats: ServerProcess
) -> None:
    nats.stop()
    await change_and_owe(parts, "usr_e", "stripe:evt_e", entitled=True)
    worker = parts.worker()
    worker.start()
    try:

        async def attempted_and_failed() -> bool:
            doc = await parts.store.col.find_one({"_id": "event:entitlement:usr_e:stripe:evt_e"})
            return doc is not None and doc["status"] == JobStatus.FAILED.value and doc["attempts"] >= 1

        await eventually(attempted_and_failed, timeout_s=20)
        nats.start()  # same port, same JetStream store
        await eventually(lambda: parts.store.col.count_documents({"status": "completed"}), timeout_s=60)
    finally:
        await worker.stop()  # a completed publish job was acknowledged by JetStream: nothing is in flight
    assert len(await parts.stream_messages()) == 1
