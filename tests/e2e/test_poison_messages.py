"""A message that fails validation goes straight to the dead-letter stream, with the reason."""

from __future__ import annotations

import json
from typing import Any

import nats as nats_client
import pytest

from careline_testing.processes import Cluster
from careline_testing.servers import ServerProcess
from careline_testing.waiting import eventually

pytestmark = pytest.mark.asyncio


async def test_invalid_payload_is_dead_lettered_once_and_not_redelivered(
    cluster: Cluster, nats: ServerProcess
) -> None:
    """Conversation gets a malformed sms.inbound.received: one dead letter, the consumer moves on."""
    nc = await nats_client.connect(nats.url)
    js = nc.jetstream()
    try:
        ack = await js.publish(
            "sms.inbound.received.3", b'{"v": 1, "body": "no ids"}', headers={"Nats-Msg-Id": "poison-1"}
        )
        assert ack.stream == "SMS"

        async def dead_lettered() -> bool:
            try:
                info = await js.stream_info("DEAD_LETTERS")
            except nats_client.js.errors.NotFoundError:
                return False
            return int(info.state.messages) >= 1

        await eventually(dead_lettered, timeout_s=20)
        letter = json.loads(
            (await js.get_last_msg("DEAD_LETTERS", "deadletter.conversation.sms.inbound.received")).data
        )
        consumers: list[Any] = []

        async def terminated() -> bool:  # the term is a plain publish, sent after the dead letter
            consumers.append(await js.consumer_info("SMS", "conversation-sms-inbound-p3"))
            return consumers[-1].num_ack_pending == 0

        await eventually(terminated, timeout_s=10)
        consumer = consumers[-1]
    finally:
        await nc.close()
    assert letter["msg_id"] == "poison-1"
    assert letter["reason"].startswith("invalid payload")
    assert letter["deliveries"] == 1
    assert consumer.num_ack_pending == 0 and consumer.num_redelivered == 0
