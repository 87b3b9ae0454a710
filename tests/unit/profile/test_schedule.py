"""Check-in rules: band intervals, pace, quiet hours on the caregiver's clock, re-engagement, churn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from careline_profile.domain.schedule import (
    checkin_interval,
    in_send_window,
    is_churned,
    is_due,
    next_window_start,
    reengagement_due,
)
from careline_profile.domain.scoring import Band

# A Tuesday, 15:00 UTC = 10:00 in New York (EST): inside the send window.
NOW = datetime(2025, 2, 11, 15, 0, tzinfo=UTC)


def profile(
    band: str | None = "high",
    *,
    contact_days: float | None = 10,
    checkin_days: float | None = 10,
    **fields: Any,
) -> dict[str, Any]:
    """A profile whose last message and last check-in were that many days before NOW."""
    return {
        "burnout_band": band,
        "last_contact_at": None if contact_days is None else NOW - timedelta(days=contact_days),
        "last_checkin_at": None if checkin_days is None else NOW - timedelta(days=checkin_days),
        "opted_out": False,
        "time_zone": "America/New_York",
        "reengagements_sent": [],
        **fields,
    }


@pytest.mark.parametrize(
    ("band", "interval"),
    [
        (Band.CRISIS, timedelta(days=1)),
        (Band.HIGH, timedelta(days=3)),
        (Band.MODERATE, timedelta(days=7)),
        (Band.MILD, None),
        (Band.THRIVING, None),
        ("high", timedelta(days=3)),
        ("unknown", None),
        (None, None),
    ],
)
def test_checkin_interval(band: Band | str | None, interval: timedelta | None) -> None:
    """Higher bands are checked on more often; mild and thriving only on request."""
    assert checkin_interval(band) == interval


@pytest.mark.parametrize(
    ("band", "days", "due"),
    [
        ("high", 2.9, False),
        ("high", 3, True),
        ("moderate", 6.9, False),
        ("moderate", 7, True),
        ("mild", 20, False),
        ("thriving", 20, False),
        (None, 20, False),
    ],
)
def test_band_interval_since_last_contact_or_checkin(band: str | None, days: float, due: bool) -> None:
    """The interval runs from the later of the last message and the last check-in."""
    assert is_due(profile(band, contact_days=days, checkin_days=20), NOW) is due
    assert is_due(profile(band, contact_days=20, checkin_days=days), NOW) is due


def test_crisis_band_daily_only_after_two_silent_days() -> None:
    """Crisis: daily check-ins, but only once the caregiver has been quiet for 2 days."""
    assert not is_due(profile("crisis", contact_days=1.9, checkin_days=5), NOW)
    assert is_due(profile("crisis", contact_days=2, checkin_days=1), NOW)
    assert not is_due(profile("crisis", contact_days=5, checkin_days=0.9), NOW)


def test_never_to_an_opted_out_number() -> None:
    """Opted out means no check-ins, whatever the band."""
    assert not is_due(profile("crisis", opted_out=True), NOW)


def test_none_when_the_caregiver_wrote_in_the_last_24_hours() -> None:
    """A caregiver who is talking already gets no proactive message."""
    assert not is_due(profile("crisis", contact_days=0.9, checkin_days=30), NOW)


def test_at_most_one_proactive_message_a_day() -> None:
    """A check-in less than 24 h ago blocks another."""
    assert not is_due(profile("high", contact_days=10, checkin_days=0.99), NOW)


def test_never_contacted_with_a_band_is_due() -> None:
    """Without any timestamps only the band and the clock decide."""
    assert is_due(profile("high", contact_days=None, checkin_days=None), NOW)


def test_no_checkins_after_churn() -> None:
    """31 days of silence: the line goes quiet."""
    assert not is_due(profile("high", contact_days=31, checkin_days=3), NOW)


@pytest.mark.parametrize(
    ("utc", "inside"),
    [
        # Saturday 8 March 2025, EST (UTC-5): 09:00 local is 14:00 UTC.
        (datetime(2025, 3, 8, 13, 59, tzinfo=UTC), False),
        (datetime(2025, 3, 8, 14, 0, tzinfo=UTC), True),
        # Monday 10 March 2025, after the spring change, EDT (UTC-4): 09:00 local is 13:00 UTC.
        (datetime(2025, 3, 10, 12, 59, tzinfo=UTC), False),
        (datetime(2025, 3, 10, 13, 0, tzinfo=UTC), True),
        (datetime(2025, 3, 10, 23, 59, tzinfo=UTC), True),  # 19:59 EDT
        (datetime(2025, 3, 11, 0, 0, tzinfo=UTC), False),  # 20:00 EDT
        # Monday 3 November 2025, after the fall change, EST again: 09:00 local is 14:00 UTC.
        (datetime(2025, 11, 3, 13, 59, tzinfo=UTC), False),
        (datetime(2025, 11, 3, 14, 0, tzinfo=UTC), True),
        (datetime(2025, 11, 4, 0, 59, tzinfo=UTC), True),  # 19:59 EST
        (datetime(2025, 11, 4, 1, 0, tzinfo=UTC), False),  # 20:00 EST
    ],
)
def test_send_window_in_new_york_across_dst(utc: datetime, inside: bool) -> None:
    """09:00-20:00 on the caregiver's clock, on both sides of each DST change."""
    assert in_send_window("America/New_York", utc) is inside


def test_send_window_in_other_zones() -> None:
    """Los Angeles shifts with DST, Phoenix does not, an unknown zone means New York."""
    assert not in_send_window("America/Los_Angeles", datetime(2025, 11, 3, 16, 59, tzinfo=UTC))
    assert in_send_window("America/Los_Angeles", datetime(2025, 11, 3, 17, 0, tzinfo=UTC))
    assert in_send_window("America/Phoenix", datetime(2025, 3, 10, 16, 0, tzinfo=UTC))
    assert not in_send_window("America/Phoenix", datetime(2025, 3, 10, 15, 59, tzinfo=UTC))
    assert in_send_window("Mars/Olympus_Mons", datetime(2025, 3, 10, 13, 0, tzinfo=UTC))
    assert not in_send_window(None, datetime(2025, 3, 10, 12, 59, tzinfo=UTC))


def test_is_due_uses_the_caregivers_clock() -> None:
    """15:00 UTC is 10:00 in New York but 07:00 in Los Angeles."""
    assert is_due(profile("high"), NOW)
    assert not is_due(profile("high", time_zone="America/Los_Angeles"), NOW)
    assert is_due(profile("high", time_zone="America/Los_Angeles"), NOW + timedelta(hours=2))


def utc(month: int, day: int, hour: int) -> datetime:
    return datetime(2025, month, day, hour, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("time_zone", "now", "expected"),
    [
        # Saturday 22:00 EST, the night the clocks go forward: 09:00 Sunday is EDT, 13:00 UTC.
        ("America/New_York", utc(3, 9, 3), utc(3, 9, 13)),
        # Saturday 21:00 EDT, the night the clocks go back: 09:00 Sunday is EST, 14:00 UTC.
        ("America/New_York", utc(11, 2, 1), utc(11, 2, 14)),
        # 06:00 EDT: later the same morning.
        ("America/New_York", utc(3, 10, 10), utc(3, 10, 13)),
        # Inside the window: now.
        ("America/Chicago", utc(3, 10, 18), utc(3, 10, 18)),
        # 21:00 the evening before in Honolulu (no DST): 09:00 HST is 19:00 UTC.
        ("Pacific/Honolulu", utc(3, 10, 7), utc(3, 10, 19)),
    ],
)
def test_next_window_start(time_zone: str, now: datetime, expected: datetime) -> None:
    """The earliest send time from now: now inside the window, else the next 09:00 local."""
    start = next_window_start(time_zone, now)
    assert start == expected
    assert start.tzinfo is UTC
    assert in_send_window(time_zone, start)


def silent(days: float, sent: list[int] | None = None, **fields: Any) -> dict[str, Any]:
    return profile("mild", contact_days=days, checkin_days=None, reengagements_sent=sent or [], **fields)


@pytest.mark.parametrize(
    ("days", "sent", "due"),
    [
        (6.9, [], None),
        (7, [], 7),
        (8, [7], None),
        (13.9, [7], None),
        (14, [7], 14),
        (15, [], 14),  # only the latest step reached: no late day-7 nudge
        (20, [7, 14], None),
        (30, [7, 14], 30),
        (30.5, [7, 14, 30], None),
        (31, [7, 14], None),  # churned: the line goes quiet
    ],
)
def test_reengagement_once_each_at_7_14_30(days: float, sent: list[int], due: int | None) -> None:
    """Nudges on days 7, 14 and 30 of silence, each once."""
    assert reengagement_due(silent(days, sent), NOW) == due


def test_reengagement_obeys_opt_out_pace_and_quiet_hours() -> None:
    """A nudge is a proactive message: consent, once a day, and the caregiver's clock apply."""
    assert reengagement_due(silent(7, opted_out=True), NOW) is None
    assert reengagement_due(silent(7, last_checkin_at=NOW - timedelta(hours=3)), NOW) is None
    assert reengagement_due(silent(7, time_zone="America/Los_Angeles"), NOW) is None
    assert reengagement_due(silent(7, last_contact_at=None), NOW) is None


def test_churned_at_31_days_of_silence() -> None:
    """31 days without a message is churn; a caregiver who never wrote is not churned."""
    assert not is_churned(silent(30.99), NOW)
    assert is_churned(silent(31), NOW)
    assert not is_churned(silent(0, last_contact_at=None), NOW)


def test_naive_stored_datetimes_are_utc_and_naive_now_is_refused() -> None:
    """MongoDB's naive datetimes read as UTC; the caller's now must carry its zone."""
    stored = profile("high", last_contact_at=(NOW - timedelta(days=3)).replace(tzinfo=None))
    assert is_due(stored, NOW)
    with pytest.raises(ValueError):
        is_due(stored, NOW.replace(tzinfo=None))
