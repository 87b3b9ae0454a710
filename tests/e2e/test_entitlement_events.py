"""Billing's entitlement events leave through its outbox: once per flip, never for a replay."""

from __future__ import annotations

from typing import Any

import httpx
import nats as nats_client
import pytest
from pymongo import AsyncMongoClient

from careline_contracts import subjects
from careline_contracts.billing import EntitlementChanged
from careline_testing.fakes import FakeTwilio
from careline_testing.processes import Cluster
from careline_testing.servers import ServerProcess
from careline_testing.signing import inbound_sms_params, stripe_event
from careline_testing.waiting import eventually

from .helpers import databases, post_sms, post_stripe

pytestmark = pytest.mark.asyncio


async def entitlement_events(nats: ServerProcess) -> list[tuple[str, EntitlementChanged]]:
    """Every entitlement event of the BILLING stream, with its Nats-Msg-Id."""
    nc = await nats_client.connect(nats.url)
    try:
        js = nc.jetstream()
        state = (await js.stream_info(subjects.BILLING.name)).state
        found: list[tuple[str, EntitlementChanged]] = []
        if state.messages == 0:
            return found
        for seq in range(state.first_seq, state.last_seq + 1):
            msg = await js.get_msg(subjects.BILLING.name, seq)
            if (msg.subject or "").startswith(subjects.BILLING_ENTITLEMENT_CHANGED):  # not notices
                found.append((msg.headers["Nats-Msg-Id"], EntitlementChanged.model_validate_json(msg.data)))
        return found
    finally:
        await nc.close()


async def test_entitlement_flips_are_published_once_each(
    cluster: Cluster, nats: ServerProcess, mongo: AsyncMongoClient[Any], fake_twilio: tuple[FakeTwilio, str]
) -> None:
    fake, _ = fake_twilio
    db = databases(mongo, cluster)
    async with httpx.AsyncClient(timeout=10) as client:
        await post_sms(client, cluster, inbound_sms_params("+14155550131", "hi"))
        await eventually(lambda: len(fake.to("+14155550131")) == 1)
        user = await db["ingress"].users.find_one({"phone": "+14155550131"})
        assert user is not None
        user_id = user["_id"]

        async def published(n: int) -> bool:
            return len(await entitlement_events(nats)) == n

        await eventually(lambda: published(1), timeout_s=20)  # the trial opened: entitled

        checkout = stripe_event(
            "checkout.session.completed",
            {"id": "cs_1", "client_reference_id": user_id, "customer": "cus_ent", "subscription": "sub_ent"},
        )
        assert (await post_stripe(client, cluster, checkout)).status_code == 200
        active = stripe_event(
            "customer.subscription.updated",
            {"id": "sub_ent", "customer": "cus_ent", "status": "active"},
            created=1_900_000_000,
        )
        canceled = stripe_event(  # ended over 30 days ago: its grace period is over too
            "customer.subscription.deleted",
            {"id": "sub_ent", "customer": "cus_ent", "status": "canceled", "ended_at": 1_700_000_000},
            created=1_900_000_100,
        )
        for event in (active, canceled, canceled):  # the replay changes nothing
            assert (await post_stripe(client, cluster, event)).status_code == 200
        await eventually(lambda: published(3), timeout_s=20)

        async def account_canceled() -> bool:
            doc = await db["billing"].billing_accounts.find_one({"_id": user_id})
            return doc is not None and doc["status"] == "canceled"

        await eventually(account_canceled)

        async def relay_idle() -> bool:
            pending = {"type": "outbox.publish", "status": {"$ne": "completed"}}
            return await db["billing"].jobs.count_documents(pending) == 0

        await eventually(relay_idle, timeout_s=10)

    events = await entitlement_events(nats)
    assert [(e.user_id, e.entitled, e.subscribed, e.status) for _, e in events] == [
        (user_id, True, False, "trialing"),
        (user_id, True, True, "trialing"),  # the checkout started a subscription (access unchanged)
        (user_id, False, False, "canceled"),
    ]
    assert [msg_id for msg_id, _ in events] == [
        f"entitlement:{user_id}:user.registered:{user_id}",
        f"entitlement:{user_id}:stripe:{checkout['id']}",
        f"entitlement:{user_id}:stripe:{canceled['id']}",
    ]
