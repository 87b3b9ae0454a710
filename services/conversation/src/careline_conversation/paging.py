"""Crisis alert jobs: open an alert, page the person on call, escalate a page nobody answered.

The decisions are ``domain.alerts``'; each handler here reads the alert, asks the domain and
writes, in one transaction, the alert's new state, its audit rows and the jobs it owes:

- ``crisis.alert`` opens the alert; a high-priority one starts paging at once, a low-priority
  one owes a ``crisis.page`` (reason ``unacknowledged``) due an hour later.
- ``crisis.page`` starts a new round from the top of the roster (the turn owes one on a NO to
  the follow-up or a yes to the caring question; a new crisis opens an alert of its own).
- ``crisis.escalate`` is due when a page's time to be acknowledged is up: it pages the next
  person if the alert is still open and its paging has not moved on.

A page is an ``sms.send`` job (kind ``page``) to the person on call: it goes out exactly once
like every other SMS. Its payload carries the caregiver's user id, so erasing the caregiver
removes pages still owed, and never the caregiver's words or number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from careline_contracts.jobs import CrisisEscalationJob, CrisisPageJob, SendSmsJob
from careline_conversation.domain import alerts
from careline_conversation.domain.alerts import Cursor, NewAlert, Paged, PagingPolicy, Step
from careline_conversation.repository import ConversationUow, Writer
from careline_platform.audit import SYSTEM, AuditRecord, Detail
from careline_platform.jobs import Job
from careline_platform.logging import get_logger
from careline_platform.uow import Tx

log = get_logger(__name__)
Document = dict[str, Any]


class AlertNotOpenYet(Exception):
    """A page was asked for an alert whose own job has not opened it yet: retried later."""


async def raise_crisis_alert(job: Job, uow: ConversationUow, policy: PagingPolicy) -> dict[str, Any]:
    """Open the alert for a crisis message (once), and start paging or the hour's wait."""
    alert = NewAlert.from_job(job.key, job.payload)
    step: Step | None = None
    async with uow.begin() as tx:
        now = tx.now
        doc = await tx.repo.open_alert(alert, now)
        if doc is None:
            return {"alert": alert.id, "opened": False}
        opened = {"category": alert.category, "priority": alert.priority, "tier": alert.tier}
        await audit(tx, "crisis.open", doc, dict(opened))
        if alert.priority == "high":
            step = await begin_round(tx, doc, "opened", job.key, policy)
        else:
            await owe_unacknowledged_check(tx, alert, policy)
    log.warning("crisis.alert", user=alert.user_id, alert=alert.id, **opened)
    if step is not None:
        log_step(alert.id, step)
    return {"alert": alert.id, "opened": True}


async def owe_unacknowledged_check(tx: Tx[Writer], alert: NewAlert, policy: PagingPolicy) -> None:
    """The low-priority alert's page, due an hour after it opened; it pages only if nobody
    acknowledged the alert meanwhile."""
    payload = CrisisPageJob(
        user_id=alert.user_id, alert_id=alert.id, reason="unacknowledged", correlation_id=alert.correlation_id
    )
    key = f"crisis:page:{alert.id}:unacknowledged"
    await tx.schedule(payload, key=key, run_at=tx.now + policy.low_priority_grace)


async def page_again(job: Job, uow: ConversationUow, policy: PagingPolicy) -> dict[str, Any]:
    """Page the roster from the top about an alert (``crisis.page``); a resolved alert only
    records the request."""
    request = CrisisPageJob.of(job.payload)
    async with uow.begin() as tx:
        doc = await tx.repo.find_alert(request.alert_id)
        if doc is None or not doc.get("status"):
            raise AlertNotOpenYet(request.alert_id)
        if any(r.get("cause") == job.key for r in doc.get("page_requests") or []):
            return {"alert": request.alert_id, "done": "before"}  # a retry after its commit
        verdict = alerts.on_page_request(doc["status"], request.reason, Cursor.from_doc(doc.get("paging")))
        if verdict == "skip":
            return {"alert": request.alert_id, "skipped": doc["status"]}
        if verdict == "record":
            entry = {"cause": job.key, "reason": request.reason, "at": tx.now, "round": None}
            await tx.repo.record_page_request(request.alert_id, entry)
            await audit(tx, "crisis.page_request", doc, {"reason": request.reason, "paged": False})
            return {"alert": request.alert_id, "recorded": request.reason}
        step = await begin_round(tx, doc, request.reason, job.key, policy)
    log_step(request.alert_id, step)
    return {"alert": request.alert_id, "round": step.cursor.round}


async def escalate(job: Job, uow: ConversationUow, policy: PagingPolicy) -> dict[str, Any]:
    """A page's time is up (``crisis.escalate``): page the next person if nobody acknowledged."""
    check = CrisisEscalationJob.of(job.payload)
    async with uow.begin() as tx:
        doc = await tx.repo.find_alert(check.alert_id)
        if doc is None:
            return {"alert": check.alert_id, "skipped": "no alert"}
        cursor = Cursor.from_doc(doc.get("paging"))
        if cursor is None or not alerts.escalation_due(
            doc.get("status", ""), cursor, check.round, check.step
        ):
            return {"alert": check.alert_id, "skipped": doc.get("status")}
        roster, _ = await tx.repo.roster()
        step = alerts.next_step(cursor, roster, Paged.from_doc(doc), tx.now, policy)
        reason = (doc.get("paging") or {}).get("reason") or "opened"
        if not await tx.repo.advance_paging(
            check.alert_id, cursor, step.cursor, page_entry(step, reason, tx.now)
        ):
            return {"alert": check.alert_id, "skipped": "moved on"}
        if step.page is not None and cursor.index is not None:
            moved: dict[str, Detail] = {"round": cursor.round, "from_index": cursor.index}
            moved |= {"to_index": step.cursor.index, "wrapped": step.wrapped}
            await audit(tx, "crisis.escalate", doc, moved)
        await owe_step(tx, doc, step, reason, audit_miss=cursor.index is not None)
    if step.wrapped:
        log.error(
            "crisis.page.roster_exhausted", alert=check.alert_id, round=cursor.round, people=len(roster)
        )
    log_step(check.alert_id, step)
    return {"alert": check.alert_id, "step": step.cursor.step}


async def begin_round(tx: Tx[Writer], doc: Document, reason: str, cause: str, policy: PagingPolicy) -> Step:
    """Start a round from the top of the roster: the alert is open again until acknowledged."""
    now = tx.now
    roster, _ = await tx.repo.roster()
    step = alerts.first_step(Cursor.from_doc(doc.get("paging")), roster, Paged.from_doc(doc), now, policy)
    request = {"cause": cause, "reason": reason, "at": now, "round": step.cursor.round}
    await tx.repo.begin_round(doc["_id"], step.cursor, reason, request, page_entry(step, reason, now))
    await owe_step(tx, doc, step, reason)
    return step


def page_entry(step: Step, reason: str, now: datetime) -> Document | None:
    """The alert's record of a page: who, when, which round and step (no phone number)."""
    if step.page is None or step.cursor.index is None:
        return None
    cursor = step.cursor
    return {
        "round": cursor.round,
        "step": cursor.step,
        "index": cursor.index,
        "name": step.page.person.name,
        "at": now,
        "reason": reason,
        "escalated": step.page.escalated,
    }


async def owe_step(
    tx: Tx[Writer], doc: Document, step: Step, reason: str, *, audit_miss: bool = True
) -> None:
    """The page SMS (if anyone is on call) and the check that follows it. An empty roster is
    audited when it starts missing pages, not at every retry (the error log repeats)."""
    alert_id, user, cursor = doc["_id"], doc["user_id"], step.cursor
    correlation_id = doc.get("correlation_id") or ""
    if step.page is not None:
        # to the person on call; the caregiver's user id, so erasing them removes pages owed
        page = SendSmsJob(
            to=step.page.person.phone,
            user_id=user,
            body=step.page.text,
            kind="page",
            correlation_id=correlation_id,
        )
        await tx.schedule(page, key=alerts.page_key(alert_id, cursor))
        paged: dict[str, Detail] = {"round": cursor.round, "step": cursor.step, "index": cursor.index}
        paged |= {"name": step.page.person.name, "reason": reason, "escalated": step.page.escalated}
        await audit(tx, "crisis.page", doc, paged)
    elif audit_miss:
        await audit(tx, "crisis.page_missed", doc, {"round": cursor.round, "step": cursor.step})
    check = CrisisEscalationJob(
        user_id=user, alert_id=alert_id, round=cursor.round, step=cursor.step, correlation_id=correlation_id
    )
    await tx.schedule(check, key=alerts.check_key(alert_id, cursor), run_at=step.check_at)


async def audit(
    tx: Tx[Writer], action: str, doc: Document, detail: dict[str, Detail], *, actor: str = SYSTEM
) -> None:
    """An audit row about an alert, in the transaction of the change it records."""
    record = AuditRecord(
        at=tx.now, actor=actor, action=action, user_id=doc["user_id"], ref=doc["_id"], detail=detail
    )
    await tx.repo.audit(record)


def log_step(alert_id: str, step: Step) -> None:
    cursor = step.cursor
    if step.page is None:  # nobody on call: tried again at check_at, never dropped
        retry_at = step.check_at.isoformat()
        log.error(
            "crisis.page.no_roster", alert=alert_id, round=cursor.round, step=cursor.step, retry_at=retry_at
        )
        return
    escalated = step.page.escalated
    log.warning(
        "crisis.page",
        alert=alert_id,
        round=cursor.round,
        step=cursor.step,
        index=cursor.index,
        escalated=escalated,
    )
