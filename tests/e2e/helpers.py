"""Small helpers the end-to-end tests share."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from careline_platform.services import SERVICE_NAMES
from careline_testing.processes import Cluster
from careline_testing.signing import stripe_post, twilio_form

from .conftest import STRIPE_SECRET, TWILIO_TOKEN


async def post_sms(client: httpx.AsyncClient, cluster: Cluster, params: dict[str, str]) -> httpx.Response:
    url = f"{cluster.base_url}/webhooks/twilio/sms"
    body, headers = twilio_form(TWILIO_TOKEN, url, params)
    return await client.post(url, content=body, headers=headers)


async def post_stripe(client: httpx.AsyncClient, cluster: Cluster, event: dict[str, Any]) -> httpx.Response:
    body, headers = stripe_post(STRIPE_SECRET, event)
    return await client.post(f"{cluster.base_url}/webhooks/stripe", content=body, headers=headers)


def databases(mongo: AsyncMongoClient[Any], cluster: Cluster) -> dict[str, Any]:
    prefix = cluster.env["DB_PREFIX"]
    return {name: mongo[f"{prefix}_{name}"] for name in SERVICE_NAMES}


def move_clock(clock_file: Path, ahead: timedelta) -> None:
    """Every service's clock, ``ahead`` of the wall clock (a plain helper: one small write)."""
    clock_file.write_text(str(ahead.total_seconds()))
