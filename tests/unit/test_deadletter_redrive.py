"""The pure rules of a re-drive: which letters a selection names, who may publish them, which
consumer acts on a re-driven message and under which id, and what the admin API accepts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from careline_contracts import subjects
from careline_contracts.access import IDENTITIES
from careline_contracts.deadletter import DeadLetter
from careline_contracts.http import RedriveBody
from careline_platform.deadletters import Selection, not_redrivable, owner_of, scan_floor
from careline_platform.messaging import ConsumerSpec, message_id, redriven_for_another

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def letter(subject: str = "sms.inbound.received.3", **changes: Any) -> DeadLetter:
    fields: dict[str, Any] = {
        "service": "conversation",
        "subject": subject,
        "msg_id": "twilio:SM1",
        "reason": "RuntimeError after 8",
        "deliveries": 8,
        "payload": "{}",
        "dead_at": NOW,
        "durable": "conversation-inbound",
    }
    return DeadLetter(**(fields | changes))


@pytest.mark.parametrize(
    ("pattern", "subject", "matches"),
    [
        ("sms.inbound.received.3", "sms.inbound.received.3", True),
        ("sms.inbound.received", "sms.inbound.received.3", False),
        ("sms.*.received.*", "sms.inbound.received.3", True),
        ("sms.>", "sms.inbound.received.3", True),
        ("sms.>", "sms", False),
        (">", "billing.entitlement.changed.0", True),
        ("sms.inbound.*", "sms.inbound.received.3", False),
    ],
)
def test_subjects_match_as_nats_wildcards_do(pattern: str, subject: str, matches: bool) -> None:
    assert subjects.subject_matches(pattern, subject) is matches


def test_each_subject_belongs_to_the_stream_and_owner_that_captures_it() -> None:
    assert owner_of(letter("sms.inbound.received.3")) == "ingress"
    assert owner_of(letter("billing.entitlement.changed.1")) == "billing"
    assert owner_of(letter("profile.prompt.ready.7")) == "profile"
    assert owner_of(letter("conversation.fact.learned.0")) == "conversation"
    assert owner_of(letter("job.send_sms")) is None


def test_a_dead_job_or_an_unknown_subject_is_not_redriven() -> None:
    assert "jobs retry" in (not_redrivable(letter("job.send_sms")) or "")
    assert "no stream" in (not_redrivable(letter("nobody.knows.this")) or "")
    assert "unknown service" in (not_redrivable(letter(service="mallory")) or "")
    assert not_redrivable(letter()) is None


def test_a_selection_needs_a_criterion_and_every_criterion_narrows() -> None:
    with pytest.raises(ValueError, match="choose dead letters"):
        Selection(services=("billing",))
    base = Selection(subject="sms.inbound.received")
    assert base.matches(1, letter()) and not base.matches(1, letter("sms.status.updated.3"))
    assert Selection(ids=("twilio:SM1",)).matches(9, letter())
    assert Selection(seqs=(9,)).matches(9, letter(msg_id="other"))
    assert not Selection(ids=("twilio:SM2",), seqs=(8,)).matches(9, letter())
    assert Selection(since=NOW - timedelta(minutes=1)).matches(1, letter())
    assert not Selection(since=NOW + timedelta(minutes=1)).matches(1, letter())
    assert not Selection(subject="sms.>", services=("billing",)).matches(1, letter())


def raw(headers: dict[str, str]) -> Any:
    meta = SimpleNamespace(stream="SMS", sequence=SimpleNamespace(stream=42))
    return SimpleNamespace(headers=headers, metadata=meta)


def spec(service: str, durable: str) -> ConsumerSpec:
    async def handler(_event: Any, _delivery: Any) -> None:
        return None

    return ConsumerSpec(service, subjects.SMS, subjects.SMS_INBOUND_RECEIVED, durable, DeadLetter, handler)


def test_a_redrive_counts_under_its_original_id_so_the_processed_record_catches_it() -> None:
    assert message_id(raw({"Nats-Msg-Id": "twilio:SM1"})) == "twilio:SM1"
    redriven = {"Nats-Msg-Id": "redrive:7:abc", "Careline-Redrive-Of": "twilio:SM1"}
    assert message_id(raw(redriven)) == "twilio:SM1"
    assert message_id(raw({})) == "SMS:42"


def test_only_the_consumer_that_gave_up_acts_on_a_redrive() -> None:
    headers = {
        "Careline-Redrive-Of": "twilio:SM1",
        "Careline-Redrive-For": "conversation",
        "Careline-Redrive-Durable": "conversation-inbound",
    }
    assert not redriven_for_another(raw(headers), spec("conversation", "conversation-inbound"))
    assert redriven_for_another(raw(headers), spec("conversation", "conversation-other"))
    assert redriven_for_another(raw(headers), spec("billing", "conversation-inbound"))
    no_durable = {k: v for k, v in headers.items() if k != "Careline-Redrive-Durable"}
    assert not redriven_for_another(raw(no_durable), spec("conversation", "conversation-other"))
    assert not redriven_for_another(raw({"Nats-Msg-Id": "x"}), spec("billing", "billing-users"))


def test_services_may_read_dead_letters_by_sequence_but_never_delete_them() -> None:
    for name in ("conversation", "billing", "profile"):
        allowed = IDENTITIES[name].publish_allow()
        assert "$JS.API.STREAM.MSG.GET.DEAD_LETTERS" in allowed
        assert "$JS.API.STREAM.MSG.DELETE.DEAD_LETTERS" not in allowed
    assert not any(
        s.startswith(("sms.", "billing.", "conversation.")) for s in IDENTITIES["operator"].publish_allow()
    )


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({}, "choose dead letters"),
        ({"dry_run": True, "service": ["billing"]}, "choose dead letters"),
        ({"subject": "sms inbound"}, "pattern"),
        ({"subject": "sms.>.x"}, "pattern"),
        ({"seqs": [0]}, "seqs at least 1"),
        ({"ids": [""]}, "1-300 characters"),
        ({"since": "yesterday"}, "datetime"),
        ({"subject": "sms.>", "limit": 501}, "less than or equal to 500"),
        ({"subject": "sms.>", "service": ["mallory"]}, "ingress"),
        ({"subject": "sms.>", "extra": 1}, "Extra inputs"),
    ],
)
def test_the_admin_api_refuses_a_bad_redrive_request_and_says_why(body: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        RedriveBody.model_validate(body)


def test_a_time_without_a_zone_is_utc() -> None:
    body = RedriveBody.model_validate({"since": "2026-11-30T10:00:00"})
    assert body.since == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def test_a_scan_since_the_first_instant_ever_reads_everything_instead_of_overflowing() -> None:
    assert scan_floor(None) is None
    assert scan_floor(datetime(1, 1, 1, tzinfo=UTC)) is None
    assert scan_floor(NOW) == NOW - timedelta(minutes=5)
