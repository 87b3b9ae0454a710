"""The admin API under ``/admin``: bearer tokens, roles from ``users``, every service asked over NATS.

Roles: ``support`` may read (jobs, a caregiver's record, metrics, crisis alerts and the on-call
roster), find a caregiver by phone number, retry jobs, re-drive dead letters, and acknowledge,
resolve and answer crisis alerts; ``admin`` may also grant and revoke roles, erase a caregiver,
replace the on-call roster and read the audit log. ``ADMIN_USER_IDS`` is only a bootstrap, applied once
(``careline_platform.staff_roles``): a revoke sticks. Every read writes one entry to ingress's
audit log before it answers (``careline_ingress.audit_log``), as do role changes; what staff do
to an alert carries their user id (from the token) to conversation, which audits it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query
from faststream.nats import NatsBroker
from nats.js.errors import NotFoundError

from careline_contracts import admin as ops
from careline_contracts.admin import (
    AcknowledgeAlert,
    AdminReply,
    AdminRequest,
    AlertList,
    AlertStatus,
    AlertView,
    DeadLetterRedriven,
    EraseCaregiver,
    GetAlert,
    GetCaregiver,
    GetRoster,
    JobStatusName,
    ListAlerts,
    ListJobs,
    ListRollups,
    Operation,
    RedriveDeadLetter,
    RefreshRollup,
    ReplaceRoster,
    ResolveAlert,
    ResolveBody,
    RetryJob,
    Roster,
    RosterBody,
    SendStaffMessage,
    StaffMessageBody,
    StaffMessageQueued,
)
from careline_contracts.http import (
    AuditPage,
    CaregiverLookup,
    CaregiverMatch,
    CaregiverView,
    ErasureView,
    JobRetriedView,
    JobsByService,
    MetricsView,
    RedriveBody,
    RedrivenLetter,
    RedriveView,
    Role,
    RoleGrant,
    RoleGranted,
    RoleRevoked,
    RollupsRefreshed,
    UserRoles,
)
from careline_ingress.access import Caller, Gate
from careline_ingress.audit_log import AuditLog, UnknownCursor
from careline_ingress.repository import Users
from careline_platform.admin_client import NoAnswer, RequestRejected, ServiceFailed, ask
from careline_platform.admin_operations import Scrub, jsonable
from careline_platform.admin_tokens import ROLES
from careline_platform.audit import Detail
from careline_platform.deadletters import Outcome, Selection, choose, redrive
from careline_platform.erasure import needles
from careline_platform.logging import get_logger
from careline_platform.phone import is_e164, phone_hash
from careline_platform.services import BEHIND_EDGE, SERVICE_NAMES
from careline_platform.settings import Settings

log = get_logger(__name__)
ASK_TIMEOUT_S = 5.0
Req = TypeVar("Req", bound=AdminRequest)
Rep = TypeVar("Rep", bound=AdminReply)
REJECTED_STATUS = {"invalid": 400, "not_found": 404, "conflict": 409}
AlertId = Annotated[str, Path(min_length=1, max_length=200)]
UserId = Annotated[str, Path(min_length=1, max_length=100)]
ServiceName = Annotated[str, Path(pattern=f"^({'|'.join(SERVICE_NAMES)})$", description="a Careline service")]
IDEMPOTENCY_KEY = r"^[A-Za-z0-9_.:-]{1,100}$"
NOT_E164 = "phone must be E.164: a +, the country code, then the number, digits only (no spaces)"


def admin_router(
    settings: Settings,
    users: Callable[[], Users],
    audit: Callable[[], AuditLog],
    nats: Callable[[], NatsBroker],
    scrub: Scrub,
) -> APIRouter:
    """The ``/admin`` routes; ``nats`` returns the connected FastStream ``NatsBroker``; ``scrub``
    deletes an erased caregiver's messages from ingress's streams."""
    router = APIRouter(prefix="/admin", tags=["admin"])
    gate = Gate(settings, lambda: users().roles)
    reader = Depends(gate.needs("admin", "support"))
    admin = Depends(gate.needs("admin"))

    async def audited(who: Caller, action: str, **about: Any) -> None:
        """One audit entry for what ``who`` is about to be shown (written before the answer)."""
        await audit().record(who.user_id, who.role, action, **about)

    async def asked(service: str, operation: Operation[Req, Rep], request: Req) -> Rep:
        """The typed reply of ``service`` to ``request``; a refusal or failure as an HTTP error."""
        try:
            return await ask(nats(), service, operation, request, ASK_TIMEOUT_S)
        except NoAnswer as exc:
            raise HTTPException(504, f"{service} did not answer") from exc
        except ServiceFailed as exc:
            raise HTTPException(502, f"{service}: {exc}") from exc
        except RequestRejected as exc:  # understood and refused: bad input, nothing there, wrong state
            raise HTTPException(REJECTED_STATUS.get(exc.rejected.rejected, 400), exc.rejected.reason) from exc

    @router.get("/jobs")
    async def list_jobs(
        status: Annotated[list[JobStatusName] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        who: Caller = reader,
    ) -> JobsByService:
        """Failed and dead jobs (or the statuses asked for) of every service, ingress's included."""
        request = ListJobs(statuses=status or ["failed", "dead"], limit=limit)
        jobs = {s: (await asked(s, ops.JOBS_LIST, request)).jobs for s in SERVICE_NAMES}
        await audited(who, "jobs.read", detail={"statuses": list(request.statuses)})
        return JobsByService(jobs=jobs)

    @router.post("/jobs/{service}/{key:path}/retry")
    async def retry_job(
        service: ServiceName,
        key: Annotated[str, Path(min_length=1, max_length=300)],
        _who: Caller = reader,
    ) -> JobRetriedView:
        """Put a failed or dead job back in its service's queue."""
        reply = await asked(service, ops.JOBS_RETRY, RetryJob(key=key))
        if not reply.retried:
            raise HTTPException(404, "no failed or dead job with that key")
        return JobRetriedView(retried=key, service=service)

    @router.post(
        "/deadletters/redrive",
        responses={503: {"description": "JetStream did not answer"}},
    )
    async def redrive_dead_letters(body: RedriveBody, who: Caller = reader) -> RedriveView:
        """Publish dead-lettered messages again on their original subjects, each under a new
        message id, for the consumer that gave up on them only (``dry_run``: list them and
        publish nothing). Audited, before anything is published."""
        selection = Selection(
            tuple(body.ids), tuple(body.seqs), body.subject, body.since, tuple(body.service)
        )
        await audited(
            who,
            "deadletters.redrive" if not body.dry_run else "deadletters.preview",
            detail={"ids": len(body.ids), "seqs": len(body.seqs), "subject": body.subject,
                    "since": body.since.isoformat() if body.since else None},
        )  # fmt: skip
        try:
            chosen = await choose(nats().connection.jetstream(timeout=ASK_TIMEOUT_S), selection, body.limit)
        except NotFoundError:
            chosen = []  # no dead letter was ever written
        except Exception as exc:  # no responders, a timeout: the broker is away
            raise HTTPException(503, f"cannot read the dead letters ({type(exc).__name__})") from exc

        async def ask_owner(owner: str, request: RedriveDeadLetter) -> DeadLetterRedriven:
            try:
                return await asked(owner, ops.DEADLETTER_REDRIVE, request)
            except HTTPException as exc:
                raise RuntimeError(str(exc.detail)) from exc

        outcomes = await redrive(chosen, ask_owner, who.user_id, dry_run=body.dry_run)
        if not body.dry_run:
            log.warning("admin.deadletters_redriven", by=who.user_id, letters=len(outcomes))
        return redrive_view(outcomes, dry_run=body.dry_run)

    @router.get("/caregivers/{user_id}")
    async def caregiver(user_id: UserId, who: Caller = reader) -> CaregiverView:
        """A caregiver's whole record, assembled from the four services (audited)."""
        identity = await users().get(user_id)
        if identity is None:
            raise HTTPException(404, "no such caregiver")
        await audited(who, "caregiver.read", user_id=user_id)
        record: dict[str, dict[str, Any]] = {"ingress": jsonable(identity)}
        for service in BEHIND_EDGE:
            found = await asked(service, ops.CAREGIVER_GET, GetCaregiver(user_id=user_id))
            record[service] = found.model_dump(mode="json", exclude={"service"})
        return CaregiverView(record)

    @router.post("/caregivers/lookup", responses={400: {"description": "not an E.164 number"}})
    async def lookup(body: CaregiverLookup, who: Caller = reader) -> CaregiverMatch:
        """The caregiver with this phone number, exactly E.164 (``+15551234567``; anything else
        is a 400). A POST, so the number is in no URL or access log; audited with the number's
        keyed hash, found or not."""
        if not is_e164(body.phone):
            raise HTTPException(400, NOT_E164)
        found = await users().by_phone(body.phone)
        digest = phone_hash(body.phone, settings.phone_hash_secret)
        detail: dict[str, Detail] = {"phone_hash": digest, "found": found is not None}
        await audited(who, "caregiver.lookup", user_id=found and found["_id"], detail=detail)
        if found is None:
            raise HTTPException(404, "no caregiver has that number")
        return CaregiverMatch(user_id=found["_id"], status=found.get("status"))

    @router.post("/caregivers/{user_id}/erase")
    async def erase(user_id: UserId, who: Caller = admin) -> ErasureView:
        """Erase a caregiver everywhere; complete only when all four services confirmed.

        Ingress buries the identity first (no replica reuses it, a backfill skips the number, the
        next text from the number gets a new identity); then each service cancels the caregiver's
        jobs, deletes its slice, keeps a tombstone of the user id and deletes the messages about
        them from its own streams; ingress deletes them from its streams and DEAD_LETTERS last,
        with every id the services reported. Asking again finishes an erasure cut short.
        """
        identity = await users().get(user_id)
        if identity is None and not await users().is_erased(user_id):
            raise HTTPException(404, "no such caregiver")
        phone = (identity or {}).get("phone")
        confirmed: dict[str, dict[str, int]] = {
            "ingress": {"users": await users().erase(user_id, phone, audit().clock.now())}
        }
        identifiers: list[str] = [phone] if phone else []
        for service in BEHIND_EDGE:
            request = EraseCaregiver(user_id=user_id, phone=phone)
            reply = await asked(service, ops.CAREGIVER_ERASE, request)
            if not reply.erased:
                raise HTTPException(502, f"{service} did not confirm the erasure")
            confirmed[service] = {**reply.deleted, **{f"stream:{k}": v for k, v in reply.scrubbed.items()}}
            identifiers += reply.identifiers
        scrubbed = await scrub(needles(user_id, *identifiers))
        confirmed["ingress"].update({f"stream:{k}": v for k, v in scrubbed.items()})
        await users().roles.never_bootstrap(user_id, audit().clock.now())  # never an admin again
        await audited(who, "caregiver.erase", user_id=user_id)
        log.warning("admin.erased", user=user_id, by=who.user_id)
        return ErasureView(erased=user_id, complete=True, confirmed=confirmed)

    @router.get("/users/{user_id}/roles")
    async def roles(user_id: UserId, who: Caller = admin) -> UserRoles:
        """The roles the user holds now, a live ``ADMIN_USER_IDS`` bootstrap included."""
        held = await users().roles.roles_of(user_id, gate.bootstrap)
        if held is None:
            raise HTTPException(404, "no such user")
        await audited(who, "roles.read", user_id=user_id)
        return UserRoles(user_id=user_id, roles=sorted(held))

    @router.post("/users/{user_id}/roles")
    async def grant(user_id: UserId, body: RoleGrant, who: Caller = admin) -> RoleGranted:
        if not await users().roles.grant(user_id, body.role):
            raise HTTPException(404, "no such user")
        await audited(who, "role.grant", user_id=user_id, detail={"role": body.role})
        log.warning("admin.role_granted", user=user_id, role=body.role, by=who.user_id)
        return RoleGranted(user_id=user_id, granted=body.role)

    @router.delete("/users/{user_id}/roles/{role}")
    async def revoke(user_id: UserId, role: Annotated[Role, Path()], who: Caller = admin) -> RoleRevoked:
        """Take a role away for good: revoking ``admin`` also ends an ``ADMIN_USER_IDS`` bootstrap."""
        if not await users().roles.revoke(user_id, role, audit().clock.now()):
            raise HTTPException(404, "no such user")
        await audited(who, "role.revoke", user_id=user_id, detail={"role": role})
        log.warning("admin.role_revoked", user=user_id, role=role, by=who.user_id)
        return RoleRevoked(user_id=user_id, revoked=role)

    @router.get("/audit", responses={400: {"description": "before names no entry"}})
    async def audit_entries(
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        before: Annotated[
            str | None, Query(max_length=64, description="the last id of the page before")
        ] = None,
        user_id: Annotated[str | None, Query(max_length=100, description="only about this user")] = None,
        actor: Annotated[str | None, Query(max_length=100, description="only by this staff member")] = None,
        _who: Caller = admin,
    ) -> AuditPage:
        """The audit log, newest first (admin only): every read of a caregiver's data through
        this API, lookups by phone number and role changes. Reading it is not itself audited."""
        try:
            return await audit().page(limit=limit, before=before, user_id=user_id, actor=actor)
        except UnknownCursor as exc:
            raise HTTPException(400, "before names no audit entry") from exc

    @router.get("/metrics")
    async def metrics(
        days: Annotated[int, Query(ge=1, le=90)] = 7,
        who: Caller = reader,
    ) -> MetricsView:
        """The precomputed daily rollups of every service (nothing is counted here)."""
        request = ListRollups(days=days)
        rollups = {s: jsonable((await asked(s, ops.ROLLUPS, request)).rollups) for s in BEHIND_EDGE}
        await audited(who, "metrics.read", detail={"days": days})
        return MetricsView(rollups)

    @router.post("/metrics/refresh")
    async def refresh_metrics(_who: Caller = reader) -> RollupsRefreshed:
        """Recompute today's rollup in every service now instead of at the next hourly run."""
        return RollupsRefreshed(
            refreshed={s: (await asked(s, ops.ROLLUPS_REFRESH, RefreshRollup())).day for s in BEHIND_EDGE}
        )

    @router.get("/crisis-alerts")
    async def crisis_alerts(
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        status: Annotated[AlertStatus | None, Query()] = None,
        who: Caller = reader,
    ) -> AlertList:
        """The most recent crisis alerts, newest first: category, priority, status and pages;
        never the message or the caregiver's number. Audited with the caregivers shown."""
        found = await asked("conversation", ops.CRISIS_ALERTS, ListAlerts(limit=limit, status=status))
        shown = sorted({a.user_id for a in found.alerts})
        await audited(who, "alerts.read", detail={"user_ids": shown, "count": len(found.alerts)})
        return found

    @router.get("/crisis-alerts/{alert_id}")
    async def crisis_alert(alert_id: AlertId, who: Caller = reader) -> AlertView:
        """One crisis alert (the dashboard opens ``#alert=<id>`` with it)."""
        found = await asked("conversation", ops.ALERT_GET, GetAlert(alert_id=alert_id))
        await audited(who, "alert.read", user_id=found.user_id, ref=alert_id)
        return found

    @router.post("/crisis-alerts/{alert_id}/acknowledge")
    async def acknowledge_alert(alert_id: AlertId, who: Caller = reader) -> AlertView:
        """Take the alert: escalation stops. 409 once it is resolved."""
        request = AcknowledgeAlert(alert_id=alert_id, by=who.user_id)
        return await asked("conversation", ops.ALERT_ACKNOWLEDGE, request)

    @router.post("/crisis-alerts/{alert_id}/resolve")
    async def resolve_alert(alert_id: AlertId, body: ResolveBody, who: Caller = reader) -> AlertView:
        """Close the alert with an outcome and a note. 409 if it is resolved already."""
        request = ResolveAlert(alert_id=alert_id, by=who.user_id, outcome=body.outcome, note=body.note)
        return await asked("conversation", ops.ALERT_RESOLVE, request)

    @router.post("/crisis-alerts/{alert_id}/message")
    async def message_caregiver(
        alert_id: AlertId,
        body: StaffMessageBody,
        idempotency_key: Annotated[str | None, Header(pattern=IDEMPOTENCY_KEY)] = None,
        who: Caller = reader,
    ) -> StaffMessageQueued:
        """Text the caregiver the alert is about (up to 480 characters), through the same SMS
        path as every reply. 409 when the caregiver opted out and has not written since, or the
        alert is resolved. Repeating a request with the same ``Idempotency-Key`` sends nothing more."""
        request = SendStaffMessage(
            alert_id=alert_id,
            by=who.user_id,
            text=body.text,
            request_id=idempotency_key or uuid.uuid4().hex,
        )
        return await asked("conversation", ops.ALERT_MESSAGE, request)

    @router.get("/oncall")
    async def oncall(who: Caller = reader) -> Roster:
        """Who is paged about crisis alerts, in escalation order."""
        roster = await asked("conversation", ops.ONCALL_GET, GetRoster())
        await audited(who, "oncall.read")
        return roster

    @router.put("/oncall")
    async def replace_oncall(body: RosterBody, who: Caller = admin) -> Roster:
        """Replace the whole on-call roster (admin only). Each phone number is normalised to
        E.164; a list with an invalid number, a repeated number or a repeated order is refused
        whole (400)."""
        request = ReplaceRoster(by=who.user_id, people=body.people)
        return await asked("conversation", ops.ONCALL_PUT, request)

    assert set(ROLES) == {"admin", "support"}
    return router


def redrive_view(outcomes: list[Outcome], *, dry_run: bool) -> RedriveView:
    """What the admin API shows of a re-drive: each letter's place, consumer, subject, original
    id and outcome; never its payload or reason (they may hold a caregiver's words)."""
    letters = [
        RedrivenLetter(
            seq=o.seq,
            service=o.letter.service,
            subject=o.letter.subject,
            msg_id=o.letter.msg_id,
            dead_at=o.letter.dead_at,
            outcome=o.outcome,
            detail=o.detail,
        )
        for o in outcomes
    ]
    return RedriveView(dry_run=dry_run, letters=letters)
