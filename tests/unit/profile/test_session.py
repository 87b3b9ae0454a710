"""An assessment in progress: full run, re-ask, pause and resume, expiry, all skipped."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from careline_profile.domain.instruments import BURNOUT, CHECKIN, format_question
from careline_profile.domain.scoring import Band
from careline_profile.domain.session import (
    ALL_SKIPPED_MESSAGE,
    EXPIRED_MESSAGE,
    PAUSE_MESSAGE,
    REASK_HINT,
    Outcome,
    Step,
    apply,
    current_question,
    expires_at,
    resume,
    start,
)

T0 = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)
PLAIN_GSM7 = frozenset(string.ascii_letters + string.digits + " \n.,!?'\"-:;()/&%+=*#@$")


def septets(text: str) -> int:
    """GSM-7 length of ``text``; fails on any character outside the plain GSM-7 subset."""
    assert set(text) <= PLAIN_GSM7, set(text) - PLAIN_GSM7
    return len(text)


def answer(state: dict[str, Any], text: str, minutes: int = 1) -> Step:
    """Apply ``text`` a few minutes after the state's last activity."""
    return apply(state, text, state["updated_at"] + timedelta(minutes=minutes))


def test_start_asks_the_first_item() -> None:
    """A new state is plain data at position 0, asking item 1 of n."""
    state = start("checkin", T0)
    assert state["instrument"] == "checkin"
    assert (state["position"], state["answers"], state["status"]) == (0, {}, "asking")
    assert state["started_at"] == state["updated_at"] == T0
    assert current_question(state).startswith("(1 of 3) Today I have felt stressed")


def test_unknown_instrument_is_rejected() -> None:
    """Only shipped instruments can be started."""
    with pytest.raises(ValueError):
        start("nope", T0)


def test_full_run_scores_the_answers() -> None:
    """Three answers move through the check-in and finish with a result, no state left."""
    state = start("checkin", T0)
    step = answer(state, "5")
    assert step.outcome is Outcome.NEXT
    assert step.reply == format_question(CHECKIN, 1)
    assert step.state is not None
    step = answer(step.state, "often")
    assert step.reply is not None and step.reply.startswith("(3 of 3)")
    assert step.state is not None
    step = answer(step.state, "never")  # support: never -> full pressure (reverse)
    assert step.outcome is Outcome.FINISHED
    assert (step.state, step.reply) == (None, None)
    assert step.answers == {"stress": 5, "mood": 4, "support": 1}
    assert step.finished is not None
    assert (step.finished.score, step.finished.band) == (92, Band.CRISIS)


def test_the_input_state_is_not_mutated() -> None:
    """apply returns a new dict; the stored one stays as it was."""
    state = start("checkin", T0)
    before = dict(state)
    step = answer(state, "3")
    assert state == before
    assert step.state is not None and step.state["answers"] == {"stress": 3}


def test_skipped_items_are_left_out() -> None:
    """SKIP moves on and the item is absent from the answers."""
    state = start("checkin", T0)
    for text in ("skip", "2"):
        step = answer(state, text)
        assert step.state is not None
        state = step.state
    assert state["skipped"] == ["stress"]
    step = answer(state, "pass")
    assert step.outcome is Outcome.FINISHED
    assert step.answers == {"mood": 2}
    assert step.finished is not None and step.finished.answered == 1


def test_unreadable_answer_is_reasked_once_with_a_hint() -> None:
    """The first unreadable answer repeats the question with a hint, in two segments at most."""
    state = start("burnout", T0)
    step = answer(state, "what do you mean")
    assert step.outcome is Outcome.REASKED
    assert step.reply == f"{REASK_HINT}\n{format_question(BURNOUT, 0)}"
    assert septets(step.reply) <= 2 * 153
    assert step.state is not None and step.state["position"] == 0
    step = answer(step.state, "4")
    assert step.outcome is Outcome.NEXT
    assert step.state is not None and step.state["misses"] == 0


def test_second_unreadable_answer_pauses_then_resume_asks_again() -> None:
    """Two unreadable answers in a row pause; resume asks the same item; answers still count."""
    state = start("burnout", T0)
    step = answer(state, "2")
    assert step.state is not None
    step = answer(step.state, "hmm")
    assert step.state is not None
    step = answer(step.state, "my dad fell again today")
    assert step.outcome is Outcome.PAUSED
    assert step.reply == PAUSE_MESSAGE
    assert step.state is not None and step.state["status"] == "paused"
    resumed = resume(step.state, T0 + timedelta(hours=5))
    assert resumed.outcome is Outcome.NEXT
    assert resumed.reply == format_question(BURNOUT, 1)
    assert resumed.state is not None
    assert resumed.state["status"] == "asking"
    assert resumed.state["answers"] == {"overwhelmed": 2}
    assert resumed.state["updated_at"] == T0 + timedelta(hours=5)
    again = answer(resumed.state, "nonsense")
    assert again.outcome is Outcome.REASKED  # after a resume, one re-ask again before pausing


def paused_checkin() -> dict[str, Any]:
    state = start("checkin", T0)
    for text in ("eh", "eh"):
        step = answer(state, text)
        assert step.state is not None
        state = step.state
    assert state["status"] == "paused"
    return state


def test_an_answer_to_a_paused_assessment_resumes_it() -> None:
    """A clear answer sent while paused is taken, and the next item follows."""
    step = answer(paused_checkin(), "3")
    assert step.outcome is Outcome.NEXT
    assert step.state is not None
    assert (step.state["status"], step.state["answers"]) == ("asking", {"stress": 3})


def test_free_text_to_a_paused_assessment_is_left_to_the_conversation() -> None:
    """While paused, a message that is not an answer changes nothing and gets no reply from here."""
    state = paused_checkin()
    step = answer(state, "he had a rough night", minutes=90)
    assert step == Step(state, None, None, Outcome.PAUSED)


def test_expires_24_hours_after_last_activity() -> None:
    """Just under a day later it continues; at 24 h it has expired and is dropped."""
    state = start("checkin", T0)
    step = answer(state, "3", minutes=60)
    assert step.state is not None
    last = step.state["updated_at"]
    assert expires_at(step.state) == last + timedelta(hours=24)
    alive = apply(step.state, "3", last + timedelta(hours=23, minutes=59))
    assert alive.outcome is Outcome.NEXT
    expired = apply(step.state, "3", last + timedelta(hours=24))
    assert expired == Step(None, EXPIRED_MESSAGE, None, Outcome.EXPIRED)
    assert resume(step.state, last + timedelta(days=2)).outcome is Outcome.EXPIRED


def test_all_skipped_gives_a_kind_retry_message() -> None:
    """Skipping every item ends without a score and invites a retry."""
    state = start("checkin", T0)
    step = answer(state, "skip")
    assert step.state is not None
    step = answer(step.state, "next")
    assert step.state is not None
    step = answer(step.state, "pass")
    assert step == Step(None, ALL_SKIPPED_MESSAGE, None, Outcome.ALL_SKIPPED)


def test_state_read_back_from_mongodb_with_naive_datetimes() -> None:
    """Naive stored datetimes are read as UTC."""
    state = start("checkin", T0)
    stored = {**state, "started_at": T0.replace(tzinfo=None), "updated_at": T0.replace(tzinfo=None)}
    assert apply(stored, "3", T0 + timedelta(hours=23)).outcome is Outcome.NEXT
    assert apply(stored, "3", T0 + timedelta(hours=24)).outcome is Outcome.EXPIRED


def test_messages_fit_one_sms() -> None:
    """Pause, expiry and all-skipped messages are one GSM-7 segment each."""
    for message in (PAUSE_MESSAGE, EXPIRED_MESSAGE, ALL_SKIPPED_MESSAGE):
        assert septets(message) <= 160


def test_naive_now_is_refused() -> None:
    """The clock is the caller's: a naive now is a bug."""
    with pytest.raises(ValueError):
        start("checkin", T0.replace(tzinfo=None))
