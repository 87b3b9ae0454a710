"""Billing's checkout job with the real stripe SDK against a local fake Stripe API."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from pymongo.asynchronous.collection import AsyncCollection

from careline_billing import handlers, notices, repository
from careline_billing.integrations.stripe_gateway import SandboxGateway, StripeGateway
from careline_billing.repository import MongoBillingReader, MongoBillingWriter
from careline_contracts import subjects
from careline_contracts.jobs import CheckoutCreateJob, PortalNoticeJob
from careline_platform.clock import SystemClock
from careline_platform.jobs import Job, JobStore, JobType, JobWorker, RetryPolicy, new_job
from careline_platform.mongo import connect
from careline_platform.uow import UnitOfWork
from careline_testing.fakes import FakeStripe
from careline_testing.servers import Backends
from careline_testing.waiting import eventually

pytestmark = pytest.mark.asyncio
_names = itertools.count()
USER = "usr_checkout"


@dataclass
class Deps:
    uow: UnitOfWork[MongoBillingWriter, MongoBillingReader]
    accounts: AsyncCollection[dict[str, Any]]
    jobs: JobStore
    gateway: StripeGateway

    async def create_checkout(self, job: Job) -> dict[str, Any]:
        return await handlers.create_checkout(job, self.uow, gateway=self.gateway, progress=self.jobs)


@pytest_asyncio.fixture
async def deps(backends: Backends, fake_stripe: tuple[FakeStripe, str]) -> AsyncIterator[Deps]:
    _api, url = fake_stripe
    client = connect(backends.mongodb_uri)
    db = client[f"billing_it_{next(_names)}"]
    await repository.ensure_indexes(db)
    store = JobStore(db.jobs, SystemClock())
    await store.ensure_indexes()
    now = datetime.now(UTC)
    await db.billing_accounts.insert_one({"_id": USER, "status": "canceled", "created_at": now})
    uow = UnitOfWork(
        client,
        db,
        jobs=store,
        clock=SystemClock(),
        stream=subjects.BILLING,
        writer=MongoBillingWriter,
        reader=MongoBillingReader,
    )
    gateway = StripeGateway(
        "sk_test_fake",
        {"monthly": "price_monthly", "annual": "price_annual"},
        "http://127.0.0.1/done",
        api_base=url,
    )
    yield Deps(uow, db.billing_accounts, store, gateway)
    await client.close()


async def test_a_lost_answer_is_retried_with_the_same_key_and_opens_one_session(
    deps: Deps, fake_stripe: tuple[FakeStripe, str]
) -> None:
    api, _ = fake_stripe
    api.lose_answers = 1
    key = f"stripe:checkout:{USER}:2026-11-26"
    await deps.jobs.enqueue(
        new_job(key, CheckoutCreateJob.JOB_TYPE, {"user_id": USER}, now=datetime.now(UTC))
    )

    async def no_dead_letters(_doc: dict[str, Any]) -> None:
        return None

    worker = JobWorker(
        deps.jobs,
        {CheckoutCreateJob.JOB_TYPE: JobType(deps.create_checkout, RetryPolicy(base_s=0.1, jitter=0))},
        owner="test",
        dead_letter_sink=no_dead_letters,
        poll_interval_s=0.1,
    )
    worker.start()
    try:

        async def done() -> bool:
            return await deps.jobs.col.count_documents({"_id": key, "status": "completed"}) == 1

        await eventually(done, timeout_s=20)
    finally:
        await worker.stop()

    assert [r["idempotency_key"] for r in api.requests] == [key, key]
    assert len(api.sessions) == 1
    [session] = api.sessions
    assert session["client_reference_id"] == USER
    assert api.requests[0]["form"]["line_items[0][price]"] == "price_monthly"
    account = await deps.accounts.find_one({"_id": USER})
    assert account is not None and account["checkout_url"] == session["url"]
    outbox = await deps.jobs.col.find_one({"_id": f"event:checkout-link:{key}"})
    assert outbox is not None and outbox["payload"]["msg_id"] == f"checkout-link:{key}"


async def test_a_job_run_again_after_its_commit_owes_the_link_event_once(deps: Deps) -> None:
    """The worker died after the job's transaction and before completing it: it runs again."""
    key = f"stripe:checkout:{USER}:again"
    await deps.jobs.enqueue(
        new_job(key, CheckoutCreateJob.JOB_TYPE, {"user_id": USER}, now=datetime.now(UTC))
    )
    doc = await deps.jobs.col.find_one({"_id": key})
    assert doc is not None
    job = Job.from_doc({**doc, "lease": {"token": "t"}})
    await deps.jobs.col.update_one({"_id": key}, {"$set": {"status": "processing", "lease": {"token": "t"}}})
    first = await deps.create_checkout(job)
    second = await deps.create_checkout(job)
    assert first == second
    assert await deps.jobs.col.count_documents({"type": "outbox.publish"}) == 1


async def test_the_sandbox_link_points_at_the_local_simulator() -> None:
    gateway = SandboxGateway("http://127.0.0.1:8080/")
    first = await gateway.create_checkout(user_id=USER, idempotency_key="k1")
    again = await gateway.create_checkout(user_id=USER, idempotency_key="k1")
    other = await gateway.create_checkout(user_id=USER, idempotency_key="k2")
    assert first == again and first.session_id != other.session_id
    assert first.url.startswith("http://127.0.0.1:8080/dev/checkout/cs_sandbox_")
    assert first.url.endswith(f"?user={USER}")


async def test_the_annual_plan_checks_out_at_the_annual_price(
    deps: Deps, fake_stripe: tuple[FakeStripe, str]
) -> None:
    api, _ = fake_stripe
    link = await deps.gateway.create_checkout(user_id=USER, idempotency_key="annual-1", plan="annual")
    [session] = api.sessions
    assert session["price"] == "price_annual" and link.url == session["url"]
    await deps.gateway.create_checkout(user_id=USER, idempotency_key="monthly-1")
    assert api.sessions[-1]["price"] == "price_monthly"


async def test_a_portal_notice_opens_one_portal_session_through_the_sdk_and_owes_its_notice(
    deps: Deps, fake_stripe: tuple[FakeStripe, str]
) -> None:
    """A failed payment's notice: a billing portal session (the real SDK against the fake Stripe),
    the same one again on a retry (same idempotency key), and one notice event in the outbox."""
    api, _ = fake_stripe
    key = "notice:payment_failed:in_1"
    payload = PortalNoticeJob(
        user_id=USER, notice="payment_failed", notice_id="payment_failed:in_1", customer_id="cus_portal"
    ).to_payload()
    await deps.jobs.enqueue(new_job(key, PortalNoticeJob.JOB_TYPE, payload, now=datetime.now(UTC)))
    doc = await deps.jobs.col.find_one({"_id": key})
    assert doc is not None
    job = Job.from_doc({**doc, "lease": {"token": "t"}})
    await deps.jobs.col.update_one({"_id": key}, {"$set": {"status": "processing", "lease": {"token": "t"}}})
    for _ in range(2):
        await notices.send_portal_notice(job, deps.uow, gateway=deps.gateway)
    [session] = api.portal_sessions
    assert session["customer"] == "cus_portal" and session["return_url"] == "http://127.0.0.1/done"
    assert [r["idempotency_key"] for r in api.requests if "portal" in r] == [key, key]
    [outbox] = await deps.jobs.col.find({"type": "outbox.publish"}).to_list()
    assert outbox["payload"]["msg_id"] == "notice:payment_failed:in_1"
    assert session["url"] in outbox["payload"]["data"]


async def test_the_sandbox_portal_and_annual_links_point_at_the_local_pages() -> None:
    gateway = SandboxGateway("http://127.0.0.1:8080/")
    portal = await gateway.create_portal(customer_id="cus_sbx_1", idempotency_key="k1")
    assert portal.startswith("http://127.0.0.1:8080/dev/portal/bps_sandbox_")
    annual = await gateway.create_checkout(user_id=USER, idempotency_key="k1", plan="annual")
    assert annual.url.endswith(f"?user={USER}&plan=annual")
