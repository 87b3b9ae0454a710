"""The one service list, the one main(), and the HTTP server inside a service's lifecycle."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from careline_platform import main
from careline_platform.services import (
    BEHIND_EDGE,
    EDGE,
    SERVICE_NAMES,
    SERVICES,
    default_metrics_ports,
    service,
)
from careline_platform.settings import Settings
from careline_platform.web import WebServer
from careline_testing.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_the_list_names_every_service_directory_once() -> None:
    assert sorted(SERVICE_NAMES) == sorted(d.name for d in (ROOT / "services").iterdir() if d.is_dir())
    assert len(set(SERVICE_NAMES)) == len(SERVICES)
    for info in SERVICES:
        assert (ROOT / "services" / info.name / "src" / info.package / "__main__.py").is_file()
    assert EDGE in SERVICE_NAMES and EDGE not in BEHIND_EDGE
    assert set(BEHIND_EDGE) | {EDGE} == set(SERVICE_NAMES)


def test_only_the_edge_serves_http_and_the_others_metrics_on_distinct_ports() -> None:
    ports = default_metrics_ports()
    assert set(ports) == set(BEHIND_EDGE) and len(set(ports.values())) == len(ports)
    assert service(EDGE).metrics_port is None
    assert service(EDGE).http_port == Settings(_env_file=None).ingress_port  # type: ignore[call-arg]
    with pytest.raises(KeyError, match="no Careline service"):
        service("gateway")


def test_every_main_module_is_the_same_one_liner() -> None:
    for info in SERVICES:
        source = (ROOT / "services" / info.name / "src" / info.package / "__main__.py").read_text()
        assert "run_service(NAME, create_service)" in source, info.name
        assert "asyncio" not in source and "uvicorn" not in source, info.name


def test_run_service_builds_the_service_from_its_settings_and_runs_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INGRESS_PORT", "8999")
    ran: list[int] = []

    class Service:
        async def run_until_signalled(self) -> None:
            ran.append(1)

    async def create_service(settings: Settings) -> Service:
        ran.append(settings.ingress_port)
        return Service()

    before = signal.getsignal(signal.SIGTERM)
    try:
        main.run_service("billing", create_service)
        assert signal.getsignal(signal.SIGTERM) is main.exit_cleanly  # until the runtime takes over
    finally:
        signal.signal(signal.SIGTERM, before)
    assert ran == [8999, 1]
    with pytest.raises(KeyError):
        main.run_service("nobody", create_service)


def test_the_web_server_answers_requests_in_flight_before_it_stops() -> None:
    """stop(): no new connections, but the request already being handled gets its answer."""
    handling, release = asyncio.Event(), asyncio.Event()

    async def slow(request: Request) -> Response:
        handling.set()
        await release.wait()
        return PlainTextResponse("done")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await (await slow(Request(scope, receive)))(scope, receive, send)

    async def scenario() -> None:
        port = free_port()
        web = WebServer(app, "127.0.0.1", port, grace_s=5)
        await web.start()
        async with httpx.AsyncClient() as client:
            in_flight = asyncio.create_task(client.get(f"http://127.0.0.1:{port}/"))
            await handling.wait()
            stopping = asyncio.create_task(web.stop())
            await asyncio.sleep(0.3)
            assert not stopping.done()  # waits for the request in flight
            release.set()
            assert (await in_flight).text == "done"
            await stopping
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{port}/")

    asyncio.run(scenario())


def test_only_the_edge_runs_on_uvloop_as_uvicorn_ran_it() -> None:
    uvloop = pytest.importorskip("uvloop")
    assert main.loop_factory(EDGE) is uvloop.new_event_loop
    assert all(main.loop_factory(name) is None for name in BEHIND_EDGE)
