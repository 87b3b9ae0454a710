"""Onboarding that listens: care before questions, facts kept in any order, never stuck, re-asked once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from careline_conversation.domain import onboarding
from careline_conversation.domain.onboarding import answer, hint, question
from careline_conversation.domain.profile_facts import Language
from careline_conversation.domain.replies import WELCOME
from careline_conversation.safety.sizing import segments

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
ZIP_HINT = hint("zip")


def asked(field: str, **extra: Any) -> dict[str, Any]:
    return {"field": field, "tries": 0, **extra}


def step(progress: dict[str, Any], text: str, language: Language = "en", **known: str) -> onboarding.Step:
    return answer(progress, text, known=known, language=language, now=NOW)


@pytest.mark.parametrize(
    ("language", "answers", "facts"),
    [
        ("en", ("Maria", "my mom", "dementia", "94110"), ("Maria", "parent", "dementia", "94110")),
        ("es", ("soy María", "mi mamá", "demencia", "94110"), ("María", "parent", "demencia", "94110")),
        (
            "en",
            ("i'm zoë", "My Husband", "alzheimers", "zip is 60614"),
            ("Zoë", "spouse", "Alzheimer's", "60614"),
        ),
    ],
    ids=["english", "spanish-accents", "lower-case-and-typo"],
)
def test_four_questions_one_at_a_time_end_with_thanks_by_name_and_a_check_in_offer(
    language: Language, answers: tuple[str, ...], facts: tuple[str, ...]
) -> None:
    progress, known = onboarding.start(), {}
    for field, text, value in zip(onboarding.FIELDS, answers, facts, strict=True):
        assert progress["field"] == field
        result = step(progress, text, language, **known)
        assert result.facts == ((field, value),)
        known[field] = value
        progress = result.state
    assert result.done and result.state["done_at"] == NOW
    assert result.reply == onboarding.done_text(facts[0], language)
    assert facts[0] in result.reply and "CHECK IN" in result.reply


def test_a_name_with_accents_is_kept_in_the_reply() -> None:
    result = step(asked("first_name"), "me llamo José Luis", "es")
    assert result.facts == (("first_name", "José Luis"),)
    assert result.reply == f"Mucho gusto, José Luis. {question('relationship', 'es')}"


@pytest.mark.parametrize(
    ("field", "text", "language", "learned", "next_field"),
    [
        ("first_name", "60614", "en", ("zip", "60614"), "first_name"),
        ("first_name", "I care for my mother-in-law", "en", ("relationship", "parent"), "first_name"),
        ("first_name", "mi esposo tiene párkinson", "es", ("relationship", "spouse"), "first_name"),
        ("relationship", "my name is Ana", "en", ("first_name", "Ana"), "relationship"),
    ],
    ids=["zip-while-name-asked", "relationship-while-name-asked", "spanish-while-name-asked", "name-late"],
)
def test_a_fact_given_out_of_order_is_kept_and_the_question_stays(
    field: str, text: str, language: Language, learned: tuple[str, str], next_field: str
) -> None:
    result = step(asked(field), text, language)
    assert learned in result.facts
    assert result.state == asked(next_field)
    assert result.reply is not None and result.reply.endswith(question(next_field, language))
    assert hint(field, language) not in result.reply


def test_a_question_answered_early_is_never_asked() -> None:
    early = step(asked("first_name"), "I'm in 60614")
    named = step(early.state, "Maria", zip="60614")
    related = step(named.state, "my dad", first_name="Maria", zip="60614")
    assert related.state["field"] == "condition"
    last = step(related.state, "stroke", first_name="Maria", relationship="parent", zip="60614")
    assert last.done and last.reply == onboarding.done_text("Maria")  # the ZIP question never came


DISTRESS = [
    ("zip", "I'm exhausted, she was up all night", "en"),
    ("zip", "i'm sooo tired i cant do this every day", "en"),
    ("first_name", "I'm exhausted, she was up all night", "en"),
    ("relationship", "estoy muy cansada, no dormí nada", "es"),
    ("condition", "I'm so stressed and angry", "en"),
]


@pytest.mark.parametrize(("field", "text", "language"), DISTRESS, ids=[f"{f}:{t}" for f, t, _l in DISTRESS])
def test_distress_gets_care_first_and_never_a_format_hint(field: str, text: str, language: Language) -> None:
    result = step(asked(field), text, language)
    assert result.facts == () and result.reply is not None
    assert result.reply.endswith(question(field, language))  # the question follows the care
    assert not result.reply.startswith(question(field, language))
    assert hint(field, language) not in result.reply and ZIP_HINT not in result.reply


def test_after_a_loss_the_question_waits_and_comes_back_without_a_hint() -> None:
    grief = step(asked("zip"), "My mom passed away last night")
    assert grief.reply == onboarding.care_line("grief", "en") and grief.state["waiting"] is True
    calmer = step(grief.state, "ok")
    assert calmer.reply == question("zip")  # asked now, not hinted
    assert calmer.state == asked("zip")


def test_a_question_or_a_long_sentence_goes_to_the_agent_with_the_question_after_it() -> None:
    for text in ("How much does this cost?", "she keeps asking for her mother and gets agitated at sundown"):
        result = step(asked("zip"), text)
        assert result.aside and result.reply is None and result.then == question("zip")
        assert result.state["field"] == "zip"
    barred = answer(asked("zip"), "How much does this cost?", known={}, now=NOW, aside_ok=False)
    assert not barred.aside and barred.reply == question("zip")


@pytest.mark.parametrize(
    ("text", "language"), [("SKIP", "en"), ("skip", "en"), ("saltar", "es"), ("no", "es")]
)
def test_skip_moves_on_without_a_fact(text: str, language: Language) -> None:
    result = step(asked("first_name"), text, language)
    assert result.facts == () and result.state == asked("relationship")
    assert result.reply == question("relationship", language)


def test_a_miss_gets_a_hint_then_the_question_is_left_for_later() -> None:
    hinted = step(asked("zip"), "not a zip")
    assert hinted.reply == ZIP_HINT and hinted.state == asked("zip", tries=1)
    gave_up = step(hinted.state, "still no")
    assert gave_up.facts == () and gave_up.done
    assert gave_up.reply == onboarding.done_text(None)


def test_the_welcome_acknowledges_what_the_first_message_said() -> None:
    plain = onboarding.welcome(WELCOME, "hi", language="en", now=NOW)
    assert plain.reply == f"{WELCOME} {question('first_name')}" and plain.state == onboarding.start()
    said = onboarding.welcome(WELCOME, "Is there respite care near me? I'm in 60614", language="en", now=NOW)
    assert said.facts == (("zip", "60614"),)
    assert said.reply == f"{WELCOME} {onboarding.acknowledgement('said', 'en')} {question('first_name')}"
    named = onboarding.welcome(WELCOME, "Hi, I'm Maria and I care for my husband", language="en", now=NOW)
    assert named.facts == (("first_name", "Maria"), ("relationship", "spouse"))
    assert named.reply == f"{WELCOME} Nice to meet you, Maria. {question('condition')}"
    assert named.state == asked("condition")


@pytest.mark.parametrize(
    ("text", "language"),
    [("I'm exhausted, she was up all night", "en"), ("estoy agotada, no duerme en toda la noche", "es")],
    ids=["english", "spanish"],
)
def test_a_distressed_first_message_gets_care_before_the_first_question(
    text: str, language: Language
) -> None:
    result = onboarding.welcome(WELCOME, text, language=language, now=NOW)
    care = onboarding.care_line("exhaustion", language)
    assert result.reply == f"{WELCOME} {care} {question('first_name', language)}"
    assert segments(result.reply) <= 3


def test_a_first_message_about_a_loss_gets_care_and_the_question_waits() -> None:
    result = onboarding.welcome(WELCOME, "my husband passed away yesterday", language="en", now=NOW)
    assert result.reply == f"{WELCOME} {onboarding.care_line('grief', 'en')}"
    assert result.state == {**onboarding.start(), "waiting": True}


def done(**extra: Any) -> dict[str, Any]:
    return {"field": None, "tries": 0, "done_at": NOW - timedelta(hours=25), **extra}


def test_a_missing_fact_is_asked_again_once_after_a_day() -> None:
    known = {"first_name": "Ana", "relationship": "parent"}
    assert onboarding.reask_due(done(done_at=NOW - timedelta(hours=23)), known, "hi", NOW) is None
    assert onboarding.reask_due(done(), known, "she slept well", NOW) == "condition"
    assert onboarding.reask_due(done(), known, "I'm so exhausted", NOW) is None  # never after distress
    state, text = onboarding.reask(done(), "condition", "es", NOW)
    assert text.endswith(question("condition", "es")) and state["reasked"] == ["condition"]
    assert onboarding.reask_due(state, known, "hi", NOW + timedelta(hours=1)) is None
    # the next missing one waits another day; a field is never asked again twice
    assert onboarding.reask_due(state, known, "hi", NOW + timedelta(hours=25)) == "zip"
    zipped = {**state, "reasked": ["condition", "zip"]}
    assert onboarding.reask_due(zipped, known, "hi", NOW + timedelta(days=9)) is None


@pytest.mark.parametrize(
    ("text", "facts", "reply"),
    [
        ("Alzheimer's", (("condition", "Alzheimer's"),), "Thank you, Ana, I've noted that."),
        ("skip", (), "No problem, I won't ask again."),
        ("she is doing better today", (), None),
    ],
    ids=["answered", "skipped", "something-else"],
)
def test_the_answer_to_a_re_ask(text: str, facts: tuple[tuple[str, str], ...], reply: str | None) -> None:
    progress, _text = onboarding.reask(done(), "condition", "en", NOW)
    result = onboarding.answer_reask(progress, text, known={"first_name": "Ana"}, language="en")
    assert result is not None and (result.facts, result.reply) == (facts, reply)
    assert result.state["reask"]["open"] is False
    assert onboarding.answer_reask(result.state, text, known={}, language="en") is None  # asked once
