"""The schedule with the caregiver's choice: frequency, pause, time of day, minimum interval, loss."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from careline_profile.domain.schedule import (
    assessment_ready_at,
    is_due,
    next_checkin_interval,
    reengagement_due,
)

# A Tuesday, 15:00 UTC = 10:00 in New York (EST): inside the send window.
NOW = datetime(2025, 2, 11, 15, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def profile(band: str | None = None, *, quiet_days: float = 10, **fields: Any) -> dict[str, Any]:
    """A caregiver last heard from, and last checked in on, ``quiet_days`` before NOW."""
    return {
        "burnout_band": band,
        "last_contact_at": NOW - timedelta(days=quiet_days),
        "last_checkin_at": NOW - timedelta(days=quiet_days),
        "opted_out": False,
        "time_zone": "America/New_York",
        "reengagements_sent": [],
        **fields,
    }


def chose(frequency: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"checkins": {"frequency": frequency, "paused_until": None, "hour": None, "minute": 0, **extra}}


@pytest.mark.parametrize(
    ("band", "frequency", "quiet_days", "due"),
    [
        (None, "daily", 1.5, True),  # no band, DAILY chosen: check-ins come
        (None, "weekly", 6, False),
        (None, "weekly", 7, True),
        ("moderate", "daily", 1.5, True),  # DAILY overrides the band's week
        ("crisis", "weekly", 3, False),  # WEEKLY overrides the band's day
        ("crisis", "off", 10, False),
        ("mild", None, 10, False),  # the band alone: mild only on request
    ],
)
def test_the_chosen_frequency_replaces_the_band(
    band: str | None, frequency: str | None, quiet_days: float, due: bool
) -> None:
    assert is_due(profile(band, quiet_days=quiet_days, **chose(frequency)), NOW) is due


def test_the_crisis_bands_two_silent_days_apply_only_while_following_the_band() -> None:
    assert not is_due(profile("crisis", quiet_days=1.5), NOW)
    assert is_due(profile("crisis", quiet_days=1.5, **chose("daily")), NOW)


def test_paused_means_none_until_the_pause_ends() -> None:
    paused = chose("daily", paused_until=NOW + DAY)
    assert not is_due(profile(None, quiet_days=3, **paused), NOW)
    assert is_due(profile(None, quiet_days=3, **paused), NOW + DAY)
    assert not is_due(profile("crisis", quiet_days=3, **chose(None, paused_until=NOW + DAY)), NOW)


@pytest.mark.parametrize(("hour", "due"), [(9, True), (10, True), (11, False), (19, False)])
def test_a_chosen_time_holds_the_check_in_until_then_on_the_caregivers_clock(hour: int, due: bool) -> None:
    """NOW is 10:00 in New York: a 9 or 10 o'clock choice is due, 11 or 19 o'clock not yet."""
    assert is_due(profile(None, quiet_days=2, **chose("daily", hour=hour)), NOW) is due


def test_a_chosen_time_does_not_drift_later_when_yesterdays_went_out_a_little_late() -> None:
    """Yesterday's 10:00 check-in went at 10:20; today's is still due at 10:00 (an hour of slack)."""
    late = NOW - DAY + timedelta(minutes=20)
    caregiver = {**profile(None, **chose("daily", hour=10)), "last_checkin_at": late}
    assert is_due(caregiver, NOW)
    assert not is_due({**profile(None, **chose("daily")), "last_checkin_at": late}, NOW)  # no time: 24 h


def test_the_chosen_time_is_on_the_caregivers_clock_not_utc() -> None:
    """15:00 UTC is 07:00 in Los Angeles: outside the window, whatever hour was chosen."""
    la = profile(None, quiet_days=2, time_zone="America/Los_Angeles", **chose("daily", hour=9))
    assert not is_due(la, NOW)
    assert is_due(la, NOW + timedelta(hours=2))


def test_no_check_in_starts_before_the_check_ins_minimum_interval() -> None:
    """A check-in completed 20 hours ago (on request) holds the scheduled one back 4 more hours."""
    done = {"last_completed": {"checkin": NOW - timedelta(hours=20)}}
    caregiver = profile(None, quiet_days=2, **chose("daily"), **done)
    assert not is_due(caregiver, NOW)
    assert assessment_ready_at(caregiver, "checkin", NOW) == NOW + timedelta(hours=4)
    assert is_due(caregiver, NOW + timedelta(hours=4))


def test_each_instrument_has_its_own_minimum_interval() -> None:
    done = {"last_completed": {"checkin": NOW - 2 * DAY, "burnout": NOW - 2 * DAY}}
    assert assessment_ready_at(done, "checkin", NOW) is None
    assert assessment_ready_at(done, "burnout", NOW) == NOW + 5 * DAY
    assert assessment_ready_at({}, "burnout", NOW) is None  # never done: any time


def test_after_a_loss_no_check_ins_and_no_nudges_about_caregiving() -> None:
    bereaved = profile("crisis", quiet_days=8, bereaved_at=NOW - DAY, **chose("daily"))
    assert not is_due(bereaved, NOW)
    assert reengagement_due(bereaved, NOW) is None
    assert next_checkin_interval(bereaved, NOW) is None
    assert reengagement_due(profile("thriving", quiet_days=8), NOW) == 7  # as before otherwise


def test_a_pause_or_turning_them_off_also_holds_the_nudges_back() -> None:
    assert reengagement_due(profile(None, quiet_days=8, **chose(None, paused_until=NOW + DAY)), NOW) is None
    assert reengagement_due(profile(None, quiet_days=8, **chose("off")), NOW) is None
    assert next_checkin_interval(profile("high", **chose("weekly")), NOW) == 7 * DAY
