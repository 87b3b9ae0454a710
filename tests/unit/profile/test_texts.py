"""Profile's texts in English and Spanish: both exist, each fits its SMS budget, and every
number in them is in the resource catalogue; Spanish assessments run end to end in Spanish."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from careline_conversation.safety.catalogue import unknown_contacts
from careline_conversation.safety.sizing import is_gsm7, segments
from careline_profile.domain import texts
from careline_profile.domain.answers import SKIP, parse_answer
from careline_profile.domain.instruments import CHECKIN, INSTRUMENTS, Zone, format_question
from careline_profile.domain.scoring import Band, Result, result_message
from careline_profile.domain.session import Outcome, apply, current_question, resume, start

T0 = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
RESULTS = [
    Result(score=score, band=band, zone_pressure={}, pressure_zones=zones, answered=3)
    for score, band in (
        (100, Band.CRISIS),
        (70, Band.HIGH),
        (50, Band.MODERATE),
        (30, Band.MILD),
        (5, Band.THRIVING),
    )
    for zones in [(), *[(zone,) for zone in Zone]]
]


def test_every_text_exists_in_english_and_spanish_and_they_differ() -> None:
    by_path: dict[str, dict[str, str]] = {}
    for path, code, text in texts.every_text():
        by_path.setdefault(path, {})[code] = text
    assert len(by_path) > 40
    for path, by_language in by_path.items():
        assert set(by_language) == {"en", "es"}, path
        assert by_language["en"] != by_language["es"] or path == "zone.financial", path


def test_an_unknown_language_is_english_and_a_missing_text_fails_loudly() -> None:
    assert texts.say("session.ended", "fr") == texts.say("session.ended", "en")
    assert texts.say("session.ended", None) == texts.say("session.ended", "en")
    with pytest.raises(KeyError):
        texts.say("session.no_such_text", "es")


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_question_fits_one_segment_in_english_and_two_in_spanish(language: str) -> None:
    for instrument in INSTRUMENTS.values():
        for position in range(len(instrument.items)):
            question = format_question(instrument, position, language)
            limit = 1 if language == "en" else 2
            assert segments(question) <= limit, question
            if language == "en":
                assert is_gsm7(question)


@pytest.mark.parametrize("language", ["en", "es"])
def test_an_intro_with_its_first_question_fits_three_segments(language: str) -> None:
    for instrument in INSTRUMENTS.values():
        first = f"{instrument.intro_in(language)} {format_question(instrument, 0, language)}"
        assert segments(first) <= 3, first


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_result_fits_two_segments_in_english_and_three_in_spanish(language: str) -> None:
    for instrument in INSTRUMENTS.values():
        for result in RESULTS:
            message = result_message(instrument, result, language)
            assert segments(message) <= (2 if language == "en" else 3), message
            assert f"{result.score}" in message


def test_session_texts_and_nudges_fit_two_segments() -> None:
    for path, _, text in texts.every_text():
        if path.startswith(("session.", "nudge.")):
            assert segments(text) <= 2, (path, text)


def test_every_number_and_link_is_in_the_catalogue() -> None:
    for path, code, text in texts.every_text():
        assert unknown_contacts(text) == [], (path, code)


def test_a_spanish_check_in_asks_in_spanish_from_the_first_question_to_the_result() -> None:
    state = start("checkin", T0, "es")
    assert current_question(state) == "(1 de 3) Hoy he sentido estrés o tensión.\n1=nunca ... 5=siempre"
    step = apply(state, "a veces", T0 + timedelta(minutes=1))
    assert step.outcome is Outcome.NEXT and step.reply is not None and step.reply.startswith("(2 de 3) Hoy")
    assert step.state is not None
    missed = apply(step.state, "no sé qué decir, la verdad", T0 + timedelta(minutes=2))
    assert missed.outcome is Outcome.REASKED and missed.reply is not None
    assert missed.reply.startswith("Perdona, no lo entendí.")
    assert missed.state is not None
    step = apply(missed.state, "casi siempre", T0 + timedelta(minutes=3))
    assert step.state is not None
    done = apply(step.state, "nunca", T0 + timedelta(minutes=4))
    assert done.outcome is Outcome.FINISHED and done.finished is not None
    assert done.finished.answered == 3
    assert result_message(CHECKIN, done.finished, "es").startswith("Gracias por terminar.")


def test_a_language_switch_mid_assessment_changes_the_next_question() -> None:
    state = start("checkin", T0, "en")
    step = apply(state, "3", T0 + timedelta(minutes=1), language="es")
    assert step.reply is not None and step.reply.startswith("(2 de 3)")
    assert step.state is not None and step.state["language"] == "es"
    again = resume(step.state, T0 + timedelta(minutes=2), "en")
    assert again.reply is not None and again.reply.startswith("(2 of 3)")


def test_an_expired_spanish_assessment_says_so_in_spanish() -> None:
    state = start("burnout", T0, "es")
    expired = apply(state, "3", T0 + timedelta(days=2))
    assert expired.outcome is Outcome.EXPIRED and expired.reply == texts.say("session.expired", "es")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("nunca", 1),
        ("Nunca!", 1),
        ("jamás", 1),
        ("casi nunca", 2),
        ("rara vez", 2),
        ("un poco", 2),
        ("a veces", 3),
        ("A veces.", 3),
        ("de vez en cuando", 3),
        ("más o menos", 3),
        ("mas o menos", 3),
        ("a menudo", 4),
        ("casi siempre", 4),
        ("bastante", 4),
        ("siempre", 5),
        ("todo el tiempo", 5),
        ("todos los días", 5),
        ("tres", 3),
        ("cuatro", 4),
        ("diría que 4", 4),
        ("yo creo que 2", 2),
        ("tal vez 3", 3),
        ("4 de 5", 4),
        ("siempre. no duermo nada", 5),
    ],
)
def test_spanish_answers_read_as_the_scale(text: str, value: int) -> None:
    assert parse_answer(text) == value


@pytest.mark.parametrize("text", ["saltar", "paso", "siguiente", "omitir", "saltar por favor", "sáltala"])
def test_spanish_skips(text: str) -> None:
    assert parse_answer(text) is SKIP


@pytest.mark.parametrize(
    "text",
    ["mi mamá tuvo 2 caídas", "no sé", "a veces 5", "hoy fue un día horrible", "nunca y siempre", "doce"],
)
def test_spanish_that_is_not_an_answer_is_asked_again(text: str) -> None:
    assert parse_answer(text) is None
