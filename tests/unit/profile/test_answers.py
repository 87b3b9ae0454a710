"""Tolerant Likert parsing: numbers, words and frequency phrases; nothing ambiguous guessed."""

from __future__ import annotations

import pytest

from careline_profile.domain.answers import SKIP, parse_answer


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", 3),
        ("3!", 3),
        (" 5. ", 5),
        ("I'd say 4", 4),
        ("I\u2019d say 4", 4),  # curly apostrophe from a phone keyboard
        ("4/5", 4),
        ("4 out of 5", 4),
        ("a 2 today", 2),
        ("three", 3),
        ("Four", 4),
        ("one", 1),
        ("4 - rough night, he was up twice", 4),
        ("sometimes, 3", 3),
    ],
)
def test_numbers(text: str, value: int) -> None:
    """Digits and number words on the scale are read, with filler around them."""
    assert parse_answer(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("never", 1),
        ("Not at all", 1),
        ("rarely", 2),
        ("hardly ever", 2),
        ("a little", 2),
        ("sometimes", 3),
        ("occasionally", 3),
        ("SOMETIMES!!", 3),
        ("often", 4),
        ("most of the time", 4),
        ("Probably most of the time.", 4),
        ("always", 5),
        ("all the time", 5),
        ("constantly", 5),
        ("24/7", 5),
        ("Often. He wakes up at night", 4),
    ],
)
def test_frequency_words(text: str, value: int) -> None:
    """Frequency words map never=1 .. always=5, close variants included."""
    assert parse_answer(text) == value


@pytest.mark.parametrize(
    "text", ["skip", "Skip!", "pass", "next", "SKIP this one", "I'll pass", "next please"]
)
def test_skip(text: str) -> None:
    """skip, pass and next skip the item."""
    assert parse_answer(text) is SKIP


@pytest.mark.parametrize(
    "text",
    [
        "",
        "?",
        "3 or 4",
        "3-4",
        "3.5",
        "10",
        "0",
        "six",
        "1=never 5=always",
        "never and always",
        "not always",
        "my mom had 2 falls this week",
        "Never thought about it",
        "one of those days",
        "what do you mean?",
        "skip 3",
        "yes",
    ],
)
def test_ambiguous_or_free_text_is_none(text: str) -> None:
    """Two different values, off-scale numbers and free text are not guessed."""
    assert parse_answer(text) is None
