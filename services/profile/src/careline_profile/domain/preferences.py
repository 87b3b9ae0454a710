"""How often and when the caregiver wants check-ins: their choice, and what each request does to it.

The choice is kept on the profile as ``checkins``::

    {"frequency": "daily" | "every_3_days" | "weekly" | "off" | None,
     "paused_until": <UTC datetime> | None,
     "hour": 0-23 | None, "minute": 0-59,
     "before_less": "band" | "daily" | "every_3_days" | "weekly" | None}

``frequency`` None follows the burnout band (``schedule.CHECKIN_INTERVALS``). A pause stops
check-ins until ``paused_until`` and leaves the frequency as it was, so they come back by
themselves. "Text me less" steps one rung down the ladder daily -> every 3 days -> weekly -> off,
starting from what the caregiver gets now (their choice, or their band's interval);
``before_less`` remembers where the first step started, so RESUME can undo a run of them.

Requests (``change`` of ``CheckinPreferenceChanged``):
- ``daily`` / ``weekly``: that frequency; any pause and "less" run end.
- ``pause``: none for ``PAUSE_FOR`` (7 days); a pause already running is extended from now.
- ``resume``: the pause ends, and a "less" run is undone (back to ``before_less``).
- ``less``: one rung down; a paused caregiver goes to off (they asked for less still), and so
  does one whose band sends no check-ins: off also stops the re-engagement nudges, the only
  texts the line would still start.
- ``time``: the time of day (on the caregiver's clock) check-ins come at; it must leave room
  inside the send window, so from 09:00 to 19:00.

Everything here is pure: ``apply`` returns the new choice and which text confirms it, and
``schedule`` reads the choice through ``effective_interval``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from careline_profile.domain.scoring import Band

PAUSE_FOR = timedelta(days=7)
EARLIEST = time(9, 0)
LATEST = time(19, 0)
"""The latest time a caregiver may choose: an hour before the send window closes at 20:00, so a
scan every few minutes always finds them inside it."""


class Frequency(StrEnum):
    DAILY = "daily"
    EVERY_3_DAYS = "every_3_days"
    WEEKLY = "weekly"
    OFF = "off"


INTERVALS: dict[Frequency, timedelta | None] = {
    Frequency.DAILY: timedelta(days=1),
    Frequency.EVERY_3_DAYS: timedelta(days=3),
    Frequency.WEEKLY: timedelta(days=7),
    Frequency.OFF: None,
}
LADDER = (Frequency.DAILY, Frequency.EVERY_3_DAYS, Frequency.WEEKLY, Frequency.OFF)
BAND_FREQUENCY: dict[Band, Frequency] = {
    Band.CRISIS: Frequency.DAILY,
    Band.HIGH: Frequency.EVERY_3_DAYS,
    Band.MODERATE: Frequency.WEEKLY,
    Band.MILD: Frequency.OFF,
    Band.THRIVING: Frequency.OFF,
}
"""What each band gets when the caregiver chose nothing (the same as ``schedule``'s intervals)."""
BAND = "band"


@dataclass(frozen=True)
class Preference:
    frequency: Frequency | None = None
    paused_until: datetime | None = None
    hour: int | None = None
    minute: int = 0
    before_less: str | None = None

    def paused(self, now: datetime) -> bool:
        return self.paused_until is not None and now < self.paused_until

    def at(self) -> time | None:
        """The chosen time of day, or None."""
        return None if self.hour is None else time(self.hour, self.minute)

    def to_doc(self) -> dict[str, Any]:
        return {
            "frequency": None if self.frequency is None else str(self.frequency),
            "paused_until": self.paused_until,
            "hour": self.hour,
            "minute": self.minute,
            "before_less": self.before_less,
        }


def of(profile: Mapping[str, Any]) -> Preference:
    """The caregiver's choice as stored on the profile (nothing chosen when absent or unreadable)."""
    doc = profile.get("checkins") or {}
    try:
        frequency = Frequency(doc["frequency"]) if doc.get("frequency") else None
    except ValueError:
        frequency = None
    paused = doc.get("paused_until")
    hour = doc.get("hour")
    return Preference(
        frequency=frequency,
        paused_until=None if paused is None else _utc(paused),
        hour=int(hour) if isinstance(hour, int) else None,
        minute=int(doc.get("minute") or 0),
        before_less=doc.get("before_less"),
    )


def band_frequency(band: Band | str | None) -> Frequency:
    """What the band alone gives: mild, thriving and no band give no scheduled check-ins."""
    try:
        return BAND_FREQUENCY[Band(band)] if band is not None else Frequency.OFF
    except ValueError:
        return Frequency.OFF


def current(preference: Preference, band: Band | str | None) -> Frequency:
    """How often check-ins come, pauses aside: the caregiver's choice, else the band's."""
    return preference.frequency or band_frequency(band)


def effective_interval(preference: Preference, band: Band | str | None, now: datetime) -> timedelta | None:
    """Time between check-ins now; None when none are due (paused, off, or nothing to follow)."""
    if preference.paused(now):
        return None
    return INTERVALS[current(preference, band)]


@dataclass(frozen=True)
class Outcome:
    """The new choice and the confirmation to send: a key of ``data/checkins.toml`` and its values."""

    preference: Preference
    text: str
    values: dict[str, Any] = field(default_factory=dict)


def apply(
    preference: Preference,
    change: str,
    *,
    band: Band | str | None,
    now: datetime,
    at: time | None = None,
) -> Outcome:
    """What the caregiver's request does to their choice. ValueError for an unknown change."""
    now = now.astimezone(UTC)
    if change in (Frequency.DAILY, Frequency.WEEKLY):
        chosen = replace(preference, frequency=Frequency(change), paused_until=None, before_less=None)
        return Outcome(chosen, f"set_{change}")
    if change == "pause":
        until = now + PAUSE_FOR
        return Outcome(replace(preference, paused_until=until), "paused", {"until": until})
    if change == "resume":
        return _resume(preference, band, now)
    if change == "less":
        return _less(preference, band, now)
    if change == "time":
        if at is None or not EARLIEST <= at <= LATEST:
            return Outcome(preference, "time_outside_window")
        return Outcome(replace(preference, hour=at.hour, minute=at.minute), "time_set", {"at": at})
    raise ValueError(f"unknown check-in change {change!r}")


def _resume(preference: Preference, band: Band | str | None, now: datetime) -> Outcome:
    was_paused = preference.paused(now)
    if preference.before_less is not None:
        restored = None if preference.before_less == BAND else Frequency(preference.before_less)
        return _resumed(replace(preference, frequency=restored, paused_until=None, before_less=None), band)
    if was_paused or preference.frequency is Frequency.OFF:
        frequency = None if preference.frequency is Frequency.OFF else preference.frequency
        return _resumed(replace(preference, frequency=frequency, paused_until=None), band)
    return Outcome(preference, "not_paused", {"frequency": current(preference, band)})


def _resumed(back: Preference, band: Band | str | None) -> Outcome:
    frequency = current(back, band)
    if frequency is Frequency.OFF:  # nothing to go back to: mild, thriving or no band, no choice
        return Outcome(back, "resumed_on_request")
    return Outcome(back, "resumed", {"frequency": frequency})


def _less(preference: Preference, band: Band | str | None, now: datetime) -> Outcome:
    before_less = preference.before_less or (str(preference.frequency) if preference.frequency else BAND)
    now_on = current(preference, band)
    if preference.paused(now):
        off = replace(preference, frequency=Frequency.OFF, paused_until=None, before_less=before_less)
        return Outcome(off, "less_off_from_pause")
    if preference.frequency is Frequency.OFF:
        return Outcome(preference, "less_none_scheduled")
    if now_on is Frequency.OFF:  # the band sends none: what is left to stop is the line writing first
        quiet = replace(preference, frequency=Frequency.OFF, before_less=before_less)
        return Outcome(quiet, "less_no_nudges")
    after = LADDER[LADDER.index(now_on) + 1]
    fewer = replace(preference, frequency=after, before_less=before_less)
    text = "less_off" if after is Frequency.OFF else "less"
    return Outcome(fewer, text, {"before": now_on, "after": after})


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
