"""``next_due_at``: never later than anything the scan would do, and empty for those it must leave out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from careline_profile.domain import due, schedule

NOW = datetime(2025, 2, 11, 15, 0, tzinfo=UTC)  # a Tuesday, 10:00 in New York


def caregiver(**fields: Any) -> dict[str, Any]:
    return {
        "burnout_band": "high",
        "last_contact_at": NOW - timedelta(days=1),
        "last_checkin_at": None,
        "opted_out": False,
        "time_zone": "America/New_York",
        "journey_phase": "active",
        "reengagements_sent": [],
        **fields,
    }


def something_to_do(profile: dict[str, Any], at: datetime) -> bool:
    """What the scan acts on at ``at`` (assessments._visit): a check-in, calm, churn or a nudge;
    nothing for a churned caregiver (silent 31 days, or cancelled) until they write again."""
    if profile.get("journey_phase") == "churned":
        return False
    calm = profile.get("journey_phase") == "crisis_support" and (
        profile.get("last_crisis_at") is None or at - profile["last_crisis_at"] >= timedelta(days=7)
    )
    churn = profile.get("journey_phase") != "churned" and schedule.is_churned(profile, at)
    return schedule.is_due(profile, at) or calm or churn or schedule.reengagement_due(profile, at) is not None


hours = st.floats(min_value=0, max_value=40 * 24)
profiles = st.fixed_dictionaries(
    {
        "burnout_band": st.sampled_from([None, "crisis", "high", "moderate", "mild", "thriving"]),
        "last_contact_at": hours.map(lambda h: NOW - timedelta(hours=h)),
        "last_checkin_at": st.one_of(st.none(), hours.map(lambda h: NOW - timedelta(hours=h))),
        "opted_out": st.booleans(),
        "time_zone": st.sampled_from(["America/New_York", "America/Los_Angeles", "Pacific/Honolulu", None]),
        "journey_phase": st.sampled_from(["onboarding", "active", "crisis_support", "churned"]),
        "last_crisis_at": st.one_of(st.none(), hours.map(lambda h: NOW - timedelta(hours=h))),
        "reengagements_sent": st.sampled_from([[], [7], [14], [7, 14], [30]]),
        "checkins": st.fixed_dictionaries(
            {
                "frequency": st.sampled_from([None, "daily", "every_3_days", "weekly", "off"]),
                "paused_until": st.one_of(st.none(), hours.map(lambda h: NOW + timedelta(hours=h / 8))),
                "hour": st.sampled_from([None, 9, 13, 19]),
                "minute": st.sampled_from([0, 30]),
            }
        ),
        "last_completed": st.one_of(
            st.just({}), hours.map(lambda h: {"checkin": NOW - timedelta(hours=h / 10)})
        ),
    }
)


@settings(max_examples=400, deadline=None)
@given(profile=profiles, later=st.integers(min_value=0, max_value=45 * 24 * 4))
def test_whenever_the_scan_would_act_next_due_at_has_come(profile: dict[str, Any], later: int) -> None:
    """A lower bound: at any moment the scan has something to do, the caregiver's moment has passed."""
    at = NOW + timedelta(minutes=15 * later)
    if something_to_do(profile, at):
        moment = due.next_due_at(profile, NOW)
        assert moment is not None and moment <= at


def test_a_high_band_caregiver_is_due_three_days_after_their_last_message_at_9_on_their_clock() -> None:
    wrote = datetime(2025, 2, 10, 3, 0, tzinfo=UTC)  # 22:00 on the 9th in New York
    moment = due.next_due_at(caregiver(last_contact_at=wrote), NOW)
    assert moment == datetime(2025, 2, 13, 3, 0, tzinfo=UTC).replace(hour=14)  # 09:00 EST on the 13th


def test_opted_out_bereaved_and_churned_caregivers_get_no_check_in_or_nudge_moment() -> None:
    silent = NOW - timedelta(days=5)
    churn = silent + schedule.CHURN_AFTER
    assert due.next_due_at(caregiver(journey_phase="churned", last_contact_at=silent), NOW) is None
    assert (
        due.next_due_at(caregiver(opted_out=True, last_contact_at=silent), NOW) == churn
    )  # read once, day 31
    assert due.next_due_at(caregiver(bereaved_at=NOW, last_contact_at=silent), NOW) == churn


def test_a_pause_holds_check_ins_and_nudges_back_until_it_ends() -> None:
    until = NOW + timedelta(days=6, hours=1)  # 11:00 in New York, inside the window
    paused = caregiver(
        checkins={"frequency": "daily", "paused_until": until}, last_contact_at=NOW - timedelta(days=8)
    )
    assert due.next_due_at(paused, NOW) == until


def test_a_chosen_time_of_day_is_when_the_check_in_falls_due() -> None:
    profile = caregiver(
        checkins={"frequency": "daily", "hour": 18, "minute": 0}, last_contact_at=NOW - timedelta(hours=25)
    )
    assert due.next_due_at(profile, NOW) == NOW.replace(hour=23)  # 18:00 in New York today


def test_fields_that_are_no_input_leave_next_due_at_alone_and_inputs_recompute_it() -> None:
    profile = {**caregiver(), due.FIELD: NOW}
    assert due.with_next_due(profile, {"language": "es"}, NOW) == {"language": "es"}
    stopped = due.with_next_due(profile, {"opted_out": True}, NOW)
    assert stopped[due.FIELD] == profile["last_contact_at"] + schedule.CHURN_AFTER


def test_a_caregiver_read_and_found_not_due_is_looked_at_again_no_sooner_than_recheck() -> None:
    odd = caregiver(journey_phase="crisis_support", last_crisis_at=NOW)  # calm in 7 days: no sooner
    assert due.after_visit(odd, NOW) == due.next_due_at(odd, NOW) == NOW + timedelta(days=2)  # its check-in
    assert due.after_visit(caregiver(last_contact_at=NOW - timedelta(days=40)), NOW) == NOW + due.RECHECK


def test_a_caregiver_found_due_at_night_is_looked_at_again_when_their_morning_comes() -> None:
    night = datetime(2025, 2, 12, 2, 0, tzinfo=UTC)  # 21:00 in New York
    profile = caregiver(last_contact_at=night - timedelta(days=4))
    assert not schedule.is_due(profile, night)
    assert due.after_visit(profile, night) == datetime(2025, 2, 12, 14, 0, tzinfo=UTC)  # 09:00 there
