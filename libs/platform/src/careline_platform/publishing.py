"""Publishing to JetStream and declaring the streams a service owns.

Every publish carries a ``Nats-Msg-Id`` and waits for the broker's ack: an event is durable
only once JetStream stored it, and a repeated id within the duplicate window is dropped by the
server. Streams are described as FastStream ``JStream`` objects (the same ones the subscribers
name in the AsyncAPI document) and declared by ``declare_streams``, create-or-update.
"""

from __future__ import annotations

import asyncio
import time

from faststream.nats import JStream, NatsBroker
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import NotFoundError

from careline_contracts import subjects
from careline_contracts.base import Event
from careline_platform.logging import get_logger

log = get_logger(__name__)

DUPLICATE_WINDOW_S = 120.0
"""JetStream's de-duplication window; later duplicates are caught by each consumer's inbox."""
RETENTION_S = 14 * 24 * 3600.0


def jstream(
    stream: subjects.Stream, duplicate_window_s: float = DUPLICATE_WINDOW_S, replicas: int = 1
) -> JStream:
    """FastStream's description of one of our streams: file storage, limits retention, 14 days.

    ``declare=False``: FastStream would declare it in ``broker.start()``, once and without
    retrying, after the consumers that need it; ``declare_streams`` does it at start-up instead.
    """
    return JStream(
        stream.name,
        subjects=list(stream.subjects),
        storage=js_api.StorageType.FILE,
        retention=js_api.RetentionPolicy.LIMITS,
        duplicate_window=duplicate_window_s,
        max_age=RETENTION_S,
        num_replicas=replicas,
        declare=False,
    )


async def declare_streams(
    js: JetStreamContext,
    streams: tuple[subjects.Stream, ...],
    duplicate_window_s: float = DUPLICATE_WINDOW_S,
    replicas: int = 1,
) -> None:
    """Create (or update) the streams a service owns, with the duplicate window set.

    The configuration is FastStream's ``JStream.config`` (see ``jstream``); applying it is ours
    because FastStream only creates a stream when its broker starts, and updates it only on a
    subject clash, not when the replica count or the window changed.

    ``replicas`` is the number of JetStream servers holding each stream (``STREAM_REPLICAS``):
    1 on a single server, 3 on the clustered deployment (a publish is acknowledged once a
    majority stored it). The consumers inherit it. Updating it on an existing stream makes the
    cluster add or drop copies in place.
    """
    for stream in streams:
        config = jstream(stream, duplicate_window_s, replicas).config
        try:
            await js.stream_info(stream.name)
            await js.update_stream(config, subjects=list(stream.subjects))
        except NotFoundError:
            await js.add_stream(config, subjects=list(stream.subjects))


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


class PublishFailed(Exception):
    """The broker did not acknowledge the message: it is not durable, the caller must say so."""


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
