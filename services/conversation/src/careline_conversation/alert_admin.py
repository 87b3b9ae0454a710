"""Staff's side of crisis alerts, as ingress's admin API asks it over NATS request/reply.

Read the roster and the alerts; replace the roster; acknowledge an alert (its escalation
stops), resolve it with an outcome, and text the caregiver it is about. Each operation takes
its request model from ``careline_contracts.admin``, asks the domain, and writes its change,
its audit row and any SMS job in one transaction. A refusal is a ``Rejected`` reply, which ingress answers
with 400 (bad input), 404 (no such alert) or 409 (not in this state: resolved, opted out).
A handler refuses by raising ``careline_platform.admin.Refused``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from careline_contracts import admin as ops
from careline_contracts.admin import (
    AcknowledgeAlert,
    AlertList,
    AlertView,
    GetAlert,
    GetRoster,
    ListAlerts,
    OnCallPerson,
    ReplaceRoster,
    ResolveAlert,
    Roster,
    SendStaffMessage,
    StaffMessageQueued,
)
from careline_contracts.jobs import SendSmsJob
from careline_conversation.alerts_repository import AlertsWriter, alert_view
from careline_conversation.domain import alerts, roster
from careline_conversation.paging import audit
from careline_conversation.repository import ConversationUow
from careline_platform.admin import AdminOperation, Refused
from careline_platform.audit import AuditRecord
from careline_platform.logging import get_logger

log = get_logger(__name__)
Document = dict[str, Any]
ROSTER_REF = "oncall_roster"


def operations(uow: ConversationUow) -> list[AdminOperation[Any, Any]]:
    """Staff's alert and on-call operations, each a typed request in and a typed reply out."""
    return [
        AdminOperation(ops.CRISIS_ALERTS, partial(list_alerts, uow=uow)),
        AdminOperation(ops.ALERT_GET, partial(get_alert, uow=uow)),
        AdminOperation(ops.ONCALL_GET, partial(get_roster, uow=uow)),
        AdminOperation(ops.ONCALL_PUT, partial(replace_roster, uow=uow), command=True),
        AdminOperation(ops.ALERT_ACKNOWLEDGE, partial(acknowledge, uow=uow), command=True),
        AdminOperation(ops.ALERT_RESOLVE, partial(resolve, uow=uow), command=True),
        AdminOperation(ops.ALERT_MESSAGE, partial(send_staff_message, uow=uow), command=True),
    ]


async def list_alerts(request: ListAlerts, uow: ConversationUow) -> AlertList:
    """The most recent alerts, newest first: facts, status and pages; never the message."""
    docs = await uow.read().recent_alerts(request.limit, request.status)
    return AlertList(alerts=[alert_view(d) for d in docs if d.get("status") and d.get("opened_at")])


async def get_alert(request: GetAlert, uow: ConversationUow) -> AlertView:
    doc = await uow.read().find_alert(request.alert_id)
    if doc is None or not doc.get("status") or not doc.get("opened_at"):
        raise Refused("not_found", "no such alert")
    return alert_view(doc)


async def get_roster(_request: GetRoster, uow: ConversationUow) -> Roster:
    people, doc = await uow.read().roster()
    return Roster(
        people=[OnCallPerson(name=p.name, phone=p.phone, order=p.order) for p in people],
        updated_at=doc.get("updated_at"),
        updated_by=doc.get("updated_by"),
    )


async def replace_roster(request: ReplaceRoster, uow: ConversationUow) -> Roster:
    """The whole roster at once, valid or not at all; audited with names, never numbers."""
    try:
        people = roster.validate(request.people)
    except roster.InvalidRoster as exc:
        raise Refused("invalid", str(exc)) from exc
    async with uow.begin() as tx:
        await tx.repo.replace_roster(people, request.by, tx.now)
        detail = {"people": len(people), "names": [p.name for p in people]}
        await tx.repo.audit(
            AuditRecord(at=tx.now, actor=request.by, action="oncall.replace", ref=ROSTER_REF, detail=detail)
        )
    log.warning("oncall.replaced", by=request.by, people=len(people))
    return await get_roster(GetRoster(), uow)


async def acknowledge(request: AcknowledgeAlert, uow: ConversationUow) -> AlertView:
    """Someone has the alert: its paging stops (acknowledging twice changes nothing)."""
    async with uow.begin() as tx:
        doc = await _alert(request.alert_id, tx.repo)
        verdict = alerts.acknowledgement(doc["status"])
        if verdict == "resolved":
            raise Refused("conflict", "the alert is resolved")
        if verdict == "acknowledge":
            await tx.repo.acknowledge_alert(request.alert_id, request.by, tx.now)
            round_ = (doc.get("paging") or {}).get("round")
            await audit(tx, "crisis.acknowledge", doc, {"round": round_}, actor=request.by)
        doc = await _alert(request.alert_id, tx.repo)
    if verdict == "acknowledge":
        log.warning("crisis.acknowledged", alert=request.alert_id, by=request.by)
    return alert_view(doc)


async def resolve(request: ResolveAlert, uow: ConversationUow) -> AlertView:
    """Close the alert with how it ended; nothing pages it any more."""
    async with uow.begin() as tx:
        doc = await _alert(request.alert_id, tx.repo)
        if doc["status"] == "resolved":
            raise Refused("conflict", "the alert is resolved")
        await tx.repo.resolve_alert(request.alert_id, request.by, request.outcome, request.note, tx.now)
        await audit(tx, "crisis.resolve", doc, {"outcome": request.outcome}, actor=request.by)
        doc = await _alert(request.alert_id, tx.repo)
    log.warning("crisis.resolved", alert=request.alert_id, by=request.by, outcome=request.outcome)
    return alert_view(doc)


async def send_staff_message(request: SendStaffMessage, uow: ConversationUow) -> StaffMessageQueued:
    """Text the caregiver words staff wrote, through the same SMS job as every reply; never to
    a number that opted out, unless the caregiver wrote since. A repeated request id sends
    nothing more."""
    key = f"sms:staff:{request.alert_id}:{request.request_id}"
    async with uow.begin() as tx:
        doc = await _alert(request.alert_id, tx.repo)
        if doc["status"] == "resolved":
            raise Refused("conflict", "the alert is resolved")
        user = doc["user_id"]
        state = await tx.repo.find_state(user)
        verdict = alerts.staff_message(state)
        if verdict == "no_number":
            raise Refused("conflict", "there is no phone number for this caregiver")
        if verdict == "opted_out":
            raise Refused("conflict", "the caregiver opted out (STOP) and has not written since")
        assert state is not None  # a number to send to means a state
        sms = SendSmsJob(
            to=state["phone"],
            user_id=user,
            body=request.text,
            kind="staff",
            correlation_id=f"staff:{request.request_id}",
        )
        queued = await tx.schedule(sms, key=key, actor=user)
        if queued:
            await tx.repo.record_staff_message(user, request.text, request.by, key, tx.now)
            await tx.repo.note_staff_message(request.alert_id, request.by, key, tx.now)
            await audit(tx, "crisis.staff_message", doc, {"job": key}, actor=request.by)
    if queued:
        log.warning("crisis.staff_message", alert=request.alert_id, by=request.by)
    return StaffMessageQueued(alert_id=request.alert_id, key=key, queued=queued)


async def _alert(alert_id: str, repo: AlertsWriter) -> Document:
    doc = await repo.find_alert(alert_id)
    if doc is None or not doc.get("status"):
        raise Refused("not_found", "no such alert")
    return doc
