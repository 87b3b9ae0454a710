"""Stripe delivers at least once and in any order: every shuffle of a subscription's lifecycle,
duplicates included, ends in the entitlement the in-order run ends in (and the one announced)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from careline_billing import handlers
from careline_billing.domain import access
from careline_billing.domain.access import Terms
from careline_contracts.billing import EntitlementChanged
from careline_contracts.ingress import StripeEventReceived, UserRegistered
from careline_testing.uow import FakeClock, FakeUnitOfWork, delivery
from tests.unit.billing.fakes import FakeAccounts

pytestmark = pytest.mark.asyncio
TERMS = Terms(trial=timedelta(days=14), grace=timedelta(days=7), after_cancel=timedelta(days=30))
T0 = 1_900_000_000
AT = datetime.fromtimestamp(T0, UTC)
ORDERS = 220
"""Random orders tried per lifecycle (at least 200)."""


def _event(n: int, type_: str, obj: dict[str, Any], at: int) -> dict[str, Any]:
    return {"event_id": f"evt_{n}", "type": type_, "created": T0 + at, "obj": obj}


def _sub(status: str, meta: bool, **extra: Any) -> dict[str, Any]:
    sub = {"id": "sub_1", "customer": "cus_1", "status": status, **extra}
    return {**sub, "metadata": {"user_id": "u1"}} if meta else sub


def _invoice(n: int) -> dict[str, Any]:
    return {"id": f"in_{n}", "customer": "cus_1", "subscription": "sub_1"}


CHECKOUT = {"id": "cs_1", "client_reference_id": "u1", "customer": "cus_1", "subscription": "sub_1"}


def lifecycle(name: str, meta: bool) -> list[dict[str, Any]]:
    """Each lifecycle's events, in the order Stripe created them."""
    s = lambda status, **extra: _sub(status, meta, **extra)  # noqa: E731
    start = [
        _event(1, "checkout.session.completed", CHECKOUT, 2),
        _event(2, "customer.subscription.created", s("incomplete"), 1),
        _event(3, "customer.subscription.updated", s("active"), 3),
        _event(4, "invoice.paid", _invoice(1), 4),
    ]
    later = {
        "active": [],
        "recovered": [
            _event(5, "customer.subscription.updated", s("past_due"), 10),
            _event(6, "invoice.payment_failed", _invoice(2), 11),
            _event(7, "customer.subscription.updated", s("active"), 12),
            _event(8, "invoice.paid", _invoice(2), 13),
        ],
        "failed-then-canceled": [
            _event(5, "customer.subscription.updated", s("past_due"), 10),
            _event(6, "invoice.payment_failed", _invoice(2), 11),
            _event(7, "customer.subscription.deleted", s("canceled", ended_at=T0 + 20), 20),
        ],
        "canceled-at-period-end": [
            _event(5, "customer.subscription.updated", s("active", cancel_at_period_end=True), 10),
            _event(6, "customer.subscription.deleted", s("canceled", ended_at=T0 + 30), 30),
        ],
        "stripe-trial": [
            _event(5, "customer.subscription.updated", s("trialing", trial_end=T0 + 3 * 86400), 5),
            _event(6, "customer.subscription.trial_will_end", s("trialing", trial_end=T0 + 3 * 86400), 6),
            _event(7, "customer.subscription.updated", s("active"), 7),
        ],
        "past-due-forever": [
            _event(5, "customer.subscription.updated", s("past_due"), 10),
            _event(6, "invoice.payment_failed", _invoice(2), 11),
        ],
    }
    return start + later[name]


async def run(events: list[dict[str, Any]], now: datetime) -> tuple[bool, bool | None, str]:
    """Register the caregiver, deliver ``events`` in the order given; (access now, the last
    entitlement announced, the status)."""
    uow = FakeUnitOfWork(FakeAccounts(), clock=FakeClock(now))
    registered = UserRegistered(occurred_at=now, user_id="u1", phone="+15555550100")
    await handlers.on_user_registered(registered, delivery("reg"), uow, terms=TERMS)
    for n, e in enumerate(events):
        received = StripeEventReceived(
            occurred_at=now,
            event_id=e["event_id"],
            type=e["type"],
            created=e["created"],
            data={"object": e["obj"]},
        )
        await handlers.on_stripe_event(received, delivery(f"d{n}"), uow, terms=TERMS)
    account = uow.repo.accounts["u1"]
    announced = [e.entitled for e in uow.events(EntitlementChanged)]  # type: ignore[attr-defined]
    return access.has_access(account, now, TERMS), announced[-1] if announced else None, account["status"]


LIFECYCLES = [
    ("active", True, AT, "active"),
    ("recovered", False, AT, "active"),
    ("failed-then-canceled", True, AT + timedelta(days=3), "canceled"),
    ("failed-then-canceled", False, AT + timedelta(days=31), "canceled"),
    ("canceled-at-period-end", False, AT + timedelta(days=2), "canceled"),
    ("stripe-trial", True, AT, "active"),
    ("past-due-forever", False, AT + timedelta(days=1), "past_due"),
    ("past-due-forever", True, AT + timedelta(days=8), "past_due"),
]


@pytest.mark.parametrize(
    ("name", "meta", "now", "status"),
    LIFECYCLES,
    ids=[f"{n}-{'metadata' if m else 'parked'}-{(t - AT).days}d" for n, m, t, _ in LIFECYCLES],
)
async def test_every_shuffle_with_duplicates_ends_in_the_in_order_entitlement(
    name: str, meta: bool, now: datetime, status: str
) -> None:
    in_order = lifecycle(name, meta)
    expected = await run(in_order, now)
    assert expected[2] == status and expected[1] == expected[0]  # the announcement is the truth
    rng = random.Random(f"{name}-{meta}")
    for _ in range(ORDERS):
        shuffled = in_order + rng.sample(in_order, rng.randint(1, len(in_order)))  # duplicates
        rng.shuffle(shuffled)
        assert await run(shuffled, now) == expected, [e["event_id"] for e in shuffled]


async def test_the_lifecycles_end_in_different_entitlements() -> None:
    """The property is not vacuous: lapsed and grace-expired lifecycles end without access."""
    results = {
        (name, (now - AT).days): (await run(lifecycle(name, meta), now))[0]
        for name, meta, now, _ in LIFECYCLES
    }
    assert results[("failed-then-canceled", 3)] is True  # 30 days after the cancellation
    assert results[("failed-then-canceled", 31)] is False
    assert results[("past-due-forever", 1)] is True and results[("past-due-forever", 8)] is False
