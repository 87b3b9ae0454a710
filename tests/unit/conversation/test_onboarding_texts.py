"""Onboarding's texts (data/onboarding.toml): every one in English and Spanish, sized to SMS segments."""

from __future__ import annotations

from typing import Any

import pytest

from careline_conversation.domain import onboarding, profile_facts
from careline_conversation.domain.replies import WELCOME
from careline_conversation.safety.catalogue import unknown_contacts
from careline_conversation.safety.sizing import is_gsm7, segments

LANGUAGES = ("en", "es")
LONG_NAME = "María José Núñez-Castañeda"  # accented: the whole SMS becomes UCS-2
assert len(LONG_NAME) <= 40


def texts() -> dict[str, dict[str, str]]:
    """Every text in the data file, by its dotted name, with its languages."""
    found: dict[str, dict[str, str]] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict) and set(node) & set(LANGUAGES):
            found[prefix] = node
        elif isinstance(node, dict):
            for key, child in node.items():
                walk(f"{prefix}.{key}" if prefix else key, child)

    data = profile_facts.data()
    for section in ("question", "hint", "ack", "care", "done", "reask"):
        walk(section, data[section])
    return found


TEXTS = texts()


def test_every_field_has_a_question_and_a_hint() -> None:
    assert (
        set(onboarding.FIELDS) == set(profile_facts.data()["question"]) == set(profile_facts.data()["hint"])
    )


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_every_text_exists_in_both_languages_and_names_no_contact(name: str) -> None:
    assert set(TEXTS[name]) == set(LANGUAGES)
    for text in TEXTS[name].values():
        assert text.strip() == text and text and unknown_contacts(text) == []


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_english_is_one_gsm7_segment_and_spanish_at_most_two(name: str) -> None:
    english, spanish = (TEXTS[name][lang].format(name=", Maria") for lang in LANGUAGES)
    assert is_gsm7(english) and segments(english) == 1, english
    assert segments(spanish) <= 2, spanish


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_reply_onboarding_builds_fits_three_segments_with_a_long_accented_name(language: str) -> None:
    lang: Any = language
    leads = [onboarding.care_line(intent, lang) for intent in profile_facts.data()["care"]]
    leads += [onboarding.acknowledgement(kind, lang, LONG_NAME) for kind in ("said", "noted", "named")]
    closings = [onboarding.question(field, lang) for field in onboarding.FIELDS]
    closings += [onboarding.hint(field, lang) for field in onboarding.FIELDS]
    closings.append(onboarding.done_text(LONG_NAME, lang))
    for lead in leads:
        for closing in closings:
            assert segments(f"{lead} {closing}") <= 3, f"{lead} {closing}"
    for field in onboarding.FIELDS:
        _state, text = onboarding.reask({}, field, lang, None)  # type: ignore[arg-type]
        assert segments(text) <= 2, text


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_welcome_with_care_and_the_first_question_fits_three_segments(language: str) -> None:
    lang: Any = language
    for intent in profile_facts.data()["care"]:
        reply = f"{WELCOME} {onboarding.care_line(intent, lang)} {onboarding.question('first_name', lang)}"
        assert segments(reply) <= 3, reply
    said = f"{WELCOME} {onboarding.acknowledgement('said', lang)} {onboarding.question('first_name', lang)}"
    assert segments(said) <= 3


def test_the_end_of_onboarding_offers_a_check_in_in_both_languages() -> None:
    for language in LANGUAGES:
        assert "CHECK IN" in onboarding.done_text(None, language)  # type: ignore[arg-type]
