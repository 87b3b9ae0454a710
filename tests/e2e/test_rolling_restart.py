"""A rolling restart of every service while caregivers text: no message lost, none answered twice.

Like a Kubernetes rolling update that surges first (maxUnavailable 0): the replacements start
while the old processes still serve, then the old ones get SIGTERM one at a time, with traffic
flowing, and must drain and exit 0 on their own; meanwhile each service runs two replicas that
share its durable consumers and jobs. Ingress's replacement listens on a new port and the callers
switch to it (the Service's endpoints changing) before the old one stops. The replacements start
together, not one before each stop, only to keep the test short on a two-core machine.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from careline_testing.fakes import FakeTwilio
from careline_testing.processes import SERVICES, Cluster, ServiceProcess
from careline_testing.servers import free_port, wait_for_port
from careline_testing.signing import inbound_sms_params
from careline_testing.waiting import eventually

from . import helpers
from .helpers import databases, wait_until_settled

pytestmark = pytest.mark.asyncio
CAREGIVERS = 40
MIN_MESSAGES, MAX_MESSAGES = 2, 6
PACE_S = (3.0, 5.0)  # between one caregiver's messages: traffic keeps flowing through every restart
SHUTDOWN_LIMIT_S = 15.0


@pytest.fixture
def cluster_env() -> dict[str, str]:
    return {"RATE_WINDOW_LIMIT": "100", "RATE_DAILY_LIMIT": "100"}  # every message gets a reply


class Rollout:
    """Replaces the cluster's processes one at a time and records how each old one stopped."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.ingress_url = cluster.base_url
        self.stops: list[dict[str, Any]] = []

    def replacement_for(self, process: ServiceProcess, generation: int) -> ServiceProcess:
        env = dict(process.env)
        if process.name == "ingress":
            env["INGRESS_PORT"] = str(free_port())  # PUBLIC_BASE_URL stays: Twilio signs that
        else:
            env["METRICS_PORT"] = str(free_port())
        log_path = process.log_path.with_name(f"{process.log_path.stem}.{generation}.log")
        return ServiceProcess(process.name, env, log_path)

    async def start_replacement(self, process: ServiceProcess, generation: int) -> ServiceProcess:
        new = self.replacement_for(process, generation)
        new.start()
        if new.name == "ingress":
            await asyncio.to_thread(wait_for_port, int(new.env["INGRESS_PORT"]), 90.0, new.proc)
        await asyncio.to_thread(new.wait_started, 90.0)
        return new

    async def terminate(self, process: ServiceProcess) -> None:
        """SIGTERM, then wait for the process to exit on its own; record how it went."""
        assert process.proc is not None
        sent, log_offset = time.monotonic(), process.log_path.stat().st_size
        process.signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.proc.wait, 60)
        self.stops.append(
            {
                "process": process.log_path.stem,
                "exit_code": code,
                "seconds": round(time.monotonic() - sent, 2),
                **stop_record(process.log_path, log_offset),
            }
        )


def stop_record(log_path: Path, since: int) -> dict[str, Any]:
    """From the old process's log after SIGTERM: its stop lines, and any error logged meanwhile."""
    stopping, stopped, errors = False, {}, 0
    with open(log_path, "rb") as log:
        log.seek(since)
        lines = log.read().decode(errors="replace").splitlines()
    for line in lines:
        if not line.startswith("{"):
            errors += "Traceback" in line or "ERROR" in line
            continue
        record = json.loads(line)
        stopping = stopping or record.get("event") == "service.stopping"
        if record.get("event") == "service.stopped":
            stopped = {k: v for k, v in record.items() if k.startswith(("messages_", "jobs_"))}
        errors += record.get("level") in {"error", "critical"}
    return {"logged_stopping": stopping, "logged_stopped": bool(stopped), "errors": errors, **stopped}


@pytest.mark.slow  # started first (tests/conftest.py)
async def test_rolling_restart_of_every_service_loses_and_doubles_nothing(
    cluster: Cluster, fake_twilio: tuple[FakeTwilio, str], mongo: AsyncMongoClient[Any]
) -> None:
    fake, _ = fake_twilio
    began = time.monotonic()
    rollout = Rollout(cluster)
    rolled = asyncio.Event()
    sids: list[str] = []
    per_phone: dict[str, int] = {}
    refused = 0
    rng = random.Random(7)

    async def post_until_accepted(client: httpx.AsyncClient, params: dict[str, str]) -> None:
        nonlocal refused
        signed_url = f"{cluster.base_url}/webhooks/twilio/sms"
        target = lambda: f"{rollout.ingress_url}/webhooks/twilio/sms"  # noqa: E731
        refused += await helpers.post_until_accepted(client, signed_url, params, target=target, pause_s=0.3)

    async def caregiver(client: httpx.AsyncClient, i: int) -> None:
        phone = f"+1415554{i:04d}"
        await asyncio.sleep(rng.uniform(0, PACE_S[1]))
        k = 0
        while k < MAX_MESSAGES and (k < MIN_MESSAGES or not rolled.is_set()):
            params = inbound_sms_params(phone, f"message {k}")
            sids.append(params["MessageSid"])
            await post_until_accepted(client, params)
            per_phone[phone] = per_phone.get(phone, 0) + 1
            k += 1
            await asyncio.sleep(rng.uniform(*PACE_S))

    async def roll_every_service() -> None:
        await asyncio.sleep(1.0)  # traffic is flowing
        olds = [cluster.processes[name] for name in SERVICES]
        news = await asyncio.gather(*(rollout.start_replacement(old, 2) for old in olds))
        for old, new in zip(olds, news, strict=True):
            if new.name == "ingress":
                rollout.ingress_url = f"http://127.0.0.1:{new.env['INGRESS_PORT']}"
                await asyncio.sleep(0.5)  # requests already routed to the old one still arrive
            await rollout.terminate(old)
            cluster.processes[new.name] = new  # the fixture stops the replacements
            await asyncio.sleep(1.0)  # traffic flows between one stop and the next
        rolled.set()

    async with httpx.AsyncClient(timeout=15) as client:
        await asyncio.gather(roll_every_service(), *(caregiver(client, i) for i in range(CAREGIVERS)))
    traffic_s = time.monotonic() - began
    await eventually(lambda: len(fake.messages) >= len(sids), timeout_s=90)
    await wait_until_settled(cluster, timeout_s=90)  # a late duplicate would show up by then
    total_s = time.monotonic() - began

    conversation = databases(mongo, cluster)["conversation"]
    replied = [d["job_key"] async for d in conversation.outbound_messages.find({})]
    stuck = await conversation.jobs.count_documents({"status": "processing"})
    print(
        f"rolling restart: caregivers={CAREGIVERS} messages={len(sids)} replies={len(fake.messages)} "
        f"duplicates={len(fake.messages) - len({m.sid for m in fake.messages})} refused_posts={refused} "
        f"traffic_s={traffic_s:.1f} total_s={total_s:.1f}"
    )
    for stop in rollout.stops:
        print(f"  stopped {stop}")

    assert [stop["process"] for stop in rollout.stops] == list(SERVICES)
    for stop in rollout.stops:
        assert stop["exit_code"] == 0, stop
        assert stop["seconds"] < SHUTDOWN_LIMIT_S, stop
        assert stop["logged_stopped"], stop
        assert stop["errors"] == 0, stop
        assert stop["logged_stopping"], stop  # ingress too: the shared runtime stops it
    assert len(fake.messages) == len(sids)  # none duplicated ...
    assert sorted(k.removeprefix("sms:reply:") for k in replied) == sorted(sids)  # ... none lost
    for phone, sent in per_phone.items():
        assert len(fake.to(phone)) == sent, phone
    assert stuck == 0  # no job left leased by a stopped replica
