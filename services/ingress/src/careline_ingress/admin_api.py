"""The admin API under ``/admin``: bearer tokens, roles from ``users``, every service asked over NATS.

Roles: ``support`` may read (jobs, a caregiver's record, metrics, crisis alerts and the on-call
roster), retry jobs, and acknowledge, resolve and answer crisis alerts; ``admin`` may also
grant and revoke roles, erase a caregiver and replace the on-call roster. ``ADMIN_USER_IDS`` is
only a bootstrap: those users count as admins until roles are granted in ``users``. What staff
do to an alert carries their user id (from the token) to conversation, which audits it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from pydantic import BaseModel, ConfigDict

from careline_contracts import admin as ops
from careline_contracts.admin import (
    AcknowledgeAlert,
    AdminReply,
    AdminRequest,
    AlertList,
    AlertStatus,
    AlertView,
    CaregiverErased,
    CaregiverRecord,
    EraseCaregiver,
    GetAlert,
    GetCaregiver,
    GetRoster,
    JobList,
    JobRetried,
    ListAlerts,
    ListJobs,
    ListRollups,
    RefreshRollup,
    ReplaceRoster,
    ResolveAlert,
    ResolveBody,
    RetryJob,
    RollupList,
    RollupRefreshed,
    Roster,
    RosterBody,
    SendStaffMessage,
    StaffMessageBody,
    StaffMessageQueued,
)
from careline_ingress.identity import Users
from careline_platform.admin import admin_subject, job_summary
from careline_platform.admin_tokens import ROLES, InvalidToken, user_of
from careline_platform.logging import get_logger
from careline_platform.settings import Settings

log = get_logger(__name__)
SERVICES = ("ingress", "conversation", "billing", "profile")
REMOTE = ("conversation", "billing", "profile")
ASK_TIMEOUT_S = 5.0
Role = Literal["admin", "support"]
JobStatusName = Literal["failed", "dead", "pending", "processing"]
Reply = TypeVar("Reply", bound=AdminReply)
REJECTED_STATUS = {"invalid": 400, "not_found": 404, "conflict": 409}
AlertId = Annotated[str, Path(min_length=1, max_length=200)]
IDEMPOTENCY_KEY = r"^[A-Za-z0-9_.:-]{1,100}$"


class RoleGrant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role


class Caller(BaseModel):
    user_id: str
    roles: frozenset[str]


def admin_router(settings: Settings, users: Callable[[], Users], nats: Callable[[], Any]) -> APIRouter:
    """The ``/admin`` routes; ``nats`` returns the connected FastStream ``NatsBroker``."""
    router = APIRouter(prefix="/admin", tags=["admin"])
    bootstrap = {u.strip() for u in settings.admin_user_ids.split(",") if u.strip()}

    async def caller(request: Request) -> Caller:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if settings.admin_jwt_secret is None or scheme.lower() != "bearer" or not token:
            raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        try:
            user_id = user_of(settings.admin_jwt_secret.get_secret_value(), token.strip())
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

    async def ask(service: str, operation: str, request: AdminRequest, reply: type[Reply]) -> Reply:
        """Send a typed request to ``admin.<service>.<operation>`` and read the typed reply."""
        try:
            msg = await nats().request(request, admin_subject(service, operation), timeout=ASK_TIMEOUT_S)
        except (TimeoutError, NatsTimeout, NoRespondersError) as exc:
            raise HTTPException(504, f"{service} did not answer") from exc
        answer = await msg.decode()
        if not isinstance(answer, dict):
            raise HTTPException(502, f"{service}: not a reply")
        if "error" in answer:
            raise HTTPException(502, f"{service}: {answer['error']}")
        if "rejected" in answer:  # understood and refused: bad input, nothing there, wrong state
            raise HTTPException(REJECTED_STATUS.get(answer["rejected"], 400), str(answer.get("reason", "")))
        return reply.model_validate(answer)

    def shown(reply: AdminReply) -> dict[str, Any]:
        """A reply as the HTTP API shows it: JSON values, without the answering service's name."""
        data: dict[str, Any] = reply.model_dump(mode="json")
        data.pop("service", None)
        return data

    @router.get("/jobs")
    async def list_jobs(
        status: Annotated[list[JobStatusName] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        _who: Caller = reader,
    ) -> dict[str, Any]:
        """Failed and dead jobs (or the statuses asked for) of every service."""
        status = status or ["failed", "dead"]
        jobs: dict[str, Any] = {}
        for service in REMOTE:
            found = await ask(service, ops.JOBS_LIST, ListJobs(statuses=status, limit=limit), JobList)
            jobs[service] = shown(found)["jobs"]
        own: list[dict[str, Any]] = []
        for s in status:
            own += await users().db.jobs.find({"status": s}).limit(limit).to_list()
        jobs["ingress"] = [json.loads(json.dumps(job_summary(d), default=str)) for d in own]
        return {"jobs": jobs}

    @router.post("/jobs/{service}/{key:path}/retry")
    async def retry_job(
        service: Annotated[Literal["conversation", "billing", "profile"], Path()],
        key: Annotated[str, Path(min_length=1, max_length=300)],
        _who: Caller = reader,
    ) -> dict[str, Any]:
        """Put a failed or dead job back in its service's queue."""
        reply = await ask(service, ops.JOBS_RETRY, RetryJob(key=key), JobRetried)
        if not reply.retried:
            raise HTTPException(404, "no failed or dead job with that key")
        return {"retried": key, "service": service}

    @router.get("/caregivers/{user_id}")
    async def caregiver(
        user_id: Annotated[str, Path(min_length=1, max_length=100)],
        _who: Caller = reader,
    ) -> dict[str, Any]:
        """A caregiver's whole record, assembled from the four services."""
        identity = await users().get(user_id)
        if identity is None:
            raise HTTPException(404, "no such caregiver")
        record: dict[str, Any] = {"ingress": json.loads(json.dumps(identity, default=str))}
        for service in REMOTE:
            record[service] = shown(
                await ask(service, ops.CAREGIVER_GET, GetCaregiver(user_id=user_id), CaregiverRecord)
            )
        return record

    @router.post("/caregivers/{user_id}/erase")
    async def erase(
        user_id: Annotated[str, Path(min_length=1, max_length=100)],
        who: Caller = admin,
    ) -> dict[str, Any]:
        """Every service deletes its slice; complete only when all four confirmed."""
        if await users().get(user_id) is None:
            raise HTTPException(404, "no such caregiver")
        confirmed: dict[str, Any] = {}
        for service in REMOTE:
            reply = await ask(service, ops.CAREGIVER_ERASE, EraseCaregiver(user_id=user_id), CaregiverErased)
            if not reply.erased:
                raise HTTPException(502, f"{service} did not confirm the erasure")
            confirmed[service] = reply.deleted
        confirmed["ingress"] = {"users": await users().erase(user_id)}
        log.warning("admin.erased", user=user_id, by=who.user_id)
        return {"erased": user_id, "complete": True, "confirmed": confirmed}

    @router.get("/users/{user_id}/roles")
    async def roles(
        user_id: Annotated[str, Path(min_length=1, max_length=100)],
        _who: Caller = admin,
    ) -> dict[str, Any]:
        doc = await users().get(user_id)
        if doc is None:
            raise HTTPException(404, "no such user")
        return {"user_id": user_id, "roles": sorted(doc.get("roles") or [])}

    @router.post("/users/{user_id}/roles")
    async def grant(
        user_id: Annotated[str, Path(min_length=1, max_length=100)],
        body: RoleGrant,
        who: Caller = admin,
    ) -> dict[str, Any]:
        if not await users().grant(user_id, body.role):
            raise HTTPException(404, "no such user")
        log.warning("admin.role_granted", user=user_id, role=body.role, by=who.user_id)
        return {"user_id": user_id, "granted": body.role}

    @router.delete("/users/{user_id}/roles/{role}")
    async def revoke(
        user_id: Annotated[str, Path(min_length=1, max_length=100)],
        role: Annotated[Role, Path()],
        who: Caller = admin,
    ) -> dict[str, Any]:
        if not await users().revoke(user_id, role):
            raise HTTPException(404, "no such user")
        log.warning("admin.role_revoked", user=user_id, role=role, by=who.user_id)
        return {"user_id": user_id, "revoked": role}

    @router.get("/metrics")
    async def metrics(
        days: Annotated[int, Query(ge=1, le=90)] = 7,
        _who: Caller = reader,
    ) -> dict[str, Any]:
        """The precomputed daily rollups of every service (nothing is counted here)."""
        return {
            s: shown(await ask(s, ops.ROLLUPS, ListRollups(days=days), RollupList))["rollups"] for s in REMOTE
        }

    @router.post("/metrics/refresh")
    async def refresh_metrics(_who: Caller = reader) -> dict[str, Any]:
        """Recompute today's rollup in every service now instead of at the next hourly run."""
        refreshed = {s: await ask(s, ops.ROLLUPS_REFRESH, RefreshRollup(), RollupRefreshed) for s in REMOTE}
        return {"refreshed": {s: shown(r)["day"] for s, r in refreshed.items()}}

    @router.get("/crisis-alerts")
    async def crisis_alerts(
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        status: Annotated[AlertStatus | None, Query()] = None,
        _who: Caller = reader,
    ) -> AlertList:
        """The most recent crisis alerts, newest first: category, priority, status and pages;
        never the message or the caregiver's number."""
        return await ask("conversation", ops.CRISIS_ALERTS, ListAlerts(limit=limit, status=status), AlertList)

    @router.get("/crisis-alerts/{alert_id}")
    async def crisis_alert(alert_id: AlertId, _who: Caller = reader) -> AlertView:
        """One crisis alert (the dashboard opens ``#alert=<id>`` with it)."""
        return await ask("conversation", ops.ALERT_GET, GetAlert(alert_id=alert_id), AlertView)

    @router.post("/crisis-alerts/{alert_id}/acknowledge")
    async def acknowledge_alert(alert_id: AlertId, who: Caller = reader) -> AlertView:
        """Take the alert: escalation stops. 409 once it is resolved."""
        request = AcknowledgeAlert(alert_id=alert_id, by=who.user_id)
        return await ask("conversation", ops.ALERT_ACKNOWLEDGE, request, AlertView)

    @router.post("/crisis-alerts/{alert_id}/resolve")
    async def resolve_alert(alert_id: AlertId, body: ResolveBody, who: Caller = reader) -> AlertView:
        """Close the alert with an outcome and a note. 409 if it is resolved already."""
        request = ResolveAlert(alert_id=alert_id, by=who.user_id, outcome=body.outcome, note=body.note)
        return await ask("conversation", ops.ALERT_RESOLVE, request, AlertView)

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
        return await ask("conversation", ops.ALERT_MESSAGE, request, StaffMessageQueued)

    @router.get("/oncall")
    async def oncall(_who: Caller = reader) -> Roster:
        """Who is paged about crisis alerts, in escalation order."""
        return await ask("conversation", ops.ONCALL_GET, GetRoster(), Roster)

    @router.put("/oncall")
    async def replace_oncall(body: RosterBody, who: Caller = admin) -> Roster:
        """Replace the whole on-call roster (admin only). Each phone number is normalised to
        E.164; a list with an invalid number, a repeated number or a repeated order is refused
        whole (400)."""
        request = ReplaceRoster(by=who.user_id, people=body.people)
        return await ask("conversation", ops.ONCALL_PUT, request, Roster)

    assert set(ROLES) == {"admin", "support"}
    return router
