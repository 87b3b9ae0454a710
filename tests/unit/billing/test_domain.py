"""Billing's rules: who has access, how Stripe events move an account, what a change owes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from careline_billing.domain import access, lifecycle
from careline_billing.domain.lifecycle import Kind

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
GRACE = timedelta(days=7)


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
        pytest.param({"status": "active"}, True, id="active"),
        pytest.param({"status": "canceled"}, False, id="canceled"),
        pytest.param({"status": "past_due", "past_due_since": NOW - timedelta(days=6)}, True, id="in-grace"),
        pytest.param({"status": "past_due", "past_due_since": NOW - GRACE}, False, id="grace-just-over"),
        pytest.param({"status": "past_due", "past_due_since": None}, True, id="past-due-unknown-since"),
    ],
)
def test_has_access_judges_a_past_due_spell_by_its_grace_period(account: Any, expected: bool) -> None:
    assert access.has_access(account, NOW, GRACE) is expected


@pytest.mark.parametrize(
    ("account", "owed"),
    [
        pytest.param(None, True, id="unknown-caregiver"),
        pytest.param({"status": "none"}, True, id="trial-ended"),
        pytest.param({"status": "canceled"}, True, id="canceled"),
        pytest.param({"status": "trialing"}, False, id="trialing"),
        pytest.param(
            {"status": "past_due", "past_due_since": NOW - GRACE * 2}, False, id="past-due-stripe-retries"
        ),
    ],
)
def test_needs_checkout_unless_the_status_grants_access(account: Any, owed: bool) -> None:
    assert access.needs_checkout(account) is owed


def test_access_flip_names_the_new_access_only_when_it_changed() -> None:
    active, canceled = {"status": "active"}, {"status": "canceled"}
    assert access.access_flip(active, canceled, NOW, GRACE) is False
    assert access.access_flip(canceled, active, NOW, GRACE) is True
    assert access.access_flip(active, {"status": "past_due", "past_due_since": NOW}, NOW, GRACE) is None
    old_spell = {"status": "past_due", "past_due_since": NOW - GRACE * 2}
    assert access.access_flip(active, old_spell, NOW, GRACE) is False


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
    assert lifecycle.subscription_fields(sub, "customer.subscription.deleted")["status"] == "canceled"
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
