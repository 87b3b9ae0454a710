"""Consumers on a real JetStream: delayed redelivery, the delivery cap, then one dead letter."""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from faststream.nats import NatsBroker
from pydantic import BaseModel

from careline_contracts import subjects
from careline_platform.messaging import (
    ConsumerSpec,
    Delivery,
    Publisher,
    declare_streams,
    ensure_consumers,
    register_consumer,
)
from careline_testing.servers import ServerProcess
from careline_testing.waiting import consumers_caught_up, eventually

pytestmark = pytest.mark.asyncio
TESTS = subjects.Stream("TESTS", "test", ("test.>",))
_durables = itertools.count()


class Thing(BaseModel):
    n: int


@pytest_asyncio.fixture
async def broker(nats: ServerProcess) -> AsyncIterator[NatsBroker]:
    running = NatsBroker(nats.url, logger=logging.getLogger("faststream"))
    await running.connect()
    await declare_streams(running.connection.jetstream(), (TESTS, subjects.DEAD_LETTERS))
    yield running
    await running.stop()


async def consume(broker: NatsBroker, spec: ConsumerSpec) -> None:
    js = broker.connection.jetstream()
    pairs = await ensure_consumers(js, spec)
    register_consumer(broker, spec, Publisher(broker), pairs)
    await broker.start()


async def publish(broker: NatsBroker, n: int) -> None:
    await broker.publish(
        Thing(n=n).model_dump_json().encode(),
        subject="test.thing.0",
        stream=TESTS.name,
        headers={"Nats-Msg-Id": f"thing-{n}"},
    )


async def dead_letters(broker: NatsBroker) -> list[dict[str, Any]]:
    js = broker.connection.jetstream()
    state = (await js.stream_info(subjects.DEAD_LETTERS.name)).state
    if state.messages == 0:
        return []
    return [
        json.loads((await js.get_msg(subjects.DEAD_LETTERS.name, seq)).data)
        for seq in range(state.first_seq, state.last_seq + 1)
    ]


def spec_for(handler: Any, max_deliver: int = 3) -> ConsumerSpec:
    return ConsumerSpec(
        "test",
        TESTS,
        "test.thing",
        f"test-things-{next(_durables)}",
        Thing,
        handler,
        max_deliver=max_deliver,
        backoff_base_s=0.4,
    )


async def test_a_failing_message_is_redelivered_on_schedule_then_dead_lettered_once(
    broker: NatsBroker,
) -> None:
    calls: list[tuple[float, int]] = []

    async def always_fails(thing: Thing, delivery: Delivery) -> None:
        calls.append((time.monotonic(), delivery.deliveries))
        raise RuntimeError("downstream refused")

    await consume(broker, spec_for(always_fails, max_deliver=3))
    await publish(broker, 1)
    await eventually(lambda: dead_letters(broker), timeout_s=20)
    [letter] = await dead_letters(broker)
    assert [d for _, d in calls] == [1, 2, 3]
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(calls)]
    # delayed negative acks: 0.4 s, then 0.8 s (a plain NAK would redeliver at once)
    assert gaps[0] >= 0.35 and gaps[1] >= 0.7
    assert letter["msg_id"] == "thing-1"
    assert letter["deliveries"] == 3
    assert letter["reason"] == "RuntimeError after 3"
    assert json.loads(letter["payload"]) == {"n": 1}
    # terminated, not left to redeliver: the consumer holds nothing pending or unacknowledged
    js = broker.connection.jetstream()
    await eventually(lambda: consumers_caught_up(js, (TESTS.name,)), timeout_s=10)
    assert len(calls) == 3


async def test_a_retried_message_holds_its_partition_so_order_survives_failures(
    broker: NatsBroker,
) -> None:
    handled: list[int] = []
    failures = {1: 2}  # message 1 fails twice before it succeeds

    async def flaky(thing: Thing, _delivery: Delivery) -> None:
        if failures.get(thing.n, 0) > 0:
            failures[thing.n] -= 1
            raise RuntimeError("not yet")
        handled.append(thing.n)

    await consume(broker, spec_for(flaky, max_deliver=5))
    for n in (1, 2, 3):
        await publish(broker, n)
    await eventually(lambda: len(handled) == 3, timeout_s=20)
    assert handled == [1, 2, 3]
    assert await dead_letters(broker) == []
