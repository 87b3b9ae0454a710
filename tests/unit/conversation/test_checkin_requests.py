"""The check-in control grammar: keywords, a time of day, "text me less", in English and Spanish."""

from __future__ import annotations

import pytest

from careline_conversation.domain.checkin_requests import CheckinRequest, parse


@pytest.mark.parametrize(
    ("text", "change"),
    [
        ("DAILY", "daily"), ("daily.", "daily"), ("Diario", "daily"), ("diaria!", "daily"),
        ("WEEKLY", "weekly"), ("Semanal", "weekly"), ("once a week", "weekly"),
        ("una vez por semana", "weekly"),
        ("PAUSE", "pause"), ("pausa", "pause"), ("Pause please", "pause"),
        ("RESUME", "resume"), ("reanudar", "resume"), ("Reanuda por favor", "resume"),
    ],
)  # fmt: skip
def test_keywords_are_whole_messages_in_either_language(text: str, change: str) -> None:
    assert parse(text) == CheckinRequest(change)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "at"),
    [
        ("MORNING", (9, 0)), ("mornings", (9, 0)), ("in the afternoon", (14, 0)), ("Evening", (18, 0)),
        ("mañanas", (9, 0)), ("por la tarde", (14, 0)), ("noches", (18, 0)), ("at noon", (12, 0)),
        ("text me at 7pm", (19, 0)), ("7:30 pm", (19, 30)), ("7 p.m.", (19, 0)), ("19:00", (19, 0)),
        ("at 7", (19, 0)),  # without am/pm, 1-8 is the afternoon or evening
        ("at 10", (10, 0)), ("check-ins at 6pm", (18, 0)), ("text me in the evening", (18, 0)),
        ("a las 7 de la tarde", (19, 0)), ("escríbeme a las 10 de la mañana", (10, 0)), ("a la 1", (13, 0)),
        ("text me at 7 am", (7, 0)),  # parsed as said: profile says it is outside the window
    ],
)  # fmt: skip
def test_a_time_of_day_is_a_word_or_a_clock_time(text: str, at: tuple[int, int]) -> None:
    assert parse(text) == CheckinRequest("time", *at)


@pytest.mark.parametrize(
    "text",
    ["7", "5", "3", "94110", "at 25", "13:75", "sometimes", "check in", "assessment", "good morning",
     "I do this daily", "daily life is hard", "she wakes up in the morning confused", "ok", "yes", ""],
)  # fmt: skip
def test_anything_else_is_not_a_request(text: str) -> None:
    """A bare number answers an assessment; longer sentences are conversation."""
    assert parse(text) is None


@pytest.mark.parametrize(
    "text",
    ["text me less", "stop texting me so much", "too many messages", "you text too much lol",
     "i dont need daily check ins", "menos mensajes", "me mandas demasiados mensajes",
     "escribeme menos por favor"],
)  # fmt: skip
def test_text_me_less_asks_for_one_step_down_never_an_opt_out(text: str) -> None:
    assert parse(text) == CheckinRequest("less")


@pytest.mark.parametrize("text", ["only once a week please", "solo una vez por semana"])
def test_a_request_for_less_that_names_weekly_asks_for_weekly(text: str) -> None:
    assert parse(text) == CheckinRequest("weekly")


@pytest.mark.parametrize(
    "text", ["He calls me every day", "I see mom every day", "she asks the same question every day"]
)
def test_every_day_about_someone_else_is_not_about_the_lines_texts(text: str) -> None:
    assert parse(text) is None
