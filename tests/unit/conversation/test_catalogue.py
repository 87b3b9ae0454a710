"""The resource catalogue: every fact has an official source, and contacts are found in free text."""

from __future__ import annotations

import tomllib
from datetime import date
from importlib.resources import files

import pytest

from careline_conversation.domain import resources
from careline_conversation.safety import catalogue
from careline_conversation.safety.catalogue import (
    allowed_links,
    allowed_numbers,
    entries,
    links_in,
    numbers_in,
    unknown_contacts,
)

CHECKED = date(2026, 11, 30)


def test_the_catalogue_ships_in_the_package_and_parses() -> None:
    """The TOML is package data (importlib.resources finds it) and is valid TOML with entries."""
    data = files("careline_conversation.safety").joinpath("data", "resources.toml")
    assert data.is_file()
    parsed = tomllib.loads(data.read_text(encoding="utf-8"))
    assert len(parsed["resource"]) == len(entries()) >= 10
    assert len({r.id for r in entries()}) == len(entries())


@pytest.mark.parametrize("resource", entries(), ids=lambda r: r.id)
def test_every_entry_has_an_https_source_a_checked_date_and_a_contact(resource: catalogue.Resource) -> None:
    """Each entry names the official https page it was checked against, when, and what it offers."""
    assert resource.source.startswith("https://")
    assert all(url.startswith("https://") for url in resource.see_also)
    assert resource.checked == CHECKED
    assert resource.name and resource.purpose and resource.topics
    assert resource.numbers or resource.links


@pytest.mark.parametrize("resource", entries(), ids=lambda r: r.id)
def test_every_number_and_link_as_written_is_found_by_the_extractors(resource: catalogue.Resource) -> None:
    """What the catalogue records is exactly what numbers_in/links_in see in a text."""
    for number in resource.numbers:
        assert numbers_in(f"You can reach them at {number}.") == [catalogue.normalise_number(number)]
    for link in resource.links:
        assert links_in(f"See {link}.") == [link]


def test_the_crisis_lines_of_the_fixed_crisis_reply_are_in_the_catalogue() -> None:
    """988, 741741 and 911 (the crisis reply's numbers) and the 988 Spanish keyword are recorded."""
    assert {"988", "741741", "911"} <= allowed_numbers()
    lifeline = catalogue.catalogue().resource("lifeline_988")
    assert "AYUDA" in lifeline.keywords and "press 2" in lifeline.spanish


def test_unconfirmed_facts_are_never_allowed() -> None:
    """A number or link seen only in secondary reports is not sendable."""
    pending = catalogue.catalogue().unconfirmed
    assert pending
    for item in pending:
        assert item.seen_in and item.why
        for number in item.numbers:
            assert catalogue.normalise_number(number) not in allowed_numbers()
        for link in item.links:
            assert unknown_contacts(f"see {link}") == [link]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call or text 988", ["988"]),
        ("Call 1-800-677-1116 today", ["8006771116"]),
        ("(800) 677-1116", ["8006771116"]),
        ("+1 800 677 1116", ["8006771116"]),
        ("1.800.222.1222", ["8002221222"]),
        ("8006771116", ["8006771116"]),
        ("call 1-800-799-SAFE", ["8007997233"]),
        ("1-800-273-TALK (8255)", ["8002738255"]),
        ("text 555-1234", ["5551234"]),
        ("text HOME to 741741", ["741741"]),
        ("text START to 88788", ["88788"]),
        ("Dial 988 then press 1, or text 838255", ["988", "838255"]),
        ("Call 211 or 911", ["211", "911"]),
        ("dial 311", ["311"]),
        ("text HELLO to 10001", ["10001"]),
        ('text "hi" to 45678', ["45678"]),
        ("envía AYUDA al 55555", ["55555"]),
        ("llama al 911", ["911"]),
        ("reach out at 12345", ["12345"]),
        ("call us at 555", ["555"]),
        ("call 1-800-555-0199 or 1-800-555-0199 again", ["8005550199"]),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_numbers_in_finds_phone_numbers_and_short_codes(text: str, expected: list[str]) -> None:
    assert numbers_in(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "My ZIP is 10001",
        "Thanks, 94110 is saved as your ZIP.",
        "ZIP+4 10001-1234",
        "Your score was 72 of 100",
        "Question (2 of 10): how often do you feel tired?",
        "It is $9.99 a month or $99 a year",
        "about $1,200 or $1000000",
        "That is 100% normal.",
        "pi is 3.14159265",
        "On 2026-11-30 or 11/30/2026",
        "Messages go out 9:00-20:00",
        "Let's talk again in 2025",
        "Call me in 10 minutes",
        "The 12345 order number",
        "988lifeline.org",
    ],
)
def test_numbers_in_ignores_zips_scores_prices_dates_and_times(text: str) -> None:
    assert numbers_in(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Respite care: archrespite.org", ["archrespite.org"]),
        ("see www.TheHotline.org/help.", ["thehotline.org/help"]),
        ("https://veteranscrisisline.net/chat", ["veteranscrisisline.net/chat"]),
        ("http://eldercare.acl.gov/, then call", ["eldercare.acl.gov"]),
        ("visit carersupportnow.org today", ["carersupportnow.org"]),
        ("write to help@carers-unite.com", ["carers-unite.com"]),
        ("e.g. a walk, i.e. rest, $9.99, 3.5 hours", []),
        ("No link here.", []),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_links_in_finds_urls_and_bare_domains(text: str, expected: list[str]) -> None:
    assert links_in(text) == expected


def test_catalogue_links_allow_subdomains_and_paths() -> None:
    assert "thehotline.org" in allowed_links()
    assert unknown_contacts("www.thehotline.org/get-help and chat.988lifeline.org/x") == []
    assert unknown_contacts("thehotline.org.evil.com") == ["thehotline.org.evil.com"]


def test_unknown_contacts_flags_invented_contacts_and_only_them() -> None:
    text = "Call 988, or 1-800-555-0199, text 555-1234, or visit carersupportnow.org."
    assert unknown_contacts(text) == ["8005550199", "5551234", "carersupportnow.org"]


def test_a_five_digit_number_is_a_zip_unless_it_is_a_known_code_or_follows_a_contact_verb() -> None:
    assert unknown_contacts("Is 10001 your ZIP code?") == []
    assert unknown_contacts("text START to 88788") == []
    assert unknown_contacts("text START to 10001") == ["10001"]


def test_system_links_are_allowed_only_when_the_caller_passes_them() -> None:
    text = "Subscribe here: https://checkout.stripe.com/c/pay/cs_test_123 ."
    assert unknown_contacts(text) == ["checkout.stripe.com/c/pay/cs_test_123"]
    extra = ["https://checkout.stripe.com/c/pay/cs_test_123"]
    assert unknown_contacts(text, allowed_links_extra=extra) == []
    other = "https://checkout.stripe.com/c/pay/cs_other"
    assert unknown_contacts(other, allowed_links_extra=extra) == ["checkout.stripe.com/c/pay/cs_other"]


def test_resource_topics_keep_their_order_for_callers() -> None:
    """The OpenAI tool's enum: the original topics in their order, then grief (issue 15)."""
    assert resources.TOPICS == (
        "respite",
        "support_group",
        "financial",
        "legal",
        "dementia",
        "mental_health",
        "general",
        "grief",
    )
    assert resources.find_resource("no-such-topic") == resources.RESOURCES["general"]


@pytest.mark.parametrize("topic", resources.TOPICS)
def test_resource_texts_use_only_their_own_resources_contacts(topic: str) -> None:
    """Each topic text names at least one contact, all from the catalogue entry it cites."""
    [entry] = [t for t in catalogue.catalogue().topics if t.topic == topic]
    cited = catalogue.catalogue().resource(entry.resource_id)
    own_numbers = {catalogue.normalise_number(n) for n in cited.numbers}
    text = resources.find_resource(topic)
    assert numbers_in(text) or links_in(text)
    assert set(numbers_in(text)) <= own_numbers
    assert set(links_in(text)) <= set(cited.links)
    assert unknown_contacts(text) == []
    assert len(text) <= 160


def test_grief_support_names_the_hospice_foundation_and_not_a_crisis_line() -> None:
    """After a death the grief topic points to hospice and grief support, not to 988 alone."""
    text = resources.find_resource("grief")
    assert links_in(text) == ["hospicefoundation.org"]
    assert numbers_in(text) == []
    grief = catalogue.catalogue().resource("hospice_foundation_of_america")
    assert "grief" in grief.topics and grief.source.startswith("https://hospicefoundation.org/")


def test_medicare_is_sendable_with_its_tty_and_site() -> None:
    """1-800-MEDICARE, its TTY line and medicare.gov moved from unconfirmed to the catalogue."""
    text = "Call 1-800-MEDICARE (1-800-633-4227), TTY 1-877-486-2048, or see www.medicare.gov/care-compare."
    assert unknown_contacts(text) == []
    assert all("Medicare" not in item.what for item in catalogue.catalogue().unconfirmed)
