"""Admin commands: dispatched beside queries, never under a built-in's name, and re-run when their
transaction hits a write conflict (someone is waiting for the answer)."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.errors import OperationFailure, PyMongoError

from careline_platform.admin import AdminResponder
from careline_platform.mongo import rerun_on_conflict


def responder(**operations: Any) -> AdminResponder:
    return AdminResponder("conversation", None, None, None, **operations)  # type: ignore[arg-type]


def conflict() -> PyMongoError:
    return OperationFailure("WriteConflict", code=112, details={"errorLabels": ["TransientTransactionError"]})


@pytest.mark.asyncio
async def test_a_command_is_rerun_after_a_write_conflict_and_answers() -> None:
    calls: list[dict[str, Any]] = []

    async def acknowledge(request: dict[str, Any]) -> dict[str, Any]:
        calls.append(request)
        if len(calls) < 3:
            raise conflict()
        return {"status": "acknowledged"}

    reply = await responder(commands={"alert_acknowledge": acknowledge}).handle(
        "alert_acknowledge", {"alert_id": "a"}
    )
    assert reply == {"service": "conversation", "status": "acknowledged"} and len(calls) == 3


@pytest.mark.asyncio
async def test_any_other_error_is_not_rerun() -> None:
    calls = 0

    async def work() -> None:
        nonlocal calls
        calls += 1
        raise OperationFailure("bad", code=2)

    with pytest.raises(OperationFailure):
        await rerun_on_conflict(work)
    assert calls == 1


@pytest.mark.asyncio
async def test_a_conflict_that_persists_is_raised() -> None:
    async def work() -> None:
        raise conflict()

    with pytest.raises(PyMongoError):
        await rerun_on_conflict(work, retries=2)


def test_commands_may_not_take_a_built_in_or_a_query_name() -> None:
    async def op(_request: dict[str, Any]) -> dict[str, Any]:
        return {}

    with pytest.raises(ValueError, match="jobs_retry"):
        responder(commands={"jobs_retry": op})
    with pytest.raises(ValueError, match="crisis_alerts"):
        responder(queries={"crisis_alerts": op}, commands={"crisis_alerts": op})
