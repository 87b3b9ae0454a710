"""Crisis paging decisions: who is paged next, when to escalate, what a page says, what staff may do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from careline_conversation.domain import alerts
from careline_conversation.domain.alerts import Cursor, NewAlert, Paged, PagingPolicy
from careline_conversation.domain.roster import OnCall

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
POLICY = PagingPolicy(escalate_after=timedelta(minutes=10), base_url="https://care.example.org/")
ALERT = Paged(id="crisis:alert:SM42", category="suicide_self", priority="high")
ANA = OnCall("Ana", "+14155550101", 1)
BEN = OnCall("Ben", "+14155550102", 2)
CAL = OnCall("Cal", "+14155550103", 3)
ROSTER = (ANA, BEN, CAL)


def test_a_round_starts_with_the_first_person_and_checks_after_the_escalation_time() -> None:
    step = alerts.first_step(None, ROSTER, ALERT, NOW, POLICY)
    assert step.cursor == Cursor(round=1, step=0, index=0)
    assert step.page is not None and step.page.person == ANA and not step.page.escalated
    assert step.check_at == NOW + timedelta(minutes=10)
    assert not step.wrapped


def test_a_new_round_starts_from_the_top_whatever_earlier_rounds_reached() -> None:
    step = alerts.first_step(Cursor(round=2, step=7, index=2), ROSTER, ALERT, NOW, POLICY)
    assert step.cursor == Cursor(round=3, step=0, index=0)
    assert step.page is not None and step.page.person == ANA


@pytest.mark.parametrize(
    ("index", "expected", "wrapped"),
    [(0, 1, False), (1, 2, False), (2, 0, True)],
    ids=["first-to-second", "second-to-last", "last-wraps-to-first"],
)
def test_escalation_pages_the_next_person_and_wraps_after_the_last(
    index: int, expected: int, wrapped: bool
) -> None:
    step = alerts.next_step(Cursor(round=1, step=4, index=index), ROSTER, ALERT, NOW, POLICY)
    assert step.cursor == Cursor(round=1, step=5, index=expected)
    assert step.page is not None and step.page.person == ROSTER[expected] and step.page.escalated
    assert step.wrapped is wrapped


def test_a_roster_of_one_pages_the_same_person_again_and_reports_the_wrap() -> None:
    step = alerts.next_step(Cursor(round=1, step=0, index=0), (ANA,), ALERT, NOW, POLICY)
    assert step.cursor.index == 0 and step.wrapped


def test_a_roster_that_shrank_wraps_instead_of_pointing_past_its_end() -> None:
    step = alerts.next_step(Cursor(round=1, step=1, index=2), (ANA, BEN), ALERT, NOW, POLICY)
    assert step.cursor.index == 0 and step.wrapped


def test_an_empty_roster_pages_nobody_and_tries_again_soon() -> None:
    first = alerts.first_step(None, (), ALERT, NOW, POLICY)
    assert first.page is None and first.cursor == Cursor(round=1, step=0, index=None)
    assert first.check_at == NOW + alerts.EMPTY_ROSTER_RETRY
    again = alerts.next_step(first.cursor, (), ALERT, NOW, POLICY)
    assert again.page is None and again.cursor == Cursor(round=1, step=1, index=None)


def test_once_someone_is_on_call_the_first_person_is_paged_not_escalated_to() -> None:
    step = alerts.next_step(Cursor(round=1, step=3, index=None), ROSTER, ALERT, NOW, POLICY)
    assert step.cursor == Cursor(round=1, step=4, index=0)
    assert step.page is not None and not step.page.escalated and not step.wrapped


def test_every_step_has_keys_of_its_own_even_on_the_same_person() -> None:
    cursors = [Cursor(1, 0, 0), Cursor(1, 1, 0), Cursor(2, 0, 0)]
    keys = {alerts.page_key(ALERT.id, c) for c in cursors} | {alerts.check_key(ALERT.id, c) for c in cursors}
    assert len(keys) == 6
    assert alerts.page_key(ALERT.id, Cursor(1, 2, 0)) == "page:crisis:alert:SM42:1:2"


def test_a_page_names_category_priority_and_the_alert_link_and_nothing_else() -> None:
    step = alerts.first_step(None, ROSTER, ALERT, NOW, POLICY)
    assert step.page is not None
    text = step.page.text
    assert "suicide_self" in text and "HIGH priority" in text
    assert "https://care.example.org/admin/ui#alert=crisis:alert:SM42" in text
    assert "escalated" not in text
    escalated = alerts.next_step(step.cursor, ROSTER, ALERT, NOW, POLICY)
    assert escalated.page is not None and "escalated" in escalated.page.text


def test_a_page_fits_two_sms_segments() -> None:
    text = alerts.page_text("abuse_of_recipient", "low", POLICY.link("crisis:alert:SM" + "f" * 32), True)
    assert len(text) <= 306


@pytest.mark.parametrize(
    ("status", "cursor", "check", "due"),
    [
        ("open", Cursor(1, 2, 1), (1, 2), True),
        ("acknowledged", Cursor(1, 2, 1), (1, 2), False),
        ("resolved", Cursor(1, 2, 1), (1, 2), False),
        ("open", Cursor(1, 3, 2), (1, 2), False),
        ("open", Cursor(2, 0, 0), (1, 2), False),
        ("open", None, (1, 0), False),
    ],
    ids=["unanswered", "acknowledged", "resolved", "a-later-step", "a-later-round", "never-paged"],
)
def test_escalation_only_while_open_and_the_check_is_the_latest_step(
    status: str, cursor: Cursor | None, check: tuple[int, int], due: bool
) -> None:
    assert alerts.escalation_due(status, cursor, *check) is due


@pytest.mark.parametrize(
    ("status", "reason", "cursor", "verdict"),
    [
        ("open", "follow_up_no", None, "page"),
        ("acknowledged", "follow_up_no", Cursor(1, 0, 0), "page"),
        ("open", "new_crisis", Cursor(1, 3, 0), "page"),
        ("resolved", "follow_up_no", Cursor(1, 0, 0), "record"),
        ("resolved", "unacknowledged", None, "record"),
        ("open", "unacknowledged", None, "page"),
        ("acknowledged", "unacknowledged", None, "skip"),
        ("open", "unacknowledged", Cursor(1, 0, 0), "skip"),
    ],
    ids=[
        "follow-up-no",
        "acknowledged-pages-again",
        "new-crisis",
        "resolved-only-records",
        "resolved-hour-check",
        "hour-check-unanswered",
        "hour-check-acknowledged",
        "hour-check-already-paging",
    ],
)
def test_a_page_request(status: str, reason: str, cursor: Cursor | None, verdict: str) -> None:
    assert alerts.on_page_request(status, reason, cursor) == verdict


def test_acknowledging_is_refused_only_once_resolved() -> None:
    assert alerts.acknowledgement("open") == "acknowledge"
    assert alerts.acknowledgement("acknowledged") == "already"
    assert alerts.acknowledgement("resolved") == "resolved"


@pytest.mark.parametrize(
    ("state", "verdict"),
    [
        ({"phone": "+14155550100"}, "send"),
        ({"phone": "+14155550100", "opted_out": False, "opted_out_at": NOW}, "send"),
        ({"phone": "+14155550100", "opted_out": True, "last_inbound_at": NOW}, "opted_out"),
        (
            {"phone": "+14155550100", "opted_out": True, "opted_out_at": NOW, "last_inbound_at": NOW},
            "opted_out",
        ),
        (
            {
                "phone": "+14155550100",
                "opted_out": True,
                "opted_out_at": NOW,
                "last_inbound_at": NOW + timedelta(minutes=1),
            },
            "send",
        ),
        ({"opted_out": False}, "no_number"),
        (None, "no_number"),
    ],
    ids=[
        "never-opted-out",
        "opted-back-in",
        "opted-out-time-unknown",
        "stop-was-the-last-message",
        "wrote-since-opting-out",
        "no-number",
        "no-state",
    ],
)
def test_staff_may_text_a_caregiver(state: dict[str, Any] | None, verdict: str) -> None:
    assert alerts.staff_message(state) == verdict


def test_an_alert_job_of_the_typed_contract() -> None:
    payload = {
        "user_id": "usr_1",
        "message_sid": "SM1",
        "category": "suicide_other",
        "tier": "indirect",
        "priority": "low",
        "language": "es",
        "correlation_id": "c1",
    }
    alert = NewAlert.from_job("crisis:alert:SM1", payload)
    assert (alert.id, alert.priority, alert.tier, alert.language) == (
        "crisis:alert:SM1",
        "low",
        "indirect",
        "es",
    )


def test_an_alert_job_from_before_the_contract_is_paged_at_once() -> None:
    payload = {"user_id": "usr_1", "message_sid": "SM1", "category": "suicide", "correlation_id": "c1"}
    alert = NewAlert.from_job("crisis:alert:SM1", payload)
    assert (alert.priority, alert.tier, alert.category) == ("high", "explicit", "suicide")
