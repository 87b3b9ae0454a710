"""Check-ins the caregiver controls, over real processes, NATS and MongoDB, with time moved by the clock.

A caregiver with no burnout band (no scheduled check-ins of their own) texts DAILY: profile stores
the choice and confirms it, and two days later the scheduler checks in. PAUSE stops that (no
check-in while the pause runs), RESUME brings it back, and a reported death stops it for good.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from careline_conversation.domain.loss import reply as loss_reply
from careline_testing.fakes import FakeTwilio
from careline_testing.processes import Cluster
from careline_testing.waiting import eventually

from .helpers import databases, wait_until_settled
from .test_caregiver_lifecycle import move_to_local_noon
from .test_conversation_journey import Phone

pytestmark = pytest.mark.asyncio
NUMBER = "+14155550171"
ZONE = "America/Los_Angeles"
SCAN_S = 2.0


@pytest.fixture
def cluster_env(clock_file: Path) -> dict[str, str]:
    return {
        "CLOCK_OFFSET_FILE": str(clock_file),
        "CHECKIN_SCAN_S": str(SCAN_S),
        "JOBS_POLL_INTERVAL_S": "0.5",
    }


async def no_check_in_after_scans(phone: Phone, cluster: Cluster) -> None:
    """Several scans run at the moved clock, and nothing reached the caregiver."""
    before = len(phone.replies())
    await asyncio.sleep(3 * SCAN_S)
    await wait_until_settled(cluster)
    assert phone.replies()[before:] == []


async def test_daily_pause_resume_and_a_loss_change_what_the_scheduler_sends(
    cluster: Cluster, fake_twilio: tuple[FakeTwilio, str], mongo: AsyncMongoClient[Any], clock_file: Path
) -> None:
    twilio, _ = fake_twilio
    db = databases(mongo, cluster)
    async with httpx.AsyncClient(timeout=10) as client:
        phone = Phone(client, cluster, twilio, NUMBER)
        for text in ("hi", "Ana", "my mom", "94110"):
            await phone.text(text)
        user = await db["ingress"].users.find_one({"phone": NUMBER})
        assert user is not None

        async def profile() -> dict[str, Any]:
            return await db["profile"].user_profiles.find_one({"_id": user["_id"]}) or {}

        async def checkins() -> dict[str, Any]:
            return (await profile()).get("checkins") or {}

        await eventually(lambda: _is(profile, time_zone=ZONE))
        assert (await profile()).get("burnout_band") is None  # no band: the band alone sends nothing

        confirmed = await phone.text("DAILY")
        assert confirmed is not None and confirmed.startswith("Done: I'll check in every day")
        assert (await checkins())["frequency"] == "daily"

        # two days later, at noon in San Francisco, the scheduler checks in
        before = len(phone.replies())
        move_to_local_noon(clock_file, 2, ZONE)
        await eventually(lambda: len(phone.replies()) > before, timeout_s=30)
        assert "(1 of 3)" in phone.replies()[before]

        paused = await phone.text("PAUSE")
        assert paused is not None and paused.startswith("Check-ins are paused until")
        assert (await checkins())["paused_until"] is not None
        move_to_local_noon(clock_file, 4, ZONE)  # daily is due again, but the pause runs a week
        await no_check_in_after_scans(phone, cluster)

        resumed = await phone.text("RESUME")
        assert resumed is not None and resumed.startswith("Check-ins are back on: every day")
        before = len(phone.replies())
        move_to_local_noon(clock_file, 6, ZONE)
        await eventually(lambda: len(phone.replies()) > before, timeout_s=30)
        assert "(1 of 3)" in phone.replies()[before]

        # the person cared for dies: grief support, and no more caregiving check-ins
        assert await phone.text("My mom passed away last night") == loss_reply("en", "Ana")
        await eventually(lambda: _is(profile, journey_phase="bereavement"))
        move_to_local_noon(clock_file, 8, ZONE)
        await no_check_in_after_scans(phone, cluster)


async def _is(read: Any, **fields: Any) -> bool:
    doc = await read()
    return all(doc.get(k) == v for k, v in fields.items())
