"""The decisions of an erasure: which events a handler may still see, which jobs go, which
stream messages name the caregiver; and an erasure through the fake unit of work."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from careline_contracts.admin import EraseCaregiver
from careline_contracts.conversation import FactLearned
from careline_contracts.ingress import StripeEventReceived
from careline_contracts.jobs import SendSmsJob, SubscriptionCancelJob, TrialEndJob
from careline_contracts.migration import ImportedUser, SliceCounts, UsersImported
from careline_platform.admin import CaregiverSlice
from careline_platform.erasure import (
    admitted,
    caregiver_jobs,
    caregivers_of,
    erasure_job_types,
    mentions,
    needles,
    tombstone,
)
from careline_platform.uow import Tx
from careline_testing.uow import FakeUnitOfWork

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


def fact(user: str) -> FactLearned:
    return FactLearned(occurred_at=NOW, correlation_id="c", user_id=user, field="first_name", value="Ana")


def imported(*users: str) -> UsersImported:
    people = [
        ImportedUser(legacy_id=f"l-{u}", phone=f"+1415555{i:04d}", user_id=u, identity="created")
        for i, u in enumerate(users)
    ]
    counts = SliceCounts(created=len(people), filled=0, unchanged=0)
    return UsersImported(
        occurred_at=NOW, correlation_id="c", run_id="r", batch=1, users=people, counts=counts
    )


@pytest.mark.parametrize(
    ("event", "buried", "admits"),
    [
        pytest.param(fact("usr_a"), set(), True, id="nobody-erased"),
        pytest.param(fact("usr_a"), {"usr_b"}, True, id="someone-else-erased"),
        pytest.param(fact("usr_a"), {"usr_a"}, False, id="a-late-event-about-the-erased-is-dropped"),
    ],
)
def test_an_event_about_an_erased_caregiver_reaches_no_handler(
    event: FactLearned, buried: set[str], admits: bool
) -> None:
    assert caregivers_of(event) == [event.user_id]
    assert (admitted(event, buried) is event) is admits


def test_a_backfill_batch_goes_on_without_the_erased() -> None:
    batch = imported("usr_a", "usr_b")
    assert caregivers_of(batch) == ["usr_a", "usr_b"]
    kept = admitted(batch, {"usr_b"})
    assert isinstance(kept, UsersImported) and [u.user_id for u in kept.users] == ["usr_a"]
    assert admitted(batch, {"usr_c"}) is batch


def test_the_cancellation_takes_every_status_and_spares_the_erasures_own_jobs() -> None:
    query = caregiver_jobs("usr_a")
    assert "status" not in query  # pending, failed, processing, dead, completed: all of them
    assert {"payload.user_id": "usr_a"} in query["$or"]
    assert {"actor": "events:usr_a"} in query["$or"]  # the events owed about them (the outbox)
    assert query["type"] == {"$nin": erasure_job_types()}
    assert SubscriptionCancelJob.JOB_TYPE in erasure_job_types()
    assert SendSmsJob.JOB_TYPE not in erasure_job_types()


def test_stream_messages_are_matched_by_user_id_number_digits_and_other_ids() -> None:
    marks = needles("usr_a", "+14155550101", None, "cus_123456", "x")
    assert marks == ("usr_a", "14155550101", "cus_123456")  # a too-short mark matches nothing
    assert mentions(b'{"from": "+14155550101"}', marks)
    assert mentions(b"From=%2B14155550101", marks)
    assert mentions(b'{"user_id": "usr_a"}', marks)
    assert not mentions(b'{"user_id": "usr_b", "from": "+14155550102"}', marks)


def test_a_tombstone_keeps_the_phone_hash_never_the_number() -> None:
    assert tombstone("usr_a", NOW) == {"_id": "usr_a", "at": NOW}
    assert tombstone("usr_a", NOW, "ph_abc")["phone_hash"] == "ph_abc"


class Slice:
    def __init__(self) -> None:
        self.slices = {"usr_a": {"_id": "usr_a"}}

    async def read_caregiver(self, user_id: str) -> dict[str, object]:
        return {"slice": self.slices.get(user_id)}

    async def erase_caregiver(self, user_id: str) -> dict[str, object]:
        gone = self.slices.pop(user_id, None)
        return {"erased": True, "deleted": {"slices": int(gone is not None)}}


@pytest.mark.asyncio
async def test_an_erasure_cancels_the_caregivers_jobs_and_buries_them_in_one_commit() -> None:
    repo = Slice()
    uow: FakeUnitOfWork[Slice, Slice] = FakeUnitOfWork(repo)
    async with uow.begin() as tx:
        await tx.schedule(TrialEndJob(user_id="usr_a"), key="trial:end:usr_a")
        await tx.schedule(
            SendSmsJob(user_id="usr_a", to="+14155550101", kind="reply", body="hi"), key="sms:1"
        )
        await tx.schedule(TrialEndJob(user_id="usr_b"), key="trial:end:usr_b")
        await tx.emit(fact("usr_a"), key="usr_a", msg_id="fact:1")

    async def owe_cancel(tx: Tx[Any], user_id: str, _done: dict[str, Any]) -> None:
        await tx.schedule(SubscriptionCancelJob(user_id=user_id, subscription_id="sub_1"), key="erase:sub_1")

    done = await CaregiverSlice.of(uow, after=owe_cancel).erase(EraseCaregiver(user_id="usr_a"))
    assert done["deleted"] == {"slices": 1, "jobs": 0}  # what was owed earlier goes at the commit
    assert [s.key for s in uow.scheduled] == ["trial:end:usr_b", "erase:sub_1"]
    assert uow.emitted == []
    assert uow.buried == {"usr_a": None}
    assert repo.slices == {}


def test_a_late_stripe_event_naming_an_erased_caregiver_reaches_no_handler() -> None:
    """Stripe's `customer.subscription.deleted` for the cancelled subscription, or a replayed
    checkout, names the caregiver inside Stripe's object: it must not re-create their account."""
    deleted = StripeEventReceived(
        event_id="evt_1",
        type="customer.subscription.deleted",
        created=1,
        occurred_at=NOW,
        data={"object": {"id": "sub_1", "customer": "cus_1", "metadata": {"user_id": "usr_gone"}}},
    )
    checkout = StripeEventReceived(
        event_id="evt_2",
        type="checkout.session.completed",
        created=1,
        occurred_at=NOW,
        data={"object": {"client_reference_id": "usr_gone", "customer": "cus_1"}},
    )
    invoice = StripeEventReceived(
        event_id="evt_3",
        type="invoice.paid",
        created=1,
        occurred_at=NOW,
        data={"object": {"customer": "cus_1"}},
    )
    assert caregivers_of(deleted) == ["usr_gone"] and caregivers_of(checkout) == ["usr_gone"]
    assert admitted(deleted, {"usr_gone"}) is None and admitted(checkout, {"usr_gone"}) is None
    assert admitted(deleted, {"usr_other"}) is deleted
    assert caregivers_of(invoice) == [] and admitted(invoice, {"usr_gone"}) is invoice
