"""Instruments as data: shape, reverse items, and every question fitting one SMS."""

from __future__ import annotations

import string
from datetime import timedelta

import pytest

from careline_profile.domain.instruments import (
    BURNOUT,
    CHECKIN,
    INSTRUMENTS,
    SCALE_HINT,
    Instrument,
    Item,
    Zone,
    format_question,
)

PLAIN_GSM7 = frozenset(string.ascii_letters + string.digits + " \n.,!?'\"-:;()/&%+=*#@$")


def septets(text: str) -> int:
    """GSM-7 length of ``text``; fails on any character outside the plain GSM-7 subset."""
    assert set(text) <= PLAIN_GSM7, set(text) - PLAIN_GSM7
    return len(text)


def test_registry_holds_both_instruments_by_key() -> None:
    """INSTRUMENTS maps each key to its instrument."""
    assert INSTRUMENTS == {"checkin": CHECKIN, "burnout": BURNOUT}


def test_checkin_is_three_items_at_most_daily() -> None:
    """The check-in asks stress, mood and support, and may be asked once a day."""
    assert [item.key for item in CHECKIN.items] == ["stress", "mood", "support"]
    assert CHECKIN.min_interval == timedelta(days=1)
    assert CHECKIN.item("support").reverse


def test_burnout_covers_every_zone_with_reverse_items() -> None:
    """The burnout scale has 10-12 items over all five zones, at least 3 positively worded."""
    assert 10 <= len(BURNOUT.items) <= 12
    assert {item.zone for item in BURNOUT.items} == set(Zone)
    assert sum(item.reverse for item in BURNOUT.items) >= 3
    assert BURNOUT.item("lean_on").reverse
    assert BURNOUT.min_interval == timedelta(days=7)


@pytest.mark.parametrize("instrument", INSTRUMENTS.values(), ids=lambda i: i.key)
def test_every_question_fits_one_sms(instrument: Instrument) -> None:
    """Progress prefix, statement and scale hint fit in 160 GSM-7 characters."""
    for position in range(len(instrument.items)):
        assert septets(format_question(instrument, position)) <= 160
    assert septets(instrument.intro) <= 160


def test_question_format_shows_progress_and_scale() -> None:
    """The second burnout item reads '(2 of 12) <text>' with the scale hint on the next line."""
    question = format_question(BURNOUT, 1)
    assert question == f"(2 of 12) {BURNOUT.items[1].text}\n{SCALE_HINT}"
    assert SCALE_HINT == "1=never ... 5=always"


def test_item_keys_are_unique_and_looked_up() -> None:
    """An instrument rejects repeated keys and raises KeyError for an unknown one."""
    with pytest.raises(ValueError, match="repeats"):
        Instrument("x", (Item("a", Zone.TIME), Item("a", Zone.TIME)), timedelta(1))
    with pytest.raises(KeyError):
        CHECKIN.item("nope")
