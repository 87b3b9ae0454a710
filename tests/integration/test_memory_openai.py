"""Memory through the real openai SDK against the local fake API: what the model is told it
remembers, the remember tool it is offered, and embeddings computed by the official client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from careline_conversation.agents import AgentContext, OpenAIAgent
from careline_conversation.integrations.embeddings import EmbeddingUnavailable, OpenAIEmbedder
from careline_testing.fakes import FakeOpenAI, ScriptedAnswer, ThreadedServer

pytestmark = pytest.mark.asyncio
CONTEXT = AgentContext(
    message="the nights are so hard again",
    first_name="Ana",
    remembered=(("the care recipient's condition", "dementia"), ("what has helped", "the adult day program")),
    band="high",
    pressure_zones=("emotional", "time"),
    recent_crisis="suicide_self",
    recalled=("mom wanders at night and I can't sleep",),
    resources=("ARCH National Respite Locator: Find respite care. (archrespite.org)",),
)


@pytest.fixture
def fake() -> Iterator[tuple[FakeOpenAI, str]]:
    api = FakeOpenAI()
    with ThreadedServer(api.app()) as server:
        yield api, f"{server.url}/v1"


async def test_the_model_is_told_what_the_line_remembers_and_offered_the_remember_tool(
    fake: tuple[FakeOpenAI, str],
) -> None:
    api, url = fake
    api.script.append(ScriptedAnswer("Nights with dementia are so hard, Ana."))
    await OpenAIAgent("sk-test", "gpt-test", base_url=url).reply(CONTEXT)
    [request] = api.requests
    system = request["messages"][0]["content"]
    assert "the care recipient's condition: dementia" in system
    assert "what has helped: the adult day program" in system
    assert "band high, pressure zones emotional, time" in system
    assert "crisis (suicide self)" in system  # the category, as a label
    assert json.dumps("mom wanders at night and I can't sleep") in system  # quoted, as data
    assert "ARCH National Respite Locator" in system and "archrespite.org" in system
    [remember] = [t["function"] for t in request["tools"] if t["function"]["name"] == "remember"]
    assert remember["parameters"]["properties"]["field"]["enum"] == [
        "recipient_name",
        "condition",
        "living_situation",
        "stressor",
        "what_helped",
    ]


async def test_nothing_about_memory_is_said_when_nothing_is_known(fake: tuple[FakeOpenAI, str]) -> None:
    api, url = fake
    api.script.append(ScriptedAnswer("That sounds hard."))
    await OpenAIAgent("sk-test", "gpt-test", base_url=url).reply(AgentContext(message="hi"))
    system = api.requests[0]["messages"][0]["content"]
    assert "remember about this caregiver" not in system and "burnout check-in" not in system
    assert "Earlier messages" not in system and "Catalogue resources" not in system


async def test_in_the_day_after_a_crisis_the_crisis_is_said_once(fake: tuple[FakeOpenAI, str]) -> None:
    api, url = fake
    await OpenAIAgent("sk-test", "gpt-test", base_url=url).reply(replace(CONTEXT, post_crisis="suicide_self"))
    system = api.requests[0]["messages"][0]["content"]
    assert system.count("suicide self") == 1  # AFTER_CRISIS, not also the weeks-long note


async def test_embeddings_are_asked_with_the_model_and_dimensions_and_returned_in_order(
    fake: tuple[FakeOpenAI, str],
) -> None:
    api, url = fake
    embedder = OpenAIEmbedder("sk-test", "text-embedding-3-small", 32, base_url=url)
    vectors = await embedder.embed(["mom wanders at night", "money is tight"])
    [request] = api.embedding_requests
    assert (request["model"], request["dimensions"], request["encoding_format"]) == (
        "text-embedding-3-small",
        32,
        "float",
    )
    assert request["input"] == ["mom wanders at night", "money is tight"]
    assert vectors == [FakeOpenAI.vector("mom wanders at night", 32), FakeOpenAI.vector("money is tight", 32)]


@pytest.mark.parametrize("failure", ["server_error", "timeout"])
async def test_a_failing_or_slow_embeddings_api_raises_at_once_without_retrying(
    fake: tuple[FakeOpenAI, str], failure: str
) -> None:
    api, url = fake
    if failure == "timeout":
        api.embedding_delay_s = 3.0
    else:
        api.embedding_fail_next = 1
    embedder = OpenAIEmbedder("sk-test", "text-embedding-3-small", 32, base_url=url, timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(EmbeddingUnavailable):
        await embedder.embed(["mom wanders at night"])
    assert time.monotonic() - started < 2.5
    assert len(api.embedding_requests) == 1
