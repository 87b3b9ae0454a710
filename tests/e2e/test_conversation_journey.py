"""A caregiver's journey over the real webhook path: onboarding, STOP/START, crisis and gating."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from careline_conversation.domain import replies
from careline_conversation.safety import responses
from careline_testing.fakes import FakeTwilio
from careline_testing.processes import Cluster
from careline_testing.signing import inbound_sms_params, stripe_event
from careline_testing.waiting import eventually

from .helpers import databases, post_sms, post_stripe, wait_until_settled

pytestmark = pytest.mark.asyncio
CRISIS_REPLY = responses.category_reply("suicide_self", "en")


class Phone:
    """One caregiver texting the line and reading the replies, as Twilio would carry them."""

    def __init__(self, client: httpx.AsyncClient, cluster: Cluster, twilio: FakeTwilio, number: str) -> None:
        self.client, self.cluster, self.twilio, self.number = client, cluster, twilio, number

    def replies(self) -> list[str]:
        return [m.body for m in self.twilio.to(self.number)]

    async def text(self, body: str, expect_reply: bool = True) -> str | None:
        before = len(self.replies())
        resp = await post_sms(self.client, self.cluster, inbound_sms_params(self.number, body))
        assert resp.status_code == 200
        if not expect_reply:
            await wait_until_settled(self.cluster)  # a reply would have been sent by now
            assert len(self.replies()) == before
            return None
        await eventually(lambda: len(self.replies()) > before, timeout_s=20)
        return self.replies()[before]


async def test_onboarding_facts_reach_profile_and_stop_start_follow(
    cluster: Cluster, fake_twilio: tuple[FakeTwilio, str], mongo: AsyncMongoClient[Any]
) -> None:
    twilio, _ = fake_twilio
    db = databases(mongo, cluster)
    async with httpx.AsyncClient(timeout=10) as client:
        phone = Phone(client, cluster, twilio, "+14155550151")
        welcome = await phone.text("hi")
        assert welcome is not None and "STOP" in welcome and "first name" in welcome
        assert "care for" in (await phone.text("I'm Ana") or "")
        assert "health condition" in (await phone.text("my husband") or "")
        assert "ZIP" in (await phone.text("dementia") or "")
        done = await phone.text("94110") or ""
        assert done.startswith("Thank you, Ana.") and "CHECK IN" in done  # a first check-in offered
        user = await db["ingress"].users.find_one({"phone": "+14155550151"})
        assert user is not None

        async def profile_has(fields: dict[str, Any]) -> bool:
            doc = await db["profile"].user_profiles.find_one({"_id": user["_id"]}) or {}
            return all(doc.get(k) == v for k, v in fields.items())

        learned = {"first_name": "Ana", "relationship": "spouse", "condition": "dementia", "zip": "94110"}
        await eventually(lambda: profile_has(learned))

        assert await phone.text("STOP") == replies.text("stop")
        await eventually(lambda: profile_has({"opted_out": True}))
        await phone.text("are you there?", expect_reply=False)
        await phone.text("stop", expect_reply=False)  # one confirmation only
        assert await phone.text("START") == replies.text("start")
        await eventually(lambda: profile_has({"opted_out": False}))
        assert await phone.text("I'm so tired today") is not None  # the agent answers again


async def test_a_caregiver_whose_trial_ended_still_gets_crisis_help_and_one_checkout_link(
    cluster: Cluster, fake_twilio: tuple[FakeTwilio, str], mongo: AsyncMongoClient[Any]
) -> None:
    twilio, _ = fake_twilio
    db = databases(mongo, cluster)
    async with httpx.AsyncClient(timeout=10) as client:
        phone = Phone(client, cluster, twilio, "+14155550152")
        await phone.text("hello")
        for skip in ("SKIP", "SKIP", "SKIP", "SKIP"):
            await phone.text(skip)
        user = await db["ingress"].users.find_one({"phone": "+14155550152"})
        assert user is not None
        user_id = user["_id"]
        # the subscription the checkout created ended more than 30 days ago: access is over
        checkout = stripe_event(
            "checkout.session.completed",
            {"id": "cs_j", "client_reference_id": user_id, "customer": "cus_j", "subscription": "sub_j"},
        )
        ended = int(time.time()) - 31 * 86400
        deleted = stripe_event(
            "customer.subscription.deleted",
            {"id": "sub_j", "customer": "cus_j", "status": "canceled", "ended_at": ended},
            created=1_900_000_000,
        )
        for event in (checkout, deleted):
            assert (await post_stripe(client, cluster, event)).status_code == 200
        await eventually(lambda: any("Thank you for subscribing" in r for r in phone.replies()))

        async def not_entitled() -> bool:
            state = await db["conversation"].conversation_state.find_one({"_id": user_id}) or {}
            return (state.get("entitlement") or {}).get("entitled") is False

        await eventually(not_entitled)

        link = await phone.text("can we talk?")
        assert link is not None and "/dev/checkout/cs_sandbox_" in link
        assert "subscription has ended" in link and "trial" not in link  # a lapsed subscriber's words
        await phone.text("hello?", expect_reply=False)  # at most one link a day

        # a crisis is answered whatever the subscription, and the day after it has no paywall
        assert await phone.text("I can't do this anymore. I want to kill myself") == CRISIS_REPLY

        async def alert_opened() -> bool:
            return await db["conversation"].crisis_alerts.count_documents({"user_id": user_id}) == 1

        await eventually(alert_opened)
        gentle = await phone.text("can we talk?")
        assert gentle is not None and "checkout" not in gentle and "CHECK IN" not in gentle


async def test_a_spanish_first_text_is_stored_as_spanish_and_espanol_english_switch(
    cluster: Cluster, fake_twilio: tuple[FakeTwilio, str], mongo: AsyncMongoClient[Any]
) -> None:
    twilio, _ = fake_twilio
    db = databases(mongo, cluster)
    async with httpx.AsyncClient(timeout=10) as client:
        phone = Phone(client, cluster, twilio, "+14155550158")
        assert await phone.text("hola, estoy muy cansada y no se que hacer con mi mama") is not None
        state = await db["conversation"].conversation_state.find_one({"phone": "+14155550158"})
        assert state is not None and state["language"]["code"] == "es"
        # mid-onboarding, the pending question follows the confirmation
        assert (await phone.text("ENGLISH") or "").startswith(replies.text("switch", "en") + " What's your")
        assert (await phone.text("español") or "").startswith(replies.text("switch", "es"))
        state = await db["conversation"].conversation_state.find_one({"phone": "+14155550158"})
        assert state is not None and state["language"] == {**state["language"], "code": "es", "by": "keyword"}
