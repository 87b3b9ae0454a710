"""What the caregiver's memory keeps (validated, short, no contacts) and how it is shown to the agent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from careline_conversation.memory import facts

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("field", "value", "kept"),
    [
        ("condition", "  dementia. ", "dementia"),
        ("what_helped", "the adult  day program", "the adult day program"),
        ("recipient_name", "María", "María"),
        ("favourite_colour", "blue", None),  # not a memory field
        ("stressor", "x", None),  # too short
        ("stressor", "y" * 81, None),  # too long
        ("what_helped", "calling 415-555-0100", None),  # a phone number
        ("what_helped", "the line at 1-800-677-1116", None),  # even a catalogue one
        ("what_helped", "caregiver.org", None),  # a link
        ("what_helped", "writing to ana@example.com", None),  # an e-mail address
        ("what_helped", "4155550100", None),  # a run of digits
        ("condition", 42, None),  # not text
    ],
)
def test_validate_keeps_short_plain_words_only(field: str, value: object, kept: str | None) -> None:
    assert facts.validate(field, value) == kept


def test_remember_replaces_single_fields_and_keeps_the_latest_few_of_lists() -> None:
    memory = {"condition": "dementia", "stressors": ["nights", "money", "work"]}
    fields = facts.remember(memory, [("condition", "Alzheimer's"), ("stressor", "my brother")], NOW)
    assert fields == {
        "memory.condition": "Alzheimer's",
        "memory.stressors": ["money", "work", "my brother"],
        "memory.updated_at": NOW,
    }


def test_remember_writes_nothing_when_nothing_is_new_or_valid() -> None:
    memory = {"condition": "dementia", "stressors": ["nights"]}
    assert (
        facts.remember(memory, [("condition", "Dementia"), ("stressor", "nights"), ("zip", "94110")], NOW)
        == {}
    )


def test_a_value_said_again_moves_to_the_newest_place() -> None:
    fields = facts.remember({"what_helped": ["walks", "music"]}, [("what_helped", "walks")], NOW)
    assert fields["memory.what_helped"] == ["music", "walks"]


def test_the_view_reads_profile_facts_generically_and_hides_name_and_zip() -> None:
    state = {
        "facts": {"first_name": "Ana", "zip": "94110", "relationship": "parent", "condition": "dementia"},
        "memory": {"condition": "a stroke", "living_situation": "lives alone", "what_helped": ["walks"]},
    }
    assert facts.view(state) == (
        ("who they care for", "parent"),
        ("the care recipient's condition", "dementia"),  # onboarding's answer wins
        ("living situation", "lives alone"),
        ("what has helped", "walks"),
    )
    assert facts.condition(state) == "dementia"
    assert facts.condition({"memory": {"condition": "a stroke"}}) == "a stroke"
    later = {"facts": {"care_setting": "home"}}  # a field another onboarding question may add
    assert facts.view(later) == (("care setting", "home"),)


def test_apply_shows_the_state_a_write_leaves_without_touching_the_original() -> None:
    state = {"memory": {"stressors": ["nights"]}, "facts": {"first_name": "Ana"}}
    after = facts.apply(state, {"memory.condition": "dementia"})
    assert after["memory"] == {"stressors": ["nights"], "condition": "dementia"}
    assert state["memory"] == {"stressors": ["nights"]}


@pytest.mark.parametrize(
    ("kind", "learns"),
    [
        ("agent", True),
        ("onboarding", True),
        ("gated", True),
        ("crisis", False),
        ("crisis:question", False),
        ("stop", False),
        ("silent:opted_out", False),
        ("assessment:answer", False),
        ("language:es", False),
    ],
)
def test_only_ordinary_turns_teach_the_memory(kind: str, learns: bool) -> None:
    assert facts.learns_from(kind) is learns


def test_a_crisis_is_remembered_by_category_for_thirty_days() -> None:
    state = {"crisis": {"at": NOW - timedelta(days=10), "category": "suicide_self", "alert_id": "a"}}
    assert facts.recent_crisis(state, NOW) == "suicide_self"
    assert facts.recent_crisis(state, NOW + timedelta(days=21)) is None
    assert facts.recent_crisis({}, NOW) is None


def test_wellbeing_is_profiles_latest_result() -> None:
    state = {"wellbeing": {"band": "high", "pressure_zones": ["emotional", "time"], "at": NOW}}
    assert facts.wellbeing(state) == ("high", ("emotional", "time"))
    assert facts.wellbeing({}) == (None, ())
