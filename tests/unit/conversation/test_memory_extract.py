"""The memory extractor reads only plain statements about the person cared for, in English and
Spanish, and never a question, a negation, the caregiver's own condition or a number."""

from __future__ import annotations

import pytest

from careline_conversation.memory.extract import extract

STATED = [
    ("She has dementia and keeps wandering.", ("condition", "dementia")),
    ("My husband has early stage Parkinsons", ("condition", "Parkinson's")),
    ("Dad had a stroke last year", ("condition", "a stroke")),
    ("her alzheimers is getting worse", ("condition", "Alzheimer's")),
    ("the neurologist diagnosed mom with Lewy body dementia", ("condition", "Lewy body dementia")),
    ("Mi mamá tiene alzhéimer", ("condition", "alzhéimer")),
    ("a mi esposo le diagnosticaron párkinson", ("condition", "párkinson")),
    ("su demencia empeora por las tardes", ("condition", "demencia")),
    ("he lives with us now", ("living_situation", "lives with the caregiver")),
    ("Mom moved in with me in March", ("living_situation", "lives with the caregiver")),
    ("my father still lives alone", ("living_situation", "lives alone")),
    ("mom moved into memory care last month", ("living_situation", "lives in a care facility")),
    ("mi papá vive solo", ("living_situation", "lives alone")),
    ("se vino a vivir con nosotros", ("living_situation", "lives with the caregiver")),
    ("what helped was the adult day program, but it closed.", ("what_helped", "the adult day program")),
    ("the support group really helped", ("what_helped", "the support group")),
    ("what helped me the most was talking to my sister", ("what_helped", "talking to my sister")),
    ("lo que más me ayudó fue el centro de día", ("what_helped", "el centro de día")),
    ("the hardest part is the nights", ("stressor", "the nights")),
    ("I'm so overwhelmed with her appointments and I can't sleep", ("stressor", "her appointments")),
    ("lo más difícil son las noches", ("stressor", "las noches")),
    ("estoy muy agobiada con el dinero", ("stressor", "el dinero")),
    ("My mom's name is María", ("recipient_name", "María")),
    ("mi mamá se llama Rosa.", ("recipient_name", "Rosa")),
]

NOTHING = [
    "Does she have dementia?",  # a question
    "¿Tiene demencia?",
    "She does not have dementia",
    "no tiene demencia",
    "I have cancer",  # the caregiver's own condition is not the care recipient's
    "tengo diabetes",
    "nothing helped",
    "what helped was nothing",
    "what helped was calling 415-555-0100",  # a number is never stored
    "her name is not important",  # a name has a capital
    "the doctor has cancer patients",  # no subject it could be about
    "I'm so tired",
    "ok",
]


@pytest.mark.parametrize(("message", "fact"), STATED, ids=[m for m, _ in STATED])
def test_a_plain_statement_is_read(message: str, fact: tuple[str, str]) -> None:
    assert extract(message) == (fact,)


@pytest.mark.parametrize("message", NOTHING)
def test_nothing_is_read_from_what_states_nothing(message: str) -> None:
    assert extract(message) == ()


def test_several_facts_in_one_message_are_all_read_and_a_later_one_corrects_an_earlier() -> None:
    found = dict(extract("Mom has dementia. She lives with us. Actually she has Alzheimer's."))
    assert found == {"condition": "Alzheimer's", "living_situation": "lives with the caregiver"}
