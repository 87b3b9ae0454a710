"""What ingress does with a verified webhook: look up the sender, make the events durable.

Each handler returns only once every event it publishes is durable: acknowledged by
JetStream, or written to ingress's local spool (``careline_ingress.durable``; the publisher
raises ``SpoolUnavailable`` when neither took it), which is what lets the HTTP edge answer 200.
A sender the identity database cannot look up in time is held whole in the spool, and looked
up when it drains (``on_held_sms``).
The decisions (ids, keys, refusals) are in :mod:`careline_ingress.domain.webhooks`; these
functions only do the I/O around them, and know nothing of HTTP or FastStream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from datetime import datetime
from typing import Any, Protocol

from pymongo.errors import PyMongoError

from careline_contracts import subjects
from careline_contracts.base import Event
from careline_ingress.domain import webhooks
from careline_ingress.domain.webhooks import HeldSms, InboundSms, Publication
from careline_platform.clock import Clock
from careline_platform.logging import get_logger
from careline_platform.tasks import finish_or_cancel

log = get_logger(__name__)
Document = dict[str, Any]


class EventPublisher(Protocol):
    """Publishes an event and returns once JetStream acknowledged it (True: a duplicate)."""

    async def publish(self, event: Event, *, msg_id: str, key: str, stream: subjects.Stream) -> bool: ...


class DurablePublisher(EventPublisher, Protocol):
    """The webhooks' publisher: JetStream, or the spool; and a text held until its sender is known."""

    async def hold_sms(self, held: HeldSms) -> None: ...


class Identities(Protocol):
    """The part of the ``users`` repository the webhooks use."""

    async def find_or_create(self, phone: str, now: datetime) -> tuple[Document, bool]: ...

    async def mark_registered_published(self, user_id: str) -> None: ...


class Background:
    """Writes taken off a webhook's path, waited for (within the grace) at shutdown."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()

    def run(self, work: Coroutine[Any, Any, None], what: str) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self.tasks.discard(finished)
            if not finished.cancelled() and finished.exception() is not None:
                log.warning(what, error=type(finished.exception()).__name__)

        task.add_done_callback(done)

    async def finish(self, grace_s: float | None) -> tuple[int, int]:
        """Wait up to ``grace_s`` for the writes in flight; cancel the rest. (finished, cancelled)"""
        return await finish_or_cancel(self.tasks, grace_s)


async def publish(publisher: EventPublisher, publication: Publication) -> None:
    await publisher.publish(
        publication.event, msg_id=publication.msg_id, key=publication.key, stream=publication.stream
    )


async def on_sms(
    params: Mapping[str, str],
    correlation_id: str,
    *,
    users: Identities,
    publisher: DurablePublisher,
    clock: Clock,
    background: Background,
    identity_timeout_s: float,
) -> None:
    """A caregiver's text: their identity (created on the first text), then the message.

    A new caregiver's ``user.registered`` goes out before their first message, so every
    consumer knows the user before hearing from them. Remembering that it went out is taken
    off the webhook's path: should that write be lost, the caller's next message publishes
    the event again, and JetStream and every consumer de-duplicate it. When the identity
    database does not answer within ``identity_timeout_s``, the verified text is held in the
    spool and its sender looked up when it drains.
    """
    sms = webhooks.inbound_sms(params)
    now = clock.now()
    try:
        user, _created = await asyncio.wait_for(users.find_or_create(sms.phone, now), identity_timeout_s)
    except (TimeoutError, PyMongoError) as exc:
        log.warning("identity.unavailable", error=type(exc).__name__)
        await publisher.hold_sms(HeldSms(dict(params), correlation_id, now))
        return
    await publish_text(
        sms, user, params, now, correlation_id, publisher=publisher, users=users, background=background
    )


async def on_held_sms(
    held: HeldSms, *, users: Identities, publisher: EventPublisher, background: Background
) -> None:
    """A text held in the spool: its sender looked up now, its events as the webhook would have made
    them (same ids, the time it arrived). Raises while MongoDB or JetStream is away: it stays held."""
    sms = webhooks.inbound_sms(held.params)
    user, _created = await users.find_or_create(sms.phone, held.received_at)
    await publish_text(
        sms,
        user,
        held.params,
        held.received_at,
        held.correlation_id,
        publisher=publisher,
        users=users,
        background=background,
    )


async def publish_text(
    sms: InboundSms,
    user: Document,
    params: Mapping[str, str],
    now: datetime,
    correlation_id: str,
    *,
    publisher: EventPublisher,
    users: Identities,
    background: Background,
) -> None:
    """The caregiver's registration (until it is known to be out), then their text."""
    if webhooks.needs_registration(user):
        await publish(publisher, webhooks.user_registered(user["_id"], sms.phone, now, correlation_id))
        background.run(users.mark_registered_published(user["_id"]), "user.registered_note_failed")
    await publish(publisher, webhooks.sms_received(sms, user["_id"], params, now, correlation_id))


async def on_status(
    params: Mapping[str, str], correlation_id: str, *, publisher: EventPublisher, clock: Clock
) -> None:
    """Twilio's delivery status callback for one outbound message."""
    await publish(publisher, webhooks.status_updated(params, clock.now(), correlation_id))


async def on_stripe(raw: bytes, correlation_id: str, *, publisher: EventPublisher, clock: Clock) -> None:
    """A Stripe event, passed on whole for billing to interpret."""
    await publish(publisher, webhooks.stripe_received(raw, clock.now(), correlation_id))
