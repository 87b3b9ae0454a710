"""The contact tripwire: an AI reply naming a contact outside the catalogue is never sent."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from careline_conversation.agents import AgentContext, AgentReply, FallbackAgent, RulesAgent, ToolCall
from careline_conversation.agents.fallback import ContactTripwire
from careline_conversation.intents.tips import answers

pytestmark = pytest.mark.asyncio
CONTEXT = AgentContext(message="I'm so tired, mom was up all night")


class ScriptedAgent:
    """A primary agent that answers with a fixed text (and tool calls), as a model might."""

    name = "scripted"
    instant = False

    def __init__(self, text: str, tool_calls: tuple[ToolCall, ...] = ()) -> None:
        self.text = text
        self.tool_calls = tool_calls

    async def reply(self, context: AgentContext) -> AgentReply:
        return AgentReply(self.text, self.name, self.tool_calls)

    async def summarise(self, context: AgentContext) -> str:
        return "Call 1-800-555-0199"  # a summary is never sent: no tripwire


async def answer(text: str) -> AgentReply:
    return await FallbackAgent(ScriptedAgent(text), RulesAgent()).reply(CONTEXT)


@pytest.mark.parametrize(
    "text",
    [
        "That sounds so hard. You can call or text 988 any time.",
        "The Eldercare Locator can help: 1-800-677-1116.",
        "If you are not safe, text START to 88788 or see thehotline.org.",
        "For respite near you, try archrespite.org.",
        "Veterans: dial 988 then press 1, or text 838255.",
        "In an emergency, call 911. 211 can find local help too.",
    ],
)
async def test_replies_with_catalogue_contacts_are_sent(text: str) -> None:
    reply = await answer(text)
    assert (reply.text, reply.agent) == (text, "scripted")


@pytest.mark.parametrize(
    "text",
    [
        "You could call the caregiver hotline at 1-800-555-0199.",
        "Text 555-1234 for a nurse.",
        "There is help at carersupportnow.org.",
        "Try https://www.dementia-help-center.com/chat today.",
        "Text CARE to 45678 for support.",
        # seen only in news reports, not confirmed on alz.org: not in the catalogue (yet)
        "The Alzheimer's Association Helpline is 1-800-272-3900.",
    ],
)
async def test_replies_with_invented_contacts_get_the_rules_reply(text: str) -> None:
    with capture_logs() as logs:
        reply = await answer(text)
    assert reply.agent == "rules"
    assert answers(reply.text, CONTEXT.message)  # the rules agent's answer instead
    [event] = [e for e in logs if e["event"] == "agent.tripwire"]
    assert event["agent"] == "scripted" and event["offending"] >= 1
    assert text not in str(event)  # the count, never the text


@pytest.mark.parametrize(
    "text",
    [
        "It is $9.99 a month or $99 a year, whenever you are ready.",
        "Got it, 10001 is your ZIP.",
        "Your score was 72 of 100: that is a lot to carry.",
        "Question (2 of 10) can wait. Rest for 20 minutes if you can.",
    ],
)
async def test_prices_zips_scores_and_progress_do_not_trip_it(text: str) -> None:
    assert (await answer(text)).text == text


async def test_a_tripped_reply_is_dropped_with_its_tool_calls() -> None:
    calls = (ToolCall("start_assessment", {"instrument": "checkin"}),)
    agent = FallbackAgent(ScriptedAgent("Call 1-800-555-0199.", calls), RulesAgent())
    reply = await agent.reply(CONTEXT)
    assert (reply.agent, reply.tool_calls) == ("rules", ())


async def test_system_links_pass_when_the_tripwire_is_told_about_them() -> None:
    text = "You can renew here: https://billing.stripe.com/p/session/abc"
    strict = FallbackAgent(ScriptedAgent(text), RulesAgent())
    told = FallbackAgent(
        ScriptedAgent(text), RulesAgent(), ContactTripwire(allowed_links_extra=("billing.stripe.com",))
    )
    assert (await strict.reply(CONTEXT)).agent == "rules"
    assert (await told.reply(CONTEXT)).text == text


async def test_summaries_are_not_checked_because_they_are_never_sent() -> None:
    agent = FallbackAgent(ScriptedAgent("hi"), RulesAgent())
    assert await agent.summarise(CONTEXT) == "Call 1-800-555-0199"
