"""Duplicates never produce a second effect: JetStream's window first, each consumer's inbox after."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import nats
import pytest
from pymongo import AsyncMongoClient

from careline_testing.fakes import FakeTwilio
from careline_testing.processes import Cluster
from careline_testing.servers import ServerProcess
from careline_testing.signing import inbound_sms_params, stripe_event
from careline_testing.waiting import eventually

from .conftest import DUPLICATE_WINDOW_S
from .helpers import databases, post_sms, post_stripe, wait_until_settled

pytestmark = pytest.mark.asyncio


async def stream_messages(url: str, stream: str) -> int:
    nc = await nats.connect(url)
    try:
        return int((await nc.jetstream().stream_info(stream)).state.messages)
    finally:
        await nc.close()


async def test_same_message_sid_twenty_times_and_after_the_window_gives_one_reply(
    cluster: Cluster,
    nats: ServerProcess,
    fake_twilio: tuple[FakeTwilio, str],
    mongo: AsyncMongoClient[Any],
) -> None:
    """20 concurrent posts of one MessageSid, then one more after the window: one reply."""
    fake, _ = fake_twilio
    params = inbound_sms_params("+14155550120", "is anyone there?")
    async with httpx.AsyncClient(timeout=10) as client:
        answers = await asyncio.gather(*(post_sms(client, cluster, params) for _ in range(20)))
        assert [r.status_code for r in answers] == [200] * 20
        await eventually(lambda: len(fake.to("+14155550120")) == 1)
        await asyncio.sleep(DUPLICATE_WINDOW_S + 1.0)
        late = await post_sms(client, cluster, params)
        assert late.status_code == 200
    # the late copy got past JetStream's window (a second stream message) ...
    assert await stream_messages(nats.url, "SMS") == 2
    # ... and the conversation inbox skipped it: still one reply, one interaction
    db = databases(mongo, cluster)
    await wait_until_settled(cluster)
    assert len(fake.to("+14155550120")) == 1
    state = await db["conversation"].conversation_state.find_one({})
    assert state is not None and state["total_interactions"] == 1
    assert await db["ingress"].users.count_documents({"phone": "+14155550120"}) == 1


async def test_concurrent_first_messages_from_one_number_make_one_user(
    cluster: Cluster,
    fake_twilio: tuple[FakeTwilio, str],
    mongo: AsyncMongoClient[Any],
) -> None:
    """Ten different first messages at once from a new number: one user, one slice each, ten replies."""
    fake, _ = fake_twilio
    async with httpx.AsyncClient(timeout=10) as client:
        answers = await asyncio.gather(
            *(
                post_sms(client, cluster, inbound_sms_params("+14155550121", f"message {i}"))
                for i in range(10)
            )
        )
    assert {r.status_code for r in answers} == {200}
    await eventually(lambda: len(fake.to("+14155550121")) == 10)
    db = databases(mongo, cluster)
    users = await db["ingress"].users.find({"phone": "+14155550121"}).to_list()
    assert len(users) == 1
    user_id = users[0]["_id"]

    async def slices_exist() -> bool:
        return (
            await db["profile"].user_profiles.count_documents({"_id": user_id}) == 1
            and await db["billing"].billing_accounts.count_documents({"_id": user_id}) == 1
        )

    await eventually(slices_exist)
    welcomes = [m for m in fake.to("+14155550121") if "Careline" in m.body]
    assert len(welcomes) == 1


async def test_stripe_event_posted_twice_changes_billing_once(
    cluster: Cluster,
    fake_twilio: tuple[FakeTwilio, str],
    mongo: AsyncMongoClient[Any],
) -> None:
    """Checkout links the customer; a subscription update posted twice (and after the window) applies once."""
    fake, _ = fake_twilio
    db = databases(mongo, cluster)
    async with httpx.AsyncClient(timeout=10) as client:
        await post_sms(client, cluster, inbound_sms_params("+14155550122", "hi"))
        await eventually(lambda: len(fake.to("+14155550122")) == 1)
        user = await db["ingress"].users.find_one({"phone": "+14155550122"})
        assert user is not None
        user_id = user["_id"]
        await eventually(lambda: _count(db["billing"].billing_accounts, {"_id": user_id}))
        checkout = stripe_event(
            "checkout.session.completed",
            {
                "id": "cs_test_1",
                "object": "checkout.session",
                "client_reference_id": user_id,
                "customer": "cus_e2e",
                "subscription": "sub_e2e",
                "mode": "subscription",
            },
        )
        assert (await post_stripe(client, cluster, checkout)).status_code == 200
        await eventually(
            lambda: _count(db["billing"].billing_accounts, {"_id": user_id, "stripe_customer_id": "cus_e2e"})
        )
        update = stripe_event(
            "customer.subscription.updated",
            {
                "id": "sub_e2e",
                "object": "subscription",
                "customer": "cus_e2e",
                "status": "active",
                "cancel_at_period_end": False,
                "current_period_end": 1_900_000_000,
                "items": {"data": [{"price": {"id": "price_monthly"}}]},
            },
        )
        first, second = await asyncio.gather(
            post_stripe(client, cluster, update), post_stripe(client, cluster, update)
        )
        assert (first.status_code, second.status_code) == (200, 200)
        await eventually(lambda: _count(db["billing"].billing_accounts, {"_id": user_id, "status": "active"}))
        applied = await db["billing"].billing_accounts.find_one({"_id": user_id})
        await asyncio.sleep(DUPLICATE_WINDOW_S + 1.0)
        assert (await post_stripe(client, cluster, update)).status_code == 200
        await wait_until_settled(cluster)
    after = await db["billing"].billing_accounts.find_one({"_id": user_id})
    assert after == applied  # not even updated_at moved
    assert after["price_id"] == "price_monthly"
    inbox = await db["billing"].processed_messages.count_documents(
        {"_id": update["id"] and f"stripe:{update['id']}"}
    )
    assert inbox == 1


async def _count(col: Any, query: dict[str, Any]) -> bool:
    return bool(await col.count_documents(query) == 1)
