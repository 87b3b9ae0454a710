"""Conversation's message handlers: each one transaction on the unit of work.

The decisions are ``domain``'s (``turn.decide`` above all); a handler records what arrived,
asks the domain, and owes the effects (``tx.schedule`` for an SMS or a crisis job, ``tx.emit``
for an event) in the same transaction. The jobs they owe are run by ``sending`` and ``paging``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from careline_contracts.billing import BillingNoticeReady, CheckoutLinkReady, EntitlementChanged
from careline_contracts.conversation import (
    AssessmentAnswered,
    AssessmentRequested,
    CheckinPreferenceChanged,
    CheckoutRequested,
    ContactRecorded,
    CrisisDetected,
    FactLearned,
    LossReported,
    OnboardingCompleted,
    OptOutChanged,
)
from careline_contracts.ingress import SmsReceived, SmsStatusUpdated
from careline_contracts.jobs import (
    CrisisAlertJob,
    CrisisFollowUpJob,
    CrisisPageJob,
    EmbedMessageJob,
    SendSmsJob,
    SmsCompose,
    SummaryRefreshJob,
)
from careline_contracts.profile import CheckinDue, PromptReady
from careline_conversation.agents import Agent, AgentContext
from careline_conversation.domain import language, replies
from careline_conversation.domain.ratelimit import RateLimits
from careline_conversation.domain.turn import FOLLOW_UP_AFTER, Turn, decide, post_crisis
from careline_conversation.integrations.sms import SmsSender
from careline_conversation.language.detector import detect_in_thread
from careline_conversation.memory import facts as memory
from careline_conversation.memory.extract import extract
from careline_conversation.memory.similarity import words
from careline_conversation.remembering import Recall
from careline_conversation.repository import ConversationUow, SentMessages, Writer
from careline_conversation.safety.sizing import fit_with, normalise_for_gsm, segments
from careline_platform import regions
from careline_platform.jobs import Job
from careline_platform.logging import get_logger
from careline_platform.uow import HasMsgId, Tx

log = get_logger(__name__)
MAX_SEGMENTS = 3
MIN_KEPT_WORDS = 3
"""Content words a message needs to be kept for recall ("ok thanks" is not worth recalling)."""
CONTACT_EVERY = timedelta(hours=1)


class Progress(Protocol):
    """The job engine's record of what an attempt learned (``JobStore.record_progress``)."""

    async def record_progress(self, job: Job, **fields: Any) -> None: ...

    async def holds(self, job: Job) -> bool:
        """Whether the claim on ``job`` still stands (it was not cancelled by an erasure)."""
        ...


@dataclass(frozen=True)
class Services:
    """What conversation's handlers use besides the unit of work: the SMS provider, the agent,
    the rate limits, the job engine's progress record and the record of sent messages."""

    sender: SmsSender
    agent: Agent
    progress: Progress
    sent: SentMessages
    limits: RateLimits
    summary_every: int = 6
    sms_regions: frozenset[str] = regions.DEFAULT_ALLOWED
    """Regions outbound SMS may go to (``SMS_ALLOWED_REGIONS``); a text to any other dies."""
    detect_language: Callable[[str], Awaitable[language.Detection]] = detect_in_thread
    """The language detector, asked only about a caregiver's first messages (off the event loop)."""
    recall: Recall = field(default_factory=Recall)
    """What a reply job recalls (past messages, catalogue entries), and whether messages are
    embedded (only with an embedder: an OpenAI key)."""


async def on_sms_received(
    event: SmsReceived, delivery: HasMsgId, uow: ConversationUow, services: Services
) -> None:
    """Record the caregiver's message, decide the turn, and owe its effects, all in one transaction.

    A fixed text (crisis, keywords, welcome, onboarding) goes into the reply job as it is, and
    so does an instant agent's (the rules agent); any other agent's reply is composed inside
    the job, so no AI call runs in this handler.
    """
    user = event.user_id
    async with uow.begin(delivery) as tx:
        now = tx.now
        keep = services.limits.history_size
        before = await tx.repo.record_inbound(
            user, event.body, event.message_sid, now, phone=event.phone, keep=keep
        )
        state = before or {}
        inbound_at = [*(state.get("inbound_at") or []), now]
        detected = await services.detect_language(event.body) if language.needs_detection(before) else None
        turn = decide(
            before,
            event.body,
            now,
            services.limits,
            inbound_at,
            message_id=event.message_sid,
            detected=detected,
        )
        if turn.set_state:
            await tx.repo.update_state(user, turn.set_state)
        if not turn.counted:  # an answer to the line's own question: not toward the rate limits
            await tx.repo.uncount_inbound(user, now)
        learned = await _remember(event, turn, tx, state, services.recall.embeds)
        await _owe_reply(event, turn, tx, services.agent, memory.apply(state, learned))
        await _owe_crisis_effects(event, turn, tx)
        await _owe_turn_events(event, turn, tx)
        published = state.get("contact_published_at")
        if published is None or now - published >= CONTACT_EVERY:
            contact = ContactRecorded(
                occurred_at=now, correlation_id=event.correlation_id, user_id=user, at=now
            )
            await tx.emit(contact, key=user, msg_id=f"contact:{event.message_sid}")
            await tx.repo.update_state(user, {"contact_published_at": now})
        count = int(state.get("total_interactions", 0)) + 1
        if count % services.summary_every == 0:  # no actor: a slow summary never holds a reply back
            await tx.schedule(SummaryRefreshJob(user_id=user), key=f"summary:{user}:{count}")
    log.info("turn", kind=turn.kind, user=user, correlation_id=event.correlation_id)


async def _remember(
    event: SmsReceived, turn: Turn, tx: Tx[Writer], state: dict[str, Any], embeds: bool
) -> dict[str, Any]:
    """Read the facts the message states into the caregiver's memory, keep the message for
    later recall and, with an embedder, owe its embedding job (never computed here). A crisis
    message, a keyword or an opted-out number's text teaches nothing. Returns the fields set."""
    if not memory.learns_from(turn.kind):
        return {}
    user, sid = event.user_id, event.message_sid
    learned = memory.remember(state.get("memory"), extract(event.body), tx.now)
    if learned:
        await tx.repo.update_state(user, learned)
    if len(words(event.body)) >= MIN_KEPT_WORDS:
        await tx.repo.keep_message(user, sid, event.body, tx.now)
        if embeds:  # no actor: an embedding never holds a reply back
            await tx.schedule(EmbedMessageJob(user_id=user, message_sid=sid), key=f"embed:{sid}")
    return learned


async def _owe_reply(
    event: SmsReceived, turn: Turn, tx: Tx[Writer], agent: Agent, state: dict[str, Any]
) -> None:
    if turn.reply is None and not turn.compose:
        return
    now, user = tx.now, event.user_id
    text, by = turn.reply, None
    if text is None and agent.instant:
        # Nothing to wait for or pay: the reply is decided here, with the turn, and the job
        # only sends it (fewer writes before the caregiver reads it). Tool calls are carried
        # out by the job, so a reply that asks for some is composed there.
        known = turn.language if "language" in turn.set_state or language.known(state) else None
        asked = context(state, event.body, now, known, message_id=event.message_sid, then=turn.then)
        reply = await agent.reply(asked)
        if not reply.tool_calls:
            text, by = shaped(reply.text, state, known, then=turn.then), reply.agent
    if text is not None:
        await tx.repo.record_reply(user, text, now)
    sms = SendSmsJob(
        to=event.phone,
        user_id=user,
        correlation_id=event.correlation_id,
        kind=turn.kind,
        body=text,
        agent=by,
        compose=SmsCompose(message=event.body, then=turn.then, message_sid=event.message_sid)
        if text is None
        else None,
    )
    # a crisis text jumps the caregiver's queue: it is not ordered behind earlier replies
    actor = None if turn.kind.startswith("crisis") else user
    await tx.schedule(sms, key=f"sms:reply:{event.message_sid}", actor=actor)


async def _owe_turn_events(event: SmsReceived, turn: Turn, tx: Tx[Writer]) -> None:
    """The events a turn owes: a fact, an opt-out, an assessment step, onboarding, a checkout."""
    user, sid, corr, now = event.user_id, event.message_sid, event.correlation_id, tx.now
    for learned in turn.facts:
        fact = FactLearned(
            occurred_at=now, correlation_id=corr, user_id=user, field=learned.field, value=learned.value
        )
        await tx.emit(fact, key=user, msg_id=f"fact:{sid}:{learned.field}")
    if turn.language_changed:  # profile writes its questions and check-ins in it
        spoken = FactLearned(
            occurred_at=now, correlation_id=corr, user_id=user, field="language", value=turn.language
        )
        await tx.emit(spoken, key=user, msg_id=f"fact:{sid}:language")
    if turn.opted_out is not None:
        change = OptOutChanged(occurred_at=now, correlation_id=corr, user_id=user, opted_out=turn.opted_out)
        await tx.emit(change, key=user, msg_id=f"optout:{sid}")
    if turn.request_assessment is not None:
        wanted = AssessmentRequested(
            occurred_at=now,
            correlation_id=corr,
            user_id=user,
            instrument=turn.request_assessment,
            language=turn.language,
        )
        await tx.emit(wanted, key=user, msg_id=f"assessment-request:{sid}")
    if turn.answer_assessment is not None:
        answer = AssessmentAnswered(
            occurred_at=now,
            correlation_id=corr,
            user_id=user,
            assessment_id=turn.answer_assessment,
            text=event.body,
            language=turn.language,
        )
        await tx.emit(answer, key=user, msg_id=f"assessment-answer:{sid}")
    await _owe_checkin_events(event, turn, tx)
    if turn.onboarding_done:
        done = OnboardingCompleted(occurred_at=now, correlation_id=corr, user_id=user)
        await tx.emit(done, key=user, msg_id=f"onboarding-done:{user}")
    if turn.request_checkout:
        request = CheckoutRequested(occurred_at=now, correlation_id=corr, user_id=user)
        await tx.emit(request, key=user, msg_id=f"checkout-request:{user}:{now.date().isoformat()}")
    if turn.billing_plan is not None:  # BILLING or ANNUAL: the portal, or a checkout for the plan
        asked = CheckoutRequested(
            occurred_at=now, correlation_id=corr, user_id=user, asked=True, plan=turn.billing_plan
        )
        await tx.emit(asked, key=user, msg_id=f"billing-request:{sid}")


async def _owe_checkin_events(event: SmsReceived, turn: Turn, tx: Tx[Writer]) -> None:
    """What profile hears about check-ins: the caregiver's request, or that they lost their person."""
    user, sid, corr, now = event.user_id, event.message_sid, event.correlation_id, tx.now
    if turn.checkin_request is not None:
        asked = turn.checkin_request
        change = CheckinPreferenceChanged(
            occurred_at=now,
            correlation_id=corr,
            user_id=user,
            change=asked.change,
            hour=asked.hour,
            minute=asked.minute,
            language=turn.language,
        )
        await tx.emit(change, key=user, msg_id=f"checkin-preference:{sid}")
    if turn.loss_reported:
        reported = LossReported(occurred_at=now, correlation_id=corr, user_id=user, message_sid=sid)
        await tx.emit(reported, key=user, msg_id=f"loss:{sid}")


async def _owe_crisis_effects(event: SmsReceived, turn: Turn, tx: Tx[Writer]) -> None:
    """The alert, the record of an answer, a page, the follow-ups and the event a crisis turn owes."""
    user, sid, corr, now = event.user_id, event.message_sid, event.correlation_id, tx.now
    if turn.crisis is not None:
        crisis = turn.crisis
        alert = CrisisAlertJob(
            user_id=user,
            message_sid=sid,
            category=crisis.category,
            tier=crisis.tier,
            priority=crisis.priority,
            language=crisis.language,
            correlation_id=corr,
        )
        await tx.schedule(alert, key=crisis.alert_id)
    if turn.alert_note is not None:
        note = turn.alert_note
        await tx.repo.note_on_alert(note.alert_id, user, note.field, note.answer, now, escalate=note.escalate)
    if turn.page is not None:
        alert_id, reason = turn.page
        page = CrisisPageJob(user_id=user, alert_id=alert_id, reason=reason, correlation_id=corr)
        await tx.schedule(page, key=f"crisis:page:{alert_id}:{reason}:{sid}")
    if turn.follow_ups is not None:
        plan = turn.follow_ups
        for step, after in enumerate(FOLLOW_UP_AFTER, start=1):
            follow = CrisisFollowUpJob(
                user_id=user, alert_id=plan.alert_id, step=step, crisis_at=now, language=plan.language
            )
            await tx.schedule(follow, key=f"crisis:follow_up:{plan.alert_id}:{step}", run_at=now + after)
    category = turn.crisis_category or (turn.follow_ups.category if turn.follow_ups else None)
    if category is not None:
        tier = turn.crisis.tier if turn.crisis else "explicit"
        detected = CrisisDetected(
            occurred_at=now, correlation_id=corr, user_id=user, message_sid=sid, category=category, tier=tier
        )
        await tx.emit(detected, key=user, msg_id=f"crisis:{sid}")


async def on_entitlement_changed(event: EntitlementChanged, delivery: HasMsgId, uow: ConversationUow) -> None:
    """Keep conversation's own projection of billing's entitlement (newest event wins)."""
    async with uow.begin(delivery) as tx:
        await tx.repo.project_entitlement(
            event.user_id, event.entitled, event.status, event.occurred_at, event.subscribed
        )


async def on_checkout_link_ready(event: CheckoutLinkReady, delivery: HasMsgId, uow: ConversationUow) -> None:
    """Text the caregiver their checkout link, with the words that fit why they get it (a trial
    that ended, a subscription that lapsed, a card that failed, BILLING), unless they opted out."""

    def words(lang: str) -> str:
        return replies.checkout_message(event.url, lang, event.situation, event.plan)

    await _send_billing_text(event.user_id, words, f"sms:checkout:{event.session_id}", event, delivery, uow)


async def on_billing_notice_ready(
    event: BillingNoticeReady, delivery: HasMsgId, uow: ConversationUow
) -> None:
    """Text billing's notice (a trial ending, a failed payment, thanks, a cancellation, the
    portal link) once, in the caregiver's language, unless they opted out."""

    def words(lang: str) -> str:
        return replies.billing_notice(event.notice, lang, url=event.url, days=event.days_left)

    await _send_billing_text(event.user_id, words, f"sms:notice:{event.notice_id}", event, delivery, uow)


async def _send_billing_text(
    user: str,
    body_in: Callable[[str], str],
    key: str,
    event: CheckoutLinkReady | BillingNoticeReady,
    delivery: HasMsgId,
    uow: ConversationUow,
) -> None:
    async with uow.begin(delivery) as tx:
        state = await tx.repo.find_state(user) or {}
        phone = state.get("phone")
        if state.get("opted_out") or not phone:
            return
        body = body_in(language.language_of(state))
        await tx.repo.record_reply(user, body, tx.now)
        sms = SendSmsJob(
            to=phone, user_id=user, body=body, kind="checkout", correlation_id=event.correlation_id
        )
        await tx.schedule(sms, key=key, actor=user)


async def on_prompt_ready(event: PromptReady, delivery: HasMsgId, uow: ConversationUow) -> None:
    """Send profile's question or result, and note whether an assessment is open; a result's
    band and pressure zones are kept for the agent (profile's data, projected from its event)."""
    await _send_profile_text(event, event.assessment_open, delivery, uow)


async def on_checkin_due(event: CheckinDue, delivery: HasMsgId, uow: ConversationUow) -> None:
    """The scheduler's check-in: its first question opens the assessment (never the day after a crisis)."""
    await _send_profile_text(event, True, delivery, uow, proactive=True)


async def _send_profile_text(
    event: PromptReady | CheckinDue,
    assessment_open: bool,
    delivery: HasMsgId,
    uow: ConversationUow,
    *,
    proactive: bool = False,
) -> None:
    user = event.user_id
    async with uow.begin(delivery) as tx:
        now = tx.now
        state = await tx.repo.find_state(user) or {}
        if state.get("opted_out") or not state.get("phone"):
            return  # an opted-out number gets nothing proactive
        if proactive and post_crisis(state, now) is not None:
            log.info("checkin.skipped", user=user, reason="post_crisis")
            return  # no questionnaire in the day after a crisis
        assessment = {"id": event.assessment_id, "since": now} if assessment_open else None
        fields: dict[str, Any] = {"assessment": assessment}
        if isinstance(event, PromptReady) and event.band is not None:
            zones = list(event.pressure_zones)
            fields["wellbeing"] = {"band": event.band, "pressure_zones": zones, "at": event.occurred_at}
        await tx.repo.update_state(user, fields)
        await tx.repo.record_reply(user, event.text, now)
        sms = SendSmsJob(
            to=state["phone"],
            user_id=user,
            body=event.text,
            kind="profile",
            correlation_id=event.correlation_id,
        )
        await tx.schedule(sms, key=f"sms:profile:{delivery.msg_id}", actor=user)


async def on_sms_status(event: SmsStatusUpdated, delivery: HasMsgId, uow: ConversationUow) -> None:
    """Move an outbound message's delivery status forward."""
    async with uow.begin(delivery) as tx:
        await tx.repo.apply_status(event.message_sid, event.status, event.error_code, tx.now)


def shaped(
    text: str, state: dict[str, Any], lang: language.Language | None = None, *, then: str | None = None
) -> str:
    """An agent's reply made ready for SMS, within ``MAX_SEGMENTS``, with ``then`` (a fixed line
    the turn adds, such as a pending onboarding question) kept whole after it.

    Typographic quotes, dashes and spaces become GSM-7 always. Accents are orthography in
    Spanish: a Spanish reply keeps them when it fits as UCS-2, and loses them (for GSM-7's
    larger segments) only when that is what makes it fit. In English a stray accent goes
    whenever that makes the text GSM-7. The caregiver's name is never changed: "María" keeps
    its accent, and the reply is then sized as UCS-2.
    """
    name = (state.get("facts") or {}).get("first_name")
    keep = (name,) if name else ()
    if (lang or language.known(state)) == "es":
        as_written = normalise_for_gsm(text, keep=keep, accents=True)
        joined = f"{as_written} {then}" if then else as_written
        if segments(joined) <= MAX_SEGMENTS:
            return joined
    return fit_with(normalise_for_gsm(text, keep=keep), then, MAX_SEGMENTS)


def context(
    state: dict[str, Any],
    message: str,
    now: datetime,
    lang: language.Language | None = None,
    *,
    message_id: str = "",
    then: str | None = None,
) -> AgentContext:
    """What the agent may know for a reply to ``message`` (``lang``: the caregiver's language
    as this turn left it, when it is newer than ``state``)."""
    facts = state.get("facts") or {}
    band, zones = memory.wellbeing(state)
    return AgentContext(
        message=message,
        recent=tuple(state.get("recent_messages") or ()),
        summary=state.get("summary") or "",
        first_name=facts.get("first_name"),
        post_crisis=post_crisis(state, now),
        language=lang or language.known(state),
        relationship=facts.get("relationship"),
        condition=memory.condition(state),
        zip_code=facts.get("zip"),
        message_id=message_id,
        then=then or "",
        remembered=memory.view(state),
        band=band,
        pressure_zones=zones,
        recent_crisis=memory.recent_crisis(state, now),
    )
