"""Durable consumers on FastStream: typed subscribers on a router, one delivery-policy middleware.

A service's consumers are FastStream pull subscribers on its ``NatsRouter``; each subscriber
function takes the event's pydantic model, so FastStream decodes and validates the body and the
AsyncAPI document shows its schema. What happens around the handler is one middleware,
``DeliveryPolicy``, the same for every consumer: in-progress heartbeats, re-running a handler
whose transaction hit a write conflict, the ack decision (ack, ``nak(delay)`` on a growing
schedule, a dead letter after the last attempt or at once for a body that does not validate),
metrics and the one log line per message.

Consumers are durable pull consumers with an explicit ack policy, one per partition of a
subject and ``max_ack_pending=1``: within a partition one message is in flight at a time,
in stream order, whichever replica fetched it. That is the actor rule: a caregiver always
hashes to the same partition, different caregivers spread across partitions. FastStream's
subscriber cannot declare such a consumer exactly (nor update one whose settings changed), so
``ensure_consumers`` does, and the subscriber binds to it by durable name.

On shutdown (``stop_consuming``) a replica stops fetching, hands back (naks) what it fetched
but did not start, lets the handlers in flight finish, and naks those that outlast the grace
period, so another replica gets each message at once instead of after ``ack_wait``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from faststream import AckPolicy, BaseMiddleware
from faststream.nats import ConsumerConfig, NatsBroker, NatsMessage, NatsRouter, PullSub
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js import api as js_api
from pydantic import BaseModel, ValidationError
from pymongo.errors import PyMongoError

from careline_contracts import subjects
from careline_contracts.deadletter import REDRIVE_DURABLE, REDRIVE_FOR, REDRIVE_OF, DeadLetter
from careline_platform.logging import fingerprint, get_logger
from careline_platform.metrics import DEAD_LETTERS, HANDLER_SECONDS, MESSAGES
from careline_platform.mongo import AlreadyProcessed
from careline_platform.publishing import (
    DUPLICATE_WINDOW_S,
    Publisher,
    PublishFailed,
    declare_streams,
    jstream,
    wait_for_stream,
)
from careline_platform.tasks import finish_or_cancel

__all__ = [
    "DUPLICATE_WINDOW_S",
    "ConsumerPolicy",
    "ConsumerSpec",
    "ConsumersStopped",
    "Delivery",
    "DeliveryPolicy",
    "PublishFailed",
    "Publisher",
    "declare_streams",
    "ensure_consumers",
    "register_consumer",
    "stop_consuming",
    "subscribe",
    "wait_for_stream",
]

log = get_logger(__name__)
TRANSIENT_RETRIES = 4
PULL_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Delivery:
    """What a handler learns about the message besides its payload."""

    msg_id: str
    subject: str
    deliveries: int
    received_at: datetime


Handler = Callable[[Any, Delivery], Awaitable[None]]


@dataclass(frozen=True)
class ConsumerSpec:
    """One durable consumer: which stream and subject, which model, which handler."""

    service: str
    stream: subjects.Stream
    base_subject: str
    durable: str
    model: type[BaseModel]
    handler: Handler
    partitioned: bool = True
    max_deliver: int = 8
    ack_wait_s: float = 10.0
    """Short, so a message whose ack was lost (broker restart) is redelivered soon; a handler
    that runs longer keeps its message by sending "in progress" every third of it."""
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 30.0

    def redelivery_delay(self, deliveries: int) -> float:
        return float(min(self.backoff_cap_s, self.backoff_base_s * 2 ** (deliveries - 1)))

    def consumers(self) -> list[tuple[str, str]]:
        """(filter subject, durable name) of each JetStream consumer: one per partition."""
        if not self.partitioned:
            return [(f"{self.base_subject}.>", self.durable)]
        return [(f"{self.base_subject}.{p}", f"{self.durable}-p{p}") for p in range(subjects.PARTITIONS)]


def message_id(raw: Msg) -> str:
    """The message's id for idempotency: a re-drive's original id (``careline_platform.
    deadletters``), else the publisher's ``Nats-Msg-Id``, else its place in its stream."""
    headers = raw.headers or {}
    if REDRIVE_OF in headers:
        return headers[REDRIVE_OF]
    return published_id(raw)


def published_id(raw: Msg) -> str:
    """The publisher's ``Nats-Msg-Id`` (a re-drive's own, new one), else the stream position."""
    headers = raw.headers or {}
    if "Nats-Msg-Id" in headers:
        return headers["Nats-Msg-Id"]
    meta = raw.metadata
    return f"{meta.stream}:{meta.sequence.stream}"


def redriven_for_another(raw: Msg, spec: ConsumerSpec) -> bool:
    """A re-drive is for the one consumer that dead-lettered the message; every other consumer
    of the subject (another service's, or another of this service's) leaves it alone."""
    headers = raw.headers or {}
    if REDRIVE_FOR not in headers:
        return False
    durable = headers.get(REDRIVE_DURABLE)
    return headers[REDRIVE_FOR] != spec.service or (durable is not None and durable != spec.durable)


def delivery_of(message: NatsMessage) -> Delivery:
    raw = message.raw_message
    return Delivery(message_id(raw), raw.subject, raw.metadata.num_delivered, datetime.now(UTC))


async def ensure_consumers(js: JetStreamContext, spec: ConsumerSpec) -> list[tuple[str, str]]:
    """Create or update the durable pull consumers of a spec; returns (subject, durable) pairs.

    The one place our consumers are declared: FastStream's subscriber creates a missing consumer
    but never updates an existing one, so a changed ``ack_wait`` or delivery cap would not reach
    the server. ``max_ack_pending=1`` on a partition is the actor rule; a consumer that is not
    partitioned (batches that span caregivers) may have 64 in flight.
    """
    await wait_for_stream(js, spec.stream.name)
    for subject, durable in spec.consumers():
        config = js_api.ConsumerConfig(
            durable_name=durable,
            name=durable,
            filter_subject=subject,
            ack_policy=js_api.AckPolicy.EXPLICIT,
            ack_wait=spec.ack_wait_s,
            max_deliver=spec.max_deliver + 1,
            max_ack_pending=1 if spec.partitioned else 64,
            deliver_policy=js_api.DeliverPolicy.ALL,
        )
        await js.add_consumer(spec.stream.name, config=config)
    return spec.consumers()


async def run_with_conflict_retries(handler: Callable[[], Awaitable[Any]]) -> None:
    """Run the handler, re-running it at once when its transaction hit a write conflict.

    A handler is one transaction, so re-running it is safe; a short random pause lets the
    competing transaction finish. Anything else, or a conflict that persists, goes to the
    consumer's redelivery schedule.
    """
    for attempt in range(TRANSIENT_RETRIES + 1):
        try:
            await handler()
            return
        except PyMongoError as exc:
            if attempt == TRANSIENT_RETRIES or not exc.has_error_label("TransientTransactionError"):
                raise
            await asyncio.sleep(random.uniform(0.02, 0.1) * (attempt + 1))


async def _keep_in_progress(msg: NatsMessage, every_s: float) -> None:
    """Tell JetStream the message is still being worked on, so it is not redelivered meanwhile."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await msg.in_progress()
        except Exception as exc:  # the connection is away; the ack decides in the end
            log.warning("message.in_progress_failed", error=type(exc).__name__)


def _is_poison(spec: ConsumerSpec, data: bytes) -> bool:
    """Whether the body itself fails the model (not something the handler validated)."""
    try:
        spec.model.model_validate_json(data)
    except ValidationError:
        return True
    return False


class ConsumerPolicy:
    """The delivery policy of one service's consumers, and FastStream's factory of its middleware.

    Passed as a router middleware: FastStream calls it once per message and gets a
    ``DeliveryPolicy``. It knows each consumer's spec by durable name, holds the handlers in
    flight (each in a task of its own, so stopping a fetch loop does not cancel it) and, once
    ``stopping``, hands back every message it receives unstarted.
    """

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self.specs: dict[str, ConsumerSpec] = {}
        self.in_flight: set[asyncio.Task[None]] = set()
        self.stopping = False
        self.released = 0
        """Messages handed back unstarted since ``stopping`` was set."""

    def __call__(self, msg: Any, /, *, context: Any) -> DeliveryPolicy:
        return DeliveryPolicy(msg, context=context, policy=self)

    def add(self, spec: ConsumerSpec) -> None:
        for _subject, durable in spec.consumers():
            self.specs[durable] = spec

    def spec_of(self, raw: Msg) -> ConsumerSpec | None:
        """The spec of a JetStream message's consumer; None for plain NATS (an admin request)."""
        if not (raw.reply or "").startswith("$JS.ACK."):
            return None
        return self.specs.get(raw.metadata.consumer)

    async def finish_in_flight(self, grace_s: float) -> tuple[int, int]:
        """Wait up to ``grace_s`` for the handlers in flight; cancel (and so nak) the rest."""
        return await finish_or_cancel(self.in_flight, grace_s)

    async def run(
        self, spec: ConsumerSpec, call_next: Callable[[], Awaitable[Any]], msg: NatsMessage
    ) -> None:
        """One message through the handler and the ack decision, bound to its correlation id."""
        raw = msg.raw_message
        correlation_id = (raw.headers or {}).get("Correlation-Id")
        context = (
            structlog.contextvars.bound_contextvars(correlation_id=correlation_id)
            if correlation_id  # every log line of this turn, in any service, carries it
            else contextlib.nullcontext()
        )
        with context:
            await self._decide(spec, call_next, msg)

    async def _decide(
        self, spec: ConsumerSpec, call_next: Callable[[], Awaitable[Any]], msg: NatsMessage
    ) -> None:
        raw = msg.raw_message
        deliveries, msg_id = raw.metadata.num_delivered, message_id(raw)
        started, started_wall = time.perf_counter(), time.time()
        bound = log.bind(
            subject=raw.subject, durable=spec.durable, msg=fingerprint(msg_id), delivery=deliveries
        )
        if redriven_for_another(raw, spec):
            await msg.ack()
            MESSAGES.labels(spec.base_subject, "redrive_skipped").inc()
            bound.info("message.redrive_skipped")
            return
        heartbeat = asyncio.create_task(_keep_in_progress(msg, spec.ack_wait_s / 3))
        try:
            await run_with_conflict_retries(call_next)
        except asyncio.CancelledError:
            # shutdown outlasted the grace period: its transaction did not commit (or it did,
            # and the redelivery finds it processed); give the message back for another replica
            with contextlib.suppress(Exception):
                await msg.nack()
            MESSAGES.labels(spec.base_subject, "released").inc()
            bound.warning("message.released")
            raise
        except AlreadyProcessed:
            await msg.ack()
            MESSAGES.labels(spec.base_subject, "duplicate").inc()
            bound.info("message.duplicate")
            return
        except Exception as exc:  # the body is not the model, or the handler failed
            await self._failed(spec, msg, exc, bound)
            return
        finally:
            heartbeat.cancel()
        handled_ms = round((time.perf_counter() - started) * 1000, 1)  # before the ack releases the next
        await msg.ack()
        MESSAGES.labels(spec.base_subject, "handled").inc()
        HANDLER_SECONDS.labels(spec.durable).observe(handled_ms / 1000)
        bound.info("message.handled", ms=handled_ms, started=round(started_wall, 6))

    async def _failed(self, spec: ConsumerSpec, msg: NatsMessage, exc: Exception, bound: Any) -> None:
        """Dead-letter a poison body at once; else retry later, or dead-letter the last attempt."""
        raw = msg.raw_message
        deliveries = raw.metadata.num_delivered
        if isinstance(exc, ValidationError) and _is_poison(spec, raw.data):
            await self._dead_letter(spec, msg, f"invalid payload: {exc.error_count()} errors")
            await msg.reject()
            MESSAGES.labels(spec.base_subject, "poison").inc()
            DEAD_LETTERS.labels("message").inc()
            bound.warning("message.poison", errors=exc.error_count())
        elif deliveries >= spec.max_deliver:
            await self._dead_letter(spec, msg, f"{type(exc).__name__} after {deliveries}")
            await msg.reject()
            MESSAGES.labels(spec.base_subject, "dead").inc()
            DEAD_LETTERS.labels("message").inc()
            bound.error("message.dead", error=type(exc).__name__)
        else:
            delay = spec.redelivery_delay(deliveries)
            await msg.nack(delay=delay)
            MESSAGES.labels(spec.base_subject, "retry").inc()
            bound.warning(
                "message.retry", error=type(exc).__name__, code=getattr(exc, "code", None), delay_s=delay
            )

    async def _dead_letter(self, spec: ConsumerSpec, msg: NatsMessage, reason: str) -> None:
        raw = msg.raw_message
        msg_id = message_id(raw)
        letter = DeadLetter(
            service=spec.service,
            subject=raw.subject,
            msg_id=msg_id,
            reason=reason,
            deliveries=raw.metadata.num_delivered,
            payload=raw.data.decode(errors="replace"),
            dead_at=datetime.now(UTC),
            durable=spec.durable,
        )
        await self.publisher.publish_raw(
            subjects.dead_letter_subject(spec.service, spec.base_subject),
            letter.model_dump_json().encode(),
            # the publisher's own id: a re-drive that dies again gets a letter of its own
            f"dead:{spec.durable}:{published_id(raw)}",
            subjects.DEAD_LETTERS.name,
        )


class DeliveryPolicy(BaseMiddleware):
    """FastStream middleware: runs a consumer's message under its ``ConsumerPolicy``.

    ``call_next`` decodes the body into the subscriber's model and calls the handler; the policy
    decides the ack. The handler runs in a task of its own: when FastStream cancels its fetch
    loop at shutdown, the handler goes on and ``stop_consuming`` waits for it. Plain NATS
    messages (admin requests on the same router) pass straight through.
    """

    def __init__(self, msg: Any, /, *, context: Any, policy: ConsumerPolicy) -> None:
        super().__init__(msg, context=context)
        self.policy = policy

    async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: Any) -> Any:
        policy = self.policy
        spec = policy.spec_of(msg.raw_message)
        if spec is None:
            return await call_next(msg)
        if policy.stopping:  # fetched after the replica began to stop: hand it back unstarted
            with contextlib.suppress(Exception):
                await msg.nack()
                policy.released += 1
            return None
        task = asyncio.create_task(policy.run(spec, lambda: call_next(msg), msg))
        policy.in_flight.add(task)
        task.add_done_callback(policy.in_flight.discard)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            # the fetch loop is being stopped (the handler goes on, ``stop_consuming`` waits for
            # it), or the handler outlasted the grace and was naked. Returning quietly keeps
            # FastStream from logging the stop as a failed message.
            return None
        return None


_POLICIES: weakref.WeakKeyDictionary[Any, ConsumerPolicy] = weakref.WeakKeyDictionary()
"""Each subscriber's policy, so ``stop_consuming`` finds them from the broker's subscribers."""


def subscribe(
    router: NatsRouter | NatsBroker, policy: ConsumerPolicy, spec: ConsumerSpec, inbox_prefix: str = "_INBOX"
) -> None:
    """Add a spec's typed pull subscribers (one per partition) to a service's router.

    The subscriber function takes ``spec.model``: FastStream decodes and validates the body (and
    documents its schema); acks are manual, decided by the ``DeliveryPolicy`` middleware that
    ``policy`` builds, which must be among the router's middlewares. Fetched messages come to
    ``inbox_prefix`` (the service's own, ``nats_auth.inbox_of``): FastStream does not take the
    connection's.
    """
    policy.add(spec)
    handle = _typed(spec)
    stream = jstream(spec.stream)
    for subject, durable in spec.consumers():
        subscriber = router.subscriber(
            subject,
            stream=stream,
            durable=durable,
            pull_sub=PullSub(batch_size=1, timeout=PULL_TIMEOUT_S),
            config=ConsumerConfig(durable_name=durable),
            ack_policy=AckPolicy.MANUAL,
            inbox_prefix=f"{inbox_prefix}.".encode(),
            title=durable,
            description=f"{spec.service}: {spec.model.__name__}, up to {spec.max_deliver} deliveries, "
            f"then deadletter.{spec.service}.{spec.base_subject}",
        )
        subscriber(handle)
        _POLICIES[subscriber] = policy


def _typed(spec: ConsumerSpec) -> Callable[..., Awaitable[None]]:
    """The subscriber function of a spec: its model's body in, the handler called."""

    async def consume(event: BaseModel, message: NatsMessage) -> None:
        correlation_id = getattr(event, "correlation_id", None)
        if correlation_id:
            with structlog.contextvars.bound_contextvars(correlation_id=correlation_id):
                await spec.handler(event, delivery_of(message))
        else:
            await spec.handler(event, delivery_of(message))

    consume.__annotations__ = {**consume.__annotations__, "event": spec.model}
    consume.__name__ = consume.__qualname__ = f"on_{spec.model.__name__}"
    return consume


def register_consumer(
    broker: NatsBroker, spec: ConsumerSpec, publisher: Publisher, pairs: list[tuple[str, str]] | None = None
) -> ConsumerPolicy:
    """Wire one spec onto a broker through a router of its own (outside a service runtime).

    ``pairs`` (from ``ensure_consumers``) is accepted for callers that pass it; the spec knows them.
    """
    policy = ConsumerPolicy(publisher)
    router = NatsRouter(middlewares=[policy])
    subscribe(router, policy, spec)
    broker.include_router(router)
    return policy


@dataclass(frozen=True)
class ConsumersStopped:
    """What a replica did with its messages when it stopped consuming."""

    finished: int
    """Handlers that were running and completed (acked, retried or dead-lettered as usual)."""
    released: int
    """Messages handed back with a nak: fetched but not started, or cancelled after the grace."""


async def stop_consuming(broker: NatsBroker, grace_s: float) -> ConsumersStopped:
    """Stop fetching, hand back what was fetched but not started, and let handlers finish.

    The one place that says how a replica stops consuming, with public API only. FastStream's
    ``subscriber.stop()`` stops the fetch loop, waits for the handlers it sees in flight (up to
    the broker's ``graceful_timeout``), unsubscribes and cancels the loop; it drops, without a
    nak, a message it fetches meanwhile. So the policies first turn to "stopping": a message
    they receive from then on is naked unstarted, and their handlers run in tasks of their own
    that the loop's cancellation does not reach. Handlers still running after ``grace_s`` are
    cancelled and their messages naked, so the next replica takes them at once; their
    partitions keep their order because a naked message is the first one JetStream redelivers.
    A message the server hands over in the instant between a loop's stop and its unsubscribe
    waits out ``ack_wait`` instead (FastStream has no hook there).

    The broker's connection stays open (handlers still ack and publish); close it afterwards.
    """
    subscribers = list(broker.subscribers)
    policies = list({id(p): p for sub in subscribers if (p := _POLICIES.get(sub)) is not None}.values())
    for policy in policies:
        policy.stopping = True
    drained, _stopped = await asyncio.gather(
        asyncio.gather(*(p.finish_in_flight(grace_s) for p in policies)),
        asyncio.gather(*(sub.stop() for sub in subscribers)),
    )
    finished = sum(done for done, _late in drained)
    released = sum(late for _done, late in drained) + sum(p.released for p in policies)
    log.info("consumers.stopped", finished=finished, released=released)
    return ConsumersStopped(finished, released)
