"""Onboarding's state machine: one question at a time, validated, skippable, never stuck."""

from __future__ import annotations

import pytest

from careline_conversation.domain import onboarding


@pytest.mark.parametrize(
    ("field", "text", "value"),
    [
        ("first_name", "Maria", "Maria"),
        ("first_name", "  maria. ", "Maria"),
        ("first_name", "I'm Ana", "Ana"),
        ("first_name", "my name is Jo-Ann", "Jo-Ann"),
        ("first_name", "hello", None),
        ("first_name", "my mother has dementia and I am so tired", None),
        ("first_name", "1234", None),
        ("relationship", "my husband", "spouse"),
        ("relationship", "Mom", "parent"),
        ("relationship", "I care for my father-in-law", "parent"),
        ("relationship", "our son", "child"),
        ("relationship", "my grandmother", "other"),
        ("relationship", "it's complicated", None),
        ("zip", "94110", "94110"),
        ("zip", "my zip is 02139-1234", "02139"),
        ("zip", "9411", None),
        ("zip", "941100", None),
        ("zip", "call me at 4155550101", None),
    ],
)
def test_answers_are_validated(field: str, text: str, value: str | None) -> None:
    assert onboarding.parse(field, text) == value


def test_the_questions_come_one_at_a_time_and_end_with_thanks_by_name() -> None:
    state = onboarding.start()
    first = onboarding.answer(state, "Maria")
    assert first.fact == ("first_name", "Maria")
    assert first.reply == onboarding.QUESTIONS["relationship"]
    second = onboarding.answer(first.state, "my mom", known_name="Maria")
    assert second.fact == ("relationship", "parent")
    assert second.reply == onboarding.QUESTIONS["zip"]
    third = onboarding.answer(second.state, "94110", known_name="Maria")
    assert third.fact == ("zip", "94110")
    assert third.reply.startswith("Thank you, Maria.")
    assert not onboarding.is_active(third.state)


def test_skip_moves_on_without_a_fact() -> None:
    step = onboarding.answer(onboarding.start(), "SKIP")
    assert (step.fact, step.state["field"]) == (None, "relationship")


def test_a_miss_gets_a_hint_then_the_question_is_left_for_later() -> None:
    state = {"field": "zip", "tries": 0}
    hint = onboarding.answer(state, "not sure")
    assert hint.reply == onboarding.HINTS["zip"] and hint.state == {"field": "zip", "tries": 1}
    gave_up = onboarding.answer(hint.state, "still not sure")
    assert gave_up.fact is None and not onboarding.is_active(gave_up.state)
    assert gave_up.reply.startswith("Thank you.")


def test_every_question_fits_one_sms() -> None:
    for text in (*onboarding.QUESTIONS.values(), *onboarding.HINTS.values()):
        assert len(text) <= 160 and text.isascii()
