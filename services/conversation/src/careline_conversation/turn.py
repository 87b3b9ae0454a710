"""What one inbound message leads to: pure decisions, in the order safety demands.

1. Crisis first: the fixed crisis reply and an alert, whatever else is true (opted out,
   flooding, not subscribed, mid-onboarding).
2. Keywords (STOP/HELP/START) next: they always work, and a retried STOP does nothing twice
   because the whole turn runs once per message id.
3. An opted-out number gets silence.
4. A new caregiver gets the welcome and the first onboarding question.
5. Rate limits: one notice, then silence until the window passes.
6. "check in" / "assessment" asks profile for an assessment; while one is open (24 h), a
   message is its answer, and profile's next question or result is the reply.
7. Onboarding answers, one question at a time.
8. Not entitled: a checkout link at most once a day, instead of an AI reply.
9. Otherwise an agent writes the reply, later, inside the reply job.

The handler applies a ``Turn`` in one transaction: state, reply job, alert job, events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from careline_conversation import onboarding, ratelimit, replies
from careline_conversation.safety.crisis import detect
from careline_conversation.safety.keywords import (
    CRISIS_REPLY,
    HELP_REPLY,
    START_CONFIRMATION,
    STOP_CONFIRMATION,
    Keyword,
    parse_keyword,
)

Document = dict[str, Any]


@dataclass(frozen=True)
class Fact:
    field: str
    value: str


@dataclass
class Turn:
    """The decisions for one message; ``kind`` names the branch taken (logged, and in the job)."""

    kind: str
    reply: str | None = None
    compose: bool = False
    set_state: Document = field(default_factory=dict)
    crisis_category: str | None = None
    fact: Fact | None = None
    opted_out: bool | None = None  # set when STOP/START changed it
    request_checkout: bool = False
    request_assessment: str | None = None  # an instrument key
    answer_assessment: str | None = None  # the open assessment this message answers
    onboarding_done: bool = False


def decide(
    state: Document | None,
    message: str,
    now: datetime,
    limits: ratelimit.RateLimits,
    inbound_at: list[datetime],
) -> Turn:
    """Decide the turn. ``state`` is conversation_state before this message (None: new)."""
    crisis = detect(message)
    if crisis is not None:
        return Turn(
            "crisis", CRISIS_REPLY, set_state={"last_crisis_at": now}, crisis_category=str(crisis.category)
        )
    state = state or {}
    opted_out = bool(state.get("opted_out"))
    keyword = parse_keyword(message)
    if keyword is Keyword.STOP:
        if opted_out:
            return Turn("silent:opted_out")
        return Turn("stop", STOP_CONFIRMATION, set_state={"opted_out": True}, opted_out=True)
    if keyword is Keyword.HELP:
        return Turn("help", HELP_REPLY)
    if keyword is Keyword.START and opted_out:
        return Turn("start", START_CONFIRMATION, set_state={"opted_out": False}, opted_out=False)
    if opted_out:
        return Turn("silent:opted_out")
    if not state.get("welcomed"):
        first = onboarding.start()
        return Turn(
            "welcome",
            f"{replies.WELCOME} {onboarding.QUESTIONS[first['field']]}",
            set_state={"welcomed": True, "onboarding": first},
        )
    verdict = ratelimit.check(inbound_at, now, limits, state.get("rate_notice_at"))
    if verdict is ratelimit.Verdict.NOTICE:
        return Turn("rate:notice", ratelimit.NOTICE, set_state={"rate_notice_at": now})
    if verdict is ratelimit.Verdict.SILENT:
        return Turn("silent:rate")
    instrument = assessment_request(message)
    if instrument is not None:
        return Turn("assessment:request", request_assessment=instrument)
    open_assessment = state.get("assessment")
    if open_assessment and now - open_assessment["since"] < ASSESSMENT_TTL:
        return Turn("assessment:answer", answer_assessment=open_assessment["id"])
    if onboarding.is_active(state.get("onboarding")):
        step = onboarding.answer(
            state["onboarding"], message, known_name=(state.get("facts") or {}).get("first_name")
        )
        fact = Fact(*step.fact) if step.fact else None
        set_state: Document = {"onboarding": step.state}
        if fact is not None:
            set_state[f"facts.{fact.field}"] = fact.value
        done = not onboarding.is_active(step.state)
        return Turn("onboarding", step.reply, set_state=set_state, fact=fact, onboarding_done=done)
    if not entitled(state):
        today = now.date().isoformat()
        if state.get("checkout_requested_on") == today:
            return Turn("silent:gated")
        return Turn("gated", set_state={"checkout_requested_on": today}, request_checkout=True)
    return Turn("agent", compose=True)


ASSESSMENT_TTL = timedelta(hours=24)
_ASSESSMENT_WORDS = {
    "check in": "checkin",
    "checkin": "checkin",
    "check-in": "checkin",
    "check in please": "checkin",
    "assessment": "burnout",
    "start assessment": "burnout",
    "burnout check": "burnout",
    "burnout assessment": "burnout",
}


def assessment_request(message: str) -> str | None:
    """The instrument a whole message asks for ("check in", "assessment"), or None."""
    return _ASSESSMENT_WORDS.get(" ".join(message.lower().strip(" .!?").split()))


def entitled(state: Document) -> bool:
    """Conversation's projection of billing's entitlement; unknown means entitled (a new trial)."""
    projection = state.get("entitlement")
    return True if projection is None else bool(projection.get("entitled"))
