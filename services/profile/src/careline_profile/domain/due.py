"""When the check-in scan next needs to look at a caregiver: ``next_due_at``, kept on the profile.

The scan reads only profiles whose ``next_due_at`` has passed, through an index on it, so its
cost follows the caregivers who need something and not the population. ``next_due_at`` is the
earliest of the moments at which ``schedule`` could start something for the caregiver:

- a check-in: the interval (their choice, else their band's) after the later of their last
  message and the last check-in, and no sooner than 24 h after either, than the crisis band's
  2 silent days, than the check-in instrument's minimum interval, than the end of a pause,
  then moved into the send window and to their chosen time of day;
- a re-engagement nudge: the next of days 7, 14 and 30 of silence not yet sent;
- churn: day 31 of silence, when the caregiver is marked churned;
- the end of crisis support: 7 days after the last crisis.

None when nothing can come: a churned caregiver (until they write again), and an opted-out or
bereaved one gets no check-in or nudge (only the churn and crisis-support moments remain, each
read once). A pause holds check-ins and nudges back until it ends. The moment is a lower bound:
at it, ``schedule.is_due`` and friends decide; a caregiver read and found not due after all is
looked at again no sooner than ``RECHECK`` later (see ``after_visit``).

Every change of an input recomputes it (``with_next_due``): the profile fields read by
``schedule`` and ``journey`` (band, last contact, last check-in, opt-out, time zone, nudges
sent, choice, last completed, bereavement, phase, last crisis).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any

from careline_profile.domain import preferences, schedule
from careline_profile.domain.instruments import INSTRUMENTS
from careline_profile.domain.journey import CRISIS_CALM
from careline_profile.domain.scoring import Band

FIELD = "next_due_at"
RECHECK = timedelta(minutes=30)
"""How long a caregiver read by the scan and found not due after all waits for the next look."""
INPUTS = frozenset(
    {
        "burnout_band", "last_contact_at", "last_checkin_at", "opted_out", "time_zone",
        "reengagements_sent", "checkins", "last_completed", "bereaved_at", "journey_phase",
        "last_crisis_at",
    }
)  # fmt: skip
"""The profile fields ``next_due_at`` depends on."""
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
EARLIEST = datetime(1, 1, 1, tzinfo=UTC)
"""Below every due time: the scan's explicit lower bound (see ``MongoProfileReader.due_profiles``)."""


def next_due_at(
    profile: Mapping[str, Any], now: datetime, not_before: datetime | None = None
) -> datetime | None:
    """The earliest moment the scan may have something to do for this caregiver; None for never.

    ``not_before`` holds every moment back to it (a check-in or nudge then to the next moment
    inside the send window after it)."""
    now = schedule.aware(now)
    if profile.get("journey_phase") == "churned":
        return None
    floor = [] if not_before is None else [not_before]
    moments = [max([m, *floor]) for m in (_churn(profile), _crisis_calm(profile)) if m is not None]
    if not profile.get("opted_out", False) and profile.get("bereaved_at") is None:
        moments += [m for m in (_checkin(profile, now, floor), _nudge(profile, now, floor)) if m is not None]
    return min(moments, default=None)


def with_next_due(profile: Mapping[str, Any], fields: dict[str, Any], now: datetime) -> dict[str, Any]:
    """``fields`` to set on ``profile``, with ``next_due_at`` as it is once they are set."""
    if not INPUTS.intersection(fields):
        return fields
    return {**fields, FIELD: next_due_at({**profile, **fields}, now)}


def after_visit(profile: Mapping[str, Any], now: datetime) -> datetime | None:
    """``next_due_at`` for a caregiver the scan read and left as it was: never ``now`` or earlier,
    so a caregiver whose moment came but who was not due after all is not read on every scan."""
    return next_due_at(profile, now, not_before=schedule.aware(now) + RECHECK)


def _when(profile: Mapping[str, Any], field: str) -> datetime | None:
    value = profile.get(field)
    return None if value is None else schedule.as_utc(value)


def _churn(profile: Mapping[str, Any]) -> datetime | None:
    last_contact = _when(profile, "last_contact_at")
    return None if last_contact is None else last_contact + schedule.CHURN_AFTER


def _crisis_calm(profile: Mapping[str, Any]) -> datetime | None:
    if profile.get("journey_phase") != "crisis_support":
        return None
    last_crisis = _when(profile, "last_crisis_at")
    return last_crisis + CRISIS_CALM if last_crisis is not None else LONG_AGO  # no crisis on record: calm


def _checkin(profile: Mapping[str, Any], now: datetime, floor: list[datetime]) -> datetime | None:
    chosen = preferences.of(profile)
    interval = preferences.INTERVALS[preferences.current(chosen, profile.get("burnout_band"))]
    if interval is None:
        return None
    slack = schedule.PREFERRED_TIME_SLACK if chosen.hour is not None else timedelta(0)
    last_contact, last_checkin = _when(profile, "last_contact_at"), _when(profile, "last_checkin_at")
    floors = [*floor, *([chosen.paused_until] if chosen.paused(now) and chosen.paused_until else [])]
    if last_contact is not None:
        floors.append(last_contact + schedule.RECENT_CONTACT)
        if chosen.frequency is None and profile.get("burnout_band") == Band.CRISIS:
            floors.append(last_contact + schedule.CRISIS_SILENCE)
    if last_checkin is not None:
        floors.append(last_checkin + schedule.PROACTIVE_GAP - slack)
    latest = max((at for at in (last_contact, last_checkin) if at is not None), default=None)
    if latest is not None:
        floors.append(latest + interval - slack)
    done = (profile.get("last_completed") or {}).get("checkin")
    if done is not None:
        floors.append(schedule.as_utc(done) + INSTRUMENTS["checkin"].min_interval)
    return _on_their_clock(max(floors, default=now), profile.get("time_zone"), chosen.at())


def _nudge(profile: Mapping[str, Any], now: datetime, floor: list[datetime]) -> datetime | None:
    chosen = preferences.of(profile)
    last_contact = _when(profile, "last_contact_at")
    if last_contact is None or chosen.frequency is preferences.Frequency.OFF:
        return None
    step = _next_nudge_step(last_contact, profile.get("reengagements_sent") or (), now)
    if step is None:
        return None
    floors = [step, *floor]
    last_checkin = _when(profile, "last_checkin_at")
    if last_checkin is not None:
        floors.append(last_checkin + schedule.PROACTIVE_GAP)
    if chosen.paused(now) and chosen.paused_until is not None:
        floors.append(chosen.paused_until)
    at = _on_their_clock(max(floors), profile.get("time_zone"), None)
    return at if at < last_contact + schedule.CHURN_AFTER else None


def _next_nudge_step(last_contact: datetime, sent: Any, now: datetime) -> datetime | None:
    """When the next unsent nudge step is reached: a step counts while it is the latest reached
    (``schedule.reengagement_due``), so one whose time to be the latest is over is skipped."""
    ends = (*schedule.REENGAGEMENT_DAYS[1:], schedule.CHURN_AFTER.days)
    for days, until in zip(schedule.REENGAGEMENT_DAYS, ends, strict=True):
        if days not in sent and last_contact + timedelta(days=until) > now:
            return max(last_contact + timedelta(days=days), now)
    return None


def _on_their_clock(at: datetime, time_zone: str | None, preferred: time | None) -> datetime:
    """The first moment from ``at`` on inside the send window and at or after the chosen time."""
    start = schedule.next_window_start(time_zone, at)
    if preferred is None:
        return start
    zone = schedule.caregiver_zone(time_zone)
    local = start.astimezone(zone)
    if local.time() >= preferred:
        return start
    return datetime.combine(local.date(), preferred, tzinfo=zone).astimezone(start.tzinfo)
