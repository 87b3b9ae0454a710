"""Billing's texts as conversation sends them: the right words for each situation, in English and
Spanish, sized to SMS segments, once per notice; BILLING/ANNUAL ask billing for a link; STOP
from a subscriber says how to cancel the subscription."""

from __future__ import annotations

from typing import get_args

import pytest

from careline_contracts.billing import BillingNoticeReady, CheckoutLinkReady, Notice
from careline_contracts.conversation import CheckoutRequested
from careline_contracts.jobs import SendSmsJob
from careline_conversation import handlers
from careline_conversation.domain import replies
from careline_conversation.safety.sizing import segments
from careline_testing.uow import delivery
from tests.unit.conversation.fakes import USER, conversation, settled, text

pytestmark = pytest.mark.asyncio
URL = "https://checkout.stripe.com/c/pay/cs_live_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8s9T0"
"""A checkout session link as long as Stripe's (without the fragment, which browsers keep local)."""

BILLING_KEYS = [k for k in replies.keys() if k.startswith(("checkout", "notice_")) or k == "stop_subscribed"]  # noqa: SIM118 (a module function)
SUBSCRIBED = {"entitled": True, "status": "active", "subscribed": True}


@pytest.mark.parametrize("key", BILLING_KEYS)
@pytest.mark.parametrize("language", ["en", "es"])
async def test_every_billing_text_fits_three_segments_with_its_link(key: str, language: str) -> None:
    words = replies.text(key, language).format(url=URL, when=replies.days_phrase(30, language))
    assert segments(words) <= 3, words
    assert "{" not in words


async def test_there_is_a_text_for_every_situation_and_notice() -> None:
    for situation in ("new", "lapsed", "payment", "incomplete", "asked"):
        assert URL in replies.checkout_message(URL, "es", situation)
    assert "$99" in replies.checkout_message(URL, "en", "asked", "annual")
    for notice in get_args(Notice):
        assert replies.billing_notice(notice, "en", url=URL, days=3)
    assert "3 days" in replies.billing_notice("trial_ending", "en", days=3)
    assert "1 día" in replies.billing_notice("trial_ending", "es", days=1)


@pytest.mark.parametrize("situation", ["lapsed", "payment", "incomplete", "asked"])
async def test_a_lapsed_subscriber_never_hears_that_their_trial_ended(situation: str) -> None:
    assert "trial" not in replies.checkout_message(URL, "en", situation).lower()
    assert "prueba" not in replies.checkout_message(URL, "es", situation).lower()
    assert "trial has ended" in replies.checkout_message(URL, "en", "new")


async def test_the_welcome_mentions_the_free_trial() -> None:
    assert "free trial" in replies.welcome("en") and "prueba gratis" in replies.welcome("es").lower()


async def test_a_checkout_link_comes_with_its_situations_words() -> None:
    conv = conversation()
    conv.repo.states[USER] = settled()
    link = CheckoutLinkReady(
        occurred_at=conv.uow.now, user_id=USER, session_id="cs_1", url=URL, situation="lapsed"
    )
    await handlers.on_checkout_link_ready(link, delivery("l1"), conv.uow)
    [sms] = conv.uow.jobs(SendSmsJob)
    assert sms.job.body == replies.checkout_message(URL, "en", "lapsed")  # type: ignore[attr-defined]


async def test_a_notice_is_texted_once_in_the_caregivers_language_and_never_after_stop() -> None:
    conv = conversation()
    conv.repo.states[USER] = settled(language={"code": "es"})
    notice = BillingNoticeReady(
        occurred_at=conv.uow.now,
        user_id=USER,
        notice="payment_failed",
        notice_id="payment_failed:in_1",
        url=URL,
    )
    await handlers.on_billing_notice_ready(notice, delivery("n1"), conv.uow)
    await handlers.on_billing_notice_ready(notice, delivery("n2"), conv.uow)  # a redelivery past the window
    [sms] = conv.uow.jobs(SendSmsJob)
    assert sms.key == "sms:notice:payment_failed:in_1" and sms.actor == USER
    assert sms.job.body == replies.billing_notice("payment_failed", "es", url=URL)  # type: ignore[attr-defined]

    stopped = conversation()
    stopped.repo.states[USER] = settled(opted_out=True)
    await handlers.on_billing_notice_ready(notice, delivery("n1"), stopped.uow)
    assert stopped.uow.scheduled == []


@pytest.mark.parametrize(
    ("words", "plan"),
    [
        ("BILLING", "monthly"),
        ("billing", "monthly"),
        ("Factura", "monthly"),
        ("ANNUAL", "annual"),
        ("anual", "annual"),
    ],
)
async def test_billing_and_annual_ask_billing_for_a_link(words: str, plan: str) -> None:
    conv = conversation()
    conv.repo.states[USER] = settled()
    await text(conv, words, sid="SM7")
    [asked] = [e for e in conv.uow.emitted if isinstance(e.event, CheckoutRequested)]
    assert asked.event.asked is True and asked.event.plan == plan  # type: ignore[attr-defined]
    assert asked.msg_id == "billing-request:SM7"
    assert conv.uow.jobs(SendSmsJob) == []  # the link is the reply


async def test_a_sentence_about_billing_is_conversation_not_the_keyword() -> None:
    conv = conversation()
    conv.repo.states[USER] = settled()
    await text(conv, "billing is so confusing for mom's insurance", sid="SM8")
    assert not [e for e in conv.uow.emitted if isinstance(e.event, CheckoutRequested)]


@pytest.mark.parametrize("word", ["STOP", "cancel", "baja"])
async def test_stop_from_a_subscriber_says_the_subscription_goes_on_and_how_to_cancel_it(word: str) -> None:
    conv = conversation()
    conv.repo.states[USER] = settled(entitlement=SUBSCRIBED)
    await text(conv, word)
    [sms] = conv.uow.jobs(SendSmsJob)
    body = sms.job.body or ""  # type: ignore[attr-defined]
    assert body == replies.text("stop_subscribed", "es" if word == "baja" else "en")
    assert "START" in body and ("BILLING" in body or "FACTURA" in body)


async def test_stop_without_a_subscription_is_the_plain_confirmation() -> None:
    conv = conversation()
    conv.repo.states[USER] = settled(
        entitlement={"entitled": True, "status": "trialing", "subscribed": False}
    )
    await text(conv, "STOP")
    [sms] = conv.uow.jobs(SendSmsJob)
    assert sms.job.body == replies.text("stop")  # type: ignore[attr-defined]
