"""JetStream plumbing shared by every service: streams, a publisher, and durable consumers.

Consumers are durable pull consumers with an explicit ack policy, one per partition of a
subject and ``max_ack_pending=1``: within a partition one message is in flight at a time,
in stream order, whichever replica fetched it. That is the actor rule: a caregiver always
hashes to the same partition, different caregivers spread across partitions.

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
from faststream import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsBroker, NatsMessage, PullSub
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import NotFoundError
from pydantic import BaseModel, ValidationError
from pymongo.errors import PyMongoError

from careline_contracts import subjects
from careline_contracts.base import Event
from careline_contracts.deadletter import DeadLetter
from careline_platform.logging import fingerprint, get_logger
from careline_platform.metrics import DEAD_LETTERS, HANDLER_SECONDS, MESSAGES
from careline_platform.mongo import AlreadyProcessed
from careline_platform.tasks import finish_or_cancel

log = get_logger(__name__)

DUPLICATE_WINDOW_S = 120.0
"""JetStream's de-duplication window; later duplicates are caught by each consumer's inbox."""


class PublishFailed(Exception):
    """The broker did not acknowledge the message: it is not durable, the caller must say so."""


async def declare_streams(
    js: JetStreamContext,
    streams: tuple[subjects.Stream, ...],
    duplicate_window_s: float = DUPLICATE_WINDOW_S,
    replicas: int = 1,
) -> None:
    """Create (or update) the streams a service owns, with the duplicate window set.

    ``replicas`` is the number of JetStream servers holding each stream (``STREAM_REPLICAS``):
    1 on a single server, 3 on the clustered deployment (a publish is acknowledged once a
    majority stored it). The consumers inherit it. Updating it on an existing stream makes the
    cluster add or drop copies in place.
    """
    for stream in streams:
        config = js_api.StreamConfig(
            name=stream.name,
            subjects=list(stream.subjects),
            storage=js_api.StorageType.FILE,
            retention=js_api.RetentionPolicy.LIMITS,
            duplicate_window=duplicate_window_s,
            max_age=14 * 24 * 3600.0,
            num_replicas=replicas,
        )
        try:
            await js.stream_info(stream.name)
            await js.update_stream(config)
        except NotFoundError:
            await js.add_stream(config)


async def wait_for_stream(js: JetStreamContext, name: str, timeout_s: float = 60.0) -> None:
    """Block until another service declared the stream we consume from."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await js.stream_info(name)
            return
        except NotFoundError:
            if time.monotonic() > deadline:
                raise
            log.info("stream.waiting", stream=name)
            await asyncio.sleep(0.5)


class Publisher:
    """Publishes events to JetStream with a ``Nats-Msg-Id`` and waits for the broker's ack."""

    def __init__(self, broker: NatsBroker, timeout_s: float = 2.0) -> None:
        self.broker = broker
        self.timeout_s = timeout_s

    async def publish_raw(
        self,
        subject: str,
        payload: bytes,
        msg_id: str,
        stream: str,
        headers: dict[str, str] | None = None,
    ) -> bool:
        """Publish bytes; returns True if JetStream saw it as a duplicate.

        Straight through the broker's nats-py JetStream context: FastStream's publish would only
        add an empty content-type and a random ``correlation_id`` header that no consumer reads,
        for about a third of the publish's CPU.
        """
        try:
            js: JetStreamContext = self.broker.connection.jetstream()
            ack = await js.publish(
                subject,
                payload,
                timeout=self.timeout_s,
                stream=stream,
                headers={"Nats-Msg-Id": msg_id, **(headers or {})},
            )
        except Exception as exc:  # timeouts, no responders, disconnects: all mean "not durable"
            raise PublishFailed(type(exc).__name__) from exc
        return bool(ack.duplicate)

    async def publish(
        self,
        event: Event,
        *,
        msg_id: str,
        key: str,
        stream: subjects.Stream,
    ) -> bool:
        """Publish an event about ``key`` (a user id) to its partitioned subject."""
        return await self.publish_raw(
            subjects.partitioned(event.subject, key),
            event.to_bytes(),
            msg_id,
            stream.name,
            headers={"Correlation-Id": event.correlation_id} if event.correlation_id else None,
        )


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


def _msg_id(msg: NatsMessage) -> str:
    headers = msg.raw_message.headers or {}
    if "Nats-Msg-Id" in headers:
        return headers["Nats-Msg-Id"]
    meta = msg.raw_message.metadata
    return f"{meta.stream}:{meta.sequence.stream}"


TRANSIENT_RETRIES = 4


async def _run_with_conflict_retries(handler: Handler, event: Any, delivery: Delivery) -> None:
    """Run the handler, re-running it at once when its transaction hit a write conflict.

    A handler is one transaction, so re-running it is safe; a short random pause lets the
    competing transaction finish. Anything else, or a conflict that persists, goes to the
    consumer's redelivery schedule.
    """
    for attempt in range(TRANSIENT_RETRIES + 1):
        try:
            await handler(event, delivery)
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


class ConsumerRunner:
    """Runs one message through validation, the handler, and the ack decision."""

    def __init__(self, spec: ConsumerSpec, publisher: Publisher) -> None:
        self.spec = spec
        self.publisher = publisher
        self.in_flight: set[asyncio.Task[None]] = set()
        self.stopping = False
        """Set by ``stop_consuming``: a message received from then on is handed back unstarted."""
        self.released = 0
        """Messages handed back unstarted since ``stopping`` was set."""

    async def submit(self, msg: NatsMessage) -> None:
        """Handle ``msg`` in a task of its own, so stopping the fetch loop does not cancel it.

        The fetch loop waits for the task (one message at a time per subscription, as before);
        when the loop is cancelled on shutdown, the handler goes on and ``finish_in_flight``
        waits for it.
        """
        if self.stopping:
            with contextlib.suppress(Exception):
                await msg.nack()
                self.released += 1
            return
        task = asyncio.create_task(self(msg))
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            # the fetch loop is being stopped: the handler goes on and ``finish_in_flight``
            # waits for it. Returning quietly keeps FastStream from logging the stop as a failed
            # message; the loop still ends cancelled (its task group re-raises the cancellation).
            return

    async def finish_in_flight(self, grace_s: float) -> tuple[int, int]:
        """Wait up to ``grace_s`` for the handlers in flight; cancel (and so nak) the rest.

        Returns (finished, released).
        """
        return await finish_or_cancel(self.in_flight, grace_s)

    async def __call__(self, msg: NatsMessage) -> None:
        spec = self.spec
        raw = msg.raw_message
        deliveries = raw.metadata.num_delivered
        msg_id = _msg_id(msg)
        started, started_wall = time.perf_counter(), time.time()
        bound = log.bind(
            subject=raw.subject, durable=spec.durable, msg=fingerprint(msg_id), delivery=deliveries
        )
        try:
            event = spec.model.model_validate_json(raw.data)
        except ValidationError as exc:
            await self._dead_letter(msg, msg_id, f"invalid payload: {exc.error_count()} errors")
            await msg.reject()
            MESSAGES.labels(spec.base_subject, "poison").inc()
            DEAD_LETTERS.labels("message").inc()
            bound.warning("message.poison", errors=exc.error_count())
            return
        delivery = Delivery(msg_id, raw.subject, deliveries, datetime.now(UTC))
        correlation_id = getattr(event, "correlation_id", None)
        if correlation_id:  # every log line of this turn, in any service, carries it
            with structlog.contextvars.bound_contextvars(correlation_id=correlation_id):
                await self._handle(msg, event, delivery, bound, started, started_wall)
        else:
            await self._handle(msg, event, delivery, bound, started, started_wall)

    async def _handle(
        self,
        msg: NatsMessage,
        event: Any,
        delivery: Delivery,
        bound: Any,
        started: float,
        started_wall: float,
    ) -> None:
        spec, msg_id, deliveries = self.spec, delivery.msg_id, delivery.deliveries
        heartbeat = asyncio.create_task(_keep_in_progress(msg, spec.ack_wait_s / 3))
        try:
            await _run_with_conflict_retries(spec.handler, event, delivery)
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
        except Exception as exc:  # the handler failed; decide between retry and dead letter
            if deliveries >= spec.max_deliver:
                await self._dead_letter(msg, msg_id, f"{type(exc).__name__} after {deliveries}")
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
            return
        finally:
            heartbeat.cancel()
        handled_ms = round((time.perf_counter() - started) * 1000, 1)  # before the ack releases the next
        await msg.ack()
        MESSAGES.labels(spec.base_subject, "handled").inc()
        HANDLER_SECONDS.labels(spec.durable).observe(handled_ms / 1000)
        bound.info("message.handled", ms=handled_ms, started=round(started_wall, 6))

    async def _dead_letter(self, msg: NatsMessage, msg_id: str, reason: str) -> None:
        raw = msg.raw_message
        letter = DeadLetter(
            service=self.spec.service,
            subject=raw.subject,
            msg_id=msg_id,
            reason=reason,
            deliveries=raw.metadata.num_delivered,
            payload=raw.data.decode(errors="replace"),
            dead_at=datetime.now(UTC),
        )
        await self.publisher.publish_raw(
            subjects.dead_letter_subject(self.spec.service, self.spec.base_subject),
            letter.model_dump_json().encode(),
            f"dead:{self.spec.durable}:{msg_id}",
            subjects.DEAD_LETTERS.name,
        )


async def ensure_consumers(js: JetStreamContext, spec: ConsumerSpec) -> list[tuple[str, str]]:
    """Create the durable consumers of a spec; returns (subject, durable) pairs."""
    pairs = (
        [(f"{spec.base_subject}.{p}", f"{spec.durable}-p{p}") for p in range(subjects.PARTITIONS)]
        if spec.partitioned
        else [(f"{spec.base_subject}.>", spec.durable)]
    )
    await wait_for_stream(js, spec.stream.name)
    for subject, durable in pairs:
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
    return pairs


def _subscriber_function(runner: ConsumerRunner) -> Callable[..., Awaitable[None]]:
    """FastStream's entry: the raw message goes to the runner, which owns every ack decision."""

    async def consume(body: Any, msg: NatsMessage) -> None:
        await runner.submit(msg)

    return consume


_RUNNERS: weakref.WeakKeyDictionary[NatsBroker, list[ConsumerRunner]] = weakref.WeakKeyDictionary()
"""The runners wired to each broker, so ``stop_consuming`` finds them whoever registered them."""


def register_consumer(
    broker: NatsBroker, spec: ConsumerSpec, publisher: Publisher, pairs: list[tuple[str, str]]
) -> ConsumerRunner:
    """Wire a spec's durable consumers to FastStream pull subscribers with manual acks."""
    runner = ConsumerRunner(spec, publisher)
    _RUNNERS.setdefault(broker, []).append(runner)
    consume = _subscriber_function(runner)
    for subject, durable in pairs:
        broker.subscriber(
            subject,
            stream=JStream(spec.stream.name, declare=False),
            durable=durable,
            pull_sub=PullSub(batch_size=1, timeout=5.0),
            config=ConsumerConfig(durable_name=durable),
            ack_policy=AckPolicy.MANUAL,
            title=durable,
        )(consume)
    return runner


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
    nak, a message it fetches meanwhile. So our runners first turn to "stopping": a message
    they receive from then on is naked unstarted, and their own handlers run in tasks of their
    own that the loop's cancellation does not reach. Handlers still running after ``grace_s``
    are cancelled and their messages naked, so the next replica takes them at once; their
    partitions keep their order because a naked message is the first one JetStream redelivers.
    A message the server hands over in the instant between a loop's stop and its unsubscribe
    waits out ``ack_wait`` instead (FastStream has no hook there).

    The broker's connection stays open (handlers still ack and publish); close it afterwards.
    """
    runners = _RUNNERS.get(broker, [])
    for runner in runners:
        runner.stopping = True
    drained, _stopped = await asyncio.gather(
        asyncio.gather(*(r.finish_in_flight(grace_s) for r in runners)),
        asyncio.gather(*(sub.stop() for sub in broker.subscribers)),
    )
    finished = sum(done for done, _late in drained)
    released = sum(late for _done, late in drained) + sum(r.released for r in runners)
    log.info("consumers.stopped", finished=finished, released=released)
    return ConsumersStopped(finished, released)
