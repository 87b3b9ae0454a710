"""Billing in every state, on real processes (issue 16, item 4): the welcome names the trial; a
kind warning before the trial ends, once; BILLING and ANNUAL text the right links (Stripe's
checkout and customer portal through the SDK, against the fake Stripe); a thank-you after the
checkout; a failed payment is told once, with the portal link; STOP from a subscriber says how to
cancel; an event before its checkout is parked, then applied; past_due loses access after its
grace period and is told to update the card, never that a trial ended."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from careline_testing.fakes import FakeStripe, FakeTwilio
from careline_testing.processes import Cluster
from careline_testing.signing import stripe_event
from careline_testing.waiting import eventually

from .helpers import databases, move_clock, post_stripe, wait_until_settled
from .test_conversation_journey import Phone

pytestmark = pytest.mark.asyncio


@pytest.fixture
def cluster_env(fake_stripe: tuple[FakeStripe, str], clock_file: Path) -> dict[str, str]:
    _fake, url = fake_stripe
    return {
        "STRIPE_API_KEY": "sk_test_" + "e2e" * 8,
        "STRIPE_PRICE_ID_MONTHLY": "price_e2e_monthly",
        "STRIPE_PRICE_ID_ANNUAL": "price_e2e_annual",
        "STRIPE_API_BASE": url,
        "STRIPE_WEBHOOK_SECRET": "whsec_e2e_billing",
        "CLOCK_OFFSET_FILE": str(clock_file),
        "JOBS_POLL_INTERVAL_S": "0.5",
        # a shorter past_due grace than the day-7 re-engagement nudge, which would race the reply
        "PAST_DUE_GRACE_DAYS": "2",
    }


async def user_id(mongo: AsyncMongoClient[Any], cluster: Cluster, number: str) -> str:
    user = await databases(mongo, cluster)["ingress"].users.find_one({"phone": number})
    assert user is not None
    return str(user["_id"])


async def stripe(
    client: httpx.AsyncClient, cluster: Cluster, type_: str, obj: dict[str, Any], at: int
) -> None:
    assert (await post_stripe(client, cluster, stripe_event(type_, obj, created=at))).status_code == 200


async def test_a_subscriber_gets_links_thanks_one_failed_payment_notice_and_an_honest_stop(
    cluster: Cluster, fake_twilio: tuple[FakeTwilio, str], fake_stripe: tuple[FakeStripe, str],
    mongo: AsyncMongoClient[Any],
) -> None:  # fmt: skip
    twilio, _ = fake_twilio
    api, _ = fake_stripe
    number, now = "+14155550191", int(time.time())
    async with httpx.AsyncClient(timeout=10) as client:
        phone = Phone(client, cluster, twilio, number)
        assert "free trial" in (await phone.text("hi") or "")
        user = await user_id(mongo, cluster, number)
        monthly = await phone.text("BILLING") or ""  # no customer yet: a checkout link
        assert api.sessions[-1]["price"] == "price_e2e_monthly" and api.sessions[-1]["url"] in monthly
        annual = await phone.text("ANNUAL") or ""
        assert api.sessions[-1]["price"] == "price_e2e_annual" and api.sessions[-1]["url"] in annual
        assert "$99 a year" in annual

        before = len(phone.replies())
        checkout = {
            "id": "cs_e2e",
            "client_reference_id": user,
            "customer": "cus_e2e",
            "subscription": "sub_e2e",
        }
        await stripe(client, cluster, "checkout.session.completed", checkout, now)
        await stripe(client, cluster, "customer.subscription.updated",
                     {"id": "sub_e2e", "customer": "cus_e2e", "status": "active"}, now + 1)  # fmt: skip
        await eventually(lambda: any("Thank you for subscribing" in r for r in phone.replies()[before:]))

        portal = await phone.text("BILLING") or ""  # a customer now: the billing portal
        [session] = api.portal_sessions
        assert session["customer"] == "cus_e2e" and session["url"] in portal

        failed = {"id": "in_e2e", "customer": "cus_e2e", "subscription": "sub_e2e"}
        for n in range(2):  # Stripe's retry of the same invoice fails again: told once
            await stripe(client, cluster, "invoice.payment_failed", failed, now + 10 + n)
        await eventually(lambda: any("didn't go through" in r for r in phone.replies()))
        await wait_until_settled(cluster)
        told = [r for r in phone.replies() if "didn't go through" in r]
        assert len(told) == 1 and api.portal_sessions[-1]["url"] in told[0]

        stop = await phone.text("STOP") or ""
        assert "subscription continues" in stop and "BILLING" in stop


async def test_an_early_event_is_parked_and_past_due_ends_access_after_its_grace(
    cluster: Cluster, fake_twilio: tuple[FakeTwilio, str], fake_stripe: tuple[FakeStripe, str],
    mongo: AsyncMongoClient[Any], clock_file: Path,
) -> None:  # fmt: skip
    twilio, _ = fake_twilio
    api, _ = fake_stripe
    db = databases(mongo, cluster)
    number, now = "+14155550192", int(time.time())
    async with httpx.AsyncClient(timeout=10) as client:
        phone = Phone(client, cluster, twilio, number)
        for words in ("hi", "I'm Ana", "my husband", "dementia", "94110"):  # onboarding done
            await phone.text(words)
        user = await user_id(mongo, cluster, number)
        # the subscription and its invoice arrive before the checkout that names the caregiver
        await stripe(client, cluster, "customer.subscription.updated",
                     {"id": "sub_p", "customer": "cus_p", "status": "active"}, now + 1)  # fmt: skip
        await stripe(client, cluster, "invoice.paid", {"id": "in_p", "customer": "cus_p"}, now + 2)
        await wait_until_settled(cluster)  # acknowledged, not retried: nothing holds the partition
        assert await db["billing"].parked_stripe_events.count_documents({}) == 2
        assert (await db["billing"].billing_accounts.find_one({"_id": user}) or {})["status"] == "trialing"
        checkout = {"id": "cs_p", "client_reference_id": user, "customer": "cus_p", "subscription": "sub_p"}
        await stripe(client, cluster, "checkout.session.completed", checkout, now)

        async def account(**fields: Any) -> bool:
            doc = await db["billing"].billing_accounts.find_one({"_id": user}) or {}
            return all(doc.get(k) == v for k, v in fields.items())

        await eventually(lambda: account(status="active", last_invoice_paid_at_invoice="in_p"))
        assert await db["billing"].parked_stripe_events.count_documents({}) == 0

        await stripe(client, cluster, "customer.subscription.updated",
                     {"id": "sub_p", "customer": "cus_p", "status": "past_due"}, now + 10)  # fmt: skip
        await eventually(lambda: account(status="past_due"))
        move_clock(clock_file, timedelta(days=2, hours=1))  # the grace period (2 days here) is over

        async def projected(entitled: bool) -> bool:
            state = await db["conversation"].conversation_state.find_one({"_id": user}) or {}
            return (state.get("entitlement") or {}).get("entitled") is entitled

        await eventually(lambda: projected(False), timeout_s=30)
        overdue = await phone.text("are you there?") or ""
        assert "update your card" in overdue and "trial" not in overdue
        assert api.portal_sessions[-1]["customer"] == "cus_p" and api.portal_sessions[-1]["url"] in overdue


async def test_the_trial_warning_goes_out_once_three_days_before_the_end(
    cluster: Cluster, fake_twilio: tuple[FakeTwilio, str], clock_file: Path
) -> None:
    twilio, _ = fake_twilio
    async with httpx.AsyncClient(timeout=10) as client:
        phone = Phone(client, cluster, twilio, "+14155550193")
        await phone.text("hi")
        move_clock(clock_file, timedelta(days=11, hours=1))  # the trial (14 days) ends in 3 days
        await eventually(lambda: any("trial ends in 3 days" in r for r in phone.replies()), timeout_s=30)
        move_clock(clock_file, timedelta(days=12))
        await wait_until_settled(cluster)
        assert sum("trial ends in" in r for r in phone.replies()) == 1
