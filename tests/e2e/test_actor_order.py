"""The actor rule with two replicas of conversation: per caregiver one at a time, in order."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from careline_platform.logging import keyed_fingerprint
from careline_testing.fakes import FakeTwilio
from careline_testing.processes import Cluster, ServiceProcess
from careline_testing.servers import Backends
from careline_testing.signing import inbound_sms_params
from careline_testing.waiting import eventually

from .helpers import databases, post_sms

pytestmark = pytest.mark.asyncio
CAREGIVERS, MESSAGES = 50, 10
TAG_KEY = "actor-order-log-tags"


@pytest.fixture
def cluster_env() -> dict[str, str]:
    """One redaction key for both replicas: their logs name a message by the same tag."""
    return {"LOG_REDACTION_KEY": TAG_KEY}


def fingerprint(value: str) -> str:
    return keyed_fingerprint(TAG_KEY.encode(), value)


@pytest.mark.slow  # started first (tests/conftest.py)
async def test_two_conversation_replicas_keep_each_caregivers_order(
    cluster: Cluster, backends: Backends, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    """50 caregivers x 10 rapid messages: replies leave in arrival order and turns never overlap."""
    fake, _ = fake_twilio
    second = ServiceProcess(
        "conversation", cluster.service_env("conversation"), cluster.log_dir / "conversation-2.log"
    )
    second.start()
    phones = [f"+1415556{i:04d}" for i in range(CAREGIVERS)]
    sent: dict[str, list[str]] = {p: [] for p in phones}
    try:
        async with httpx.AsyncClient(timeout=30) as client:

            async def caregiver(phone: str) -> None:
                for k in range(MESSAGES):  # each waits for Twilio's 200, as Twilio itself does
                    params = inbound_sms_params(phone, f"message {k}")
                    resp = await post_sms(client, cluster, params)
                    assert resp.status_code == 200
                    sent[phone].append(params["MessageSid"])

            await asyncio.gather(*(caregiver(p) for p in phones))
        await eventually(lambda: len(fake.messages) == CAREGIVERS * MESSAGES, timeout_s=240)
    finally:
        second.stop()

    mongo: AsyncMongoClient[Any] = AsyncMongoClient(backends.mongodb_uri)
    db = databases(mongo, cluster)["conversation"]
    job_of_sid: dict[str, str] = {}
    try:
        # the SMS job records a message after Twilio answered: the last ones may not be yet
        async def every_reply_recorded() -> bool:
            nonlocal job_of_sid
            job_of_sid = {d["_id"]: d["job_key"] async for d in db.outbound_messages.find({})}
            return len(job_of_sid) >= CAREGIVERS * MESSAGES

        await eventually(every_reply_recorded, timeout_s=30)
        states = {d["_id"]: d async for d in db.conversation_state.find({})}
    finally:
        await mongo.close()
    assert len(fake.messages) == CAREGIVERS * MESSAGES  # none lost, none duplicated
    for phone in phones:
        replied_to = [job_of_sid[m.sid].removeprefix("sms:reply:") for m in fake.to(phone)]
        assert replied_to == sent[phone], phone  # replies left in the order messages arrived
    for state in states.values():
        assert state["total_interactions"] == MESSAGES
        inbound = [int(m["text"].split()[-1]) for m in state["recent_messages"] if m["dir"] == "in"]
        assert inbound == sorted(inbound) and inbound[-1] == MESSAGES - 1
    # one turn at a time, across both replicas: each message's handling (from both processes'
    # logs) ends before the caregiver's next message starts being handled
    logs = [cluster.log_dir / "conversation.log", cluster.log_dir / "conversation-2.log"]
    fingerprints = {fingerprint(f"twilio:{sid}") for sids in sent.values() for sid in sids}
    handled: dict[str, tuple[float, float, str]] = {}

    def every_handling_logged() -> bool:  # logged after the ack; the reply job may be quicker
        nonlocal handled
        handled = handling_intervals(logs)
        return fingerprints <= handled.keys()

    await eventually(every_handling_logged, timeout_s=10)
    replicas_used = {where for _, _, where in handled.values()}
    assert len(replicas_used) == 2
    for phone in phones:
        spans = [handled[fingerprint(f"twilio:{sid}")] for sid in sent[phone]]
        for (_, end, _), (start, _, _) in itertools.pairwise(spans):
            assert end <= start, phone


def handling_intervals(logs: list[Path]) -> dict[str, tuple[float, float, str]]:
    """(start, end, log file) of every inbound message handled, keyed by message fingerprint."""
    found: dict[str, tuple[float, float, str]] = {}
    for path in logs:
        for line in path.read_text().splitlines():
            if '"message.handled"' not in line or "conversation-sms-inbound" not in line:
                continue
            record = json.loads(line)
            start = float(record["started"])
            found[record["msg"]] = (start, start + float(record["ms"]) / 1000, path.name)
    return found
