"""The OpenAI agent through the real openai SDK against a local fake of the API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from structlog.testing import capture_logs

from careline_conversation.agents import AgentContext, FallbackAgent, OpenAIAgent, RulesAgent, ToolCall
from careline_conversation.domain.resources import RESOURCES
from careline_conversation.intents.tips import answers
from careline_testing.fakes import FakeOpenAI, ScriptedAnswer, ThreadedServer

pytestmark = pytest.mark.asyncio
CONTEXT = AgentContext(
    message="I'm so tired, mom was up all night",
    recent=(
        {"dir": "in", "text": "hi"},
        {"dir": "out", "text": "Hi, this is Careline."},
        {"dir": "in", "text": "I'm so tired, mom was up all night"},
    ),
    summary="Cares for her mother with dementia.",
    first_name="Ana",
)


@pytest.fixture
def fake() -> Iterator[tuple[FakeOpenAI, str]]:
    api = FakeOpenAI()
    with ThreadedServer(api.app()) as server:
        yield api, f"{server.url}/v1"


def agent(url: str, timeout_s: float = 5.0) -> OpenAIAgent:
    return OpenAIAgent("sk-test", "gpt-test", base_url=url, timeout_s=timeout_s)


async def test_a_plain_answer_uses_the_context_and_offers_the_tools(fake: tuple[FakeOpenAI, str]) -> None:
    api, url = fake
    api.script.append(ScriptedAnswer("That sounds exhausting, Ana. Could you rest an hour today?"))
    reply = await agent(url).reply(CONTEXT)
    assert reply.text == "That sounds exhausting, Ana. Could you rest an hour today?"
    assert (reply.agent, reply.tool_calls) == ("openai", ())
    [request] = api.requests
    assert request["model"] == "gpt-test"
    assert {t["function"]["name"] for t in request["tools"]} == {
        "start_assessment",
        "record_profile_fact",
        "remember",
        "find_resource",
    }
    system, *turns = request["messages"]
    assert "Ana" in system["content"] and "dementia" in system["content"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]  # the new message once


async def test_tool_calls_are_answered_and_the_model_then_writes_the_reply(
    fake: tuple[FakeOpenAI, str],
) -> None:
    api, url = fake
    api.script += [
        ScriptedAnswer(
            tool_calls=[
                ("find_resource", '{"topic": "respite"}'),
                ("record_profile_fact", '{"field": "relationship", "value": "parent"}'),
                ("delete_everything", "{}"),  # not one of ours: ignored
            ]
        ),
        ScriptedAnswer("Respite care can give you a break: archrespite.org"),
    ]
    reply = await agent(url).reply(CONTEXT)
    assert reply.text == "Respite care can give you a break: archrespite.org"
    assert reply.tool_calls == (
        ToolCall("find_resource", {"topic": "respite"}),
        ToolCall("record_profile_fact", {"field": "relationship", "value": "parent"}),
    )
    second = api.requests[1]
    tool_results = [m["content"] for m in second["messages"] if m["role"] == "tool"]
    assert tool_results == [RESOURCES["respite"], "done"]
    assert "tools" not in second


@pytest.mark.parametrize("failure", ["timeout", "server_error", "unauthorized", "empty"])
async def test_when_openai_cannot_answer_the_rules_agent_does_at_once(
    fake: tuple[FakeOpenAI, str], failure: str
) -> None:
    api, url = fake
    if failure == "timeout":
        api.delay_s = 3.0
    elif failure == "server_error":
        api.fail_next = 1
    elif failure == "unauthorized":
        api.fail_next, api.fail_status = 1, 401
    else:
        api.script.append(ScriptedAnswer(""))
    started = time.monotonic()
    reply = await FallbackAgent(agent(url, timeout_s=0.5), RulesAgent()).reply(CONTEXT)
    assert reply.agent == "rules"
    assert answers(reply.text, CONTEXT.message)  # the rules agent's answer to "tired"
    assert time.monotonic() - started < 2.5
    assert len(api.requests) == 1  # no retries inside the agent


async def test_the_summary_is_written_without_tools_and_kept_short(fake: tuple[FakeOpenAI, str]) -> None:
    api, url = fake
    api.script.append(ScriptedAnswer("x" * 900, with_tools=False))
    summary = await agent(url).summarise(CONTEXT)
    assert summary == "x" * 400
    [request] = api.requests
    assert "tools" not in request
    assert request["messages"][0]["content"].startswith("Summarise")


async def test_the_rules_summary_is_extractive() -> None:
    summary = await RulesAgent().summarise(CONTEXT)
    assert summary.startswith("Name: Ana.")
    assert "I'm so tired, mom was up all night" in summary
    assert len(summary) <= 400


async def test_the_system_prompt_carries_the_safety_rules(fake: tuple[FakeOpenAI, str]) -> None:
    api, url = fake
    api.script.append(ScriptedAnswer("That sounds exhausting, Ana."))
    await agent(url).reply(CONTEXT)
    system = api.requests[0]["messages"][0]["content"]
    assert "never give medication doses" in system
    assert "Never invent a phone number" in system
    assert "never answer distress with a questionnaire" in system


async def test_after_a_crisis_the_model_hears_the_category_and_gets_no_assessment_tool(
    fake: tuple[FakeOpenAI, str],
) -> None:
    api, url = fake
    api.script.append(
        ScriptedAnswer(
            "I'm here with you, Ana. Take it one breath at a time.",
            tool_calls=[("start_assessment", '{"instrument": "checkin"}')],
        )
    )
    context = replace(CONTEXT, post_crisis="self_harm")
    reply = await agent(url).reply(context)
    [first] = api.requests
    offered = {t["function"]["name"] for t in first["tools"]}
    assert offered == {"record_profile_fact", "remember", "find_resource"}
    system = first["messages"][0]["content"]
    assert "crisis (self harm)" in system and "no questionnaire" in system
    assert "start_assessment" not in system
    assert reply.text == "I'm here with you, Ana. Take it one breath at a time."
    assert reply.tool_calls == ()  # asked for anyway: dropped


async def test_an_invented_number_never_reaches_the_caregiver(fake: tuple[FakeOpenAI, str]) -> None:
    api, url = fake
    api.script.append(ScriptedAnswer("So hard. Call the Family Care Hotline at 1-800-555-0199 tonight."))
    with capture_logs() as logs:
        reply = await FallbackAgent(agent(url), RulesAgent()).reply(CONTEXT)
    assert reply.agent == "rules"
    assert reply.text == (await RulesAgent().reply(CONTEXT)).text
    assert "555" not in reply.text
    [event] = [e for e in logs if e["event"] == "agent.tripwire"]
    assert (event["agent"], event["offending"]) == ("openai", 1)


async def test_a_catalogue_number_from_the_model_is_sent(fake: tuple[FakeOpenAI, str]) -> None:
    api, url = fake
    api.script.append(ScriptedAnswer("That is a lot, Ana. You can call or text 988 any time."))
    reply = await FallbackAgent(agent(url), RulesAgent()).reply(CONTEXT)
    assert (reply.agent, reply.text) == ("openai", "That is a lot, Ana. You can call or text 988 any time.")
