"""A caregiver's first text, end to end over real processes, NATS and MongoDB-wire server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from careline_testing.fakes import FakeTwilio
from careline_testing.processes import Cluster
from careline_testing.servers import Backends
from careline_testing.signing import inbound_sms_params, twilio_form
from careline_testing.waiting import eventually

from .conftest import TWILIO_TOKEN

pytestmark = pytest.mark.asyncio


async def post_sms(client: httpx.AsyncClient, cluster: Cluster, params: dict[str, str]) -> httpx.Response:
    url = f"{cluster.base_url}/webhooks/twilio/sms"
    body, headers = twilio_form(TWILIO_TOKEN, url, params)
    return await client.post(url, content=body, headers=headers)


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_first_message_creates_user_slices_and_one_reply(
    cluster: Cluster, backends: Backends, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    fake, _ = fake_twilio
    async with httpx.AsyncClient(timeout=10) as client:
        resp = await post_sms(client, cluster, inbound_sms_params("+1 (415) 555-0101", "hello"))
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/xml")
    assert "<Response/>" in resp.text

    await wait_until(lambda: len(fake.to("+14155550101")) == 1)
    assert "Careline" in fake.to("+14155550101")[0].body

    prefix = cluster.env["DB_PREFIX"]
    mongo: AsyncMongoClient = AsyncMongoClient(backends.mongodb_uri)
    try:
        users = await mongo[f"{prefix}_ingress"].users.find({"phone": "+14155550101"}).to_list()
        assert len(users) == 1
        user_id = users[0]["_id"]

        async def slices() -> tuple[int, int, int]:
            return (
                await mongo[f"{prefix}_conversation"].conversation_state.count_documents({"_id": user_id}),
                await mongo[f"{prefix}_profile"].user_profiles.count_documents({"_id": user_id}),
                await mongo[f"{prefix}_billing"].billing_accounts.count_documents({"_id": user_id}),
            )

        deadline = time.monotonic() + 20
        while await slices() != (1, 1, 1) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert await slices() == (1, 1, 1)
        account = await mongo[f"{prefix}_billing"].billing_accounts.find_one({"_id": user_id})
        assert account["status"] == "trialing"
        # the SMS job records the message after Twilio answered: Twilio can have it first
        outbound: list[dict[str, Any]] = []

        async def recorded() -> bool:
            nonlocal outbound
            col = mongo[f"{prefix}_conversation"].outbound_messages
            outbound = await col.find({"user_id": user_id}).to_list()
            return bool(outbound)

        await eventually(recorded)
        assert [m["_id"] for m in outbound] == [fake.to("+14155550101")[0].sid]
    finally:
        await mongo.close()
