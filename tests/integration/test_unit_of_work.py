"""The unit of work on a real MongoDB-wire server: one transaction, its outbox, and the wake."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from pymongo.errors import PyMongoError

from careline_contracts import subjects
from careline_contracts.conversation import OptOutChanged
from careline_contracts.jobs import SendSmsJob
from careline_platform.clock import SystemClock
from careline_platform.erasure import FENCES, TOMBSTONES, CaregiverErased, handling
from careline_platform.jobs import JobStore
from careline_platform.mongo import AlreadyProcessed, connect
from careline_platform.uow import ReadDb, UnitOfWork, WriteDb
from careline_testing.servers import Backends

pytestmark = pytest.mark.asyncio
_names = itertools.count()


class Notes:
    """A repository of the test's own, bound to the transaction like a service's."""

    def __init__(self, db: WriteDb) -> None:
        self.notes = db["notes"]

    async def add(self, key: str, text: str) -> None:
        await self.notes.insert_one({"_id": key, "text": text})


class NotesReader:
    def __init__(self, db: ReadDb) -> None:
        self.notes = db["notes"]

    async def keys(self) -> list[str]:
        return sorted([d["_id"] async for d in self.notes.find({})])


@dataclass
class World:
    uow: UnitOfWork[Notes, NotesReader]
    jobs: JobStore
    wakes: list[int]

    async def job_keys(self) -> list[str]:
        return sorted([d["_id"] async for d in self.jobs.col.find({})])


@pytest_asyncio.fixture
async def world(backends: Backends) -> AsyncIterator[World]:
    client = connect(backends.mongodb_uri)
    db = client[f"uow_{next(_names)}"]
    jobs = JobStore(db.jobs, SystemClock())
    await jobs.ensure_indexes()
    for name in ("processed_messages", "notes"):
        await db.create_collection(name)
    uow = UnitOfWork(
        client,
        db,
        jobs=jobs,
        clock=SystemClock(),
        stream=subjects.CONVERSATION,
        writer=Notes,
        reader=NotesReader,
    )
    wakes: list[int] = []
    uow.wake = lambda: wakes.append(1)
    yield World(uow, jobs, wakes)
    await client.close()


def opt_out(uow: UnitOfWork[Any, Any]) -> OptOutChanged:
    return OptOutChanged(occurred_at=uow.now, user_id="u1", opted_out=True)


async def test_state_events_and_jobs_commit_together_and_wake_the_worker_once(world: World) -> None:
    async with world.uow.begin("m1") as tx:
        await tx.repo.add("n1", "hello")
        await tx.emit(opt_out(world.uow), key="u1", msg_id="optout:SM1")
        added = await tx.schedule(
            SendSmsJob(user_id="u1", to="+15555550100", kind="reply", body="hi"), key="sms:1"
        )
        assert added and world.wakes == []  # nothing wakes before the commit
    assert await world.uow.read().keys() == ["n1"]
    assert await world.job_keys() == ["event:optout:SM1", "sms:1"]
    sms = await world.jobs.col.find_one({"_id": "sms:1"})
    assert sms is not None and sms["type"] == "sms.send" and SendSmsJob.of(sms["payload"]).body == "hi"
    assert world.wakes == [1]


async def test_a_failure_inside_the_block_leaves_nothing_and_wakes_no_one(world: World) -> None:
    with pytest.raises(RuntimeError):
        async with world.uow.begin("m1") as tx:
            await tx.repo.add("n1", "hello")
            await tx.emit(opt_out(world.uow), key="u1", msg_id="optout:SM1")
            raise RuntimeError("the handler failed")
    assert await world.uow.read().keys() == [] and await world.job_keys() == [] and world.wakes == []
    async with world.uow.begin("m1") as tx:  # the message id was not recorded either: a retry runs
        await tx.repo.add("n1", "hello")
    assert await world.uow.read().keys() == ["n1"]


async def test_a_handled_message_id_is_refused_before_the_block_runs(world: World) -> None:
    async with world.uow.begin("m1") as tx:
        await tx.repo.add("n1", "first")
    ran = False
    with pytest.raises(AlreadyProcessed):
        async with world.uow.begin("m1") as tx:
            ran = True
    assert not ran and await world.uow.read().keys() == ["n1"]


async def test_an_effect_owed_twice_is_owed_once(world: World) -> None:
    job = SendSmsJob(user_id="u1", to="+15555550100", kind="reply", body="hi")
    async with world.uow.begin() as tx:
        assert await tx.schedule(job, key="sms:1")
    async with world.uow.begin() as tx:
        assert not await tx.schedule(job, key="sms:1")
        await tx.emit(opt_out(world.uow), key="u1", msg_id="optout:SM1")
    async with world.uow.begin() as tx:
        await tx.emit(opt_out(world.uow), key="u1", msg_id="optout:SM1")
    assert await world.job_keys() == ["event:optout:SM1", "sms:1"]
    assert world.wakes == [1, 1]  # the third transaction owed nothing new


async def test_a_single_write_outside_a_transaction_owes_nothing_and_is_seen_at_once(world: World) -> None:
    await world.uow.single().add("n1", "one atomic write")
    assert await world.uow.read().keys() == ["n1"]
    assert await world.job_keys() == [] and world.wakes == []


async def test_a_handler_and_an_erasure_of_its_caregiver_never_interleave(world: World) -> None:
    """The check before a handler runs leaves a window: it passed, then the caregiver was erased,
    then the handler writes them back. The fence closes it (issue 14): whichever of the two
    transactions comes second conflicts, and a handler run again finds the tombstone."""
    user = "usr_fenced"
    await world.uow.db.create_collection(FENCES)
    await world.uow.db.create_collection(TOMBSTONES)

    # the erasure first, still open: the handler's transaction conflicts at its start
    async with world.uow.begin() as erasing:
        await erasing.bury(user)
        with handling(user), pytest.raises(PyMongoError) as late:
            async with world.uow.begin("SM-late") as handler:
                await handler.repo.add("n1", "written after the erasure")
        assert late.value.has_error_label("TransientTransactionError")
    with handling(user), pytest.raises(CaregiverErased):  # run again: the tombstone is there
        async with world.uow.begin("SM-late") as handler:
            await handler.repo.add("n1", "written after the erasure")
    assert await world.uow.read().keys() == []

    # the handler first, still open: the erasure conflicts, and goes on once it committed
    other = "usr_fenced_2"
    with handling(other):
        async with world.uow.begin("SM-first") as handler:
            await handler.repo.add("n2", "written before the erasure")
            with pytest.raises(PyMongoError) as waiting:
                async with world.uow.begin() as erasing:
                    await erasing.bury(other)
            assert waiting.value.has_error_label("TransientTransactionError")
    async with world.uow.begin() as erasing:  # what rerun_on_conflict does for the erasure
        await erasing.bury(other)
    assert await world.uow.db[TOMBSTONES].count_documents({"_id": other}) == 1
    with handling(None):  # a transaction about no one caregiver is not fenced
        async with world.uow.begin("SM-nobody") as handler:
            await handler.repo.add("n3", "about no caregiver")
    assert await world.uow.read().keys() == ["n2", "n3"]
