"""One message's turn: crisis first, keywords next, then opt-out, welcome, limits, onboarding, gating."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from careline_conversation.domain import onboarding, ratelimit, replies
from careline_conversation.domain.language import Detection
from careline_conversation.domain.turn import decide, projected_access
from careline_conversation.safety import responses
from careline_conversation.safety.sizing import segments

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
LIMITS = ratelimit.RateLimits(per_window=20, window=timedelta(minutes=10), per_day=30)
CRISIS_TEXT = "I can't do this anymore, I want to end it all"
CRISIS_REPLY = responses.category_reply("suicide_self", "en")


def settled(**fields: Any) -> dict[str, Any]:
    """A caregiver past the welcome and onboarding, entitled, within limits."""
    return {"welcomed": True, "onboarding": {"field": None, "tries": 0}, **fields}


def turn(state: dict[str, Any] | None, text: str, inbound: int = 1) -> Any:
    times = [NOW - timedelta(seconds=5 * i) for i in range(inbound)][::-1]
    return decide(state, text, NOW, LIMITS, times, message_id="SM1")


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
    assert result.crisis is not None and result.crisis.priority == "high"
    assert result.crisis.alert_id == "crisis:alert:SM1"
    assert result.follow_ups is not None
    assert not result.compose and not result.request_checkout


def test_stop_confirms_once_then_silence_until_start() -> None:
    stopped = turn(settled(), "STOP")
    assert (stopped.reply, stopped.opted_out, stopped.set_state) == (
        replies.text("stop"),
        True,
        {"opted_out": True, "opted_out_at": NOW},
    )
    assert turn(settled(opted_out=True), "stop").kind == "silent:opted_out"
    assert turn(settled(opted_out=True), "how are you").kind == "silent:opted_out"
    started = turn(settled(opted_out=True), "Start")
    assert (started.reply, started.opted_out) == (replies.text("start"), False)


def test_help_always_answers_but_help_inside_a_sentence_is_conversation() -> None:
    assert turn(settled(opted_out=True), "HELP").reply == replies.text("help")
    sentence = turn(settled(), "I need help with mom")
    assert (sentence.kind, sentence.compose) == ("agent", True)


def test_yes_is_start_only_for_an_opted_out_number() -> None:
    assert turn(settled(opted_out=True), "yes").kind == "start"
    assert turn(settled(), "yes").kind == "agent"


def test_a_new_caregiver_gets_the_welcome_and_the_first_question() -> None:
    result = turn(None, "hi")
    assert result.kind == "welcome"
    assert result.reply is not None and result.reply.endswith(onboarding.question("first_name"))
    assert result.set_state == {"welcomed": True, "onboarding": onboarding.start()}


def test_onboarding_answers_become_facts() -> None:
    result = turn(settled(onboarding=onboarding.start()), "Maria")
    assert result.kind == "onboarding"
    assert (result.fact.field, result.fact.value) == ("first_name", "Maria")
    assert result.set_state["facts.first_name"] == "Maria"


def test_a_flood_gets_one_notice_then_slower_replies() -> None:
    first = turn(settled(), "again", inbound=21)
    assert first.kind == "rate:notice" and first.reply is not None and "more slowly" in first.reply
    assert first.set_state == {"rate_notice_at": NOW, "rate_replied_at": NOW}
    waiting = settled(rate_notice_at=NOW, rate_replied_at=NOW - timedelta(minutes=1))
    assert turn(waiting, "again", inbound=22).kind == "silent:rate"
    slot = settled(rate_notice_at=NOW - timedelta(minutes=5), rate_replied_at=NOW - timedelta(minutes=11))
    answered = turn(slot, "are you there", inbound=22)
    assert answered.kind == "agent" and answered.set_state["rate_replied_at"] == NOW


def test_answers_to_the_lines_own_questions_are_never_counted_or_slowed() -> None:
    """A caregiver doing the 12-item check-up after a busy day is not silenced at item 8."""
    told = settled(rate_notice_at=NOW, rate_replied_at=NOW)  # over the limit, answered just now
    in_assessment = {**told, "assessment": {"id": "a1", "since": NOW - timedelta(minutes=3)}}
    answered = turn(in_assessment, "4", inbound=40)
    assert (answered.kind, answered.counted) == ("assessment:answer", False)
    in_onboarding = {**told, "onboarding": onboarding.start()}
    named = turn(in_onboarding, "Maria", inbound=40)
    assert (named.kind, named.counted) == ("onboarding", False)
    assert turn(told, "hello?", inbound=40).counted is True


def test_not_entitled_asks_billing_for_a_link_once_a_day() -> None:
    first = turn(settled(**NOT_ENTITLED), "hello again")
    assert (first.kind, first.request_checkout, first.reply) == ("gated", True, None)
    later = turn(settled(**NOT_ENTITLED, checkout_requested_on=NOW.date().isoformat()), "hello?")
    assert later.kind == "silent:gated" and not later.request_checkout
    # keywords and onboarding still work without a subscription
    assert turn(settled(**NOT_ENTITLED), "HELP").reply == replies.text("help")
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


def in_crisis(hours_ago: float, **fields: Any) -> dict[str, Any]:
    crisis = {
        "at": NOW - timedelta(hours=hours_ago),
        "category": "suicide_self",
        "alert_id": "crisis:alert:SM0",
    }
    return settled(crisis=crisis, **fields)


@pytest.mark.parametrize(
    ("text", "category", "language"),
    [
        ("i want to kill myself", "suicide_self", "en"),
        ("my husband says he wants to end it", "suicide_other", "en"),
        ("dad fell and cant get up", "medical_emergency", "en"),
        ("my husband hits me", "abuse_of_caregiver", "en"),
        ("the aide slapped mom", "abuse_of_recipient", "en"),
        ("im scared im going to hurt him", "harm_to_others", "en"),
        ("me quiero morir", "suicide_self", "es"),
        ("mi esposo me pega", "abuse_of_caregiver", "es"),
    ],
)
def test_each_category_gets_its_own_reply_in_the_words_language(
    text: str, category: str, language: str
) -> None:
    result = turn(settled(), text)
    assert result.kind == "crisis"
    assert result.crisis is not None and (result.crisis.category, result.crisis.language) == (
        category,
        language,
    )
    assert result.reply == responses.category_reply(category, language)


def test_a_crisis_closes_the_assessment_and_pauses_onboarding() -> None:
    busy = settled(
        assessment={"id": "a1", "since": NOW - timedelta(minutes=5)}, onboarding={"field": "zip", "tries": 0}
    )
    result = turn(busy, CRISIS_TEXT)
    assert result.set_state["assessment"] is None
    assert result.set_state["onboarding.paused"] is True
    assert result.set_state["crisis"]["at"] == NOW


def test_an_indirect_signal_gets_the_caring_question_and_a_low_priority_alert() -> None:
    result = turn(settled(), "honestly they'd all be better off without me")
    assert (result.kind, result.reply) == ("crisis:question", responses.question("suicide_self", "en"))
    assert result.crisis is not None and result.crisis.priority == "low"
    assert result.follow_ups is None
    assert result.set_state["crisis_question"]["alert_id"] == "crisis:alert:SM1"


def asked(hours_ago: float) -> dict[str, Any]:
    at = NOW - timedelta(hours=hours_ago)
    question = {"at": at, "category": "suicide_self", "alert_id": "crisis:alert:SM0", "language": "en"}
    return in_crisis(hours_ago, crisis_question=question)


@pytest.mark.parametrize("answer", ["yes", "Sí", "sometimes", "maybe", "idk", "i just feel hopeless"])
def test_a_yes_to_the_question_is_an_explicit_crisis_that_pages(answer: str) -> None:
    result = turn(asked(2), answer)
    assert (result.kind, result.reply) == ("crisis:confirmed", CRISIS_REPLY)
    assert result.page == ("crisis:alert:SM0", "confirmed")
    assert result.alert_note is not None and result.alert_note.escalate
    assert result.follow_ups is not None and result.follow_ups.alert_id == "crisis:alert:SM0"


def test_a_no_gets_a_caring_reply_not_a_questionnaire() -> None:
    result = turn(asked(2), "no")
    assert (result.kind, result.reply) == ("crisis:answer:no", responses.answer_reply("no", "en"))
    assert result.page is None and result.set_state == {"crisis_question": None}
    assert "CHECK IN" not in (result.reply or "")


def test_the_question_expires_after_12_hours() -> None:
    assert turn(asked(13), "yes").kind == "agent"


def pending_follow_up(**fields: Any) -> dict[str, Any]:
    follow = {"at": NOW - timedelta(hours=1), "alert_id": "crisis:alert:SM0", "step": 1, "language": "en"}
    return in_crisis(25, follow_up=follow, **fields)


def test_a_follow_up_no_pages_again_and_yes_is_recorded() -> None:
    no = turn(pending_follow_up(), "NO")
    assert (no.kind, no.page) == ("crisis:follow_up:no", ("crisis:alert:SM0", "follow_up_no"))
    assert no.alert_note is not None and no.alert_note.answer == "no"
    yes = turn(pending_follow_up(), "sí")
    assert (yes.kind, yes.page, yes.reply) == ("crisis:follow_up:yes", None, responses.follow_up("yes", "en"))


def test_yes_and_no_answer_a_follow_up_only_as_the_whole_message_and_only_while_one_is_pending() -> None:
    assert turn(pending_follow_up(), "no i didnt call but im ok now").kind == "agent"
    assert turn(in_crisis(25), "yes").kind == "agent"
    assert turn(pending_follow_up(opted_out=True), "yes").kind == "start"


def test_post_crisis_mode_lifts_limits_paywall_and_onboarding_for_a_day() -> None:
    calm = in_crisis(
        3, **NOT_ENTITLED, rate_notice_at=NOW, onboarding={"field": "zip", "tries": 0, "paused": True}
    )
    result = turn(calm, "thank you for answering", inbound=40)
    assert (result.kind, result.compose) == ("agent", True)
    later = in_crisis(25, onboarding={"field": "zip", "tries": 0, "paused": True})
    resumed = turn(later, "hi again")
    assert (resumed.kind, resumed.reply) == ("onboarding:resume", onboarding.question("zip"))
    assert turn(in_crisis(25, **NOT_ENTITLED), "hello").kind == "gated"


def test_stop_and_help_still_work_while_the_question_waits_for_an_answer() -> None:
    assert turn(asked(1), "STOP").kind == "stop"
    assert turn(asked(1), "help").reply == replies.text("help")


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({}, True),
        ({"entitlement": {"entitled": True, "status": "active", "at": NOW}}, True),
        (NOT_ENTITLED, False),
    ],
    ids=["never-projected-is-a-trial", "projected-access", "projected-no-access"],
)
def test_projected_access_reads_billings_projection(state: dict[str, Any], expected: bool) -> None:
    """No projection yet means access (a new trial); otherwise billing's flag as projected."""
    assert projected_access(state) is expected


# --- onboarding that listens (issue 15, item 4) --------------------------------------------


def test_a_distressed_first_message_gets_the_welcome_then_care_then_the_first_question() -> None:
    result = turn(None, "I'm exhausted, she was up all night")
    assert result.kind == "welcome" and result.reply is not None
    care = onboarding.care_line("exhaustion", "en")
    assert result.reply.endswith(f" {care} {onboarding.question('first_name')}")
    assert onboarding.hint("first_name") not in result.reply


def test_a_spanish_first_message_keeps_what_it_said_and_asks_only_what_is_missing() -> None:
    spanish = Detection("es", 0.99, 9)
    result = decide(
        None, "soy María y cuido a mi mamá, tiene alzheimer", NOW, LIMITS, [NOW], detected=spanish
    )
    # the accented name makes the welcome UCS-2: the first reply alone may take a fourth segment
    assert result.language == "es" and result.reply is not None
    assert segments(result.reply) <= onboarding.WELCOME_SEGMENTS
    assert {(f.field, f.value) for f in result.facts} == {
        ("first_name", "María"),
        ("relationship", "parent"),
        ("condition", "alzhéimer"),
    }
    assert result.set_state["facts.first_name"] == "María"
    assert result.reply.startswith(replies.welcome("es")) and "María" in result.reply
    assert result.reply.endswith(onboarding.question("zip", "es"))
    assert result.set_state["onboarding"] == {"field": "zip", "tries": 0}


@pytest.mark.parametrize("field", ["first_name", "relationship", "condition", "zip"])
def test_distress_during_onboarding_gets_care_never_a_format_hint(field: str) -> None:
    result = turn(settled(onboarding={"field": field, "tries": 0}), "I'm exhausted, she was up all night")
    assert result.kind == "onboarding" and result.reply is not None and not result.compose
    assert result.reply.startswith(onboarding.care_line("exhaustion", "en"))
    assert "A ZIP code has 5 digits" not in result.reply and onboarding.hint(field) not in result.reply


def test_a_crisis_during_onboarding_still_comes_first() -> None:
    result = turn(settled(onboarding={"field": "zip", "tries": 0}), CRISIS_TEXT)
    assert (result.kind, result.reply) == ("crisis", CRISIS_REPLY)


def test_a_zip_sent_while_the_name_is_asked_is_kept_and_never_asked_for() -> None:
    early = turn(settled(onboarding=onboarding.start()), "60614")
    assert early.fact is not None and (early.fact.field, early.fact.value) == ("zip", "60614")
    assert early.set_state["facts.zip"] == "60614" and early.set_state["onboarding"]["field"] == "first_name"
    facts = {"zip": "60614", "first_name": "Ana", "relationship": "parent"}
    last = turn(settled(onboarding={"field": "condition", "tries": 0}, facts=facts), "Parkinson's")
    assert last.onboarding_done and last.reply == onboarding.done_text("Ana")
    assert last.fact is not None and (last.fact.field, last.fact.value) == ("condition", "Parkinson's")


def test_a_question_during_onboarding_gets_the_agent_then_the_pending_question() -> None:
    result = turn(settled(onboarding={"field": "zip", "tries": 0}), "How much does this cost?")
    assert (result.kind, result.compose, result.counted) == ("onboarding:aside", True, False)
    assert result.then == onboarding.question("zip")
    gated = turn(settled(**NOT_ENTITLED, onboarding={"field": "zip", "tries": 0}), "How much does this cost?")
    assert (gated.kind, gated.reply) == ("onboarding", onboarding.question("zip"))


DONE_YESTERDAY = {"field": None, "tries": 0, "done_at": NOW - timedelta(hours=25)}
KNOWN = {"first_name": "Ana", "relationship": "parent", "zip": "94110"}


def test_a_skipped_fact_is_asked_again_once_at_the_end_of_an_ordinary_reply() -> None:
    result = turn(settled(onboarding=DONE_YESTERDAY, facts=KNOWN), "she slept better last night")
    assert (result.kind, result.compose) == ("agent", True)
    assert result.then is not None and result.then.endswith(onboarding.question("condition"))
    assert result.set_state["onboarding"]["reasked"] == ["condition"]
    again = turn(settled(onboarding=result.set_state["onboarding"], facts=KNOWN), "Alzheimer's")
    assert (again.kind, again.reply) == ("onboarding:reask", "Thank you, Ana, I've noted that.")
    assert again.fact is not None and again.fact.value == "Alzheimer's" and not again.onboarding_done
    later = settled(onboarding=again.set_state["onboarding"], facts={**KNOWN, "condition": "Alzheimer's"})
    assert turn(later, "hello").then is None  # once


@pytest.mark.parametrize(
    "state",
    [
        settled(
            onboarding=DONE_YESTERDAY, facts=KNOWN, assessment={"id": "a1", "since": NOW - timedelta(hours=1)}
        ),
        settled(
            onboarding=DONE_YESTERDAY,
            facts=KNOWN,
            crisis={"at": NOW - timedelta(hours=3), "category": "suicide_self", "tier": "explicit"},
        ),
        settled(onboarding={**DONE_YESTERDAY, "done_at": NOW - timedelta(hours=2)}, facts=KNOWN),
        settled(onboarding={"field": None, "tries": 0}, facts=KNOWN),
    ],
    ids=["during-an-assessment", "after-a-crisis", "within-a-day", "onboarded-before-re-asks-existed"],
)
def test_no_re_ask_outside_an_ordinary_reply_a_day_later(state: dict[str, Any]) -> None:
    result = turn(state, "she slept better last night")
    assert result.then is None and "onboarding" not in result.set_state
