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

import pytest

from careline_platform.runtime import (
    Infrastructure,
    ServiceDefinition,
    ServiceRuntime,
    connect_infrastructure,
)
from careline_platform.settings import Settings
from careline_testing.servers import Backends, ServerProcess

pytestmark = pytest.mark.asyncio
_names = itertools.count()


async def probe_infrastructure(backends: Backends, nats: ServerProcess) -> Infrastructure:
    settings = Settings(
        nats_url=nats.url,
        mongodb_uri=backends.mongodb_uri,
        db_prefix=f"startup{next(_names)}",
        metrics_port=None,
    )
    return await connect_infrastructure(settings, "probe")


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
