"""Scoring: direction, reverse items, bands at their boundaries, zones, and the reply."""

from __future__ import annotations

import string
from datetime import timedelta

import pytest

from careline_profile.domain.instruments import BURNOUT, CHECKIN, INSTRUMENTS, Instrument, Item, Zone
from careline_profile.domain.scoring import (
    Band,
    NothingAnswered,
    Result,
    band_for,
    result_message,
    score,
    suggestion,
)

PLAIN_GSM7 = frozenset(string.ascii_letters + string.digits + " \n.,!?'\"-:;()/&%+=*#@$")

# Twenty plain items: a mean of k quarter-steps is 1.25 * k, so every band edge is reachable.
TWENTY = Instrument(
    key="twenty",
    items=tuple(Item(f"i{n}", Zone.TIME) for n in range(20)),
    min_interval=timedelta(days=1),
)


def septets(text: str) -> int:
    """GSM-7 length of ``text``; fails on any character outside the plain GSM-7 subset."""
    assert set(text) <= PLAIN_GSM7, set(text) - PLAIN_GSM7
    return len(text)


def answers_for_quarter_steps(steps: int) -> dict[str, int]:
    """Answers to TWENTY whose pressures add up to ``steps`` quarters (25 points each)."""
    values = [1] * 20
    for n in range(steps):
        values[n % 20] += 1
    return {f"i{n}": value for n, value in enumerate(values)}


@pytest.mark.parametrize(
    ("steps", "expected_score", "band"),
    [
        (15, 19, Band.THRIVING),  # 18.75 rounds half up to 19
        (16, 20, Band.MILD),
        (31, 39, Band.MILD),
        (32, 40, Band.MODERATE),
        (47, 59, Band.MODERATE),
        (48, 60, Band.HIGH),
        (63, 79, Band.HIGH),
        (64, 80, Band.CRISIS),
    ],
)
def test_band_boundaries(steps: int, expected_score: int, band: Band) -> None:
    """19/20, 39/40, 59/60 and 79/80 fall on either side of each band edge."""
    result = score(TWENTY, answers_for_quarter_steps(steps))
    assert (result.score, result.band) == (expected_score, band)


@pytest.mark.parametrize(
    ("value", "band"),
    [(0, Band.THRIVING), (19, Band.THRIVING), (20, Band.MILD), (39, Band.MILD), (40, Band.MODERATE),
     (59, Band.MODERATE), (60, Band.HIGH), (79, Band.HIGH), (80, Band.CRISIS), (100, Band.CRISIS)],
)  # fmt: skip
def test_band_for(value: int, band: Band) -> None:
    """band_for maps each score to its band."""
    assert band_for(value) is band


def test_band_for_rejects_scores_off_the_scale() -> None:
    """A score outside 0-100 is a bug, not a band."""
    with pytest.raises(ValueError):
        band_for(101)


def test_higher_means_more_burnout() -> None:
    """All-worst answers score 100, all-best 0, with reverse items flipped."""
    worst = {item.key: 1 if item.reverse else 5 for item in BURNOUT.items}
    best = {item.key: 5 if item.reverse else 1 for item in BURNOUT.items}
    assert score(BURNOUT, worst).score == 100
    assert score(BURNOUT, best).score == 0


def test_reverse_item_is_scored_six_minus_answer() -> None:
    """'Someone has my back: always' is no pressure; 'never' is full pressure."""
    assert score(CHECKIN, {"support": 5}).zone_pressure == {Zone.SOCIAL: 0}
    assert score(CHECKIN, {"support": 1}).zone_pressure == {Zone.SOCIAL: 100}
    assert score(CHECKIN, {"stress": 5}).zone_pressure == {Zone.EMOTIONAL: 100}


def test_skipped_items_are_left_out_of_the_mean() -> None:
    """One answered item alone decides the score; skips do not count as zero."""
    result = score(BURNOUT, {"worn_out": 4})
    assert (result.score, result.answered) == (75, 1)
    assert result.zone_pressure == {Zone.PHYSICAL: 75}


def test_pressure_zones_are_over_50_highest_first_ties_by_name() -> None:
    """Zones over 50 are listed by pressure, ties alphabetically; 50 itself is not pressure."""
    answers = {
        "money_worry": 5,  # financial 100
        "no_time": 4,  # time 75
        "breaks": 2,  # time 75 (reverse)
        "alone": 4,  # social 75
        "lean_on": 2,  # social 75 (reverse)
        "worn_out": 3,  # physical 50
        "overwhelmed": 1,  # emotional 0
    }
    result = score(BURNOUT, answers)
    assert result.zone_pressure == {
        Zone.FINANCIAL: 100,
        Zone.TIME: 75,
        Zone.SOCIAL: 75,
        Zone.PHYSICAL: 50,
        Zone.EMOTIONAL: 0,
    }
    assert result.pressure_zones == (Zone.FINANCIAL, Zone.SOCIAL, Zone.TIME)


def test_all_skipped_raises_nothing_answered() -> None:
    """With every item skipped there is nothing to score."""
    with pytest.raises(NothingAnswered):
        score(BURNOUT, {})


def test_bad_answers_are_rejected() -> None:
    """Unknown item keys and answers off the 1-5 scale are errors."""
    with pytest.raises(KeyError):
        score(CHECKIN, {"nope": 3})
    with pytest.raises(ValueError):
        score(CHECKIN, {"stress": 6})


def _result(band: Band, zones: tuple[Zone, ...] = ()) -> Result:
    return Result(score=50, band=band, zone_pressure={}, pressure_zones=zones, answered=3)


def test_suggestion_follows_the_top_pressure_zone() -> None:
    """The first pressure zone picks the suggestion; each zone has its own."""
    texts = {suggestion(_result(Band.HIGH, (zone,))) for zone in Zone}
    assert len(texts) == len(Zone)
    assert suggestion(_result(Band.HIGH, (Zone.FINANCIAL, Zone.TIME))) == suggestion(
        _result(Band.MODERATE, (Zone.FINANCIAL,))
    )


def test_crisis_band_always_points_to_988() -> None:
    """A crisis band gets 988, whatever the zones."""
    assert "988" in suggestion(_result(Band.CRISIS, (Zone.TIME,)))
    assert "988" in suggestion(_result(Band.CRISIS))


def test_without_pressure_zones_the_band_decides() -> None:
    """No zone over 50: the suggestion suits the band, and differs between bands."""
    texts = {suggestion(_result(band)) for band in Band}
    assert len(texts) == len(Band)


def test_every_suggestion_fits_one_sms() -> None:
    """Each suggestion is 160 GSM-7 characters at most."""
    candidates = [_result(band, zones) for band in Band for zones in [(), *((zone,) for zone in Zone)]]
    for result in candidates:
        assert septets(suggestion(result)) <= 160


@pytest.mark.parametrize("instrument", INSTRUMENTS.values(), ids=lambda i: i.key)
def test_result_message_names_the_band_and_fits_two_segments(instrument: Instrument) -> None:
    """The closing message says the band in plain words, adds the suggestion, fits 2 segments."""
    for band in Band:
        for zones in [(), *((zone,) for zone in Zone)]:
            result = Result(score=100, band=band, zone_pressure={}, pressure_zones=zones, answered=12)
            message = result_message(instrument, result)
            assert septets(message) <= 2 * 153
            assert message.endswith(suggestion(result))
            assert "score 100 of 100" in message


def test_result_message_wording_per_band() -> None:
    """Plain words, and never a diagnosis: 'your answers suggest'."""
    worst = {item.key: 1 if item.reverse else 5 for item in BURNOUT.items}
    message = result_message(BURNOUT, score(BURNOUT, worst))
    assert message.startswith("Thanks for finishing the caregiver check-up. Your answers suggest")
    assert "very heavy strain" in message
    assert "988" in message
