"""Start-up retries and write-conflict re-runs: the small loops crash recovery leans on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pymongo.errors import OperationFailure

from careline_platform.messaging import TRANSIENT_RETRIES, Delivery, run_with_conflict_retries
from careline_platform.runtime import retry_until_ready

pytestmark = pytest.mark.asyncio
DELIVERY = Delivery("m-1", "sms.inbound.received.0", 1, datetime(2026, 11, 26, tzinfo=UTC))


def conflict() -> OperationFailure:
    return OperationFailure("WriteConflict", code=112, details={"errorLabels": ["TransientTransactionError"]})


async def test_start_up_step_is_repeated_until_it_succeeds() -> None:
    calls: list[int] = []

    async def step() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("nats away")

    await retry_until_ready(step, "declare", timeout_s=5, first_delay_s=0.01)
    assert len(calls) == 3


async def test_start_up_gives_up_after_its_timeout_with_the_last_error() -> None:
    async def step() -> None:
        raise ConnectionError("nats away")

    with pytest.raises(ConnectionError):
        await retry_until_ready(step, "declare", timeout_s=0.05, first_delay_s=0.01)


async def test_a_write_conflict_re_runs_the_handler_at_once() -> None:
    calls: list[int] = []

    async def handler(_event: object, _delivery: Delivery) -> None:
        calls.append(1)
        if len(calls) < 3:
            raise conflict()

    await run_with_conflict_retries(lambda: handler(object(), DELIVERY))
    assert len(calls) == 3


async def test_a_persistent_conflict_goes_to_redelivery_after_the_retries() -> None:
    calls: list[int] = []

    async def handler(_event: object, _delivery: Delivery) -> None:
        calls.append(1)
        raise conflict()

    with pytest.raises(OperationFailure):
        await run_with_conflict_retries(lambda: handler(object(), DELIVERY))
    assert len(calls) == TRANSIENT_RETRIES + 1


async def test_other_database_errors_are_not_re_run() -> None:
    calls: list[int] = []

    async def handler(_event: object, _delivery: Delivery) -> None:
        calls.append(1)
        raise OperationFailure("bad value", code=2)

    with pytest.raises(OperationFailure):
        await run_with_conflict_retries(lambda: handler(object(), DELIVERY))
    assert calls == [1]
