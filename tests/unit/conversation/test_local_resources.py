"""Resources near the caregiver: state entries from the ZIP, national ones otherwise, never a guess."""

from __future__ import annotations

import re

import pytest

from careline_conversation.domain.local_resources import MAX_ENTRIES, contact_of, resources_for
from careline_conversation.safety.catalogue import (
    Resource,
    entries,
    links_in,
    normalise_number,
    numbers_in,
    unknown_contacts,
)
from careline_conversation.safety.sizing import segments
from careline_platform.zip3 import zip3_table

ALL_TOPICS = sorted({topic for r in entries() for topic in r.topics})
ZIPS = [None, "", "60614", "94110", "77002", "33101", "43215", "07102", "30303", "02108", "10001"]
ZIPS += ["00901", "34001", "abcde"]
NANP = re.compile(r"1-8(00|33|44|55|66|77|88)-\d{3}-\d{4}")
SHORT_CODE = re.compile(r"[2-9]\d{2,5}")
LINK = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*\.(org|gov|net|com)(/[a-z0-9\-/]*[a-z0-9])?")


def ids(zip_code: str | None, need: str = "respite", language: str = "en") -> list[str]:
    return [r.id for r in resources_for(need, zip_code, language).entries]


def test_a_zip_in_a_state_with_a_verified_entry_puts_that_entry_first() -> None:
    answer = resources_for("respite", "60614", "en")
    assert answer.state == "IL"
    assert answer.entries[0].id == "il_senior_helpline"
    assert "1-800-252-8966" in answer.text
    assert "ZIP" not in answer.text


@pytest.mark.parametrize(
    ("zip_code", "first"),
    [("94110", "ca_aging_information_line"), ("77002", "tx_adrc_line"), ("33101", "fl_elder_helpline")],
)
def test_each_state_entry_is_reached_from_a_zip_in_that_state(zip_code: str, first: str) -> None:
    assert ids(zip_code, "caregiver_support")[0] == first


NEW_STATES = [
    pytest.param("43215", "OH", "oh_aaa_line", "1-866-243-5678", id="ohio-columbus"),
    pytest.param("07102", "NJ", "nj_adrc_line", "1-877-222-3737", id="new-jersey-newark"),
    pytest.param("30303", "GA", "ga_adrc_line", "1-866-552-4464", id="georgia-atlanta"),
    pytest.param("02108", "MA", "ma_massoptions", "1-800-243-4636", id="massachusetts-boston"),
]


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize(("zip_code", "state", "first", "number"), NEW_STATES)
def test_a_zip_in_a_newly_verified_state_gets_that_states_line_first(
    zip_code: str, state: str, first: str, number: str, language: str
) -> None:
    """Ohio, New Jersey, Georgia, Massachusetts (issue 15): the state's own line leads, in both languages."""
    for need in ("respite", "caregiver_support", "benefits", "dementia", "general"):
        answer = resources_for(need, zip_code, language)
        assert answer.state == state
        assert answer.entries[0].id == first
        assert answer.text.startswith(f"{answer.entries[0].name}: {number}.")
        assert not answer.asks_for_zip and unknown_contacts(answer.text) == []


def test_medicare_and_grief_needs_get_their_national_entries_with_or_without_a_zip() -> None:
    assert ids(None, "medicare") == ["medicare"]
    assert ids("43215", "medicare")[0] == "medicare"
    spanish = resources_for("medicare", None, "es").text
    assert spanish.startswith("Preguntas sobre Medicare: llama al 1-800-633-4227")
    assert ids("30303", "grief")[0] == "hospice_foundation_of_america"
    assert "hospicefoundation.org" in resources_for("grief", None, "en").text


def test_abuse_in_illinois_gets_the_state_hotline_and_911() -> None:
    answer = resources_for("elder_abuse", "60614", "en")
    assert answer.entries[0].id == "il_aps_hotline"
    assert "1-866-800-1409" in answer.text and "911" in answer.text


def test_a_state_without_a_verified_entry_gets_the_national_locators() -> None:
    answer = resources_for("respite", "10001", "en")
    assert answer.state == "NY"
    assert not any(r.states for r in answer.entries)
    assert {"arch_respite_locator", "line_211", "eldercare_locator"} == {r.id for r in answer.entries}
    assert "ZIP" not in answer.text


@pytest.mark.parametrize("zip_code", [None, "", "abcde", "6061", "34001", "96201", "00001"])
def test_without_a_usable_zip_it_asks_for_one_instead_of_pretending(zip_code: str | None) -> None:
    """Missing, malformed, military or unassigned: national entries and "share your ZIP"."""
    answer = resources_for("respite", zip_code, "en")
    assert answer.state is None and answer.asks_for_zip
    assert not any(r.states for r in answer.entries)
    assert answer.text.endswith("Share your ZIP for local options.")


def test_the_spanish_reply_asks_for_the_zip_in_spanish() -> None:
    answer = resources_for("respite", None, "es")
    assert answer.text.endswith("Comparte tu código postal para opciones locales.")
    assert "Share your ZIP" not in answer.text
    assert "Llama al 211" in resources_for("general", None, "es").text


def test_an_unknown_language_falls_back_to_english() -> None:
    assert resources_for("respite", None, "fr").text == resources_for("respite", None, "en").text


def test_an_unknown_need_gets_the_local_locators() -> None:
    assert ids("77002", "no-such-need") == ["line_211", "eldercare_locator"]
    assert ids(None, "no-such-need") == ["line_211", "eldercare_locator"]


def test_it_is_deterministic_and_never_repeats_an_entry() -> None:
    for need in ALL_TOPICS:
        first = ids("94110", need)
        assert first == ids("94110", need)
        assert len(first) == len(set(first)) <= MAX_ENTRIES


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("need", ALL_TOPICS)
def test_every_reply_names_only_catalogue_contacts_and_fits_three_segments(need: str, language: str) -> None:
    """Whatever the need, ZIP and language, each contact in the reply is a catalogue contact."""
    for zip_code in ZIPS:
        answer = resources_for(need, zip_code, language)
        assert answer.entries
        assert unknown_contacts(answer.text) == []
        assert segments(answer.text) <= 3
        own = {c for r in answer.entries for c in (*r.numbers, *r.links)}
        for r in answer.entries:
            assert contact_of(r) in own


def test_state_entries_name_states_the_zip_table_knows() -> None:
    states = {row.state for row in zip3_table().values()}
    local = [r for r in entries() if r.states]
    assert {"IL", "CA", "TX", "FL", "OH", "NJ", "GA", "MA"} <= {s for r in local for s in r.states}
    for r in local:
        assert set(r.states) <= states, r.id


@pytest.mark.parametrize("resource", entries(), ids=lambda r: r.id)
def test_every_number_and_link_in_the_data_is_well_formed(resource: Resource) -> None:
    """Numbers are written 1-8XX-XXX-XXXX or as a short code; links are bare, lower-case domains."""
    for number in resource.numbers:
        assert NANP.fullmatch(number) or SHORT_CODE.fullmatch(number), number
    for link in resource.links:
        assert LINK.fullmatch(link), link
    for language, sentence in resource.say:
        assert language in {"en", "es"}
        assert set(numbers_in(sentence)) <= {normalise_number(n) for n in resource.numbers}
        assert set(links_in(sentence)) <= set(resource.links)
