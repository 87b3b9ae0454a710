"""Spanish throughout conversation: every fixed text in both languages and within its budget,
the welcome, keywords, notices and links in the caregiver's language, profile told of it, and
a name with accents kept exactly as written."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from careline_contracts.billing import CheckoutLinkReady
from careline_contracts.conversation import AssessmentRequested, FactLearned
from careline_contracts.ingress import SmsReceived
from careline_contracts.jobs import SendSmsJob
from careline_conversation import handlers
from careline_conversation.agents import AgentContext, RulesAgent
from careline_conversation.domain import onboarding, ratelimit, replies
from careline_conversation.domain.language import Detection
from careline_conversation.domain.turn import decide
from careline_conversation.safety.catalogue import unknown_contacts
from careline_conversation.safety.keywords import Keyword, parse_keyword, spanish_keyword
from careline_conversation.safety.sizing import is_gsm7, normalise_for_gsm, segments
from careline_testing.uow import delivery
from tests.unit.conversation.fakes import Conversation, conversation

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
LIMITS = ratelimit.RateLimits(per_window=20, window=timedelta(minutes=10), per_day=30)
SPANISH = Detection("es", 0.97, 6)
USER, PHONE = "u1", "+14155550100"


def spanish_speaker(**fields: Any) -> dict[str, Any]:
    return {
        "welcomed": True,
        "onboarding": {"field": None, "tries": 0},
        "language": {"code": "es", "by": "keyword", "at": NOW},
        **fields,
    }


# Budgets in segments: the confirmations one in GSM-7 (two if an accent makes them UCS-2); the
# welcome, the help text, the billing texts (a link, or how to cancel a subscription) two with
# this short link (test_billing_texts: three with one as long as Stripe's).
BUDGET = {"welcome": 2, "help": 2, "switch": 1, "stop_subscribed": 2} | {
    key: 2
    for key in replies.keys()  # noqa: SIM118 (replies is a module: keys() is its function)
    if key.startswith(("checkout", "notice_"))
}


@pytest.mark.parametrize("key", replies.keys())
def test_every_fixed_text_is_in_both_languages_within_budget_and_names_only_catalogue_contacts(
    key: str,
) -> None:
    english, spanish = replies.text(key, "en"), replies.text(key, "es")
    assert english != spanish
    for text in (english, spanish):
        filled = text.format(url="https://checkout.stripe.com/c/pay/cs_test_1", every=10, when="45 min")
        assert segments(filled) <= BUDGET.get(key, 1 if is_gsm7(filled) else 2), (key, filled)
        assert unknown_contacts(filled, allowed_links_extra=("checkout.stripe.com",)) == [], key


def test_the_welcome_and_the_first_question_fit_two_gsm7_segments_in_spanish() -> None:
    """The Spanish welcome avoids á, í, ó, ú on purpose: GSM-7 holds twice what UCS-2 does."""
    assert is_gsm7(replies.welcome("es"))
    first = f"{replies.welcome('es')} {onboarding.question('first_name', 'es')}"
    assert segments(first) <= 3


def test_a_new_caregiver_who_writes_in_spanish_is_welcomed_in_spanish() -> None:
    t = decide(
        None, "hola, necesito ayuda con mi mamá que tiene demencia", NOW, LIMITS, [NOW], detected=SPANISH
    )
    assert t.kind == "welcome" and t.reply is not None and t.reply.startswith(replies.welcome("es"))
    assert t.language == "es" and t.language_changed


@pytest.mark.parametrize(
    ("word", "keyword"),
    [("ayuda", Keyword.HELP), ("AYUDA", Keyword.HELP), ("información", Keyword.HELP), ("Baja", Keyword.STOP),
     ("parar", Keyword.STOP), ("alto!", Keyword.STOP), ("comenzar", Keyword.START)],
)  # fmt: skip
def test_spanish_keywords(word: str, keyword: Keyword) -> None:
    assert parse_keyword(word) is keyword and spanish_keyword(word)
    assert parse_keyword(f"{word} por favor") is None  # a keyword is the whole message


def test_a_spanish_keyword_is_answered_in_spanish_when_the_language_is_not_known() -> None:
    unknown = {"welcomed": True, "onboarding": {"field": None, "tries": 0}}
    assert decide(unknown, "ayuda", NOW, LIMITS, [NOW]).reply == replies.text("help", "es")
    assert decide(unknown, "help", NOW, LIMITS, [NOW]).reply == replies.text("help", "en")
    english = {**unknown, "language": {"code": "en", "by": "keyword", "at": NOW}}
    assert decide(english, "ayuda", NOW, LIMITS, [NOW]).reply == replies.text("help", "en")


def test_stop_start_help_and_the_rate_notice_are_in_the_caregivers_language() -> None:
    stopped = decide(spanish_speaker(), "STOP", NOW, LIMITS, [NOW])
    assert stopped.reply == replies.text("stop", "es") and stopped.opted_out is True
    started = decide(spanish_speaker(opted_out=True), "START", NOW, LIMITS, [NOW])
    assert started.reply == replies.text("start", "es")
    assert decide(spanish_speaker(), "HELP", NOW, LIMITS, [NOW]).reply == replies.text("help", "es")
    flood = [NOW - timedelta(seconds=n) for n in range(25)]
    notice = decide(spanish_speaker(), "hola?", NOW, LIMITS, flood)
    assert notice.kind == "rate:notice" and notice.reply is not None
    assert notice.reply.startswith("Recibo muchos mensajes seguidos") and "988" in notice.reply


def test_spanish_check_in_words_ask_for_an_assessment() -> None:
    for words, instrument in (("revisión", "checkin"), ("chequeo", "checkin"), ("evaluación", "burnout")):
        assert decide(spanish_speaker(), words, NOW, LIMITS, [NOW]).request_assessment == instrument


async def text(conv: Conversation, body: str, sid: str) -> None:
    event = SmsReceived(occurred_at=conv.uow.now, message_sid=sid, user_id=USER, phone=PHONE, body=body)
    await handlers.on_sms_received(event, delivery(f"twilio:{sid}"), conv.uow, conv.services)


@pytest.mark.asyncio
async def test_profile_is_told_the_language_once_and_each_assessment_request_carries_it() -> None:
    conv = conversation()

    async def detect(_: str) -> Detection:
        return SPANISH

    conv = replace(conv, services=replace(conv.services, detect_language=detect))
    conv.repo.states[USER] = {"_id": USER, "phone": PHONE, "welcomed": True, "onboarding": {"field": None}}
    await text(conv, "estoy muy cansada, mi esposo no duerme", "SM1")
    await text(conv, "check in", "SM2")
    facts = [e for e in conv.uow.emitted if isinstance(e.event, FactLearned) and e.event.field == "language"]
    assert [(f.msg_id, f.event.value) for f in facts] == [("fact:SM1:language", "es")]  # type: ignore[attr-defined]
    [asked] = [e.event for e in conv.uow.emitted if isinstance(e.event, AssessmentRequested)]
    assert asked.language == "es"  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_the_checkout_link_is_explained_in_spanish() -> None:
    conv = conversation()
    conv.repo.states[USER] = {"_id": USER, "phone": PHONE, **spanish_speaker()}
    link = CheckoutLinkReady(
        occurred_at=conv.uow.now, user_id=USER, session_id="cs_1", url="https://pay.example/x"
    )
    await handlers.on_checkout_link_ready(link, delivery("l1"), conv.uow)
    [sms] = conv.uow.jobs(SendSmsJob)
    assert sms.job.body == replies.checkout_message("https://pay.example/x", "es")  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["María", "José", "Zoë", "Ramón", "Inés", "Núñez", "Björn"])
def test_a_name_with_accents_is_kept_and_the_reply_is_sized_as_ucs2_when_it_needs_it(name: str) -> None:
    text = f"Hola {name}, gracias por escribir. Aquí estoy."
    assert name in normalise_for_gsm(text, keep=(name,))
    if not is_gsm7(name):  # without the name to keep, the accent would go for GSM-7
        assert name not in normalise_for_gsm(f"Hi {name}, thanks!")
    state = {"facts": {"first_name": name}}
    shaped = handlers.shaped(f"You're not alone, {name}. " + "Caring is a lot of work. " * 20, state)
    assert name in shaped and segments(shaped) <= 3
    assert is_gsm7(shaped) == is_gsm7(name)  # é, ñ, ö are GSM-7; í, á, ó, ë are not


def test_accents_are_dropped_only_when_that_makes_the_text_gsm7() -> None:
    assert normalise_for_gsm("Está bien, mamá") == "Esta bien, mama"  # GSM-7: a third of the cost
    assert normalise_for_gsm("Está bien, mamá 💛") == "Está bien, mamá 💛"  # UCS-2 anyway: kept


@pytest.mark.asyncio
@pytest.mark.parametrize("language", ["en", "es"])
async def test_the_rules_agent_keeps_an_accented_name_within_three_segments(language: str) -> None:
    for n in range(30):
        context = AgentContext(
            message="is there respite care near me? I'm in 60614",
            first_name="María",
            relationship="parent",
            condition="Alzheimer's",
            zip_code="60614",
            language=language,  # type: ignore[arg-type]
            message_id=f"SM{n}",
        )
        reply = (await RulesAgent().reply(context)).text
        if "María" in reply:
            assert segments(normalise_for_gsm(reply, keep=("María",))) <= 3, reply
        assert unknown_contacts(reply) == []


def test_a_spanish_reply_keeps_its_accents_when_they_fit_and_drops_them_only_to_fit() -> None:
    spanish = {"language": {"code": "es", "by": "keyword"}}
    short = "Está bien sentirse así. ¿Qué te ayudaría hoy?"
    assert handlers.shaped(short, spanish) == short
    assert handlers.shaped(short, {}) == "Esta bien sentirse asi. ¿Qué te ayudaria hoy?"  # é is GSM-7
    long = "Aquí estoy contigo. " * 12  # 240 characters: four UCS-2 segments, two in GSM-7
    shaped = handlers.shaped(long, spanish)
    assert shaped == long.translate(str.maketrans("í", "i")) and segments(shaped) == 2


@pytest.mark.asyncio
async def test_the_rules_agents_spanish_replies_keep_their_accents() -> None:
    kept = 0
    for n in range(20):
        context = AgentContext(message="estoy muy cansada", language="es", message_id=f"SM{n}")
        reply = handlers.shaped((await RulesAgent().reply(context)).text, {"language": {"code": "es"}})
        kept += any(ch in reply for ch in "áíóú")
        assert segments(reply) <= 3
    assert kept >= 10


@pytest.mark.parametrize("greeting", ["hola", "Hola!", "buenas tardes", "Buenos días", "hola buenas noches"])
def test_a_spanish_greeting_first_is_welcomed_in_spanish_and_the_next_sentence_still_decides(
    greeting: str,
) -> None:
    t = decide(None, greeting, NOW, LIMITS, [NOW])
    assert t.reply is not None and t.reply.startswith(replies.welcome("es")) and t.language == "es"
    assert t.set_state["language"]["decisive"] == 0 and t.language_changed
    english = Detection("en", 0.99, 8)
    state = {**t.set_state, "welcomed": True}
    after = decide(
        state, "actually I prefer English, my mom has dementia", NOW, LIMITS, [NOW], detected=english
    )
    assert after.language == "en"


def test_an_english_welcome_says_how_to_get_spanish_and_hello_is_not_spanish() -> None:
    assert "ESPAÑOL" in replies.welcome("en")
    t = decide(None, "hello", NOW, LIMITS, [NOW])
    assert t.reply is not None and t.reply.startswith(replies.welcome("en")) and t.language == "en"
