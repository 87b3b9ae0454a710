"""Liveness, readiness and metrics of the ingress process.

``/healthz`` answers while the process runs. ``/readyz`` answers 200 only while a webhook
can be made durable (JetStream and MongoDB answer, or the local spool can write), so a load
balancer stops sending traffic to a replica that would answer 503; its body reports NATS,
MongoDB and the spool (writable, depth). ``/metrics`` is Prometheus's text format
(in development ingress serves it on its HTTP port; in production, and always for the other
services, it is on a port of its own, which the public edge does not expose).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pymongo.errors import PyMongoError

Probe = Callable[[], Awaitable[bool]]


class SpoolState(Protocol):
    """What readiness asks of the spool (``careline_ingress.spool.Spool``)."""

    depth: int

    async def writable(self) -> bool: ...


@dataclass(frozen=True)
class SpoolReport:
    writable: bool
    depth: int


@dataclass(frozen=True)
class Readiness:
    """The probes behind ``/readyz``, by name (each True when its dependency answers), and the spool."""

    probes: dict[str, Probe]
    spool: SpoolState | None = None

    async def check(self) -> dict[str, bool]:
        return {name: await probe() for name, probe in self.probes.items()}

    async def report(self) -> tuple[dict[str, Any], int]:
        spool = None if self.spool is None else SpoolReport(await self.spool.writable(), self.spool.depth)
        return readiness_report(await self.check(), spool)


def readiness_report(checks: dict[str, bool], spool: SpoolReport | None = None) -> tuple[dict[str, Any], int]:
    """The body and status of ``/readyz``: ready when every check passed, or the spool can write
    (then a webhook is durable without them: spooled, drained when they are back)."""
    ready = all(checks.values()) or (spool is not None and spool.writable)
    body: dict[str, Any] = {"ready": ready, **checks}
    if spool is not None:
        body["spool"] = {"writable": spool.writable, "depth": spool.depth}
    return body, 200 if ready else 503


def mongo_probe(ping: Callable[[], Awaitable[object]]) -> Probe:
    """A probe that is True when ``ping`` (MongoDB's ``ping`` command) answers."""

    async def probe() -> bool:
        try:
            await ping()
        except PyMongoError:
            return False
        return True

    return probe


def health_router(readiness: Callable[[], Readiness], *, metrics: bool = True) -> APIRouter:
    """``/healthz``, ``/readyz`` and (with ``metrics``) ``/metrics``; ``readiness`` is looked up
    per request."""
    router = APIRouter()

    if metrics:

        @router.get("/metrics", include_in_schema=False)
        async def prometheus_metrics() -> Response:
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> Response:
        body, status = await readiness().report()
        return JSONResponse(body, status_code=status)

    return router
