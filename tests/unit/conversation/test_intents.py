"""The intent classifier: phrasing families, languages, ties and the data file's shape."""

from __future__ import annotations

import pytest

from careline_conversation.intents import classify, intents
from careline_conversation.intents.classifier import parse


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        pytest.param("Is there respite care near me? I'm in 60614", "respite", id="respite"),
        pytest.param(
            "She keeps asking for her mother and gets agitated at sundown", "sundowning", id="sundown"
        ),
        pytest.param("How am I supposed to pay for memory care?", "paying_for_care", id="pay-beats-facility"),
        pytest.param("I'm so angry at my brother", "family_conflict", id="brother"),
        pytest.param("stop texting me so much", "text_less", id="text-less"),
        pytest.param("estoy muy cansada", "exhaustion", id="cansada"),
        pytest.param("My mom passed away last night", "grief", id="passed-away"),
        pytest.param("😭", "venting", id="crying-emoji"),
        pytest.param("I'm exhausted, she was up all night", "exhaustion", id="distress-beats-sleep"),
        pytest.param("i feel so guilty for wanting a break", "guilt", id="guilt-beats-respite"),
        pytest.param("DAD KEEPS WANDERINGGG at nite", "wandering", id="shouted-stretched"),
        pytest.param("mom has a doctor visit on tuesday", "other", id="nothing"),
    ],
)
def test_the_issues_examples_get_their_intent(text: str, intent: str) -> None:
    assert classify(text).intent == intent


def test_the_language_is_the_one_whose_patterns_matched() -> None:
    assert classify("no duermo nada, se despierta toda la noche").language == "es"
    assert classify("he is up all night and so am i").language == "en"
    assert classify("the weather is nice").language is None


def test_distress_intents_are_marked_in_the_data() -> None:
    assert classify("im exhausted").distress and classify("ugh what a day").distress
    assert not classify("how do i get power of attorney").distress


def test_there_are_at_least_twenty_intents() -> None:
    assert len(intents().ids) >= 20


def test_ties_go_to_the_intent_listed_first() -> None:
    table = parse(
        {"intent": [{"id": "a", "strong": {"en": ["word"]}}, {"id": "b", "strong": {"en": ["word"]}}]}
    )
    assert classify("a word", table).intent == "a"


def test_other_is_not_a_valid_intent_id() -> None:
    with pytest.raises(ValueError):
        parse({"intent": [{"id": "other"}]})
