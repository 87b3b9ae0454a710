"""The bereavement phase: entered on a reported loss, kept through messages and crisis, left on request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from careline_profile.domain.journey import Phase, next_phase

NOW = datetime(2025, 6, 2, 15, 0, tzinfo=UTC)
BEREAVED = {"bereaved_at": NOW - timedelta(days=10)}


def move(current: Phase | str, event: str, **profile: Any) -> Phase:
    return next_phase(current, event=event, profile=profile, now=NOW)


@pytest.mark.parametrize("current", list(Phase))
def test_a_loss_moves_any_phase_to_bereavement(current: Phase) -> None:
    assert move(current, "loss") is Phase.BEREAVEMENT


def test_assessments_and_messages_leave_bereavement_alone() -> None:
    assert move(Phase.BEREAVEMENT, "assessment_completed", **BEREAVED) is Phase.BEREAVEMENT
    assert move(Phase.BEREAVEMENT, "message", **BEREAVED) is Phase.BEREAVEMENT


def test_a_crisis_still_comes_first_and_its_end_returns_to_bereavement() -> None:
    assert move(Phase.BEREAVEMENT, "crisis", **BEREAVED) is Phase.CRISIS_SUPPORT
    calm = {**BEREAVED, "last_crisis_at": NOW - timedelta(days=8)}
    assert move(Phase.CRISIS_SUPPORT, "crisis_resolved", **calm) is Phase.BEREAVEMENT
    assert (
        move(Phase.CRISIS_SUPPORT, "crisis_resolved", last_crisis_at=NOW - timedelta(days=8)) is Phase.ACTIVE
    )


def test_a_bereaved_caregiver_who_churned_and_writes_again_is_bereaved_still() -> None:
    assert move(Phase.CHURNED, "message", **BEREAVED) is Phase.BEREAVEMENT
    assert move(Phase.CHURNED, "message") is Phase.ACTIVE


def test_asking_for_check_ins_again_ends_bereavement_only() -> None:
    assert move(Phase.BEREAVEMENT, "checkins_resumed") is Phase.ACTIVE
    assert move(Phase.MAINTENANCE, "checkins_resumed") is Phase.MAINTENANCE
