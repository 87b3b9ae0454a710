"""Re-driving dead letters on real NATS and the MongoDB-wire server.

Two consumers of ``user.registered`` (as billing and profile, each its own database and real
unit of work) share a subject; billing's fails until it is fixed, so only billing dead-letters.
The owner of the subject's stream (ingress) answers ``deadletter_redrive`` as its own NATS
identity, and the letters are chosen and the owner asked as ``operator``, so the server's
permissions are the real ones (a violation fails the test). The CLI runs as a real process.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from faststream.nats import NatsBroker
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from careline_contracts import admin as ops
from careline_contracts import subjects
from careline_contracts.admin import DeadLetterRedriven, RedriveDeadLetter
from careline_contracts.deadletter import DeadLetter
from careline_contracts.ingress import UserRegistered
from careline_platform.admin import AdminOperation, admin_router
from careline_platform.admin_client import RequestRejected, ask
from careline_platform.clock import SystemClock
from careline_platform.deadletters import Redriver, Selection, choose, redrive
from careline_platform.jobs import JobStore
from careline_platform.messaging import (
    ConsumerSpec,
    Delivery,
    Publisher,
    declare_streams,
    ensure_consumers,
    register_consumer,
)
from careline_platform.mongo import connect
from careline_platform.nats_auth import broker_options
from careline_platform.settings import Settings
from careline_platform.uow import ReadDb, UnitOfWork, WriteDb
from careline_testing.servers import Backends, ServerProcess
from careline_testing.waiting import consumers_caught_up, eventually

pytestmark = pytest.mark.asyncio
_runs = itertools.count()
USER = "usr_redrive_1"
PARTITION = subjects.partitioned(subjects.USER_REGISTERED, USER)


def broker_as(nats: ServerProcess, identity: str) -> NatsBroker:
    """A broker connected as one of Careline's identities, held to its permissions."""
    assert nats.users is not None
    settings = Settings(
        nats_url=f"nats://127.0.0.1:{nats.port}",
        nats_user=identity,
        nats_password=SecretStr(nats.users.passwords[identity]),
    )
    return NatsBroker(
        settings.nats_url, logger=logging.getLogger("faststream"), **broker_options(settings, identity)
    )


@dataclass
class Consumer:
    """One service's consumer of ``user.registered``: broken until fixed; what it handled."""

    service: str
    uow: UnitOfWork[WriteDb, ReadDb]
    broken: bool = False

    async def handle(self, event: UserRegistered, delivery: Delivery) -> None:
        if self.broken:
            raise RuntimeError("not yet")
        async with self.uow.begin(delivery) as tx:
            await tx.repo["handled"].insert_one({"user_id": event.user_id, "msg_id": delivery.msg_id})

    async def handled(self) -> list[str]:
        return [d["msg_id"] async for d in self.uow.read()["handled"].find({})]


@dataclass
class World:
    harness: NatsBroker
    operator: NatsBroker
    billing: Consumer
    profile: Consumer

    async def publish(self, msg_id: str, user: str = USER) -> None:
        event = UserRegistered(user_id=user, phone="+15550000000", occurred_at=datetime.now(UTC))
        await self.harness.publish(
            event.to_bytes(),
            subject=subjects.partitioned(subjects.USER_REGISTERED, user),
            stream=subjects.USERS.name,
            headers={"Nats-Msg-Id": msg_id},
        )

    async def letters(self) -> list[tuple[int, DeadLetter]]:
        js = self.harness.connection.jetstream()
        state = (await js.stream_info(subjects.DEAD_LETTERS.name)).state
        found = []
        for seq in range(max(state.first_seq, 1), state.last_seq + 1):
            msg = await js.get_msg(subjects.DEAD_LETTERS.name, seq)
            found.append((seq, DeadLetter.model_validate_json(msg.data or b"")))
        return found

    async def settled(self) -> bool:
        return await consumers_caught_up(self.harness.connection.jetstream(), (subjects.USERS.name,))

    async def ask_owner(self, owner: str, request: RedriveDeadLetter) -> DeadLetterRedriven:
        return await ask(self.operator, owner, ops.DEADLETTER_REDRIVE, request, 10.0)


@pytest_asyncio.fixture
async def world(nats: ServerProcess, backends: Backends) -> AsyncIterator[World]:
    run = next(_runs)
    harness = NatsBroker(nats.url, logger=logging.getLogger("faststream"))
    await harness.connect()
    await declare_streams(harness.connection.jetstream(), (subjects.USERS, subjects.DEAD_LETTERS))
    client: AsyncMongoClient[dict[str, Any]] = connect(backends.mongodb_uri)
    clock = SystemClock()
    consumers: dict[str, Consumer] = {}
    for service in ("billing", "profile"):
        db = client[f"redrive{run}_{uuid.uuid4().hex[:6]}_{service}"]
        uow: UnitOfWork[WriteDb, ReadDb] = UnitOfWork(
            client,
            db,
            jobs=JobStore(db.jobs, clock),
            clock=clock,
            stream=subjects.USERS,
            writer=lambda w: w,
            reader=lambda r: r,
        )
        await db.create_collection("handled")  # not inside a transaction
        consumer = Consumer(service, uow)
        spec = ConsumerSpec(
            service,
            subjects.USERS,
            subjects.USER_REGISTERED,
            f"{service}-users-{run}",
            UserRegistered,
            consumer.handle,
            max_deliver=2,
            backoff_base_s=0.2,
        )
        pairs = await ensure_consumers(harness.connection.jetstream(), spec)
        register_consumer(harness, spec, Publisher(harness), pairs)
        consumers[service] = consumer
    await harness.start()
    # ingress owns USERS: it answers the re-drive, as itself
    owner = broker_as(nats, "ingress")
    await owner.connect()
    redriver = Redriver("ingress", owner.connection.jetstream(), Publisher(owner))
    owner.include_router(admin_router("ingress", [AdminOperation(ops.DEADLETTER_REDRIVE, redriver.redrive)]))
    await owner.start()
    operator = broker_as(nats, "operator")
    await operator.connect()
    yield World(harness, operator, consumers["billing"], consumers["profile"])
    for broker in (operator, owner, harness):
        await broker.stop()
    await client.close()


async def dead_lettered_by_billing(world: World, msg_id: str) -> int:
    """Publish ``msg_id`` while billing is broken; the sequence number of billing's letter."""
    world.billing.broken = True
    await world.publish(msg_id)

    async def letter() -> int | None:
        return next((seq for seq, dl in await world.letters() if dl.msg_id == msg_id), None)

    seq: int = await eventually(letter, timeout_s=30)
    await eventually(world.settled, timeout_s=30)
    return seq


async def test_a_redrive_is_handled_once_by_the_consumer_that_gave_up_and_by_nobody_else(
    world: World,
) -> None:
    seq = await dead_lettered_by_billing(world, "reg-1")
    [(_, letter)] = await world.letters()
    assert (letter.service, letter.subject, letter.deliveries) == ("billing", PARTITION, 2)
    assert letter.durable is not None and letter.durable.startswith("billing-users-")
    assert await world.profile.handled() == ["reg-1"]  # profile handled the original at once
    assert await world.billing.handled() == []

    world.billing.broken = False  # the fix is deployed
    chosen = await choose(world.operator.connection.jetstream(), Selection(ids=("reg-1",)), 10)
    [first] = await redrive(chosen, world.ask_owner, "operator", dry_run=False)
    assert first.outcome == "redriven" and first.seq == seq
    assert first.detail is not None and first.detail.startswith(f"redrive:{seq}:")

    await eventually(lambda: _equals(world.billing.handled, ["reg-1"]), timeout_s=20)
    await eventually(world.settled, timeout_s=20)
    assert await world.profile.handled() == ["reg-1"]  # acked and skipped: not handled twice

    # a second re-drive of the same letter: a new message id, the same original, nothing happens
    [second] = await redrive(chosen, world.ask_owner, "operator", dry_run=False)
    assert second.outcome == "redriven" and second.detail != first.detail
    await eventually(world.settled, timeout_s=20)
    assert await world.billing.handled() == ["reg-1"]
    assert await world.profile.handled() == ["reg-1"]
    assert len(await world.letters()) == 1  # nothing died again

    # the two re-drives are in the stream under new ids, the original id in a header
    js = world.harness.connection.jetstream()
    last = (await js.stream_info(subjects.USERS.name)).state.last_seq
    copies = [await js.get_msg(subjects.USERS.name, s) for s in (last - 1, last)]
    assert [c.headers and c.headers.get("Careline-Redrive-Of") for c in copies] == ["reg-1", "reg-1"]
    assert all(c.headers and c.headers["Nats-Msg-Id"].startswith("redrive:") for c in copies)
    assert all(c.headers and c.headers.get("Careline-Redrive-For") == "billing" for c in copies)


async def test_a_redrive_that_fails_again_is_dead_lettered_again_under_its_original_id(world: World) -> None:
    seq = await dead_lettered_by_billing(world, "reg-2")
    chosen = await choose(world.operator.connection.jetstream(), Selection(seqs=(seq,)), 10)
    [outcome] = await redrive(chosen, world.ask_owner, "operator", dry_run=False)  # still broken
    assert outcome.outcome == "redriven"

    async def two_letters() -> bool:
        return len([dl for _, dl in await world.letters() if dl.msg_id == "reg-2"]) == 2

    await eventually(two_letters, timeout_s=30)
    await eventually(world.settled, timeout_s=30)
    # chosen again, only the newest letter of the message is re-driven; the fix makes it land once
    world.billing.broken = False
    chosen = await choose(world.operator.connection.jetstream(), Selection(ids=("reg-2",)), 10)
    assert [c.skip is None for c in chosen] == [True, False]
    results = await redrive(chosen, world.ask_owner, "operator", dry_run=False)
    assert [r.outcome for r in results] == ["redriven", "skipped"]
    await eventually(lambda: _equals(world.billing.handled, ["reg-2"]), timeout_s=20)
    await eventually(world.settled, timeout_s=20)
    assert await world.billing.handled() == ["reg-2"]
    assert await world.profile.handled() == ["reg-2"]


async def publish_letter(world: World, letter: DeadLetter, base: str) -> None:
    js = world.harness.connection.jetstream()
    await js.publish(
        subjects.dead_letter_subject(letter.service, base),
        letter.model_dump_json().encode(),
        headers={"Nats-Msg-Id": f"test:{uuid.uuid4().hex}"},
    )


def a_letter(msg_id: str, subject: str, dead_at: datetime, service: str = "conversation") -> DeadLetter:
    return DeadLetter(
        service=service,
        subject=subject,
        msg_id=msg_id,
        reason="RuntimeError after 8",
        deliveries=8,
        payload="{}",
        dead_at=dead_at,
        durable=f"{service}-x",
    )


async def test_choosing_by_subject_and_by_time_picks_the_right_letters(world: World) -> None:
    now = datetime.now(UTC)
    seeded = [
        a_letter("old-sms", "sms.inbound.received.1", now - timedelta(hours=5)),
        a_letter("sms-a", "sms.inbound.received.2", now - timedelta(minutes=50)),
        a_letter("status-a", "sms.status.updated.2", now - timedelta(minutes=40)),
        a_letter("stripe-a", "stripe.event.received.5", now - timedelta(minutes=30), "billing"),
        a_letter("sms-b", "sms.inbound.received.7", now - timedelta(minutes=10)),
        a_letter("job-a", "job.send_sms", now - timedelta(minutes=5)),
    ]
    for letter in seeded:
        base = letter.subject.rsplit(".", 1)[0] if letter.subject[-1].isdigit() else letter.subject
        await publish_letter(world, letter, base)
    js = world.operator.connection.jetstream()

    async def ids(selection: Selection) -> list[str]:
        return [c.letter.msg_id for c in await choose(js, selection, 100)]

    assert await ids(Selection(subject="sms.inbound.received")) == ["sms-b", "sms-a", "old-sms"]
    assert await ids(Selection(subject="sms.inbound.received.2")) == ["sms-a"]
    assert await ids(Selection(subject="sms.*.*.2")) == ["status-a", "sms-a"]
    assert await ids(Selection(subject="stripe.>")) == ["stripe-a"]
    hour_ago = now - timedelta(hours=1)
    assert await ids(Selection(since=hour_ago)) == ["job-a", "sms-b", "stripe-a", "status-a", "sms-a"]
    assert await ids(Selection(since=hour_ago, subject="sms.inbound.received")) == ["sms-b", "sms-a"]
    assert await ids(Selection(since=hour_ago, services=("billing",))) == ["stripe-a"]
    [job] = await choose(js, Selection(ids=("job-a",)), 10)
    assert job.skip is not None and "jobs retry" in job.skip  # a dead job is retried, not re-driven
    asked: list[RedriveDeadLetter] = []

    async def recording(owner: str, request: RedriveDeadLetter) -> DeadLetterRedriven:
        asked.append(request)
        return await world.ask_owner(owner, request)

    dry = await redrive(await choose(js, Selection(since=hour_ago), 100), recording, "t", dry_run=True)
    assert [(o.letter.msg_id, o.outcome) for o in dry] == [
        ("job-a", "skipped"),
        ("sms-b", "would_redrive"),
        ("stripe-a", "would_redrive"),
        ("status-a", "would_redrive"),
        ("sms-a", "would_redrive"),
    ]
    assert asked == []  # a dry run asks no owner to publish anything


async def test_the_owner_refuses_what_is_not_its_own_or_not_a_letter(world: World) -> None:
    now = datetime.now(UTC)
    await publish_letter(
        world, a_letter("p-1", "profile.prompt.ready.3", now, "conversation"), "profile.prompt.ready"
    )
    [(seq, _)] = await world.letters()
    with pytest.raises(RequestRejected, match="not ingress's to publish"):
        await world.ask_owner("ingress", RedriveDeadLetter(seq=seq))
    with pytest.raises(RequestRejected, match="no dead letter at sequence 999"):
        await world.ask_owner("ingress", RedriveDeadLetter(seq=999))


async def _equals(read: Callable[[], Awaitable[list[str]]], want: list[str]) -> bool:
    return await read() == want


# --- the CLI, a real process ------------------------------------------------------------


async def cli(nats: ServerProcess, backends: Backends, *args: str) -> tuple[int, str, str]:
    assert nats.users is not None
    env = {
        **os.environ,
        "MONGODB_URI": backends.mongodb_uri,
        "NATS_URL": f"nats://127.0.0.1:{nats.port}",
        **nats.users.env("operator"),
        "COLUMNS": "250",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "careline_cli.main",
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_the_cli_previews_redrives_and_reports_errors(
    world: World, nats: ServerProcess, backends: Backends
) -> None:
    seq = await dead_lettered_by_billing(world, "reg-cli")
    world.billing.broken = False

    code, out, err = await cli(nats, backends, "deadletters", "redrive", "--since", "1h", "--dry-run")
    assert code == 0, err
    line = next(ln for ln in out.splitlines() if "reg-cli" in ln)
    assert "would redrive" in line and PARTITION in line and "billing-users-" in line and str(seq) in line
    await eventually(world.settled, timeout_s=10)
    assert await world.billing.handled() == []  # a dry run publishes nothing

    code, out, err = await cli(nats, backends, "deadletters", "redrive", "--subject", "user.registered")
    assert code == 0, err
    assert "redriven" in out and f"redrive:{seq}:" in out and "1 letter(s): 1 redriven" in out
    await eventually(lambda: _equals(world.billing.handled, ["reg-cli"]), timeout_s=20)

    code, out, err = await cli(nats, backends, "deadletters", "redrive", "--id", "no-such-message")
    assert (code, out.strip(), err) == (0, "No dead letters match.", "")

    code, out, err = await cli(nats, backends, "deadletters", "redrive")
    assert code == 2 and "choose the letters: --id, --seq, --subject or --since" in err

    code, out, err = await cli(nats, backends, "deadletters", "redrive", "--since", "yesterday-ish")
    assert code == 2 and "not a time" in err
    await eventually(world.settled, timeout_s=20)
    assert await world.billing.handled() == ["reg-cli"] and await world.profile.handled() == ["reg-cli"]


async def test_the_cli_reports_an_owner_that_does_not_answer(
    world: World, nats: ServerProcess, backends: Backends
) -> None:
    """``profile.prompt.ready`` is profile's to publish, and no profile answers here."""
    letter = a_letter("p-2", "profile.prompt.ready.3", datetime.now(UTC), "conversation")
    await publish_letter(world, letter, "profile.prompt.ready")

    code, out, err = await cli(nats, backends, "deadletters", "redrive", "--id", "p-2", "--timeout", "2")

    assert code == 1, (out, err)
    line = next(ln for ln in out.splitlines() if "p-2" in ln)
    assert "failed" in line and "profile did not answer" in line
    assert "1 letter(s): 1 failed" in out
