"""NATS and the MongoDB-wire server restarted mid-run: the system recovers, nothing lost or doubled."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from careline_testing.fakes import FakeTwilio
from careline_testing.processes import Cluster
from careline_testing.servers import Backends, ServerProcess
from careline_testing.signing import inbound_sms_params
from careline_testing.waiting import eventually

from .helpers import post_sms

pytestmark = pytest.mark.asyncio
CAREGIVERS, MESSAGES = 40, 5
PACE_S = 0.6  # between one caregiver's messages, so traffic spans the outage


async def run_traffic_through(
    cluster: Cluster, restart: ServerProcess, prefix: str
) -> tuple[list[int], float]:
    """Send messages (re-posting until 200, as a provider that retries would) while ``restart`` is
    restarted."""
    statuses: list[int] = []

    async def caregiver(client: httpx.AsyncClient, i: int) -> None:
        for k in range(MESSAGES):
            params = inbound_sms_params(f"{prefix}{i:04d}", f"message {k}")
            while True:
                try:
                    code = (await post_sms(client, cluster, params)).status_code
                except httpx.TransportError:
                    code = 0
                statuses.append(code)
                if code == 200:
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(PACE_S)

    async def restart_midway() -> float:
        await asyncio.sleep(1.0)
        restart.stop()
        await asyncio.sleep(2.0)
        restart.start()
        return time.monotonic()

    async with httpx.AsyncClient(timeout=15) as client:
        back_at, _ = await asyncio.gather(
            restart_midway(), asyncio.gather(*(caregiver(client, i) for i in range(CAREGIVERS)))
        )
    return statuses, back_at


@pytest.mark.slow  # started first (tests/conftest.py)
async def test_nats_restart_mid_run(
    cluster: Cluster, nats: ServerProcess, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    """Ingress spools while NATS is away and refuses nothing; afterwards every message has exactly
    one reply."""
    fake, _ = fake_twilio
    statuses, back_at = await run_traffic_through(cluster, nats, "+1415558")
    await eventually(lambda: len(fake.messages) >= CAREGIVERS * MESSAGES, timeout_s=120)
    recovered_s = time.monotonic() - back_at
    await asyncio.sleep(3)
    print(
        f"nats restart: non-200={sum(s != 200 for s in statuses)} replies={len(fake.messages)} "
        f"recovered_in={recovered_s:.1f}s"
    )
    assert set(statuses) == {200}  # every post accepted the first time: spooled, not refused
    assert len(fake.messages) == CAREGIVERS * MESSAGES
    assert len({m.sid for m in fake.messages}) == len(fake.messages)


@pytest.mark.slow  # started first (tests/conftest.py)
async def test_mongodb_restart_mid_run(
    cluster: Cluster, backends: Backends, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    """The database goes away and comes back: services retry, no message lost or answered twice."""
    fake, _ = fake_twilio
    statuses, back_at = await run_traffic_through(cluster, backends.mongo, "+1415559")
    await eventually(lambda: len(fake.messages) >= CAREGIVERS * MESSAGES, timeout_s=180)
    recovered_s = time.monotonic() - back_at
    await asyncio.sleep(3)
    print(
        f"mongo restart: non-200={sum(s != 200 for s in statuses)} replies={len(fake.messages)} "
        f"recovered_in={recovered_s:.1f}s"
    )
    assert len(fake.messages) == CAREGIVERS * MESSAGES
    bodies_per_phone: dict[str, int] = {}
    for m in fake.messages:
        bodies_per_phone[m.to] = bodies_per_phone.get(m.to, 0) + 1
    assert set(bodies_per_phone.values()) == {MESSAGES}
