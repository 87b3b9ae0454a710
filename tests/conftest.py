"""Shared fixtures: real NATS and MongoDB-wire servers, started once per test session (per
pytest-xdist worker), and the order tests are handed out in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from careline_testing.fakes import FakeStripe, ThreadedServer
from careline_testing.processes import service_zygote, use_launcher
from careline_testing.servers import Backends, ServerProcess, nats_server, start_backends
from careline_testing.zygote import zygote_supported

_KIND_ORDER = {"e2e": 1, "integration": 2, "unit": 3}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest first: tests marked ``slow``, then end-to-end, integration and unit tests.

    pytest-xdist (``--dist load``) hands tests to workers in this order as they free up, so a
    minutes-long test never starts last and holds up the end of the run alone.
    """

    def rank(item: pytest.Item) -> tuple[int, int]:
        kind = Path(str(item.path)).relative_to(Path(__file__).parent).parts[0]
        return (0 if item.get_closest_marker("slow") else 1, _KIND_ORDER.get(kind, 0))

    items.sort(key=rank)


@pytest.fixture(scope="session", autouse=True)
def forked_services() -> Iterator[None]:
    """Service processes in this session are forked from one warm interpreter (see
    ``careline_testing.zygote``), started on the first one; ``CARELINE_ZYGOTE=0`` turns it off."""
    if not zygote_supported() or os.environ.get("CARELINE_ZYGOTE") == "0":
        yield
        return
    zygote = service_zygote()
    previous = use_launcher(zygote)
    yield
    use_launcher(previous)
    zygote.stop()


@pytest.fixture(scope="session")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backends]:
    started = start_backends(tmp_path_factory.mktemp("backends"))
    yield started
    started.stop()


@pytest.fixture
def artifacts_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def nats(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """A NATS server of the test's own: streams and consumers start empty.

    Every Careline process connects to it as its own identity, held to its permissions
    (``careline_contracts.access``). A permission violation in its log fails the test, unless the
    test is marked ``nats_violations``: a service that needs a subject it may not use is a bug.
    """
    server = nats_server(tmp_path)
    server.start()
    yield server
    server.kill()  # its data goes with the test; a graceful JetStream shutdown takes 1.5 s
    if request.node.get_closest_marker("nats_violations") is None:
        violations = [line for line in server.log_path.read_text().splitlines() if "Violation" in line]
        assert not violations, f"NATS refused a Careline process: {violations[:3]}"


@pytest.fixture
def fake_stripe() -> Iterator[tuple[FakeStripe, str]]:
    """A fake Stripe API (what the official SDK calls) on a free port, and its URL."""
    api = FakeStripe()
    with ThreadedServer(api.app()) as server:
        yield api, server.url
