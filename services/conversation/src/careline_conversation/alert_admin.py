"""Staff's side of crisis alerts, as ingress's admin API asks it over NATS request/reply.

Read the roster and the alerts; replace the roster; acknowledge an alert (its escalation
stops), resolve it with an outcome, and text the caregiver it is about. Each operation checks
its request against its contracts model, asks the domain, and writes its change, its audit row
and any SMS job in one transaction. A refusal is a ``Rejected`` reply, which ingress answers
with 400 (bad input), 404 (no such alert) or 409 (not in this state: resolved, opted out).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pymongo.asynchronous.client_session import AsyncClientSession

from careline_contracts import admin as ops
from careline_contracts.admin import (
    AcknowledgeAlert,
    AlertList,
    AlertView,
    GetAlert,
    GetRoster,
    ListAlerts,
    OnCallPerson,
    Rejected,
    RejectionKind,
    ReplaceRoster,
    ResolveAlert,
    Roster,
    SendStaffMessage,
    StaffMessageQueued,
)
from careline_conversation.alerts_repository import alert_view
from careline_conversation.domain import alerts, roster
from careline_conversation.handlers import SEND_SMS
from careline_conversation.paging import AlertDeps, audit
from careline_platform.audit import AuditRecord
from careline_platform.jobs import new_job
from careline_platform.logging import get_logger

log = get_logger(__name__)
Document = dict[str, Any]
Operation = Callable[[Document], Awaitable[Document]]
Request = TypeVar("Request", bound=BaseModel)
ROSTER_REF = "oncall_roster"


class Refused(Exception):
    """The request cannot be carried out; ``kind`` decides the HTTP status ingress answers."""

    def __init__(self, kind: RejectionKind, reason: str) -> None:
        super().__init__(reason)
        self.kind, self.reason = kind, reason


def operation(
    model: type[Request], run: Callable[[Request, AlertDeps], Awaitable[BaseModel]], deps: AlertDeps
) -> Operation:
    """An admin operation over JSON: the request checked against ``model``, refusals as replies."""

    async def handle(request: Document) -> Document:
        try:
            parsed = model.model_validate(request)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            return Rejected(rejected="invalid", reason=f"{where}: {first['msg']}").model_dump(mode="json")
        try:
            reply = await run(parsed, deps)
        except Refused as refusal:
            return Rejected(rejected=refusal.kind, reason=refusal.reason).model_dump(mode="json")
        return reply.model_dump(mode="json")

    return handle


def queries(deps: AlertDeps) -> dict[str, Operation]:
    return {
        ops.CRISIS_ALERTS: operation(ListAlerts, list_alerts, deps),
        ops.ALERT_GET: operation(GetAlert, get_alert, deps),
        ops.ONCALL_GET: operation(GetRoster, get_roster, deps),
    }


def commands(deps: AlertDeps) -> dict[str, Operation]:
    return {
        ops.ONCALL_PUT: operation(ReplaceRoster, replace_roster, deps),
        ops.ALERT_ACKNOWLEDGE: operation(AcknowledgeAlert, acknowledge, deps),
        ops.ALERT_RESOLVE: operation(ResolveAlert, resolve, deps),
        ops.ALERT_MESSAGE: operation(SendStaffMessage, send_staff_message, deps),
    }


async def list_alerts(request: ListAlerts, deps: AlertDeps) -> AlertList:
    """The most recent alerts, newest first: facts, status and pages; never the message."""
    docs = await deps.alerts.recent(request.limit, request.status)
    return AlertList(alerts=[alert_view(d) for d in docs if d.get("status") and d.get("opened_at")])


async def get_alert(request: GetAlert, deps: AlertDeps) -> AlertView:
    doc = await deps.alerts.find(request.alert_id)
    if doc is None or not doc.get("status") or not doc.get("opened_at"):
        raise Refused("not_found", "no such alert")
    return alert_view(doc)


async def get_roster(_request: GetRoster, deps: AlertDeps) -> Roster:
    people, doc = await deps.alerts.roster()
    return Roster(
        people=[OnCallPerson(name=p.name, phone=p.phone, order=p.order) for p in people],
        updated_at=doc.get("updated_at"),
        updated_by=doc.get("updated_by"),
    )


async def replace_roster(request: ReplaceRoster, deps: AlertDeps) -> Roster:
    """The whole roster at once, valid or not at all; audited with names, never numbers."""
    try:
        people = roster.validate(request.people)
    except roster.InvalidRoster as exc:
        raise Refused("invalid", str(exc)) from exc
    now = deps.clock.now()
    async with deps.uow.transaction(None, now) as session:
        await deps.alerts.replace_roster(people, request.by, now, session)
        detail = {"people": len(people), "names": [p.name for p in people]}
        record = AuditRecord(at=now, actor=request.by, action="oncall.replace", ref=ROSTER_REF, detail=detail)
        await deps.audit.record(record, session)
    log.warning("oncall.replaced", by=request.by, people=len(people))
    return await get_roster(GetRoster(), deps)


async def acknowledge(request: AcknowledgeAlert, deps: AlertDeps) -> AlertView:
    """Someone has the alert: its paging stops (acknowledging twice changes nothing)."""
    now = deps.clock.now()
    async with deps.uow.transaction(None, now) as session:
        doc = await _alert(request.alert_id, deps, session)
        verdict = alerts.acknowledgement(doc["status"])
        if verdict == "resolved":
            raise Refused("conflict", "the alert is resolved")
        if verdict == "acknowledge":
            await deps.alerts.acknowledge(request.alert_id, request.by, now, session)
            round_ = (doc.get("paging") or {}).get("round")
            await audit(deps, session, now, "crisis.acknowledge", doc, {"round": round_}, actor=request.by)
        doc = await _alert(request.alert_id, deps, session)
    if verdict == "acknowledge":
        log.warning("crisis.acknowledged", alert=request.alert_id, by=request.by)
    return alert_view(doc)


async def resolve(request: ResolveAlert, deps: AlertDeps) -> AlertView:
    """Close the alert with how it ended; nothing pages it any more."""
    now = deps.clock.now()
    async with deps.uow.transaction(None, now) as session:
        doc = await _alert(request.alert_id, deps, session)
        if doc["status"] == "resolved":
            raise Refused("conflict", "the alert is resolved")
        await deps.alerts.resolve(request.alert_id, request.by, request.outcome, request.note, now, session)
        await audit(deps, session, now, "crisis.resolve", doc, {"outcome": request.outcome}, actor=request.by)
        doc = await _alert(request.alert_id, deps, session)
    log.warning("crisis.resolved", alert=request.alert_id, by=request.by, outcome=request.outcome)
    return alert_view(doc)


async def send_staff_message(request: SendStaffMessage, deps: AlertDeps) -> StaffMessageQueued:
    """Text the caregiver words staff wrote, through the same SMS job as every reply; never to
    a number that opted out, unless the caregiver wrote since. A repeated request id sends
    nothing more."""
    key = f"sms:staff:{request.alert_id}:{request.request_id}"
    now = deps.clock.now()
    async with deps.uow.transaction(None, now) as session:
        doc = await _alert(request.alert_id, deps, session)
        if doc["status"] == "resolved":
            raise Refused("conflict", "the alert is resolved")
        user = doc["user_id"]
        state = await deps.conversations.find_state(user, session)
        verdict = alerts.staff_message(state)
        if verdict == "no_number":
            raise Refused("conflict", "there is no phone number for this caregiver")
        if verdict == "opted_out":
            raise Refused("conflict", "the caregiver opted out (STOP) and has not written since")
        assert state is not None  # a number to send to means a state
        payload = {"to": state["phone"], "user_id": user, "body": request.text, "kind": "staff"}
        payload["correlation_id"] = f"staff:{request.request_id}"
        queued = await deps.jobs.enqueue(
            new_job(key, SEND_SMS, payload, now=now, actor=user), session=session
        )
        if queued:
            await deps.conversations.record_staff_message(user, request.text, request.by, key, now, session)
            await deps.alerts.record_staff_message(request.alert_id, request.by, key, now, session)
            await audit(deps, session, now, "crisis.staff_message", doc, {"job": key}, actor=request.by)
    if queued:
        log.warning("crisis.staff_message", alert=request.alert_id, by=request.by)
        deps.wake_worker()
    return StaffMessageQueued(alert_id=request.alert_id, key=key, queued=queued)


async def _alert(alert_id: str, deps: AlertDeps, session: AsyncClientSession) -> Document:
    doc = await deps.alerts.find(alert_id, session)
    if doc is None or not doc.get("status"):
        raise Refused("not_found", "no such alert")
    return doc
