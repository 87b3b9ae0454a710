"""The four services on a live three-server NATS cluster: the inbound stream's leader dies mid-traffic.

Three ``nats-server`` processes form one JetStream cluster on local ports; every stream is
declared with ``STREAM_REPLICAS=3`` and every service is given all three servers in
``NATS_URL``. While caregivers text (signed Twilio posts, replies through the fake Twilio), the
server that leads the SMS stream is killed with SIGKILL, then started again on its old store.
Every message must get exactly one reply, in the order each caregiver sent them. The test prints
(and writes to ``failover.json`` in its tmp dir) how long the line took to answer again.

A post that ingress cannot make durable while the stream elects a new leader is answered 503;
this test posts it again, as Twilio's connection retry or the fallback URL would (see the
README), and counts those. The same ``MessageSid`` keeps it from being handled twice.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import nats as nats_py
import pytest
import pytest_asyncio
from nats.js import api as js_api
from pymongo import AsyncMongoClient

from careline_contracts import subjects
from careline_testing.fakes import FakeTwilio
from careline_testing.processes import Cluster
from careline_testing.servers import Backends, NatsUsers, ServerProcess, nats_cluster
from careline_testing.signing import inbound_sms_params
from careline_testing.waiting import eventually

from . import helpers
from .conftest import DUPLICATE_WINDOW_S, TWILIO_TOKEN
from .helpers import databases, wait_until_settled

pytestmark = pytest.mark.asyncio
CAREGIVERS, MESSAGES = 16, 6
PACE_S = (1.0, 2.5)  # between one caregiver's messages: traffic flows before, during and after
KILL_AFTER_S = 4.0
DOWN_FOR_S = 8.0
TRAFFIC_TIMEOUT_S = 240.0  # generous: a loaded two-core machine, three servers and four services


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[ServerProcess]]:
    """Three JetStream servers in one cluster; a permission violation in any log fails the test."""
    started = nats_cluster(tmp_path / "nats", NatsUsers.generate())
    try:
        for server in started:
            server.start()
        yield started
    finally:
        for server in started:
            server.kill()
    violations = [
        line for server in started for line in server.log_path.read_text().splitlines() if "Violation" in line
    ]
    assert not violations, f"NATS refused a Careline process: {violations[:3]}"


@pytest_asyncio.fixture
async def harness(servers: list[ServerProcess]) -> AsyncIterator[nats_py.NATS]:
    """The test's own client on every server, once the cluster has a JetStream meta leader."""
    nc = await nats_py.connect([s.url for s in servers], max_reconnect_attempts=-1, reconnect_time_wait=0.5)

    async def jetstream_answers() -> bool:
        try:
            await nc.jetstream().account_info()
        except Exception:
            return False
        return True

    await eventually(jetstream_answers, timeout_s=60)
    yield nc
    await nc.close()


@pytest.fixture
def live(
    harness: nats_py.NATS,
    servers: list[ServerProcess],
    backends: Backends,
    fake_twilio: tuple[FakeTwilio, str],
    tmp_path: Path,
) -> Iterator[Cluster]:
    """The four services, each connected to all three servers, streams at three replicas."""
    _fake, url = fake_twilio
    running = Cluster(
        ",".join(f"nats://127.0.0.1:{server.port}" for server in servers),
        backends.mongodb_uri,
        tmp_path / "logs",
        nats_users=servers[0].users,
        env={
            "DB_PREFIX": "e2efailover",
            "STREAM_REPLICAS": "3",
            "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "TWILIO_API_BASE_URL": url,
            "DUPLICATE_WINDOW_S": str(DUPLICATE_WINDOW_S),
            "TWILIO_TIMEOUT_S": "1",
            "JOBS_LEASE_S": "5",
            "RATE_WINDOW_LIMIT": "100",  # every message gets a reply
            "RATE_DAILY_LIMIT": "100",
        },
    )
    running.start()
    yield running
    running.stop()


async def stream_cluster(js: Any) -> js_api.ClusterInfo | None:
    try:
        return (await js.stream_info(subjects.SMS.name)).cluster
    except Exception:  # no leader at this moment
        return None


@pytest.mark.slow  # started first (tests/conftest.py)
async def test_killing_the_inbound_streams_leader_loses_and_doubles_nothing(
    live: Cluster,
    servers: list[ServerProcess],
    harness: nats_py.NATS,
    fake_twilio: tuple[FakeTwilio, str],
    mongo: AsyncMongoClient[Any],
    tmp_path: Path,
) -> None:
    fake, _ = fake_twilio
    js = harness.jetstream(timeout=1.0)
    info = await js.stream_info(subjects.SMS.name)
    assert info.config.num_replicas == 3
    sent: dict[str, list[str]] = {}
    accepted_at: dict[str, float] = {}
    refused = 0
    rng = random.Random(16)
    killed: dict[str, Any] = {}

    async def post_until_accepted(client: httpx.AsyncClient, params: dict[str, str]) -> None:
        nonlocal refused
        refused += await helpers.post_until_accepted(client, f"{live.base_url}/webhooks/twilio/sms", params)
        accepted_at[params["MessageSid"]] = time.monotonic()

    async def caregiver(client: httpx.AsyncClient, i: int) -> None:
        phone = f"+1415557{i:04d}"
        sent[phone] = []
        await asyncio.sleep(rng.uniform(0, PACE_S[1]))
        for k in range(MESSAGES):
            params = inbound_sms_params(phone, f"message {k}")
            sent[phone].append(params["MessageSid"])
            await post_until_accepted(client, params)
            await asyncio.sleep(rng.uniform(*PACE_S))

    async def kill_the_leader_then_restart_it() -> None:
        await asyncio.sleep(KILL_AFTER_S)  # traffic is flowing
        cluster = await eventually(lambda: stream_cluster(js), timeout_s=30)
        leader = next(server for server in servers if server.name == cluster.leader)
        killed.update(name=leader.name, at=time.monotonic())
        await asyncio.to_thread(leader.kill)  # SIGKILL
        new = await eventually(lambda: new_leader(leader.name), timeout_s=60)
        killed["new_leader"], killed["elected_s"] = new, time.monotonic() - killed["at"]
        await asyncio.sleep(max(DOWN_FOR_S - (time.monotonic() - killed["at"]), 0))
        await asyncio.to_thread(leader.start)  # on its old store: it rejoins and catches up
        killed["restarted_s"] = time.monotonic() - killed["at"]

    async def new_leader(old: str) -> str | None:
        cluster = await stream_cluster(js)
        return cluster.leader if cluster and cluster.leader and cluster.leader != old else None

    began = time.monotonic()
    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(
            kill_the_leader_then_restart_it(), *(caregiver(client, i) for i in range(CAREGIVERS))
        )
    sids = [sid for phone_sids in sent.values() for sid in phone_sids]
    await eventually(lambda: len(fake.messages) >= len(sids), timeout_s=TRAFFIC_TIMEOUT_S)
    all_answered_s = max(m.at for m in fake.messages) - killed["at"]
    await wait_until_settled(live, timeout_s=120)  # a late duplicate would show up by then

    conversation = databases(mongo, live)["conversation"]

    async def every_reply_recorded() -> dict[str, str]:  # recorded just after Twilio answered
        found = {
            d["_id"]: d["job_key"].removeprefix("sms:reply:")
            async for d in conversation.outbound_messages.find({})
        }
        return found if len(found) >= len(sids) else {}

    reply_to = await eventually(every_reply_recorded, timeout_s=30)
    after_kill = [m for m in fake.messages if m.at > killed["at"]]
    posted_after = [m for m in after_kill if accepted_at[reply_to[m.sid]] > killed["at"]]
    measured = {
        "caregivers": CAREGIVERS,
        "messages": len(sids),
        "replies": len(fake.messages),
        "killed": killed["name"],
        "new_leader": killed["new_leader"],
        "leader_elected_s": round(killed["elected_s"], 2),
        "node_restarted_s": round(killed["restarted_s"], 2),
        "first_reply_after_kill_s": round(min(m.at for m in after_kill) - killed["at"], 2),
        "first_reply_to_a_text_posted_after_kill_s": round(min(m.at for m in posted_after) - killed["at"], 2),
        "all_answered_after_kill_s": round(all_answered_s, 2),
        "posts_refused_and_retried": refused,
        "traffic_s": round(time.monotonic() - began, 1),
    }
    (tmp_path / "failover.json").write_text(json.dumps(measured, indent=2))
    print(f"nats cluster failover: {json.dumps(measured)}")

    assert len(fake.messages) == len(sids)  # none doubled ...
    assert sorted(reply_to.values()) == sorted(sids)  # ... none lost
    for phone, phone_sids in sent.items():
        assert [reply_to[m.sid] for m in fake.to(phone)] == phone_sids, phone  # in order

    async def three_current_copies() -> bool:  # the restarted server caught up with the stream
        cluster = await stream_cluster(js)
        peers = cluster.replicas or [] if cluster else []
        return bool(cluster and cluster.leader) and len(peers) == 2 and all(p.current for p in peers)

    await eventually(three_current_copies, timeout_s=60)
