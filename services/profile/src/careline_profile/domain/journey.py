"""Where a caregiver is in their journey with the line, and what moves them on.

Phases: onboarding -> active -> maintenance (stable, low band for weeks) or crisis_support
(after a crisis) -> back to active; churned after long silence or cancellation; bereavement
once the caregiver told the line the person they cared for died.

Rules, by event (any event not listed for a phase leaves the phase as it is):
- ``onboarding_done``: onboarding -> active.
- ``assessment_completed`` (``burnout_band`` and ``band_history`` already include it): an
  active, maintenance or churned caregiver is in maintenance when the last 3 completed
  assessments were all mild or thriving and span at least 14 days, else active. Onboarding
  and crisis_support are left alone: onboarding ends with ``onboarding_done``, crisis support
  with ``crisis_resolved``. A crisis *band* alone does not start crisis support; a crisis
  message does.
- ``crisis`` (a crisis message was detected): any phase -> crisis_support.
- ``crisis_resolved``: crisis_support -> active once 7 days have passed since the last crisis
  (``last_crisis_at``; a caregiver with no recorded crisis counts as resolved).
- ``message`` (the caregiver wrote): churned -> active.
- ``silence`` (a periodic sweep): any phase -> churned at 31+ days since the caregiver last
  wrote (``last_contact_at``).
- ``canceled`` (the subscription ended for good): any phase -> churned.
- ``loss`` (the caregiver said the person they cared for died): any phase -> bereavement. A
  bereaved caregiver stays there through assessments and messages; a crisis still moves them
  to crisis support, and its end back to bereavement (``bereaved_at`` is set).
- ``checkins_resumed`` (the caregiver asked for check-ins again: DAILY, WEEKLY, RESUME):
  bereavement -> active.

Profile fields read: ``band_history`` (list of ``{"band": str, "at": datetime}``),
``last_crisis_at``, ``last_contact_at``, ``bereaved_at``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from careline_profile.domain.schedule import as_utc, aware, is_churned
from careline_profile.domain.scoring import Band


class Phase(StrEnum):
    """Where the caregiver is in their journey with the line."""

    ONBOARDING = "onboarding"
    ACTIVE = "active"
    MAINTENANCE = "maintenance"
    CRISIS_SUPPORT = "crisis_support"
    CHURNED = "churned"
    BEREAVEMENT = "bereavement"


class JourneyEvent(StrEnum):
    """Something that happened which may move the caregiver to another phase."""

    ONBOARDING_DONE = "onboarding_done"
    ASSESSMENT_COMPLETED = "assessment_completed"
    CRISIS = "crisis"
    CRISIS_RESOLVED = "crisis_resolved"
    MESSAGE = "message"
    SILENCE = "silence"
    CANCELED = "canceled"
    LOSS = "loss"
    CHECKINS_RESUMED = "checkins_resumed"


STABLE_BANDS = frozenset({Band.MILD, Band.THRIVING})
STABLE_ASSESSMENTS = 3
STABLE_SPAN = timedelta(days=14)
CRISIS_CALM = timedelta(days=7)

_Rule = Callable[[Phase, Mapping[str, Any], datetime], Phase]


def next_phase(current: Phase | str, *, event: str, profile: Mapping[str, Any], now: datetime) -> Phase:
    """The phase after ``event``; ValueError for an unknown phase or event."""
    return _RULES[JourneyEvent(event)](Phase(current), profile, aware(now))


def is_stable(profile: Mapping[str, Any]) -> bool:
    """True when the last 3 assessments were all mild or thriving and span 14 days or more."""
    history = sorted(profile.get("band_history", ()), key=lambda entry: as_utc(entry["at"]))
    recent = history[-STABLE_ASSESSMENTS:]
    if len(recent) < STABLE_ASSESSMENTS or any(entry["band"] not in STABLE_BANDS for entry in recent):
        return False
    return as_utc(recent[-1]["at"]) - as_utc(recent[0]["at"]) >= STABLE_SPAN


def _onboarding_done(current: Phase, profile: Mapping[str, Any], now: datetime) -> Phase:
    return Phase.ACTIVE if current is Phase.ONBOARDING else current


def _assessment_completed(current: Phase, profile: Mapping[str, Any], now: datetime) -> Phase:
    if current in (Phase.ONBOARDING, Phase.CRISIS_SUPPORT, Phase.BEREAVEMENT):
        return current
    return Phase.MAINTENANCE if is_stable(profile) else Phase.ACTIVE


def _crisis(current: Phase, profile: Mapping[str, Any], now: datetime) -> Phase:
    return Phase.CRISIS_SUPPORT


def _crisis_resolved(current: Phase, profile: Mapping[str, Any], now: datetime) -> Phase:
    if current is not Phase.CRISIS_SUPPORT:
        return current
    last_crisis = profile.get("last_crisis_at")
    if last_crisis is not None and now - as_utc(last_crisis) < CRISIS_CALM:
        return current
    return Phase.BEREAVEMENT if profile.get("bereaved_at") is not None else Phase.ACTIVE


def _message(current: Phase, profile: Mapping[str, Any], now: datetime) -> Phase:
    if current is not Phase.CHURNED:
        return current
    return Phase.BEREAVEMENT if profile.get("bereaved_at") is not None else Phase.ACTIVE


def _silence(current: Phase, profile: Mapping[str, Any], now: datetime) -> Phase:
    return Phase.CHURNED if is_churned(profile, now) else current


def _canceled(current: Phase, profile: Mapping[str, Any], now: datetime) -> Phase:
    return Phase.CHURNED


def _loss(current: Phase, profile: Mapping[str, Any], now: datetime) -> Phase:
    return Phase.BEREAVEMENT


def _checkins_resumed(current: Phase, profile: Mapping[str, Any], now: datetime) -> Phase:
    return Phase.ACTIVE if current is Phase.BEREAVEMENT else current


_RULES: dict[JourneyEvent, _Rule] = {
    JourneyEvent.ONBOARDING_DONE: _onboarding_done,
    JourneyEvent.ASSESSMENT_COMPLETED: _assessment_completed,
    JourneyEvent.CRISIS: _crisis,
    JourneyEvent.CRISIS_RESOLVED: _crisis_resolved,
    JourneyEvent.MESSAGE: _message,
    JourneyEvent.SILENCE: _silence,
    JourneyEvent.CANCELED: _canceled,
    JourneyEvent.LOSS: _loss,
    JourneyEvent.CHECKINS_RESUMED: _checkins_resumed,
}
