"""NATS down for a minute while caregivers text: ingress spools, answers 200, and drains in order.

Twilio does not retry a 503 (README, Operations), so every post must be accepted while the
broker is away; once it is back, every text gets exactly one reply, in the order each caregiver
sent them. The second test SIGKILLs ingress while its spool holds texts and starts it again
while NATS is still down: it listens and spools before it can connect.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from careline_testing.fakes import FakeTwilio
from careline_testing.processes import Cluster
from careline_testing.servers import Backends, ServerProcess, wait_for_port
from careline_testing.signing import inbound_sms_params
from careline_testing.waiting import eventually

from .helpers import databases, post_sms, wait_until_settled

pytestmark = pytest.mark.asyncio
CAREGIVERS, MESSAGES = 10, 10
OUTAGE_S = 60.0


@pytest.fixture
def cluster_env() -> dict[str, str]:
    return {"RATE_WINDOW_LIMIT": "100", "RATE_DAILY_LIMIT": "100"}  # every text gets a reply


async def send(
    client: httpx.AsyncClient, cluster: Cluster, phones: list[str], texts: range, pace_s: float
) -> dict[str, list[str]]:
    """Each caregiver's texts one after another (as Twilio posts them), all caregivers at once;
    every post must be answered 200. Returns each caregiver's MessageSids in sending order."""
    sent: dict[str, list[str]] = {p: [] for p in phones}

    async def caregiver(phone: str) -> None:
        for k in texts:
            params = inbound_sms_params(phone, f"message {k}")
            resp = await post_sms(client, cluster, params)
            assert resp.status_code == 200, (phone, k, resp.status_code, resp.text)
            sent[phone].append(params["MessageSid"])
            await asyncio.sleep(pace_s)

    await asyncio.gather(*(caregiver(p) for p in phones))
    return sent


async def spool_depth(client: httpx.AsyncClient, cluster: Cluster) -> int:
    ready = await client.get(f"{cluster.base_url}/readyz")
    assert ready.status_code == 200, ready.text  # the spool can write: still ready
    depth: int = ready.json()["spool"]["depth"]
    return depth


async def assert_one_reply_each_in_order(
    cluster: Cluster, backends: Backends, fake: FakeTwilio, sent: dict[str, list[str]]
) -> None:
    total = sum(len(sids) for sids in sent.values())
    await wait_until_settled(cluster, timeout_s=120)
    assert len(fake.messages) == total  # none lost, none doubled
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(backends.mongodb_uri)
    try:
        db = databases(mongo, cluster)["conversation"]
        job_of_sid: dict[str, str] = {}

        async def every_reply_recorded() -> bool:  # recorded after Twilio answered
            nonlocal job_of_sid
            job_of_sid = {d["_id"]: d["job_key"] async for d in db.outbound_messages.find({})}
            return len(job_of_sid) >= total

        await eventually(every_reply_recorded, timeout_s=30)
    finally:
        await mongo.close()
    for phone, sids in sent.items():
        replied_to = [job_of_sid[m.sid].removeprefix("sms:reply:") for m in fake.to(phone)]
        assert replied_to == sids, phone  # one reply per text, in the order they were sent


@pytest.mark.slow  # started first (tests/conftest.py)
async def test_a_minute_without_nats_loses_no_text_and_keeps_each_caregivers_order(
    cluster: Cluster, backends: Backends, nats: ServerProcess, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    fake, _ = fake_twilio
    phones = [f"+1415557{i:04d}" for i in range(CAREGIVERS)]
    async with httpx.AsyncClient(timeout=15) as client:
        nats.stop()
        stopped = time.monotonic()
        # 100 texts spread over most of the outage
        sent = await send(client, cluster, phones, range(MESSAGES), pace_s=(OUTAGE_S - 10) / MESSAGES)
        assert await spool_depth(client, cluster) >= CAREGIVERS * MESSAGES  # + each user.registered
        assert fake.messages == []
        await asyncio.sleep(max(OUTAGE_S - (time.monotonic() - stopped), 0))
        nats.start()  # same port, same JetStream store
        back = time.monotonic()

        async def drained() -> bool:
            return await spool_depth(client, cluster) == 0

        await eventually(drained, timeout_s=120)
        drain_s = time.monotonic() - back
    await eventually(lambda: len(fake.messages) >= CAREGIVERS * MESSAGES, timeout_s=240)
    answered_s = time.monotonic() - back
    print(f"spool: outage={OUTAGE_S:.0f}s drained_in={drain_s:.1f}s all_answered_in={answered_s:.1f}s")
    await assert_one_reply_each_in_order(cluster, backends, fake, sent)


@pytest.mark.slow
async def test_ingress_killed_with_a_full_spool_drains_it_after_a_restart(
    cluster: Cluster, backends: Backends, nats: ServerProcess, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    """SIGKILL while the spool holds texts. The restarted ingress listens at once, NATS still
    down, and spools what it is sent behind what the killed one left; once NATS is back it sends
    them all, oldest first, then the rest."""
    fake, _ = fake_twilio
    phones = [f"+1415558{i:04d}" for i in range(CAREGIVERS)]
    half = MESSAGES // 2
    ingress = cluster.processes["ingress"]
    async with httpx.AsyncClient(timeout=15) as client:
        nats.stop()
        sent = await send(client, cluster, phones, range(half), pace_s=0.2)
        assert await spool_depth(client, cluster) >= CAREGIVERS * half
        ingress.kill()
        ingress.start()  # listens before it connects (ServiceDefinition.edge_first)
        await asyncio.to_thread(wait_for_port, cluster.ingress_port, 30.0, ingress.proc)
        during = await send(client, cluster, phones, range(half, half + 2), pace_s=0.2)
        assert await spool_depth(client, cluster) >= CAREGIVERS * (half + 2)
        assert fake.messages == []
        nats.start()
        back = time.monotonic()
        await asyncio.to_thread(ingress.wait_started, 90.0)
        later = await send(client, cluster, phones, range(half + 2, MESSAGES), pace_s=0.2)
    for phone in phones:
        sent[phone] += during[phone] + later[phone]
    await eventually(lambda: len(fake.messages) >= CAREGIVERS * MESSAGES, timeout_s=240)
    print(f"spool after SIGKILL: all_answered_in={time.monotonic() - back:.1f}s")
    await assert_one_reply_each_in_order(cluster, backends, fake, sent)


@pytest.mark.slow
async def test_a_first_text_while_mongodb_is_away_is_held_and_answered_once_it_is_back(
    cluster: Cluster, backends: Backends, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    """The identity lookup does not answer: the verified text is spooled whole and the new
    caregiver is created when it drains; the reply comes once, and a repost changes nothing."""
    fake, _ = fake_twilio
    phone = "+14155559876"
    params = inbound_sms_params(phone, "hello, is anyone there?")
    async with httpx.AsyncClient(timeout=15) as client:
        backends.mongo.stop()
        try:
            began = time.monotonic()
            resp = await post_sms(client, cluster, params)
            answered_s = time.monotonic() - began
            assert resp.status_code == 200, resp.text
            ready = (await client.get(f"{cluster.base_url}/readyz")).json()
            assert ready["mongodb"] is False and ready["ready"] is True
            assert ready["spool"]["depth"] == 1
        finally:
            backends.mongo.start()
        await eventually(lambda: len(fake.to(phone)) == 1, timeout_s=120)
        assert (await post_sms(client, cluster, params)).status_code == 200  # Twilio's repost
    await wait_until_settled(cluster, timeout_s=60)
    assert len(fake.to(phone)) == 1
    assert answered_s < 10  # well inside Twilio's 15 s
