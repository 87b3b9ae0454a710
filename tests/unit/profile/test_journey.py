"""Journey phases: onboarding, active, maintenance, crisis support, churned, and back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from careline_profile.domain.journey import Phase, is_stable, next_phase

NOW = datetime(2025, 6, 2, 15, 0, tzinfo=UTC)


def history(*entries: tuple[str, float]) -> list[dict[str, Any]]:
    """band_history entries, each (band, days before NOW)."""
    return [{"band": band, "at": NOW - timedelta(days=days)} for band, days in entries]


def move(current: Phase | str, event: str, **profile: Any) -> Phase:
    return next_phase(current, event=event, profile=profile, now=NOW)


def test_onboarding_done_starts_the_active_phase() -> None:
    """Onboarding ends with onboarding_done; other phases ignore it."""
    assert move(Phase.ONBOARDING, "onboarding_done") is Phase.ACTIVE
    assert move(Phase.MAINTENANCE, "onboarding_done") is Phase.MAINTENANCE


def test_three_low_bands_over_two_weeks_mean_maintenance() -> None:
    """Mild/thriving on the last 3 assessments, spanning 14+ days: maintenance."""
    stable = history(("high", 40), ("mild", 14), ("thriving", 7), ("mild", 0))
    assert move(Phase.ACTIVE, "assessment_completed", band_history=stable) is Phase.MAINTENANCE


@pytest.mark.parametrize(
    "entries",
    [
        (("mild", 13), ("mild", 7), ("mild", 0)),  # under 14 days
        (("mild", 30), ("moderate", 14), ("mild", 0)),  # one higher band in the last three
        (("mild", 30), ("thriving", 0)),  # only two assessments
        (("thriving", 40), ("mild", 30), ("mild", 20), ("moderate", 0)),  # latest is moderate
    ],
)
def test_not_yet_stable_stays_active(entries: tuple[tuple[str, float], ...]) -> None:
    """Short spans, a higher band or too few assessments keep the caregiver active."""
    assert move(Phase.ACTIVE, "assessment_completed", band_history=history(*entries)) is Phase.ACTIVE


def test_history_order_does_not_matter() -> None:
    """band_history is read by date, not by list order."""
    assert is_stable({"band_history": history(("mild", 0), ("mild", 20), ("thriving", 10))})
    assert not is_stable({"band_history": history(("mild", 0), ("moderate", 1), ("mild", 20), ("mild", 10))})


def test_a_higher_band_ends_maintenance() -> None:
    """A moderate assessment during maintenance goes back to active."""
    entries = history(("mild", 30), ("mild", 20), ("mild", 10), ("moderate", 0))
    assert move(Phase.MAINTENANCE, "assessment_completed", band_history=entries) is Phase.ACTIVE


def test_assessment_leaves_onboarding_and_crisis_support_alone() -> None:
    """Those phases end by their own events."""
    stable = history(("mild", 20), ("mild", 10), ("mild", 0))
    assert move(Phase.ONBOARDING, "assessment_completed", band_history=stable) is Phase.ONBOARDING
    assert move(Phase.CRISIS_SUPPORT, "assessment_completed", band_history=stable) is Phase.CRISIS_SUPPORT


@pytest.mark.parametrize("current", list(Phase))
def test_crisis_from_any_phase(current: Phase) -> None:
    """A crisis moves every phase to crisis support."""
    assert move(current, "crisis") is Phase.CRISIS_SUPPORT


def test_crisis_resolves_after_seven_calm_days() -> None:
    """Back to active once 7 days have passed since the last crisis."""
    assert move("crisis_support", "crisis_resolved", last_crisis_at=NOW - timedelta(days=6.9)) is (
        Phase.CRISIS_SUPPORT
    )
    assert move("crisis_support", "crisis_resolved", last_crisis_at=NOW - timedelta(days=7)) is Phase.ACTIVE
    assert move("crisis_support", "crisis_resolved") is Phase.ACTIVE
    assert move("maintenance", "crisis_resolved", last_crisis_at=NOW - timedelta(days=9)) is Phase.MAINTENANCE


def test_silence_churns_at_31_days() -> None:
    """The silence sweep churns a caregiver quiet for 31 days, not 30."""
    assert move(Phase.ACTIVE, "silence", last_contact_at=NOW - timedelta(days=30)) is Phase.ACTIVE
    assert move(Phase.ACTIVE, "silence", last_contact_at=NOW - timedelta(days=31)) is Phase.CHURNED
    assert move(Phase.CRISIS_SUPPORT, "silence", last_contact_at=NOW - timedelta(days=40)) is Phase.CHURNED


def test_cancellation_churns() -> None:
    """A subscription that ended for good churns any phase."""
    assert move(Phase.MAINTENANCE, "canceled") is Phase.CHURNED


def test_a_churned_caregiver_who_writes_is_active_again() -> None:
    """A message brings a churned caregiver back; it changes nothing elsewhere."""
    assert move(Phase.CHURNED, "message") is Phase.ACTIVE
    assert move(Phase.MAINTENANCE, "message") is Phase.MAINTENANCE


def test_unknown_event_or_phase_is_an_error() -> None:
    """Typos fail loudly."""
    with pytest.raises(ValueError):
        move(Phase.ACTIVE, "assesment_completed")
    with pytest.raises(ValueError):
        move("dormant", "message")
