"""The unit of work on a real MongoDB-wire server: one transaction, its outbox, and the wake."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient, ReturnDocument, monitoring
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
Document = dict[str, Any]
_names = itertools.count()


class Notes:
    """A repository of the test's own, bound to the transaction like a service's."""

    def __init__(self, db: WriteDb) -> None:
        self.notes = db["notes"]

    async def add(self, key: str, text: str) -> None:
        await self.notes.insert_one({"_id": key, "text": text})

    async def bump(
        self, key: str, *, below: int = 10**6, after: bool = False, upsert: bool = True
    ) -> Document | None:
        """Count up ``key``'s note unless it reached ``below``; the note before (or after)."""
        return await self.notes.find_one_and_update(
            {"_id": key, "n": {"$not": {"$gte": below}}},
            {"$inc": {"n": 1}, "$setOnInsert": {"text": "counted"}},
            upsert=upsert,
            return_document=ReturnDocument.AFTER if after else ReturnDocument.BEFORE,
        )


class Commands(monitoring.CommandListener):
    """The commands a client sent, by name, with their filters."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        cmd = event.command
        where = cmd.get("filter", cmd.get("query", [u.get("q") for u in cmd.get("updates", [])]))
        self.sent.append((event.command_name, where))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None: ...

    def failed(self, event: monitoring.CommandFailedEvent) -> None: ...


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


async def test_find_one_and_update_in_a_transaction_answers_as_mongodb_does(world: World) -> None:
    """Before or after, an upsert, a filter that no longer matches: what findAndModify answers."""
    async with world.uow.begin() as tx:
        assert await tx.repo.bump("a") is None  # upserted: nothing before
        assert await tx.repo.bump("a") == {"_id": "a", "n": 1, "text": "counted"}
        assert await tx.repo.bump("a", after=True) == {"_id": "a", "n": 3, "text": "counted"}
        assert await tx.repo.bump("b", after=True) == {"_id": "b", "n": 1, "text": "counted"}
        assert await tx.repo.bump("a", below=3, upsert=False) is None  # n is 3: no match
        assert await tx.repo.bump("c", upsert=False) is None  # no document and no upsert: nothing
    notes = {d["_id"]: d.get("n") async for d in world.uow.db.notes.find({})}
    assert notes == {"a": 3, "b": 1}


async def test_find_one_and_update_reads_then_writes_by_id_and_never_sends_find_and_modify(
    world: World, backends: Backends
) -> None:
    """The local MongoDB-wire server scans the whole collection for any findAndModify (0.7 s at
    100k caregivers), so the unit of work sends a find and an update by ``_id`` instead."""
    commands = Commands()
    client: AsyncMongoClient[Document] = AsyncMongoClient(backends.mongodb_uri, event_listeners=[commands])
    uow = UnitOfWork(client, client[world.uow.db.name], jobs=world.jobs, clock=SystemClock(),
                     stream=subjects.CONVERSATION, writer=Notes, reader=NotesReader)  # fmt: skip
    try:
        async with uow.begin() as tx:
            await tx.repo.bump("a")
            commands.sent.clear()
            await tx.repo.bump("a", below=5)
        sent = [(name, where) for name, where in commands.sent if name in ("find", "update", "findAndModify")]
        assert sent == [("find", {"_id": "a", "n": {"$not": {"$gte": 5}}}), ("update", [{"_id": "a"}])]
        commands.sent.clear()
        assert await uow.single().bump("a") == {"_id": "a", "n": 2, "text": "counted"}
        assert [name for name, _ in commands.sent] == ["findAndModify"]  # no transaction: one command
    finally:
        await client.close()


async def test_two_transactions_bumping_one_document_never_both_read_the_same_value(world: World) -> None:
    """The read and the write are one step: a transaction whose document changed since it read it
    conflicts, as a findAndModify would have waited, and run again it reads the new value."""
    async with world.uow.begin() as tx:
        await tx.repo.bump("a")
    async with world.uow.begin() as first:
        assert await first.repo.bump("a") == {"_id": "a", "n": 1, "text": "counted"}
        with pytest.raises(PyMongoError) as late:
            async with world.uow.begin() as second:
                await second.repo.bump("a")
        assert late.value.has_error_label("TransientTransactionError")
    async with world.uow.begin() as second:  # run again, after the first committed
        assert await second.repo.bump("a") == {"_id": "a", "n": 2, "text": "counted"}
