"""Event contracts and subject partitioning."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pydantic
import pytest

from careline_contracts import subjects
from careline_contracts.base import Event
from careline_contracts.billing import CheckoutLinkReady, EntitlementChanged
from careline_contracts.conversation import (
    AssessmentAnswered,
    AssessmentRequested,
    CheckinPreferenceChanged,
    CheckoutRequested,
    ContactRecorded,
    CrisisDetected,
    FactLearned,
    LossReported,
    OnboardingCompleted,
    OptOutChanged,
    SandboxSmsSent,
)
from careline_contracts.ingress import (
    SmsReceived,
    SmsStatusUpdated,
    StripeEventReceived,
    UserRegistered,
)
from careline_contracts.jobs import SendSmsJob
from careline_contracts.profile import CheckinDue, PromptReady
from careline_contracts.subjects import PARTITIONS, partition_of, partitioned

AT = datetime(2026, 11, 26, 8, 15, 24, 394877, tzinfo=UTC)

SAMPLES: dict[type[Event], dict[str, Any]] = {
    UserRegistered: {"user_id": "u_1", "phone": "+14155550101"},
    SmsReceived: {
        "message_sid": "SM123",
        "user_id": "u_1",
        "phone": "+14155550101",
        "to": "+18005551212",
        "body": "hello",
    },
    SmsStatusUpdated: {"message_sid": "SM123", "status": "delivered", "error_code": None},
    StripeEventReceived: {
        "event_id": "evt_1",
        "type": "invoice.paid",
        "created": 1_700_000_000,
        "data": {"object": {"id": "in_1", "customer": "cus_1"}},
    },
    SandboxSmsSent: {"sid": "SBX1", "to": "+14155550101", "body": "hi"},
    EntitlementChanged: {"user_id": "u_1", "entitled": True, "status": "trialing"},
    CrisisDetected: {"user_id": "u_1", "message_sid": "SM1", "category": "suicide"},
    FactLearned: {"user_id": "u_1", "field": "zip", "value": "94110"},
    OptOutChanged: {"user_id": "u_1", "opted_out": True},
    CheckoutRequested: {"user_id": "u_1"},
    AssessmentRequested: {"user_id": "u_1", "instrument": "checkin"},
    AssessmentAnswered: {"user_id": "u_1", "assessment_id": "a1", "text": "3"},
    ContactRecorded: {"user_id": "u_1", "at": AT},
    OnboardingCompleted: {"user_id": "u_1"},
    CheckinPreferenceChanged: {
        "user_id": "u_1",
        "change": "time",
        "hour": 19,
        "minute": 30,
        "language": "es",
    },
    LossReported: {"user_id": "u_1", "message_sid": "SM1"},
    PromptReady: {
        "user_id": "u_1",
        "assessment_id": "a1",
        "text": "(1 of 3) ...",
        "purpose": "question",
        "assessment_open": True,
    },
    CheckinDue: {"user_id": "u_1", "assessment_id": "a1", "text": "Checking in..."},
    CheckoutLinkReady: {"user_id": "u_1", "session_id": "cs_1", "url": "https://checkout.example/cs_1"},
}
MODELS = list(SAMPLES)


def build(model: type[Event], **overrides: Any) -> Event:
    """A valid instance of ``model`` with optional field overrides."""
    fields = {"occurred_at": AT, "correlation_id": "c-1", **SAMPLES[model], **overrides}
    return model(**fields)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_models_are_frozen(model: type[Event]) -> None:
    """Assigning to a field of a published event raises."""
    event = build(model)
    with pytest.raises(pydantic.ValidationError):
        event.correlation_id = "changed"  # type: ignore[misc]
    assert event.correlation_id == "c-1"


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_extra_fields_are_rejected(model: type[Event]) -> None:
    """An unknown field is a validation error, not silently dropped."""
    with pytest.raises(pydantic.ValidationError, match="extra"):
        build(model, surprise="x")


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_version_defaults_to_one(model: type[Event]) -> None:
    """Every event carries v=1 by default and serialises it."""
    event = build(model)
    assert event.v == 1
    assert '"v":1' in event.model_dump_json()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("version", [0, 2, "2"])
def test_version_other_than_one_is_rejected(model: type[Event], version: Any) -> None:
    """A payload claiming another contract version fails validation."""
    with pytest.raises(pydantic.ValidationError):
        build(model, v=version)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_json_round_trip_is_equal(model: type[Event]) -> None:
    """model_dump_json followed by model_validate_json yields an equal event."""
    event = build(model)
    again = model.model_validate_json(event.model_dump_json())
    assert again == event
    assert again.occurred_at == AT


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_to_bytes_round_trips(model: type[Event]) -> None:
    """to_bytes is the JSON wire form and validates back to the same event."""
    event = build(model)
    assert model.model_validate_json(event.to_bytes()) == event


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_occurred_at_is_required(model: type[Event]) -> None:
    """An event without occurred_at is invalid."""
    fields = {"correlation_id": "c-1", **SAMPLES[model]}
    with pytest.raises(pydantic.ValidationError, match="occurred_at"):
        model(**fields)


def _matches(filter_: str, subject: str) -> bool:
    """NATS subject matching: ``*`` is one token, ``>`` the rest."""
    want, got = filter_.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(got) > i
        if i >= len(got) or token not in ("*", got[i]):
            return False
    return len(want) == len(got)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_subject_is_a_class_constant_not_a_field(model: type[Event]) -> None:
    """subject is a ClassVar: not serialised, and some stream captures where it is published."""
    event = build(model)
    assert "subject" not in event.model_dump()
    published = {model.subject, partitioned(model.subject, "u_1")}
    assert any(
        _matches(f, subject)
        for stream in subjects.ALL_STREAMS
        for f in stream.subjects
        for subject in published
    )


def test_sms_body_at_limit_is_accepted() -> None:
    """A 1600-character body (the SMS concatenation limit) is valid."""
    assert len(build(SmsReceived, body="x" * 1600).body) == 1600  # type: ignore[attr-defined]


def test_sms_body_over_limit_is_rejected() -> None:
    """A body of 1601 characters is rejected."""
    with pytest.raises(pydantic.ValidationError, match="body"):
        build(SmsReceived, body="x" * 1601)


@pytest.mark.parametrize("model", [SmsReceived, SmsStatusUpdated], ids=lambda m: m.__name__)
@pytest.mark.parametrize("sid", ["", "S" * 65])
def test_message_sid_length_is_bounded(model: type[Event], sid: str) -> None:
    """message_sid must be 1..64 characters."""
    with pytest.raises(pydantic.ValidationError, match="message_sid"):
        build(model, message_sid=sid)


def test_stripe_event_id_must_not_be_empty() -> None:
    """A Stripe event without an id cannot be deduplicated and is rejected."""
    with pytest.raises(pydantic.ValidationError, match="event_id"):
        build(StripeEventReceived, event_id="")


# --- subjects ---------------------------------------------------------------------------


def test_partition_of_is_stable() -> None:
    """The same key always maps to the same, pinned partition (changing it re-shards)."""
    assert partition_of("+14155550101") == partition_of("+14155550101")
    # crc32-based values pinned: a change of hash would move every caregiver's partition.
    assert partition_of("u_1") == 0
    assert partition_of("+14155550101") == 5
    assert partition_of("user-42") == 3


def test_partition_of_is_within_range() -> None:
    """Partitions lie in 0..partitions-1 for the default and custom counts."""
    for i in range(500):
        key = f"user-{i}"
        assert 0 <= partition_of(key) < PARTITIONS
        assert 0 <= partition_of(key, 3) < 3
    assert partition_of("anything", 1) == 0


def test_partition_of_spreads_keys_over_all_partitions() -> None:
    """1000 keys reach every partition and none gets more than twice its fair share."""
    counts = Counter(partition_of(f"u_{i:06d}") for i in range(1000))
    assert set(counts) == set(range(PARTITIONS))
    assert max(counts.values()) < 2 * 1000 / PARTITIONS


def test_partitioned_appends_partition_suffix() -> None:
    """partitioned(base, key) is ``<base>.<partition_of(key)>``."""
    key = "+14155550101"
    subject = partitioned(subjects.SMS_INBOUND_RECEIVED, key)
    assert subject == f"sms.inbound.received.{partition_of(key)}"
    base, _, suffix = subject.rpartition(".")
    assert base == subjects.SMS_INBOUND_RECEIVED
    assert suffix.isdigit()


def test_partitioned_subjects_are_captured_by_their_streams() -> None:
    """Every partitioned user-scoped subject falls under its stream's wildcard filter."""
    for base, stream in [
        (subjects.SMS_INBOUND_RECEIVED, subjects.SMS),
        (subjects.SMS_STATUS_UPDATED, subjects.SMS),
        (subjects.STRIPE_EVENT_RECEIVED, subjects.STRIPE),
        (subjects.USER_REGISTERED, subjects.USERS),
    ]:
        subject = partitioned(base, "u_42")
        assert any(f.endswith(".*") and subject.rpartition(".")[0] == f[:-2] for f in stream.subjects), (
            subject,
            stream.subjects,
        )


def test_condition_and_then_are_additions_and_old_payloads_still_read() -> None:
    """FactLearned gained ``condition``, SmsCompose gained ``then``: what was written before still reads."""
    old_fact = {
        "v": 1,
        "occurred_at": "2026-01-01T00:00:00Z",
        "user_id": "u_1",
        "field": "zip",
        "value": "94110",
    }
    assert FactLearned.model_validate(old_fact).field == "zip"
    condition = FactLearned.model_validate({**old_fact, "field": "condition", "value": "Alzheimer's"})
    assert FactLearned.model_validate_json(condition.to_bytes()) == condition
    old_job = {"to": "+14155550100", "user_id": "u_1", "kind": "agent", "compose": {"message": "hi"}}
    sms = SendSmsJob.of(old_job)
    assert sms.compose is not None and sms.compose.then is None
