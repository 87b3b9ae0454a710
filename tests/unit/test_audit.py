"""The audit record: a dotted action, who did it, and plain details only."""

from __future__ import annotations

from datetime import UTC, datetime

import pydantic
import pytest

from careline_platform.audit import SYSTEM, AuditRecord

AT = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)


def test_a_record_names_who_did_what_to_which_record() -> None:
    record = AuditRecord(
        at=AT,
        actor=SYSTEM,
        action="crisis.page",
        user_id="usr_1",
        ref="crisis:alert:SM1",
        detail={"round": 1},
    )
    assert record.model_dump() == {
        "at": AT,
        "actor": "system",
        "action": "crisis.page",
        "user_id": "usr_1",
        "ref": "crisis:alert:SM1",
        "detail": {"round": 1},
        "role": None,
    }


@pytest.mark.parametrize(
    "fields",
    [
        {"action": "page"},  # not dotted
        {"action": "Crisis.Page"},
        {"actor": ""},
        {"text": "I want to die"},  # no place for message text
        {"detail": {"note": {"nested": "text"}}},  # details are plain values
    ],
    ids=["undotted", "capitals", "no-actor", "extra-field", "nested-detail"],
)
def test_a_record_refuses_what_does_not_belong(fields: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        AuditRecord.model_validate({"at": AT, "actor": "usr_staff", "action": "crisis.resolve", **fields})
