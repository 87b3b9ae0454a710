"""The fake unit of work keeps the promises the real one keeps (tests/integration/test_unit_of_work.py)."""

from __future__ import annotations

import pytest

from careline_contracts.conversation import OptOutChanged
from careline_contracts.jobs import JobPayload, SendSmsJob
from careline_platform.mongo import AlreadyProcessed
from careline_testing.uow import FakeUnitOfWork

pytestmark = pytest.mark.asyncio


class Notes:
    def __init__(self) -> None:
        self.notes: dict[str, str] = {}

    async def add(self, key: str, text: str) -> None:
        self.notes[key] = text


def sms() -> SendSmsJob:
    return SendSmsJob(user_id="u1", to="+15555550100", kind="reply", body="hi")


async def test_a_commit_keeps_state_and_what_it_owed_and_wakes_once() -> None:
    uow = FakeUnitOfWork(Notes())
    async with uow.begin("m1") as tx:
        await tx.repo.add("n1", "hello")
        await tx.emit(OptOutChanged(occurred_at=tx.now, user_id="u1", opted_out=True), key="u1", msg_id="o:1")
        assert await tx.schedule(sms(), key="sms:1")
        assert uow.wakes == 0 and uow.scheduled == []  # nothing is visible before the commit
    assert uow.repo.notes == {"n1": "hello"} and uow.wakes == 1
    assert [s.type for s in uow.scheduled] == ["sms.send"] and [e.msg_id for e in uow.emitted] == ["o:1"]


async def test_a_failure_rolls_state_and_effects_back() -> None:
    uow = FakeUnitOfWork(Notes())
    with pytest.raises(RuntimeError):
        async with uow.begin("m1") as tx:
            await tx.repo.add("n1", "hello")
            await tx.schedule(sms(), key="sms:1")
            raise RuntimeError("boom")
    assert uow.repo.notes == {} and uow.scheduled == [] and uow.wakes == 0 and uow.rollbacks == 1
    async with uow.begin("m1") as tx:  # not recorded as processed: the retry runs
        assert await tx.schedule(sms(), key="sms:1")


async def test_a_seen_message_id_is_refused_and_an_owed_key_is_owed_once() -> None:
    uow = FakeUnitOfWork(Notes())
    async with uow.begin("m1") as tx:
        await tx.schedule(sms(), key="sms:1")
    with pytest.raises(AlreadyProcessed):
        async with uow.begin("m1"):
            pass
    async with uow.begin("m2") as tx:
        assert not await tx.schedule(sms(), key="sms:1")
    assert len(uow.scheduled) == 1 and uow.wakes == 1


async def test_a_payload_without_a_job_type_is_refused() -> None:
    class Unregistered(JobPayload):
        pass

    uow = FakeUnitOfWork(Notes())
    with pytest.raises(TypeError, match="names no JOB_TYPE"):
        async with uow.begin() as tx:
            await tx.schedule(Unregistered(user_id="u1"), key="x")


async def test_one_model_per_job_type() -> None:
    with pytest.raises(TypeError, match="already has a payload model"):

        class AnotherSms(JobPayload):
            JOB_TYPE = "sms.send"
