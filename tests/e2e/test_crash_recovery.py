"""SIGKILL at random points while conversations run: every message gets exactly one reply."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from careline_testing.fakes import FakeTwilio
from careline_testing.processes import Cluster
from careline_testing.servers import Backends
from careline_testing.signing import inbound_sms_params
from careline_testing.waiting import eventually

from .helpers import databases, post_until_accepted, wait_until_settled

pytestmark = pytest.mark.asyncio
CAREGIVERS, MESSAGES = 200, 2


@pytest.mark.slow  # started first (tests/conftest.py)
async def test_every_message_gets_exactly_one_reply_across_sigkills(
    cluster: Cluster, backends: Backends, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    """Each service is SIGKILLed and restarted at random moments; afterwards no loss, no duplicate."""
    fake, _ = fake_twilio
    rng = random.Random(20261126)
    sids: list[str] = []
    kills: list[str] = []
    started = time.monotonic()

    async def traffic() -> None:
        async with httpx.AsyncClient(timeout=10) as client:

            async def caregiver(i: int) -> None:
                for k in range(MESSAGES):
                    params = inbound_sms_params(f"+1415557{i:04d}", f"message {k}")
                    sids.append(params["MessageSid"])
                    await post_until_accepted(client, f"{cluster.base_url}/webhooks/twilio/sms", params)

            await asyncio.gather(*(caregiver(i) for i in range(CAREGIVERS)))

    async def chaos(stop: asyncio.Event) -> None:
        """Kill the services in turn at random moments; each is back up before the next kill.

        Killing goes on after the last post until every service died twice: the backlog the
        traffic left is still being worked through then.
        """
        victims = ["conversation", "ingress", "billing", "profile"]
        while not (stop.is_set() and len(kills) >= 2 * len(victims)):
            await asyncio.sleep(rng.uniform(0.2, 2.0))
            name = victims[len(kills) % len(victims)]
            process = cluster.processes[name]
            process.kill()
            kills.append(name)
            process.start()
            await asyncio.to_thread(process.wait_started)

    stop = asyncio.Event()
    chaos_task = asyncio.create_task(chaos(stop))
    await traffic()
    stop.set()  # the conversations are over; now the system must catch up on its own
    await chaos_task
    try:
        await eventually(lambda: len(fake.messages) >= CAREGIVERS * MESSAGES, timeout_s=240)
    except AssertionError:
        print(f"kills={kills} messages={len(sids)} replies={len(fake.messages)}")
        raise
    await wait_until_settled(cluster, timeout_s=90)  # a late duplicate would show up by then
    recovered_s = time.monotonic() - started

    mongo: AsyncMongoClient[Any] = AsyncMongoClient(backends.mongodb_uri)
    dbs = databases(mongo, cluster)
    replied: list[str] = []
    try:
        # a send whose process was killed before recording it is recorded by the retry, once the
        # killed worker's lease (JOBS_LEASE_S=5) ran out (its job counted as in flight till then)
        async def every_reply_recorded() -> bool:
            nonlocal replied
            replied = [d["job_key"] async for d in dbs["conversation"].outbound_messages.find({})]
            return len(replied) >= len(sids)

        await eventually(every_reply_recorded, timeout_s=60)
        users = await dbs["ingress"].users.count_documents({})

        async def every_slice_exists() -> bool:
            profiles = await dbs["profile"].user_profiles.count_documents({})
            accounts = await dbs["billing"].billing_accounts.count_documents({})
            return profiles == accounts == CAREGIVERS

        await eventually(every_slice_exists, timeout_s=60)
    finally:
        await mongo.close()
    print(f"kills={kills} messages={len(sids)} replies={len(fake.messages)} seconds={recovered_s:.1f}")
    assert len(kills) >= 8
    assert len(fake.messages) == CAREGIVERS * MESSAGES  # none duplicated ...
    assert sorted(k.removeprefix("sms:reply:") for k in replied) == sorted(sids)  # ... none lost
    assert users == CAREGIVERS
