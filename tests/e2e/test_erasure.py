"""An erasure that erases (issue 14, item 4), on real processes: after erasing a caregiver with a
conversation, a crisis alert, a subscription and pending jobs, no collection of any service and
no message of any stream holds their number or anything they wrote; their subscription is
cancelled at Stripe; a late copy of an earlier event re-creates nothing; and the same number
texting again is a new caregiver, answered at once, a crisis included."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import nats as nats_client
import pytest
from bson import json_util
from nats.js.errors import NotFoundError
from pymongo import AsyncMongoClient

from careline_contracts import subjects
from careline_platform.admin_tokens import mint_token
from careline_testing.fakes import FakeStripe, FakeTwilio
from careline_testing.processes import Cluster
from careline_testing.servers import ServerProcess
from careline_testing.signing import stripe_event
from careline_testing.waiting import eventually

from .helpers import databases, post_stripe, wait_until_settled
from .test_conversation_journey import Phone

pytestmark = pytest.mark.asyncio
SECRET = "e2e-admin-jwt-secret-0123456789abcdef"
ADMIN = "usr_bootstrap_admin"
NUMBER = "+14155550177"
DIGITS = NUMBER.removeprefix("+")
NAME = "Zephyrine"
CRISIS = "i am going to kill myself tonight"
WORDS = (NAME, CRISIS, "Quillbottom")  # everything distinctive the caregiver wrote


@pytest.fixture
def cluster_env(fake_stripe: tuple[FakeStripe, str]) -> dict[str, str]:
    _fake, url = fake_stripe
    return {
        "ADMIN_JWT_SECRET": SECRET,
        "ADMIN_USER_IDS": ADMIN,
        "STRIPE_API_KEY": "sk_test_" + "e2e" * 8,
        "STRIPE_PRICE_ID": "price_e2e_monthly",
        "STRIPE_API_BASE": url,
        "STRIPE_WEBHOOK_SECRET": "whsec_e2e_erasure",  # live Stripe has a webhook secret of its own
        "PHONE_HASH_KEY": "e2e-phone-hash-key-0123456789abcdef",
    }


async def stream_messages(nats: ServerProcess) -> dict[str, list[tuple[str, bytes, str]]]:
    """Every message (subject, body, headers) of every stream."""
    nc = await nats_client.connect(nats.url)
    found: dict[str, list[tuple[str, bytes, str]]] = {}
    try:
        js = nc.jetstream()
        for stream in subjects.ALL_STREAMS:
            try:
                state = (await js.stream_info(stream.name)).state
            except NotFoundError:
                continue
            found[stream.name] = []
            for seq in range(state.first_seq or 1, state.last_seq + 1):
                try:
                    msg = await js.get_msg(stream.name, seq)
                except NotFoundError:  # deleted
                    continue
                found[stream.name].append((msg.subject or "", msg.data or b"", str(msg.headers)))
    finally:
        await nc.close()
    return found


async def every_document(mongo: AsyncMongoClient[Any], cluster: Cluster) -> dict[str, str]:
    """Every document of every collection of every service's database, as JSON text."""
    texts: dict[str, str] = {}
    for service, db in databases(mongo, cluster).items():
        for name in await db.list_collection_names():
            docs = await db[name].find({}).to_list()
            texts[f"{service}.{name}"] = json_util.dumps(docs)
    return texts


def mentioning(texts: dict[str, str], marks: tuple[str, ...]) -> dict[str, list[str]]:
    return {
        where: [m for m in marks if m in text]
        for where, text in texts.items()
        if any(m in text for m in marks)
    }


async def test_an_erased_caregiver_leaves_nothing_and_comes_back_as_someone_new(
    cluster: Cluster,
    nats: ServerProcess,
    mongo: AsyncMongoClient[Any],
    fake_twilio: tuple[FakeTwilio, str],
    fake_stripe: tuple[FakeStripe, str],
) -> None:
    twilio, _ = fake_twilio
    stripe, _ = fake_stripe
    db = databases(mongo, cluster)
    admin = {"Authorization": f"Bearer {mint_token(SECRET, ADMIN, timedelta(hours=1))}"}
    async with httpx.AsyncClient(timeout=30) as client:
        phone = Phone(client, cluster, twilio, NUMBER)
        await phone.text("hi")
        await phone.text(NAME)
        await phone.text("Quillbottom is my mom")
        user = await db["ingress"].users.find_one({"phone": NUMBER})
        assert user is not None
        user_id = user["_id"]

        # a subscription (Stripe knows it; billing linked it through the webhook)
        stripe.subscriptions["sub_erase"] = {"id": "sub_erase", "customer": "cus_erase", "status": "active"}
        checkout = stripe_event(
            "checkout.session.completed",
            {
                "id": "cs_erase",
                "client_reference_id": user_id,
                "customer": "cus_erase",
                "subscription": "sub_erase",
            },
        )
        assert (await post_stripe(client, cluster, checkout)).status_code == 200

        async def subscribed() -> bool:
            doc = await db["billing"].billing_accounts.find_one({"_id": user_id}) or {}
            return doc.get("stripe_subscription_id") == "sub_erase"

        await eventually(subscribed, timeout_s=20)
        await eventually(lambda: any("Thank you for subscribing" in r for r in phone.replies()))

        # a crisis: answered, an alert opened, follow-ups owed a day and two days on
        reply = await phone.text(CRISIS)
        assert reply is not None and "988" in reply
        await eventually(
            lambda: db["conversation"].crisis_alerts.count_documents({"user_id": user_id}), timeout_s=20
        )
        await wait_until_settled(cluster)
        pending = {"status": "pending", "payload.user_id": user_id}
        assert await db["conversation"].jobs.count_documents(pending) >= 1  # the follow-ups
        assert await db["billing"].jobs.count_documents(pending) >= 1  # the trial's end

        # copies of earlier events, to be published again after the erasure
        before = await stream_messages(nats)
        late = [
            next(
                (s, m) for s, m, _ in before[subjects.SMS.name] if s.startswith(subjects.SMS_INBOUND_RECEIVED)
            ),
            next(
                (s, m)
                for s, m, _ in before[subjects.CONVERSATION.name]
                if s.startswith(subjects.CONVERSATION_FACT_LEARNED)
            ),
        ]
        # the search below can see them: before the erasure, both the number and the words are found
        assert set(mentioning({"streams": str(before)}, (DIGITS, *WORDS))["streams"]) == {DIGITS, *WORDS}
        found_before = mentioning(await every_document(mongo, cluster), (DIGITS, *WORDS))
        assert {m for ms in found_before.values() for m in ms} == {DIGITS, *WORDS}, found_before

        erased = await client.post(f"{cluster.base_url}/admin/caregivers/{user_id}/erase", headers=admin)
        assert erased.status_code == 200, erased.text
        confirmed = erased.json()["confirmed"]
        assert confirmed["conversation"]["jobs"] >= 1 and confirmed["billing"]["jobs"] >= 1
        assert confirmed["ingress"]["stream:SMS"] >= 1

        await eventually(lambda: stripe.cancelled == ["sub_erase"], timeout_s=20)  # no more charges
        await wait_until_settled(cluster)

        marks = (DIGITS, *WORDS)
        assert mentioning(await every_document(mongo, cluster), marks) == {}
        assert mentioning({k: str(v) for k, v in (await stream_messages(nats)).items()}, marks) == {}
        for service in ("conversation", "billing", "profile"):
            assert (
                await db[service].jobs.count_documents(
                    {"payload.user_id": user_id, "type": {"$ne": "stripe.subscription.cancel"}}
                )
                == 0
            )

        # a late copy of an earlier event (a new message id: past every de-duplication) re-creates nothing
        nc = await nats_client.connect(nats.url)
        try:
            js = nc.jetstream()
            for n, (subject, body) in enumerate(late):
                await js.publish(subject, body, headers={"Nats-Msg-Id": f"late-copy-{n}"})
        finally:
            await nc.close()
        await wait_until_settled(cluster)
        assert await db["conversation"].conversation_state.count_documents({"_id": user_id}) == 0
        assert await db["profile"].user_profiles.count_documents({"_id": user_id}) == 0
        assert await db["billing"].billing_accounts.count_documents({"_id": user_id}) == 0
        assert await db["ingress"].users.count_documents({"_id": user_id}) == 0

        # the same number, again: a new caregiver, answered at once, a crisis too
        again = await phone.text(CRISIS)
        assert again is not None and "988" in again
        renewed = await db["ingress"].users.find_one({"phone": NUMBER})
        assert renewed is not None and renewed["_id"] != user_id
