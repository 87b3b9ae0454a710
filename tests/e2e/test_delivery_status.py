"""Twilio's delivery callbacks move an outbound message's status forward, never back."""

from __future__ import annotations

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
from .helpers import databases, post_sms

pytestmark = pytest.mark.asyncio


async def post_status(client: httpx.AsyncClient, cluster: Cluster, sid: str, status: str) -> int:
    url = f"{cluster.base_url}/webhooks/twilio/status"
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "1" * 32}
    body, headers = twilio_form(TWILIO_TOKEN, url, params)
    return (await client.post(url, content=body, headers=headers)).status_code


async def test_status_callbacks_update_the_outbound_record(
    cluster: Cluster, backends: Backends, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    """sent then delivered is applied; a late 'sent' after 'delivered' changes nothing."""
    fake, _ = fake_twilio
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(backends.mongodb_uri)
    outbound = databases(mongo, cluster)["conversation"].outbound_messages
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            await post_sms(client, cluster, inbound_sms_params("+14155550140", "hello"))
            await eventually(lambda: len(fake.to("+14155550140")) == 1)
            sid = fake.to("+14155550140")[0].sid

            async def status_is(expected: str) -> bool:
                doc = await outbound.find_one({"_id": sid})
                return doc is not None and doc["status"] == expected and doc.get("job_key") is not None

            await eventually(lambda: status_is("queued"))
            assert await post_status(client, cluster, sid, "sent") == 200
            await eventually(lambda: status_is("sent"))
            assert await post_status(client, cluster, sid, "delivered") == 200
            await eventually(lambda: status_is("delivered"))
            assert await post_status(client, cluster, sid, "sending") == 200  # late, out of order
            inbox = databases(mongo, cluster)["conversation"].processed_messages
            await eventually(lambda: _exists(inbox, f"twilio-status:{sid}:sending"))
        doc = await outbound.find_one({"_id": sid})
        assert doc is not None and doc["status"] == "delivered"
    finally:
        await mongo.close()


async def _exists(col: Any, key: str) -> bool:
    return bool(await col.count_documents({"_id": key}))
