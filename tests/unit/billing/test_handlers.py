"""Billing's handlers on the fake unit of work: what each stores, owes and refuses, without servers."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from careline_billing import backfill, handlers, notices
from careline_billing.domain.access import Terms
from careline_contracts.billing import BillingNoticeReady, CheckoutLinkReady, EntitlementChanged
from careline_contracts.conversation import CheckoutRequested
from careline_contracts.ingress import StripeEventReceived, UserRegistered
from careline_contracts.jobs import (
    CanceledAccessEndJob,
    CheckoutCreateJob,
    GraceEndJob,
    PortalNoticeJob,
    SubscriptionSyncJob,
    TrialEndJob,
    TrialWarningJob,
)
from careline_contracts.migration import (
    BillingBackfillApplied,
    ImportedUser,
    LegacyBilling,
    SliceCounts,
    UsersImported,
)
from careline_platform.jobs import PermanentJobError
from careline_platform.mongo import AlreadyProcessed
from careline_testing.uow import FakeClock, FakeUnitOfWork, delivery
from tests.unit.billing.fakes import FakeAccounts, FakeGateway, FakeProgress, billing_uow, job

pytestmark = pytest.mark.asyncio
TERMS = Terms(trial=timedelta(days=14), grace=timedelta(days=7))
T0 = 1_900_000_000
AT = datetime.fromtimestamp(T0, UTC)
Uow = FakeUnitOfWork[FakeAccounts, FakeAccounts]


def entitlements(uow: Uow) -> list[tuple[str, bool, str]]:
    return [(e.user_id, e.entitled, e.status) for e in uow.events(EntitlementChanged)]  # type: ignore[attr-defined]


def notices_of(uow: Uow) -> list[tuple[str, str, str, str | None, int | None]]:
    return [
        (e.user_id, e.notice, e.notice_id, e.url, e.days_left)  # type: ignore[attr-defined]
        for e in uow.events(BillingNoticeReady)
    ]


def stripe(type_: str, obj: dict[str, Any], created: int, event_id: str = "evt_1") -> StripeEventReceived:
    return StripeEventReceived(
        occurred_at=AT,
        correlation_id="c1",
        event_id=event_id,
        type=type_,
        created=created,
        data={"object": obj},
    )


def sub(status: str, **extra: Any) -> dict[str, Any]:
    return {"id": "sub_1", "customer": "cus_1", "status": status, **extra}


async def subscribed(uow: Uow, user: str = "u1") -> None:
    """An account that completed a checkout (customer cus_1 linked), its subscription active."""
    uow.repo.accounts[user] = {
        "_id": user, "status": "active", "stripe_customer_id": "cus_1", "stripe_subscription_id": "sub_1",
        "last_event_at": AT, "past_due_since": None,
    }  # fmt: skip


async def test_a_registered_caregiver_gets_a_trial_an_entitlement_and_its_end_once() -> None:
    uow = billing_uow()
    event = UserRegistered(occurred_at=uow.now, correlation_id="c1", user_id="u1", phone="+15555550100")
    await handlers.on_user_registered(event, delivery("m1"), uow, terms=TERMS)
    account = uow.repo.accounts["u1"]
    assert account["status"] == "trialing" and account["trial_end"] == uow.now + TERMS.trial
    assert entitlements(uow) == [("u1", True, "trialing")]
    assert uow.emitted[0].msg_id == "entitlement:u1:m1" and uow.emitted[0].key == "u1"
    [end] = uow.jobs(TrialEndJob)
    assert end.key == "trial:end:u1" and end.run_at == account["trial_end"]
    assert end.job == TrialEndJob(user_id="u1", correlation_id="c1") and uow.wakes == 1
    with pytest.raises(AlreadyProcessed):
        await handlers.on_user_registered(event, delivery("m1"), uow, terms=TERMS)
    await handlers.on_user_registered(event, delivery("m2"), uow, terms=TERMS)  # a second registration
    assert len(uow.emitted) == 1 and len(uow.scheduled) == 2 and uow.wakes == 1
    [warning] = uow.jobs(TrialWarningJob)  # a kind warning 3 days before the end
    assert warning.key == "trial:warning:u1" and warning.run_at == account["trial_end"] - timedelta(days=3)


async def test_a_trial_no_subscription_replaced_ends_access_once() -> None:
    uow = billing_uow()
    await handlers.on_user_registered(
        UserRegistered(occurred_at=uow.now, user_id="u1", phone="+15555550100"),
        delivery("m1"),
        uow,
        terms=TERMS,
    )
    end = job("trial:end:u1", {"user_id": "u1", "correlation_id": None})
    assert await handlers.end_trial(end, uow) == {"ended": True}
    assert uow.repo.accounts["u1"]["status"] == "none"
    assert entitlements(uow)[-1] == ("u1", False, "none")
    assert uow.emitted[-1].msg_id == "entitlement:u1:trial:end:u1"
    assert await handlers.end_trial(end, uow) == {"ended": False}  # run again: nothing more owed
    assert len(uow.emitted) == 2


async def test_a_subscribed_trial_does_not_end() -> None:
    uow = billing_uow()
    uow.repo.accounts["u1"] = {"_id": "u1", "status": "trialing", "stripe_subscription_id": "sub_1"}
    assert await handlers.end_trial(job("trial:end:u1", {"user_id": "u1"}), uow) == {"ended": False}
    assert uow.repo.accounts["u1"]["status"] == "trialing" and uow.emitted == []


async def test_a_completed_checkout_links_the_customer_and_a_foreign_one_is_ignored() -> None:
    uow = billing_uow()
    obj = {"id": "cs_1", "client_reference_id": "u1", "customer": "cus_1", "subscription": "sub_1"}
    await handlers.on_stripe_event(
        stripe("checkout.session.completed", obj, T0), delivery("s1"), uow, terms=TERMS
    )
    account = uow.repo.accounts["u1"]
    assert account["stripe_customer_id"] == "cus_1" and account["checkout_completed_at"] == AT
    assert account["status"] == "none" and entitlements(uow) == []  # the subscription's events set it
    assert notices_of(uow) == [("u1", "thanks", "thanks:cs_1", None, None)]  # a thank-you, once
    assert uow.emitted[0].msg_id == "notice:thanks:cs_1"
    foreign = {"id": "cs_2", "customer": "cus_9"}
    await handlers.on_stripe_event(
        stripe("checkout.session.completed", foreign, T0), delivery("s2"), uow, terms=TERMS
    )
    assert list(uow.repo.accounts) == ["u1"] and uow.commits == 2 and len(uow.emitted) == 1


async def test_a_subscription_event_moves_status_forward_and_announces_a_flip() -> None:
    uow = billing_uow()
    uow.repo.accounts["u1"] = {
        "_id": "u1",
        "status": "none",
        "stripe_customer_id": "cus_1",
        "last_event_at": None,
    }
    active = stripe("customer.subscription.updated", sub("active"), T0 + 2, "evt_a")
    await handlers.on_stripe_event(active, delivery("s1"), uow, terms=TERMS)
    assert uow.repo.accounts["u1"]["status"] == "active"
    assert entitlements(uow) == [("u1", True, "active")] and uow.emitted[0].msg_id == "entitlement:u1:s1"
    older = stripe("customer.subscription.deleted", sub("canceled"), T0 + 1, "evt_old")
    await handlers.on_stripe_event(older, delivery("s2"), uow, terms=TERMS)
    assert uow.repo.accounts["u1"]["status"] == "active" and len(uow.emitted) == 1  # older: no effect
    deleted = stripe("customer.subscription.deleted", sub("active"), T0 + 3, "evt_del")
    await handlers.on_stripe_event(deleted, delivery("s3"), uow, terms=TERMS)
    ended = AT + timedelta(seconds=3)
    assert uow.repo.accounts["u1"]["status"] == "canceled" and uow.repo.accounts["u1"]["ended_at"] == ended
    # access continues 30 days after the cancellation; the subscription no longer charges
    assert entitlements(uow)[-1] == ("u1", True, "canceled")
    assert uow.events(EntitlementChanged)[-1].subscribed is False  # type: ignore[attr-defined]
    [over] = uow.jobs(CanceledAccessEndJob)
    assert over.run_at == ended + timedelta(days=30) and over.key == f"canceled:end:u1:{ended.isoformat()}"
    [told] = notices_of(uow)
    left = math.ceil((ended + timedelta(days=30) - uow.now).total_seconds() / 86400)
    assert told[1] == "canceled" and told[4] == left  # days of access left, rounded up


async def test_a_subscription_event_finds_the_caregiver_by_metadata_before_the_checkout_links_them() -> None:
    uow = billing_uow()
    uow.repo.accounts["u1"] = {"_id": "u1", "status": "trialing", "last_event_at": None}
    event = stripe("customer.subscription.created", sub("incomplete", metadata={"user_id": "u1"}), T0)
    await handlers.on_stripe_event(event, delivery("s1"), uow, terms=TERMS)
    assert uow.repo.accounts["u1"]["status"] == "incomplete"
    assert entitlements(uow) == [("u1", False, "incomplete")]


async def test_events_for_an_unknown_customer_are_parked_and_applied_when_its_checkout_arrives() -> None:
    uow = billing_uow()
    await handlers.on_user_registered(
        UserRegistered(occurred_at=uow.now, user_id="u1", phone="+15555550100"),
        delivery("r1"),
        uow,
        terms=TERMS,
    )
    early = [
        stripe("customer.subscription.updated", sub("active"), T0 + 2, "evt_up"),
        stripe("invoice.paid", {"id": "in_1", "customer": "cus_1"}, T0 + 3, "evt_paid"),
        stripe("customer.subscription.created", sub("incomplete"), T0 + 1, "evt_new"),
    ]
    for n, event in enumerate(early):
        await handlers.on_stripe_event(event, delivery(f"s{n}"), uow, terms=TERMS)
        await handlers.on_stripe_event(event, delivery(f"dup{n}"), uow, terms=TERMS)  # a later duplicate
    # acknowledged at once (no retry holds the partition, nothing goes to the dead letters)
    assert uow.rollbacks == 0 and {"s0", "s1", "s2"} <= uow.processed
    assert sorted(uow.repo.parked) == ["evt_new", "evt_paid", "evt_up"]
    assert uow.repo.accounts["u1"]["status"] == "trialing"
    checkout = {"id": "cs_1", "client_reference_id": "u1", "customer": "cus_1", "subscription": "sub_1"}
    await handlers.on_stripe_event(
        stripe("checkout.session.completed", checkout, T0), delivery("c"), uow, terms=TERMS
    )
    account = uow.repo.accounts["u1"]
    assert uow.repo.parked == {} and account["status"] == "active"  # the newest (evt_up) won
    assert account["last_invoice_paid_at"] == AT + timedelta(seconds=3)
    assert entitlements(uow)[-1] == ("u1", True, "active")
    await handlers.on_stripe_event(
        stripe("charge.refunded", {"customer": "cus_1"}, T0), delivery("s9"), uow, terms=TERMS
    )
    assert uow.repo.parked == {}  # an ignored type is not parked


async def test_invoices_are_kept_as_facts_the_newest_of_each_kind() -> None:
    uow = billing_uow()
    await subscribed(uow)
    paid = stripe("invoice.paid", {"id": "in_2", "customer": "cus_1"}, T0 + 5)
    await handlers.on_stripe_event(paid, delivery("s1"), uow, terms=TERMS)
    older = stripe("invoice.paid", {"id": "in_1", "customer": "cus_1"}, T0 + 1)
    await handlers.on_stripe_event(older, delivery("s2"), uow, terms=TERMS)
    account = uow.repo.accounts["u1"]
    assert account["last_invoice_paid_at"] == AT + timedelta(seconds=5)
    assert account["last_invoice_paid_at_invoice"] == "in_2" and account["status"] == "active"
    assert uow.emitted == []


async def test_past_due_keeps_access_and_owes_the_grace_end_once_per_spell() -> None:
    uow = billing_uow()
    await subscribed(uow)
    first = stripe("customer.subscription.updated", sub("past_due"), T0 + 4, "evt_pd1")
    await handlers.on_stripe_event(first, delivery("s1"), uow, terms=TERMS)
    since = AT + timedelta(seconds=4)
    assert uow.repo.accounts["u1"]["past_due_since"] == since and entitlements(uow) == []
    [grace] = uow.jobs(GraceEndJob)
    assert grace.key == f"grace:end:u1:{since.isoformat()}" and grace.run_at == since + TERMS.grace
    assert grace.job == GraceEndJob(user_id="u1", since=since, correlation_id="c1")
    again = stripe("customer.subscription.updated", sub("past_due"), T0 + 6, "evt_pd2")
    await handlers.on_stripe_event(again, delivery("s2"), uow, terms=TERMS)
    assert uow.repo.accounts["u1"]["past_due_since"] == since and len(uow.jobs(GraceEndJob)) == 1


async def test_two_events_of_the_same_second_owe_a_sync_with_stripe() -> None:
    uow = billing_uow()
    await subscribed(uow)  # last event at T0
    tie = stripe("customer.subscription.updated", sub("past_due"), T0, "evt_tie")
    await handlers.on_stripe_event(tie, delivery("s1"), uow, terms=TERMS)
    [sync] = uow.jobs(SubscriptionSyncJob)
    assert sync.key == "stripe:sync:sub_1:evt_tie" and sync.actor == "u1"
    assert sync.job == SubscriptionSyncJob(user_id="u1", subscription_id="sub_1", correlation_id="c1")


async def test_the_sync_applies_stripes_current_subscription() -> None:
    uow, gateway = billing_uow(), FakeGateway()
    await subscribed(uow)
    uow.repo.accounts["u1"].update(status="past_due", past_due_since=AT)
    gateway.subscriptions["sub_1"] = sub("active")
    sync = job("stripe:sync:sub_1:evt", {"user_id": "u1", "subscription_id": "sub_1", "correlation_id": None})
    assert await handlers.sync_subscription(sync, uow, gateway=gateway, terms=TERMS) == {"status": "active"}
    account = uow.repo.accounts["u1"]
    assert account["status"] == "active" and account["past_due_since"] is None and "synced_at" in account
    assert entitlements(uow) == []  # past_due in grace to active: access never flipped
    gateway.subscriptions["sub_1"] = sub("canceled")
    await handlers.sync_subscription(sync, uow, gateway=gateway, terms=TERMS)
    assert entitlements(uow) == [("u1", True, "canceled")]  # 30 days of access; no longer subscribed
    assert uow.emitted[0].msg_id == "entitlement:u1:stripe:sync:sub_1:evt"


async def test_the_grace_end_ends_access_only_if_the_spell_still_runs() -> None:
    clock = FakeClock(AT + timedelta(days=8))
    uow: Uow = FakeUnitOfWork(FakeAccounts(), clock=clock)
    await subscribed(uow)
    uow.repo.accounts["u1"].update(status="past_due", past_due_since=AT)
    stored = {"user_id": "u1", "since": AT, "correlation_id": None}  # as jobs before the models kept it
    assert await handlers.end_grace(job("grace:end:u1", stored), uow) == {"ended": True}
    assert entitlements(uow) == [("u1", False, "past_due")]
    uow.repo.accounts["u1"].update(status="active", past_due_since=None)
    as_json = GraceEndJob(user_id="u1", since=AT).to_payload()
    assert await handlers.end_grace(job("grace:end:u1:b", as_json), uow) == {"ended": False}
    assert len(uow.emitted) == 1


async def test_a_caregiver_without_access_is_owed_one_checkout_per_message() -> None:
    uow = billing_uow()
    uow.repo.accounts["u1"] = {"_id": "u1", "status": "none"}
    event = CheckoutRequested(occurred_at=uow.now, correlation_id="c1", user_id="u1")
    await handlers.on_checkout_requested(event, delivery("m1"), uow, terms=TERMS)
    [checkout] = uow.jobs(CheckoutCreateJob)
    assert checkout.key == "stripe:checkout:m1" and checkout.actor == "u1"
    assert checkout.job == CheckoutCreateJob(user_id="u1", correlation_id="c1") and uow.wakes == 1
    with pytest.raises(AlreadyProcessed):
        await handlers.on_checkout_requested(event, delivery("m1"), uow, terms=TERMS)
    uow.repo.accounts["u1"]["status"] = "active"  # access came back meanwhile
    await handlers.on_checkout_requested(event, delivery("m2"), uow, terms=TERMS)
    assert len(uow.scheduled) == 1 and uow.commits == 2


async def test_the_checkout_job_opens_one_session_keeps_it_and_announces_the_link_once() -> None:
    uow, gateway, progress = billing_uow(), FakeGateway(), FakeProgress()
    uow.repo.accounts["u1"] = {"_id": "u1", "status": "none"}
    create = job("stripe:checkout:m1", {"user_id": "u1", "correlation_id": "c1"})
    first = await handlers.create_checkout(create, uow, gateway=gateway, progress=progress)
    again = await handlers.create_checkout(create, uow, gateway=gateway, progress=progress)
    assert first == again == {"session_id": "cs_0"}
    assert gateway.calls == ["stripe:checkout:m1"] and len(progress.recorded) == 1  # progress kept it
    assert uow.repo.accounts["u1"]["checkout_url"] == gateway.sessions["stripe:checkout:m1"].url
    [ready] = uow.emitted
    assert isinstance(ready.event, CheckoutLinkReady) and ready.msg_id == "checkout-link:stripe:checkout:m1"
    assert ready.event.correlation_id == "c1" and ready.event.url.endswith("?u=u1")


async def test_a_refused_checkout_leaves_no_link() -> None:
    uow, gateway, progress = billing_uow(), FakeGateway(), FakeProgress()
    gateway.fail_next = PermanentJobError("stripe rejected checkout")
    with pytest.raises(PermanentJobError):
        await handlers.create_checkout(job("k", {"user_id": "u1"}), uow, gateway=gateway, progress=progress)
    assert progress.recorded == [] and uow.emitted == [] and uow.commits == 0


def legacy(user_id: str, **billing: Any) -> ImportedUser:
    return ImportedUser(
        legacy_id=f"legacy-{user_id}", phone="+14155550101", user_id=user_id, identity="created",
        billing=LegacyBilling(**billing),
    )  # fmt: skip


async def test_a_backfill_batch_creates_accounts_owes_their_follow_ups_and_confirms_once() -> None:
    uow = billing_uow()
    now = uow.now
    uow.repo.accounts["u-live"] = {"_id": "u-live", "status": "trialing", "stripe_customer_id": None}
    users = [
        legacy("u-live", status="canceled", stripe_customer_id="cus_live"),
        legacy("u-trial", status="trialing", trial_end=now + timedelta(days=3)),
        legacy("u-over", status="trialing", trial_end=now - timedelta(days=3)),
        legacy("u-late", status="past_due", stripe_customer_id="cus_late", stripe_subscription_id="sub_late"),
        legacy("u-paid", status="active", stripe_customer_id="cus_paid", stripe_subscription_id="sub_paid"),
    ]
    batch = UsersImported(
        occurred_at=now, correlation_id="c1", run_id="r1", batch=0, users=users, counts=SliceCounts()
    )
    await backfill.on_users_imported(batch, delivery("b1"), uow, terms=TERMS)
    live = uow.repo.accounts["u-live"]
    assert live["status"] == "trialing" and live["stripe_customer_id"] == "cus_live"  # only the gap filled
    assert uow.repo.accounts["u-over"]["status"] == "none"
    jobs = {s.key: s for s in uow.scheduled}
    assert set(jobs) == {"trial:end:u-trial", f"grace:end:u-late:{now.isoformat()}"}
    assert jobs["trial:end:u-trial"].run_at == now + timedelta(days=3)
    assert jobs[f"grace:end:u-late:{now.isoformat()}"].job == GraceEndJob(
        user_id="u-late", since=now, correlation_id="c1"
    )
    [applied] = uow.emitted
    assert (
        isinstance(applied.event, BillingBackfillApplied)
        and applied.msg_id == "backfill-applied:billing:r1:0"
    )
    assert applied.event.counts == SliceCounts(created=4, filled=1, unchanged=0)
    assert {(e.user_id, e.entitled) for e in applied.event.entitlements} == {
        ("u-trial", True),
        ("u-over", False),
        ("u-late", True),
        ("u-paid", True),
    }
    with pytest.raises(AlreadyProcessed):
        await backfill.on_users_imported(batch, delivery("b1"), uow, terms=TERMS)
    before = {k: dict(v) for k, v in uow.repo.accounts.items()}
    assert len(uow.scheduled) == 2 and len(uow.emitted) == 1  # the batch confirms once, per run and batch
    await backfill.on_users_imported(batch, delivery("b1-again"), uow, terms=TERMS)
    assert uow.repo.accounts == before


async def test_stored_payloads_parse_as_the_models() -> None:
    since = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    assert GraceEndJob.of({"user_id": "u1", "since": since, "correlation_id": None}).since == since
    assert GraceEndJob.of(GraceEndJob(user_id="u1", since=since).to_payload()).since == since
    assert TrialEndJob.of({"user_id": "u1"}).correlation_id is None
    assert (
        SubscriptionSyncJob.of(
            {"user_id": "u", "subscription_id": "s", "correlation_id": "c"}
        ).subscription_id
        == "s"
    )
    assert {TrialEndJob.job_type(), GraceEndJob.job_type(), SubscriptionSyncJob.job_type(),
            CheckoutCreateJob.job_type()} == {"trial.end", "grace.end", "stripe.subscription.sync",
                                              "stripe.checkout.create"}  # fmt: skip


async def test_erasure_and_the_read_only_views_see_the_same_accounts() -> None:
    uow = billing_uow()
    await subscribed(uow)
    assert (await uow.read().read_caregiver("u1"))["billing_account"]["status"] == "active"
    assert (await uow.read().daily_metrics(AT, AT))["subscriptions"]["active"] == 1
    async with uow.begin() as tx:
        erased = await tx.repo.erase_caregiver("u1")
    assert erased["deleted"]["billing_accounts"] == 1 and uow.repo.accounts == {}


async def registered(uow: Uow, user: str = "u1") -> None:
    event = UserRegistered(occurred_at=uow.now, user_id=user, phone="+15555550100")
    await handlers.on_user_registered(event, delivery(f"reg-{user}"), uow, terms=TERMS)


async def test_the_local_trial_warning_goes_out_once_and_never_again_for_stripes_trial_will_end() -> None:
    clock = FakeClock(AT)
    uow: Uow = FakeUnitOfWork(FakeAccounts(), clock=clock)
    await registered(uow)
    [warning] = uow.jobs(TrialWarningJob)
    clock.advance(TERMS.trial - TERMS.warn_before)
    assert await notices.warn_trial(job(warning.key, warning.job.to_payload()), uow) == {"warned": True}
    assert notices_of(uow) == [("u1", "trial_ending", f"trial_ending:u1:{T0 + 14 * 86400}", None, 3)]
    assert await notices.warn_trial(job(warning.key, warning.job.to_payload()), uow) == {"warned": False}
    will_end = sub("trialing", trial_end=T0 + 14 * 86400, metadata={"user_id": "u1"})
    await handlers.on_stripe_event(
        stripe("customer.subscription.trial_will_end", will_end, T0 + 5), delivery("s1"), uow, terms=TERMS
    )
    assert len(notices_of(uow)) == 1  # the same trial: never twice


async def test_stripes_trial_will_end_warns_once_when_stripe_runs_the_trial() -> None:
    uow = billing_uow()
    await subscribed(uow)
    trial_end = T0 + 3 * 86400
    will_end = sub("trialing", trial_end=trial_end)
    for n in range(2):  # Stripe retries; a later duplicate under another delivery id
        event = stripe("customer.subscription.trial_will_end", will_end, T0 + 5 + n, f"evt_t{n}")
        await handlers.on_stripe_event(event, delivery(f"s{n}"), uow, terms=TERMS)
    [told] = notices_of(uow)  # Stripe's trial turns into a paid subscription: the words say so
    assert told[1] == "trial_converting" and told[2] == f"trial_ending:u1:{trial_end}"


async def test_a_failed_payment_owes_one_portal_notice_per_invoice() -> None:
    uow = billing_uow()
    await subscribed(uow)
    failed = {"id": "in_9", "customer": "cus_1"}
    for n in range(3):  # Stripe's retries of the same invoice each send payment_failed
        event = stripe("invoice.payment_failed", failed, T0 + 10 + n, f"evt_f{n}")
        await handlers.on_stripe_event(event, delivery(f"f{n}"), uow, terms=TERMS)
    [portal] = uow.jobs(PortalNoticeJob)
    assert portal.key == "notice:payment_failed:in_9" and portal.actor == "u1"
    assert portal.job == PortalNoticeJob(
        user_id="u1",
        notice="payment_failed",
        notice_id="payment_failed:in_9",
        customer_id="cus_1",
        correlation_id="c1",
    )
    gateway = FakeGateway()
    await notices.send_portal_notice(job(portal.key, portal.job.to_payload()), uow, gateway=gateway)
    assert notices_of(uow) == [
        ("u1", "payment_failed", "payment_failed:in_9", "https://billing.test/p/cus_1", None)
    ]
    assert uow.emitted[-1].msg_id == "notice:payment_failed:in_9" and gateway.calls == [portal.key]


async def test_a_stale_payment_failure_after_a_newer_payment_tells_nobody() -> None:
    uow = billing_uow()
    await subscribed(uow)
    await handlers.on_stripe_event(
        stripe("invoice.paid", {"id": "in_2", "customer": "cus_1"}, T0 + 20), delivery("p"), uow, terms=TERMS
    )
    stale = stripe("invoice.payment_failed", {"id": "in_1", "customer": "cus_1"}, T0 + 10, "evt_old")
    await handlers.on_stripe_event(stale, delivery("f"), uow, terms=TERMS)
    assert uow.jobs(PortalNoticeJob) == []


@pytest.mark.parametrize(
    ("account", "asked", "plan", "expected"),
    [
        pytest.param(
            {"status": "trialing"},
            True,
            "monthly",
            ("checkout", "asked", "monthly"),
            id="billing-no-customer",
        ),
        pytest.param(
            {"status": "trialing"}, True, "annual", ("checkout", "asked", "annual"), id="annual-no-customer"
        ),
        pytest.param(
            {"status": "active", "stripe_customer_id": "cus_1", "stripe_subscription_id": "sub_1"},
            True,
            "monthly",
            ("portal", "portal"),
            id="billing-subscriber",
        ),
        pytest.param(
            {"status": "active", "stripe_customer_id": "cus_1", "stripe_subscription_id": "sub_1"},
            True,
            "annual",
            ("portal", "portal"),
            id="annual-subscriber-switches-in-the-portal",
        ),
        pytest.param(
            {
                "status": "past_due",
                "past_due_since": AT - timedelta(days=8),
                "stripe_customer_id": "cus_1",
                "stripe_subscription_id": "sub_1",
            },
            False,
            "monthly",
            ("portal", "payment_overdue"),
            id="past-due-after-grace-updates-the-card",
        ),
        pytest.param(
            {
                "status": "canceled",
                "ended_at": AT - timedelta(days=31),
                "stripe_customer_id": "cus_1",
                "stripe_subscription_id": "sub_1",
            },
            False,
            "monthly",
            ("checkout", "lapsed", "monthly"),
            id="lapsed",
        ),
        pytest.param({"status": "none"}, False, "monthly", ("checkout", "new", "monthly"), id="trial-ended"),
        pytest.param(
            {
                "status": "past_due",
                "past_due_since": AT - timedelta(days=2),
                "stripe_customer_id": "cus_1",
                "stripe_subscription_id": "sub_1",
            },
            False,
            "monthly",
            None,
            id="past-due-in-grace",
        ),
    ],
)
async def test_a_link_request_owes_the_portal_or_the_right_checkout(
    account: dict[str, Any], asked: bool, plan: Any, expected: tuple[str, ...] | None
) -> None:
    uow: Uow = FakeUnitOfWork(FakeAccounts(), clock=FakeClock(AT))
    uow.repo.accounts["u1"] = {"_id": "u1", **account}
    event = CheckoutRequested(occurred_at=AT, correlation_id="c1", user_id="u1", asked=asked, plan=plan)
    await handlers.on_checkout_requested(event, delivery("m1"), uow, terms=TERMS)
    if expected is None:
        assert uow.scheduled == []
    elif expected[0] == "portal":
        [portal] = uow.jobs(PortalNoticeJob)
        assert portal.job.notice == expected[1] and portal.job.customer_id == "cus_1"  # type: ignore[attr-defined]
        assert uow.jobs(CheckoutCreateJob) == []
    else:
        [checkout] = uow.jobs(CheckoutCreateJob)
        assert (checkout.job.situation, checkout.job.plan) == expected[1:]  # type: ignore[attr-defined]


async def test_the_checkout_job_asks_for_the_plan_and_hands_on_its_situation() -> None:
    uow, gateway, progress = billing_uow(), FakeGateway(), FakeProgress()
    uow.repo.accounts["u1"] = {"_id": "u1", "status": "canceled"}
    payload = CheckoutCreateJob(user_id="u1", situation="lapsed", plan="annual").to_payload()
    await handlers.create_checkout(
        job("stripe:checkout:m9", payload), uow, gateway=gateway, progress=progress
    )
    [ready] = uow.events(CheckoutLinkReady)
    assert gateway.plans == ["annual"] and (ready.situation, ready.plan) == ("lapsed", "annual")  # type: ignore[attr-defined]


async def test_access_ends_thirty_days_after_a_cancellation_unless_the_caregiver_came_back() -> None:
    clock = FakeClock(AT + timedelta(days=30))
    uow: Uow = FakeUnitOfWork(FakeAccounts(), clock=clock)
    uow.repo.accounts["u1"] = {
        "_id": "u1",
        "status": "canceled",
        "ended_at": AT,
        "stripe_subscription_id": "sub_1",
    }
    payload = CanceledAccessEndJob(user_id="u1", ended_at=AT).to_payload()
    assert await handlers.end_canceled_access(job("canceled:end:u1", payload), uow) == {"ended": True}
    assert entitlements(uow) == [("u1", False, "canceled")]
    uow.repo.accounts["u1"].update(status="active", ended_at=None)  # subscribed again meanwhile
    assert await handlers.end_canceled_access(job("canceled:end:u1:b", payload), uow) == {"ended": False}
    assert len(uow.emitted) == 1


async def test_a_cancellation_whose_grace_is_over_ends_access_at_once_and_owes_no_end_job() -> None:
    uow: Uow = FakeUnitOfWork(FakeAccounts(), clock=FakeClock(AT + timedelta(days=40)))
    await subscribed(uow)
    deleted = stripe("customer.subscription.deleted", sub("canceled", ended_at=T0), T0 + 5, "evt_late")
    await handlers.on_stripe_event(deleted, delivery("s1"), uow, terms=TERMS)
    assert entitlements(uow) == [("u1", False, "canceled")]
    assert uow.jobs(CanceledAccessEndJob) == [] and notices_of(uow) == []  # nothing left to announce
