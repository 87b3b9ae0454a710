"""How a webhook becomes durable when JetStream does not answer: the spool and its drainer.

Twilio does not retry an inbound text answered with 503 (by default it retries only a failed
connection, once, within 15 s: README, Operations), so ingress must not refuse a caregiver's
text because the broker is away. :class:`SpoolingPublisher` publishes as usual while the
spool is empty and the broker connected; otherwise, or when the publish fails or has no ack
within ``PUBLISH_TIMEOUT_S`` (2 s), it appends the event to the spool (fsync'd) and the
webhook is answered 200. While anything waits in the spool, every new event goes there too,
behind it, so a caregiver's texts keep their arrival order. Only a spool that cannot write
(disk full, read-only) makes the webhook a 503, logged as ``spool.write_failed``.

:class:`Drainer` republishes the spool oldest first, each entry under its own ``Nats-Msg-Id``,
and deletes an entry only after JetStream acknowledged it: a crash between the ack and the
delete republishes it, and the duplicate is dropped by JetStream within its window and by each
consumer's processed-message record after it. A held text (its sender not looked up because
MongoDB did not answer) is looked up first. While the broker or the database is away the
drainer waits and tries again, with a growing pause (0.25 s to 2 s), and logs the first failure
of each pause (``spool.drain_paused``) and the end of each drain (``spool.drained``).

Stripe events are spooled the same way, for one uniform rule; a Stripe webhook that gets a 503
all the same (the spool cannot write) is not lost: Stripe retries an undelivered event for up to
three days in live mode (https://docs.stripe.com/webhooks/process-undelivered-events).

A caregiver's publishes take turns (:class:`Turns`), so a later text never overtakes an earlier
one that is still waiting for its ack. The spool is per replica. Each replica drains its own,
so a caregiver's texts that reach two replicas during an outage keep their order only within
each replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from pymongo.errors import PyMongoError

from careline_contracts import subjects
from careline_contracts.base import Event
from careline_ingress.domain.webhooks import BadRequest, HeldSms
from careline_ingress.spool import EVENT, SMS, Entry, Spool, SpoolUnavailable
from careline_platform.logging import get_logger
from careline_platform.messaging import PublishFailed
from careline_platform.metrics import SPOOL_DEPTH, SPOOL_DRAINED, SPOOL_WRITE_FAILURES, SPOOLED

log = get_logger(__name__)
FIRST_PAUSE_S, LONGEST_PAUSE_S = 0.25, 2.0
IDLE_POLL_S = 1.0
"""How often an idle drainer looks at the spool file (entries another process left in it)."""


class RawPublisher(Protocol):
    """``careline_platform.messaging.Publisher``'s publish of ready bytes (returns after the ack)."""

    async def publish_raw(
        self, subject: str, payload: bytes, msg_id: str, stream: str, headers: dict[str, str] | None = None
    ) -> bool: ...


def entry_of(event: Event, *, msg_id: str, key: str, stream: subjects.Stream) -> Entry:
    """What ``Publisher.publish`` would send for ``event``, as a spool entry (same subject, headers, id)."""
    headers = {"Correlation-Id": event.correlation_id} if event.correlation_id else {}
    return Entry(
        EVENT, subjects.partitioned(event.subject, key), stream.name, msg_id, event.to_bytes(), headers
    )


class Turns:
    """One publish at a time per key (a caregiver), in the order they asked.

    Without it, a caregiver's second text could be acknowledged while the first still waits for
    an ack that never comes, and the first, spooled after its 2 s, would reach JetStream second.
    A key's lock lives only while someone holds or awaits it.
    """

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def of(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class SpoolingPublisher:
    """The webhooks' publisher: JetStream when it answers and nothing waits, else the spool."""

    def __init__(
        self, raw: RawPublisher, spool: Spool, connected: Callable[[], bool], wake: Callable[[], None]
    ) -> None:
        self.raw = raw
        self.spool = spool
        self.connected = connected
        self.wake = wake
        self.turns = Turns()

    async def publish(self, event: Event, *, msg_id: str, key: str, stream: subjects.Stream) -> bool:
        """Durable on return: acknowledged (True: a duplicate) or spooled (False)."""
        async with self.turns.of(key):
            return await self._publish(entry_of(event, msg_id=msg_id, key=key, stream=stream))

    async def _publish(self, entry: Entry) -> bool:
        if self.spool.depth:
            reason = "backlog"  # behind what waits, so the order holds
        elif not self.connected():
            reason = "disconnected"  # no 2 s wait for an ack that cannot come
        else:
            try:
                return await self.raw.publish_raw(
                    entry.subject, entry.payload, entry.msg_id, entry.stream, entry.headers or None
                )
            except PublishFailed:
                reason = "no_ack"
        await self.append(entry, reason)
        return False

    async def hold_sms(self, held: HeldSms) -> None:
        """Spool a verified text whose sender could not be looked up."""
        sid = held.params.get("MessageSid") or held.params.get("SmsSid") or ""
        await self.append(Entry(SMS, "", subjects.SMS.name, f"twilio:{sid}", held.to_bytes(), {}), "mongodb")

    async def append(self, entry: Entry, reason: str) -> None:
        try:
            await self.spool.append(entry)
        except SpoolUnavailable as exc:
            SPOOL_WRITE_FAILURES.inc()
            # no payload, phone or id: what failed, where, and why it was needed
            log.error("spool.write_failed", error=str(exc), path=str(self.spool.path), reason=reason)
            raise
        SPOOLED.labels(reason).inc()
        SPOOL_DEPTH.set(self.spool.depth)
        self.wake()


class Drainer:
    """Republishes the spool, oldest first, deleting each entry after its ack."""

    def __init__(
        self,
        spool: Spool,
        raw: RawPublisher,
        replay_sms: Callable[[HeldSms], Awaitable[None]],
        connected: Callable[[], bool],
    ) -> None:
        self.spool = spool
        self.raw = raw
        self.replay_sms = replay_sms
        self.connected = connected
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        """Start draining in the background (once; a repeated start-up step does nothing)."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="spool-drainer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run(self) -> None:
        pause = FIRST_PAUSE_S
        while True:
            try:
                await self.drain()
                pause = FIRST_PAUSE_S
            except (PublishFailed, PyMongoError, TimeoutError, SpoolUnavailable) as exc:
                if pause == FIRST_PAUSE_S:  # once per outage, not every pause
                    log.warning("spool.drain_paused", error=type(exc).__name__, depth=self.spool.depth)
                await asyncio.sleep(pause)
                pause = min(pause * 2, LONGEST_PAUSE_S)
                continue
            except Exception as exc:  # the spool's file itself failing: keep the task alive
                log.error("spool.drain_failed", error=type(exc).__name__, depth=self.spool.depth)
                await asyncio.sleep(LONGEST_PAUSE_S)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), IDLE_POLL_S)
            self._wake.clear()

    async def drain(self) -> int:
        """Republish every entry, oldest first; returns how many. Raises (keeping the rest) when
        the broker or the database does not answer."""
        if not self.spool.depth:
            await self.spool.count()  # what a previous run or another process left
            SPOOL_DEPTH.set(self.spool.depth)
        drained, began = 0, time.monotonic()
        while (entry := await self.spool.oldest()) is not None:
            if not self.connected():
                raise PublishFailed("disconnected")
            await self.republish(entry)
            await self.spool.delete(entry.seq)
            drained += 1
            SPOOL_DRAINED.inc()
            SPOOL_DEPTH.set(self.spool.depth)
        if drained:
            log.info("spool.drained", entries=drained, seconds=round(time.monotonic() - began, 3))
        return drained

    async def republish(self, entry: Entry) -> None:
        if entry.kind == SMS:
            try:
                held = HeldSms.from_bytes(entry.payload)
            except (ValueError, KeyError, TypeError):
                held = None
            if held is not None:
                try:
                    await self.replay_sms(held)
                    return
                except BadRequest:
                    pass  # verified before it was held, so never expected
            # an entry no code can publish would block the spool for good: logged, then dropped
            log.error("spool.entry_unusable", seq=entry.seq, kind=entry.kind)
            return
        await self.raw.publish_raw(
            entry.subject, entry.payload, entry.msg_id, entry.stream, entry.headers or None
        )
