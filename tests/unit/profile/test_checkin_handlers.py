"""Profile's check-in control on the fake unit of work: the choice, "too soon", a loss, the scan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from careline_contracts.conversation import (
    AssessmentAnswered,
    AssessmentRequested,
    CheckinPreferenceChanged,
    LossReported,
)
from careline_contracts.profile import CheckinDue, PromptReady
from careline_platform.jobs import Job
from careline_profile import assessments, handlers
from careline_profile.domain.instruments import INSTRUMENTS
from careline_testing.uow import FakeClock, delivery
from tests.unit.profile.fakes import profile_uow

pytestmark = pytest.mark.asyncio
NOON_IN_SF = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
SCAN = Job(key="checkin.scan:x", type="checkin.scan", payload={}, attempts=1, max_attempts=None,
           progress={}, token="t")  # fmt: skip


def asked(change: str, uow: Any, **fields: Any) -> CheckinPreferenceChanged:
    return CheckinPreferenceChanged(occurred_at=uow.now, user_id="u1", change=change, **fields)  # type: ignore[arg-type]


async def test_daily_is_stored_and_confirmed_in_the_caregivers_language() -> None:
    uow = profile_uow(FakeClock(NOON_IN_SF))
    await handlers.on_checkin_preference_changed(asked("daily", uow, language="es"), delivery("m1"), uow)
    assert uow.repo.profiles["u1"]["checkins"]["frequency"] == "daily"
    [confirm] = uow.events(PromptReady)
    assert isinstance(confirm, PromptReady) and confirm.purpose == "preference"
    assert confirm.text.startswith("Listo: te escribiré cada día") and not confirm.assessment_open
    assert uow.emitted[0].msg_id == "prompt:m1"


async def test_less_from_the_band_says_what_changed_and_never_opts_out() -> None:
    uow = profile_uow(FakeClock(NOON_IN_SF))
    await uow.repo.set_fields("u1", {"burnout_band": "high"}, uow.now)
    await handlers.on_checkin_preference_changed(asked("less", uow), delivery("m1"), uow)
    stored = uow.repo.profiles["u1"]
    assert stored["checkins"]["frequency"] == "weekly" and stored["opted_out"] is False
    [confirm] = uow.events(PromptReady)
    assert "once a week instead of every 3 days" in confirm.text and "RESUME" in confirm.text  # type: ignore[attr-defined]


async def test_a_chosen_time_is_stored_and_one_outside_the_window_is_refused() -> None:
    uow = profile_uow(FakeClock(NOON_IN_SF))
    await handlers.on_checkin_preference_changed(asked("time", uow, hour=18), delivery("m1"), uow)
    assert uow.repo.profiles["u1"]["checkins"]["hour"] == 18
    await handlers.on_checkin_preference_changed(asked("time", uow, hour=21), delivery("m2"), uow)
    assert uow.repo.profiles["u1"]["checkins"]["hour"] == 18
    texts = [e.text for e in uow.events(PromptReady)]  # type: ignore[attr-defined]
    assert "around 6 PM" in texts[0] and "between 9 AM and 8 PM" in texts[1]


async def test_a_preference_change_mid_assessment_keeps_the_assessment_open() -> None:
    uow = profile_uow(FakeClock(NOON_IN_SF))
    requested = AssessmentRequested(occurred_at=uow.now, user_id="u1", instrument="checkin")
    await assessments.on_assessment_requested(requested, delivery("a1"), uow)
    await handlers.on_checkin_preference_changed(asked("pause", uow), delivery("m1"), uow)
    confirm = uow.events(PromptReady)[-1]
    assert confirm.assessment_open and confirm.assessment_id == "asm:a1"  # type: ignore[attr-defined]


async def test_an_assessment_asked_for_too_soon_gets_a_kind_reply_saying_when() -> None:
    """A check-in completed an hour ago: "check in" again says tomorrow, and opens nothing."""
    clock = FakeClock(NOON_IN_SF)
    uow = profile_uow(clock)
    await uow.repo.set_fields("u1", {"time_zone": "America/Los_Angeles"}, uow.now)
    requested = AssessmentRequested(occurred_at=uow.now, user_id="u1", instrument="checkin")
    await assessments.on_assessment_requested(requested, delivery("a1"), uow)
    for n in range(len(INSTRUMENTS["checkin"].items)):
        answer = AssessmentAnswered(occurred_at=uow.now, user_id="u1", assessment_id="asm:a1", text="3")
        await assessments.on_assessment_answered(answer, delivery(f"n{n}"), uow)
    assert uow.repo.profiles["u1"]["last_completed"]["checkin"] == NOON_IN_SF
    clock.advance(timedelta(hours=1))
    again = AssessmentRequested(occurred_at=clock.now(), user_id="u1", instrument="checkin", language="es")
    await assessments.on_assessment_requested(again, delivery("a2"), uow)
    too_soon = uow.events(PromptReady)[-1]
    assert (
        isinstance(too_soon, PromptReady) and too_soon.purpose == "too_soon" and not too_soon.assessment_open
    )
    assert "mañana después de las 12 p. m." in too_soon.text  # noon tomorrow in San Francisco
    assert uow.repo.profiles["u1"]["assessment_in_progress"] is None
    clock.advance(timedelta(hours=23))
    await assessments.on_assessment_requested(again, delivery("a3"), uow)
    assert uow.repo.profiles["u1"]["assessment_in_progress"]["id"] == "asm:a3"  # a day later: it opens


async def test_a_loss_stops_check_ins_and_daily_starts_them_again() -> None:
    clock = FakeClock(NOON_IN_SF)
    uow = profile_uow(clock)
    now = clock.now()
    uow.repo.profiles["u1"] = {
        "_id": "u1", "burnout_band": "high", "journey_phase": "active", "time_zone": "America/Los_Angeles",
        "last_contact_at": now - timedelta(days=4), "last_checkin_at": None, "opted_out": False,
        "reengagements_sent": [], "assessment_in_progress": {"id": "asm:old"},
    }  # fmt: skip
    reported = LossReported(occurred_at=now, user_id="u1", message_sid="SM1")
    await handlers.on_loss_reported(reported, delivery("l1"), uow)
    stored = uow.repo.profiles["u1"]
    assert stored["journey_phase"] == "bereavement" and stored["bereaved_at"] == now
    assert stored["assessment_in_progress"] is None
    assert (await assessments.scan_checkins(SCAN, uow))["started"] == 0
    await handlers.on_checkin_preference_changed(asked("daily", uow), delivery("m1"), uow)
    assert uow.repo.profiles["u1"]["bereaved_at"] is None
    assert uow.repo.profiles["u1"]["journey_phase"] == "active"


async def test_the_scan_finds_a_caregiver_with_no_band_who_chose_daily() -> None:
    clock = FakeClock(NOON_IN_SF)
    uow = profile_uow(clock)
    now = clock.now()
    for user, chosen in (("chose-daily", "daily"), ("chose-nothing", None)):
        uow.repo.put({
            "_id": user, "burnout_band": None, "journey_phase": "active", "time_zone": "America/Los_Angeles",
            "last_contact_at": now - timedelta(days=2), "last_checkin_at": None, "opted_out": False,
            "reengagements_sent": [], "checkins": {"frequency": chosen},
        }, now)  # fmt: skip
    assert (await assessments.scan_checkins(SCAN, uow))["started"] == 1
    [due] = uow.events(CheckinDue)
    assert due.user_id == "chose-daily"  # type: ignore[attr-defined]
    assert (await assessments.scan_checkins(SCAN, uow))["started"] == 0  # once a day
