"""The outbox relay: how a service publishes its own events.

A handler never publishes after its database write (a crash between the two would lose the
event or, retried, publish it twice under a new id). It writes an ``outbox.publish`` job in
the same transaction as the state change instead; the job worker publishes it later with the
event's deterministic ``Nats-Msg-Id``. A relay that crashes after the broker's ack and before
completing the job publishes again on its next attempt, and JetStream's duplicate window
drops the copy; consumers' processed-message records catch anything later.

Events about one key (a caregiver) share a job actor, so they leave in the order they were
written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from careline_contracts import subjects
from careline_contracts.base import Event
from careline_platform.jobs import Job, JobStore, JobType, LeaseLost, RetryPolicy, new_job
from careline_platform.messaging import Publisher

Document = dict[str, Any]
OUTBOX_PUBLISH = "outbox.publish"

RELAY_POLICY = RetryPolicy(max_attempts=25, base_s=1.0, cap_s=60.0)
"""A broker outage of about twenty minutes is ridden out before an event is dead-lettered."""


def outbox_job(event: Event, *, msg_id: str, key: str, stream: subjects.Stream, now: datetime) -> Document:
    """The job that will publish ``event`` about ``key``; insert it in the state change's transaction.

    ``msg_id`` must name the fact, not the attempt (for example ``entitlement:<user>:<cause>``):
    the same fact written twice must carry the same id.
    """
    return new_job(
        f"event:{msg_id}",
        OUTBOX_PUBLISH,
        {
            "subject": subjects.partitioned(event.subject, key),
            "stream": stream.name,
            "msg_id": msg_id,
            "data": event.to_bytes().decode(),
            "correlation_id": event.correlation_id,
        },
        now=now,
        actor=f"events:{key}",
    )


def relay_job_type(publisher: Publisher, store: JobStore | None = None) -> JobType:
    """The job type that publishes outbox entries; every service's worker runs it.

    With ``store``, the relay looks at its claim last thing before publishing: an event about a
    caregiver erased while the job ran (the erasure deleted the job) is never published.
    """

    async def publish(job: Job) -> dict[str, Any]:
        if store is not None and not await store.holds(job):
            raise LeaseLost(job.key)
        payload = job.payload
        correlation_id = payload.get("correlation_id")
        duplicate = await publisher.publish_raw(
            payload["subject"],
            payload["data"].encode(),
            payload["msg_id"],
            payload["stream"],
            headers={"Correlation-Id": correlation_id} if correlation_id else None,
        )
        return {"duplicate": duplicate}

    return JobType(publish, RELAY_POLICY)
