"""`make run` supervises: a killed service comes back, a service that keeps failing stops the run.

tools/run.py runs as `make run` runs it (fresh interpreters, its own NATS server on a free port,
a temp data dir), against the session's MongoDB-wire server and the fake Twilio. Its terminal
output is what an operator reads, so the tests read it too.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from careline_testing.fakes import FakeTwilio
from careline_testing.servers import Backends, free_port
from careline_testing.signing import inbound_sms_params, twilio_form
from careline_testing.waiting import eventually

from .conftest import TWILIO_TOKEN

pytestmark = pytest.mark.asyncio
ROOT = Path(__file__).resolve().parents[2]
STARTED = re.compile(r"started (\w+) \(pid (\d+)\)")


@dataclass
class MakeRun:
    """tools/run.py as a process in its own session (a terminal's foreground group), its output kept."""

    proc: subprocess.Popen[bytes]
    log_path: Path
    ingress_port: int
    lines: list[str] = field(default_factory=list)

    def read(self) -> None:
        assert self.proc.stdout is not None
        with open(self.log_path, "w") as log:
            for raw in iter(self.proc.stdout.readline, b""):
                line = raw.decode(errors="replace").rstrip()
                self.lines.append(line)
                log.write(line + "\n")
                log.flush()

    def said(self, text: str) -> list[str]:
        return [line for line in list(self.lines) if text in line]

    def pids(self, service: str) -> list[int]:
        """Every pid ``service`` was started with, in order."""
        found = (STARTED.search(line) for line in list(self.lines))
        return [int(m.group(2)) for m in found if m and m.group(1) == service]

    def ctrl_c(self) -> None:
        """What Ctrl-C in the terminal does: SIGINT to the whole foreground process group."""
        os.killpg(self.proc.pid, signal.SIGINT)


def start_make_run(tmp_path: Path, backends: Backends, twilio_url: str, extra: dict[str, str]) -> MakeRun:
    port = free_port()
    env = {
        **os.environ,
        "CARELINE_DATA_DIR": str(tmp_path / "data"),
        "NATS_URL": f"nats://127.0.0.1:{free_port()}",
        "MONGODB_URI": backends.mongodb_uri,  # the session's server: run.py starts no second one
        "DB_PREFIX": f"makerun{port}",
        "INGRESS_PORT": str(port),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_API_BASE_URL": twilio_url,
        "TWILIO_TIMEOUT_S": "1",
        "RATE_WINDOW_LIMIT": "100",
        "RATE_DAILY_LIMIT": "100",
        **extra,
    }
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tools" / "run.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,  # no .env of the checkout
        env=env,
        start_new_session=True,
    )
    run = MakeRun(proc, tmp_path / "make-run.log", port)
    threading.Thread(target=run.read, daemon=True).start()
    return run


@pytest.fixture
def make_run_processes() -> Iterator[list[MakeRun]]:
    """Runs a test started; whatever is left of them is stopped (then killed) at the end."""
    runs: list[MakeRun] = []
    yield runs
    for run in runs:
        if run.proc.poll() is None:
            run.ctrl_c()
            try:
                run.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(run.proc.pid, signal.SIGKILL)
                run.proc.wait()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def text_and_wait(
    run: MakeRun, fake: FakeTwilio, phones: list[str], sent: list[str], first_index: int
) -> None:
    """Each caregiver texts twice (waiting for Twilio's 200 in between, as Twilio does)."""
    url = f"http://127.0.0.1:{run.ingress_port}/webhooks/twilio/sms"
    async with httpx.AsyncClient(timeout=30) as client:
        for k in (first_index, first_index + 1):
            for phone in phones:
                params = inbound_sms_params(phone, f"message {k}")
                body, headers = twilio_form(TWILIO_TOKEN, url, params)
                assert (await client.post(url, content=body, headers=headers)).status_code == 200
                sent.append(params["MessageSid"])
    await eventually(lambda: len(fake.messages) >= len(sent), timeout_s=120)


@pytest.mark.slow  # started first (tests/conftest.py)
@pytest.mark.timeout(420)
async def test_a_killed_service_comes_back_and_every_text_is_answered_once(
    tmp_path: Path,
    backends: Backends,
    fake_twilio: tuple[FakeTwilio, str],
    mongo: AsyncMongoClient[Any],
    make_run_processes: list[MakeRun],
) -> None:
    fake, twilio_url = fake_twilio
    run = start_make_run(tmp_path, backends, twilio_url, {})
    make_run_processes.append(run)
    await eventually(lambda: run.said("Careline is up") or run.proc.poll() is not None, timeout_s=180)
    assert run.proc.poll() is None, run.lines[-30:]
    phones = [f"+1415558{i:04d}" for i in range(3)]
    sent: list[str] = []
    await text_and_wait(run, fake, phones, sent, 0)

    [first] = run.pids("conversation")
    os.kill(first, signal.SIGKILL)
    reported = await eventually(lambda: run.said("conversation exited (killed by SIGKILL)"), timeout_s=30)
    assert "restarting in 0.5 s" in reported[0]
    await eventually(lambda: len(run.pids("conversation")) == 2, timeout_s=30)
    await text_and_wait(run, fake, phones, sent, 2)  # only the new conversation can answer these

    conversation = mongo[f"makerun{run.ingress_port}_conversation"]

    async def settled() -> bool:  # nothing runs or waits: a second reply would have left by now
        busy = await conversation.jobs.count_documents({"status": {"$in": ["processing", "failed"]}})
        return busy == 0 and await conversation.outbound_messages.count_documents({}) >= len(sent)

    await eventually(settled, timeout_s=60)
    replied_to = [
        d["job_key"].removeprefix("sms:reply:") async for d in conversation.outbound_messages.find({})
    ]
    assert len(fake.messages) == len(sent)  # none doubled ...
    assert sorted(replied_to) == sorted(sent)  # ... none lost
    assert run.proc.poll() is None  # one dead service does not stop the run
    assert not run.said("stopping everything")

    second = run.pids("conversation")[1]
    run.ctrl_c()
    assert await eventually(lambda: run.proc.poll() is not None, timeout_s=90) is not None
    assert run.proc.returncode == 0, run.lines[-30:]
    assert run.said("stopping...") and run.said("stopped")
    assert len(run.said("restarting in")) == 1  # a stop asked for is not restarted
    for service in ("ingress", "conversation", "billing", "profile"):
        assert not alive(run.pids(service)[-1]), service
    assert not alive(second)


@pytest.mark.slow
@pytest.mark.timeout(420)
async def test_a_service_that_always_fails_stops_the_run_after_five_quick_failures(
    tmp_path: Path,
    backends: Backends,
    fake_twilio: tuple[FakeTwilio, str],
    make_run_processes: list[MakeRun],
) -> None:
    """Production mode without its secrets: every service refuses to start (exit 78), every time.

    (A taken ingress port would fail one service only, but ingress does not always exit after
    uvicorn's bind error: it sometimes hangs in its shutdown, which is not supervision's to fix.)
    """
    _fake, twilio_url = fake_twilio
    run = start_make_run(tmp_path, backends, twilio_url, {"CARELINE_ENV": "production"})
    make_run_processes.append(run)
    await eventually(lambda: run.proc.poll() is not None, timeout_s=360)  # 20-60 s a start, loaded
    assert run.proc.returncode == 1, run.lines[-30:]
    [gave_up] = run.said("stopping everything")
    found = re.search(
        r"(\w+) exited \(exit code 78\), [\d.]+ s after its start, never up; it failed 5 times", gave_up
    )
    assert found, gave_up
    service = found.group(1)
    reports = run.said(f"{service} exited (exit code 78)")
    assert len(reports) == 5
    delays = [
        float(m.group(1)) for line in reports[:4] if (m := re.search(r"restarting in ([\d.]+) s", line))
    ]
    assert delays == [0.5, 1.0, 2.0, 4.0]  # the delay doubles with each quick failure
    assert len(run.pids(service)) == 5
    assert not run.said("Careline is up")
    assert run.said("stopped")
    for name in ("ingress", "conversation", "billing", "profile"):
        assert not alive(run.pids(name)[-1]), name
