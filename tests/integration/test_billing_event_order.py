"""Stripe events in any order, repeated: billing's final state is the same every time."""

from __future__ import annotations

import contextlib
import itertools
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from pymongo.asynchronous.collection import AsyncCollection

from careline_billing import handlers, repository
from careline_billing.domain.access import Terms
from careline_billing.integrations.stripe_gateway import StripeGateway
from careline_billing.repository import MongoBillingReader, MongoBillingWriter
from careline_contracts import subjects
from careline_contracts.ingress import StripeEventReceived
from careline_contracts.jobs import GraceEndJob, SubscriptionSyncJob
from careline_platform.clock import SystemClock
from careline_platform.jobs import Job, JobStore
from careline_platform.messaging import Delivery
from careline_platform.mongo import AlreadyProcessed, connect
from careline_platform.uow import UnitOfWork
from careline_testing.fakes import FakeStripe
from careline_testing.servers import Backends

pytestmark = pytest.mark.asyncio
_names = itertools.count()
USER, CUSTOMER, SUB = "usr_order", "cus_order", "sub_order"
T0 = 1_900_000_000
KEPT = (
    "status",
    "stripe_customer_id",
    "stripe_subscription_id",
    "current_period_end",
    "cancel_at_period_end",
    "last_event_at",
    "last_invoice_paid_at",
    "last_payment_failed_at",
)


def sub_event(type_: str, status: str, at: int, **extra: Any) -> dict[str, Any]:
    obj = {"id": SUB, "customer": CUSTOMER, "status": status, "metadata": {"user_id": USER}, **extra}
    return {"id": f"evt_{type_}_{status}_{at}", "type": type_, "created": at, "data": {"object": obj}}


LIFE = [
    {
        "id": "evt_checkout",
        "type": "checkout.session.completed",
        "created": T0,
        "data": {
            "object": {"id": "cs_1", "client_reference_id": USER, "customer": CUSTOMER, "subscription": SUB}
        },
    },
    sub_event("customer.subscription.created", "incomplete", T0 + 1),
    sub_event("customer.subscription.updated", "active", T0 + 2, current_period_end=T0 + 2_592_000),
    {
        "id": "evt_paid",
        "type": "invoice.paid",
        "created": T0 + 2,
        "data": {"object": {"id": "in_1", "customer": CUSTOMER}},
    },
    {
        "id": "evt_failed",
        "type": "invoice.payment_failed",
        "created": T0 + 3,
        "data": {"object": {"id": "in_2", "customer": CUSTOMER}},
    },
    sub_event("customer.subscription.updated", "past_due", T0 + 4),
    sub_event("customer.subscription.updated", "active", T0 + 5, cancel_at_period_end=True),
    sub_event("customer.subscription.deleted", "canceled", T0 + 6),
]


@dataclass
class Deps:
    uow: UnitOfWork[MongoBillingWriter, MongoBillingReader]
    accounts: AsyncCollection[dict[str, Any]]
    jobs: JobStore
    gateway: StripeGateway
    terms: Terms = field(default_factory=Terms)


@pytest_asyncio.fixture
async def make_deps(backends: Backends, fake_stripe: tuple[FakeStripe, str]) -> AsyncIterator[Any]:
    client = connect(backends.mongodb_uri)
    _api, url = fake_stripe

    async def build() -> Deps:
        db = client[f"billing_order_{next(_names)}"]
        await repository.ensure_indexes(db)
        store = JobStore(db.jobs, SystemClock())
        await store.ensure_indexes()
        await db.create_collection("processed_messages")
        now = datetime.now(UTC)
        await db.billing_accounts.insert_one(
            {"_id": USER, "status": "trialing", "created_at": now, "last_event_at": None}
        )
        uow = UnitOfWork(
            client,
            db,
            jobs=store,
            clock=SystemClock(),
            stream=subjects.BILLING,
            writer=MongoBillingWriter,
            reader=MongoBillingReader,
        )
        gateway = StripeGateway("sk_test", {"monthly": "price_1"}, "http://127.0.0.1/done", api_base=url)
        return Deps(uow, db.billing_accounts, store, gateway)

    yield build
    await client.close()


async def deliver(deps: Deps, payload: dict[str, Any]) -> None:
    event = StripeEventReceived(
        occurred_at=datetime.now(UTC),
        correlation_id="c",
        event_id=payload["id"],
        type=payload["type"],
        created=payload["created"],
        data=payload["data"],
    )
    with contextlib.suppress(AlreadyProcessed):  # a repeat: its processed-message record caught it
        delivery = Delivery(f"stripe:{payload['id']}", "", 1, datetime.now(UTC))
        await handlers.on_stripe_event(event, delivery, deps.uow, terms=deps.terms)


async def final_state(deps: Deps, events: list[dict[str, Any]]) -> dict[str, Any]:
    """Deliver ``events`` once each, in order: none is refused (an event before its checkout is
    parked and applied when the checkout arrives)."""
    for payload in events:
        await deliver(deps, payload)
    account = await deps.accounts.find_one({"_id": USER})
    assert account is not None
    return {k: account.get(k) for k in KEPT}


async def test_every_order_with_repeats_ends_in_the_same_state(make_deps: Any) -> None:
    reference = await final_state(await make_deps(), LIFE)
    assert reference["status"] == "canceled"
    assert reference["last_payment_failed_at"] is not None and reference["last_invoice_paid_at"] is not None
    rng = random.Random(7)
    for _ in range(6):
        shuffled = LIFE + rng.sample(LIFE, 4)  # some events twice, as Stripe retries
        rng.shuffle(shuffled)
        assert await final_state(await make_deps(), shuffled) == reference


async def test_same_second_events_are_settled_by_asking_stripe(
    make_deps: Any, fake_stripe: tuple[FakeStripe, str]
) -> None:
    api, _ = fake_stripe
    deps = await make_deps()
    api.subscriptions[SUB] = {
        "id": SUB,
        "customer": CUSTOMER,
        "status": "active",
        "cancel_at_period_end": False,
    }
    tie = [
        LIFE[0],
        sub_event("customer.subscription.updated", "active", T0 + 9),
        sub_event("customer.subscription.updated", "past_due", T0 + 9),  # same second: who is newer?
    ]
    await final_state(deps, tie)
    sync = await deps.jobs.col.find_one({"type": SubscriptionSyncJob.JOB_TYPE})
    assert sync is not None
    await deps.jobs.col.update_one(
        {"_id": sync["_id"]}, {"$set": {"status": "processing", "lease": {"token": "t"}}}
    )
    result = await handlers.sync_subscription(
        Job.from_doc({**sync, "lease": {"token": "t"}}), deps.uow, gateway=deps.gateway, terms=deps.terms
    )
    assert result == {"status": "active"}
    account = await deps.accounts.find_one({"_id": USER})
    assert account is not None and account["status"] == "active"


async def entitlement_events(deps: Deps) -> list[bool]:
    jobs = deps.jobs.col.find({"type": "outbox.publish"}).sort("order", 1)
    return [
        json.loads(d["payload"]["data"])["entitled"]
        async for d in jobs
        if d["payload"]["msg_id"].startswith("entitlement:")
    ]


async def test_an_invoice_before_its_checkout_is_parked_and_applied_when_the_checkout_arrives(
    make_deps: Any,
) -> None:
    """Nothing is refused or retried: the early events are parked in MongoDB (once each, a
    duplicate included) and applied, oldest first, in the checkout's own transaction."""
    deps = await make_deps()
    early = [
        {"id": "evt_early_paid", "type": "invoice.paid", "created": T0 + 3,
         "data": {"object": {"id": "in_1", "customer": CUSTOMER}}},
        {"id": "evt_early_up", "type": "customer.subscription.updated", "created": T0 + 2,
         "data": {"object": {"id": SUB, "customer": CUSTOMER, "status": "active"}}},
    ]  # fmt: skip
    await final_state(deps, early)
    await deliver(deps, {**early[0], "id": "evt_early_paid"})  # a repeat after the window
    parked = deps.accounts.database["parked_stripe_events"]
    assert sorted([d["_id"] async for d in parked.find()]) == ["evt_early_paid", "evt_early_up"]
    assert (await final_state(deps, []))["status"] == "trialing"
    state = await final_state(deps, [LIFE[0]])  # the checkout
    assert state["status"] == "active" and state["last_invoice_paid_at"] == datetime.fromtimestamp(
        T0 + 3, UTC
    )
    assert await parked.count_documents({}) == 0
    assert await entitlement_events(deps) == [True]  # the subscription began (access stays on)
    ttl = [i for i in (await parked.index_information()).values() if i["key"] == [("parked_at", 1)]]
    assert [i.get("expireAfterSeconds") for i in ttl] == [repository.PARKED_TTL_S]  # none kept for ever


async def test_past_due_keeps_access_for_the_grace_period_then_ends_it(make_deps: Any) -> None:
    deps = await make_deps()
    await final_state(deps, LIFE[:3])  # the trial, then checkout, incomplete, active
    # the checkout starts a subscription (announced), incomplete takes access, active gives it back
    assert await entitlement_events(deps) == [True, False, True]
    await final_state(deps, [sub_event("customer.subscription.updated", "past_due", T0 + 4)])
    assert await entitlement_events(deps) == [True, False, True]  # past_due: still entitled, no flip
    grace = await deps.jobs.col.find_one({"type": GraceEndJob.JOB_TYPE})
    assert grace is not None
    since = datetime.fromtimestamp(T0 + 4, UTC)
    assert grace["next_attempt_at"] == since + deps.terms.grace
    job = Job.from_doc({**grace, "lease": {"token": "t"}})
    assert await handlers.end_grace(job, deps.uow) == {"ended": True}
    assert await entitlement_events(deps) == [True, False, True, False]


async def test_a_payment_that_comes_through_in_the_grace_period_keeps_access(make_deps: Any) -> None:
    deps = await make_deps()
    await final_state(deps, [*LIFE[:3], sub_event("customer.subscription.updated", "past_due", T0 + 4)])
    await final_state(deps, [sub_event("customer.subscription.updated", "active", T0 + 5)])
    grace = await deps.jobs.col.find_one({"type": GraceEndJob.JOB_TYPE})
    assert grace is not None
    job = Job.from_doc({**grace, "lease": {"token": "t"}})
    assert await handlers.end_grace(job, deps.uow) == {"ended": False}
    assert await entitlement_events(deps) == [True, False, True]
