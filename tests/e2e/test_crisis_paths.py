"""Crisis help over the real webhook path: one caregiver per category in English and Spanish,
the caring question and its answer, and the follow-up timeline with the test clock.

Four service processes, a real NATS and MongoDB-wire server, the fake Twilio the SDK talks to.
The clock file moves every service's time forward, so the +24 h and +48 h follow-ups are seen
without sleeping for days.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from careline_conversation.safety import responses
from careline_testing.fakes import FakeTwilio
from careline_testing.processes import Cluster
from careline_testing.waiting import eventually

from .helpers import databases, move_clock
from .test_conversation_journey import Phone
from .test_crisis_paging import ADMIN, SECRET, Staff

pytestmark = pytest.mark.asyncio

# one caregiver per category and language: what they text first, as caregivers write it
CASES = [
    ("suicide_self", "en", "i cant do this anymore. i have her sleeping pills and i want to die tonight"),
    ("suicide_other", "en", "my husband keeps saying he wants to kill himself, he has the gun out"),
    ("medical_emergency", "en", "mom fell in the bathroom and hit her head and she cant get up"),
    ("abuse_of_caregiver", "en", "my husband hit me again last night and said he'd kill me if i leave"),
    ("abuse_of_recipient", "en", "the night aide slapped my dad, i saw bruises on his arms this morning"),
    ("harm_to_others", "en", "im so scared im going to hurt her, i almost hit mom today"),
    ("suicide_self", "es", "ya no quiero vivir, me quiero morir"),
    ("suicide_other", "es", "mi esposo dice que se va a quitar la vida"),
    ("medical_emergency", "es", "mi mamá se cayó y no se puede levantar, le sale sangre"),
    ("abuse_of_caregiver", "es", "mi esposo me pega y me amenazó con un cuchillo"),
    ("abuse_of_recipient", "es", "la cuidadora le pega a mi papá, tiene moretones"),
    ("harm_to_others", "es", "tengo miedo de hacerle daño a mi mamá, casi le pego"),
]


@pytest.fixture
def cluster_env(clock_file: Path) -> dict[str, str]:
    return {
        "ADMIN_JWT_SECRET": SECRET,
        "ADMIN_USER_IDS": ADMIN,
        "CLOCK_OFFSET_FILE": str(clock_file),
        "JOBS_POLL_INTERVAL_S": "0.5",
    }


ON_CALL = "+14155550299"


async def _user_id(db: dict[str, Any], number: str) -> str:
    user = await db["ingress"].users.find_one({"phone": number})
    assert user is not None
    return str(user["_id"])


async def test_each_category_gets_its_own_reply_and_alert_in_english_and_spanish(
    cluster: Cluster, fake_twilio: tuple[FakeTwilio, str], mongo: AsyncMongoClient[Any]
) -> None:
    twilio, _ = fake_twilio
    db = databases(mongo, cluster)
    async with httpx.AsyncClient(timeout=10) as client:
        for index, (category, language, text) in enumerate(CASES):
            number = f"+1415555{index + 200:04d}"
            phone = Phone(client, cluster, twilio, number)
            reply = await phone.text(text)
            assert reply == responses.category_reply(category, language), (category, language)
            user_id = await _user_id(db, number)

            async def alert_opened(user_id: str = user_id) -> dict[str, Any] | None:
                return await db["conversation"].crisis_alerts.find_one({"user_id": user_id})

            alert = await eventually(alert_opened)
            assert (alert["category"], alert["tier"], alert["priority"]) == (category, "explicit", "high")
            assert "text" not in alert and text not in str(alert)  # never the caregiver's words
            follow_ups = await db["conversation"].jobs.find({"type": "crisis.follow_up"}).to_list()
            mine = sorted(
                (j for j in follow_ups if j["payload"]["user_id"] == user_id),
                key=lambda j: j["payload"]["step"],
            )
            assert [j["payload"]["step"] for j in mine] == [1, 2]
            assert mine[1]["next_attempt_at"] - mine[0]["next_attempt_at"] == timedelta(hours=24)


async def test_the_caring_question_then_a_yes_is_an_explicit_crisis(
    cluster: Cluster, fake_twilio: tuple[FakeTwilio, str], mongo: AsyncMongoClient[Any]
) -> None:
    twilio, _ = fake_twilio
    db = databases(mongo, cluster)
    async with httpx.AsyncClient(timeout=10) as client:
        phone = Phone(client, cluster, twilio, "+14155550230")
        asked = await phone.text("honestly everyone would be better off without me")
        assert asked == responses.question("suicide_self", "en")
        user_id = await _user_id(db, "+14155550230")

        async def low_alert() -> dict[str, Any] | None:
            return await db["conversation"].crisis_alerts.find_one({"user_id": user_id, "priority": "low"})

        alert = await eventually(low_alert)
        assert await phone.text("sometimes") == responses.category_reply("suicide_self", "en")

        async def raised() -> dict[str, Any] | None:
            return await db["conversation"].crisis_alerts.find_one({"_id": alert["_id"], "priority": "high"})

        raised_alert = await eventually(raised)
        assert raised_alert["question_answer"]["answer"] == "yes"
        assert (
            await db["conversation"].jobs.count_documents(
                {"type": "crisis.page", "payload.reason": "confirmed"}
            )
            == 1
        )

        # a second caregiver answers no: a caring reply, never a questionnaire
        other = Phone(client, cluster, twilio, "+14155550231")
        assert await other.text("ya no le hallo sentido a nada") == responses.question("suicide_self", "es")
        no = await other.text("no")
        assert no == responses.answer_reply("no", "es")
        assert "CHECK IN" not in (no or "")


async def test_follow_ups_at_24_and_48_hours_skip_when_the_caregiver_wrote_or_opted_out(
    cluster: Cluster, fake_twilio: tuple[FakeTwilio, str], mongo: AsyncMongoClient[Any], clock_file: Path
) -> None:
    twilio, _ = fake_twilio
    db = databases(mongo, cluster)
    crisis = "i took all of my pills and i want to die"
    async with httpx.AsyncClient(timeout=10) as client:
        staff = Staff(client, cluster, ADMIN)
        roster = {"people": [{"name": "Ana Ruiz", "phone": ON_CALL, "order": 1}]}
        assert (await staff.call("PUT", "/oncall", json=roster)).status_code == 200
        pager = Phone(client, cluster, twilio, ON_CALL)
        answers = Phone(client, cluster, twilio, "+14155550240")  # answers NO to the first follow-up
        silent = Phone(client, cluster, twilio, "+14155550241")  # never answers: gets the nudge
        talking = Phone(client, cluster, twilio, "+14155550242")  # writes again the same day
        stopped = Phone(client, cluster, twilio, "+14155550243")  # opts out
        for phone in (answers, silent, talking, stopped):
            assert await phone.text(crisis) == responses.category_reply("suicide_self", "en")
        assert await talking.text("thank you, i called them") is not None
        assert await stopped.text("STOP") is not None

        move_clock(clock_file, timedelta(hours=24, minutes=1))
        ask = responses.follow_up("ask", "en")
        await eventually(lambda: ask in answers.replies() and ask in silent.replies(), timeout_s=30)
        assert await answers.text("NO") == responses.follow_up("no", "en")
        user_id = await _user_id(db, answers.number)

        async def answered() -> dict[str, Any] | None:
            return await db["conversation"].crisis_alerts.find_one(
                {"user_id": user_id, "follow_up_answer.answer": "no"}
            )

        alert = await eventually(answered)
        # the NO pages the person on call again: a second page naming this alert, never the words
        await eventually(lambda: sum(alert["_id"] in text for text in pager.replies()) >= 2, timeout_s=30)
        assert not any(crisis in text or answers.number in text for text in pager.replies())
        assert (
            await db["conversation"].jobs.count_documents(
                {"type": "crisis.page", "payload.reason": "follow_up_no"}
            )
            == 1
        )

        move_clock(clock_file, timedelta(hours=48, minutes=2))
        nudge = responses.follow_up("nudge", "en")
        await eventually(lambda: nudge in silent.replies(), timeout_s=30)

        async def all_done() -> bool:
            pending = await db["conversation"].jobs.count_documents(
                {"type": "crisis.follow_up", "status": {"$ne": "completed"}}
            )
            return pending == 0

        await eventually(all_done, timeout_s=30)
        assert nudge not in answers.replies()  # the NO was writing since
        for phone in (talking, stopped):
            assert ask not in phone.replies() and nudge not in phone.replies()
        skipped = (
            await db["conversation"]
            .jobs.find({"type": "crisis.follow_up", "result.skipped": {"$exists": True}})
            .to_list()
        )
        reasons = sorted(job["result"]["skipped"] for job in skipped)
        assert reasons.count("opted_out") == 2 and reasons.count("written_since") >= 3
