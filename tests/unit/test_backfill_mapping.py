"""Legacy users documents to LegacyUser: messy values normalised, unkeyable records rejected."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from careline_cli.common import CliError
from careline_cli.migrate import legacy
from careline_cli.migrate.backfill import Tally
from careline_cli.migrate.mapping import Rejected, parse_when, to_legacy_user
from careline_cli.migrate.sources import parse_source
from careline_contracts.migration import LegacyUser
from careline_platform.backfill import gap_fill

AT = datetime(2024, 3, 5, 14, 30, tzinfo=UTC)


def doc(**fields: Any) -> dict[str, Any]:
    return {"_id": "legacy_1", "phoneNumber": "(415) 555-0101", **fields}


def user(**fields: Any) -> LegacyUser:
    mapped = to_legacy_user(doc(**fields))
    assert isinstance(mapped, LegacyUser), mapped
    return mapped


def test_legacy_document_has_117_fields() -> None:
    """The legacy schema the generator writes has exactly 117 distinct fields."""
    assert len(legacy.LEGACY_FIELDS) == len(set(legacy.LEGACY_FIELDS)) == 117


@pytest.mark.parametrize(
    "raw", ["(415) 555-0101", "415.555.0101", "14155550101", 4155550101, "+1 415 555 0101", "415-555-0101"]
)
def test_phone_spellings_normalise_to_e164(raw: Any) -> None:
    """Every spelling of a North American number becomes the same E.164 key."""
    assert user(phoneNumber=raw).phone == "+14155550101"


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"phoneNumber": "555-0101"}, "phone number not normalisable to E.164"),
        ({"phoneNumber": "n/a"}, "phone number not normalisable to E.164"),
        ({"phoneNumber": None}, "missing phone number"),
        ({"_id": None}, "missing _id"),
    ],
)
def test_unkeyable_records_are_invalid_with_a_reason(record: dict[str, Any], reason: str) -> None:
    """No legacy id or no usable phone number: invalid, with the reason the report shows."""
    assert to_legacy_user(doc(**record)) == Rejected("invalid", reason)


def test_not_a_document_is_invalid() -> None:
    assert to_legacy_user(["a", "list"]) == Rejected("invalid", "not a document")


def test_deleted_legacy_users_are_skipped() -> None:
    """A caregiver erased in the old system is not resurrected."""
    assert to_legacy_user(doc(deletedAt=1700000000000)) == Rejected("skipped", "deleted in the legacy system")


@pytest.mark.parametrize(
    "value",
    [int(AT.timestamp() * 1000), int(AT.timestamp()), str(int(AT.timestamp() * 1000)), AT.isoformat(),
     "2024-03-05T14:30:00Z"],
)  # fmt: skip
def test_dates_in_every_legacy_format(value: Any) -> None:
    """Milliseconds, seconds, digit strings and ISO strings all read as the same instant."""
    assert parse_when(value) == AT


@pytest.mark.parametrize("value", ["sometime", None, True, "", [], 10**30])
def test_unreadable_dates_are_dropped(value: Any) -> None:
    assert parse_when(value) is None


def test_us_style_and_naive_dates_are_utc_midnight() -> None:
    assert parse_when("03/05/2024") == parse_when("2024-03-05") == datetime(2024, 3, 5, tzinfo=UTC)


def test_profile_values_are_normalised() -> None:
    """Capitals, numeric ZIPs, ZIP+4, relationship words, zone strings, invalid time zones."""
    u = user(
        firstName="  MARIA ",
        relationship="Mom",
        zipCode=2139,
        timezone="PST",
        pressureZones="emotional, time, sleep",
        journeyPhase="lost",
    )
    p = u.profile
    assert (p.first_name, p.relationship, p.zip, p.time_zone) == ("Maria", "parent", "02139", None)
    assert p.pressure_zones == ["emotional", "time"] and p.journey_phase is None
    assert user(zipCode="98101-1234", relationship="neighbor").profile.zip == "98101"
    assert user(relationship="neighbor").profile.relationship == "other"
    assert user(zipCode="ABCDE").profile.zip is None


@pytest.mark.parametrize(
    ("score", "band"), [(85, "crisis"), ("61", "high"), (40.0, "moderate"), (20, "mild"), (0, "thriving")]
)
def test_band_is_recomputed_from_the_score(score: Any, band: str) -> None:
    """The original's band names did not always match its scores: the score decides."""
    p = user(burnoutScore=score, burnoutBand="Severe").profile
    assert p.burnout_band == band


def test_out_of_range_score_is_dropped_and_a_known_band_kept() -> None:
    p = user(burnoutScore=140, burnoutBand="HIGH").profile
    assert (p.burnout_score, p.burnout_band) == (None, "high")


def test_assessment_history_keeps_readable_entries_only() -> None:
    history = [{"completedAt": "2024-01-02", "score": 70}, {"completedAt": "sometime", "score": "high"}, "x"]
    [kept] = user(assessmentHistory=history).profile.assessments
    assert (kept.score, kept.band) == (70, "high")


def test_conversation_messages_opt_out_and_counts() -> None:
    messages = [
        {"role": "user", "content": "hi", "timestamp": 1709649000000},
        {"direction": "outbound", "body": "hello", "at": "2024-03-05T14:31:00Z"},
        {"role": "system", "content": "[context]", "timestamp": 1},
        "not a message",
    ]
    c = user(recentMessages=messages, smsOptOut="true", totalInteractionCount="-3").conversation
    assert [(m.dir, m.text) for m in c.recent_messages] == [("in", "hi"), ("out", "hello")]
    assert c.opted_out is True and c.total_interactions == 0
    assert len(user(recentMessages=messages[:1] * 30).conversation.recent_messages) == 12


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("Active", "active"),
        ("trial", "trialing"),
        ("cancelled", "canceled"),
        ("paused", "none"),
        (None, "none"),
    ],
)
def test_subscription_status_is_normalised(status: Any, expected: str) -> None:
    assert user(subscriptionStatus=status).billing.status == expected


def test_stripe_ids_must_look_like_stripe_ids() -> None:
    b = user(stripeCustomerId="pending", stripeSubscriptionId="sub_1").billing
    assert (b.stripe_customer_id, b.stripe_subscription_id) == (None, "sub_1")


def test_roles_keep_known_roles_only_and_email_needs_an_at() -> None:
    u = user(roles="support,beta", email="not-an-email")
    assert (u.roles, u.email) == (["support"], None)


def test_tally_skips_duplicate_ids_and_phones() -> None:
    """The second document with a legacy id or a phone number seen before is skipped."""
    tally = Tally()
    assert tally.admit(doc()) is not None
    assert tally.admit(doc()) is None
    assert tally.admit(doc(_id="legacy_2", phoneNumber="415.555.0101")) is None
    assert tally.admit(doc(_id="legacy_3", phoneNumber="12")) is None
    assert tally.valid == 1 and sum(tally.skipped.values()) == 2 and sum(tally.invalid.values()) == 1


def test_generator_is_deterministic_and_messy(tmp_path: Path) -> None:
    """The same seed writes the same file; records are messy yet most are importable."""
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    legacy.write_jsonl(a, legacy.generate(500, seed=3), garbage_every=100)
    legacy.write_jsonl(b, legacy.generate(500, seed=3), garbage_every=100)
    assert a.read_bytes() == b.read_bytes()
    tally = Tally()
    for line in a.read_text().splitlines():
        try:
            tally.admit(json.loads(line))
        except ValueError:
            tally.admit(Rejected("invalid", "not a JSON document"))
    assert 0.8 * 500 < tally.valid < 500 and tally.invalid and tally.skipped


def test_gap_fill_never_overwrites_a_live_value() -> None:
    """Live data wins: only absent, null or empty fields take the legacy value."""
    live = {"_id": "u", "first_name": "Ann", "zip": None, "pressure_zones": [], "opted_out": False}
    legacy_slice = {
        "_id": "u",
        "first_name": "Maria",
        "zip": "94110",
        "pressure_zones": ["time"],
        "opted_out": True,
    }
    assert gap_fill(live, legacy_slice) == {"zip": "94110", "pressure_zones": ["time"]}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("/no/such/file.jsonl", "no such file"),
        ("mongodb://localhost:27017/onlydb", "database.collection"),
        ("http://example.org/x", "expected a .jsonl file"),
    ],
)
def test_bad_sources_are_clear_errors(source: str, message: str) -> None:
    with pytest.raises(CliError, match=message):
        parse_source(source, None)


def test_mongodb_source_names_database_and_collection() -> None:
    parsed = parse_source("mongodb://user:secret@db.example:27017/legacy.users?authSource=admin", None)
    assert (parsed.database, parsed.collection) == ("legacy", "users")
    assert "secret" not in parsed.label and "secret" not in str(parsed.checkpoint)
