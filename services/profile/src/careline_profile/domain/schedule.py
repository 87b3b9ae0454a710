"""When the line may reach out first: check-ins, quiet hours, re-engagement, churn.

Check-ins follow the burnout band: crisis daily (and only once the caregiver has been silent
for 2 days), high every 3 days, moderate weekly, mild and thriving only on request. The
interval runs from the later of the caregiver's last message and the last check-in. On top:
- never to an opted-out number, and never once the caregiver has churned (31+ days silent);
- at most one proactive message per 24 h (``last_checkin_at``);
- none when the caregiver wrote in the last 24 h (``last_contact_at``): they are talking already;
- only inside the send window, 09:00-20:00 on the caregiver's own clock (``time_zone``, an
  IANA name; America/New_York when missing or unknown). The original computed this in UTC.

A dormant caregiver gets at most three nudges, after 7, 14 and 30 days of silence, each
once (``reengagements_sent``); after 31 days the caregiver counts as churned and the line goes
quiet. A nudge is a proactive message too: the caller records it in ``last_checkin_at``.

The caregiver's own choice (``checkins``, see ``domain.preferences``) comes first: DAILY or
WEEKLY replace the band's interval (and a caregiver with no band but a choice gets check-ins
too), a pause or "off" means none, and a chosen time of day holds the check-in back until that
time on their clock (the interval then counts with ``PREFERRED_TIME_SLACK``, so a check-in sent
a few minutes late does not push the next day's later and later). The crisis band's 2 silent
days apply only while the caregiver follows the band. No check-in starts before the check-in
instrument's minimum interval since the last one completed (``last_completed``), and none
after the caregiver told the line the person they cared for died (``bereaved_at``): neither a
check-in nor a re-engagement nudge about caregiving. A pause, or check-ins the caregiver
turned off, also holds the nudges back.

Profile fields read: ``burnout_band``, ``last_contact_at`` (caregiver's last inbound
message), ``last_checkin_at`` (last proactive message), ``opted_out``, ``time_zone``,
``reengagements_sent``, ``checkins``, ``last_completed`` (instrument key -> when one was last
completed), ``bereaved_at``. Datetimes may be naive (MongoDB's default), and are then read as UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from careline_profile.domain import preferences
from careline_profile.domain.instruments import INSTRUMENTS
from careline_profile.domain.scoring import Band

DEFAULT_TIME_ZONE = "America/New_York"
SEND_WINDOW_START = time(9, 0)
SEND_WINDOW_END = time(20, 0)  # exclusive: the last send may go out at 19:59
PROACTIVE_GAP = timedelta(hours=24)
RECENT_CONTACT = timedelta(hours=24)
CRISIS_SILENCE = timedelta(days=2)
REENGAGEMENT_DAYS = (7, 14, 30)
CHURN_AFTER = timedelta(days=31)
PREFERRED_TIME_SLACK = timedelta(hours=1)

CHECKIN_INTERVALS: dict[Band, timedelta | None] = {
    Band.CRISIS: timedelta(days=1),
    Band.HIGH: timedelta(days=3),
    Band.MODERATE: timedelta(days=7),
    Band.MILD: None,
    Band.THRIVING: None,
}


def checkin_interval(band: Band | str | None) -> timedelta | None:
    """Time between proactive check-ins for ``band``; None means only when the caregiver asks."""
    if band is None:
        return None
    try:
        return CHECKIN_INTERVALS[Band(band)]
    except ValueError:  # no band yet, or a name this version does not know
        return None


def caregiver_zone(time_zone: str | None) -> ZoneInfo:
    """The caregiver's time zone, or America/New_York when it is missing or not an IANA name."""
    if time_zone:
        try:
            return ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo(DEFAULT_TIME_ZONE)


def in_send_window(time_zone: str | None, now: datetime) -> bool:
    """True between 09:00 and 20:00 on the caregiver's own clock."""
    local = aware(now).astimezone(caregiver_zone(time_zone)).time()
    return SEND_WINDOW_START <= local < SEND_WINDOW_END


def next_window_start(time_zone: str | None, now: datetime) -> datetime:
    """The earliest moment from ``now`` on when a message may go out (UTC).

    ``now`` itself inside the window; otherwise the next 09:00 on the caregiver's clock.
    """
    zone = caregiver_zone(time_zone)
    local = aware(now).astimezone(zone)
    if local.time() < SEND_WINDOW_START:
        day = local.date()
    elif local.time() < SEND_WINDOW_END:
        return now.astimezone(UTC)
    else:
        day = local.date() + timedelta(days=1)
    return datetime.combine(day, SEND_WINDOW_START, tzinfo=zone).astimezone(UTC)


def is_due(profile: Mapping[str, Any], now: datetime) -> bool:
    """True when a proactive check-in should go out to this caregiver now."""
    now = aware(now)
    if profile.get("bereaved_at") is not None:
        return False
    chosen = preferences.of(profile)
    band = profile.get("burnout_band")
    interval = preferences.effective_interval(chosen, band, now)
    slack = PREFERRED_TIME_SLACK if chosen.hour is not None else timedelta(0)
    if interval is None or not _may_reach_out(profile, now, slack):
        return False
    if not preferred_time_reached(chosen, profile.get("time_zone"), now):
        return False
    if assessment_ready_at(profile, "checkin", now) is not None:
        return False
    last_contact = _when(profile, "last_contact_at")
    last_checkin = _when(profile, "last_checkin_at")
    follows_band = chosen.frequency is None
    if follows_band and band == Band.CRISIS and _within(last_contact, now, CRISIS_SILENCE):
        return False
    latest = max((at for at in (last_contact, last_checkin) if at is not None), default=None)
    return not _within(latest, now, interval - slack)


def preferred_time_reached(chosen: preferences.Preference, time_zone: str | None, now: datetime) -> bool:
    """True when the caregiver chose no time of day, or it is that time or later on their clock."""
    at = chosen.at()
    return at is None or aware(now).astimezone(caregiver_zone(time_zone)).time() >= at


def assessment_ready_at(profile: Mapping[str, Any], instrument: str, now: datetime) -> datetime | None:
    """When ``instrument`` may be asked again (UTC), or None when it may be now.

    Its minimum interval runs from the last time the caregiver completed it.
    """
    done = (profile.get("last_completed") or {}).get(instrument)
    if done is None:
        return None
    ready = as_utc(done) + INSTRUMENTS[instrument].min_interval
    return ready if aware(now) < ready else None


def next_checkin_interval(profile: Mapping[str, Any], now: datetime) -> timedelta | None:
    """The interval the caregiver's check-ins follow now: their choice, else their band's."""
    if profile.get("bereaved_at") is not None:
        return None
    return preferences.effective_interval(preferences.of(profile), profile.get("burnout_band"), aware(now))


def silence(profile: Mapping[str, Any], now: datetime) -> timedelta | None:
    """How long since the caregiver last wrote; None when they never have."""
    last_contact = _when(profile, "last_contact_at")
    return None if last_contact is None else aware(now) - last_contact


def is_churned(profile: Mapping[str, Any], now: datetime) -> bool:
    """True after 31 days or more without a message from the caregiver."""
    quiet = silence(profile, now)
    return quiet is not None and quiet >= CHURN_AFTER


def reengagement_due(profile: Mapping[str, Any], now: datetime) -> int | None:
    """7, 14 or 30 when that re-engagement nudge should go out now, else None.

    Only the latest step reached counts: a caregiver found silent for 15 days with no nudge
    sent gets the day-14 nudge, not a late day-7 one followed by another.
    """
    now = aware(now)
    quiet = silence(profile, now)
    if quiet is None or quiet >= CHURN_AFTER or not _may_reach_out(profile, now):
        return None
    if profile.get("bereaved_at") is not None or _held_back(preferences.of(profile), now):
        return None
    reached = [days for days in REENGAGEMENT_DAYS if quiet >= timedelta(days=days)]
    if not reached or reached[-1] in profile.get("reengagements_sent", ()):
        return None
    return reached[-1]


def _held_back(chosen: preferences.Preference, now: datetime) -> bool:
    """The caregiver paused check-ins, or turned them off by asking for less."""
    return chosen.paused(now) or chosen.frequency is preferences.Frequency.OFF


def _may_reach_out(profile: Mapping[str, Any], now: datetime, slack: timedelta = timedelta(0)) -> bool:
    """The rules every proactive message obeys: consent, pace, conversation, churn, clock."""
    return (
        not profile.get("opted_out", False)
        and not _within(_when(profile, "last_checkin_at"), now, PROACTIVE_GAP - slack)
        and not _within(_when(profile, "last_contact_at"), now, RECENT_CONTACT)
        and not is_churned(profile, now)
        and in_send_window(profile.get("time_zone"), now)
    )


def _within(at: datetime | None, now: datetime, span: timedelta) -> bool:
    return at is not None and now - at < span


def _when(profile: Mapping[str, Any], field: str) -> datetime | None:
    value = profile.get(field)
    return None if value is None else as_utc(value)


def as_utc(value: datetime) -> datetime:
    """A stored datetime in UTC; MongoDB hands back naive UTC datetimes unless told otherwise."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def aware(now: datetime) -> datetime:
    """``now`` in UTC; a naive ``now`` is a bug in the caller, not something to guess about."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)
