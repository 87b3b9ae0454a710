"""Composition root of the ingress service: its HTTP edge in front of the shared runtime.

``create_service`` builds the clients (MongoDB, NATS), describes ingress to the shared runtime
(the streams it owns, the backfill consumer, its indexes) and puts the HTTP app in front of it.
Unlike the other services, ingress listens first: the runtime opens the spool, starts the HTTP
server, and only then connects (waiting as long as NATS and MongoDB take) and starts the rest,
so a replica started during an outage spools what Twilio sends instead of refusing it. On
SIGTERM it stops the HTTP server first (requests in flight are answered), then drains and
disconnects. ``create_app`` builds
the ASGI app alone, with nothing connected, for the API document and the route tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient

from careline_contracts import subjects
from careline_contracts.migration import LegacyUsersSubmitted
from careline_ingress import backfill
from careline_ingress.admin_api import admin_router
from careline_ingress.asgi import BodyLimit, DirectRoutes
from careline_ingress.audit_log import AuditLog
from careline_ingress.dashboard import dashboard_router
from careline_ingress.dev import dev_router
from careline_ingress.domain.webhooks import MAX_BODY_BYTES, HeldSms
from careline_ingress.durable import Drainer, SpoolingPublisher
from careline_ingress.handlers import Background, on_held_sms
from careline_ingress.health import Readiness, health_router, mongo_probe
from careline_ingress.integrations.signatures import Signatures, stripe_secrets
from careline_ingress.repository import Users
from careline_ingress.routes import Edge, webhook_endpoints
from careline_ingress.simulator import simulator_router
from careline_ingress.spool import Spool
from careline_platform.admin_operations import Scrub, no_streams
from careline_platform.clock import Clock
from careline_platform.erasure import DEAD_LETTERS_SCRUBBER, scrub_streams
from careline_platform.logging import get_logger
from careline_platform.messaging import ConsumerSpec, Delivery
from careline_platform.runtime import Infrastructure, ServiceDefinition, build_infrastructure
from careline_platform.settings import Settings
from careline_platform.web import WebServer, WebServiceRuntime

log = get_logger(__name__)
NAME = "ingress"
OWNED_STREAMS = (subjects.SMS, subjects.STRIPE, subjects.USERS, subjects.MIGRATION)
SCRUBBED_STREAMS = (*(s.name for s in OWNED_STREAMS), subjects.DEAD_LETTERS.name)
assert DEAD_LETTERS_SCRUBBER == NAME
"""Where ingress deletes an erased caregiver's messages: its own streams, and the dead letters
(``careline_platform.erasure.DEAD_LETTERS_SCRUBBER``)."""


class NotConnected(RuntimeError):
    """A route that needs the connections ran in an app built without them (a short 500)."""


@dataclass(frozen=True)
class Connected:
    """Everything the routes use once ingress is connected."""

    edge: Edge
    users: Users
    audit: AuditLog
    readiness: Readiness
    nats: Callable[[], NatsClient]
    broker: Callable[[], NatsBroker]
    """The FastStream broker: typed admin requests go through its ``request``."""
    scrub: Scrub = no_streams
    """Deletes the messages naming an erased caregiver from ingress's streams and DEAD_LETTERS."""


async def create_service(settings: Settings, clock: Clock | None = None) -> WebServiceRuntime:
    infra = build_infrastructure(settings, NAME, clock)  # connected by the runtime, after the edge
    users = Users(infra.db, settings.phone_hash_secret)
    audit = AuditLog(infra.db, infra.clock)
    background = Background()
    spool = Spool(Path(settings.ingress_spool_dir), settings.ingress_spool_max_mb * 1024 * 1024)

    async def replay_sms(held: HeldSms) -> None:
        await on_held_sms(held, users=users, publisher=infra.publisher, background=background)

    drainer = Drainer(spool, infra.publisher, replay_sms, infra.broker_connected)
    publisher = SpoolingPublisher(infra.publisher, spool, infra.broker_connected, drainer.wake)

    async def bootstrap_admins() -> None:  # once per id, ever: a revoke sticks
        await users.roles.apply_bootstrap(settings.bootstrap_admin_ids, infra.clock.now())

    async def open_spool() -> None:
        left = await spool.open()
        log.info("spool.opened", path=str(spool.path), depth=left)
        drainer.start()  # what an earlier run left goes out first

    async def finish_background() -> None:
        await background.finish(settings.shutdown_grace_s)
        await drainer.stop()  # what is left stays on disk for the next start
        await spool.close()

    definition = ServiceDefinition(
        name=NAME,
        owned_streams=OWNED_STREAMS,
        consumers=[backfill_consumer(infra, users)],
        on_start=[users.ensure_indexes, audit.ensure_indexes, bootstrap_admins],
        # Listening before NATS and MongoDB answer: a replica started during their outage spools
        # what it is sent (Twilio does not retry a refused text) and drains it once they are back.
        edge_first=True,
        before_edge=[open_spool],
        on_stop=[finish_background],  # after the HTTP server answered its last request
    )
    connected = Connected(
        edge=Edge(users, publisher, infra.clock, background, settings.ingress_identity_timeout_s),
        users=users,
        audit=audit,
        readiness=Readiness(
            {
                "nats": lambda: _is_connected(infra),  # False until the first connection
                "mongodb": mongo_probe(lambda: infra.client.admin.command("ping")),
            },
            spool,
        ),
        nats=lambda: infra.broker.connection,
        broker=lambda: infra.broker,
        scrub=lambda marks: scrub_streams(infra.js, SCRUBBED_STREAMS, marks),
    )
    web = WebServer(
        create_app(settings, connected),
        settings.ingress_host,
        settings.ingress_port,
        settings.shutdown_grace_s,
    )
    return WebServiceRuntime(infra, definition, web)


async def _is_connected(infra: Infrastructure) -> bool:  # the probe's form of broker_connected
    return infra.broker_connected()


def backfill_consumer(infra: Infrastructure, users: Users) -> ConsumerSpec:
    """Legacy batches from ``careline migrate backfill`` (one durable, not partitioned: a batch
    spans caregivers)."""

    async def handle(event: Any, delivery: Delivery) -> None:
        await backfill.on_legacy_users_submitted(
            event, delivery, users=users, publisher=infra.publisher, clock=infra.clock
        )

    return ConsumerSpec(
        NAME,
        subjects.MIGRATION,
        subjects.MIGRATION_USERS_SUBMITTED,
        backfill.DURABLE,
        LegacyUsersSubmitted,
        handle,
        partitioned=False,
        ack_wait_s=30.0,
    )


def create_app(settings: Settings, connected: Connected | None = None) -> FastAPI:
    """The ingress ASGI app; without ``connected``, routes that need NATS or MongoDB answer 500."""

    def need() -> Connected:
        if connected is None:
            raise NotConnected("ingress is not connected")
        return connected

    # No OpenTelemetry here (metrics are Prometheus): FastAPI's native telemetry would look up
    # the global providers, reading os.environ, on every request (8% of a webhook's CPU).
    no_telemetry: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
    # production publishes no API description (/docs, /openapi.json): nothing to map the edge by
    hidden: dict[str, Any] = {"docs_url": None, "redoc_url": None, "openapi_url": None}
    app = FastAPI(title="Careline ingress", telemetry=no_telemetry, **(hidden if settings.production else {}))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        """Never a stack trace in a response: a short JSON error, the details only in the log."""
        log.error("http.unexpected", path=request.url.path, error=type(exc).__name__)
        return JSONResponse({"error": "internal error"}, status_code=500)

    webhooks = webhook_endpoints(Signatures(settings), lambda: need().edge)
    for path, endpoint in webhooks.items():  # declared for the OpenAPI document
        app.post(path)(endpoint)
    app.add_middleware(DirectRoutes, endpoints=webhooks)  # answered here, ahead of the router
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)  # added last, so outside: every route
    app.include_router(
        admin_router(
            settings,
            users=lambda: need().users,
            audit=lambda: need().audit,
            nats=lambda: need().broker(),
            scrub=lambda marks: need().scrub(marks),
        )
    )
    app.include_router(dashboard_router())
    if settings.stripe_sandbox:  # development with no Stripe credential at all
        app.include_router(dev_router(settings, stripe_secrets(settings)[0]))
    if settings.twilio_sandbox:  # development with no Twilio credential: replies never leave
        app.include_router(simulator_router(settings, nats=lambda: need().nats()))
    # production: /metrics only on METRICS_PORT (runtime.py), never on the public edge
    app.include_router(health_router(lambda: need().readiness, metrics=not settings.production))
    return app
