"""Billing's rules: who has access, how Stripe events move an account, what a change owes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from careline_billing.domain import access, lifecycle
from careline_billing.domain.lifecycle import Kind

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
GRACE = timedelta(days=7)
TERMS = access.Terms(trial=timedelta(days=14), grace=GRACE, after_cancel=timedelta(days=30))


@pytest.mark.parametrize(
    ("status", "grants"),
    [("trialing", True), ("active", True), ("past_due", True), ("canceled", False), ("none", False),
     ("incomplete", False), ("unpaid", False), (None, False)],
    ids=lambda v: str(v),
)  # fmt: skip
def test_status_grants_access_to_trialing_active_and_past_due_only(status: str | None, grants: bool) -> None:
    assert access.status_grants_access(status) is grants


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        pytest.param(None, False, id="no-account"),
        pytest.param({"status": "none"}, False, id="trial-over"),
        pytest.param({"status": "trialing"}, True, id="trialing"),
        pytest.param({"status": "active"}, True, id="active"),
        pytest.param({"status": "incomplete"}, False, id="incomplete"),
        pytest.param({"status": "incomplete_expired"}, False, id="incomplete-expired"),
        pytest.param({"status": "unpaid"}, False, id="unpaid"),
        pytest.param(
            {"status": "past_due", "past_due_since": NOW - timedelta(days=6)}, True, id="past-due-in-grace"
        ),
        pytest.param(
            {"status": "past_due", "past_due_since": NOW - GRACE}, False, id="past-due-grace-just-over"
        ),
        pytest.param({"status": "past_due", "past_due_since": None}, True, id="past-due-unknown-since"),
        pytest.param({"status": "canceled"}, False, id="canceled-unknown-end"),
        pytest.param(
            {"status": "canceled", "ended_at": NOW - timedelta(days=29)}, True, id="canceled-in-grace"
        ),
        pytest.param(
            {"status": "canceled", "ended_at": NOW - timedelta(days=30)}, False, id="canceled-grace-over"
        ),
        pytest.param(
            {"status": "canceled", "canceled_at": NOW - timedelta(days=2)}, True, id="canceled-at-only"
        ),
    ],
)
def test_has_access_in_every_state_grace_periods_included(account: Any, expected: bool) -> None:
    assert access.has_access(account, NOW, TERMS) is expected
    assert access.needs_checkout(account, NOW, TERMS) is not expected


@pytest.mark.parametrize(
    ("account", "situation"),
    [
        pytest.param(None, "new", id="unknown"),
        pytest.param({"status": "none"}, "new", id="trial-ended"),
        pytest.param({"status": "canceled", "stripe_subscription_id": "sub_1"}, "lapsed", id="canceled"),
        pytest.param(
            {"status": "none", "stripe_subscription_id": "sub_1"}, "lapsed", id="had-a-subscription"
        ),
        pytest.param(
            {"status": "past_due", "past_due_since": NOW - GRACE * 2}, "payment", id="past-due-over"
        ),
        pytest.param({"status": "unpaid"}, "payment", id="unpaid"),
        pytest.param({"status": "incomplete"}, "incomplete", id="incomplete"),
        pytest.param({"status": "incomplete_expired"}, "incomplete", id="incomplete-expired"),
    ],
)
def test_a_link_comes_with_the_words_of_its_situation_never_trial_ended_to_a_subscriber(
    account: Any, situation: str
) -> None:
    assert access.situation(account) == situation


@pytest.mark.parametrize(
    ("account", "charging"),
    [
        pytest.param({"status": "trialing"}, False, id="local-trial"),
        pytest.param({"status": "active", "stripe_subscription_id": "sub_1"}, True, id="active"),
        pytest.param({"status": "past_due", "stripe_subscription_id": "sub_1"}, True, id="past-due"),
        pytest.param({"status": "unpaid", "stripe_subscription_id": "sub_1"}, True, id="unpaid"),
        pytest.param({"status": "canceled", "stripe_subscription_id": "sub_1"}, False, id="canceled"),
        pytest.param({"status": "incomplete", "stripe_subscription_id": "sub_1"}, False, id="incomplete"),
        pytest.param(None, False, id="none"),
    ],
)
def test_subscribed_means_a_subscription_that_will_still_charge(account: Any, charging: bool) -> None:
    assert access.subscribed(account) is charging


def test_days_left_of_a_grace_period_round_up() -> None:
    canceled = {"status": "canceled", "ended_at": NOW - timedelta(days=27, hours=1)}
    assert access.days_left(canceled, NOW, TERMS) == 3
    assert access.days_left({"status": "canceled", "ended_at": NOW - timedelta(days=31)}, NOW, TERMS) is None
    assert access.days_left({"status": "active"}, NOW, TERMS) is None
    assert lifecycle.whole_days(timedelta(days=2, hours=1)) == 3 and lifecycle.whole_days(timedelta(0)) == 0


def test_access_flip_names_the_new_access_only_when_it_changed() -> None:
    active, canceled = {"status": "active"}, {"status": "canceled", "ended_at": NOW - timedelta(days=31)}
    assert access.access_flip(active, canceled, NOW, TERMS) is False
    assert access.access_flip(canceled, active, NOW, TERMS) is True
    assert access.access_flip(active, {"status": "past_due", "past_due_since": NOW}, NOW, TERMS) is None
    old_spell = {"status": "past_due", "past_due_since": NOW - GRACE * 2}
    assert access.access_flip(active, old_spell, NOW, TERMS) is False
    just_canceled = {"status": "canceled", "ended_at": NOW}
    assert access.access_flip(active, just_canceled, NOW, TERMS) is None  # 30 days of access left


def test_an_announcement_follows_the_subscription_flag_too() -> None:
    trial = {"status": "trialing"}
    active = {"status": "active", "stripe_subscription_id": "sub_1"}
    assert access.announcement(trial, active, NOW, TERMS) == (True, True)
    assert access.announcement(active, {**active, "status": "canceled", "ended_at": NOW}, NOW, TERMS) == (
        True,
        False,
    )
    assert access.announcement(active, dict(active), NOW, TERMS) is None


def test_user_of_reads_the_caregiver_from_a_subscription_or_an_invoice() -> None:
    assert lifecycle.user_of({"metadata": {"user_id": "u1"}}) == "u1"
    invoice = {"parent": {"subscription_details": {"metadata": {"user_id": "u2"}}}}
    assert lifecycle.user_of(invoice) == "u2"
    assert lifecycle.user_of({"subscription_details": {"metadata": {"user_id": "u3"}}}) == "u3"
    assert lifecycle.user_of({"metadata": {}}) is None and lifecycle.user_of({}) is None


def test_a_canceled_access_end_ends_only_the_cancellation_it_was_owed_for() -> None:
    ended = NOW.replace(microsecond=123_456)
    assert lifecycle.canceled_access_ends(
        {"status": "canceled", "ended_at": ended.replace(microsecond=123_000)}, ended
    )
    assert not lifecycle.canceled_access_ends({"status": "active", "ended_at": None}, ended)
    assert not lifecycle.canceled_access_ends(
        {"status": "canceled", "ended_at": NOW + timedelta(days=1)}, ended
    )
    assert not lifecycle.canceled_access_ends(None, ended)


def test_the_entitlement_event_is_named_by_user_and_cause() -> None:
    event, msg_id = access.entitlement_changed(
        "u1", "canceled", False, now=NOW, correlation_id=None, cause_id="stripe:evt_1"
    )
    assert msg_id == "entitlement:u1:stripe:evt_1"
    assert (event.user_id, event.entitled, event.status, event.occurred_at) == ("u1", False, "canceled", NOW)
    assert event.correlation_id == "stripe:evt_1"  # no correlation id: the cause stands in
    kept, _ = access.entitlement_changed("u1", "active", True, now=NOW, correlation_id="c9", cause_id="x")
    assert kept.correlation_id == "c9"


@pytest.mark.parametrize(
    ("event_type", "kind"),
    [
        ("checkout.session.completed", Kind.CHECKOUT),
        ("customer.subscription.created", Kind.SUBSCRIPTION),
        ("customer.subscription.updated", Kind.SUBSCRIPTION),
        ("customer.subscription.deleted", Kind.SUBSCRIPTION),
        ("customer.subscription.trial_will_end", Kind.SUBSCRIPTION),  # carries the subscription
        ("invoice.paid", Kind.FACT),
        ("invoice.payment_failed", Kind.FACT),
        ("charge.refunded", Kind.IGNORED),
    ],
)
def test_each_stripe_event_type_has_one_meaning(event_type: str, kind: Kind) -> None:
    assert lifecycle.kind_of(event_type) is kind


def test_subscription_fields_read_stripe_seconds_and_a_deletion_cancels() -> None:
    sub = {
        "id": "sub_1", "status": "active", "cancel_at_period_end": True, "trial_end": None,
        "items": {"data": [{"price": {"id": "price_m"}, "current_period_end": 1_900_000_000}]},
    }  # fmt: skip
    fields = lifecycle.subscription_fields(sub)
    assert fields["status"] == "active" and fields["price_id"] == "price_m"
    assert fields["current_period_end"] == datetime.fromtimestamp(1_900_000_000, UTC)
    assert fields["cancel_at_period_end"] is True and fields["trial_end"] is None
    assert fields["ended_at"] is None
    deleted = lifecycle.subscription_fields(sub, "customer.subscription.deleted", NOW)
    assert deleted["status"] == "canceled" and deleted["ended_at"] == NOW  # no ended_at in the payload
    stripe_end = lifecycle.subscription_fields(
        {**sub, "ended_at": 1_900_000_100}, "customer.subscription.deleted", NOW
    )
    assert stripe_end["ended_at"] == datetime.fromtimestamp(1_900_000_100, UTC)
    assert lifecycle.subscription_fields({})["status"] == "none"


def test_the_newest_event_wins_and_a_same_second_event_is_a_tie() -> None:
    applied = {"last_event_at": NOW}
    assert lifecycle.is_newer(None, NOW) and lifecycle.is_newer({"last_event_at": None}, NOW)
    assert lifecycle.is_newer(applied, NOW + timedelta(seconds=1))
    assert not lifecycle.is_newer(applied, NOW - timedelta(seconds=1))
    assert lifecycle.is_tie(applied, NOW) and not lifecycle.is_tie(applied, NOW + timedelta(seconds=1))
    assert not lifecycle.is_tie(None, NOW)


def test_a_past_due_spell_keeps_its_start_across_repeated_events() -> None:
    began = NOW - timedelta(days=2)
    spell = {"status": "past_due", "past_due_since": began}
    assert lifecycle.past_due_since(spell, "past_due", NOW) == began
    assert lifecycle.past_due_since({"status": "active"}, "past_due", NOW) == NOW
    assert lifecycle.past_due_since(None, "past_due", NOW) == NOW
    assert lifecycle.past_due_since(spell, "active", NOW) is None


def test_a_grace_end_is_owed_only_when_a_new_spell_began() -> None:
    assert lifecycle.grace_began({"past_due_since": None}, {"past_due_since": NOW}) == NOW
    assert lifecycle.grace_began({"past_due_since": NOW}, {"past_due_since": NOW}) is None
    assert lifecycle.grace_began({}, {"past_due_since": None}) is None


def test_a_grace_end_ends_only_the_spell_it_was_owed_for() -> None:
    since = NOW.replace(microsecond=123_456)
    stored = {
        "status": "past_due",
        "past_due_since": since.replace(microsecond=123_000),
    }  # as MongoDB keeps it
    assert lifecycle.grace_ends(stored, since)
    assert not lifecycle.grace_ends({"status": "active", "past_due_since": None}, since)
    assert not lifecycle.grace_ends({"status": "past_due", "past_due_since": NOW + timedelta(days=1)}, since)
    assert not lifecycle.grace_ends(None, since)


@pytest.mark.parametrize(
    ("status", "end", "subscribed", "expected"),
    [
        pytest.param("trialing", None, False, ("trialing", NOW + timedelta(days=14), False),
                     id="no-end-full-trial"),
        pytest.param("trialing", NOW + timedelta(days=3), False, ("trialing", NOW + timedelta(days=3), False),
                     id="running"),
        pytest.param("trialing", NOW - timedelta(days=1), False, ("none", NOW - timedelta(days=1), True),
                     id="over-unsubscribed"),
        pytest.param("trialing", NOW - timedelta(days=1), True, ("trialing", NOW - timedelta(days=1), True),
                     id="over-subscribed"),
        pytest.param("active", None, True, ("active", None, False), id="active"),
    ],
)  # fmt: skip
def test_a_legacy_trial_is_what_its_end_job_would_have_made_it(
    status: str, end: datetime | None, subscribed: bool, expected: tuple[str, datetime | None, bool]
) -> None:
    assert lifecycle.legacy_trial(status, end, subscribed, NOW, timedelta(days=14)) == expected


def test_to_millis_drops_what_mongodb_does_not_keep() -> None:
    assert lifecycle.to_millis(NOW.replace(microsecond=999_999)) == NOW.replace(microsecond=999_000)
    assert lifecycle.trial_end(NOW, timedelta(days=14)) == NOW + timedelta(days=14)
