"""The rules agent's words for distress (never a questionnaire pitch) and after a crisis."""

from __future__ import annotations

import pytest

from careline_conversation.agents import AgentContext, RulesAgent
from careline_conversation.domain import replies
from careline_conversation.safety.sizing import normalise_for_gsm, segments

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize(
    "text",
    [
        "im so tired i havent slept in 3 days",
        "feeling really overwhelmed with moms appointments",
        "so stressed about the bills",
        "i cried in the car again",
        "honestly im just angry all the time and i hate that",
        "Exhausted. Nobody helps.",
        "lloré toda la noche",
    ],
)
async def test_distress_never_gets_a_check_in_pitch(text: str) -> None:
    for n in range(20):
        reply = (await RulesAgent().reply(AgentContext(message=text, message_id=f"SM{n}"))).text
        assert "CHECK IN" not in reply and "check-in on how" not in reply
        assert segments(normalise_for_gsm(reply)) <= 3


async def test_a_neutral_message_may_be_offered_a_check_in() -> None:
    texts = [
        (
            await RulesAgent().reply(
                AgentContext(message="mom has a doctor visit on tuesday", message_id=f"SM{n}")
            )
        ).text
        for n in range(20)
    ]
    assert any("CHECK IN" in t for t in texts)


async def test_after_a_crisis_there_is_no_pitch_at_all() -> None:
    context = AgentContext(message="mom has a doctor visit on tuesday", post_crisis="suicide_self")
    reply = (await RulesAgent().reply(context)).text
    assert reply == replies.gentle() and "CHECK IN" not in reply and "988" in reply
