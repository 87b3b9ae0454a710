"""First text to renewed access, over real processes, with time moved by the test clock.

Onboarding, a full burnout assessment (band and suggestion), a scheduled check-in days later
(the clock file moves every service's time; nothing sleeps for days), the trial's end, a
checkout and access again.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pymongo import AsyncMongoClient

from careline_conversation.intents.tips import answers
from careline_testing.fakes import FakeTwilio
from careline_testing.processes import Cluster
from careline_testing.waiting import eventually

from .helpers import databases
from .test_conversation_journey import Phone

pytestmark = pytest.mark.asyncio
NUMBER = "+14155550161"


@pytest.fixture
def cluster_env(clock_file: Path) -> dict[str, str]:
    return {"CLOCK_OFFSET_FILE": str(clock_file), "CHECKIN_SCAN_S": "2", "JOBS_POLL_INTERVAL_S": "0.5"}


def move_to_local_noon(clock_file: Path, days: int, zone: str) -> None:
    """Set the offset so that 'now' is noon, ``days`` days ahead, in the caregiver's zone."""
    real = datetime.now(UTC)
    local = (real + timedelta(days=days)).astimezone(ZoneInfo(zone))
    target = local.replace(hour=12, minute=0, second=0, microsecond=0)
    clock_file.write_text(str((target - real).total_seconds()))


async def test_from_first_text_to_renewed_access(
    cluster: Cluster, fake_twilio: tuple[FakeTwilio, str], mongo: AsyncMongoClient[Any], clock_file: Path
) -> None:
    twilio, _ = fake_twilio
    db = databases(mongo, cluster)
    async with httpx.AsyncClient(timeout=10) as client:
        phone = Phone(client, cluster, twilio, NUMBER)
        for text in ("hi", "Maria", "my dad", "stroke", "94110"):
            await phone.text(text)
        user = await db["ingress"].users.find_one({"phone": NUMBER})
        assert user is not None
        user_id = user["_id"]

        async def profile() -> dict[str, Any]:
            return await db["profile"].user_profiles.find_one({"_id": user_id}) or {}

        await eventually(lambda: _has(profile, time_zone="America/Los_Angeles", journey_phase="active"))

        # a full assessment: 12 questions, every answer "5" (reverse-scored items count low)
        question = await phone.text("assessment")
        assert question is not None and "(1 of 12)" in question
        for k in range(2, 13):
            question = await phone.text("5")
            assert question is not None and f"({k} of 12)" in question
        result = await phone.text("5")
        assert result is not None and "score 67 of 100" in result and "a lot of strain" in result
        await eventually(lambda: _has(profile, burnout_band="high", burnout_score=67))
        assert (await profile())["next_checkin_at"] is not None  # every 3 days for the high band

        # three and a half days later, at noon in San Francisco, the scheduler checks in
        before = len(phone.replies())
        move_to_local_noon(clock_file, 4, "America/Los_Angeles")
        await eventually(lambda: len(phone.replies()) > before, timeout_s=30)
        checkin = phone.replies()[before]
        assert checkin.startswith("Quick check-in") and "(1 of 3)" in checkin
        assert "(2 of 3)" in (await phone.text("2") or "")
        assert "(3 of 3)" in (await phone.text("sometimes") or "")
        assert "daily check-in" in (await phone.text("4") or "")
        await eventually(lambda: _has(profile, burnout_band="mild"))

        # the trial ends (day 15): the next free-text message gets a checkout link instead
        move_to_local_noon(clock_file, 15, "America/Los_Angeles")

        async def trial_over() -> bool:
            account = await db["billing"].billing_accounts.find_one({"_id": user_id}) or {}
            state = await db["conversation"].conversation_state.find_one({"_id": user_id}) or {}
            return (
                account.get("status") == "none" and (state.get("entitlement") or {}).get("entitled") is False
            )

        await eventually(trial_over, timeout_s=30)
        # eleven silent days since the check-in (whose answers moved the band to mild, so no
        # more scheduled check-ins): the day-7 re-engagement nudge goes out first
        await eventually(lambda: any("thinking of you" in r for r in phone.replies()), timeout_s=30)
        link = await phone.text("are you there?")
        assert link is not None and "/dev/checkout/" in link

        # the caregiver opens the link and completes the (sandbox) checkout: the line answers again
        url = re.search(r"(http://\S+/dev/checkout/\S+)", link)
        assert url is not None
        page = await client.get(url.group(1))
        assert page.status_code == 200 and "Subscribe" in page.text
        done = await client.post(url.group(1).split("?")[0], data={"user": user_id})
        assert done.status_code == 200 and "subscribed" in done.text
        await eventually(lambda: any("Thank you for subscribing" in r for r in phone.replies()))

        async def entitled_again() -> bool:
            state = await db["conversation"].conversation_state.find_one({"_id": user_id}) or {}
            return (state.get("entitlement") or {}).get("entitled") is True

        await eventually(entitled_again)
        reply = await phone.text("I'm so tired this week")
        assert reply is not None and answers(reply, "I'm so tired this week")


async def _has(profile: Any, **fields: Any) -> bool:
    doc = await profile()
    return all(doc.get(k) == v for k, v in fields.items())
