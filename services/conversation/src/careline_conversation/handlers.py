"""Conversation's message and job handlers: plain functions over their dependencies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from careline_contracts import subjects
from careline_contracts.base import Event
from careline_contracts.billing import CheckoutLinkReady, EntitlementChanged
from careline_contracts.conversation import (
    AssessmentAnswered,
    AssessmentRequested,
    CheckoutRequested,
    ContactRecorded,
    CrisisDetected,
    FactLearned,
    OnboardingCompleted,
    OptOutChanged,
)
from careline_contracts.ingress import SmsReceived, SmsStatusUpdated
from careline_contracts.jobs import CrisisAlertJob, CrisisFollowUpJob, CrisisPageJob
from careline_contracts.profile import CheckinDue, PromptReady
from careline_conversation.agents import Agent, AgentContext
from careline_conversation.domain import onboarding, replies
from careline_conversation.domain.ratelimit import RateLimits
from careline_conversation.domain.turn import FOLLOW_UP_AFTER, Turn, decide, post_crisis
from careline_conversation.integrations.sms import SmsSender
from careline_conversation.repository import ConversationRepository
from careline_conversation.safety import responses
from careline_conversation.safety.sizing import fit, normalise_for_gsm
from careline_platform.clock import Clock
from careline_platform.jobs import Job, JobStore, new_job
from careline_platform.logging import get_logger
from careline_platform.messaging import Delivery
from careline_platform.mongo import UnitOfWork
from careline_platform.outbox import outbox_job

log = get_logger(__name__)
MAX_SEGMENTS = 3

SEND_SMS = "sms.send"
CRISIS_ALERT = "crisis.alert"
CRISIS_PAGE = "crisis.page"
CRISIS_FOLLOW_UP = "crisis.follow_up"
REFRESH_SUMMARY = "summary.refresh"
CONTACT_EVERY = timedelta(hours=1)


@dataclass
class Deps:
    uow: UnitOfWork
    repo: ConversationRepository
    jobs: JobStore
    clock: Clock
    sender: SmsSender
    wake_worker: Callable[[], None]
    agent: Agent
    limits: RateLimits
    summary_every: int = 6


async def _owe_event(
    deps: Deps, event: Event, msg_id: str, key: str, now: datetime, session: AsyncClientSession
) -> None:
    await deps.jobs.enqueue(
        outbox_job(event, msg_id=msg_id, key=key, stream=subjects.CONVERSATION, now=now), session=session
    )


async def on_sms_received(event: SmsReceived, delivery: Delivery, deps: Deps) -> None:
    """Record the caregiver's message, decide the turn, and owe its effects, all in one transaction.

    A fixed text (crisis, keywords, welcome, onboarding) goes into the reply job as it is, and
    so does an instant agent's (the rules agent); any other agent's reply is composed inside
    the job, so no AI call runs in this handler.
    """
    now = deps.clock.now()
    user = event.user_id
    async with deps.uow.transaction(delivery.msg_id, now) as session:
        before = await deps.repo.record_inbound(
            user,
            event.body,
            event.message_sid,
            now,
            session,
            phone=event.phone,
            keep=deps.limits.history_size,
        )
        inbound_at = [*((before or {}).get("inbound_at") or []), now]
        turn = decide(before, event.body, now, deps.limits, inbound_at, message_id=event.message_sid)
        if turn.set_state:
            await deps.repo.update_state(user, turn.set_state, session)
        await _owe_turn_effects(event, turn, now, deps, session, before or {})
        published = (before or {}).get("contact_published_at")
        if published is None or now - published >= CONTACT_EVERY:
            contact = ContactRecorded(
                occurred_at=now, correlation_id=event.correlation_id, user_id=user, at=now
            )
            await _owe_event(deps, contact, f"contact:{event.message_sid}", user, now, session)
            await deps.repo.update_state(user, {"contact_published_at": now}, session)
        count = int((before or {}).get("total_interactions", 0)) + 1
        if count % deps.summary_every == 0:  # no actor: a slow summary never holds a reply back
            summary_job = new_job(f"summary:{user}:{count}", REFRESH_SUMMARY, {"user_id": user}, now=now)
            await deps.jobs.enqueue(summary_job, session=session)
    log.info("turn", kind=turn.kind, user=user, correlation_id=event.correlation_id)
    deps.wake_worker()


async def _owe_turn_effects(
    event: SmsReceived,
    turn: Turn,
    now: datetime,
    deps: Deps,
    session: AsyncClientSession,
    state: dict[str, Any],
) -> None:
    user, sid, corr = event.user_id, event.message_sid, event.correlation_id
    if turn.reply is not None or turn.compose:
        payload: dict[str, Any] = {
            "to": event.phone,
            "user_id": user,
            "correlation_id": corr,
            "kind": turn.kind,
        }
        text = turn.reply
        if text is None and deps.agent.instant:
            # Nothing to wait for or pay: the reply is decided here, with the turn, and the job
            # only sends it (fewer writes before the caregiver reads it). Tool calls are carried
            # out by the job, so a reply that asks for some is composed there.
            reply = await deps.agent.reply(_context(state, event.body, now))
            if not reply.tool_calls:
                text = fit(normalise_for_gsm(reply.text), MAX_SEGMENTS)
                payload["agent"] = reply.agent
        if text is not None:
            payload["body"] = text
            await deps.repo.record_reply(user, text, now, session)
        else:
            payload["compose"] = {"message": event.body}
        # a crisis text jumps the caregiver's queue: it is not ordered behind earlier replies
        actor = None if turn.kind.startswith("crisis") else user
        await deps.jobs.enqueue(
            new_job(f"sms:reply:{sid}", SEND_SMS, payload, now=now, actor=actor), session=session
        )
    await _owe_crisis_effects(event, turn, now, deps, session)
    if turn.fact is not None:
        fact = FactLearned(
            occurred_at=now, correlation_id=corr, user_id=user, field=turn.fact.field, value=turn.fact.value
        )
        await _owe_event(deps, fact, f"fact:{sid}:{turn.fact.field}", user, now, session)
    if turn.opted_out is not None:
        change = OptOutChanged(occurred_at=now, correlation_id=corr, user_id=user, opted_out=turn.opted_out)
        await _owe_event(deps, change, f"optout:{sid}", user, now, session)
    if turn.request_assessment is not None:
        wanted = AssessmentRequested(
            occurred_at=now, correlation_id=corr, user_id=user, instrument=turn.request_assessment
        )
        await _owe_event(deps, wanted, f"assessment-request:{sid}", user, now, session)
    if turn.answer_assessment is not None:
        answer = AssessmentAnswered(
            occurred_at=now,
            correlation_id=corr,
            user_id=user,
            assessment_id=turn.answer_assessment,
            text=event.body,
        )
        await _owe_event(deps, answer, f"assessment-answer:{sid}", user, now, session)
    if turn.onboarding_done:
        done = OnboardingCompleted(occurred_at=now, correlation_id=corr, user_id=user)
        await _owe_event(deps, done, f"onboarding-done:{user}", user, now, session)
    if turn.request_checkout:
        request = CheckoutRequested(occurred_at=now, correlation_id=corr, user_id=user)
        await _owe_event(
            deps, request, f"checkout-request:{user}:{now.date().isoformat()}", user, now, session
        )


async def _owe_crisis_effects(
    event: SmsReceived, turn: Turn, now: datetime, deps: Deps, session: AsyncClientSession
) -> None:
    """The alert, the record of an answer, a page, the follow-ups and the event a crisis turn owes."""
    user, sid, corr = event.user_id, event.message_sid, event.correlation_id
    if turn.crisis is not None:
        alert = CrisisAlertJob(
            user_id=user,
            message_sid=sid,
            category=turn.crisis.category,
            tier=turn.crisis.tier,
            priority=turn.crisis.priority,
            language=turn.crisis.language,
            correlation_id=corr,
        )
        await deps.jobs.enqueue(
            new_job(turn.crisis.alert_id, CRISIS_ALERT, alert.to_payload(), now=now), session=session
        )
    if turn.alert_note is not None:
        note = turn.alert_note
        await deps.repo.note_on_alert(
            note.alert_id, user, note.field, note.answer, now, session, escalate=note.escalate
        )
    if turn.page is not None:
        alert_id, reason = turn.page
        page = CrisisPageJob(user_id=user, alert_id=alert_id, reason=reason, correlation_id=corr)
        job = new_job(f"crisis:page:{alert_id}:{reason}:{sid}", CRISIS_PAGE, page.to_payload(), now=now)
        await deps.jobs.enqueue(job, session=session)
    if turn.follow_ups is not None:
        plan = turn.follow_ups
        for step, after in enumerate(FOLLOW_UP_AFTER, start=1):
            follow = CrisisFollowUpJob(
                user_id=user,
                alert_id=plan.alert_id,
                step=step,
                crisis_at=now,
                language=plan.language,
            )
            key = f"crisis:follow_up:{plan.alert_id}:{step}"
            await deps.jobs.enqueue(
                new_job(key, CRISIS_FOLLOW_UP, follow.to_payload(), now=now, run_at=now + after),
                session=session,
            )
    category = turn.crisis_category or (turn.follow_ups.category if turn.follow_ups else None)
    if category is not None:
        tier = turn.crisis.tier if turn.crisis else "explicit"
        crisis = CrisisDetected(
            occurred_at=now, correlation_id=corr, user_id=user, message_sid=sid, category=category, tier=tier
        )
        await _owe_event(deps, crisis, f"crisis:{sid}", user, now, session)


async def on_entitlement_changed(event: EntitlementChanged, delivery: Delivery, deps: Deps) -> None:
    """Keep conversation's own projection of billing's entitlement (newest event wins)."""
    now = deps.clock.now()
    async with deps.uow.transaction(delivery.msg_id, now) as session:
        await deps.repo.project_entitlement(
            event.user_id, event.entitled, event.status, event.occurred_at, session
        )


async def on_checkout_link_ready(event: CheckoutLinkReady, delivery: Delivery, deps: Deps) -> None:
    """Text the caregiver their checkout link, unless they opted out meanwhile."""
    now = deps.clock.now()
    async with deps.uow.transaction(delivery.msg_id, now) as session:
        state = await deps.repo.find_state(event.user_id, session) or {}
        phone = state.get("phone")
        if state.get("opted_out") or not phone:
            return
        body = replies.checkout_message(event.url)
        await deps.repo.record_reply(event.user_id, body, now, session)
        payload = {"to": phone, "user_id": event.user_id, "body": body, "kind": "checkout"}
        payload["correlation_id"] = event.correlation_id
        await deps.jobs.enqueue(
            new_job(f"sms:checkout:{event.session_id}", SEND_SMS, payload, now=now, actor=event.user_id),
            session=session,
        )
    deps.wake_worker()


async def on_prompt_ready(event: PromptReady, delivery: Delivery, deps: Deps) -> None:
    """Send profile's question or result, and note whether an assessment is open."""
    await _send_profile_text(
        event.user_id,
        event.text,
        event.assessment_id,
        event.assessment_open,
        event.correlation_id,
        delivery,
        deps,
    )


async def on_checkin_due(event: CheckinDue, delivery: Delivery, deps: Deps) -> None:
    """The scheduler's check-in: its first question opens the assessment (never the day after a crisis)."""
    await _send_profile_text(
        event.user_id,
        event.text,
        event.assessment_id,
        True,
        event.correlation_id,
        delivery,
        deps,
        proactive=True,
    )


async def _send_profile_text(
    user: str,
    text: str,
    assessment_id: str,
    assessment_open: bool,
    correlation_id: str | None,
    delivery: Delivery,
    deps: Deps,
    *,
    proactive: bool = False,
) -> None:
    now = deps.clock.now()
    async with deps.uow.transaction(delivery.msg_id, now) as session:
        state = await deps.repo.find_state(user, session) or {}
        if state.get("opted_out") or not state.get("phone"):
            return  # an opted-out number gets nothing proactive
        if proactive and post_crisis(state, now) is not None:
            log.info("checkin.skipped", user=user, reason="post_crisis")
            return  # no questionnaire in the day after a crisis
        assessment = {"id": assessment_id, "since": now} if assessment_open else None
        await deps.repo.update_state(user, {"assessment": assessment}, session)
        await deps.repo.record_reply(user, text, now, session)
        payload = {"to": state["phone"], "user_id": user, "body": text, "kind": "profile"}
        payload["correlation_id"] = correlation_id
        job = new_job(f"sms:profile:{delivery.msg_id}", SEND_SMS, payload, now=now, actor=user)
        await deps.jobs.enqueue(job, session=session)
    deps.wake_worker()


async def send_follow_up(job: Job, deps: Deps) -> dict[str, Any]:
    """Ask, a day (then two) after a crisis, whether the caregiver reached 988 or someone they trust.

    Skipped when the caregiver has written since the crisis (they are talking to us, and an
    answer to the first question is writing too) and never sent to a number that opted out.
    """
    follow = CrisisFollowUpJob.of(job.payload)
    now = deps.clock.now()
    async with deps.uow.transaction(None, now) as session:
        state = await deps.repo.find_state(follow.user_id, session) or {}
        if state.get("opted_out") or not state.get("phone"):
            return {"skipped": "opted_out"}
        last_inbound = state.get("last_inbound_at")
        if last_inbound is not None and last_inbound > follow.crisis_at:
            return {"skipped": "written_since"}
        text = responses.follow_up("ask" if follow.step == 1 else "nudge", follow.language)
        pending = {"at": now, "alert_id": follow.alert_id, "step": follow.step, "language": follow.language}
        await deps.repo.update_state(follow.user_id, {"follow_up": pending}, session)
        await deps.repo.record_reply(follow.user_id, text, now, session)
        await deps.repo.note_follow_up_sent(follow.alert_id, follow.step, now, session)
        payload = {"to": state["phone"], "user_id": follow.user_id, "body": text, "kind": "crisis:follow_up"}
        payload["correlation_id"] = job.key
        sms = new_job(f"sms:follow_up:{follow.alert_id}:{follow.step}", SEND_SMS, payload, now=now)
        await deps.jobs.enqueue(sms, session=session)
    deps.wake_worker()
    return {"sent": follow.step}


async def on_sms_status(event: SmsStatusUpdated, delivery: Delivery, deps: Deps) -> None:
    """Move an outbound message's delivery status forward."""
    now = deps.clock.now()
    async with deps.uow.transaction(delivery.msg_id, now) as session:
        await deps.repo.apply_status(event.message_sid, event.status, event.error_code, now, session)


def _context(state: dict[str, Any], message: str, now: datetime) -> AgentContext:
    return AgentContext(
        message=message,
        recent=tuple(state.get("recent_messages") or ()),
        summary=state.get("summary") or "",
        first_name=(state.get("facts") or {}).get("first_name"),
        post_crisis=post_crisis(state, now),
    )


async def compose(job: Job, deps: Deps) -> str:
    """The reply text of a job; written once, then reused by every later attempt.

    The agent's text is stored in the job before anything is sent, so a retry after a failed
    send never asks the agent (and pays for it) again, and never sends different words.
    """
    fixed = job.payload.get("body")
    if fixed is not None:
        return str(fixed)
    body = job.progress.get("body")
    if body is None:
        state = await deps.repo.state(job.payload["user_id"]) or {}
        reply = await deps.agent.reply(_context(state, job.payload["compose"]["message"], deps.clock.now()))
        body = fit(normalise_for_gsm(reply.text), MAX_SEGMENTS)
        tool_calls = [{"name": c.name, "arguments": c.arguments} for c in reply.tool_calls]
        await deps.jobs.record_progress(job, body=body, agent=reply.agent, tool_calls=tool_calls)
    if not job.progress.get("in_history"):
        await deps.repo.record_reply_once(job.payload["user_id"], job.key, body, deps.clock.now())
        await deps.jobs.record_progress(job, in_history=True)
    if job.progress.get("tool_calls") and not job.progress.get("effects_done"):
        await _apply_tool_calls(job, deps)
        await deps.jobs.record_progress(job, effects_done=True)
    return str(body)


async def _apply_tool_calls(job: Job, deps: Deps) -> None:
    """Carry out what the agent asked for, as events owed in one transaction (once per job)."""
    user, now = job.payload["user_id"], deps.clock.now()
    corr = job.payload.get("correlation_id") or job.key
    async with deps.uow.transaction(None, now) as session:
        for call in job.progress["tool_calls"]:
            args = call.get("arguments") or {}
            if call["name"] == "record_profile_fact" and args.get("field") in onboarding.FIELDS:
                value = onboarding.parse(args["field"], str(args.get("value", "")))
                if value is None:
                    continue  # the model's reading did not validate: not a fact
                fact = FactLearned(
                    occurred_at=now, correlation_id=corr, user_id=user, field=args["field"], value=value
                )
                await deps.repo.update_state(user, {f"facts.{args['field']}": value}, session)
                await _owe_event(deps, fact, f"fact:{job.key}:{args['field']}", user, now, session)
            elif call["name"] == "start_assessment":
                instrument = "burnout" if args.get("instrument") == "burnout" else "checkin"
                request = AssessmentRequested(
                    occurred_at=now, correlation_id=corr, user_id=user, instrument=instrument
                )
                await _owe_event(deps, request, f"assessment-request:{job.key}", user, now, session)
    deps.wake_worker()


async def refresh_summary(job: Job, deps: Deps) -> dict[str, Any]:
    """Rewrite the running summary from the recent window (OpenAI when configured)."""
    user = job.payload["user_id"]
    state = await deps.repo.state(user) or {}
    summary = await deps.agent.summarise(_context(state, "", deps.clock.now()))
    await deps.repo.set_summary(user, summary, deps.clock.now())
    return {"chars": len(summary)}


async def send_sms(job: Job, deps: Deps) -> dict[str, Any]:
    """Send one outbound SMS exactly once, however many attempts it takes.

    A first attempt writes nothing around the send but its outcome. A later one may follow an
    attempt that sent and never learned it (a lost answer, a crash, a shutdown mid-call), so it
    asks the provider first for a message with this text to this number created since the job
    was first claimed, and takes one only if no other job's record holds it (atomically).
    """
    to, user = job.payload["to"], job.payload.get("user_id")
    body = await compose(job, deps)
    sid, status = job.progress.get("sid"), "sent"  # earlier releases recorded these two
    since = job.claimed_before or job.progress.get("send_started_at")
    if sid is None and since is not None:
        for found in await deps.sender.find_sent(to=to, body=body, since=since):
            if await deps.repo.adopt_sent(found.sid, user, job.key, found.status, deps.clock.now()):
                return {"sid": found.sid}
    if sid is None:
        sent = await deps.sender.send(to=to, body=body, idempotency_key=job.key)
        sid, status = sent.sid, sent.status
    await deps.repo.record_sent(sid, job.payload.get("user_id"), job.key, status, deps.clock.now())
    return {"sid": sid}
