"""The admin API under ``/admin``: bearer tokens, roles from ``users``, every service asked over NATS.

Roles: ``support`` may read (jobs, a caregiver's record, metrics) and retry jobs; ``admin``
may also grant and revoke roles and erase a caregiver. ``ADMIN_USER_IDS`` is only a
bootstrap: those users count as admins until roles are granted in ``users``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from pydantic import BaseModel, ConfigDict

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


class RoleGrant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role


class Caller(BaseModel):
    user_id: str
    roles: frozenset[str]


def admin_router(settings: Settings, users: Callable[[], Users], nats: Callable[[], Any]) -> APIRouter:
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

    async def ask(service: str, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            msg = await nats().request(
                admin_subject(service, operation), json.dumps(payload).encode(), timeout=ASK_TIMEOUT_S
            )
        except (TimeoutError, NatsTimeout, NoRespondersError) as exc:
            raise HTTPException(504, f"{service} did not answer") from exc
        reply: dict[str, Any] = json.loads(msg.data)
        if "error" in reply:
            raise HTTPException(502, f"{service}: {reply['error']}")
        return reply

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
            jobs[service] = (await ask(service, "jobs_list", {"statuses": status, "limit": limit}))["jobs"]
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
        reply = await ask(service, "jobs_retry", {"key": key})
        if not reply["retried"]:
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
            record[service] = await ask(service, "caregiver_get", {"user_id": user_id})
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
            reply = await ask(service, "caregiver_erase", {"user_id": user_id})
            if not reply.get("erased"):
                raise HTTPException(502, f"{service} did not confirm the erasure")
            confirmed[service] = reply["deleted"]
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
        return {s: (await ask(s, "rollups", {"days": days}))["rollups"] for s in REMOTE}

    @router.post("/metrics/refresh")
    async def refresh_metrics(_who: Caller = reader) -> dict[str, Any]:
        """Recompute today's rollup in every service now instead of at the next hourly run."""
        return {"refreshed": {s: (await ask(s, "rollups_refresh", {}))["day"] for s in REMOTE}}

    @router.get("/crisis-alerts")
    async def crisis_alerts(
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        _who: Caller = reader,
    ) -> dict[str, Any]:
        """The most recent crisis alerts (category and time; never the message)."""
        return {"alerts": (await ask("conversation", "crisis_alerts", {"limit": limit}))["alerts"]}

    assert set(ROLES) == {"admin", "support"}
    return router
