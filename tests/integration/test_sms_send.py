"""Conversation's reply: composed in the turn or in the job, sent by the SMS job with the real
twilio SDK against a local fake Twilio API.

An instant agent's reply is decided with the turn; any other agent's inside the job. A first
attempt writes nothing before the send; a later attempt asks Twilio whether an earlier one's
message went out, and never mistakes another job's identical text for its own.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from structlog.testing import capture_logs

from careline_contracts import subjects
from careline_contracts.ingress import SmsReceived
from careline_contracts.jobs import SendSmsJob
from careline_conversation import handlers, repository, sending
from careline_conversation.agents.base import AgentContext, AgentReply
from careline_conversation.agents.rules import RulesAgent
from careline_conversation.domain.ratelimit import RateLimits
from careline_conversation.integrations.sms import TwilioSender
from careline_conversation.intents.tips import answers
from careline_conversation.repository import ConversationUow, MongoReader, MongoSentMessages, MongoWriter
from careline_platform.clock import SystemClock
from careline_platform.jobs import JobStore, JobType, JobWorker, RetryPolicy, new_job
from careline_platform.messaging import Delivery
from careline_platform.mongo import connect
from careline_platform.uow import UnitOfWork
from careline_testing.fakes import FakeTwilio, SentSms, ThreadedServer
from careline_testing.servers import Backends
from careline_testing.waiting import eventually

pytestmark = pytest.mark.asyncio
_names = itertools.count()
PHONE = "+14155550777"
USER = "usr_send"
SEND_SMS = SendSmsJob.job_type()
SAME_WORDS = "Thanks for telling me. Would a quick check-in help? Reply CHECK IN."


@pytest.fixture
def twilio() -> Iterator[tuple[FakeTwilio, str]]:
    api = FakeTwilio()
    with ThreadedServer(api.app()) as server:
        yield api, server.url


@dataclasses.dataclass
class Conversation:
    """Conversation's handlers over one database: its unit of work, services and job store."""

    uow: ConversationUow
    services: handlers.Services
    jobs: JobStore
    db: Any


@pytest_asyncio.fixture
async def deps(backends: Backends, twilio: tuple[FakeTwilio, str]) -> AsyncIterator[Conversation]:
    _api, url = twilio
    client = connect(backends.mongodb_uri)
    db = client[f"conversation_send_{next(_names)}"]
    await repository.ensure_indexes(db)
    store = JobStore(db.jobs, SystemClock())
    await store.ensure_indexes()
    sender = TwilioSender("AC" + "c" * 32, "token", "+14155550000", api_base_url=url, timeout_s=2)
    uow = UnitOfWork(
        client,
        db,
        jobs=store,
        clock=SystemClock(),
        stream=subjects.CONVERSATION,
        writer=MongoWriter,
        reader=MongoReader,
    )
    services = handlers.Services(
        sender=sender,
        agent=RulesAgent(),
        progress=store,
        sent=MongoSentMessages(db),
        limits=RateLimits(),
    )
    yield Conversation(uow, services, store, db)
    await sender.close()
    await client.close()


async def no_dead_letters(_doc: dict[str, Any]) -> None:
    return None


async def run_jobs(deps: Conversation, *keys: str) -> None:
    """Owe one reply with ``SAME_WORDS`` per key, in order, and run every reply job until none is left."""
    for key in keys:
        payload = SendSmsJob(to=PHONE, user_id=USER, body=SAME_WORDS, kind="agent").to_payload()
        job = new_job(key, SEND_SMS, payload, now=datetime.now(UTC), actor=USER)
        await deps.jobs.enqueue(job)
    worker = JobWorker(
        deps.jobs,
        {
            SEND_SMS: JobType(
                lambda job: sending.send_sms(job, deps.uow, deps.services), RetryPolicy(base_s=0.1, jitter=0)
            )
        },
        owner="test",
        dead_letter_sink=no_dead_letters,
        poll_interval_s=0.05,
    )
    worker.start()

    async def all_completed() -> bool:
        unfinished = {"type": SEND_SMS, "status": {"$ne": "completed"}}
        return await deps.jobs.col.count_documents(unfinished) == 0

    try:
        await eventually(all_completed, timeout_s=20)
    finally:
        await worker.stop(grace_s=2)


async def test_a_first_attempt_writes_only_its_outcome(
    deps: Conversation, twilio: tuple[FakeTwilio, str]
) -> None:
    api, _ = twilio
    await run_jobs(deps, "sms:reply:one")
    assert [m.body for m in api.to(PHONE)] == [SAME_WORDS]
    doc = await deps.jobs.col.find_one({"_id": "sms:reply:one"})
    assert doc is not None
    assert doc["progress"] == {}  # nothing written around the send
    assert doc["attempts"] == 1 and doc["first_claimed_at"] is not None
    assert doc["result"] == {"sid": api.to(PHONE)[0].sid}
    sent = await deps.db.outbound_messages.find_one({"_id": api.to(PHONE)[0].sid})
    assert sent is not None and sent["job_key"] == "sms:reply:one"


async def test_a_retry_takes_its_own_lost_message_but_never_another_jobs_identical_one(
    deps: Conversation, twilio: tuple[FakeTwilio, str]
) -> None:
    api, _ = twilio
    await run_jobs(deps, "sms:reply:first")

    # The same words again, but Twilio refuses the first try outright: nothing went out, so
    # the retry must send, though Twilio already holds a message with exactly this text.
    api.fail_next = 1
    await run_jobs(deps, "sms:reply:second")
    assert [m.body for m in api.to(PHONE)] == [SAME_WORDS, SAME_WORDS]
    assert len(api.attempts) == 3

    # Twilio accepts the third one but the answer is lost: the retry finds it and sends nothing.
    api.lose_answers = 1
    await run_jobs(deps, "sms:reply:third")
    assert len(api.to(PHONE)) == 3
    assert len(api.attempts) == 4
    owners = {
        m.sid: (await deps.db.outbound_messages.find_one({"_id": m.sid}) or {}).get("job_key")
        for m in api.to(PHONE)
    }
    assert sorted(owners.values()) == ["sms:reply:first", "sms:reply:second", "sms:reply:third"]


class SlowAgent:
    """An agent that is not instant (as OpenAI's): its replies are composed in the job."""

    name = "slow"
    instant = False

    async def reply(self, context: AgentContext) -> AgentReply:
        return AgentReply(f"slow: {context.message}", self.name)

    async def summarise(self, context: AgentContext) -> str:
        return ""


async def a_turn(deps: Conversation, sid: str, body: str) -> dict[str, Any]:
    """An onboarded caregiver texts ``body``; returns the reply job the turn owed."""
    now = datetime.now(UTC)
    await deps.db.conversation_state.update_one(
        {"_id": USER},
        {"$set": {"phone": PHONE, "welcomed": True, "onboarding": {"field": None}}},
        upsert=True,
    )
    event = SmsReceived(occurred_at=now, message_sid=sid, user_id=USER, phone=PHONE, body=body)
    await handlers.on_sms_received(
        event, Delivery(f"twilio:{sid}", event.subject, 1, now), deps.uow, deps.services
    )
    job = await deps.jobs.col.find_one({"_id": f"sms:reply:{sid}"})
    assert job is not None
    return job


async def test_an_instant_agents_reply_is_decided_with_the_turn(
    deps: Conversation, twilio: tuple[FakeTwilio, str]
) -> None:
    job = await a_turn(deps, "SMinstant", "I am so tired")
    instant_reply = job["payload"]["body"]
    assert answers(instant_reply, "I am so tired") and job["payload"]["agent"] == "rules"
    assert "compose" not in job["payload"]
    state = await deps.uow.read().state(USER)
    assert state is not None and state["recent_messages"][-1]["text"] == job["payload"]["body"]

    slow = dataclasses.replace(deps, services=dataclasses.replace(deps.services, agent=SlowAgent()))
    job = await a_turn(slow, "SMslow", "hello there")
    assert "body" not in job["payload"] and job["payload"]["compose"]["message"] == "hello there"
    await run_jobs(slow)
    api, _ = twilio
    assert [m.body for m in api.to(PHONE)] == [instant_reply, "slow: hello there"]


async def test_a_retry_never_takes_an_unrecorded_message_from_before_the_job(
    deps: Conversation, twilio: tuple[FakeTwilio, str]
) -> None:
    """The same words went out an hour ago and no record names them (the caregiver was erased
    since, say): a retry after a refused first try sends anew."""
    api, _ = twilio
    api.messages.append(SentSms("SM" + "0" * 32, PHONE, "+14155550000", SAME_WORDS, 0.0, time.time() - 3600))
    api.fail_next = 1
    await run_jobs(deps, "sms:reply:after-erasure")
    assert [m.body for m in api.to(PHONE)] == [SAME_WORDS, SAME_WORDS]
    assert len(api.attempts) == 2
    doc = await deps.jobs.col.find_one({"_id": "sms:reply:after-erasure"})
    assert doc is not None and doc["result"] == {"sid": api.to(PHONE)[1].sid}


async def test_a_text_outside_the_allowed_regions_goes_dead_at_once_and_twilio_never_hears_of_it(
    deps: Conversation, twilio: tuple[FakeTwilio, str]
) -> None:
    """SMS pumping: a Jamaican number (+1, but not the US or Canada) gets a dead job on its first
    attempt, whose reason names the region and never the number; the SDK is never called."""
    api, _ = twilio
    jamaica = "+18765550123"
    payload = SendSmsJob(to=jamaica, user_id=USER, body=SAME_WORDS, kind="agent").to_payload()
    await deps.jobs.enqueue(new_job("sms:reply:far", SEND_SMS, payload, now=datetime.now(UTC), actor=USER))
    letters: list[dict[str, Any]] = []

    async def collect(doc: dict[str, Any]) -> None:
        letters.append(doc)

    worker = JobWorker(
        deps.jobs,
        {SEND_SMS: JobType(lambda job: sending.send_sms(job, deps.uow, deps.services), RetryPolicy())},
        owner="test",
        dead_letter_sink=collect,
        poll_interval_s=0.05,
    )
    with capture_logs() as logs:
        worker.start()
        try:
            await eventually(lambda: letters, timeout_s=20)
        finally:
            await worker.stop(grace_s=2)
    doc = await deps.jobs.col.find_one({"_id": "sms:reply:far"})
    assert doc is not None and doc["status"] == "dead" and doc["attempts"] == 1
    assert doc["last_error"] == (
        "DestinationNotAllowed: destination +1 876 (Jamaica, JM)"
        " is not in SMS_ALLOWED_REGIONS (CA,US): not sent"
    )
    assert [letter["_id"] for letter in letters] == ["sms:reply:far"]
    assert api.attempts == [] and api.messages == []
    failed = [line for line in logs if line["event"] == "job.failed"]
    assert failed and failed[0]["error"] == "DestinationNotAllowed" and failed[0]["permanent"] is True
    assert "5550123" not in repr(logs)
