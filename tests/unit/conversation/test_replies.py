"""The rules agent's words: warmth for distress (never a questionnaire pitch), gentleness after a crisis."""

from __future__ import annotations

import pytest

from careline_conversation.domain import replies
from careline_conversation.safety.sizing import is_gsm7, segments


@pytest.mark.parametrize(
    "text",
    [
        "im so tired i havent slept in 3 days",
        "feeling really overwhelmed with moms appointments",
        "so stressed about the bills",
        "i cried in the car again",
        "honestly im just angry all the time and i hate that",
        "Exhausted. Nobody helps.",
    ],
)
def test_distress_gets_warmth_and_an_open_question_never_a_check_in_pitch(text: str) -> None:
    reply = replies.rules_reply(text)
    assert "CHECK IN" not in reply and "check-in" not in reply
    assert reply.endswith("What's weighing on you most right now?")
    assert is_gsm7(reply) and segments(reply) == 1


def test_a_neutral_message_may_be_offered_a_check_in() -> None:
    assert "CHECK IN" in replies.rules_reply("mom has a doctor visit on tuesday")


def test_after_a_crisis_there_is_no_pitch_at_all() -> None:
    reply = replies.rules_reply("mom has a doctor visit on tuesday", post_crisis=True)
    assert reply == replies.GENTLE and "CHECK IN" not in reply and "988" in reply
