"""Conversation's message and job handlers: plain functions over their dependencies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from careline_contracts.ingress import SmsReceived, SmsStatusUpdated
from careline_conversation import replies
from careline_conversation.integrations.sms import SmsSender
from careline_conversation.repository import ConversationRepository
from careline_platform.clock import Clock
from careline_platform.jobs import Job, JobStore, new_job
from careline_platform.messaging import Delivery
from careline_platform.mongo import UnitOfWork

SEND_SMS = "sms.send"


@dataclass
class Deps:
    uow: UnitOfWork
    repo: ConversationRepository
    jobs: JobStore
    clock: Clock
    sender: SmsSender
    wake_worker: Callable[[], None]


async def on_sms_received(event: SmsReceived, delivery: Delivery, deps: Deps) -> None:
    """Record the caregiver's message and owe them exactly one reply (as a job)."""
    now = deps.clock.now()
    async with deps.uow.transaction(delivery.msg_id, now) as session:
        before = await deps.repo.record_inbound(event.user_id, event.body, event.message_sid, now, session)
        text = replies.WELCOME if before is None else replies.rules_reply(event.body)
        await deps.repo.record_reply(event.user_id, text, now, session)
        await deps.jobs.enqueue(
            new_job(
                f"sms:reply:{event.message_sid}",
                SEND_SMS,
                {
                    "to": event.phone,
                    "body": text,
                    "user_id": event.user_id,
                    "correlation_id": event.correlation_id,
                },
                now=now,
                actor=event.user_id,
            ),
            session=session,
        )
    deps.wake_worker()


async def on_sms_status(event: SmsStatusUpdated, delivery: Delivery, deps: Deps) -> None:
    """Move an outbound message's delivery status forward."""
    now = deps.clock.now()
    async with deps.uow.transaction(delivery.msg_id, now) as session:
        await deps.repo.apply_status(event.message_sid, event.status, event.error_code, now, session)


async def send_sms(job: Job, deps: Deps) -> dict[str, Any]:
    """Send one outbound SMS; an attempt that already got a provider id does not send again."""
    to, body = job.payload["to"], job.payload["body"]
    sid, status = job.progress.get("sid"), "sent"
    started = job.progress.get("send_started_at")
    if sid is None and started is not None:
        # An earlier attempt began sending and never learned the outcome: ask before resending.
        found = await deps.sender.find_sent(to=to, body=body, since=started)
        if found is not None:
            sid, status = found.sid, found.status
            await deps.jobs.record_progress(job, sid=sid)
    if sid is None:
        await deps.jobs.record_progress(job, send_started_at=deps.clock.now())
        sent = await deps.sender.send(to=to, body=body, idempotency_key=job.key)
        await deps.jobs.record_progress(job, sid=sent.sid)
        sid, status = sent.sid, sent.status
    await deps.repo.record_sent(sid, job.payload.get("user_id"), job.key, status, deps.clock.now())
    return {"sid": sid}
