"""Crisis paging on a real MongoDB-wire server: the alert, page and escalation jobs run by the job
worker under a clock the test moves, and staff's admin operations on the same data.

Pages are checked as the ``sms.send`` jobs they become (the end-to-end test sends them through
the fake Twilio): one per step, keyed by alert, round and step, to the person on call, never
with the caregiver's words or number.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from pydantic import ValidationError
from structlog.testing import capture_logs

from careline_contracts import subjects
from careline_contracts.jobs import CrisisAlertJob, CrisisEscalationJob, CrisisPageJob, SendSmsJob
from careline_conversation import alert_admin, paging, repository
from careline_conversation.domain.alerts import PagingPolicy
from careline_conversation.repository import ConversationUow, MongoReader, MongoWriter
from careline_platform.admin import AdminOperation
from careline_platform.jobs import Job, JobStore, JobType, JobWorker, RetryPolicy, new_job
from careline_platform.mongo import connect
from careline_platform.uow import UnitOfWork
from careline_testing.servers import Backends

pytestmark = pytest.mark.asyncio
_names = itertools.count()
START = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
CAREGIVER, CAREGIVER_PHONE = "usr_caregiver", "+14155550900"
ANA, BEN = "+14155550101", "+14155550102"
ROSTER = [{"name": "Ana", "phone": ANA, "order": 1}, {"name": "Ben", "phone": "(415) 555-0102", "order": 2}]
STAFF = "usr_staff"


class MovableClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


async def no_dead_letters(_doc: dict[str, Any]) -> None:
    return None


@dataclass
class Line:
    """Conversation's crisis paging over one database, with its job worker and admin operations."""

    uow: ConversationUow
    jobs: JobStore
    policy: PagingPolicy
    clock: MovableClock
    worker: JobWorker
    db: Any
    operations: dict[str, AdminOperation[Any, Any]]

    async def run_due(self) -> int:
        ran = 0
        while await self.worker.run_once():
            ran += 1
        return ran

    async def ask(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        """The operation's typed request built from ``request``; its typed reply as JSON. A request
        that does not validate is rejected as invalid, as on the wire."""
        op = self.operations[operation]
        try:
            parsed = op.contract.request.model_validate(request)
        except ValidationError as exc:
            return {"rejected": "invalid", "reason": str(exc.errors()[0]["msg"])}
        reply = await op.answer(parsed)
        return reply.model_dump(mode="json")

    async def pages(self) -> list[dict[str, Any]]:
        jobs = self.db.jobs.find({"type": SendSmsJob.job_type(), "payload.kind": "page"}).sort("order", 1)
        return [job async for job in jobs]

    async def audit(self, action: str | None = None) -> list[dict[str, Any]]:
        query = {"action": action} if action else {}
        return [row async for row in self.db.audit_log.find(query).sort([("at", 1), ("_id", 1)])]

    async def alert(self, alert_id: str) -> dict[str, Any]:
        doc = await self.db.crisis_alerts.find_one({"_id": alert_id})
        assert doc is not None
        return dict(doc)

    async def open_alert(self, sid: str, priority: str = "high") -> str:
        payload = CrisisAlertJob(
            user_id=CAREGIVER,
            message_sid=sid,
            category="suicide_self",
            tier="explicit" if priority == "high" else "indirect",
            priority=priority,  # type: ignore[arg-type]
        )
        key = f"crisis:alert:{sid}"
        await self.jobs.enqueue(new_job(key, payload.job_type(), payload.to_payload(), now=self.clock.now()))
        await self.run_due()
        return key


@pytest_asyncio.fixture
async def line(backends: Backends) -> AsyncIterator[Line]:
    client = connect(backends.mongodb_uri)
    db = client[f"conversation_paging_{next(_names)}"]
    clock = MovableClock(START)
    await repository.ensure_indexes(db)
    store = JobStore(db.jobs, clock)
    await store.ensure_indexes()
    uow = UnitOfWork(
        client,
        db,
        jobs=store,
        clock=clock,
        stream=subjects.CONVERSATION,
        writer=MongoWriter,
        reader=MongoReader,
    )
    paging_policy = PagingPolicy(escalate_after=timedelta(minutes=10), base_url="https://care.example.org")
    policy = RetryPolicy(max_attempts=3, base_s=0.01)
    worker = JobWorker(
        store,
        {
            CrisisAlertJob.job_type(): JobType(
                lambda job: paging.raise_crisis_alert(job, uow, paging_policy), policy
            ),
            CrisisPageJob.job_type(): JobType(lambda job: paging.page_again(job, uow, paging_policy), policy),
            CrisisEscalationJob.job_type(): JobType(
                lambda job: paging.escalate(job, uow, paging_policy), policy
            ),
        },
        owner="test",
        dead_letter_sink=no_dead_letters,
    )
    await db.conversation_state.insert_one(
        {"_id": CAREGIVER, "phone": CAREGIVER_PHONE, "recent_messages": []}
    )
    yield Line(
        uow, store, paging_policy, clock, worker, db, {op.name: op for op in alert_admin.operations(uow)}
    )
    await client.close()


async def set_roster(line: Line, people: list[dict[str, Any]] | None = None) -> None:
    reply = await line.ask("oncall_put", {"by": "usr_admin", "people": ROSTER if people is None else people})
    assert "rejected" not in reply, reply


async def test_a_high_priority_alert_pages_at_once_and_escalates_down_the_roster_and_round(
    line: Line,
) -> None:
    await set_roster(line)
    alert_id = await line.open_alert("SM1")
    pages = await line.pages()
    assert [(p["_id"], p["payload"]["to"]) for p in pages] == [(f"page:{alert_id}:1:0", ANA)]
    payload = pages[0]["payload"]
    assert payload["user_id"] == CAREGIVER and payload["kind"] == "page"
    assert "suicide_self" in payload["body"] and "HIGH" in payload["body"]
    assert f"https://care.example.org/admin/ui#alert={alert_id}" in payload["body"]
    assert CAREGIVER_PHONE not in str(payload)

    line.clock.advance(minutes=9)
    assert await line.run_due() == 0  # Ana still has a minute
    line.clock.advance(minutes=2)
    assert await line.run_due() == 1
    assert [p["payload"]["to"] for p in await line.pages()] == [ANA, BEN]
    assert "escalated" in (await line.pages())[1]["payload"]["body"]

    with capture_logs() as logs:  # nobody answered: after the last person, the first again
        line.clock.advance(minutes=11)
        await line.run_due()
    assert [p["payload"]["to"] for p in await line.pages()] == [ANA, BEN, ANA]
    exhausted = [e for e in logs if e["event"] == "crisis.page.roster_exhausted"]
    assert exhausted and exhausted[0]["log_level"] == "error"

    doc = await line.alert(alert_id)
    assert [(p["round"], p["step"], p["name"], p["escalated"]) for p in doc["pages"]] == [
        (1, 0, "Ana", False),
        (1, 1, "Ben", True),
        (1, 2, "Ana", True),
    ]
    assert len(await line.audit("crisis.page")) == 3 and len(await line.audit("crisis.escalate")) == 2

    acked = await line.ask("alert_acknowledge", {"alert_id": alert_id, "by": STAFF})
    assert acked["status"] == "acknowledged" and acked["acknowledged_by"] == STAFF
    line.clock.advance(minutes=30)
    await line.run_due()
    assert len(await line.pages()) == 3  # acknowledged: no more pages
    check = await line.db.jobs.find_one({"_id": f"crisis:escalate:{alert_id}:1:2"})
    assert check["status"] == "completed" and check["result"]["skipped"] == "acknowledged"


async def test_a_retried_alert_job_opens_and_pages_once(line: Line) -> None:
    await set_roster(line)
    alert_id = await line.open_alert("SM2")
    job = await line.db.jobs.find_one({"_id": alert_id})
    again = await paging.raise_crisis_alert(
        Job(
            key=alert_id,
            type=job["type"],
            payload=job["payload"],
            attempts=2,
            max_attempts=None,
            progress={},
            token="t",
        ),
        line.uow,
        line.policy,
    )
    assert again == {"alert": alert_id, "opened": False}
    assert len(await line.pages()) == 1 and len(await line.audit("crisis.open")) == 1


async def test_an_empty_roster_pages_nobody_logs_an_error_and_tries_again(line: Line) -> None:
    with capture_logs() as logs:
        alert_id = await line.open_alert("SM3")
    assert await line.pages() == []
    assert any(e["event"] == "crisis.page.no_roster" and e["log_level"] == "error" for e in logs)
    assert len(await line.audit("crisis.page_missed")) == 1
    line.clock.advance(seconds=61)
    await line.run_due()  # still nobody
    assert (
        await line.pages() == [] and len(await line.audit("crisis.page_missed")) == 1
    )  # once, not at every retry

    await set_roster(line)
    line.clock.advance(seconds=61)
    await line.run_due()
    pages = await line.pages()
    assert [p["payload"]["to"] for p in pages] == [ANA]
    assert "escalated" not in pages[0]["payload"]["body"]  # nobody was paged before Ana
    assert (await line.alert(alert_id))["paging"]["round"] == 1


async def test_a_low_priority_alert_pages_only_if_unacknowledged_after_an_hour(line: Line) -> None:
    await set_roster(line)
    quiet = await line.open_alert("SM4", priority="low")
    handled = await line.open_alert("SM5", priority="low")
    assert await line.pages() == []
    await line.ask("alert_acknowledge", {"alert_id": handled, "by": STAFF})
    line.clock.advance(minutes=59)
    assert await line.run_due() == 0
    line.clock.advance(minutes=2)
    await line.run_due()
    pages = await line.pages()
    assert [p["_id"] for p in pages] == [f"page:{quiet}:1:0"]
    assert "LOW priority" in pages[0]["payload"]["body"]
    skipped = await line.db.jobs.find_one({"_id": f"crisis:page:{handled}:unacknowledged"})
    assert skipped["status"] == "completed" and skipped["result"]["skipped"] == "acknowledged"
    requests = (await line.alert(quiet))["page_requests"]
    assert [(r["reason"], r["round"]) for r in requests] == [("unacknowledged", 1)]


async def test_a_page_request_starts_over_from_the_top_unless_the_alert_is_resolved(line: Line) -> None:
    await set_roster(line)
    alert_id = await line.open_alert("SM6")
    line.clock.advance(minutes=11)
    await line.run_due()  # Ben paged
    await line.ask("alert_acknowledge", {"alert_id": alert_id, "by": STAFF})

    async def request(reason: str, key: str) -> None:
        payload = CrisisPageJob(user_id=CAREGIVER, alert_id=alert_id, reason=reason)  # type: ignore[arg-type]
        await line.jobs.enqueue(new_job(key, payload.job_type(), payload.to_payload(), now=line.clock.now()))
        await line.run_due()

    await request("follow_up_no", "crisis:page:followup:1")
    doc = await line.alert(alert_id)
    assert doc["status"] == "open" and doc["paging"]["round"] == 2  # open again until acknowledged
    pages = await line.pages()
    assert [(p["_id"], p["payload"]["to"]) for p in pages[-1:]] == [(f"page:{alert_id}:2:0", ANA)]

    resolved = await line.ask(
        "alert_resolve", {"alert_id": alert_id, "by": STAFF, "outcome": "safe", "note": ""}
    )
    assert resolved["status"] == "resolved"
    await request("new_crisis", "crisis:page:newcrisis:1")
    doc = await line.alert(alert_id)
    assert len(await line.pages()) == 3 and doc["status"] == "resolved"
    assert doc["page_requests"][-1]["reason"] == "new_crisis" and doc["page_requests"][-1]["round"] is None
    line.clock.advance(minutes=30)
    await line.run_due()
    assert len(await line.pages()) == 3  # the round-2 check found it resolved


async def test_staff_acknowledge_resolve_and_text_the_caregiver_within_the_rules(line: Line) -> None:
    alert_id = await line.open_alert("SM7")
    assert (await line.ask("alert_acknowledge", {"alert_id": "crisis:alert:nope", "by": STAFF}))[
        "rejected"
    ] == ("not_found")
    bad = await line.ask("alert_resolve", {"alert_id": alert_id, "by": STAFF, "outcome": "fine"})
    assert bad["rejected"] == "invalid"

    message = {
        "alert_id": alert_id,
        "by": STAFF,
        "text": "Hi, this is Sam from Careline.",
        "request_id": "r1",
    }
    sent = await line.ask("alert_message", message)
    assert sent == {"alert_id": alert_id, "key": f"sms:staff:{alert_id}:r1", "queued": True}
    assert (await line.ask("alert_message", message))["queued"] is False  # the same request again
    job = await line.db.jobs.find_one({"_id": sent["key"]})
    assert job["payload"] == {
        "to": CAREGIVER_PHONE,
        "user_id": CAREGIVER,
        "body": "Hi, this is Sam from Careline.",
        "kind": "staff",
        "correlation_id": "staff:r1",
    }
    state = await line.db.conversation_state.find_one({"_id": CAREGIVER})
    assert [(m["dir"], m["by"], m["text"]) for m in state["recent_messages"]] == [
        ("out", "staff", "Hi, this is Sam from Careline.")
    ]

    # opted out: refused, until the caregiver writes after opting out
    stop_at = line.clock.now()
    await line.db.conversation_state.update_one(
        {"_id": CAREGIVER}, {"$set": {"opted_out": True, "last_inbound_at": stop_at}}
    )
    refused = await line.ask("alert_message", {**message, "request_id": "r2"})
    assert refused["rejected"] == "conflict" and "opted out" in refused["reason"]
    await line.db.conversation_state.update_one({"_id": CAREGIVER}, {"$set": {"opted_out_at": stop_at}})
    assert (await line.ask("alert_message", {**message, "request_id": "r3"}))["rejected"] == "conflict"
    await line.db.conversation_state.update_one(
        {"_id": CAREGIVER}, {"$set": {"last_inbound_at": stop_at + timedelta(minutes=1)}}
    )
    assert (await line.ask("alert_message", {**message, "request_id": "r4"}))["queued"] is True

    resolved = await line.ask(
        "alert_resolve", {"alert_id": alert_id, "by": STAFF, "outcome": "reached_988", "note": "called 988"}
    )
    assert (resolved["status"], resolved["outcome"], resolved["note"]) == (
        "resolved",
        "reached_988",
        "called 988",
    )
    for operation, extra in (
        ("alert_acknowledge", {}),
        ("alert_resolve", {"outcome": "safe"}),
        ("alert_message", {"text": "hello", "request_id": "r5"}),
    ):
        again = await line.ask(operation, {"alert_id": alert_id, "by": STAFF, **extra})
        assert again["rejected"] == "conflict", operation

    rows = await line.audit()
    staff_rows = [(r["action"], r["actor"]) for r in rows if r["actor"] == STAFF]
    assert staff_rows == [
        ("crisis.staff_message", STAFF),
        ("crisis.staff_message", STAFF),
        ("crisis.resolve", STAFF),
    ]
    assert "Sam from Careline" not in str(rows) and "called 988" not in str(rows)
    listed = await line.ask("crisis_alerts", {"limit": 10})
    assert listed["alerts"][0]["id"] == alert_id and listed["alerts"][0]["staff_messages"] == 2
    assert "message_sid" not in listed["alerts"][0]


async def test_the_roster_is_replaced_whole_valid_or_not_at_all_and_audited(line: Line) -> None:
    await set_roster(line)
    roster = await line.ask("oncall_get", {})
    assert [(p["name"], p["phone"]) for p in roster["people"]] == [("Ana", ANA), ("Ben", BEN)]
    assert roster["updated_by"] == "usr_admin"
    refused = await line.ask(
        "oncall_put", {"by": "usr_admin", "people": [*ROSTER, {"name": "X", "phone": "12", "order": 3}]}
    )
    assert refused["rejected"] == "invalid" and "person 3" in refused["reason"]
    assert len((await line.ask("oncall_get", {}))["people"]) == 2
    rows = await line.audit("oncall.replace")
    assert len(rows) == 1 and rows[0]["actor"] == "usr_admin" and rows[0]["detail"]["names"] == ["Ana", "Ben"]
    assert ANA not in str(rows)


async def test_erasing_the_caregiver_removes_alerts_and_owed_pages_and_keeps_bare_audit_rows(
    line: Line,
) -> None:
    await set_roster(line)
    alert_id = await line.open_alert("SM8")
    assert await line.pages() != []
    record = await line.uow.read().read_caregiver(CAREGIVER)  # what the admin API shows
    assert [a["_id"] for a in record["crisis_alerts"]] == [alert_id]
    assert [r["action"] for r in record["audit_log"]] == ["crisis.open", "crisis.page"]
    json.dumps(record, default=lambda v: v.isoformat())  # it travels as JSON (dates as text)
    async with line.uow.begin() as tx:  # as the admin operation erases (CaregiverSlice.of)
        await tx.cancel_caregiver_jobs(CAREGIVER)
        erased = await tx.repo.erase_caregiver(CAREGIVER)
    assert erased["deleted"]["crisis_alerts"] == 1 and erased["anonymised"]["audit_log"] >= 2
    assert await line.db.crisis_alerts.count_documents({}) == 0
    assert await line.db.jobs.count_documents({"payload.user_id": CAREGIVER}) == 0
    rows = await line.audit()
    mine = [r for r in rows if r.get("user_id") == CAREGIVER]
    assert mine and all(r["ref"] is None and r["detail"] == {} for r in mine)
    assert alert_id not in str(rows)
    line.clock.advance(minutes=30)
    assert await line.run_due() == 0
