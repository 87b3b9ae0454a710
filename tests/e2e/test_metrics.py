"""Every service exposes Prometheus metrics: messages, handler latency, jobs, lag, webhooks."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from careline_testing.fakes import FakeTwilio
from careline_testing.processes import Cluster
from careline_testing.signing import inbound_sms_params
from careline_testing.waiting import eventually

from .helpers import post_sms

pytestmark = pytest.mark.asyncio


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def test_each_service_reports_what_it_did(
    cluster: Cluster, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    twilio, _ = fake_twilio
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await post_sms(client, cluster, inbound_sms_params("+14155550211", "hi"))).status_code == 200
        await eventually(lambda: len(twilio.to("+14155550211")) == 1)

        async def scrape(service: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
            if service == "ingress":
                url = f"{cluster.base_url}/metrics"
            else:
                url = f"http://127.0.0.1:{cluster.metrics_ports[service]}/metrics"
            return samples((await client.get(url)).text)

        ingress = await scrape("ingress")
        assert value(ingress, "careline_webhook_seconds_count", kind="twilio-sms", status="200") >= 1

        async def conversation_counted() -> bool:
            found = await scrape("conversation")
            return (
                value(found, "careline_messages_total", subject="sms.inbound.received", outcome="handled")
                >= 1
                and value(found, "careline_jobs_finished_total", type="sms.send", outcome="completed") >= 1
                and value(found, "careline_handler_seconds_count", durable="conversation-sms-inbound") >= 1
                and ("careline_jobs", frozenset({("status", "pending")})) in found
                and ("careline_jobs", frozenset({("status", "completed")})) not in found
                and ("careline_consumer_pending", frozenset({("durable", "conversation-sms-inbound-p0")}))
                in found
            )

        await eventually(conversation_counted, timeout_s=20)
        # Billing and profile handle user.registered on their own clocks: the reply can
        # reach Twilio before either has counted it.
        for service in ("billing", "profile"):

            async def registered_counted(service: str = service) -> bool:
                found = await scrape(service)
                return (
                    value(found, "careline_messages_total", subject="user.registered", outcome="handled") >= 1
                )

            await eventually(registered_counted, timeout_s=20)
