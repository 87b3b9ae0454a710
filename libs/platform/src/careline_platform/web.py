"""An HTTP server inside a service's lifecycle: started last, stopped first.

Ingress is a service like the others (connect, declare its streams, consume, work, stop in
order on SIGTERM) with an HTTP edge in front. :class:`WebServiceRuntime` is the shared
:class:`~careline_platform.runtime.ServiceRuntime` plus that edge:

- start: everything the runtime starts (streams, consumers, job worker), then the HTTP server,
  so no webhook is accepted before it can be made durable; or, for ingress
  (``ServiceDefinition.edge_first``), its spool, then the HTTP server, then the connections and
  the rest: the spool makes a webhook durable before NATS answers;
- stop: the HTTP server first (stop accepting, answer the requests in flight, each of which
  ends once JetStream acknowledged or refused it), then the runtime's own stop (consumers and
  jobs drain, ``on_stop`` steps, NATS and MongoDB close last).

The runtime owns the signals (``run_until_signalled``), so uvicorn is told not to install its
own handlers, and it runs on the service's event loop rather than owning one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import uvicorn

from careline_platform.logging import get_logger
from careline_platform.runtime import Infrastructure, ServiceDefinition, ServiceRuntime

log = get_logger(__name__)
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
"""An ASGI application (scope, receive, send), such as a FastAPI app."""
KEEP_ALIVE_S = 65
"""How long an idle kept-alive connection stays open (see :class:`WebServer`)."""


class _SignalFreeServer(uvicorn.Server):
    """uvicorn's server without its signal handlers: the service runtime owns SIGTERM/SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class WebServer:
    """One uvicorn server on the running loop, started and stopped by the caller."""

    def __init__(self, app: ASGIApp, host: str, port: int, grace_s: float) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",  # connections belong to the runtime, not to the ASGI app
            # bounded so the pod stops within its grace: what outlasts it is cancelled
            timeout_graceful_shutdown=round(grace_s),
            # Longer than the idle timeout of the proxy in front (60 s on the common load
            # balancers): uvicorn's default of 5 s lets the server close a kept-alive connection
            # just as a client sends its next request on it, and that request is lost (the
            # client sees a reset, not an answer). The closing side must be the client's.
            timeout_keep_alive=KEEP_ALIVE_S,
        )
        self.port = port
        self.server = _SignalFreeServer(config)
        self.serving: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Bind and serve; returns once the port accepts connections.

        A port that cannot be bound ends the process as uvicorn does (exit status 3).
        """
        self.serving = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.serving.done():
                await self.serving
                raise RuntimeError(f"the HTTP server stopped during start-up (port {self.port})")
            await asyncio.sleep(0.01)
        log.info("http.serving", port=self.port)

    async def stop(self) -> None:
        """Stop accepting, let the requests in flight be answered, then return."""
        if self.serving is None or self.serving.done():  # never started, or already ended
            return
        self.server.should_exit = True
        await self.serving


class WebServiceRuntime(ServiceRuntime):
    """A service runtime with an HTTP server in front (see the module docstring for the order)."""

    def __init__(self, infra: Infrastructure, definition: ServiceDefinition, web: WebServer) -> None:
        super().__init__(infra, definition)
        self.web = web

    async def start_edge(self) -> None:
        await self.web.start()

    async def stop_edge(self) -> None:
        await self.web.stop()
