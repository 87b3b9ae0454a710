"""Small helpers the end-to-end tests share."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
from pymongo import AsyncMongoClient

from careline_platform.services import SERVICE_NAMES
from careline_testing.processes import Cluster
from careline_testing.signing import stripe_post, twilio_form
from careline_testing.waiting import consumers_caught_up, eventually, last_sequences

from .conftest import STRIPE_SECRET, TWILIO_TOKEN


async def post_sms(client: httpx.AsyncClient, cluster: Cluster, params: dict[str, str]) -> httpx.Response:
    url = f"{cluster.base_url}/webhooks/twilio/sms"
    body, headers = twilio_form(TWILIO_TOKEN, url, params)
    return await client.post(url, content=body, headers=headers)


async def post_until_accepted(
    client: httpx.AsyncClient,
    signed_url: str,
    params: dict[str, str],
    *,
    target: Callable[[], str] | None = None,
    pause_s: float = 0.5,
) -> int:
    """Post a signed inbound text until ingress answers 200; how many posts were refused.

    Not what Twilio does: it retries only a connection it could not make, once, within 15 s, and
    never a 503 (README, Operations). The tests that kill or roll parts of the line post again so
    that they can count the refusals, each a text Twilio could have lost, and still check that
    every accepted text is answered once. ``target`` says where to post now, when that is not
    the URL Twilio signs (a replacement ingress on another port).
    """
    body, headers = twilio_form(TWILIO_TOKEN, signed_url, params)
    refused = 0
    while True:
        try:
            url = target() if target is not None else signed_url
            if (await client.post(url, content=body, headers=headers)).status_code == 200:
                return refused
        except httpx.TransportError:
            pass
        refused += 1
        await asyncio.sleep(pause_s)


async def post_stripe(client: httpx.AsyncClient, cluster: Cluster, event: dict[str, Any]) -> httpx.Response:
    """``event`` signed as Stripe would: with the cluster's STRIPE_WEBHOOK_SECRET, or the
    sandbox's public secret when it runs Stripe's sandbox."""
    body, headers = stripe_post(cluster.env.get("STRIPE_WEBHOOK_SECRET", STRIPE_SECRET), event)
    return await client.post(f"{cluster.base_url}/webhooks/stripe", content=body, headers=headers)


def databases(mongo: AsyncMongoClient[Any], cluster: Cluster) -> dict[str, Any]:
    prefix = cluster.env["DB_PREFIX"]
    return {name: mongo[f"{prefix}_{name}"] for name in SERVICE_NAMES}


def move_clock(clock_file: Path, ahead: timedelta) -> None:
    """Every service's clock, ``ahead`` of the wall clock (a plain helper: one small write)."""
    clock_file.write_text(str(ahead.total_seconds()))


def clock_offset(cluster: Cluster) -> timedelta:
    """How far the cluster's clock file (if it has one) moved every service's time."""
    path = cluster.env.get("CLOCK_OFFSET_FILE")
    text = Path(path).read_text().strip() if path and Path(path).exists() else ""
    return timedelta(seconds=float(text or 0))


async def jobs_in_flight(mongo: AsyncMongoClient[Any], cluster: Cluster) -> int:
    """Jobs of the four services that run, wait for a retry, or are due by the services' clock.

    A job scheduled for later (a trial's end, a check-in) is not in flight until it is due.
    """
    due = datetime.now(UTC) + clock_offset(cluster)
    query = {
        "$or": [
            {"status": {"$in": ["processing", "failed"]}},
            {"status": "pending", "next_attempt_at": {"$lte": due}},
        ]
    }
    return sum([await db.jobs.count_documents(query) for db in databases(mongo, cluster).values()])


async def wait_until_settled(cluster: Cluster, timeout_s: float = 30.0) -> None:
    """Wait until nothing is in flight: each consumer acknowledged all its stream holds and no job
    runs, waits for a retry or is due, with no stream growing meanwhile.

    What a test waits for before it asserts that something did *not* happen (a second reply, a
    second change): whatever the last message could have caused has happened by then, since a
    reply is a job and an event is a stream message, and a consumer acks only after its commit.
    """
    nc = await nats.connect(cluster.harness_servers)
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(cluster.mongodb_uri, tz_aware=True)
    try:
        js = nc.jetstream()

        async def settled() -> bool:
            before = await last_sequences(js)
            if not await consumers_caught_up(js) or await jobs_in_flight(mongo, cluster):
                return False
            # a job that finished between the two checks may have published: look again
            return await consumers_caught_up(js) and await last_sequences(js) == before

        await eventually(settled, timeout_s=timeout_s)
    finally:
        await nc.close()
        await mongo.close()
