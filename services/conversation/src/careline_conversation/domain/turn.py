"""What one inbound message leads to: pure decisions, in the order safety demands.

1. An explicit crisis first: the category's fixed reply (in the language of the words that
   matched) and a high-priority alert, whatever else is true (opted out, flooding, not
   subscribed, mid-onboarding, mid-assessment). Follow-ups are owed at +24 h and +48 h.
2. The answer to the caring question, for 12 hours after it was asked: a yes (or anything
   uncertain, or another indirect signal) is an explicit crisis; a no gets a caring reply.
3. The answer to a crisis follow-up (YES/NO/SÍ as the whole message, while one is pending):
   recorded on the alert; a NO pages the on-call person again.
4. An indirect crisis signal: the caring question, the 988 line, a low-priority alert.
5. Keywords (STOP/HELP/START): they always work, and a retried STOP does nothing twice
   because the whole turn runs once per message id.
6. An opted-out number gets silence.
   STOP from a caregiver with a Stripe subscription says plainly that texts stop but the
   subscription does not, and how to cancel it.
6a. ESPAÑOL / ENGLISH switch the caregiver's language, whatever else is open (rate limit,
   assessment, onboarding), and the confirmation comes in the new language; a pending
   onboarding question is asked again after it. A caregiver not yet welcomed gets the welcome.
6b. BILLING / ANNUAL (FACTURA / ANUAL) from a welcomed caregiver: billing texts the portal
   or a checkout link for the plan (the link is the reply).
7. A new caregiver gets the welcome and the first onboarding question (a death told in that
   first message is still reported to profile, so no caregiving check-in ever goes out).
7a. The person cared for has died ("mom passed away last night", "mi mamá falleció";
   ``domain.loss``): sorry, grief support and the news that caregiving check-ins stop, in the
   caregiver's language; profile is told. Any open assessment closes, onboarding ends and no
   fact is asked again. Never rate-limited.
7b. Check-in control (``domain.checkin_requests``): DAILY, WEEKLY, PAUSE, RESUME, a time of
   day, or "text me less": profile is told, decides the schedule and confirms it.
8. Rate limits: one notice, then one reply per slot (never hours of silence).
9. "check in" / "assessment" asks profile for an assessment; while one is open (24 h), a
   message is its answer, and profile's next question or result is the reply.
10. Onboarding answers, one question at a time.
11. Not entitled: a checkout link at most once a day, instead of an AI reply.
12. Otherwise an agent writes the reply, later, inside the reply job.

For 24 hours after a crisis the caregiver is in post-crisis mode: any open assessment is
closed and onboarding paused at the crisis, and until the day is over there is no rate-limit
silence, no paywall and no onboarding question; the agent knows the category (never the text)
and stays gentle. The handler applies a ``Turn`` in one transaction: state, reply job, alert,
follow-ups, pages and events.

Whatever the branch, a decisive detection among the first messages sets the caregiver's
language (``domain.language``); ``Turn.language`` is the language of this turn's reply. A
Spanish greeting as the very first message ("hola") is welcomed in Spanish, and a Spanish
keyword ("ayuda") from a caregiver whose language is unknown is answered in Spanish.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from careline_conversation.domain import checkin_requests, loss, onboarding, ratelimit, replies
from careline_conversation.domain import language as languages
from careline_conversation.domain.checkin_requests import CheckinRequest
from careline_conversation.domain.language import Detection, Language
from careline_conversation.safety import responses
from careline_conversation.safety.crisis import detect
from careline_conversation.safety.keywords import (
    BILLING_PLANS,
    SWITCHES,
    Keyword,
    parse_keyword,
    spanish_keyword,
)
from careline_conversation.safety.responses import Answer

Document = dict[str, Any]
POST_CRISIS = timedelta(hours=24)
QUESTION_WINDOW = timedelta(hours=12)
FOLLOW_UP_WINDOW = timedelta(hours=72)
FOLLOW_UP_AFTER = (timedelta(hours=24), timedelta(hours=48))


@dataclass(frozen=True)
class Fact:
    field: str
    value: str


@dataclass(frozen=True)
class Crisis:
    """A crisis this turn opens an alert for."""

    category: str
    tier: Literal["explicit", "indirect"]
    language: Literal["en", "es"]
    alert_id: str

    @property
    def priority(self) -> Literal["high", "low"]:
        return "high" if self.tier == "explicit" else "low"


@dataclass(frozen=True)
class AlertNote:
    """Something the caregiver answered, recorded on an existing alert."""

    alert_id: str
    field: Literal["question_answer", "follow_up_answer"]
    answer: str
    escalate: bool = False  # the alert becomes high priority (a yes to the caring question)


@dataclass(frozen=True)
class FollowUps:
    """Follow-up questions owed for an explicit crisis."""

    alert_id: str
    language: Literal["en", "es"]
    category: str


@dataclass
class Turn:
    """The decisions for one message; ``kind`` names the branch taken (logged, and in the job)."""

    kind: str
    reply: str | None = None
    compose: bool = False
    set_state: Document = field(default_factory=dict)
    crisis: Crisis | None = None  # a new alert
    alert_note: AlertNote | None = None
    page: tuple[str, str] | None = None  # (alert id, reason): page the on-call roster again
    follow_ups: FollowUps | None = None
    facts: tuple[Fact, ...] = ()
    """Profile facts learned from this message (onboarding's answer, or facts stated outright)."""
    then: str | None = None
    """A fixed text sent after the agent's words in the same reply (an onboarding question)."""
    opted_out: bool | None = None  # set when STOP/START changed it
    request_checkout: bool = False
    billing_plan: Literal["monthly", "annual"] | None = None
    """BILLING or ANNUAL: billing texts the portal or a checkout link for this plan."""
    request_assessment: str | None = None  # an instrument key
    answer_assessment: str | None = None  # the open assessment this message answers
    onboarding_done: bool = False
    checkin_request: CheckinRequest | None = None  # DAILY, PAUSE, a time of day...: for profile
    loss_reported: bool = False  # the person cared for died: profile stops caregiving check-ins
    counted: bool = True
    """Whether the message counts toward the rate limits (answers to the line's questions do not)."""
    language: Language = languages.DEFAULT
    """The caregiver's language after this message: the one this turn's reply should be in."""
    language_changed: bool = False
    """Whether this message set a language other than the one known before (profile is told)."""

    @property
    def crisis_category(self) -> str | None:
        return self.crisis.category if self.crisis else None

    @property
    def fact(self) -> Fact | None:
        """The first fact learned, if any."""
        return self.facts[0] if self.facts else None


def post_crisis(state: Document | None, now: datetime) -> str | None:
    """The category of a crisis in the last 24 hours, or None: the caregiver is in post-crisis mode."""
    crisis = (state or {}).get("crisis")
    if crisis and now - crisis["at"] < POST_CRISIS:
        return str(crisis["category"])
    return None


def _pending(state: Document, key: str, now: datetime, window: timedelta) -> Document | None:
    pending = state.get(key)
    return pending if pending and now - pending["at"] < window else None


def _crisis_state(crisis: Crisis, now: datetime, state: Document) -> Document:
    """Post-crisis mode starts: the open assessment closes, onboarding pauses, old questions go."""
    fields: Document = {
        "crisis": {
            "at": now,
            "category": crisis.category,
            "tier": crisis.tier,
            "alert_id": crisis.alert_id,
            "language": crisis.language,
        },
        "assessment": None,
        "crisis_question": None,
        "follow_up": None,
    }
    if onboarding.is_active(state.get("onboarding")):
        fields["onboarding.paused"] = True
    return fields


def _explicit(category: str, language: Any, alert_id: str, now: datetime, state: Document) -> Turn:
    crisis = Crisis(category, "explicit", language, alert_id)
    return Turn(
        "crisis",
        responses.category_reply(category, language),
        set_state=_crisis_state(crisis, now, state),
        crisis=crisis,
        follow_ups=FollowUps(alert_id, language, category),
    )


def decide(
    state: Document | None,
    message: str,
    now: datetime,
    limits: ratelimit.RateLimits,
    inbound_at: list[datetime],
    *,
    message_id: str = "",
    detected: Detection | None = None,
) -> Turn:
    """Decide the turn. ``state`` is conversation_state before this message (None: new).

    ``message_id`` names the alert a crisis in this message opens (``crisis:alert:<id>``).
    ``detected`` is the language detector's verdict on the message, when
    ``language.needs_detection(state)`` asked for one.
    """
    state = state or {}
    learned = languages.after_detection(state, detected, now) if detected is not None else {}
    reply_language = languages.language_of({**state, **learned})
    turn = _decide(state, message, now, limits, inbound_at, message_id, reply_language)
    if learned and "language" not in turn.set_state:  # a switch keyword outranks a detection
        turn.set_state.update(learned)
    turn.language = languages.language_of(turn.set_state if "language" in turn.set_state else state)
    turn.language_changed = "language" in turn.set_state and languages.known(state) != turn.language
    if turn.kind == "loss":  # written once this turn's language is known (a first Spanish message)
        turn.reply = loss.reply(turn.language, (state.get("facts") or {}).get("first_name"))
    return turn


def _decide(
    state: Document,
    message: str,
    now: datetime,
    limits: ratelimit.RateLimits,
    inbound_at: list[datetime],
    message_id: str,
    language: Language,
) -> Turn:
    alert_id = f"crisis:alert:{message_id}"
    crisis = detect(message)
    if crisis is not None and crisis.tier == "explicit":
        return _explicit(crisis.category, crisis.language, alert_id, now, state)
    opted_out = bool(state.get("opted_out"))
    question = _pending(state, "crisis_question", now, QUESTION_WINDOW)
    if question is not None and parse_keyword(message) not in (Keyword.STOP, Keyword.HELP):
        answer = Answer.YES if crisis is not None else responses.read_answer(message)
        return _answer_question(question, answer, now, state)
    follow_up = None if opted_out else _pending(state, "follow_up", now, FOLLOW_UP_WINDOW)
    if follow_up is not None:
        said = responses.read_follow_up_answer(message)
        if said is not None:
            return _answer_follow_up(follow_up, said)
    if crisis is not None:
        indirect = Crisis(crisis.category, "indirect", crisis.language, alert_id)
        set_state = _crisis_state(indirect, now, state)
        set_state["crisis_question"] = {
            "at": now,
            "category": crisis.category,
            "alert_id": alert_id,
            "language": crisis.language,
        }
        return Turn(
            "crisis:question",
            responses.question(crisis.category, crisis.language),
            set_state=set_state,
            crisis=indirect,
        )
    return _ordinary(state, message, now, limits, inbound_at, opted_out, language)


def _answer_question(question: Document, answer: Answer, now: datetime, state: Document) -> Turn:
    alert_id, language = question["alert_id"], question.get("language", "en")
    if answer is Answer.YES:
        turn = _explicit(question["category"], language, alert_id, now, state)
        turn.kind = "crisis:confirmed"
        turn.crisis = None  # the alert exists: it is raised to high priority and pages now
        turn.alert_note = AlertNote(alert_id, "question_answer", "yes", escalate=True)
        turn.page = (alert_id, "confirmed")
        return turn
    clear = {"crisis_question": None}
    note = AlertNote(alert_id, "question_answer", str(answer))
    kind = "no" if answer is Answer.NO else "unclear"
    return Turn(
        f"crisis:answer:{kind}", responses.answer_reply(kind, language), set_state=clear, alert_note=note
    )


def _answer_follow_up(follow_up: Document, answer: Answer) -> Turn:
    alert_id, language = follow_up["alert_id"], follow_up.get("language", "en")
    note = AlertNote(alert_id, "follow_up_answer", str(answer))
    said = "yes" if answer is Answer.YES else "no"
    turn = Turn(
        f"crisis:follow_up:{said}",
        responses.follow_up(said, language),
        set_state={"follow_up": None},
        alert_note=note,
    )
    if answer is Answer.NO:
        turn.page = (alert_id, "follow_up_no")
    return turn


def _ordinary(
    state: Document,
    message: str,
    now: datetime,
    limits: ratelimit.RateLimits,
    inbound_at: list[datetime],
    opted_out: bool,
    language: Language,
) -> Turn:
    gentle = post_crisis(state, now) is not None
    keyword = parse_keyword(message)
    # "ayuda" or "baja" from a caregiver whose language is not known yet is answered in Spanish
    said = "es" if languages.known(state) is None and spanish_keyword(message) else language
    if keyword is Keyword.STOP:
        if opted_out:
            return Turn("silent:opted_out")
        stopped = {"opted_out": True, "opted_out_at": now}
        # texts stop, a Stripe subscription does not: the one confirmation says how to cancel it
        words = "stop_subscribed" if projected_subscription(state) else "stop"
        return Turn("stop", replies.text(words, said), set_state=stopped, opted_out=True)
    if keyword is Keyword.HELP:
        return Turn("help", replies.text("help", said))
    if keyword is Keyword.START and opted_out:
        return Turn("start", replies.text("start", said), set_state={"opted_out": False}, opted_out=False)
    if opted_out:
        return Turn("silent:opted_out")
    switch = SWITCHES.get(keyword) if keyword is not None else None
    if switch is not None and state.get("welcomed"):
        return _switch(state, switch, now, gentle)
    plan = BILLING_PLANS.get(keyword) if keyword is not None else None
    if plan is not None and state.get("welcomed"):  # billing's link is the reply
        return Turn(f"billing:{plan}", billing_plan=plan)
    bereaved = loss.reports_loss(message)
    if not state.get("welcomed"):
        first = onboarding.start()
        chose = languages.switched(switch, now) if switch is not None else {}
        if not chose and languages.known(state) is None and languages.greets_in_spanish(message):
            chose = languages.greeted_in_spanish(now)  # "hola": welcomed in Spanish, not settled
        lang = switch or ("es" if chose else language)
        welcome = replies.welcome(lang)
        if gentle:  # the welcome says what the line is; the questions wait for a calmer day
            return Turn(
                "welcome",
                welcome,
                set_state={"welcomed": True, "onboarding": {**first, "paused": True}, **chose},
                loss_reported=bereaved,
            )
        step = onboarding.welcome(welcome, message, language=lang, now=now)
        turn = _onboarding_turn("welcome", step, {"welcomed": True, **chose})
        turn.loss_reported = bereaved
        return turn
    if bereaved:  # the reply is written in decide(), in this turn's language
        after = {"assessment": None, "onboarding": onboarding.closed_by_loss(state.get("onboarding"), now)}
        return Turn("loss", set_state=after, loss_reported=True)
    request = checkin_requests.parse(message)
    if request is not None:
        return Turn(f"checkins:{request.change}", checkin_request=request)
    if answering_the_line(state, now):  # never counted, never slowed: the line asked
        result = _after_limits(state, message, now, gentle, language)
        result.counted = False
        return result
    if not gentle:
        decision = ratelimit.check(
            inbound_at, now, limits, state.get("rate_notice_at"), state.get("rate_replied_at")
        )
        if decision.verdict is ratelimit.Verdict.NOTICE:
            assert decision.resume_at is not None
            told = {"rate_notice_at": now, "rate_replied_at": now}
            notice = ratelimit.notice(decision.resume_at, now, limits, language)
            return Turn("rate:notice", notice, set_state=told)
        if decision.verdict is ratelimit.Verdict.WAIT:
            return Turn("silent:rate")
        if decision.verdict is ratelimit.Verdict.SLOW:  # the next slot: answered, and the clock restarts
            result = _after_limits(state, message, now, gentle, language)
            result.set_state = {**result.set_state, "rate_replied_at": now}
            return result
    return _after_limits(state, message, now, gentle, language)


def answering_the_line(state: Document, now: datetime) -> bool:
    """Whether the message answers the line's own question: an open assessment, or onboarding
    waiting for an answer (not paused by a crisis). Such answers are not rate-limited."""
    open_assessment = state.get("assessment")
    if open_assessment and now - open_assessment["since"] < ASSESSMENT_TTL:
        return True
    progress = state.get("onboarding")
    return bool(onboarding.is_active(progress) and progress and not progress.get("paused"))


def _after_limits(state: Document, message: str, now: datetime, gentle: bool, language: Language) -> Turn:
    """What an ordinary message gets once the rate limits let it through."""
    instrument = assessment_request(message)
    if instrument is not None:
        return Turn("assessment:request", request_assessment=instrument)
    open_assessment = state.get("assessment")
    if open_assessment and now - open_assessment["since"] < ASSESSMENT_TTL:
        return Turn("assessment:answer", answer_assessment=open_assessment["id"])
    progress = state.get("onboarding")
    if onboarding.is_active(progress) and not gentle:
        assert progress is not None
        if progress.get("paused"):  # asked before a crisis: ask again rather than read this as the answer
            return Turn(
                "onboarding:resume",
                onboarding.question(progress["field"], language),
                set_state={"onboarding": {"field": progress["field"], "tries": 0}},
            )
        known = state.get("facts") or {}
        access = projected_access(state)
        step = onboarding.answer(progress, message, known=known, language=language, now=now, aside_ok=access)
        return _onboarding_turn("onboarding", step)
    return _after_onboarding(state, message, now, gentle, language)


def _after_onboarding(state: Document, message: str, now: datetime, gentle: bool, language: Language) -> Turn:
    """The answer to a re-asked question, the paywall, or the agent (with a re-ask when due)."""
    progress, known = state.get("onboarding"), state.get("facts") or {}
    answered = onboarding.answer_reask(progress, message, known=known, language=language)
    if answered is not None and answered.reply is not None:
        return _onboarding_turn("onboarding:reask", answered)
    closed: Document = {"onboarding": answered.state} if answered is not None else {}
    progress = answered.state if answered is not None else progress
    if not gentle and not projected_access(state):
        today = now.date().isoformat()
        if state.get("checkout_requested_on") == today:
            return Turn("silent:gated", set_state=closed)
        return Turn("gated", set_state={**closed, "checkout_requested_on": today}, request_checkout=True)
    missing = None if gentle else onboarding.reask_due(progress, known, message, now)
    if progress is not None and missing is not None:
        asked, then = onboarding.reask(progress, missing, language, now)
        return Turn("agent", compose=True, then=then, set_state={"onboarding": asked})
    return Turn("agent", compose=True, set_state=closed)


def _onboarding_turn(kind: str, step: onboarding.Step, extra: Document | None = None) -> Turn:
    """The turn an onboarding step makes: its progress and facts stored, its reply or the agent's
    (a question or a long sentence mid-onboarding: ``then`` asks the pending question after it)."""
    facts = tuple(Fact(f, v) for f, v in step.facts)
    set_state: Document = {**(extra or {}), "onboarding": step.state}
    set_state.update({f"facts.{fact.field}": fact.value for fact in facts})
    ended = step.done and kind != "onboarding:reask"  # a re-ask answers after onboarding ended
    if step.aside:
        return Turn(
            "onboarding:aside",
            compose=True,
            then=step.then,
            set_state=set_state,
            facts=facts,
            onboarding_done=ended,
        )
    return Turn(kind, step.reply, set_state=set_state, facts=facts, onboarding_done=ended)


def _switch(state: Document, language: Language, now: datetime, gentle: bool) -> Turn:
    """ESPAÑOL / ENGLISH: confirmed in the new language; a pending onboarding question follows."""
    reply = replies.text("switch", language)
    progress = state.get("onboarding")
    if onboarding.is_active(progress) and not gentle and progress and not progress.get("paused"):
        reply = f"{reply} {onboarding.question(progress['field'], language)}"
    return Turn(f"language:{language}", reply, set_state=languages.switched(language, now))


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
    "revisión": "checkin",
    "revision": "checkin",
    "chequeo": "checkin",
    "evaluación": "burnout",
    "evaluacion": "burnout",
}


def assessment_request(message: str) -> str | None:
    """The instrument a whole message asks for ("check in", "assessment"), or None."""
    return _ASSESSMENT_WORDS.get(" ".join(message.lower().strip(" .!?").split()))


def projected_access(state: Document) -> bool:
    """Conversation's projection of billing's access flag; unknown means access (a new trial).

    Billing decides access (``has_access``, ``status_grants_access``); this only reads what its
    ``EntitlementChanged`` events projected into the caregiver's state.
    """
    projection = state.get("entitlement")
    return True if projection is None else bool(projection.get("entitled"))


def projected_subscription(state: Document) -> bool:
    """Whether billing last said a Stripe subscription may still charge the caregiver."""
    return bool((state.get("entitlement") or {}).get("subscribed"))
