"""Daily rollups are precomputed by a job from each service's own collections."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from careline_billing import repository as billing_repository
from careline_billing.repository import MongoBillingReader
from careline_conversation import repository
from careline_conversation.repository import MongoReader
from careline_platform.jobs import Job
from careline_platform.mongo import connect
from careline_platform.rollups import rollup_job_type
from careline_platform.uow import ReadDb
from careline_testing.servers import Backends

pytestmark = pytest.mark.asyncio
_names = itertools.count()
NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
YESTERDAY = NOW - timedelta(days=1)


class FixedClock:
    def now(self) -> datetime:
        return NOW


JOB = Job(
    key="rollup.daily:x",
    type="rollup.daily",
    payload={},
    attempts=1,
    max_attempts=None,
    progress={},
    token="t",
)


async def test_conversation_counts_its_own_day(backends: Backends) -> None:
    client = connect(backends.mongodb_uri)
    db = client[f"rollup_conv_{next(_names)}"]
    await repository.ensure_indexes(db)
    await db.conversation_state.insert_many(
        [
            {"_id": "u1", "last_inbound_at": NOW - timedelta(hours=1)},
            {"_id": "u2", "last_inbound_at": NOW - timedelta(hours=3)},
            {"_id": "u3", "last_inbound_at": YESTERDAY},
        ]
    )
    await db.processed_messages.insert_many(
        [{"_id": f"twilio:SM{i}", "at": NOW - timedelta(minutes=i)} for i in range(3)]
        + [{"_id": "stripe:evt_1", "at": NOW}, {"_id": "twilio:SMold", "at": YESTERDAY}]
    )
    await db.outbound_messages.insert_many([{"_id": f"SMo{i}", "sent_at": NOW} for i in range(2)])
    await db.crisis_alerts.insert_one({"_id": "crisis:alert:1", "status": "open", "opened_at": NOW})
    try:
        result = await rollup_job_type(
            db, "conversation", FixedClock(), MongoReader(ReadDb(db)).daily_metrics
        ).handler(JOB)
        rollup = await db.rollups.find_one({"_id": "2026-11-26"})
    finally:
        await client.close()
    assert result == {"days": ["2026-11-26"]}
    assert rollup is not None
    picked = {k: rollup[k] for k in ("active_caregivers", "messages_in", "messages_out", "crisis_alerts")}
    assert picked == {"active_caregivers": 2, "messages_in": 3, "messages_out": 2, "crisis_alerts": 1}


async def test_billing_counts_subscriptions_by_status(backends: Backends) -> None:
    client = connect(backends.mongodb_uri)
    db = client[f"rollup_bill_{next(_names)}"]
    await billing_repository.ensure_indexes(db)
    repo = MongoBillingReader(ReadDb(db))
    statuses: list[Any] = ["trialing", "trialing", "active", "canceled", "none"]
    await db.billing_accounts.insert_many([{"_id": f"u{i}", "status": s} for i, s in enumerate(statuses)])
    try:
        await rollup_job_type(db, "billing", FixedClock(), repo.daily_metrics).handler(JOB)
        rollup = await db.rollups.find_one({"_id": "2026-11-26"})
    finally:
        await client.close()
    assert rollup is not None
    assert rollup["subscriptions"] == {
        "trialing": 2,
        "active": 1,
        "past_due": 0,
        "canceled": 1,
        "incomplete": 0,
        "unpaid": 0,
        "none": 1,
    }
