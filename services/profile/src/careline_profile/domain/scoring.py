"""Scoring an assessment: burnout score 0-100, band, pressure zones, and what to say back.

Higher always means more burnout (the original flipped direction between versions; this
module is the one place the direction is decided). An answer ``v`` (1-5) is first turned into
strain: ``v`` for a negatively worded item, ``6 - v`` for a positively worded (reverse) one.
Its pressure is ``(strain - 1) / 4 * 100``. The score is the mean pressure of the answered
items, rounded half up; skipped items are left out, not counted as zero.

Bands: 80+ crisis, 60-79 high, 40-59 moderate, 20-39 mild, under 20 thriving. A zone's
pressure is the mean pressure of its answered items; it is a pressure zone when that mean is
over 50. Pressure zones come highest first, ties by zone name.

Replies describe what the answers suggest, never a diagnosis, and fit SMS: a suggestion is
one segment (160 GSM-7 characters), the whole result message at most two.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from careline_profile.domain.instruments import SCALE_MAX, SCALE_MIN, Instrument, Zone
from careline_profile.domain.texts import say

PRESSURE_ZONE_OVER = 50


class Band(StrEnum):
    """Burnout band, from most to least strain."""

    CRISIS = "crisis"
    HIGH = "high"
    MODERATE = "moderate"
    MILD = "mild"
    THRIVING = "thriving"


# Lowest score of each band, highest band first.
BAND_FLOORS: tuple[tuple[int, Band], ...] = (
    (80, Band.CRISIS),
    (60, Band.HIGH),
    (40, Band.MODERATE),
    (20, Band.MILD),
    (0, Band.THRIVING),
)


class NothingAnswered(ValueError):
    """Every item was skipped: there is nothing to score."""


@dataclass(frozen=True, slots=True)
class Result:
    """A scored assessment. ``zone_pressure`` holds only zones with at least one answer."""

    score: int
    band: Band
    zone_pressure: dict[Zone, int]
    pressure_zones: tuple[Zone, ...]
    answered: int


def band_for(score: int) -> Band:
    """The band a 0-100 score falls in."""
    if not 0 <= score <= 100:
        raise ValueError(f"score {score} is outside 0-100")
    return next(band for floor, band in BAND_FLOORS if score >= floor)


def score(instrument: Instrument, answers: Mapping[str, int]) -> Result:
    """Score ``answers`` (item key -> 1-5; skipped items absent) on ``instrument``."""
    by_zone: dict[Zone, list[Fraction]] = {}
    for key, value in answers.items():
        item = instrument.item(key)
        if not SCALE_MIN <= value <= SCALE_MAX:
            raise ValueError(f"answer {value} to {key!r} is outside {SCALE_MIN}-{SCALE_MAX}")
        strain = SCALE_MAX + SCALE_MIN - value if item.reverse else value
        by_zone.setdefault(item.zone, []).append(Fraction(strain - SCALE_MIN, SCALE_MAX - SCALE_MIN) * 100)
    pressures = [pressure for zone_pressures in by_zone.values() for pressure in zone_pressures]
    if not pressures:
        raise NothingAnswered(f"no item of {instrument.key!r} was answered")
    overall = _round_half_up(_mean(pressures))
    zone_means = {zone: _mean(values) for zone, values in by_zone.items()}
    over = [zone for zone, mean in zone_means.items() if mean > PRESSURE_ZONE_OVER]
    return Result(
        score=overall,
        band=band_for(overall),
        zone_pressure={zone: _round_half_up(mean) for zone, mean in zone_means.items()},
        pressure_zones=tuple(sorted(over, key=lambda zone: (-zone_means[zone], zone.value))),
        answered=len(pressures),
    )


def _mean(values: list[Fraction]) -> Fraction:
    return sum(values, Fraction(0)) / len(values)


def _round_half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def suggestion(result: Result, language: str | None = "en") -> str:
    """One concrete, kind next step: 988 for a crisis band, else for the top pressure zone."""
    if result.band is Band.CRISIS:
        return say("band.crisis.suggestion", language)
    if result.pressure_zones:
        return say(f"zone.{result.pressure_zones[0]}.suggestion", language)
    return say(f"band.{result.band}.suggestion", language)


def result_message(instrument: Instrument, result: Result, language: str | None = "en") -> str:
    """What the caregiver reads when they finish: the band in plain words and one suggestion."""
    return say(
        "result",
        language,
        title=instrument.title_in(language),
        band=say(f"band.{result.band}.words", language),
        score=result.score,
        suggestion=suggestion(result, language),
    )
