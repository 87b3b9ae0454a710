"""Billing's checkout job with the real stripe SDK against a local fake Stripe API."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio

from careline_billing import handlers
from careline_billing.integrations.stripe_gateway import SandboxGateway, StripeGateway
from careline_billing.repository import BillingRepository
from careline_platform.clock import SystemClock
from careline_platform.jobs import Job, JobStore, JobType, JobWorker, RetryPolicy, new_job
from careline_platform.mongo import UnitOfWork, connect
from careline_testing.fakes import FakeStripe, ThreadedServer
from careline_testing.servers import Backends
from careline_testing.waiting import eventually

pytestmark = pytest.mark.asyncio
_names = itertools.count()
USER = "usr_checkout"


@pytest.fixture
def fake_stripe() -> Iterator[tuple[FakeStripe, str]]:
    api = FakeStripe()
    with ThreadedServer(api.app()) as server:
        yield api, server.url


@pytest_asyncio.fixture
async def deps(backends: Backends, fake_stripe: tuple[FakeStripe, str]) -> AsyncIterator[handlers.Deps]:
    _api, url = fake_stripe
    client = connect(backends.mongodb_uri)
    db = client[f"billing_it_{next(_names)}"]
    repo = BillingRepository(db)
    await repo.ensure_indexes()
    store = JobStore(db.jobs, SystemClock())
    await store.ensure_indexes()
    now = datetime.now(UTC)
    await db.billing_accounts.insert_one({"_id": USER, "status": "canceled", "created_at": now})
    yield handlers.Deps(
        uow=UnitOfWork(client, db),
        repo=repo,
        clock=SystemClock(),
        trial_days=14,
        jobs=store,
        wake_worker=lambda: None,
        gateway=StripeGateway("sk_test_fake", "price_monthly", "http://127.0.0.1/done", api_base=url),
    )
    await client.close()


async def test_a_lost_answer_is_retried_with_the_same_key_and_opens_one_session(
    deps: handlers.Deps, fake_stripe: tuple[FakeStripe, str]
) -> None:
    api, _ = fake_stripe
    api.lose_answers = 1
    key = f"stripe:checkout:{USER}:2026-11-26"
    await deps.jobs.enqueue(new_job(key, handlers.CREATE_CHECKOUT, {"user_id": USER}, now=datetime.now(UTC)))

    async def no_dead_letters(_doc: dict[str, Any]) -> None:
        return None

    worker = JobWorker(
        deps.jobs,
        {
            handlers.CREATE_CHECKOUT: JobType(
                lambda job: handlers.create_checkout(job, deps), RetryPolicy(base_s=0.1, jitter=0)
            )
        },
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
    account = await deps.repo.accounts.find_one({"_id": USER})
    assert account is not None and account["checkout_url"] == session["url"]
    outbox = await deps.jobs.col.find_one({"_id": f"event:checkout-link:{key}"})
    assert outbox is not None and outbox["payload"]["msg_id"] == f"checkout-link:{key}"


async def test_a_job_run_again_after_its_commit_owes_the_link_event_once(deps: handlers.Deps) -> None:
    """The worker died after the job's transaction and before completing it: it runs again."""
    key = f"stripe:checkout:{USER}:again"
    await deps.jobs.enqueue(new_job(key, handlers.CREATE_CHECKOUT, {"user_id": USER}, now=datetime.now(UTC)))
    doc = await deps.jobs.col.find_one({"_id": key})
    assert doc is not None
    job = Job.from_doc({**doc, "lease": {"token": "t"}})
    await deps.jobs.col.update_one({"_id": key}, {"$set": {"status": "processing", "lease": {"token": "t"}}})
    first = await handlers.create_checkout(job, deps)
    second = await handlers.create_checkout(job, deps)
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
