"""A failing SMS provider: retries on schedule, permanent errors stop at once, nothing sent twice."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import httpx
import nats as nats_client
import pytest
from pymongo import AsyncMongoClient

from careline_testing.fakes import FakeTwilio
from careline_testing.processes import Cluster
from careline_testing.servers import Backends, ServerProcess
from careline_testing.signing import inbound_sms_params
from careline_testing.waiting import eventually

from .helpers import databases, post_sms, wait_until_settled

pytestmark = pytest.mark.asyncio


async def test_server_errors_are_retried_on_the_exponential_schedule(
    cluster: Cluster, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    """Two 500s, then success: attempts about 2 s and 4 s apart, one message delivered."""
    fake, _ = fake_twilio
    fake.fail_next = 2
    async with httpx.AsyncClient(timeout=10) as client:
        await post_sms(client, cluster, inbound_sms_params("+14155550150", "hello"))
    await eventually(lambda: len(fake.to("+14155550150")) == 1, timeout_s=30)
    gaps = [b - a for a, b in zip(fake.attempts, fake.attempts[1:], strict=False)]
    assert len(fake.attempts) == 3
    assert 1.5 <= gaps[0] <= 4.0  # 2 s +-20 % jitter, plus up to a 1 s poll
    assert 3.1 <= gaps[1] <= 6.5  # 4 s +-20 % jitter, plus up to a 1 s poll


async def test_lost_answer_and_timeout_do_not_send_twice(
    cluster: Cluster, fake_twilio: tuple[FakeTwilio, str], mongo: AsyncMongoClient[Any]
) -> None:
    """The provider accepted the message but the answer was lost: the retry asks, finds it, stops."""
    fake, _ = fake_twilio
    fake.lose_answers = 1
    jobs = databases(mongo, cluster)["conversation"].jobs

    async def finished(params: dict[str, str]) -> dict[str, Any] | None:
        job = await jobs.find_one({"_id": f"sms:reply:{params['MessageSid']}"}) or {}
        return job if job.get("status") in ("completed", "dead") else None

    async with httpx.AsyncClient(timeout=10) as client:
        hello = inbound_sms_params("+14155550151", "hello")
        await post_sms(client, cluster, hello)
        # the retry (after ~2 s) must find the message, not resend: the job ends with no second send
        job = await eventually(lambda: finished(hello), timeout_s=20)
        assert (job["status"], job["attempts"]) == ("completed", 2)
        assert len(fake.to("+14155550151")) == 1
        assert len(fake.attempts) == 1

        fake.delay_s = 3.0  # longer than the client's timeout (TWILIO_TIMEOUT_S=1)
        again = inbound_sms_params("+14155550151", "again")
        await post_sms(client, cluster, again)
        await eventually(lambda: len(fake.to("+14155550151")) == 2, timeout_s=15)
        fake.delay_s = 0.0
        job = await eventually(lambda: finished(again), timeout_s=20)
        assert job["status"] == "completed"
        await wait_until_settled(cluster)
    assert len(fake.to("+14155550151")) == 2  # the timed-out send arrived; no resend after it


async def test_unsubscribed_recipient_goes_dead_at_once_and_the_tool_retries_it(
    cluster: Cluster,
    nats: ServerProcess,
    backends: Backends,
    fake_twilio: tuple[FakeTwilio, str],
) -> None:
    """Twilio 21610 is permanent: one attempt, a dead job and a dead letter; `careline jobs retry` resends."""
    fake, _ = fake_twilio
    fake.fail_next, fake.fail_status, fake.fail_code = 1, 400, 21610
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(backends.mongodb_uri)
    jobs = databases(mongo, cluster)["conversation"].jobs
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            params = inbound_sms_params("+14155550152", "hello")
            await post_sms(client, cluster, params)
        key = f"sms:reply:{params['MessageSid']}"

        async def dead() -> bool:
            return bool(await jobs.count_documents({"_id": key, "status": "dead", "attempts": 1}))

        await eventually(dead)
        assert fake.to("+14155550152") == []

        nc = await nats_client.connect(nats.url)
        try:
            js = nc.jetstream()

            async def lettered() -> bool:
                return int((await js.stream_info("DEAD_LETTERS")).state.messages) == 1

            await eventually(lettered, timeout_s=10)
            letter = json.loads(
                (await js.get_last_msg("DEAD_LETTERS", "deadletter.conversation.job.sms.send")).data
            )
        finally:
            await nc.close()
        assert letter["msg_id"] == key and "21610" in letter["reason"]

        env = {"MONGODB_URI": backends.mongodb_uri, "DB_PREFIX": cluster.env["DB_PREFIX"]}
        tool = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "careline_cli.main", "jobs", "retry", "conversation", key],
            capture_output=True,
            text=True,
            env={**cluster.service_env("operator"), **env},
            timeout=60,
        )
        assert tool.returncode == 0, tool.stderr
        await eventually(lambda: len(fake.to("+14155550152")) == 1, timeout_s=15)
    finally:
        await mongo.close()
