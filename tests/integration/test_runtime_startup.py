"""A service signalled in the middle of its start-up stops what had started, and exits.

Kubernetes may send SIGTERM at any moment, start-up included. A process that had started its
job worker but not yet its HTTP server used to log ``service.stopped`` and keep running, its
worker still claiming jobs, until the kubelet's SIGKILL.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
from collections.abc import Awaitable, Callable

import pytest

from careline_platform.production import ConfigurationError
from careline_platform.runtime import (
    Infrastructure,
    ServiceDefinition,
    ServiceRuntime,
    build_infrastructure,
    connect_infrastructure,
)
from careline_platform.settings import Settings
from careline_testing.servers import Backends, ServerProcess
from careline_testing.waiting import eventually

pytestmark = pytest.mark.asyncio
_names = itertools.count()


def probe_settings(backends: Backends, nats: ServerProcess) -> Settings:
    return Settings(
        nats_url=nats.url,
        mongodb_uri=backends.mongodb_uri,
        db_prefix=f"startup{next(_names)}",
        metrics_port=None,
    )


async def probe_infrastructure(backends: Backends, nats: ServerProcess) -> Infrastructure:
    return await connect_infrastructure(probe_settings(backends, nats), "probe")


class EdgeThatNeverStarts(ServiceRuntime):
    """The pipeline starts; the edge (an HTTP server in ingress) hangs until cancelled."""

    edge_starting: asyncio.Event

    async def start_edge(self) -> None:
        self.edge_starting.set()
        await asyncio.Event().wait()


async def test_sigterm_while_the_edge_starts_stops_the_worker_and_returns(
    backends: Backends, nats: ServerProcess
) -> None:
    infra = await probe_infrastructure(backends, nats)
    runtime = EdgeThatNeverStarts(infra, ServiceDefinition("probe"))
    runtime.edge_starting = asyncio.Event()
    run = asyncio.create_task(runtime.run_until_signalled())
    await asyncio.wait_for(runtime.edge_starting.wait(), 30)
    assert runtime.worker is not None and runtime.worker.active  # the pipeline had started

    os.kill(os.getpid(), signal.SIGTERM)  # the runtime's loop handler takes it, not pytest
    await asyncio.wait_for(run, 30)
    assert not runtime.worker.active
    assert not runtime.running


async def test_sigterm_while_waiting_for_another_services_stream_exits_cleanly(
    backends: Backends, nats: ServerProcess
) -> None:
    """Profile waits for ingress's USERS stream at start; a signal then stops it without an error
    (its consumers were declared on the router but never started)."""
    infra = await probe_infrastructure(backends, nats)
    waiting = asyncio.Event()

    async def a_stream_that_never_comes() -> None:
        waiting.set()
        await asyncio.Event().wait()

    runtime = ServiceRuntime(infra, ServiceDefinition("probe", on_start=[a_stream_that_never_comes]))
    run = asyncio.create_task(runtime.run_until_signalled())
    await asyncio.wait_for(waiting.wait(), 30)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(run, 30)  # returns, does not raise
    assert runtime.worker is None and not runtime.running


class RecordedEdge(ServiceRuntime):
    """An edge that only notes when it started, beside the definition's own steps."""

    order: list[str]

    async def start_edge(self) -> None:
        self.order.append("edge")


def edge_first(infra: Infrastructure) -> RecordedEdge:
    order: list[str] = []

    def note(what: str) -> Callable[[], Awaitable[None]]:
        async def step() -> None:
            order.append(what)

        return step

    definition = ServiceDefinition(
        "probe", edge_first=True, before_edge=[note("spool")], on_start=[note("declare")]
    )
    runtime = RecordedEdge(infra, definition)
    runtime.order = order
    return runtime


async def test_an_edge_first_service_listens_while_nats_is_down_and_starts_once_it_is_back(
    backends: Backends, nats: ServerProcess
) -> None:
    """Ingress's order: its spool, then its edge, then NATS for as long as it takes (a replica
    started during an outage answers Twilio and spools), then the rest."""
    nats.stop()
    infra = build_infrastructure(probe_settings(backends, nats), "probe")
    runtime = edge_first(infra)
    starting = asyncio.create_task(runtime.start())
    await eventually(lambda: runtime.order == ["spool", "edge"], timeout_s=10)
    await asyncio.sleep(1.5)  # two tries to connect, and more to come
    assert runtime.order == ["spool", "edge"] and not infra.broker_connected() and not runtime.running
    nats.start()
    await asyncio.wait_for(starting, 60)
    assert runtime.order == ["spool", "edge", "declare"] and runtime.running and infra.broker_connected()
    await runtime.stop()


async def test_sigterm_while_an_edge_first_service_waits_for_nats_exits_cleanly(
    backends: Backends, nats: ServerProcess
) -> None:
    nats.stop()
    infra = build_infrastructure(probe_settings(backends, nats), "probe")
    runtime = edge_first(infra)
    run = asyncio.create_task(runtime.run_until_signalled())
    await eventually(lambda: runtime.order == ["spool", "edge"], timeout_s=10)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(run, 30)  # returns, does not raise: a broker never connected stops too
    assert runtime.order == ["spool", "edge"] and not runtime.running


async def test_credentials_nats_refuses_end_the_start_at_once_even_for_an_edge_first_service(
    backends: Backends, nats: ServerProcess
) -> None:
    """Waiting "as long as it takes" is for a server that is away, not for a wrong password: that
    will not fix itself, so the service stops with a configuration error (exit status 78)."""
    settings = Settings(
        nats_url=f"nats://127.0.0.1:{nats.port}",
        nats_user="ingress",
        nats_password="not-the-password-ingress-has",
        mongodb_uri=backends.mongodb_uri,
        db_prefix=f"startup{next(_names)}",
        metrics_port=None,
    )
    infra = build_infrastructure(settings, "ingress")
    runtime = edge_first(infra)
    with pytest.raises(ConfigurationError, match="NATS refused the ingress user's credentials"):
        await asyncio.wait_for(runtime.start(), 10)  # the first try, not a retry loop
    assert runtime.order == ["spool", "edge"] and not runtime.running
    await runtime.stop()
