"""Onboarding that listens, over the real webhook path, NATS and the MongoDB-wire server: care
before the first question, facts given out of order, a Spanish name kept as written, and the
care recipient's condition reaching profile's ``user_profiles``; a skipped fact asked again
once, a day later, at the end of an ordinary reply."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from careline_conversation.domain import onboarding
from careline_testing.fakes import FakeTwilio
from careline_testing.processes import Cluster
from careline_testing.waiting import eventually

from .helpers import databases, move_clock
from .test_conversation_journey import Phone

pytestmark = pytest.mark.asyncio
NUMBER = "+14155550191"


@pytest.fixture
def cluster_env(clock_file: Path) -> dict[str, str]:
    return {"CLOCK_OFFSET_FILE": str(clock_file)}


async def test_onboarding_listens_and_the_condition_reaches_profile(
    cluster: Cluster, fake_twilio: tuple[FakeTwilio, str], mongo: AsyncMongoClient[Any], clock_file: Path
) -> None:
    twilio, _ = fake_twilio
    db = databases(mongo, cluster)
    async with httpx.AsyncClient(timeout=10) as client:
        phone = Phone(client, cluster, twilio, NUMBER)
        first = await phone.text("I'm exhausted, she was up all night")
        care = onboarding.care_line("exhaustion", "en")
        assert first is not None and first.endswith(f"{care} {onboarding.question('first_name')}")
        # a ZIP while the name is asked: kept, and its question never comes
        assert await phone.text("we're in 60614") == (
            f"{onboarding.acknowledgement('noted')} {onboarding.question('first_name')}"
        )
        # three Spanish words: the detector moves the conversation to Spanish, the name kept as written
        named = await phone.text("me llamo María José")
        assert named == f"Mucho gusto, María José. {onboarding.question('relationship', 'es')}"
        assert await phone.text("mi mamá") == onboarding.question("condition", "es")
        assert await phone.text("Alzheimers") == onboarding.done_text("María José", "es")
        user = await db["ingress"].users.find_one({"phone": NUMBER})
        assert user is not None

        async def profile_has(fields: dict[str, Any]) -> bool:
            doc = await db["profile"].user_profiles.find_one({"_id": user["_id"]}) or {}
            return all(doc.get(k) == v for k, v in fields.items())

        learned = {
            "first_name": "María José",
            "relationship": "parent",
            "condition": "alzhéimer",  # the name in the caregiver's language
            "zip": "60614",
        }
        await eventually(lambda: profile_has({**learned, "journey_phase": "active"}))


async def test_a_skipped_fact_is_asked_again_once_a_day_later(
    cluster: Cluster, fake_twilio: tuple[FakeTwilio, str], mongo: AsyncMongoClient[Any], clock_file: Path
) -> None:
    twilio, _ = fake_twilio
    db = databases(mongo, cluster)
    async with httpx.AsyncClient(timeout=10) as client:
        phone = Phone(client, cluster, twilio, NUMBER)
        for text in ("hi", "Ana", "my dad", "skip", "94110"):
            await phone.text(text)
        soon = await phone.text("she slept better last night")
        assert soon is not None and onboarding.question("condition") not in soon

        move_clock(clock_file, timedelta(hours=25))
        later = await phone.text("she slept better again")
        assert later is not None and later.endswith(onboarding.question("condition"))
        assert await phone.text("Parkinson's") == "Thank you, Ana, I've noted that."
        after = await phone.text("she slept better once more")
        assert after is not None and onboarding.question("condition") not in after
        user = await db["ingress"].users.find_one({"phone": NUMBER})
        assert user is not None

        async def condition_stored() -> bool:
            doc = await db["profile"].user_profiles.find_one({"_id": user["_id"]}) or {}
            return doc.get("condition") == "Parkinson's"

        await eventually(condition_stored)
