"""Profile's handlers on the fake unit of work: what each stores, owes and refuses, without servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from careline_contracts.conversation import (
    AssessmentAnswered,
    AssessmentRequested,
    ContactRecorded,
    CrisisDetected,
    FactLearned,
    OnboardingCompleted,
    OptOutChanged,
)
from careline_contracts.ingress import UserRegistered
from careline_contracts.migration import (
    ImportedUser,
    LegacyProfile,
    ProfileBackfillApplied,
    SliceCounts,
    UsersImported,
)
from careline_contracts.profile import CheckinDue, PromptReady
from careline_platform.jobs import Job
from careline_platform.mongo import AlreadyProcessed
from careline_profile import assessments, backfill, handlers
from careline_profile.domain import texts
from careline_profile.domain.instruments import INSTRUMENTS
from careline_testing.uow import FakeClock, delivery
from tests.unit.profile.fakes import profile_uow

pytestmark = pytest.mark.asyncio
NOON_IN_SF = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
SCAN = Job(key="checkin.scan:x", type="checkin.scan", payload={}, attempts=1, max_attempts=None,
           progress={}, token="t")  # fmt: skip


async def test_a_registered_caregiver_gets_an_onboarding_profile_once() -> None:
    uow = profile_uow()
    event = UserRegistered(occurred_at=uow.now, user_id="u1", phone="+15555550100")
    await handlers.on_user_registered(event, delivery("m1"), uow)
    assert uow.repo.profiles["u1"]["journey_phase"] == "onboarding"
    with pytest.raises(AlreadyProcessed):
        await handlers.on_user_registered(event, delivery("m1"), uow)
    assert uow.commits == 1 and uow.wakes == 0  # nothing owed, no worker woken


async def test_a_zip_sets_the_time_zone_and_other_facts_are_stored_as_told() -> None:
    uow = profile_uow()
    await handlers.on_fact_learned(
        FactLearned(occurred_at=uow.now, user_id="u1", field="zip", value="94110"), delivery("m1"), uow
    )
    await handlers.on_fact_learned(
        FactLearned(occurred_at=uow.now, user_id="u1", field="first_name", value="Ana"), delivery("m2"), uow
    )
    await handlers.on_fact_learned(
        FactLearned(occurred_at=uow.now, user_id="u1", field="condition", value="alzhéimer"),
        delivery("m3"),
        uow,
    )
    stored = uow.repo.profiles["u1"]
    assert stored["zip"] == "94110" and stored["time_zone"] == "America/Los_Angeles"
    assert stored["first_name"] == "Ana" and "time_zone" in stored
    assert stored["condition"] == "alzhéimer"  # as the caregiver's language wrote it


async def test_opt_out_follows_stop_and_start() -> None:
    uow = profile_uow()
    await handlers.on_optout_changed(
        OptOutChanged(occurred_at=uow.now, user_id="u1", opted_out=True), "a", uow
    )
    assert uow.repo.profiles["u1"]["opted_out"] is True
    await handlers.on_optout_changed(
        OptOutChanged(occurred_at=uow.now, user_id="u1", opted_out=False), "b", uow
    )
    assert uow.repo.profiles["u1"]["opted_out"] is False


async def test_contact_moves_last_contact_forward_only_and_wakes_a_churned_caregiver() -> None:
    uow = profile_uow()
    await uow.repo.set_fields("u1", {"journey_phase": "churned", "reengagements_sent": [7, 14]}, uow.now)
    later, earlier = uow.now + timedelta(hours=1), uow.now - timedelta(days=3)
    await handlers.on_contact_recorded(ContactRecorded(occurred_at=later, user_id="u1", at=later), "a", uow)
    stored = uow.repo.profiles["u1"]
    assert stored["last_contact_at"] == later
    assert stored["journey_phase"] == "active" and stored["reengagements_sent"] == []
    await handlers.on_contact_recorded(
        ContactRecorded(occurred_at=earlier, user_id="u1", at=earlier), "b", uow
    )
    assert uow.repo.profiles["u1"]["last_contact_at"] == later  # an older event never moves it back


async def test_onboarding_done_makes_the_journey_active_and_a_crisis_makes_it_crisis_support() -> None:
    uow = profile_uow()
    await handlers.on_onboarding_completed(OnboardingCompleted(occurred_at=uow.now, user_id="u1"), "a", uow)
    assert uow.repo.profiles["u1"]["journey_phase"] == "active"
    crisis_at = uow.now - timedelta(minutes=1)
    crisis = CrisisDetected(occurred_at=crisis_at, user_id="u1", message_sid="SM1", category="suicide_self")
    await handlers.on_crisis_detected(crisis, "b", uow)
    stored = uow.repo.profiles["u1"]
    assert stored["journey_phase"] == "crisis_support" and stored["last_crisis_at"] == crisis_at


async def test_a_requested_check_in_opens_an_assessment_and_owes_its_first_question() -> None:
    uow = profile_uow()
    event = AssessmentRequested(occurred_at=uow.now, correlation_id="c1", user_id="u1", instrument="checkin")
    await assessments.on_assessment_requested(event, delivery("m1"), uow)
    state = uow.repo.profiles["u1"]["assessment_in_progress"]
    assert state["id"] == "asm:m1" and state["instrument"] == "checkin"
    [prompt] = uow.emitted
    assert isinstance(prompt.event, PromptReady) and prompt.msg_id == "prompt:m1" and prompt.key == "u1"
    assert prompt.event.text.startswith(INSTRUMENTS["checkin"].intro) and prompt.event.assessment_open
    assert prompt.event.correlation_id == "c1" and uow.wakes == 1
    again = AssessmentRequested(occurred_at=uow.now, user_id="u1", instrument="burnout")
    await assessments.on_assessment_requested(again, delivery("m2"), uow)
    assert uow.repo.profiles["u1"]["assessment_in_progress"]["id"] == "asm:m1"  # the open one resumes


async def test_answers_walk_the_check_in_to_a_stored_result() -> None:
    uow = profile_uow()
    requested = AssessmentRequested(occurred_at=uow.now, user_id="u1", instrument="checkin")
    await assessments.on_assessment_requested(requested, delivery("m0"), uow)
    items = len(INSTRUMENTS["checkin"].items)
    for n in range(items):
        answer = AssessmentAnswered(occurred_at=uow.now, user_id="u1", assessment_id="asm:m0", text="5")
        await assessments.on_assessment_answered(answer, delivery(f"a{n}"), uow)
    stored = uow.repo.profiles["u1"]
    assert stored["assessment_in_progress"] is None and stored["burnout_band"] is not None
    assert [a["_id"] for a in uow.repo.assessments.values()] == ["asm:m0"]
    purposes = [e.event.purpose for e in uow.emitted if isinstance(e.event, PromptReady)]
    assert purposes[0] == "question" and purposes[-1] == "result" and len(purposes) == items + 1
    assert not uow.emitted[-1].event.assessment_open  # type: ignore[attr-defined]
    prompts = [e.event for e in uow.emitted if isinstance(e.event, PromptReady)]
    result = prompts[-1]
    assert result.band == stored["burnout_band"]  # conversation's agent learns it from the event
    assert list(result.pressure_zones) == stored["pressure_zones"]
    assert all(p.band is None and p.pressure_zones == () for p in prompts[:-1])  # questions carry none


async def test_an_answer_to_an_assessment_that_is_gone_says_it_ended() -> None:
    uow = profile_uow()
    answer = AssessmentAnswered(occurred_at=uow.now, user_id="u1", assessment_id="asm:old", text="3")
    await assessments.on_assessment_answered(answer, delivery("a1"), uow)
    [ended] = uow.events(PromptReady)
    assert ended.text == assessments.ENDED and ended.purpose == "expired"  # type: ignore[attr-defined]
    assert uow.repo.assessments == {}


async def test_a_failing_transaction_leaves_nothing_behind() -> None:
    uow = profile_uow()
    uow.fail_commit = lambda: RuntimeError("the commit failed")
    event = AssessmentRequested(occurred_at=uow.now, user_id="u1", instrument="checkin")
    with pytest.raises(RuntimeError):
        await assessments.on_assessment_requested(event, delivery("m1"), uow)
    assert uow.repo.profiles == {} and uow.emitted == [] and uow.wakes == 0
    uow.fail_commit = None
    await assessments.on_assessment_requested(event, delivery("m1"), uow)  # the redelivery works
    assert len(uow.emitted) == 1


def imported_user(user_id: str, first_name: str) -> ImportedUser:
    return ImportedUser(
        legacy_id=f"legacy-{user_id}",
        phone="+14155550101",
        user_id=user_id,
        identity="created",
        profile=LegacyProfile(first_name=first_name, zip="94110"),
    )


def silent(user: str, band: str | None, days: float, now: datetime, **extra: object) -> dict[str, object]:
    return {
        "_id": user, "burnout_band": band, "last_contact_at": now - timedelta(days=days),
        "last_checkin_at": None, "opted_out": False, "time_zone": "America/Los_Angeles",
        "journey_phase": "active", "reengagements_sent": [], **extra,
    }  # fmt: skip


async def test_the_scan_checks_in_once_a_day_nudges_and_churns() -> None:
    clock = FakeClock(NOON_IN_SF)
    uow = profile_uow(clock)
    for doc in (
        silent("high-4d", "high", 4, clock.now()),
        silent("high-1d", "high", 0.5, clock.now()),
        silent("quiet", "thriving", 8, clock.now()),
        silent("gone", None, 40, clock.now()),
    ):
        uow.repo.put(doc, clock.now())
    first = await assessments.scan_checkins(SCAN, uow)
    again = await assessments.scan_checkins(SCAN, uow)
    assert (first["started"], first["nudged"], first["churned"]) == (1, 1, 1)
    assert (again["started"], again["nudged"], again["churned"]) == (0, 0, 0)
    [due] = uow.events(CheckinDue)
    assert due.user_id == "high-4d"  # type: ignore[attr-defined]
    assert uow.repo.profiles["gone"]["journey_phase"] == "churned"
    assert uow.repo.profiles["quiet"]["reengagements_sent"] == [7]


async def test_nobody_is_checked_in_on_at_night() -> None:
    clock = FakeClock(NOON_IN_SF + timedelta(hours=12))  # midnight in San Francisco
    uow = profile_uow(clock)
    uow.repo.put(silent("high-4d", "high", 4, clock.now()), clock.now())
    assert (await assessments.scan_checkins(SCAN, uow))["started"] == 0


async def test_crisis_support_ends_after_a_calm_week_only() -> None:
    clock = FakeClock(NOON_IN_SF)
    uow = profile_uow(clock)
    now = clock.now()
    uow.repo.put(silent("calm", None, 1, now, journey_phase="crisis_support",
                        last_crisis_at=now - timedelta(days=8)), now)  # fmt: skip
    uow.repo.put(silent("recent", None, 1, now, journey_phase="crisis_support",
                        last_crisis_at=now - timedelta(days=2)), now)  # fmt: skip
    assert (await assessments.scan_checkins(SCAN, uow))["calmed"] == 1
    assert uow.repo.profiles["calm"]["journey_phase"] == "active"
    assert uow.repo.profiles["recent"]["journey_phase"] == "crisis_support"


async def test_a_backfill_batch_fills_gaps_keeps_live_values_and_confirms_once() -> None:
    uow = profile_uow()
    await uow.repo.set_fields("u-live", {"first_name": "Live"}, uow.now)
    users = [imported_user("u-live", first_name="Legacy"), imported_user("u-new", first_name="New")]
    batch = UsersImported(occurred_at=uow.now, run_id="r1", batch=0, users=users, counts=SliceCounts())
    await backfill.on_users_imported(batch, delivery("b1"), uow)
    assert uow.repo.profiles["u-live"]["first_name"] == "Live"
    assert uow.repo.profiles["u-new"]["first_name"] == "New"
    [applied] = uow.emitted
    assert (
        isinstance(applied.event, ProfileBackfillApplied)
        and applied.msg_id == "backfill-applied:profile:r1:0"
    )
    assert applied.event.counts.created == 1


async def test_a_spanish_speaker_is_asked_reminded_and_checked_in_on_in_spanish() -> None:
    clock = FakeClock(NOON_IN_SF)
    uow = profile_uow(clock)
    spoken = FactLearned(occurred_at=uow.now, user_id="u1", field="language", value="es")
    await handlers.on_fact_learned(spoken, delivery("f1"), uow)
    assert uow.repo.profiles["u1"]["language"] == "es"
    # the request's own language wins over the record (a switch just before CHECK IN)
    requested = AssessmentRequested(occurred_at=uow.now, user_id="u1", instrument="checkin", language="es")
    await assessments.on_assessment_requested(requested, delivery("m1"), uow)
    [first] = uow.events(PromptReady)
    assert first.text.startswith(INSTRUMENTS["checkin"].intro_in("es"))  # type: ignore[attr-defined]
    assert "(1 de 3)" in first.text  # type: ignore[attr-defined]
    gone = AssessmentAnswered(occurred_at=uow.now, user_id="u1", assessment_id="asm:old", text="3")
    await assessments.on_assessment_answered(gone, delivery("a1"), uow)
    assert uow.events(PromptReady)[-1].text == texts.say("session.ended", "es")  # type: ignore[attr-defined]
    for doc in (silent("es-high", "high", 4, clock.now()), silent("es-quiet", "thriving", 8, clock.now())):
        uow.repo.put({**doc, "language": "es"}, clock.now())
    await assessments.scan_checkins(SCAN, uow)
    [due] = uow.events(CheckinDue)
    assert due.text.startswith("Revisión rápida") and "(1 de 3)" in due.text  # type: ignore[attr-defined]
    nudge = [e for e in uow.events(PromptReady) if e.purpose == "nudge"]  # type: ignore[attr-defined]
    assert [n.text for n in nudge] == [texts.say("nudge.7", "es")]  # type: ignore[attr-defined]


async def test_an_english_request_for_a_spanish_record_asks_in_english() -> None:
    uow = profile_uow()
    await uow.repo.set_fields("u1", {"language": "es"}, uow.now)
    requested = AssessmentRequested(occurred_at=uow.now, user_id="u1", instrument="burnout", language="en")
    await assessments.on_assessment_requested(requested, delivery("m1"), uow)
    [first] = uow.events(PromptReady)
    assert first.text.startswith(INSTRUMENTS["burnout"].intro)  # type: ignore[attr-defined]
    assert uow.repo.profiles["u1"]["language"] == "en"
