"""The operator CLI as a real process against real NATS and MongoDB-wire servers.

The jobs commands ask each service's admin operations over NATS; here every service's admin
operations answer from a thread of the test (its jobs collection, no job worker running), so
what the test seeds stays as seeded until the CLI changes it."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import pytest
from faststream.nats import NatsBroker
from pymongo import MongoClient
from pymongo.collection import Collection

from careline_contracts.deadletter import DeadLetter
from careline_contracts.subjects import DEAD_LETTERS, dead_letter_subject
from careline_platform.admin import admin_router
from careline_platform.admin_operations import MongoJobBook, common_operations
from careline_platform.clock import SystemClock
from careline_platform.jobs import JobStore, new_job
from careline_platform.messaging import declare_streams
from careline_platform.mongo import connect
from careline_platform.rollups import MongoRollups
from careline_platform.services import SERVICE_NAMES
from careline_testing.servers import Backends, ServerProcess, free_port

_prefixes = itertools.count()
PHONE = "+15557654321"
BODY = "Mom fell again this morning"
DAY = timedelta(days=1)


@dataclass
class Result:
    code: int
    out: str
    err: str
    seconds: float


@dataclass
class Cli:
    """Runs ``careline`` as a subprocess against one test's databases."""

    env: dict[str, str]
    cwd: Path

    def __call__(self, *args: str, timeout_s: float = 60.0) -> Result:
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "careline_cli.main", *args],
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


@pytest.fixture
def prefix() -> str:
    return f"cli{next(_prefixes)}_{uuid.uuid4().hex[:6]}"


def answer_admin_requests(nats_url: str, mongodb_uri: str, prefix: str) -> Iterator[None]:
    """Every service's common admin operations over ``<prefix>_<service>``, in a thread."""
    ready, loop_box = threading.Event(), []

    async def serve() -> None:
        client, clock = connect(mongodb_uri), SystemClock()
        broker = NatsBroker(nats_url)
        for service in SERVICE_NAMES:
            db = client[f"{prefix}_{service}"]
            jobs = MongoJobBook(JobStore(db.jobs, clock))
            found = common_operations(service, jobs, MongoRollups(db, service, clock, None), None, clock)
            broker.include_router(admin_router(service, found))
        await broker.start()
        stop = asyncio.Event()
        loop_box.append((asyncio.get_running_loop(), stop))
        ready.set()
        await stop.wait()
        await broker.stop()
        await client.close()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    assert ready.wait(10), "the admin responders did not start"
    yield
    loop, stop = loop_box[0]
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)


@pytest.fixture
def services(backends: Backends, nats: ServerProcess, prefix: str) -> Iterator[ServerProcess]:
    """The test's own NATS server, where every service answers its admin requests (the
    responders connect as the harness user, which may answer for all four)."""
    for _ in answer_admin_requests(nats.url, backends.mongodb_uri, prefix):
        yield nats


def make_cli(backends: Backends, nats: ServerProcess, prefix: str, tmp_path: Path) -> Cli:
    """The CLI connecting to ``nats`` as the operator."""
    assert nats.users is not None
    env = {
        **os.environ,
        "MONGODB_URI": backends.mongodb_uri,
        "NATS_URL": f"nats://127.0.0.1:{nats.port}",
        **nats.users.env("operator"),
        "DB_PREFIX": prefix,
        "COLUMNS": "200",
    }
    return Cli(env, tmp_path)


@pytest.fixture
def cli(backends: Backends, services: ServerProcess, prefix: str, tmp_path: Path) -> Cli:
    """The CLI on the NATS server where this test's services answer."""
    return make_cli(backends, services, prefix, tmp_path)


@pytest.fixture
def plain_cli(backends: Backends, prefix: str, tmp_path: Path) -> Cli:
    """The CLI with no service answering (commands that need none: tokens, roles, bad input)."""
    return make_cli(backends, backends.nats, prefix, tmp_path)


@pytest.fixture
def jobs(backends: Backends, prefix: str) -> Iterator[Collection[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]] = MongoClient(
        backends.mongodb_uri, tz_aware=True, serverSelectionTimeoutMS=5000
    )
    yield client[f"{prefix}_conversation"].jobs
    client.close()


def seed(
    col: Collection[dict[str, Any]],
    key: str,
    status: str = "pending",
    *,
    age: timedelta = timedelta(0),
    attempts: int = 0,
    last_error: str | None = None,
    max_attempts: int | None = None,
) -> None:
    """One send_sms job in ``status``, created (and finished, if it did) ``age`` ago."""
    at = datetime.now(UTC) - age
    payload = {"to": PHONE, "body": BODY, "user_id": "u-1"}
    doc = new_job(key, "send_sms", payload, now=at, max_attempts=max_attempts)
    doc.update(attempts=attempts, status=status, last_error=last_error)
    if status == "completed":
        doc.update(completed_at=at, result={"sid": "SM0001"})
    if status == "dead":
        doc.update(dead_at=at, dead_letter_published=True)
    col.insert_one(doc)


def statuses(col: Collection[dict[str, Any]]) -> dict[str, str]:
    return {doc["_id"]: doc["status"] for doc in col.find({}, {"status": 1})}


# --- jobs list --------------------------------------------------------------------------


def test_list_shows_dead_and_failed_jobs_and_hides_completed(
    cli: Cli, jobs: Collection[dict[str, Any]]
) -> None:
    dead_error = "TwilioError: 21211 invalid To"
    seed(jobs, "sms:reply:DEAD1", "dead", attempts=5, last_error=dead_error, max_attempts=5)
    seed(jobs, "sms:reply:FAIL1", "failed", attempts=2, last_error="TimeoutError: read timed out")
    seed(jobs, "sms:reply:PEND1")
    seed(jobs, "sms:reply:DONE1", "completed", attempts=1)

    res = cli("jobs", "list")

    assert res.code == 0, res.err
    assert "sms:reply:DEAD1" in res.out
    assert "sms:reply:FAIL1" in res.out
    assert "sms:reply:PEND1" in res.out
    assert "sms:reply:DONE1" not in res.out
    assert "5/5" in res.out  # a job with its own cap
    assert "2/policy" in res.out  # a job its type's retry policy governs
    assert "TwilioError: 21211 invalid To" in res.out
    assert "conversation" in res.out
    assert PHONE not in res.out

    everything = cli("jobs", "list", "--service", "conversation", "--status", "all")
    assert everything.code == 0, everything.err
    assert "sms:reply:DONE1" in everything.out

    dead_only = cli("jobs", "list", "--status", "dead")
    assert dead_only.code == 0, dead_only.err
    assert "sms:reply:DEAD1" in dead_only.out
    assert "sms:reply:FAIL1" not in dead_only.out


def test_list_of_empty_databases_says_so(cli: Cli) -> None:
    res = cli("jobs", "list")
    assert res.code == 0, res.err
    assert "No jobs" in res.out


# --- jobs show --------------------------------------------------------------------------


def test_show_masks_phone_and_body_unless_revealed(cli: Cli, jobs: Collection[dict[str, Any]]) -> None:
    seed(jobs, "sms:reply:SHOW1", "dead", attempts=5, last_error=f"TwilioError: {PHONE} is not a mobile")

    masked = cli("jobs", "show", "conversation", "sms:reply:SHOW1")

    assert masked.code == 0, masked.err
    assert PHONE not in masked.out
    assert PHONE[2:] not in masked.out
    assert BODY not in masked.out
    assert "[redacted]" in masked.out
    assert "payload.to" in masked.out
    assert "payload.body" in masked.out
    assert "u-1" in masked.out  # not personal data: shown
    assert "sms:reply:SHOW1" in masked.out
    assert "dead" in masked.out

    revealed = cli("jobs", "show", "conversation", "sms:reply:SHOW1", "--reveal")
    assert revealed.code == 0, revealed.err
    assert PHONE in revealed.out
    assert BODY in revealed.out


def test_show_of_an_unknown_key_fails_clearly(cli: Cli) -> None:
    res = cli("jobs", "show", "conversation", "sms:reply:NOPE")
    assert res.code == 1
    assert "sms:reply:NOPE" in res.err
    assert "Traceback" not in res.err


# --- jobs retry -------------------------------------------------------------------------


def test_retry_puts_a_dead_job_back_to_pending_with_attempts_reset(
    cli: Cli, jobs: Collection[dict[str, Any]]
) -> None:
    seed(jobs, "sms:reply:RETRY1", "dead", attempts=5, last_error="TwilioError: 500")

    res = cli("jobs", "retry", "conversation", "sms:reply:RETRY1")

    assert res.code == 0, res.err
    assert "sms:reply:RETRY1" in res.out
    doc = jobs.find_one({"_id": "sms:reply:RETRY1"})
    assert doc is not None
    assert doc["status"] == "pending"
    assert doc["attempts"] == 0
    assert doc["lease"] is None
    assert doc["next_attempt_at"] <= datetime.now(UTC)


def test_retry_of_an_unknown_key_exits_1_with_a_clear_message(cli: Cli) -> None:
    res = cli("jobs", "retry", "conversation", "sms:reply:MISSING")
    assert res.code == 1
    assert "no job" in res.err
    assert "sms:reply:MISSING" in res.err
    assert "Traceback" not in res.err
    assert len(res.err.strip().splitlines()) == 1


def test_retry_of_a_pending_job_is_refused(cli: Cli, jobs: Collection[dict[str, Any]]) -> None:
    seed(jobs, "sms:reply:BUSY1", "pending", attempts=1)
    res = cli("jobs", "retry", "conversation", "sms:reply:BUSY1")
    assert res.code == 1
    assert "pending" in res.err
    assert "only failed or dead" in res.err
    assert statuses(jobs)["sms:reply:BUSY1"] == "pending"


def test_retry_all_dead_retries_only_dead_jobs(cli: Cli, jobs: Collection[dict[str, Any]]) -> None:
    seed(jobs, "sms:reply:D1", "dead", attempts=5)
    seed(jobs, "sms:reply:D2", "dead", attempts=3)
    seed(jobs, "sms:reply:F1", "failed", attempts=2)
    seed(jobs, "sms:reply:C1", "completed", attempts=1)

    res = cli("jobs", "retry", "conversation", "--all-dead")

    assert res.code == 0, res.err
    assert "sms:reply:D1" in res.out
    assert "sms:reply:D2" in res.out
    assert "2 dead job(s) retried" in res.out
    assert statuses(jobs) == {
        "sms:reply:D1": "pending",
        "sms:reply:D2": "pending",
        "sms:reply:F1": "failed",
        "sms:reply:C1": "completed",
    }


def test_retry_needs_a_key_or_all_dead(plain_cli: Cli) -> None:
    res = plain_cli("jobs", "retry", "conversation")
    assert res.code == 2
    assert "--all-dead" in res.err


# --- jobs purge -------------------------------------------------------------------------


def test_purge_removes_only_old_completed_and_dead_jobs(cli: Cli, jobs: Collection[dict[str, Any]]) -> None:
    seed(jobs, "old-completed", "completed", age=10 * DAY, attempts=1)
    seed(jobs, "old-dead", "dead", age=10 * DAY, attempts=5)
    seed(jobs, "new-completed", "completed", age=1 * DAY, attempts=1)
    seed(jobs, "new-dead", "dead", age=1 * DAY, attempts=5)
    seed(jobs, "old-pending", "pending", age=10 * DAY)
    seed(jobs, "old-failed", "failed", age=10 * DAY, attempts=2)
    seed(jobs, "old-processing", "processing", age=10 * DAY, attempts=1)

    res = cli("jobs", "purge", "conversation", "--older-than-days", "7", "--yes")

    assert res.code == 0, res.err
    assert "Deleted 2" in res.out
    assert statuses(jobs) == {
        "new-completed": "completed",
        "new-dead": "dead",
        "old-pending": "pending",
        "old-failed": "failed",
        "old-processing": "processing",
    }

    only_dead = cli("jobs", "purge", "conversation", "--status", "dead", "--yes")
    assert only_dead.code == 0, only_dead.err
    assert "new-dead" not in statuses(jobs)
    assert "new-completed" in statuses(jobs)


def test_purge_without_yes_refuses_on_non_interactive_stdin(
    cli: Cli, jobs: Collection[dict[str, Any]]
) -> None:
    seed(jobs, "old-completed", "completed", age=10 * DAY, attempts=1)

    res = cli("jobs", "purge", "conversation")

    assert res.code == 1
    assert "1 completed/dead job(s)" in res.out
    assert "--yes" in res.err
    assert "Traceback" not in res.err
    assert statuses(jobs) == {"old-completed": "completed"}


# --- deadletters ------------------------------------------------------------------------


def test_deadletters_list_shows_a_published_letter(cli: Cli, services: ServerProcess) -> None:
    msg_id = f"SM{uuid.uuid4().hex}"
    letter = DeadLetter(
        service="conversation",
        subject="sms.inbound.received",
        msg_id=msg_id,
        reason="invalid payload: 2 errors",
        deliveries=3,
        payload='{"body": "secret"}',
        dead_at=datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC),
    )

    async def publish() -> None:
        nc = await nats.connect(services.url)  # as the harness: no service but conversation may
        try:
            js = nc.jetstream()
            await declare_streams(js, (DEAD_LETTERS,))
            await js.publish(
                dead_letter_subject("conversation", "sms.inbound.received"),
                letter.model_dump_json().encode(),
                headers={"Nats-Msg-Id": f"dl:{msg_id}"},
            )
        finally:
            await nc.close()

    asyncio.run(publish())

    res = cli("deadletters", "list", "--service", "conversation")

    assert res.code == 0, res.err
    line = next((ln for ln in res.out.splitlines() if msg_id in ln), None)
    assert line is not None, res.out
    assert "conversation" in line
    assert "sms.inbound.received" in line
    assert "invalid payload: 2 errors" in line
    assert " 3 " in line
    assert "2025-03-04 05:06:07Z" in line
    assert "secret" not in res.out  # the original payload is not printed

    other = cli("deadletters", "list", "--service", "billing")
    assert other.code == 0, other.err
    assert msg_id not in other.out


# --- failures ---------------------------------------------------------------------------


def test_unreachable_mongodb_is_one_clear_line_and_exit_1(plain_cli: Cli) -> None:
    uri = f"mongodb://127.0.0.1:{free_port()}/?directConnection=true"

    res = plain_cli(
        "admin", "grant", "--user", "u", "--role", "support", "--mongodb-uri", uri, "--timeout", "2"
    )

    assert res.code == 1
    lines = res.err.strip().splitlines()
    assert len(lines) == 1, res.err
    assert lines[0].startswith("error: cannot reach MongoDB")
    assert "Traceback" not in res.err
    assert res.seconds < 15


@pytest.mark.parametrize("command", [("deadletters", "list"), ("jobs", "list")], ids=["deadletters", "jobs"])
def test_unreachable_nats_is_one_clear_line_and_exit_1(cli: Cli, command: tuple[str, ...]) -> None:
    url = f"nats://127.0.0.1:{free_port()}"

    res = cli(*command, "--nats-url", url, "--timeout", "2", timeout_s=30)

    assert res.code == 1
    lines = res.err.strip().splitlines()
    assert len(lines) == 1, res.err
    assert lines[0].startswith("error: cannot reach NATS")
    assert res.seconds < 15


def test_a_service_that_does_not_answer_is_one_clear_line_and_exit_1(plain_cli: Cli) -> None:
    """No service answers on the session's NATS server."""
    res = plain_cli("jobs", "show", "billing", "k", "--timeout", "1", timeout_s=30)
    assert res.code == 1
    lines = res.err.strip().splitlines()
    assert len(lines) == 1, res.err
    assert lines[0] == "error: billing did not answer within 1s: is it running?"


def test_unknown_service_is_a_usage_error(plain_cli: Cli) -> None:
    res = plain_cli("jobs", "show", "shipping", "some-key")
    assert res.code == 2
    assert "invalid choice: 'shipping'" in res.err
    assert "Traceback" not in res.err
