"""The caregiver's check-in choice: what DAILY, WEEKLY, PAUSE, RESUME, "less" and a time do to it."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from careline_profile.domain.preferences import (
    PAUSE_FOR,
    Frequency,
    Preference,
    apply,
    effective_interval,
    of,
)

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("band", "chosen", "interval"),
    [
        ("crisis", None, DAY),
        ("high", None, 3 * DAY),
        ("moderate", None, 7 * DAY),
        ("mild", None, None),
        (None, None, None),
        ("moderate", Frequency.DAILY, DAY),  # the choice overrides the band
        ("crisis", Frequency.WEEKLY, 7 * DAY),
        (None, Frequency.WEEKLY, 7 * DAY),  # no band, but a choice: check-ins come
        ("crisis", Frequency.OFF, None),
    ],
    ids=lambda v: str(v),
)
def test_the_choice_overrides_the_band(band: str | None, chosen: Frequency | None, interval: object) -> None:
    """Check-ins follow the caregiver's choice when there is one, else their band."""
    assert effective_interval(Preference(frequency=chosen), band, NOW) == interval


def test_a_pause_means_none_until_it_ends_then_the_schedule_comes_back() -> None:
    """PAUSE: no check-ins for 7 days, then the same frequency as before, by itself."""
    paused = apply(Preference(frequency=Frequency.DAILY), "pause", band=None, now=NOW)
    assert paused.text == "paused" and paused.values["until"] == NOW + PAUSE_FOR
    assert effective_interval(paused.preference, None, NOW + 6 * DAY) is None
    assert effective_interval(paused.preference, None, NOW + PAUSE_FOR) == DAY


@pytest.mark.parametrize(
    ("band", "chosen", "after", "text"),
    [
        (None, Frequency.DAILY, Frequency.EVERY_3_DAYS, "less"),
        (None, Frequency.EVERY_3_DAYS, Frequency.WEEKLY, "less"),
        (None, Frequency.WEEKLY, Frequency.OFF, "less_off"),
        ("crisis", None, Frequency.EVERY_3_DAYS, "less"),  # from what the band gives
        ("high", None, Frequency.WEEKLY, "less"),
        ("moderate", None, Frequency.OFF, "less_off"),
    ],
)
def test_less_steps_one_rung_down_from_what_comes_now(
    band: str | None, chosen: Frequency | None, after: Frequency, text: str
) -> None:
    """ "Text me less": daily -> every 3 days -> weekly -> off, from the choice or the band."""
    outcome = apply(Preference(frequency=chosen), "less", band=band, now=NOW)
    assert outcome.preference.frequency is after and outcome.text == text
    assert outcome.values["after"] is after


def test_less_when_the_band_sends_none_stops_the_line_writing_first_and_never_opts_out() -> None:
    """A mild caregiver gets no scheduled check-ins: "less" turns them off, which also stops nudges."""
    outcome = apply(Preference(), "less", band="mild", now=NOW)
    assert outcome.preference.frequency is Frequency.OFF and outcome.text == "less_no_nudges"
    again = apply(outcome.preference, "less", band="mild", now=NOW)
    assert again.preference == outcome.preference and again.text == "less_none_scheduled"
    assert apply(outcome.preference, "resume", band="mild", now=NOW).preference.frequency is None


def test_resume_undoes_a_run_of_less_back_to_where_it_started() -> None:
    """Two steps down from the band's daily, then RESUME: the band's schedule again."""
    start = Preference()
    once = apply(start, "less", band="crisis", now=NOW).preference
    twice = apply(once, "less", band="crisis", now=NOW).preference
    assert twice.frequency is Frequency.WEEKLY and twice.before_less == "band"
    back = apply(twice, "resume", band="crisis", now=NOW)
    assert back.preference.frequency is None and back.preference.before_less is None
    assert back.text == "resumed" and back.values["frequency"] is Frequency.DAILY


def test_resume_ends_a_pause_and_says_when_there_was_none() -> None:
    paused = apply(Preference(frequency=Frequency.WEEKLY), "pause", band=None, now=NOW).preference
    resumed = apply(paused, "resume", band=None, now=NOW + DAY)
    assert resumed.preference.paused_until is None and resumed.text == "resumed"
    assert effective_interval(resumed.preference, None, NOW + DAY) == 7 * DAY
    again = apply(resumed.preference, "resume", band=None, now=NOW + DAY)
    assert again.text == "not_paused" and again.preference == resumed.preference


def test_less_while_paused_turns_check_ins_off_until_resume() -> None:
    paused = apply(Preference(frequency=Frequency.DAILY), "pause", band=None, now=NOW).preference
    off = apply(paused, "less", band=None, now=NOW)
    assert off.text == "less_off_from_pause" and off.preference.frequency is Frequency.OFF
    assert effective_interval(off.preference, None, NOW + 30 * DAY) is None
    assert apply(off.preference, "resume", band=None, now=NOW).preference.frequency is Frequency.DAILY


def test_daily_and_weekly_end_a_pause_and_a_less_run() -> None:
    paused = apply(Preference(frequency=Frequency.WEEKLY, before_less="band"), "pause", band=None, now=NOW)
    daily = apply(paused.preference, "daily", band=None, now=NOW)
    assert daily.preference == Preference(frequency=Frequency.DAILY) and daily.text == "set_daily"


@pytest.mark.parametrize(
    ("at", "text"),
    [(time(9, 0), "time_set"), (time(19, 0), "time_set"), (time(8, 59), "time_outside_window"),
     (time(19, 30), "time_outside_window"), (time(21, 0), "time_outside_window")],
)  # fmt: skip
def test_a_time_of_day_must_leave_room_in_the_send_window(at: time, text: str) -> None:
    """09:00 to 19:00 on the caregiver's clock; anything else is refused and nothing changes."""
    outcome = apply(Preference(), "time", band=None, now=NOW, at=at)
    assert outcome.text == text
    assert outcome.preference.at() == (at if text == "time_set" else None)


def test_the_choice_round_trips_through_the_profile_document() -> None:
    """What ``to_doc`` stores, ``of`` reads back (naive datetimes, as MongoDB returns them, are UTC)."""
    chosen = Preference(Frequency.EVERY_3_DAYS, NOW + DAY, 18, 30, "daily")
    doc = chosen.to_doc()
    doc["paused_until"] = doc["paused_until"].replace(tzinfo=None)
    assert of({"checkins": doc}) == chosen
    assert of({}) == Preference() and of({"checkins": {"frequency": "fortnightly"}}) == Preference()


def test_an_unknown_change_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown"):
        apply(Preference(), "monthly", band=None, now=NOW)
