"""The caregiver's language: set by a decisive first message, switched by ESPAÑOL / ENGLISH,
never flipped by a short text, stored in the state and handed to the reply path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from careline_conversation.domain import language, onboarding, ratelimit, replies
from careline_conversation.domain.language import Detection
from careline_conversation.domain.turn import decide
from careline_conversation.handlers import context
from careline_conversation.safety.keywords import Keyword, parse_keyword
from careline_conversation.safety.sizing import is_gsm7, segments

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
LIMITS = ratelimit.RateLimits(per_window=20, window=timedelta(minutes=10), per_day=30)
SPANISH = Detection("es", 0.97, 3)
ENGLISH = Detection("en", 0.99, 6)


def settled(**fields: Any) -> dict[str, Any]:
    return {"welcomed": True, "onboarding": {"field": None, "tries": 0}, **fields}


def turn(state: dict[str, Any] | None, text: str, detected: Detection | None = None, inbound: int = 1) -> Any:
    times = [NOW - timedelta(seconds=5 * i) for i in range(inbound)][::-1]
    return decide(state, text, NOW, LIMITS, times, message_id="SM1", detected=detected)


def stored(code: str, by: str = "detected", decisive: int = 1) -> dict[str, Any]:
    doc: dict[str, Any] = {"code": code, "by": by, "at": NOW - timedelta(hours=1)}
    if by == "detected":
        doc["decisive"] = decisive
    return doc


def test_a_spanish_first_message_sets_spanish_and_the_welcome_knows_it() -> None:
    t = turn(None, "estoy muy cansada", SPANISH)
    assert t.kind == "welcome" and t.language == "es"
    assert t.set_state["language"] == {"code": "es", "by": "detected", "at": NOW, "decisive": 1}


def test_until_something_sets_it_the_line_writes_in_english() -> None:
    assert language.language_of(None) == "en" and language.language_of(settled()) == "en"
    assert turn(settled(), "hello").language == "en"


@pytest.mark.parametrize(
    "detection",
    [
        Detection("es", 0.99, 1),  # "si", "gracias"
        Detection("en", 0.89, 1),  # "ok 👍"
        Detection(None, 0.0, 0),  # "😭"
        Detection("en", 0.99, 2),  # "thank you"
        Detection("en", 0.52, 3),  # "¿Eres un robot?": three words, but a coin toss
        Detection("en", 0.78, 8),  # Spanglish the detector is unsure of
    ],
    ids=["one-word", "ok-emoji", "emoji-only", "two-words", "unsure-3-words", "unsure-spanglish"],
)
def test_a_short_or_unsure_text_never_flips_the_language(detection: Detection) -> None:
    state = settled(language=stored("es"))
    t = turn(state, "whatever", detection)
    assert "language" not in t.set_state and t.language == "es"
    assert not detection.decisive


def test_a_later_decisive_first_message_wins_then_detection_stops() -> None:
    state = settled(language=stored("en", decisive=1))
    t = turn(state, "mi mama no duerme y estoy agotada", SPANISH)
    assert t.set_state["language"]["code"] == "es" and t.set_state["language"]["decisive"] == 2
    done = settled(language=stored("es", decisive=language.FIRST_MESSAGES))
    assert not language.needs_detection(done)
    assert "language" not in turn(done, "I need help with my mom today", ENGLISH).set_state


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("ESPAÑOL", Keyword.SPANISH),
        ("español", Keyword.SPANISH),
        ("Espanol!", Keyword.SPANISH),
        ("espa\u006e\u0303ol", Keyword.SPANISH),  # n + combining tilde, as some keyboards send it
        ("SPANISH", Keyword.SPANISH),
        ("en  español", Keyword.SPANISH),
        ("ENGLISH", Keyword.ENGLISH),
        ("inglés", Keyword.ENGLISH),
        ("INGLES.", Keyword.ENGLISH),
        ("in english", Keyword.ENGLISH),
        ("I speak spanish", None),
        ("hablo español", None),
    ],
)
def test_switch_keywords_are_the_whole_message(text: str, keyword: Keyword | None) -> None:
    assert parse_keyword(text) == keyword


@pytest.mark.parametrize(
    ("text", "code"), [("ESPAÑOL", "es"), ("espanol", "es"), ("ENGLISH", "en"), ("Inglés", "en")]
)
def test_a_keyword_switches_confirms_in_the_new_language_and_is_stored(text: str, code: str) -> None:
    other = "en" if code == "es" else "es"
    t = turn(settled(language=stored(other)), text)
    assert t.kind == f"language:{code}" and t.reply == replies.text("switch", code) and t.language == code
    assert t.set_state == {"language": {"code": code, "by": "keyword", "at": NOW}}


def test_after_a_keyword_detection_never_overrides_it() -> None:
    state = settled(language=stored("es", by="keyword"))
    assert not language.needs_detection(state)
    t = turn(state, "I need help with my mom today", ENGLISH)
    assert "language" not in t.set_state and t.language == "es"


def test_a_keyword_outranks_the_detection_of_the_same_message() -> None:
    t = turn(settled(), "SPANISH", Detection("en", 0.99, 3))
    assert t.set_state["language"]["code"] == "es"


def test_a_switch_during_onboarding_asks_the_pending_question_again() -> None:
    progress = {"field": "relationship", "tries": 0}
    t = turn(settled(onboarding=progress), "ESPAÑOL")
    assert t.reply == f"{replies.text('switch', 'es')} {onboarding.question('relationship', 'es')}"
    assert "onboarding" not in t.set_state and t.fact is None  # "ESPAÑOL" is not the answer


def test_a_switch_as_the_first_message_gets_the_welcome_in_that_language() -> None:
    t = turn(None, "ESPAÑOL")
    assert t.kind == "welcome" and t.language == "es" and t.set_state["language"]["by"] == "keyword"


def test_a_switch_works_past_the_rate_limit_but_not_for_an_opted_out_number() -> None:
    flooded = turn(settled(rate_notice_at=NOW - timedelta(seconds=30)), "ESPAÑOL", inbound=40)
    assert flooded.kind == "language:es"
    assert turn(settled(opted_out=True), "ESPAÑOL").kind == "silent:opted_out"


def test_a_crisis_message_still_teaches_the_language() -> None:
    t = turn(None, "ya no puedo mas, me quiero morir", Detection("es", 0.99, 6))
    assert t.kind == "crisis" and t.set_state["language"]["code"] == "es" and t.language == "es"


def test_the_reply_path_gets_the_language_from_the_state_or_the_turn() -> None:
    assert context(settled(language=stored("es")), "hola", NOW).language == "es"
    assert context(settled(), "hola", NOW, "es").language == "es"
    assert context(settled(language=stored("en")), "hola", NOW).language == "en"
    # not set yet: the agent judges from the words (the rules agent from the intent's patterns)
    assert context(settled(), "hi", NOW).language is None


@pytest.mark.parametrize("code", ["en", "es"])
def test_each_confirmation_fits_one_gsm7_segment(code: str) -> None:
    text = replies.text("switch", code)
    assert is_gsm7(text) and segments(text) == 1
