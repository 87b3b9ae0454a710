"""The admin operations every service answers (jobs, rollups, a caregiver's slice), typed in and
out, on fakes; and the request/reply round trip through FastStream's in-memory broker."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from faststream.nats import NatsBroker, TestNatsBroker
from pymongo.errors import OperationFailure, PyMongoError

from careline_contracts import admin as ops
from careline_contracts.admin import (
    CaregiverErased,
    CaregiverRecord,
    DeadJobsRetried,
    EraseCaregiver,
    GetCaregiver,
    JobDetail,
    JobList,
    JobRetried,
    JobsPurged,
    ListJobs,
    ListRollups,
    PurgeJobs,
    RefreshRollup,
    Rejected,
    RetryDeadJobs,
    RetryJob,
    RollupList,
    RollupRefreshed,
    ShowJob,
)
from careline_platform.admin import AdminOperation, CaregiverSlice, Refused, admin_router
from careline_platform.admin_client import RequestRejected, ServiceFailed, ask, parse_reply
from careline_platform.admin_operations import REDACTED, common_operations, mask_job_data
from careline_testing.jobs import FakeJobBook, FakeRollups
from careline_testing.uow import FakeClock

pytestmark = pytest.mark.asyncio
NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
PHONE, BODY = "+15557654321", "Mom fell again this morning"


class Service:
    """One service's common operations over fakes."""

    def __init__(self, *, caregiver: bool = True, keeps_rollups: bool = True) -> None:
        self.jobs = FakeJobBook(NOW)
        self.rollups = FakeRollups(NOW, keeps_rollups=keeps_rollups)
        self.slices: dict[str, dict[str, Any]] = {"u-1": {"conversation_state": {"_id": "u-1", "at": NOW}}}
        slice_ = CaregiverSlice(self.read, self.erase) if caregiver else None
        self.scrubbed: list[tuple[str, ...]] = []
        found = common_operations("conversation", self.jobs, self.rollups, slice_, FakeClock(NOW), self.scrub)
        self.ops = {op.name: op for op in found}

    async def read(self, user_id: str) -> dict[str, Any]:
        return self.slices.get(user_id, {})

    async def erase(self, request: EraseCaregiver) -> dict[str, Any]:
        gone = self.slices.pop(request.user_id, None)
        known = ["+14155550199"] if gone is not None else []
        return {
            "erased": True,
            "deleted": {"conversation_state": int(gone is not None)},
            "identifiers": known,
        }

    async def scrub(self, marks: Sequence[str]) -> dict[str, int]:
        self.scrubbed.append(tuple(marks))
        return {"CONVERSATION": 2}

    async def answer(self, name: str, request: Any) -> Any:
        return await self.ops[name].answer(request)


def sms_payload() -> dict[str, Any]:
    return {"to": PHONE, "body": BODY, "user_id": "u-1", "kind": "agent", "correlation_id": "SM1"}


async def test_every_common_operation_is_answered_in_contract_order() -> None:
    assert list(Service().ops) == [op.name for op in ops.COMMON_OPERATIONS]


# --- jobs --------------------------------------------------------------------------------------


async def test_jobs_list_shows_the_statuses_asked_for_newest_first_with_errors_masked() -> None:
    svc = Service()
    svc.jobs.add("old-dead", "dead", created_at=NOW - timedelta(hours=2), last_error=f"TwilioError {PHONE}")
    svc.jobs.add("new-failed", "failed", created_at=NOW - timedelta(hours=1), max_attempts=5)
    svc.jobs.add("pending", "pending")
    svc.jobs.add("other-type", "dead", type="summary.refresh")
    reply = await svc.answer("jobs_list", ListJobs(type="send_sms"))
    assert isinstance(reply, JobList) and reply.service == "conversation"
    assert [j.key for j in reply.jobs] == ["new-failed", "old-dead"]
    assert reply.jobs[0].max_attempts == 5 and PHONE not in str(reply.jobs[1].last_error)
    everything = await svc.answer("jobs_list", ListJobs(statuses=["pending", "dead"], limit=2))
    assert [j.key for j in everything.jobs] == ["pending", "other-type"]


async def test_jobs_show_masks_every_payload_string_that_is_not_an_id_type_or_status() -> None:
    svc = Service()
    payload = {
        **sms_payload(),
        "attempt": 2,
        "nested": {"note": "secret", "alert_id": "a-1"},
        "names": ["Ana"],
    }
    svc.jobs.add(
        "sms:1", "dead", payload=payload, last_error=f"{PHONE} is not a mobile", result={"sid": "SM9"}
    )
    shown = await svc.answer("jobs_show", ShowJob(key="sms:1"))
    assert isinstance(shown, JobDetail) and shown.masked and shown.status == "dead"
    assert shown.payload == {
        "to": REDACTED, "body": REDACTED, "user_id": "u-1", "kind": "agent", "correlation_id": "SM1",
        "attempt": 2, "nested": {"note": REDACTED, "alert_id": "a-1"}, "names": [REDACTED],
    }  # fmt: skip
    assert shown.result == {"sid": REDACTED} and PHONE not in shown.model_dump_json()
    revealed = await svc.answer("jobs_show", ShowJob(key="sms:1", reveal=True))
    assert revealed.payload["to"] == PHONE and not revealed.masked and PHONE in str(revealed.last_error)
    missing = await svc.answer("jobs_show", ShowJob(key="nope"))
    assert isinstance(missing, Rejected) and missing.rejected == "not_found" and "nope" in missing.reason


async def test_masking_is_by_key_shape_at_any_depth() -> None:
    assert mask_job_data({"phone": "+1", "job_type": "x", "user_ids": ["u1"], "count": 3, "ok": True}) == {
        "phone": REDACTED, "job_type": "x", "user_ids": ["u1"], "count": 3, "ok": True,
    }  # fmt: skip


async def test_jobs_retry_puts_failed_or_dead_back_and_says_what_a_job_is_otherwise() -> None:
    svc = Service()
    svc.jobs.add("dead", "dead", attempts=5)
    svc.jobs.add("busy", "pending", attempts=1)
    assert await svc.answer("jobs_retry", RetryJob(key="dead")) == JobRetried(
        service="conversation", retried=True, status="pending"
    )
    assert svc.jobs.jobs["dead"]["attempts"] == 0
    busy = await svc.answer("jobs_retry", RetryJob(key="busy"))
    assert busy.retried is False and busy.status == "pending"
    assert (await svc.answer("jobs_retry", RetryJob(key="gone"))).status is None


async def test_jobs_retry_dead_retries_only_dead_jobs() -> None:
    svc = Service()
    for key, status in (("d1", "dead"), ("d2", "dead"), ("f1", "failed"), ("c1", "completed")):
        svc.jobs.add(key, status)
    reply = await svc.answer("jobs_retry_dead", RetryDeadJobs())
    assert reply == DeadJobsRetried(service="conversation", keys=["d1", "d2"])
    assert {k: d["status"] for k, d in svc.jobs.jobs.items()} == {
        "d1": "pending", "d2": "pending", "f1": "failed", "c1": "completed",
    }  # fmt: skip


async def test_jobs_purge_counts_on_a_dry_run_and_deletes_only_old_finished_jobs() -> None:
    svc = Service()
    old, new = NOW - timedelta(days=10), NOW - timedelta(days=1)
    for key, status, at in (
        ("old-completed", "completed", old), ("old-dead", "dead", old), ("new-dead", "dead", new),
        ("old-pending", "pending", old), ("old-failed", "failed", old),
    ):  # fmt: skip
        svc.jobs.add(key, status, created_at=at)
    dry = await svc.answer("jobs_purge", PurgeJobs(older_than_days=7, dry_run=True))
    assert dry == JobsPurged(service="conversation", matched=2, deleted=0) and len(svc.jobs.jobs) == 5
    done = await svc.answer("jobs_purge", PurgeJobs(older_than_days=7))
    assert done.deleted == 2 and set(svc.jobs.jobs) == {"new-dead", "old-pending", "old-failed"}
    only_dead = await svc.answer("jobs_purge", PurgeJobs(statuses=["dead"]))
    assert only_dead.deleted == 1 and set(svc.jobs.jobs) == {"old-pending", "old-failed"}


# --- rollups and a caregiver's slice -----------------------------------------------------------


async def test_rollups_are_refreshed_then_listed_newest_first() -> None:
    svc = Service()
    assert await svc.answer("rollups_refresh", RefreshRollup()) == RollupRefreshed(
        service="conversation", day="2026-11-30"
    )
    listed = await svc.answer("rollups", ListRollups(days=3))
    assert isinstance(listed, RollupList) and [r["_id"] for r in listed.rollups] == ["2026-11-30"]
    none = await Service(keeps_rollups=False).answer("rollups_refresh", RefreshRollup())
    assert isinstance(none, Rejected) and none.rejected == "not_found"


async def test_a_caregivers_slice_is_read_as_json_and_erased() -> None:
    svc = Service()
    record = await svc.answer("caregiver_get", GetCaregiver(user_id="u-1"))
    assert isinstance(record, CaregiverRecord)
    assert record.model_dump()["conversation_state"] == {"_id": "u-1", "at": NOW.isoformat()}
    erased = await svc.answer("caregiver_erase", EraseCaregiver(user_id="u-1", identifiers=("cus_123456",)))
    assert erased == CaregiverErased(
        service="conversation",
        erased=True,
        deleted={"conversation_state": 1},
        scrubbed={"CONVERSATION": 2},
        identifiers=["+14155550199"],
    )
    assert svc.slices == {}
    # the streams are scrubbed of every message naming the caregiver: id, number (by its digits), others
    assert svc.scrubbed == [("u-1", "cus_123456", "14155550199")]
    nothing = await Service(caregiver=False).answer("caregiver_get", GetCaregiver(user_id="u-1"))
    assert isinstance(nothing, Rejected) and nothing.rejected == "not_found"


# --- the operation frame: refusals, write conflicts, names -------------------------------------


def conflict() -> PyMongoError:
    return OperationFailure("WriteConflict", code=112, details={"errorLabels": ["TransientTransactionError"]})


async def test_a_command_is_rerun_after_a_write_conflict_and_a_query_is_not() -> None:
    calls: list[RetryJob] = []

    async def flaky(request: RetryJob) -> JobRetried:
        calls.append(request)
        if len(calls) < 3:
            raise conflict()
        return JobRetried(service="s", retried=True)

    command = AdminOperation(ops.JOBS_RETRY, flaky, command=True)
    assert await command.answer(RetryJob(key="k")) == JobRetried(service="s", retried=True)
    assert len(calls) == 3
    calls.clear()
    with pytest.raises(PyMongoError):
        await AdminOperation(ops.JOBS_RETRY, flaky).answer(RetryJob(key="k"))
    assert len(calls) == 1


async def test_a_refusal_is_a_rejected_reply() -> None:
    async def refuse(_request: RetryJob) -> JobRetried:
        raise Refused("conflict", "not now")

    reply = await AdminOperation(ops.JOBS_RETRY, refuse).answer(RetryJob(key="k"))
    assert reply == Rejected(rejected="conflict", reason="not now")


async def test_two_operations_may_not_share_a_name() -> None:
    svc = Service()
    with pytest.raises(ValueError, match="jobs_retry"):
        admin_router("conversation", [*svc.ops.values(), svc.ops["jobs_retry"]])


# --- request/reply through FastStream's in-memory broker ---------------------------------------


async def test_a_typed_request_round_trips_through_the_broker() -> None:
    svc = Service()
    svc.jobs.add("sms:1", "dead", payload=sms_payload())

    async def broken(_request: RetryJob) -> JobRetried:
        raise RuntimeError("disk full")

    broker = NatsBroker()
    broker.include_router(admin_router("conversation", list(svc.ops.values())))
    broker.include_router(admin_router("billing", [AdminOperation(ops.JOBS_RETRY, broken)]))
    async with TestNatsBroker(broker) as connected:
        listed = await ask(connected, "conversation", ops.JOBS_LIST, ListJobs(), timeout_s=1)
        assert isinstance(listed, JobList) and [j.key for j in listed.jobs] == ["sms:1"]
        shown = await ask(connected, "conversation", ops.JOBS_SHOW, ShowJob(key="sms:1"), timeout_s=1)
        assert shown.payload["to"] == REDACTED and shown.payload["user_id"] == "u-1"
        with pytest.raises(RequestRejected) as refused:
            await ask(connected, "conversation", ops.JOBS_SHOW, ShowJob(key="nope"), timeout_s=1)
        assert refused.value.rejected.rejected == "not_found"
        with pytest.raises(ServiceFailed, match="RuntimeError"):  # only the error's type leaves
            await ask(connected, "billing", ops.JOBS_RETRY, RetryJob(key="k"), timeout_s=1)
        invalid = await connected.request({"key": ""}, "admin.conversation.jobs_retry", timeout=1)
        with pytest.raises(RequestRejected) as bad:
            parse_reply(ops.JOBS_RETRY, await invalid.decode())
        assert bad.value.rejected.rejected == "invalid"
