"""The admin API under ``/admin``: bearer tokens, roles from ``users``, every service asked over NATS.

Roles: ``support`` may read (jobs, a caregiver's record, metrics, crisis alerts and the on-call
roster), retry jobs, and acknowledge, resolve and answer crisis alerts; ``admin`` may also
grant and revoke roles, erase a caregiver and replace the on-call roster. ``ADMIN_USER_IDS`` is
only a bootstrap: those users count as admins until roles are granted in ``users``. What staff
do to an alert carries their user id (from the token) to conversation, which audits it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request
from faststream.nats import NatsBroker
from pydantic import BaseModel

from careline_contracts import admin as ops
from careline_contracts.admin import (
    AcknowledgeAlert,
    AdminReply,
    AdminRequest,
    AlertList,
    AlertStatus,
    AlertView,
    EraseCaregiver,
    GetAlert,
    GetCaregiver,
    GetRoster,
    JobStatusName,
    ListAlerts,
    ListJobs,
    ListRollups,
    Operation,
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
    CaregiverView,
    ErasureView,
    JobRetriedView,
    JobsByService,
    MetricsView,
    Role,
    RoleGrant,
    RoleGranted,
    RoleRevoked,
    RollupsRefreshed,
    UserRoles,
)
from careline_ingress.repository import Users
from careline_platform.admin_client import NoAnswer, RequestRejected, ServiceFailed, ask
from careline_platform.admin_operations import Scrub, jsonable
from careline_platform.admin_tokens import ROLES, InvalidToken, user_of
from careline_platform.erasure import needles
from careline_platform.logging import get_logger
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


class Caller(BaseModel):
    user_id: str
    roles: frozenset[str]


def admin_router(
    settings: Settings, users: Callable[[], Users], nats: Callable[[], NatsBroker], scrub: Scrub
) -> APIRouter:
    """The ``/admin`` routes; ``nats`` returns the connected FastStream ``NatsBroker``; ``scrub``
    deletes an erased caregiver's messages from ingress's streams."""
    router = APIRouter(prefix="/admin", tags=["admin"])
    bootstrap = {u.strip() for u in settings.admin_user_ids.split(",") if u.strip()}

    async def caller(request: Request) -> Caller:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if settings.admin_jwt_secret is None or scheme.lower() != "bearer" or not token:
            raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        try:
            user_id = user_of(
                settings.admin_jwt_secret.get_secret_value(),
                token.strip(),
                timedelta(hours=settings.admin_token_max_hours),
            )
        except InvalidToken as exc:
            raise HTTPException(
                401, "the token is not valid", headers={"WWW-Authenticate": "Bearer"}
            ) from exc
        doc = await users().get(user_id)
        roles = set((doc or {}).get("roles") or [])
        if not roles and user_id in bootstrap:
            roles = {"admin"}
        return Caller(user_id=user_id, roles=frozenset(roles))

    def needs(*allowed: str) -> Callable[[Request], Awaitable[Caller]]:
        async def check(request: Request) -> Caller:
            who = await caller(request)
            if not who.roles & set(allowed):
                raise HTTPException(403, f"requires role {' or '.join(allowed)}")
            return who

        return check

    reader = Depends(needs("admin", "support"))
    admin = Depends(needs("admin"))

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
        _who: Caller = reader,
    ) -> JobsByService:
        """Failed and dead jobs (or the statuses asked for) of every service, ingress's included."""
        request = ListJobs(statuses=status or ["failed", "dead"], limit=limit)
        return JobsByService(jobs={s: (await asked(s, ops.JOBS_LIST, request)).jobs for s in SERVICE_NAMES})

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

    @router.get("/caregivers/{user_id}")
    async def caregiver(user_id: UserId, _who: Caller = reader) -> CaregiverView:
        """A caregiver's whole record, assembled from the four services."""
        identity = await users().get(user_id)
        if identity is None:
            raise HTTPException(404, "no such caregiver")
        record: dict[str, dict[str, Any]] = {"ingress": jsonable(identity)}
        for service in BEHIND_EDGE:
            found = await asked(service, ops.CAREGIVER_GET, GetCaregiver(user_id=user_id))
            record[service] = found.model_dump(mode="json", exclude={"service"})
        return CaregiverView(record)

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
            "ingress": {"users": await users().erase(user_id, phone, datetime.now(UTC))}
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
        log.warning("admin.erased", user=user_id, by=who.user_id)
        return ErasureView(erased=user_id, complete=True, confirmed=confirmed)

    @router.get("/users/{user_id}/roles")
    async def roles(user_id: UserId, _who: Caller = admin) -> UserRoles:
        doc = await users().get(user_id)
        if doc is None:
            raise HTTPException(404, "no such user")
        return UserRoles(user_id=user_id, roles=sorted(doc.get("roles") or []))

    @router.post("/users/{user_id}/roles")
    async def grant(user_id: UserId, body: RoleGrant, who: Caller = admin) -> RoleGranted:
        if not await users().grant(user_id, body.role):
            raise HTTPException(404, "no such user")
        log.warning("admin.role_granted", user=user_id, role=body.role, by=who.user_id)
        return RoleGranted(user_id=user_id, granted=body.role)

    @router.delete("/users/{user_id}/roles/{role}")
    async def revoke(user_id: UserId, role: Annotated[Role, Path()], who: Caller = admin) -> RoleRevoked:
        if not await users().revoke(user_id, role):
            raise HTTPException(404, "no such user")
        log.warning("admin.role_revoked", user=user_id, role=role, by=who.user_id)
        return RoleRevoked(user_id=user_id, revoked=role)

    @router.get("/metrics")
    async def metrics(
        days: Annotated[int, Query(ge=1, le=90)] = 7,
        _who: Caller = reader,
    ) -> MetricsView:
        """The precomputed daily rollups of every service (nothing is counted here)."""
        request = ListRollups(days=days)
        return MetricsView({s: jsonable((await asked(s, ops.ROLLUPS, request)).rollups) for s in BEHIND_EDGE})

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
        _who: Caller = reader,
    ) -> AlertList:
        """The most recent crisis alerts, newest first: category, priority, status and pages;
        never the message or the caregiver's number."""
        return await asked("conversation", ops.CRISIS_ALERTS, ListAlerts(limit=limit, status=status))

    @router.get("/crisis-alerts/{alert_id}")
    async def crisis_alert(alert_id: AlertId, _who: Caller = reader) -> AlertView:
        """One crisis alert (the dashboard opens ``#alert=<id>`` with it)."""
        return await asked("conversation", ops.ALERT_GET, GetAlert(alert_id=alert_id))

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
    async def oncall(_who: Caller = reader) -> Roster:
        """Who is paged about crisis alerts, in escalation order."""
        return await asked("conversation", ops.ONCALL_GET, GetRoster())

    @router.put("/oncall")
    async def replace_oncall(body: RosterBody, who: Caller = admin) -> Roster:
        """Replace the whole on-call roster (admin only). Each phone number is normalised to
        E.164; a list with an invalid number, a repeated number or a repeated order is refused
        whole (400)."""
        request = ReplaceRoster(by=who.user_id, people=body.people)
        return await asked("conversation", ops.ONCALL_PUT, request)

    assert set(ROLES) == {"admin", "support"}
    return router
