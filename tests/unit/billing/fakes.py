"""Billing's repository and Stripe in memory: the same protocols as the real ones, for unit tests."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from careline_billing.domain.lifecycle import FACT_FIELDS
from careline_billing.integrations.stripe_gateway import CheckoutLink
from careline_billing.repository import FILLABLE_WHEN_LIVE, STATUSES
from careline_contracts.migration import SliceCounts
from careline_platform.jobs import Job
from careline_testing.slices import fill_slices
from careline_testing.uow import FakeClock, FakeUnitOfWork

Document = dict[str, Any]


class FakeAccounts:
    """``BillingWriter`` and ``BillingReader`` over a dict of accounts (and the job keys erased)."""

    def __init__(self) -> None:
        self.accounts: dict[str, Document] = {}
        self.job_owners: dict[str, str] = {}  # job key -> user id, for erasure
        self.parked: dict[str, Document] = {}  # event id -> parked event

    async def find_account(self, user_id: str) -> Document | None:
        return copy.deepcopy(self.accounts.get(user_id))

    async def user_for_customer(self, customer: str | None) -> str | None:
        if not customer:
            return None
        return next((k for k, a in self.accounts.items() if a.get("stripe_customer_id") == customer), None)

    async def open_trial(self, user_id: str, now: datetime, trial_end: datetime) -> bool:
        if user_id in self.accounts:
            return False
        self.accounts[user_id] = {
            "_id": user_id, "status": "trialing", "trial_end": trial_end, "created_at": now,
            "stripe_customer_id": None, "stripe_subscription_id": None, "last_event_at": None,
            "updated_at": now,
        }  # fmt: skip
        return True

    async def end_trial_if_unsubscribed(self, user_id: str, now: datetime) -> bool:
        account = self.accounts.get(user_id)
        if account is None or account["status"] != "trialing" or account.get("stripe_subscription_id"):
            return False
        account.update(status="none", trial_ended_at=now, updated_at=now)
        return True

    async def link_checkout(
        self, user_id: str, customer: str | None, subscription: str | None, created: datetime, now: datetime
    ) -> None:
        account = self.accounts.setdefault(
            user_id, {"_id": user_id, "created_at": now, "status": "none", "last_event_at": None}
        )
        account.update(
            stripe_customer_id=customer,
            stripe_subscription_id=subscription,
            checkout_completed_at=created,
            updated_at=now,
        )

    async def apply_subscription(
        self, user_id: str, customer: str | None, fields: Document, created: datetime, now: datetime
    ) -> Document | None:
        account = self.accounts.get(user_id)
        if account is None or (
            account.get("last_event_at") is not None and account["last_event_at"] > created
        ):
            return None
        before = copy.deepcopy(account)
        account.update(
            copy.deepcopy(fields), stripe_customer_id=customer, last_event_at=created, updated_at=now
        )
        return before

    async def overwrite_subscription(self, user_id: str, fields: Document, now: datetime) -> Document | None:
        account = self.accounts.get(user_id)
        if account is None:
            return None
        before = copy.deepcopy(account)
        account.update(copy.deepcopy(fields), synced_at=now, updated_at=now)
        return before

    async def record_invoice_event(
        self, user_id: str, kind: str, invoice_id: str | None, created: datetime, now: datetime
    ) -> Document | None:
        field = FACT_FIELDS[kind]
        account = self.accounts.get(user_id)
        if account is None or (account.get(field) is not None and account[field] >= created):
            return None
        before = copy.deepcopy(account)
        account.update({field: created, f"{field}_invoice": invoice_id, "updated_at": now})
        return before

    async def mark_trial_warned(self, user_id: str, trial_end: datetime, now: datetime) -> bool:
        account = self.accounts.get(user_id)
        if account is None or account.get("trial_warned_for") == trial_end:
            return False
        account.update(trial_warned_for=trial_end, trial_warned_at=now)
        return True

    async def park_event(self, event: Document, customer: str | None, now: datetime) -> None:
        self.parked.setdefault(
            event["event_id"],
            {"customer": customer, "created": event["created"], "event": copy.deepcopy(event)},
        )

    async def take_parked(self, customer: str | None) -> list[Document]:
        found = sorted(
            (p for p in self.parked.values() if customer and p["customer"] == customer),
            key=lambda p: p["created"],
        )
        for p in found:
            del self.parked[p["event"]["event_id"]]
        return [p["event"] for p in found]

    async def record_checkout_link(self, user_id: str, session_id: str, url: str, now: datetime) -> None:
        if user_id in self.accounts:
            self.accounts[user_id].update(
                checkout_session_id=session_id, checkout_url=url, checkout_created_at=now
            )

    async def backfill(self, slices: list[Document], now: datetime) -> tuple[SliceCounts, list[Document]]:
        return fill_slices(self.accounts, slices, fill_stamp={"updated_at": now}, fillable=FILLABLE_WHEN_LIVE)

    async def erase_caregiver(self, user_id: str) -> Document:
        had = self.accounts.pop(user_id, None) is not None
        jobs = [k for k, owner in self.job_owners.items() if owner == user_id]
        for key in jobs:
            del self.job_owners[key]
        return {"erased": True, "deleted": {"billing_accounts": int(had), "jobs": len(jobs)}}

    async def read_caregiver(self, user_id: str) -> Document:
        return {"billing_account": copy.deepcopy(self.accounts.get(user_id))}

    async def daily_metrics(self, start: datetime, end: datetime) -> Document:
        return {"subscriptions": {s: sum(a["status"] == s for a in self.accounts.values()) for s in STATUSES}}


class FakeGateway:
    """Stripe as billing's jobs see it: sessions by idempotency key, subscriptions by id."""

    def __init__(self) -> None:
        self.sessions: dict[str, CheckoutLink] = {}
        self.calls: list[str] = []
        self.subscriptions: dict[str, Document] = {}
        self.fail_next: Exception | None = None
        self.plans: list[str] = []

    async def create_checkout(
        self, *, user_id: str, idempotency_key: str, plan: str = "monthly"
    ) -> CheckoutLink:
        self.calls.append(idempotency_key)
        self.plans.append(plan)
        if self.fail_next is not None:
            failure, self.fail_next = self.fail_next, None
            raise failure
        return self.sessions.setdefault(
            idempotency_key,
            CheckoutLink(
                f"cs_{len(self.sessions)}", f"https://checkout.test/{len(self.sessions)}?u={user_id}"
            ),
        )

    async def create_portal(self, *, customer_id: str, idempotency_key: str) -> str:
        self.calls.append(idempotency_key)
        return f"https://billing.test/p/{customer_id}"

    async def subscription(self, subscription_id: str) -> Document:
        return copy.deepcopy(self.subscriptions[subscription_id])


class FakeProgress:
    """The jobs store's ``record_progress``: what an attempt learned, kept on the job."""

    def __init__(self) -> None:
        self.recorded: list[tuple[str, Document]] = []

    async def record_progress(self, job: Job, **fields: Any) -> None:
        job.progress.update(fields)
        self.recorded.append((job.key, fields))


def billing_uow(clock: FakeClock | None = None) -> FakeUnitOfWork[FakeAccounts, FakeAccounts]:
    return FakeUnitOfWork(FakeAccounts(), clock=clock)


def job(key: str, payload: Document, type_: str = "test", progress: Document | None = None) -> Job:
    """A claimed job as the worker hands it to a handler."""
    return Job(key=key, type=type_, payload=payload, attempts=1, max_attempts=None,
               progress=progress or {}, token="t")  # fmt: skip
