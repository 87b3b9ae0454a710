"""Conversation's repositories and services in memory: the same protocols as the MongoDB ones
and the real adapters, for handler unit tests on the fake unit of work."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from careline_contracts.ingress import SmsReceived
from careline_contracts.migration import SliceCounts
from careline_conversation import handlers
from careline_conversation.agents import AgentContext, AgentReply, RulesAgent, ToolCall
from careline_conversation.domain.alerts import Cursor, NewAlert
from careline_conversation.domain.ratelimit import RateLimits
from careline_conversation.domain.roster import OnCall
from careline_conversation.handlers import Services
from careline_conversation.integrations.embeddings import EmbeddingUnavailable
from careline_conversation.integrations.sms import SentMessage
from careline_conversation.remembering import Recall
from careline_conversation.repository import RECENT_WINDOW, STATUS_RANK
from careline_platform.audit import AuditRecord
from careline_platform.jobs import Job
from careline_testing.fakes import FakeOpenAI
from careline_testing.slices import fill_slices
from careline_testing.uow import FakeClock, FakeUnitOfWork, delivery

Document = dict[str, Any]


def _recent(state: Document, entry: Document) -> None:
    state["recent_messages"] = [*state.get("recent_messages", []), entry][-RECENT_WINDOW:]


class FakeConversation:
    """``Writer`` and ``Reader`` (conversation's and the alerts') over plain dicts."""

    def __init__(self) -> None:
        self.states: dict[str, Document] = {}
        self.outbound: dict[str, Document] = {}
        self.alerts: dict[str, Document] = {}
        self.roster_doc: Document = {"_id": "current", "people": [], "updated_at": None}
        self.audit_rows: list[AuditRecord] = []
        self.jobs: dict[str, Document] = {}  # what erasure deletes; tests put job documents here
        self.kept: dict[str, Document] = {}  # message_memory: sid -> kept message

    # --- conversation: writer ---------------------------------------------------------------

    async def record_inbound(
        self, user_id: str, body: str, message_sid: str, now: datetime, *, phone: str | None, keep: int
    ) -> Document | None:
        before = copy.deepcopy(self.states.get(user_id))
        state = self.states.setdefault(
            user_id, {"_id": user_id, "conversation_started_at": now, "summary": ""}
        )
        _recent(state, {"dir": "in", "sid": message_sid, "text": body, "at": now})
        state["inbound_at"] = [*state.get("inbound_at", []), now][-keep:]
        state["total_interactions"] = state.get("total_interactions", 0) + 1
        state.update(updated_at=now, last_inbound_at=now)
        if phone is not None:
            state["phone"] = phone
        return before

    async def uncount_inbound(self, user_id: str, at: datetime) -> None:
        state = self.states.get(user_id)
        if state is not None:
            state["inbound_at"] = [t for t in state.get("inbound_at", []) if t != at]

    async def find_state(self, user_id: str) -> Document | None:
        return copy.deepcopy(self.states.get(user_id))

    async def update_state(self, user_id: str, fields: Document) -> None:
        state = self.states.get(user_id)
        if state is None:
            return
        for path, value in copy.deepcopy(fields).items():
            *parents, last = path.split(".")
            target = state
            for part in parents:
                target = target.setdefault(part, {})
            target[last] = value

    async def project_entitlement(
        self, user_id: str, entitled: bool, status: str, at: datetime, subscribed: bool = False
    ) -> None:
        known = self.states.get(user_id, {}).get("entitlement")
        if known is not None and known["at"] > at:
            return
        state = self.states.setdefault(
            user_id, {"_id": user_id, "conversation_started_at": at, "summary": ""}
        )
        state["entitlement"] = {"entitled": entitled, "status": status, "at": at, "subscribed": subscribed}

    async def note_on_alert(
        self, alert_id: str, user_id: str, field: str, answer: str, now: datetime, *, escalate: bool
    ) -> None:
        alert = self.alerts.setdefault(alert_id, {"_id": alert_id, "user_id": user_id})
        alert[field] = {"answer": answer, "at": now}
        if escalate:
            alert.update(priority="high", tier="explicit")

    async def note_follow_up_sent(self, alert_id: str, step: int, now: datetime) -> None:
        if alert_id in self.alerts:
            self.alerts[alert_id].setdefault("follow_up_sent", {})[str(step)] = now

    async def record_reply(self, user_id: str, text: str, now: datetime) -> None:
        if user_id in self.states:
            _recent(self.states[user_id], {"dir": "out", "text": text, "at": now})

    async def record_reply_once(self, user_id: str, job_key: str, text: str, now: datetime) -> None:
        state = self.states.get(user_id)
        if state is not None and all(m.get("job") != job_key for m in state.get("recent_messages", [])):
            _recent(state, {"dir": "out", "text": text, "at": now, "job": job_key})

    async def record_staff_message(
        self, user_id: str, text: str, staff_id: str, job_key: str, now: datetime
    ) -> None:
        if user_id in self.states:
            entry = {
                "dir": "out",
                "by": "staff",
                "staff_id": staff_id,
                "text": text,
                "at": now,
                "job": job_key,
            }
            _recent(self.states[user_id], entry)

    async def set_summary(self, user_id: str, summary: str, now: datetime) -> None:
        if user_id in self.states:
            self.states[user_id].update(summary=summary, summary_at=now)

    async def apply_status(self, sid: str, status: str, error_code: str | None, now: datetime) -> bool:
        rank = STATUS_RANK.get(status, 0)
        current = self.outbound.get(sid)
        if current is not None and current.get("rank", 0) >= rank:
            return False
        fields = {"status": status, "rank": rank, "error_code": error_code, "status_at": now}
        self.outbound.setdefault(sid, {"_id": sid}).update(fields)
        return True

    async def backfill(self, slices: list[Document], now: datetime) -> SliceCounts:
        counts, _created = fill_slices(
            self.states, slices, fill_stamp={"updated_at": now}, placeholder=frozenset({"entitlement"})
        )
        return counts

    async def project_backfilled_entitlements(self, projection: dict[str, Document], at: datetime) -> None:
        for user_id, value in projection.items():
            state = self.states.get(user_id)
            if state is None:
                self.states[user_id] = {"_id": user_id, "entitlement": dict(value)}
            elif state.get("entitlement") is None or state["entitlement"]["at"] <= at:
                state["entitlement"] = dict(value)

    async def keep_message(self, user_id: str, message_sid: str, text: str, now: datetime) -> None:
        doc = {"_id": message_sid, "user_id": user_id, "text": text, "at": now, "vector": None, "model": None}
        self.kept.setdefault(message_sid, doc)

    async def store_embedding(self, message_sid: str, vector: list[float], model: str, now: datetime) -> bool:
        if message_sid not in self.kept:
            return False
        self.kept[message_sid].update(vector=list(vector), model=model, embedded_at=now)
        return True

    async def erase_caregiver(self, user_id: str) -> Document:
        kept = [k for k, m in self.kept.items() if m["user_id"] == user_id]
        for key in kept:
            del self.kept[key]
        jobs = [
            k
            for k, j in self.jobs.items()
            if j["payload"].get("user_id") == user_id and j["status"] != "processing"
        ]
        for key in jobs:
            del self.jobs[key]
        mine = [k for k, a in self.alerts.items() if a.get("user_id") == user_id]
        for key in mine:
            del self.alerts[key]
        sent = [k for k, m in self.outbound.items() if m.get("user_id") == user_id]
        for key in sent:
            del self.outbound[key]
        forgotten = 0
        for i, row in enumerate(self.audit_rows):
            if row.user_id == user_id:
                self.audit_rows[i] = row.model_copy(update={"ref": None, "detail": {}})
                forgotten += 1
        return {
            "erased": True,
            "deleted": {
                "conversation_state": int(self.states.pop(user_id, None) is not None),
                "outbound_messages": len(sent),
                "crisis_alerts": len(mine),
                "message_memory": len(kept),
                "jobs": len(jobs),
            },
            "anonymised": {"audit_log": forgotten},
        }

    # --- conversation: reader ---------------------------------------------------------------

    async def state(self, user_id: str) -> Document | None:
        return copy.deepcopy(self.states.get(user_id))

    async def kept_message(self, message_sid: str) -> Document | None:
        return copy.deepcopy(self.kept.get(message_sid))

    async def kept_messages(self, user_id: str, limit: int) -> list[Document]:
        mine = [copy.deepcopy(m) for m in self.kept.values() if m["user_id"] == user_id]
        return sorted(mine, key=lambda m: m["at"], reverse=True)[:limit]

    async def read_caregiver(self, user_id: str) -> Document:
        return {
            "conversation_state": copy.deepcopy(self.states.get(user_id)),
            "outbound_messages": sum(m.get("user_id") == user_id for m in self.outbound.values()),
            "message_memory": sum(m["user_id"] == user_id for m in self.kept.values()),
            "crisis_alerts": [copy.deepcopy(a) for a in self.alerts.values() if a.get("user_id") == user_id],
            "audit_log": [r.model_dump() for r in self.audit_rows if r.user_id == user_id],
        }

    async def daily_metrics(self, start: datetime, end: datetime) -> Document:
        def within(at: datetime | None) -> bool:
            return at is not None and start <= at < end

        return {
            "active_caregivers": sum(within(s.get("last_inbound_at")) for s in self.states.values()),
            "messages_out": sum(within(m.get("sent_at")) for m in self.outbound.values()),
            "crisis_alerts": sum(within(a.get("opened_at")) for a in self.alerts.values()),
        }

    # --- alerts -----------------------------------------------------------------------------

    async def find_alert(self, alert_id: str) -> Document | None:
        return copy.deepcopy(self.alerts.get(alert_id))

    async def recent_alerts(self, limit: int, status: str | None = None) -> list[Document]:
        found = [a for a in self.alerts.values() if status is None or a.get("status") == status]
        found.sort(key=lambda a: a.get("opened_at") or datetime.min, reverse=True)
        return copy.deepcopy(found[:limit])

    async def roster(self) -> tuple[tuple[OnCall, ...], Document]:
        people = (OnCall.from_doc(p) for p in self.roster_doc.get("people") or [])
        return tuple(sorted(people, key=lambda p: p.order)), copy.deepcopy(self.roster_doc)

    async def open_alert(self, alert: NewAlert, now: datetime) -> Document | None:
        existing = self.alerts.get(alert.id)
        if existing is not None and existing.get("status"):
            return None
        fields: Document = {
            "user_id": alert.user_id, "message_sid": alert.message_sid, "category": alert.category,
            "tier": alert.tier, "priority": alert.priority, "language": alert.language,
            "correlation_id": alert.correlation_id, "status": "open", "opened_at": now, "paging": None,
            "pages": [], "page_requests": [], "staff_messages": [],
        }  # fmt: skip
        doc = {**(existing or {}), "_id": alert.id, **fields}
        self.alerts[alert.id] = doc
        return copy.deepcopy(doc)

    async def begin_round(
        self, alert_id: str, cursor: Cursor, reason: str, request: Document, page: Document | None
    ) -> None:
        alert = self.alerts[alert_id]
        alert.update(paging={**cursor.to_doc(), "reason": reason}, status="open")
        alert["page_requests"].append(copy.deepcopy(request))
        if page is not None:
            alert["pages"].append(copy.deepcopy(page))

    async def advance_paging(
        self, alert_id: str, before: Cursor, cursor: Cursor, page: Document | None
    ) -> bool:
        alert = self.alerts.get(alert_id)
        paging = (alert or {}).get("paging") or {}
        if (
            alert is None
            or alert.get("status") != "open"
            or (paging.get("round"), paging.get("step"))
            != (
                before.round,
                before.step,
            )
        ):
            return False
        paging.update(cursor.to_doc())
        if page is not None:
            alert["pages"].append(copy.deepcopy(page))
        return True

    async def record_page_request(self, alert_id: str, request: Document) -> None:
        self.alerts[alert_id]["page_requests"].append(copy.deepcopy(request))

    async def acknowledge_alert(self, alert_id: str, by: str, now: datetime) -> bool:
        alert = self.alerts.get(alert_id)
        if alert is None or alert.get("status") != "open":
            return False
        alert.update(status="acknowledged", acknowledged_by=by, acknowledged_at=now)
        return True

    async def resolve_alert(self, alert_id: str, by: str, outcome: str, note: str, now: datetime) -> bool:
        alert = self.alerts.get(alert_id)
        if alert is None or alert.get("status") == "resolved":
            return False
        alert.update(status="resolved", resolved_by=by, resolved_at=now, outcome=outcome, note=note)
        return True

    async def note_staff_message(self, alert_id: str, by: str, job_key: str, now: datetime) -> None:
        self.alerts[alert_id]["staff_messages"].append({"by": by, "at": now, "job": job_key})

    async def replace_roster(self, people: tuple[OnCall, ...], by: str, now: datetime) -> None:
        self.roster_doc.update(people=[p.to_doc() for p in people], updated_at=now, updated_by=by)

    async def audit(self, record: AuditRecord) -> None:
        self.audit_rows.append(record)

    def actions(self) -> list[str]:
        return [r.action for r in self.audit_rows]


class FakeSentMessages:
    """``SentMessages`` over a dict: sid -> the record (job key, user, status)."""

    def __init__(self) -> None:
        self.records: dict[str, Document] = {}

    async def record_sent(
        self, sid: str, user_id: str | None, job_key: str, status: str, now: datetime
    ) -> None:
        record = self.records.setdefault(sid, {"status": status})
        record.update(user_id=user_id, job_key=job_key, sent_at=now)

    async def adopt_sent(
        self, sid: str, user_id: str | None, job_key: str, status: str, now: datetime
    ) -> bool:
        held = self.records.get(sid, {}).get("job_key")
        if held not in (None, job_key):
            return False
        await self.record_sent(sid, user_id, job_key, status, now)
        return True


@dataclass
class FakeSender:
    """An SMS provider in memory: ``sent`` is what went out; ``lose_next`` sends but raises."""

    sent: list[tuple[str, str, str, datetime]] = field(default_factory=list)  # sid, to, body, at
    clock: FakeClock = field(default_factory=FakeClock)
    lose_next: int = 0
    _sids: itertools.count[int] = field(default_factory=itertools.count)

    async def send(self, *, to: str, body: str, idempotency_key: str) -> SentMessage:
        sid = f"SM{next(self._sids):032d}"
        self.sent.append((sid, to, body, self.clock.now()))
        if self.lose_next:
            self.lose_next -= 1
            raise TimeoutError("the answer was lost")
        return SentMessage(sid, "queued")

    async def find_sent(self, *, to: str, body: str, since: datetime) -> list[SentMessage]:
        return [
            SentMessage(sid, "sent") for sid, t, b, at in self.sent if t == to and b == body and at >= since
        ]


class FakeProgress:
    """The job engine's progress record: kept on the job, as ``JobStore.record_progress`` does."""

    def __init__(self) -> None:
        self.writes = 0
        self.cancelled: set[str] = set()
        """Keys of jobs cancelled under their worker (an erasure deleted them)."""

    async def record_progress(self, job: Job, **fields: Any) -> None:
        job.progress.update(fields)
        self.writes += 1

    async def holds(self, job: Job) -> bool:
        return job.key not in self.cancelled


class ScriptedAgent:
    """A slow (not instant) agent that answers what it is told to, with optional tool calls."""

    name = "scripted"
    instant = False

    def __init__(self, text: str = "scripted reply", tool_calls: tuple[ToolCall, ...] = ()) -> None:
        self.text, self.tool_calls = text, tool_calls
        self.asked: list[AgentContext] = []

    async def reply(self, context: AgentContext) -> AgentReply:
        self.asked.append(context)
        return AgentReply(self.text, self.name, self.tool_calls)

    async def summarise(self, context: AgentContext) -> str:
        self.asked.append(context)
        return f"summary of {len(context.recent)} messages"


@dataclass
class FakeEmbedder:
    """An embedder in memory: the fake OpenAI API's vectors (texts sharing words are close);
    ``fail`` makes every call raise, as a provider that is down."""

    model: str = "fake-embedding"
    dimensions: int = 256
    fail: bool = False
    asked: list[list[str]] = field(default_factory=list)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.asked.append(list(texts))
        if self.fail:
            raise EmbeddingUnavailable("down")
        return [FakeOpenAI.vector(t, self.dimensions) for t in texts]


@dataclass
class Conversation:
    """The fake unit of work and the services a test's handlers get."""

    uow: FakeUnitOfWork[FakeConversation, FakeConversation]
    services: Services
    sender: FakeSender
    sent: FakeSentMessages
    progress: FakeProgress

    @property
    def repo(self) -> FakeConversation:
        return self.uow.repo


def conversation(
    clock: FakeClock | None = None,
    agent: Any = None,
    limits: RateLimits | None = None,
    summary_every: int = 6,
    recall: Recall | None = None,
) -> Conversation:
    clock = clock or FakeClock()
    sender, sent, progress = FakeSender(clock=clock), FakeSentMessages(), FakeProgress()
    services = Services(
        sender=sender,
        agent=agent or RulesAgent(),
        progress=progress,
        sent=sent,
        limits=limits or RateLimits(),
        summary_every=summary_every,
        recall=recall or Recall(),
    )
    return Conversation(FakeUnitOfWork(FakeConversation(), clock=clock), services, sender, sent, progress)


USER, PHONE = "u1", "+14155550100"
"""The caregiver the handler tests text as."""


def settled(**fields: Any) -> dict[str, Any]:
    """A caregiver past the welcome and onboarding (``fields`` added to the state)."""
    return {
        "_id": USER,
        "phone": PHONE,
        "welcomed": True,
        "onboarding": {"field": None, "tries": 0},
        **fields,
    }


async def text(conv: Conversation, body: str, sid: str = "SM1") -> None:
    """``body`` texted by ``USER``, through conversation's message handler."""
    event = SmsReceived(occurred_at=conv.uow.now, message_sid=sid, user_id=USER, phone=PHONE, body=body)
    await handlers.on_sms_received(event, delivery(f"twilio:{sid}"), conv.uow, conv.services)
