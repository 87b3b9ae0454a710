"""Conversation's SMS jobs: compose and send one SMS exactly once, summarise, follow up a crisis.

A composed reply is given what ``remembering.Recall`` finds for it (earlier messages, catalogue
entries), and the agent's tool calls (a profile fact, a memory, an assessment) are carried out
once, after the reply is stored.

``sms.send`` is every outbound text's job (replies, check-ins, checkout links, follow-ups,
pages to the person on call, staff's messages), its payload always a ``SendSmsJob``. What an
attempt learns before sending (the agent's words, its tool calls) is kept in the job's
progress through the job engine, outside any transaction, so a retry never asks or pays twice.
A text to a number outside ``SMS_ALLOWED_REGIONS`` dies at once, before anything is composed or
asked of the provider (:class:`DestinationNotAllowed`).
"""

from __future__ import annotations

from typing import Any

from careline_contracts.conversation import AssessmentRequested, FactLearned
from careline_contracts.jobs import CrisisFollowUpJob, SendSmsJob, SummaryRefreshJob
from careline_conversation.domain import onboarding
from careline_conversation.handlers import Services, context, shaped
from careline_conversation.memory import facts as memory
from careline_conversation.repository import ConversationUow
from careline_conversation.safety import responses
from careline_platform import regions
from careline_platform.jobs import Job, LeaseLost, PermanentJobError


class DestinationNotAllowed(PermanentJobError):
    """The number is outside the regions outbound SMS may go to: no attempt can send it."""


async def send_sms(job: Job, uow: ConversationUow, services: Services) -> dict[str, Any]:
    """Send one outbound SMS exactly once, however many attempts it takes.

    A first attempt writes nothing around the send but its outcome. A later one may follow an
    attempt that sent and never learned it (a lost answer, a crash, a shutdown mid-call), so it
    asks the provider first for a message with this text to this number created since the job
    was first claimed, and takes one only if no other job's record holds it (atomically).
    """
    sms = SendSmsJob.of(job.payload)
    refuse_unless_allowed(sms.to, services.sms_regions)
    body = await compose(job, sms, uow, services)
    sid, status = job.progress.get("sid"), "sent"  # earlier releases recorded these two
    since = job.claimed_before or job.progress.get("send_started_at")
    if sid is None and since is not None:
        for found in await services.sender.find_sent(to=sms.to, body=body, since=since):
            if await services.sent.adopt_sent(found.sid, sms.user_id, job.key, found.status, uow.now):
                return {"sid": found.sid}
    if sid is None:
        # a last look just before the send: a job cancelled meanwhile (its caregiver erased)
        # lost its lease with its document, and the text never goes
        if not await services.progress.holds(job):
            raise LeaseLost(job.key)
        sent = await services.sender.send(to=sms.to, body=body, idempotency_key=job.key)
        sid, status = sent.sid, sent.status
    await services.sent.record_sent(sid, sms.user_id, job.key, status, uow.now)
    return {"sid": sid}


def refuse_unless_allowed(to: str, allowed: frozenset[str]) -> None:
    """Raise :class:`DestinationNotAllowed` (the job goes dead, never retried) unless ``to`` is
    in an allowed region. The reason names the region and area code, never the number."""
    destination = regions.classify(to)
    if not destination.allowed_by(allowed):
        raise DestinationNotAllowed(
            f"destination {destination.label} is not in SMS_ALLOWED_REGIONS "
            f"({','.join(sorted(allowed)) or 'none'}): not sent"
        )


async def compose(job: Job, sms: SendSmsJob, uow: ConversationUow, services: Services) -> str:
    """The reply text of a job; written once, then reused by every later attempt.

    The agent's text is stored in the job before anything is sent, so a retry after a failed
    send never asks the agent (and pays for it) again, and never sends different words.
    """
    if sms.body is not None:
        return sms.body
    if sms.compose is None:
        raise ValueError(f"{job.key}: an sms.send job needs a body or something to compose")
    body = job.progress.get("body")
    if body is None:
        reader = uow.read()
        state = await reader.state(sms.user_id) or {}
        asked = context(state, sms.compose.message, uow.now, message_id=job.key, then=sms.compose.then)
        asked = await services.recall.enrich(asked, reader, sms.user_id, sms.compose.message_sid)
        reply = await services.agent.reply(asked)
        body = shaped(reply.text, state, then=sms.compose.then)
        tool_calls = [{"name": c.name, "arguments": c.arguments} for c in reply.tool_calls]
        await services.progress.record_progress(job, body=body, agent=reply.agent, tool_calls=tool_calls)
    if not job.progress.get("in_history"):
        # one atomic update, no outbox: outside a transaction it never aborts on a concurrent
        # writer of the caregiver's state (a summary refresh), which would cost this send a retry
        await uow.single().record_reply_once(sms.user_id, job.key, body, uow.now)
        await services.progress.record_progress(job, in_history=True)
    if job.progress.get("tool_calls") and not job.progress.get("effects_done"):
        await apply_tool_calls(job, sms, uow)
        await services.progress.record_progress(job, effects_done=True)
    return str(body)


async def apply_tool_calls(job: Job, sms: SendSmsJob, uow: ConversationUow) -> None:
    """Carry out what the agent asked for, as events owed in one transaction (once per job)."""
    user, corr = sms.user_id, sms.correlation_id or job.key
    async with uow.begin() as tx:
        now = tx.now
        for call in job.progress["tool_calls"]:
            args = call.get("arguments") or {}
            if call["name"] == "record_profile_fact" and args.get("field") in onboarding.FIELDS:
                value = onboarding.parse(args["field"], str(args.get("value", "")))
                if value is None:
                    continue  # the model's reading did not validate: not a fact
                fact = FactLearned(
                    occurred_at=now, correlation_id=corr, user_id=user, field=args["field"], value=value
                )
                await tx.repo.update_state(user, {f"facts.{args['field']}": value})
                await tx.emit(fact, key=user, msg_id=f"fact:{job.key}:{args['field']}")
            elif call["name"] == "remember":
                state = await tx.repo.find_state(user) or {}
                learned = memory.remember(
                    state.get("memory"), [(str(args.get("field")), str(args.get("value", "")))], now
                )
                if learned:  # an unknown field, a bad length or a contact in the value: not stored
                    await tx.repo.update_state(user, learned)
            elif call["name"] == "start_assessment":
                instrument = "burnout" if args.get("instrument") == "burnout" else "checkin"
                request = AssessmentRequested(
                    occurred_at=now, correlation_id=corr, user_id=user, instrument=instrument
                )
                await tx.emit(request, key=user, msg_id=f"assessment-request:{job.key}")


async def refresh_summary(job: Job, uow: ConversationUow, services: Services) -> dict[str, Any]:
    """Rewrite the running summary from the recent window (OpenAI when configured)."""
    user = SummaryRefreshJob.of(job.payload).user_id
    state = await uow.read().state(user) or {}
    summary = await services.agent.summarise(context(state, "", uow.now))
    await uow.single().set_summary(user, summary, uow.now)  # one atomic update, as above
    return {"chars": len(summary)}


async def send_follow_up(job: Job, uow: ConversationUow) -> dict[str, Any]:
    """Ask, a day (then two) after a crisis, whether the caregiver reached 988 or someone they trust.

    Skipped when the caregiver has written since the crisis (they are talking to us, and an
    answer to the first question is writing too) and never sent to a number that opted out.
    """
    follow = CrisisFollowUpJob.of(job.payload)
    user = follow.user_id
    async with uow.begin() as tx:
        now = tx.now
        state = await tx.repo.find_state(user) or {}
        if state.get("opted_out") or not state.get("phone"):
            return {"skipped": "opted_out"}
        last_inbound = state.get("last_inbound_at")
        if last_inbound is not None and last_inbound > follow.crisis_at:
            return {"skipped": "written_since"}
        text = responses.follow_up("ask" if follow.step == 1 else "nudge", follow.language)
        pending = {"at": now, "alert_id": follow.alert_id, "step": follow.step, "language": follow.language}
        await tx.repo.update_state(user, {"follow_up": pending})
        await tx.repo.record_reply(user, text, now)
        await tx.repo.note_follow_up_sent(follow.alert_id, follow.step, now)
        sms = SendSmsJob(
            to=state["phone"], user_id=user, body=text, kind="crisis:follow_up", correlation_id=job.key
        )
        await tx.schedule(sms, key=f"sms:follow_up:{follow.alert_id}:{follow.step}")
    return {"sent": follow.step}
