"""While NATS is away ingress answers 503 (Twilio retries); when it is back, nothing was lost."""

from __future__ import annotations

import httpx
import pytest

from careline_testing.fakes import FakeTwilio
from careline_testing.processes import Cluster
from careline_testing.servers import ServerProcess
from careline_testing.signing import inbound_sms_params
from careline_testing.waiting import eventually

from .helpers import post_sms

pytestmark = pytest.mark.asyncio


async def test_ingress_answers_503_without_nats_and_recovers(
    cluster: Cluster, nats: ServerProcess, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    """Posts during the outage get 503 and not-ready; the same posts after it get one reply each."""
    fake, _ = fake_twilio
    before = inbound_sms_params("+14155550130", "before the outage")
    during = inbound_sms_params("+14155550130", "during the outage")
    async with httpx.AsyncClient(timeout=15) as client:
        assert (await post_sms(client, cluster, before)).status_code == 200
        await eventually(lambda: len(fake.to("+14155550130")) == 1)

        nats.stop()
        assert (await post_sms(client, cluster, during)).status_code == 503
        assert (await client.get(f"{cluster.base_url}/readyz")).status_code == 503
        assert (await client.get(f"{cluster.base_url}/healthz")).status_code == 200

        nats.start()  # same port, same JetStream store

        async def accepted() -> bool:  # Twilio's retry of the refused message
            return (await post_sms(client, cluster, during)).status_code == 200

        await eventually(accepted, timeout_s=30)
        assert (await client.get(f"{cluster.base_url}/readyz")).status_code == 200
    await eventually(lambda: len(fake.to("+14155550130")) == 2, timeout_s=30)
    assert len(fake.to("+14155550130")) == 2
