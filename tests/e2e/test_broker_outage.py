"""While NATS is away ingress spools and answers 200 (Twilio would not retry a 503); when it is
back, the spooled text is drained and answered once, and nothing was lost."""

from __future__ import annotations

import httpx
import pytest

from careline_testing.fakes import FakeTwilio
from careline_testing.processes import Cluster
from careline_testing.servers import ServerProcess
from careline_testing.signing import inbound_sms_params
from careline_testing.waiting import eventually

from .helpers import post_sms, wait_until_settled

pytestmark = pytest.mark.asyncio


async def test_ingress_spools_without_nats_stays_ready_and_recovers(
    cluster: Cluster, nats: ServerProcess, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    """A post during the outage gets 200 and is spooled; readiness holds and reports the depth;
    afterwards the spooled text gets exactly one reply, and a repost of it (within the
    duplicate window or not) none."""
    fake, _ = fake_twilio
    before = inbound_sms_params("+14155550130", "before the outage")
    during = inbound_sms_params("+14155550130", "during the outage")
    async with httpx.AsyncClient(timeout=15) as client:
        assert (await post_sms(client, cluster, before)).status_code == 200
        await eventually(lambda: len(fake.to("+14155550130")) == 1)

        nats.stop()
        assert (await post_sms(client, cluster, during)).status_code == 200
        ready = await client.get(f"{cluster.base_url}/readyz")
        assert ready.status_code == 200
        body = ready.json()
        assert body["nats"] is False and body["spool"] == {"writable": True, "depth": 1}
        assert (await client.get(f"{cluster.base_url}/healthz")).status_code == 200

        nats.start()  # same port, same JetStream store

        async def drained() -> bool:
            answer = (await client.get(f"{cluster.base_url}/readyz")).json()
            return bool(answer["nats"]) and answer["spool"]["depth"] == 0

        await eventually(drained, timeout_s=30)
        assert (await post_sms(client, cluster, during)).status_code == 200  # a provider's repost
    await eventually(lambda: len(fake.to("+14155550130")) == 2, timeout_s=30)
    await wait_until_settled(cluster)
    assert len(fake.to("+14155550130")) == 2
