"""The caregiver's memory on real processes (issue 15, item 5): a fact told in an earlier
message reaches the OpenAI request for a later one; messages are embedded by jobs with the
official SDK against the fake API; a reply never waits on a failing or slow embeddings API; and
the memory, kept messages and their vectors go with the caregiver's erasure."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from careline_platform.admin_tokens import mint_token
from careline_testing.fakes import FakeOpenAI, FakeTwilio, ScriptedAnswer, ThreadedServer
from careline_testing.processes import Cluster
from careline_testing.waiting import eventually

from .helpers import databases, wait_until_settled
from .test_conversation_journey import Phone

pytestmark = pytest.mark.asyncio
NUMBER = "+14155550163"
SECRET = "e2e-admin-jwt-secret-0123456789abcdef"
ADMIN = "usr_bootstrap_admin"
FACT = "She has dementia, and the adult day program really helped"


@pytest.fixture
def fake_openai() -> Iterator[tuple[FakeOpenAI, str]]:
    api = FakeOpenAI()
    with ThreadedServer(api.app()) as server:
        yield api, f"{server.url}/v1"


@pytest.fixture
def cluster_env(fake_openai: tuple[FakeOpenAI, str]) -> dict[str, str]:
    _api, url = fake_openai
    return {
        "OPENAI_API_KEY": "sk-e2e",
        "OPENAI_BASE_URL": url,
        "OPENAI_TIMEOUT_S": "2",
        "OPENAI_EMBEDDING_TIMEOUT_S": "1",
        "SUMMARY_EVERY": "50",
        "ADMIN_JWT_SECRET": SECRET,
        "ADMIN_USER_IDS": ADMIN,
    }


async def onboarded(client: httpx.AsyncClient, cluster: Cluster, twilio: FakeTwilio) -> Phone:
    phone = Phone(client, cluster, twilio, NUMBER)
    for text in ("hello", "Ana", "my mom", "SKIP", "94110"):
        await phone.text(text)
    return phone


def reply_requests(api: FakeOpenAI) -> list[dict[str, Any]]:
    return [r for r in api.requests if r.get("tools")]  # (a summary's request offers none)


async def test_an_earlier_fact_reaches_a_later_openai_request_and_goes_with_the_erasure(
    cluster: Cluster,
    fake_twilio: tuple[FakeTwilio, str],
    fake_openai: tuple[FakeOpenAI, str],
    mongo: AsyncMongoClient[Any],
) -> None:
    twilio, _ = fake_twilio
    api, _ = fake_openai
    db = databases(mongo, cluster)["conversation"]
    async with httpx.AsyncClient(timeout=30) as client:
        phone = await onboarded(client, cluster, twilio)
        await phone.text(FACT)
        await wait_until_settled(cluster)  # the earlier message's jobs are done
        user = await databases(mongo, cluster)["ingress"].users.find_one({"phone": NUMBER})
        assert user is not None
        user_id = user["_id"]
        state = await db.conversation_state.find_one({"_id": user_id})
        assert state is not None and state["memory"]["condition"] == "dementia"
        assert state["memory"]["what_helped"] == ["the adult day program"]
        [kept] = await db.message_memory.find({"user_id": user_id}).to_list()
        assert kept["text"] == FACT and kept["model"] == "text-embedding-3-small"
        assert kept["vector"] == pytest.approx(FakeOpenAI.vector(FACT, 256))  # the job's, by the SDK
        assert all(r["dimensions"] == 256 for r in api.embedding_requests)

        api.script.append(
            ScriptedAnswer("Nights are hard with dementia. Is the day program still an option?")
        )
        await phone.text("the nights are so hard again")
        system = reply_requests(api)[-1]["messages"][0]["content"]
        assert "the care recipient's condition: dementia" in system
        assert "what has helped: the adult day program" in system
        assert "Ana" in system and "who they care for: parent" in system

        admin = {"Authorization": f"Bearer {mint_token(SECRET, ADMIN, timedelta(hours=1))}"}
        erased = await client.post(f"{cluster.base_url}/admin/caregivers/{user_id}/erase", headers=admin)
        assert erased.status_code == 200, erased.text
        assert erased.json()["confirmed"]["conversation"]["message_memory"] == 2
    await wait_until_settled(cluster)
    assert await db.message_memory.count_documents({"user_id": user_id}) == 0
    assert await db.conversation_state.count_documents({"_id": user_id}) == 0
    assert await db.jobs.count_documents({"type": "memory.embed", "payload.user_id": user_id}) == 0


@pytest.mark.parametrize("trouble", ["failing", "slow"])
async def test_the_reply_goes_out_while_the_embeddings_api_fails_or_hangs(
    cluster: Cluster,
    fake_twilio: tuple[FakeTwilio, str],
    fake_openai: tuple[FakeOpenAI, str],
    mongo: AsyncMongoClient[Any],
    trouble: str,
) -> None:
    twilio, _ = fake_twilio
    api, _ = fake_openai
    db = databases(mongo, cluster)["conversation"]
    async with httpx.AsyncClient(timeout=30) as client:
        phone = await onboarded(client, cluster, twilio)
        if trouble == "failing":
            api.embedding_fail_next = 1000
        else:
            api.embedding_delay_s = 30.0  # far past OPENAI_EMBEDDING_TIMEOUT_S
        api.script.append(ScriptedAnswer("That sounds exhausting. What would help tonight?"))
        started = time.monotonic()
        reply = await phone.text("mom wanders at night and I cannot sleep at all")
        took = time.monotonic() - started
    assert reply == "That sounds exhausting. What would help tonight?"  # the AI reply, not a fallback
    assert took < 6.0  # at most one embeddings timeout (1 s) on the way
    assert api.embedding_requests  # it was asked, and failed or hung
    [kept] = await db.message_memory.find({}).to_list()
    assert kept["vector"] is None  # no vector yet: its job retries later

    async def embed_job_retrying() -> bool:
        job = await db.jobs.find_one({"type": "memory.embed"}) or {}
        return job.get("attempts", 0) >= 1 and job.get("status") in ("failed", "processing", "pending")

    await eventually(embed_job_retrying, timeout_s=20)
