"""Waiting for a condition in async tests, without fixed sleeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from nats.js import JetStreamContext

FIRST_POLL_S = 0.02
MAX_POLL_S = 0.25
"""A condition is checked again after 20 ms, then half as long again each time, up to 250 ms:
what comes true at once is seen at once, and a long wait (a retry's backoff, a recovery) does
not query NATS and the database twenty times a second for its whole length."""


async def eventually(
    check: Callable[[], Awaitable[object]] | Callable[[], object], timeout_s: float = 20.0
) -> Any:
    """Wait until ``check`` holds (sync or async) and return what it gave, or fail the test."""
    deadline = time.monotonic() + timeout_s
    pause = FIRST_POLL_S
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, MAX_POLL_S)


async def last_sequences(js: JetStreamContext) -> dict[str, int]:
    """Each stream's last sequence number: it moves whenever anything is published."""
    return {info.config.name or "": int(info.state.last_seq) for info in await js.streams_info()}


async def consumers_caught_up(js: JetStreamContext, streams: tuple[str, ...] | None = None) -> bool:
    """True when every consumer (of ``streams``, or of all) has nothing left to deliver and
    nothing delivered but unsettled: each message was acknowledged or terminated.

    A message waiting for a delayed redelivery (a ``nak(delay)``) still counts as pending, so
    this is what to wait for before asserting that a message was *not* handled again.
    """
    names = streams or tuple((await last_sequences(js)).keys())
    for stream in names:
        for consumer in await js.consumers_info(stream):
            if (consumer.num_pending or 0) or (consumer.num_ack_pending or 0):
                return False
    return True
