"""The rules agent answers by intent: tips from data, the caregiver's name, varied, check-in rules."""

from __future__ import annotations

import itertools

import pytest

from careline_conversation.agents import AgentContext, RulesAgent
from careline_conversation.domain import replies
from careline_conversation.intents import intents
from careline_conversation.intents.tips import answers, library
from careline_conversation.safety import catalogue
from careline_conversation.safety.sizing import normalise_for_gsm, segments

pytestmark = pytest.mark.asyncio

MESSAGES = {
    "respite": "is there respite care near me",
    "sleep": "he's up all night and so am i",
    "venting": "ugh what a day",
    "exhaustion": "im exhausted",
    "grief": "My mom passed away last night",
    "greeting": "hi",
    "other": "mom has a doctor visit on tuesday",
}


async def answer(message: str, **known: object) -> str:
    return (await RulesAgent().reply(AgentContext(message=message, **known))).text  # type: ignore[arg-type]


async def test_the_reply_uses_the_name_and_who_they_care_for() -> None:
    text = await answer("how do i keep track of all her meds", first_name="María", message_id="SM1")
    assert "María" in text
    texts = {await answer("he's up all night", relationship="spouse", message_id=f"SM{n}") for n in range(20)}
    assert any("For your partner:" in t for t in texts)
    assert not any("{" in t for t in texts)


async def test_a_spanish_message_gets_a_spanish_reply() -> None:
    text = await answer("no duermo nada, se despierta toda la noche", message_id="SM2")
    assert any(ack.format(name="") in text for ack in library().intents["sleep"].acks["es"])


async def test_the_same_message_id_gets_the_same_words() -> None:
    assert await answer("ugh what a day", message_id="SMa") == await answer(
        "ugh what a day", message_id="SMa"
    )


@pytest.mark.parametrize("message", MESSAGES.values(), ids=MESSAGES.keys())
async def test_never_the_same_reply_twice_in_a_row(message: str) -> None:
    recent: list[dict[str, object]] = []
    for n in range(12):
        text = await answer(message, message_id=f"SM{n}", recent=tuple(recent))
        assert not recent or text != recent[-1]["text"]
        recent += [{"dir": "in", "text": message}, {"dir": "out", "text": text}]


@pytest.mark.parametrize("message", [MESSAGES["venting"], MESSAGES["exhaustion"], MESSAGES["grief"]])
async def test_distress_never_gets_a_check_in_offer(message: str) -> None:
    for n in range(30):
        assert "CHECK IN" not in await answer(message, message_id=f"SM{n}")


async def test_the_check_in_offer_is_one_next_step_among_several() -> None:
    texts = {await answer(MESSAGES["sleep"], message_id=f"SM{n}") for n in range(40)}
    offers = [t for t in texts if "CHECK IN" in t]
    assert offers and len(texts) > len(offers)


async def test_no_check_in_offer_right_after_a_check_in() -> None:
    recent = ({"dir": "out", "text": "Thanks, that check-in is done. Your score is 12."},)
    for n in range(40):
        assert "CHECK IN" not in await answer(MESSAGES["sleep"], message_id=f"SM{n}", recent=recent)


async def test_a_zip_is_asked_for_only_when_unknown() -> None:
    asks = [await answer("is there respite care near me", message_id=f"SM{n}") for n in range(10)]
    assert all("Share your ZIP" in t for t in asks)
    assert "ZIP" not in await answer("is there respite care near me", zip_code="60614", message_id="SM1")
    assert "ZIP" not in await answer("is there respite care near me? im in 60614", message_id="SM1")


async def test_a_zip_that_places_the_caregiver_brings_the_help_near_them() -> None:
    """Issue 15: "Is there respite care near me? I'm in 60614" gets Illinois's own line and the
    respite locator, every id seeded the same way (no check-in offer in place of the answer)."""
    for n in range(10):
        text = await answer("Is there respite care near me? I'm in 60614", message_id=f"SM{n}")
        assert "1-800-252-8966" in text and "archrespite.org" in text, text
        assert "CHECK IN" not in text and "ZIP" not in text
    spanish = await answer("hay respiro cerca? vivo en 78701", message_id="SM1")
    assert "1-855-937-2372" in spanish  # Texas's aging services line
    unplaced = await answer("is there respite care near me", zip_code="00000", message_id="SM1")
    assert "1-800-252-8966" not in unplaced and "1-855-937-2372" not in unplaced


async def test_after_a_crisis_only_the_gentle_reply() -> None:
    assert await answer("is there respite care near me", post_crisis="suicide_self") == replies.gentle()


async def test_every_intent_has_tips_in_both_languages() -> None:
    lib = library()
    assert set(intents().ids) | {"other"} == set(lib.intents)
    for entry in lib.intents.values():
        assert len(entry.tips) >= 2 and entry.acks["en"] and entry.acks["es"]
        assert all(tip.text["en"] and tip.text["es"] for tip in entry.tips)


async def test_every_contact_in_a_tip_belongs_to_the_resource_it_names() -> None:
    for intent_id, entry in library().intents.items():
        for tip in entry.tips:
            for text in tip.text.values():
                found = catalogue.numbers_in(text) + catalogue.links_in(text)
                if not found:
                    continue
                assert tip.resource, f"{intent_id}: a contact without a resource: {text}"
                resource = catalogue.catalogue().resource(tip.resource)
                numbers = {catalogue.normalise_number(n) for n in resource.numbers}
                links = {catalogue.normalise_link(link) for link in resource.links}
                assert set(found) <= numbers | links, f"{intent_id}: {text}"


async def test_every_reply_names_only_catalogue_contacts_and_fits_three_segments() -> None:
    lib = library()
    known = [
        {},
        {"first_name": "Guadalupe-Maria", "relationship": "child", "condition": "Lewy body dementia"},
    ]
    langs = ("en", "es")
    for (intent_id, entry), who, n, lang in itertools.product(lib.intents.items(), known, range(6), langs):
        for tip in entry.tips:
            assert not catalogue.unknown_contacts(tip.text[lang]), tip.text[lang]
        text = await answer(MESSAGES.get(intent_id, intent_id), message_id=f"SM{n}", language=lang, **who)
        assert not catalogue.unknown_contacts(text), text
        assert segments(normalise_for_gsm(text)) <= 3, text


async def test_the_test_helper_recognises_any_seeded_answer_and_nothing_else() -> None:
    """careline_testing.replies, which e2e tests use instead of one fixed phrase."""
    for n in range(12):
        assert answers(await answer("I'm so tired", first_name="Ana", message_id=f"SM{n}"), "I'm so tired")
    assert not answers("Thanks for texting Careline.", "I'm so tired")
    assert not answers(await answer("thank you so much", message_id="SM1"), "I'm so tired")


@pytest.mark.parametrize(
    ("message", "words"),
    [
        ("how do I get her to bathe, she refuses", "bath or shower"),
        ("he refuses to shower, every single time", "bath or shower"),
        ("no se quiere bañar ni duchar", "baño o ducha"),
        ("no quiere tomar las pastillas", "pastillas"),
    ],
)
async def test_the_tip_that_shares_the_messages_words_comes_first(message: str, words: str) -> None:
    """Whatever the seed, the tip about what the caregiver named is chosen (the intent's own
    words, such as "refuses", do not count: every refusal shares them)."""
    for n in range(8):
        reply = (await RulesAgent().reply(AgentContext(message=message, message_id=f"SM{n}"))).text
        assert words in reply, reply


async def test_no_check_in_offer_when_the_turn_adds_one_after_the_agents_words() -> None:
    """Onboarding's closing words offer a first check-in; the agent's words before them do not."""
    closing = (
        "Thank you, Priya. I'm here whenever you want to talk. For a first 2-minute check-in, reply CHECK IN."
    )
    for n in range(20):
        context = AgentContext(message="mom has a doctor visit on tuesday", message_id=f"SM{n}", then=closing)
        assert "CHECK IN" not in (await RulesAgent().reply(context)).text
