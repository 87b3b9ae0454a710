"""What profile says about check-ins: both languages, sized, with moments on the caregiver's clock."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from careline_conversation.safety.catalogue import unknown_contacts
from careline_conversation.safety.sizing import segments
from careline_profile.domain.checkin_texts import render, texts
from careline_profile.domain.preferences import Frequency

NOW = datetime(2026, 9, 9, 15, 7, tzinfo=UTC)  # a Wednesday, 11:07 in New York
LONGEST: dict[str, Any] = {
    "until": datetime(2026, 9, 16, 15, 7, tzinfo=UTC),  # Wednesday, September 16: the longest names
    "frequency": Frequency.EVERY_3_DAYS,
    "before": Frequency.EVERY_3_DAYS,
    "after": Frequency.WEEKLY,
    "when": datetime(2026, 9, 16, 15, 7, tzinfo=UTC),
    "title": "burnout",
    "at": time(19, 30),
}
KEYS = sorted(k for k, v in texts()["en"].items() if isinstance(v, str))
MAX_SEGMENTS = {"en": 1, "es": 3}


def test_both_languages_have_the_same_texts() -> None:
    def keys(lang: str) -> set[str]:
        return {k for k, v in texts()[lang].items() if isinstance(v, str)}

    assert keys("en") == keys("es") and len(KEYS) >= 12
    for table in ("frequency", "title", "when"):
        assert texts()["en"][table].keys() == texts()["es"][table].keys()


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("key", KEYS)
def test_every_text_fits_its_segments_and_names_no_unknown_contact(key: str, lang: str) -> None:
    """One segment in English; three in Spanish (accents make it UCS-2), with the longest values."""
    raw = texts()[lang][key]
    values = {k: v for k, v in LONGEST.items() if "{" + k + "}" in raw}
    text = render(key, lang, values, time_zone="America/New_York", now=NOW)
    assert "{" not in text and ".." not in text
    assert segments(text) <= MAX_SEGMENTS[lang], text
    assert unknown_contacts(text) == []


@pytest.mark.parametrize(
    ("lang", "when", "words"),
    [
        ("en", NOW + timedelta(hours=3), "later today, after 3 PM"),  # 14:07 rounds up to 15:00
        ("en", NOW + timedelta(hours=20), "tomorrow after 8 AM"),
        ("en", NOW + timedelta(days=6), "on Tuesday, September 15"),
        ("es", NOW + timedelta(hours=3), "hoy más tarde, después de las 3 p. m."),
        ("es", NOW + timedelta(hours=20), "mañana después de las 8 a. m."),
        ("es", NOW + timedelta(days=6), "el martes 15 de septiembre"),
    ],
)
def test_when_an_assessment_opens_again_is_said_on_the_caregivers_clock(
    lang: str, when: datetime, words: str
) -> None:
    text = render("too_soon", lang, {"title": "checkin", "when": when}, time_zone="America/New_York", now=NOW)
    assert words in text


def test_times_of_day_read_naturally_in_both_languages() -> None:
    def said(lang: str, at: time) -> str:
        return render("time_set", lang, {"at": at}, time_zone=None, now=NOW)

    assert "around 9 AM" in said("en", time(9)) and "around 12 PM" in said("en", time(12))
    assert "around 6:30 PM" in said("en", time(18, 30))
    assert "hacia las 7 p. m." in said("es", time(19)) and "hacia la 1 p. m." in said("es", time(13))


def test_an_unknown_language_falls_back_to_english() -> None:
    assert render("set_daily", "fr", {}, time_zone=None, now=NOW) == texts()["en"]["set_daily"]
