"""Nothing personal reaches a log line across a whole conversation (all four services)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from careline_testing.fakes import FakeTwilio
from careline_testing.processes import SERVICES, Cluster
from careline_testing.signing import stripe_event
from careline_testing.waiting import eventually

from .conftest import STRIPE_SECRET, TWILIO_TOKEN
from .helpers import databases, post_stripe
from .test_conversation_journey import Phone

pytestmark = pytest.mark.asyncio
NUMBER = "+14155550171"
SECRETS = (TWILIO_TOKEN, STRIPE_SECRET)
BODIES = (
    "Rosalind",
    "I look after my husband Bartholomew since his stroke",
    "02139",
    "I can't do this anymore, I want to end it all tonight",
    "my neighbour Ignatius helps on Tuesdays",
)


def personal_patterns() -> list[re.Pattern[str]]:
    digits = NUMBER.removeprefix("+1")
    phone_forms = [
        NUMBER,
        digits,
        f"{digits[:3]}-{digits[3:6]}-{digits[6:]}",
        f"({digits[:3]}) {digits[3:6]}",
    ]
    words = ["Rosalind", "Bartholomew", "Ignatius", "02139", "end it all", *SECRETS, *phone_forms]
    return [re.compile(re.escape(w), re.IGNORECASE) for w in words]


async def test_a_full_conversation_leaves_no_personal_data_in_any_log(
    cluster: Cluster, fake_twilio: tuple[FakeTwilio, str], mongo: AsyncMongoClient[Any]
) -> None:
    twilio, _ = fake_twilio
    db = databases(mongo, cluster)
    async with httpx.AsyncClient(timeout=10) as client:
        phone = Phone(client, cluster, twilio, NUMBER)
        await phone.text("hi")
        await phone.text(BODIES[0])  # first name
        await phone.text(BODIES[1])  # relationship
        await phone.text(BODIES[2])  # ZIP
        await phone.text(BODIES[4])  # free text: the agent
        await phone.text(BODIES[3])  # crisis
        await phone.text("STOP")
        event = stripe_event("customer.subscription.updated", {"id": "sub_x", "customer": "cus_unknown"})
        assert (await post_stripe(client, cluster, event)).status_code == 200
        bad = await client.post(
            f"{cluster.base_url}/webhooks/twilio/sms", data={"From": NUMBER, "Body": BODIES[3]}
        )
        assert bad.status_code == 403  # unsigned: rejected, and logged without its content

    # what other processes log on their own clocks is part of the turn too: wait for the crisis
    # alert's job and billing's first try of the Stripe event, then stop every service, so the
    # lines written up to and during shutdown are all read
    async def alert_opened() -> bool:
        return await db["conversation"].crisis_alerts.count_documents({}) == 1

    async def billing_tried_the_event() -> bool:  # an unknown customer's event: parked
        return await db["billing"].parked_stripe_events.count_documents({}) == 1

    await eventually(alert_opened)
    await eventually(billing_tried_the_event)
    await asyncio.to_thread(cluster.stop)  # SIGTERM and wait, off the event loop
    lines: list[tuple[str, str]] = []
    for name in SERVICES:
        text = (cluster.log_dir / f"{name}.log").read_text()
        assert '"service.stopped"' in text, name  # every service's log is complete
        lines += [(name, line) for line in text.splitlines()]
    assert len(lines) > 50 and any('"turn"' in line for _, line in lines)  # the logs are really there
    leaks: list[Any] = [
        (name, pattern.pattern, line[:200])
        for name, line in lines
        for pattern in personal_patterns()
        if pattern.search(line)
    ]
    assert leaks == []
