"""Turns that control check-ins or report a loss: after safety and STOP/HELP/START, in the right language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from careline_conversation.domain import onboarding, ratelimit, replies
from careline_conversation.domain.checkin_requests import CheckinRequest
from careline_conversation.domain.loss import reply as loss_reply
from careline_conversation.domain.turn import decide

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
LIMITS = ratelimit.RateLimits(per_window=20, window=timedelta(minutes=10), per_day=30)
SPANISH = {"language": {"code": "es", "by": "keyword", "at": NOW}}


def settled(**fields: Any) -> dict[str, Any]:
    return {"welcomed": True, "onboarding": {"field": None, "tries": 0}, **fields}


def turn(state: dict[str, Any] | None, text: str, inbound: int = 1) -> Any:
    times = [NOW - timedelta(seconds=5 * i) for i in range(inbound)][::-1]
    return decide(state, text, NOW, LIMITS, times, message_id="SM1")


@pytest.mark.parametrize(
    ("text", "asked"),
    [
        ("DAILY", CheckinRequest("daily")), ("pausa", CheckinRequest("pause")),
        ("text me at 7pm", CheckinRequest("time", 19)), ("stop texting me so much", CheckinRequest("less")),
    ],
)  # fmt: skip
def test_a_check_in_request_goes_to_profile_with_no_reply_of_its_own(
    text: str, asked: CheckinRequest
) -> None:
    """Profile knows the band and the pause, so profile decides the schedule and confirms it."""
    result = turn(settled(), text)
    assert result.kind == f"checkins:{asked.change}" and result.checkin_request == asked
    assert result.reply is None and not result.compose and result.opted_out is None


def test_the_request_carries_the_caregivers_language() -> None:
    assert turn(settled(**SPANISH), "SEMANAL").language == "es"
    assert turn(settled(), "WEEKLY").language == "en"


def test_text_me_less_is_not_stop_and_stop_is_still_stop() -> None:
    less = turn(settled(), "stop texting me so much")
    assert less.opted_out is None and "opted_out" not in less.set_state
    stop = turn(settled(), "STOP")
    assert stop.reply == replies.text("stop") and stop.checkin_request is None


def test_an_opted_out_caregiver_is_not_answered_about_check_ins() -> None:
    assert turn(settled(opted_out=True), "DAILY").kind == "silent:opted_out"


def test_check_in_control_works_mid_assessment_and_past_the_rate_limit() -> None:
    open_assessment = {"assessment": {"id": "asm:1", "since": NOW - timedelta(minutes=5)}}
    assert turn(settled(**open_assessment), "PAUSE").kind == "checkins:pause"
    assert (
        turn(settled(rate_notice_at=NOW - timedelta(seconds=30)), "DAILY", inbound=25).kind
        == "checkins:daily"
    )
    assert turn(settled(**open_assessment), "3").kind == "assessment:answer"  # a number still answers


def test_a_loss_gets_grief_support_in_the_caregivers_language_and_closes_any_assessment() -> None:
    state = settled(facts={"first_name": "Ana"}, assessment={"id": "asm:1", "since": NOW}, **SPANISH)
    result = turn(state, "mi mamá falleció anoche")
    assert result.kind == "loss" and result.loss_reported
    assert result.reply == loss_reply("es", "Ana")
    assert result.set_state["assessment"] is None  # and onboarding is over (nothing asked again)
    assert not onboarding.is_active(result.set_state["onboarding"])
    english = turn(settled(), "My mom passed away last night")
    assert english.reply == loss_reply("en") and english.loss_reported


def test_the_crisis_detector_runs_before_the_loss() -> None:
    result = turn(settled(), "my husband died and I want to die too")
    assert result.kind == "crisis" and not result.loss_reported and result.crisis is not None


@pytest.mark.parametrize("text", ["I feel like I'm dying", "she's dying", "se está muriendo"])
def test_dying_is_not_a_loss(text: str) -> None:
    assert not turn(settled(), text).loss_reported


def test_a_loss_in_the_first_message_is_reported_and_the_welcome_still_comes() -> None:
    result = turn(None, "My mom passed away last night")
    assert result.kind == "welcome" and result.loss_reported and "STOP" in (result.reply or "")


def test_a_loss_during_onboarding_is_answered_not_taken_as_the_answer() -> None:
    result = turn(settled(onboarding=onboarding.start()), "my husband died")
    assert result.kind == "loss" and result.fact is None


def test_a_death_during_onboarding_ends_it_and_nothing_is_asked_again() -> None:
    from careline_conversation.domain import onboarding as steps
    from careline_conversation.domain.ratelimit import RateLimits
    from careline_conversation.domain.turn import decide as decide_turn

    now = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    state = {"welcomed": True, "onboarding": {"field": "zip", "tries": 0}, "facts": {"first_name": "Pat"}}
    t = decide_turn(state, "my husband died this morning", now, RateLimits(), [now])
    assert t.kind == "loss" and t.loss_reported
    progress = t.set_state["onboarding"]
    assert not steps.is_active(progress) and set(progress["reasked"]) == set(steps.FIELDS)
    later = now + timedelta(days=3)
    assert steps.reask_due(progress, {"first_name": "Pat"}, "she had a good day", later) is None
