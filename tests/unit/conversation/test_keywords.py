"""STOP/HELP/START: the whole trimmed message is the keyword, or there is no keyword."""

from __future__ import annotations

import pytest

from careline_conversation.domain import replies
from careline_conversation.safety.keywords import Keyword, parse_keyword


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("STOP", Keyword.STOP),
        ("stop", Keyword.STOP),
        ("Stop", Keyword.STOP),
        ("  stop  ", Keyword.STOP),
        ("stop.", Keyword.STOP),
        ("STOP!", Keyword.STOP),
        ("Stop!!!", Keyword.STOP),
        ('"STOP"', Keyword.STOP),
        ("UNSUBSCRIBE", Keyword.STOP),
        ("end", Keyword.STOP),
        ("Quit", Keyword.STOP),
        ("cancel", Keyword.STOP),
        ("STOPALL", Keyword.STOP),
        ("revoke", Keyword.STOP),
        ("OptOut", Keyword.STOP),
        ("\uff33\uff34\uff2f\uff30", Keyword.STOP),  # full-width letters from some phone keyboards
        ("START", Keyword.START),
        ("yes", Keyword.START),
        ("Yes!", Keyword.START),
        ("unstop", Keyword.START),
        ("HELP", Keyword.HELP),
        ("help?", Keyword.HELP),
        ("Info", Keyword.HELP),
        ("info.", Keyword.HELP),
    ],
)
def test_keywords(text: str, keyword: Keyword) -> None:
    """Each keyword, in any case, with surrounding spaces or trailing punctuation."""
    assert parse_keyword(text) == keyword


@pytest.mark.parametrize(
    "text",
    [
        "I need help with mom",  # the original's mistake: a keyword anywhere in a sentence
        "help me",
        "stop it",
        "Please stop",
        "I want to stop being so tired",
        "can you help",
        "yes please",
        "the end",
        "info about respite care",
        "OPT OUT",
        "STOP ALL",
        "stopp",
        "s t o p",
        "",
        "   ",
        "...",
    ],
)
def test_not_keywords(text: str) -> None:
    """Anything more than the keyword itself is conversation, not a command."""
    assert parse_keyword(text) is None


def test_help_reply_says_what_the_line_is_how_to_stop_and_the_crisis_numbers() -> None:
    """HELP explains the line, STOP and START, and the crisis numbers."""
    assert "Careline" in replies.text("help")
    assert "caregivers" in replies.text("help")
    for word in ("STOP", "START", "988", "741741", "911"):
        assert word in replies.text("help")


def test_confirmations_say_how_to_come_back() -> None:
    """The STOP confirmation tells how to come back; START's tells how to stop again."""
    assert "START" in replies.text("stop")
    assert "STOP" in replies.text("start")
