"""Shared fixtures: real NATS and MongoDB-wire servers, started once per test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from careline_testing.servers import Backends, ServerProcess, nats_server, start_backends


@pytest.fixture(scope="session")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backends]:
    started = start_backends(tmp_path_factory.mktemp("backends"))
    yield started
    started.stop()


@pytest.fixture
def artifacts_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[ServerProcess]:
    """A NATS server of the test's own: streams and consumers start empty."""
    server = nats_server(tmp_path)
    server.start()
    yield server
    server.stop()
