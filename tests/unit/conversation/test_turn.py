"""One message's turn: crisis first, keywords next, then opt-out, welcome, limits, onboarding, gating."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from careline_conversation import onboarding, ratelimit
from careline_conversation.safety.keywords import (
    CRISIS_REPLY,
    HELP_REPLY,
    START_CONFIRMATION,
    STOP_CONFIRMATION,
)
from careline_conversation.turn import decide

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
LIMITS = ratelimit.RateLimits(per_window=20, window=timedelta(minutes=10), per_day=30)
CRISIS_TEXT = "I can't do this anymore, I want to end it all"


def settled(**fields: Any) -> dict[str, Any]:
    """A caregiver past the welcome and onboarding, entitled, within limits."""
    return {"welcomed": True, "onboarding": {"field": None, "tries": 0}, **fields}


def turn(state: dict[str, Any] | None, text: str, inbound: int = 1) -> Any:
    times = [NOW - timedelta(seconds=5 * i) for i in range(inbound)][::-1]
    return decide(state, text, NOW, LIMITS, times)


NOT_ENTITLED = {"entitlement": {"entitled": False, "status": "canceled", "at": NOW}}


@pytest.mark.parametrize(
    "state",
    [
        None,
        settled(opted_out=True),
        settled(**NOT_ENTITLED),
        settled(onboarding=onboarding.start()),
        settled(rate_notice_at=NOW - timedelta(seconds=30)),
    ],
    ids=["new", "opted-out", "not-entitled", "onboarding", "rate-limited"],
)
def test_crisis_is_answered_whatever_else_is_true(state: dict[str, Any] | None) -> None:
    result = turn(state, CRISIS_TEXT, inbound=25)
    assert (result.kind, result.reply) == ("crisis", CRISIS_REPLY)
    assert result.crisis_category is not None
    assert not result.compose and not result.request_checkout


def test_stop_confirms_once_then_silence_until_start() -> None:
    stopped = turn(settled(), "STOP")
    assert (stopped.reply, stopped.opted_out, stopped.set_state) == (
        STOP_CONFIRMATION,
        True,
        {"opted_out": True},
    )
    assert turn(settled(opted_out=True), "stop").kind == "silent:opted_out"
    assert turn(settled(opted_out=True), "how are you").kind == "silent:opted_out"
    started = turn(settled(opted_out=True), "Start")
    assert (started.reply, started.opted_out) == (START_CONFIRMATION, False)


def test_help_always_answers_but_help_inside_a_sentence_is_conversation() -> None:
    assert turn(settled(opted_out=True), "HELP").reply == HELP_REPLY
    sentence = turn(settled(), "I need help with mom")
    assert (sentence.kind, sentence.compose) == ("agent", True)


def test_yes_is_start_only_for_an_opted_out_number() -> None:
    assert turn(settled(opted_out=True), "yes").kind == "start"
    assert turn(settled(), "yes").kind == "agent"


def test_a_new_caregiver_gets_the_welcome_and_the_first_question() -> None:
    result = turn(None, "hi")
    assert result.kind == "welcome"
    assert result.reply is not None and result.reply.endswith(onboarding.QUESTIONS["first_name"])
    assert result.set_state == {"welcomed": True, "onboarding": onboarding.start()}


def test_onboarding_answers_become_facts() -> None:
    result = turn(settled(onboarding=onboarding.start()), "Maria")
    assert result.kind == "onboarding"
    assert (result.fact.field, result.fact.value) == ("first_name", "Maria")
    assert result.set_state["facts.first_name"] == "Maria"


def test_a_flood_gets_one_notice_then_silence() -> None:
    first = turn(settled(), "again", inbound=21)
    assert (first.kind, first.reply) == ("rate:notice", ratelimit.NOTICE)
    assert turn(settled(rate_notice_at=NOW), "again", inbound=22).kind == "silent:rate"


def test_not_entitled_asks_billing_for_a_link_once_a_day() -> None:
    first = turn(settled(**NOT_ENTITLED), "hello again")
    assert (first.kind, first.request_checkout, first.reply) == ("gated", True, None)
    later = turn(settled(**NOT_ENTITLED, checkout_requested_on=NOW.date().isoformat()), "hello?")
    assert later.kind == "silent:gated" and not later.request_checkout
    # keywords and onboarding still work without a subscription
    assert turn(settled(**NOT_ENTITLED), "HELP").reply == HELP_REPLY
    assert turn(settled(**NOT_ENTITLED, onboarding=onboarding.start()), "Maria").kind == "onboarding"


def test_check_in_asks_profile_and_an_open_assessment_takes_the_answer() -> None:
    assert turn(settled(), "Check in").request_assessment == "checkin"
    assert turn(settled(), "assessment!").request_assessment == "burnout"
    assert turn(settled(), "can we check in on mom later").kind == "agent"
    open_now = settled(assessment={"id": "a1", "since": NOW - timedelta(hours=1)})
    answered = turn(open_now, "4")
    assert (answered.kind, answered.answer_assessment, answered.reply) == ("assessment:answer", "a1", None)
    assert turn(open_now, CRISIS_TEXT).kind == "crisis"  # crisis first, even mid-assessment
    assert turn(open_now, "STOP").kind == "stop"
    stale = settled(assessment={"id": "a1", "since": NOW - timedelta(hours=25)})
    assert turn(stale, "4").kind == "agent"  # a day-old assessment no longer takes answers


def test_the_last_onboarding_answer_ends_onboarding() -> None:
    last = turn(settled(onboarding={"field": "zip", "tries": 0}), "94110")
    assert last.onboarding_done and last.fact is not None and last.fact.value == "94110"
    assert not turn(settled(onboarding=onboarding.start()), "Maria").onboarding_done
