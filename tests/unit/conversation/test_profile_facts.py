"""Reading profile facts from a caregiver's words: lenient for the answer asked, strict otherwise."""

from __future__ import annotations

import pytest

from careline_conversation.domain import profile_facts
from careline_conversation.domain.profile_facts import parse, volunteered

ANSWERS = [
    ("first_name", "Maria", "en", "Maria"),
    ("first_name", "  maria. ", "en", "Maria"),
    ("first_name", "I'm Ana", "en", "Ana"),
    ("first_name", "i'm maria", "en", "Maria"),
    ("first_name", "my name is Jo-Ann", "en", "Jo-Ann"),
    ("first_name", "Hi, I am Maria", "en", "Maria"),
    ("first_name", "soy María", "es", "María"),
    ("first_name", "me llamo José Luis", "es", "José Luis"),
    ("first_name", "mi nombre es Zoë", "es", "Zoë"),
    ("first_name", "Maria Lopez", "en", "Maria Lopez"),
    ("first_name", "zoë núñez", "en", "Zoë Núñez"),
    ("first_name", "MARÍA", "es", "María"),
    ("first_name", "DeShawn", "en", "DeShawn"),
    ("first_name", "hello", "en", None),
    ("first_name", "thanks", "en", None),
    ("first_name", "I'm exhausted, she was up all night", "en", None),
    ("first_name", "I am so tired", "en", None),
    ("first_name", "estoy cansada", "es", None),
    ("first_name", "my mother has dementia and I am so tired", "en", None),
    ("first_name", "1234", "en", None),
    ("relationship", "my husband", "en", "spouse"),
    ("relationship", "mi esposo", "es", "spouse"),
    ("relationship", "mi mamá", "es", "parent"),
    ("relationship", "mi mama", "es", "parent"),
    ("relationship", "Mom", "en", "parent"),
    ("relationship", "my mother-in-law", "en", "parent"),
    ("relationship", "I care for my father-in-law", "en", "parent"),
    ("relationship", "my husband and I care for his mother", "en", "parent"),
    ("relationship", "cuido a mi suegra", "es", "parent"),
    ("relationship", "our son", "en", "child"),
    ("relationship", "mi hija", "es", "child"),
    ("relationship", "my grandmother", "en", "other"),
    ("relationship", "otra", "es", "other"),
    ("relationship", "it's complicated", "en", None),
    ("condition", "dementia", "en", "dementia"),
    ("condition", "Dementia.", "en", "dementia"),
    ("condition", "demencia", "es", "demencia"),
    ("condition", "alzheimers", "en", "Alzheimer's"),
    ("condition", "Alzhiemer's", "en", "Alzheimer's"),
    ("condition", "tiene alzheimer", "es", "alzhéimer"),
    ("condition", "parkinsons", "en", "Parkinson's"),
    ("condition", "she had a stroke", "en", "stroke"),
    ("condition", "cancer", "en", "cancer"),
    ("condition", "dementia and diabetes", "en", "dementia and diabetes"),
    ("condition", "macular degeneration", "en", "macular degeneration"),
    ("condition", "I am exhausted", "en", None),
    ("condition", "she is fine", "en", None),
    ("condition", "what do you mean?", "en", None),
    ("zip", "94110", "en", "94110"),
    ("zip", "my zip is 02139-1234", "en", "02139"),
    ("zip", "9411", "en", None),
    ("zip", "941100", "en", None),
    ("zip", "call me at 4155550101", "en", None),
]


@pytest.mark.parametrize(
    ("field", "text", "language", "value"),
    ANSWERS,
    ids=[f"{field}:{text.strip()}" for field, text, _language, _value in ANSWERS],
)
def test_an_answer_is_read_for_the_question_asked(
    field: str, text: str, language: str, value: str | None
) -> None:
    assert parse(field, text, language) == value  # type: ignore[arg-type]


STATED = [
    (
        "Hi, I'm Maria, I care for my mom with dementia in 60614",
        "en",
        {"first_name": "Maria", "relationship": "parent", "condition": "dementia", "zip": "60614"},
    ),
    (
        "soy María y cuido a mi mamá que tiene alzheimer",
        "es",
        {"first_name": "María", "relationship": "parent", "condition": "alzhéimer"},
    ),
    (
        "me llamo José Luis, mi esposa tiene párkinson",
        "es",
        {"first_name": "José Luis", "relationship": "spouse", "condition": "párkinson"},
    ),
    (
        "my name is zoë and my husband has Parkinsons",
        "en",
        {"first_name": "Zoë", "relationship": "spouse", "condition": "Parkinson's"},
    ),
    ("Is there respite care near me? I'm in 60614", "en", {"zip": "60614"}),
    ("60614", "en", {"zip": "60614"}),
    ("I'm exhausted, she was up all night", "en", {}),
    ("i'm so tired", "en", {}),
    ("We pay $12000 a month for her care home", "en", {}),
    ("she has 10000 reasons to be grumpy", "en", {}),
    ("my mom and my sister fight all the time", "en", {}),
]


@pytest.mark.parametrize(("text", "language", "facts"), STATED, ids=[t for t, _l, _f in STATED])
def test_facts_stated_outright_are_read_from_any_message(
    text: str, language: str, facts: dict[str, str]
) -> None:
    assert volunteered(text, language) == facts  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text", ["skip", "SKIP", "Skip.", "no", "saltar", "prefiero no decir", "no sé", "not sure"]
)
def test_skip_words_in_either_language(text: str) -> None:
    assert profile_facts.is_skip(text)


@pytest.mark.parametrize("text", ["skip it for my mom", "Maria", "no, she has dementia"])
def test_a_sentence_is_not_a_skip(text: str) -> None:
    assert not profile_facts.is_skip(text)
