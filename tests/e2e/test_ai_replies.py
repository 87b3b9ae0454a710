"""AI replies through real processes: written in the job, stored before sending, reused on retry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from careline_conversation.intents.tips import answers
from careline_testing.fakes import FakeOpenAI, FakeTwilio, ScriptedAnswer, ThreadedServer
from careline_testing.processes import Cluster
from careline_testing.signing import inbound_sms_params
from careline_testing.waiting import eventually

from .helpers import databases, post_sms

pytestmark = pytest.mark.asyncio
PHONE = "+14155550141"


@pytest.fixture
def fake_openai() -> Iterator[tuple[FakeOpenAI, str]]:
    api = FakeOpenAI()
    with ThreadedServer(api.app()) as server:
        yield api, f"{server.url}/v1"


@pytest.fixture
def cluster_env(fake_openai: tuple[FakeOpenAI, str]) -> dict[str, str]:
    _api, url = fake_openai
    return {"OPENAI_API_KEY": "sk-e2e", "OPENAI_BASE_URL": url, "OPENAI_TIMEOUT_S": "2", "SUMMARY_EVERY": "6"}


async def onboard(client: httpx.AsyncClient, cluster: Cluster, twilio: FakeTwilio) -> None:
    """Welcome, then name, relationship, condition and ZIP: five fixed replies, no AI call."""
    for k, text in enumerate(("hello", "Ana", "my mom", "dementia", "94110"), start=1):
        await post_sms(client, cluster, inbound_sms_params(PHONE, text))
        await eventually(lambda k=k: len(twilio.to(PHONE)) == k)


async def test_the_ai_text_is_stored_once_and_a_failed_send_reuses_it(
    cluster: Cluster,
    fake_twilio: tuple[FakeTwilio, str],
    fake_openai: tuple[FakeOpenAI, str],
    mongo: AsyncMongoClient[Any],
) -> None:
    twilio, _ = fake_twilio
    api, _ = fake_openai
    async with httpx.AsyncClient(timeout=10) as client:
        await onboard(client, cluster, twilio)
        assert api.requests == []

        api.script.append(
            ScriptedAnswer("That sounds like a long night. Could you rest a little today?", with_tools=True)
        )
        twilio.fail_next = 2  # the first two sends of the AI reply fail
        params = inbound_sms_params(PHONE, "mom was up all night again")
        await post_sms(client, cluster, params)
        await eventually(lambda: len(twilio.to(PHONE)) == 6, timeout_s=30)

    assert twilio.to(PHONE)[5].body == "That sounds like a long night. Could you rest a little today?"
    assert sum(bool(r.get("tools")) for r in api.requests) == 1  # three send attempts, one AI reply
    job = await databases(mongo, cluster)["conversation"].jobs.find_one(
        {"_id": f"sms:reply:{params['MessageSid']}"}
    )
    assert job is not None
    assert job["attempts"] == 3
    assert job["progress"]["agent"] == "openai"
    state = await databases(mongo, cluster)["conversation"].conversation_state.find_one({})
    assert state is not None
    outgoing = [m["text"] for m in state["recent_messages"] if m["dir"] == "out"]
    assert outgoing[-1] == twilio.to(PHONE)[5].body and outgoing.count(outgoing[-1]) == 1
    [reply_request] = [r for r in api.requests if r.get("tools")]  # (the summary's has none)
    assert "Ana" in reply_request["messages"][0]["content"]  # the name onboarding learned


async def test_when_openai_is_down_the_rules_agent_answers(
    cluster: Cluster, fake_twilio: tuple[FakeTwilio, str], fake_openai: tuple[FakeOpenAI, str]
) -> None:
    twilio, _ = fake_twilio
    api, _ = fake_openai
    async with httpx.AsyncClient(timeout=10) as client:
        await onboard(client, cluster, twilio)
        api.fail_next = 10
        await post_sms(client, cluster, inbound_sms_params(PHONE, "I'm so tired"))
        await eventually(lambda: len(twilio.to(PHONE)) == 6, timeout_s=45)  # a loaded CI machine
    assert answers(twilio.to(PHONE)[5].body, "I'm so tired")  # the rules agent's answer


async def test_the_agents_tool_calls_become_events_and_the_summary_is_refreshed(
    cluster: Cluster,
    fake_twilio: tuple[FakeTwilio, str],
    fake_openai: tuple[FakeOpenAI, str],
    mongo: AsyncMongoClient[Any],
) -> None:
    twilio, _ = fake_twilio
    api, _ = fake_openai
    db = databases(mongo, cluster)
    async with httpx.AsyncClient(timeout=10) as client:
        await onboard(client, cluster, twilio)
        api.script += [
            ScriptedAnswer(
                "Thanks for telling me. Want a quick check-in?",
                tool_calls=[
                    ("record_profile_fact", '{"field": "zip", "value": "10001"}'),
                    ("record_profile_fact", '{"field": "zip", "value": "not a zip"}'),  # does not validate
                    ("start_assessment", '{"instrument": "checkin"}'),
                ],
                with_tools=True,
            ),
            ScriptedAnswer("Ana cares for her mother and moved to New York.", with_tools=False),
        ]
        await post_sms(client, cluster, inbound_sms_params(PHONE, "we moved to NYC, 10001. can we check in?"))
        # The agent's reply, then the check-in it started: waiting for exactly six could miss
        # the moment between them on a loaded machine.
        await eventually(lambda: len(twilio.to(PHONE)) == 7, timeout_s=45)
        sent = [m.body for m in twilio.to(PHONE)]
        assert sent[5] == "Thanks for telling me. Want a quick check-in?"
        assert sent[6].startswith("Quick check-in:")
        user = await db["ingress"].users.find_one({"phone": PHONE})
        assert user is not None

        async def zip_moved() -> bool:
            doc = await db["profile"].user_profiles.find_one({"_id": user["_id"]}) or {}
            return doc.get("zip") == "10001"

        await eventually(zip_moved)

        async def summarised() -> bool:
            state = await db["conversation"].conversation_state.find_one({"_id": user["_id"]}) or {}
            return state.get("summary") == "Ana cares for her mother and moved to New York."

        await eventually(summarised)  # SUMMARY_EVERY=6: the sixth message asked for one
    owed = [d["_id"] async for d in db["conversation"].jobs.find({"type": "outbox.publish"})]
    assert sum(k.startswith("event:assessment-request:") for k in owed) == 1
    assert sum(k.startswith("event:fact:sms:reply:") for k in owed) == 1
