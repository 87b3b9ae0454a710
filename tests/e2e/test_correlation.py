"""One webhook's correlation id is on every log line of its turn, in all four services."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from careline_testing.fakes import FakeTwilio
from careline_testing.processes import Cluster
from careline_testing.signing import inbound_sms_params, twilio_form
from careline_testing.waiting import eventually

from .conftest import TWILIO_TOKEN

pytestmark = pytest.mark.asyncio


async def test_the_webhooks_correlation_id_follows_the_turn_everywhere(
    cluster: Cluster, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    twilio, _ = fake_twilio
    correlation_id = f"corr-{uuid.uuid4().hex[:12]}"
    url = f"{cluster.base_url}/webhooks/twilio/sms"
    body, headers = twilio_form(TWILIO_TOKEN, url, inbound_sms_params("+14155550201", "hello"))
    async with httpx.AsyncClient(timeout=10) as client:
        resp = await client.post(url, content=body, headers={**headers, "X-Request-Id": correlation_id})
    assert resp.status_code == 200
    await eventually(lambda: len(twilio.to("+14155550201")) == 1)

    def events_with_id() -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for path in cluster.log_dir.glob("*.log"):
            for line in path.read_text().splitlines():
                if correlation_id in line and line.startswith("{"):
                    found.setdefault(path.stem, set()).add(json.loads(line)["event"])
        return found

    def everywhere() -> bool:
        found = events_with_id()
        return (
            "webhook" in found.get("ingress", set())
            and {"message.handled", "turn", "job.completed"} <= found.get("conversation", set())
            and {"message.handled", "job.completed"} <= found.get("billing", set())  # trial + its event
            and "message.handled" in found.get("profile", set())
        )

    await eventually(everywhere, timeout_s=20)
