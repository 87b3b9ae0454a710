"""A service forked from the zygote is the process ``python -m careline_<name>`` would be.

The e2e suite starts every service through the zygote (tests/conftest.py), so what it proves
about crashes, exit codes and logs holds only if a fork behaves like a fresh interpreter. Here
the two launchers run side by side on the same inputs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from careline_testing.processes import Subprocesses
from careline_testing.servers import Backends, ServerProcess, free_port
from careline_testing.zygote import ForkedProcess, Zygote, zygote_supported

pytestmark = pytest.mark.skipif(not zygote_supported(), reason="the zygote needs Linux")

PACKAGE = "careline_ingress"


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    started = Zygote((PACKAGE,))
    yield started
    started.stop()


def service_env(nats_url: str, mongodb_uri: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "NATS_URL": nats_url,
        "MONGODB_URI": mongodb_uri,
        "DB_PREFIX": "zygote",
        "LOG_FORMAT": "json",
        **extra,
    }


def test_a_bad_setting_exits_as_python_m_does(zygote: Zygote, tmp_path: Path) -> None:
    """Same exit code, same complaint in the log, and the fork's environment is the one asked for
    (the zygote's own environment has no such setting)."""
    env = service_env("nats://127.0.0.1:1", "mongodb://127.0.0.1:1", SUMMARY_EVERY="zero")
    forked = zygote.spawn(PACKAGE, env, tmp_path / "forked.log")
    fresh = Subprocesses().spawn(PACKAGE, env, tmp_path / "fresh.log")
    assert forked.wait(60) == fresh.wait(60) == 1
    for log in ("forked.log", "fresh.log"):
        text = (tmp_path / log).read_text()
        assert "summary_every" in text and "ValidationError" in text, text[-2000:]


def started(zygote: Zygote, env: dict[str, str], log: Path) -> ForkedProcess:
    forked = zygote.spawn(PACKAGE, {**env, "INGRESS_PORT": str(free_port())}, log)
    deadline = time.monotonic() + 60
    while b'"service.started"' not in log.read_bytes():
        assert forked.poll() is None, f"exited with {forked.returncode}: {log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, "no service.started in 60 s"
        time.sleep(0.05)
    return forked


def test_a_forked_service_runs_in_its_own_session_and_exits_as_signalled(
    zygote: Zygote, backends: Backends, nats: ServerProcess, tmp_path: Path
) -> None:
    """SIGTERM drains and exits 0; SIGKILL shows as -9, as Popen reports it (the crash tests
    tell a kill from an exit by it)."""
    env = service_env(nats.url, backends.mongodb_uri)
    first = started(zygote, env, tmp_path / "first.log")
    assert os.getpgid(first.pid) == first.pid != os.getpgid(0)  # start_new_session's own group
    os.killpg(first.pid, signal.SIGTERM)
    assert first.wait(30) == 0
    assert b'"service.stopped"' in (tmp_path / "first.log").read_bytes()

    second = started(zygote, env, tmp_path / "second.log")
    assert second.pid != first.pid
    os.killpg(second.pid, signal.SIGKILL)
    assert second.wait(30) == -signal.SIGKILL
    third = started(zygote, env, tmp_path / "third.log")
    with pytest.raises(subprocess.TimeoutExpired):  # a running one times out, as Popen.wait does
        third.wait(0.2)
    os.killpg(third.pid, signal.SIGKILL)
    third.wait(30)


def test_the_log_exists_when_spawn_returns(zygote: Zygote, tmp_path: Path) -> None:
    """As with Popen, which opens it in the parent: a test may read it at once."""
    log = tmp_path / "new.log"
    forked = zygote.spawn(PACKAGE, {"SUMMARY_EVERY": "zero", "PATH": os.environ["PATH"]}, log)
    assert log.exists()
    forked.wait(60)


def test_stopping_the_zygote_kills_the_forks_a_test_left_running(tmp_path: Path) -> None:
    own = Zygote((PACKAGE,))
    env = {**os.environ, "NATS_URL": "nats://127.0.0.1:1", "INGRESS_PORT": str(free_port())}
    left = own.spawn(PACKAGE, env, tmp_path / "left.log")  # retries connecting until killed
    done = own.spawn(PACKAGE, {**env, "SUMMARY_EVERY": "zero"}, tmp_path / "done.log")
    assert done.wait(60) == 1
    assert left.poll() is None
    own.stop()
    assert left.returncode == -signal.SIGKILL


def test_the_zygote_refuses_a_package_it_did_not_import(zygote: Zygote, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="careline_billing"):
        zygote.spawn("careline_billing", {}, tmp_path / "x.log")
