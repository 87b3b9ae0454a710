"""The ingress HTTP edge: verify, make durable, answer fast.

A webhook is answered 200 only after JetStream acknowledged the message it became; when the
broker (or the identity database) does not answer, the reply is 503 so the provider retries.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pymongo.errors import PyMongoError

from careline_contracts import subjects
from careline_contracts.ingress import (
    SmsReceived,
    SmsStatusUpdated,
    StripeEventReceived,
    UserRegistered,
)
from careline_ingress import backfill
from careline_ingress.admin_api import admin_router
from careline_ingress.asgi import BodyLimit, DirectRoutes, Endpoint
from careline_ingress.dashboard import dashboard_router
from careline_ingress.dev import dev_router
from careline_ingress.identity import Users
from careline_ingress.simulator import simulator_router
from careline_platform.clock import Clock
from careline_platform.logging import get_logger
from careline_platform.messaging import PublishFailed, declare_streams, stop_consuming
from careline_platform.metrics import WEBHOOK_SECONDS
from careline_platform.phone import InvalidPhoneNumber, to_e164
from careline_platform.runtime import Infrastructure, connect_infrastructure, retry_until_ready
from careline_platform.settings import Settings
from careline_platform.tasks import finish_or_cancel
from careline_platform.webhooks import SignatureError, verify_stripe, verify_twilio

log = get_logger(__name__)
NAME = "ingress"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
SANDBOX_STRIPE_SECRET = "whsec_careline_sandbox"
MAX_BODY_BYTES = 64 * 1024
TWILIO_SMS_PATH = "/webhooks/twilio/sms"
TWILIO_STATUS_PATH = "/webhooks/twilio/status"
STRIPE_PATH = "/webhooks/stripe"
WEBHOOK_PATHS = frozenset({TWILIO_SMS_PATH, TWILIO_STATUS_PATH, STRIPE_PATH})


class BadRequest(Exception):
    """A signed request we cannot use; answered 400 with this message."""


def twiml() -> Response:
    return Response(EMPTY_TWIML, media_type="text/xml")


def stripe_secrets(settings: Settings) -> list[str]:
    """Comma-separated secrets allow rotating ours; the sandbox secret when none is set."""
    if settings.stripe_webhook_secret is None:
        return [SANDBOX_STRIPE_SECRET]
    return [s.strip() for s in settings.stripe_webhook_secret.get_secret_value().split(",") if s]


class UnsupportedMedia(Exception):
    """The body is not of the media type the route takes."""


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


class Ingress:
    """The webhook logic, over the process's connections."""

    def __init__(self, infra: Infrastructure, users: Users) -> None:
        self.infra = infra
        self.users = users
        self.background: set[asyncio.Task[None]] = set()

    def signed_url(self, request: Request) -> str:
        """What Twilio signed: the public base URL, the path and the query string."""
        base = self.infra.settings.public_base_url.rstrip("/")
        path: str = request.scope["path"]
        if path in WEBHOOK_PATHS and not request.scope.get("query_string"):
            return base + path  # what request.url.path is then, without building a URL
        url = base + request.url.path
        return f"{url}?{request.url.query}" if request.url.query else url

    async def twilio_params(self, request: Request) -> list[tuple[str, str]]:
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            raise BadRequest("body too large")
        try:
            params = parse_qsl(raw.decode(), keep_blank_values=True, strict_parsing=bool(raw))
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadRequest("body is not a form") from exc
        verify_twilio(
            self.infra.settings.twilio_signing_token,
            request.headers.get("x-twilio-signature"),
            self.signed_url(request),
            params,
        )
        return params

    async def accept_sms(self, params: dict[str, str], correlation_id: str) -> None:
        sid, sender = params.get("MessageSid") or params.get("SmsSid"), params.get("From")
        if not sid or not sender:
            raise BadRequest("MessageSid and From are required")
        try:
            phone = to_e164(sender)
        except InvalidPhoneNumber as exc:
            raise BadRequest("From is not a phone number") from exc
        now = self.infra.clock.now()
        user, _created = await self.users.find_or_create(phone, now)
        event = SmsReceived(
            occurred_at=now,
            correlation_id=correlation_id,
            message_sid=sid,
            user_id=user["_id"],
            phone=phone,
            to=params.get("To", ""),
            body=params.get("Body", "")[:1600],
        )

        async def publish_message() -> None:
            await self.infra.publisher.publish(
                event, msg_id=f"twilio:{sid}", key=user["_id"], stream=subjects.SMS
            )

        if user.get("registered_published"):
            await publish_message()
            return
        await self.infra.publisher.publish(
            UserRegistered(occurred_at=now, correlation_id=correlation_id, user_id=user["_id"], phone=phone),
            msg_id=f"user.registered:{user['_id']}",
            key=user["_id"],
            stream=subjects.USERS,
        )
        self._note_registered(user["_id"])
        await publish_message()

    def _note_registered(self, user_id: str) -> None:
        """Remember that ``user.registered`` went out, off the webhook's path.

        A new caregiver's first text already waits for two database round trips and two
        publishes. Should this write be lost, the caller's next message publishes the event
        again, and JetStream and every consumer de-duplicate it.
        """
        task = asyncio.create_task(self.users.mark_registered_published(user_id))
        self.background.add(task)
        task.add_done_callback(self._noted)

    def _noted(self, task: asyncio.Task[None]) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("user.registered_note_failed", error=type(task.exception()).__name__)

    async def accept_status(self, params: dict[str, str], correlation_id: str) -> None:
        sid, status = params.get("MessageSid"), params.get("MessageStatus")
        if not sid or not status:
            raise BadRequest("MessageSid and MessageStatus are required")
        event = SmsStatusUpdated(
            occurred_at=self.infra.clock.now(),
            correlation_id=correlation_id,
            message_sid=sid,
            status=status.lower(),
            error_code=params.get("ErrorCode") or None,
        )
        await self.infra.publisher.publish(
            event, msg_id=f"twilio-status:{sid}:{event.status}", key=sid, stream=subjects.SMS
        )

    async def accept_stripe(self, request: Request, correlation_id: str) -> None:
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            raise BadRequest("body too large")
        verify_stripe(stripe_secrets(self.infra.settings), request.headers.get("stripe-signature"), raw)
        try:
            payload: Any = json.loads(raw)
            obj = payload["data"]["object"]
            event = StripeEventReceived(
                occurred_at=self.infra.clock.now(),
                correlation_id=correlation_id,
                event_id=payload["id"],
                type=payload["type"],
                created=payload["created"],
                data=payload["data"],
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise BadRequest("body is not a Stripe event") from exc
        key = (obj.get("customer") or obj.get("id")) if isinstance(obj, dict) else None
        await self.infra.publisher.publish(
            event, msg_id=f"stripe:{event.event_id}", key=str(key or event.event_id), stream=subjects.STRIPE
        )


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    """Build the ingress ASGI app; connections open in its lifespan, not at import."""
    state: dict[str, Ingress] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        infra = await connect_infrastructure(settings, NAME, clock)
        users = Users(infra.db)

        async def prepare() -> None:
            await users.ensure_indexes()
            await declare_streams(
                infra.js,
                (subjects.SMS, subjects.STRIPE, subjects.USERS, subjects.MIGRATION, subjects.DEAD_LETTERS),
                settings.duplicate_window_s,
                settings.stream_replicas,
            )

        await retry_until_ready(prepare, "declare", settings.startup_timeout_s)
        await backfill.start_consumer(infra, users)  # legacy batches from `careline migrate backfill`
        state["ingress"] = Ingress(infra, users)
        log.info("service.started", port=settings.ingress_port)
        yield
        # uvicorn runs this after it stopped accepting and the requests in flight were answered
        await finish_or_cancel(state["ingress"].background, settings.shutdown_grace_s)
        stopped = await stop_consuming(infra.broker, settings.shutdown_grace_s)
        await infra.broker.stop()
        await infra.client.close()
        log.info("service.stopped", messages_finished=stopped.finished, messages_released=stopped.released)

    # No OpenTelemetry here (metrics are Prometheus): FastAPI's native telemetry would look up
    # the global providers, reading os.environ, on every request (8% of a webhook's CPU).
    no_telemetry: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
    app = FastAPI(title="Careline ingress", lifespan=lifespan, telemetry=no_telemetry)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        """Never a stack trace in a response: a short JSON error, the details only in the log."""
        log.error("http.unexpected", path=request.url.path, error=type(exc).__name__)
        return JSONResponse({"error": "internal error"}, status_code=500)

    async def guarded(kind: str, request: Request, accept: Any, ok: Response) -> Response:
        # 128 random bits as 32 hex digits, like uuid4().hex, at a quarter of its cost
        correlation_id = request.headers.get("x-request-id") or os.urandom(16).hex()
        started = time.perf_counter()
        outcome, status = "accepted", 200
        try:
            expected = "application/json" if kind == "stripe" else "application/x-www-form-urlencoded"
            if media_type(request) != expected:
                raise UnsupportedMedia(f"Content-Type must be {expected}")
            await accept(correlation_id)
        except UnsupportedMedia as exc:
            outcome, status = f"bad request: {exc}", 415
        except SignatureError as exc:
            outcome, status = f"rejected: {exc}", 403 if kind != "stripe" else 400
        except BadRequest as exc:
            outcome, status = f"bad request: {exc}", 400
        except (PublishFailed, PyMongoError) as exc:
            outcome, status = f"unavailable: {type(exc).__name__}", 503
        WEBHOOK_SECONDS.labels(kind, str(status)).observe(time.perf_counter() - started)
        log.info(
            "webhook",
            kind=kind,
            status=status,
            outcome=outcome,
            correlation_id=correlation_id,
            ms=round((time.perf_counter() - started) * 1000, 2),
        )
        if status == 200:
            return ok
        if kind == "stripe":
            return JSONResponse({"error": outcome}, status_code=status)
        return Response(outcome, status_code=status, media_type="text/plain")

    async def twilio_sms(request: Request) -> Response:
        ingress = state["ingress"]

        async def accept(cid: str) -> None:
            await ingress.accept_sms(dict(await ingress.twilio_params(request)), cid)

        return await guarded("twilio-sms", request, accept, twiml())

    async def twilio_status(request: Request) -> Response:
        ingress = state["ingress"]

        async def accept(cid: str) -> None:
            await ingress.accept_status(dict(await ingress.twilio_params(request)), cid)

        return await guarded("twilio-status", request, accept, twiml())

    async def stripe_webhook(request: Request) -> Response:
        ingress = state["ingress"]
        return await guarded(
            "stripe",
            request,
            lambda cid: ingress.accept_stripe(request, cid),
            JSONResponse({"received": True}),
        )

    webhooks: dict[str, Endpoint] = {
        TWILIO_SMS_PATH: twilio_sms,
        TWILIO_STATUS_PATH: twilio_status,
        STRIPE_PATH: stripe_webhook,
    }
    for path, endpoint in webhooks.items():  # declared for the OpenAPI document
        app.post(path)(endpoint)
    app.add_middleware(DirectRoutes, endpoints=webhooks)  # answered here, ahead of the router
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)  # added last, so outside: every route
    app.include_router(
        admin_router(
            settings,
            users=lambda: state["ingress"].users,
            nats=lambda: state["ingress"].infra.broker,
        )
    )
    app.include_router(dashboard_router())
    if settings.stripe_api_key is None:
        app.include_router(dev_router(settings, stripe_secrets(settings)[0]))
    if settings.twilio_account_sid is None:  # the sandbox: replies never leave this machine
        app.include_router(simulator_router(settings, nats=lambda: state["ingress"].infra.broker.connection))

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> Response:
        infra = state["ingress"].infra
        checks = {"nats": infra.broker.connection.is_connected}
        try:
            await infra.client.admin.command("ping")
            checks["mongodb"] = True
        except PyMongoError:
            checks["mongodb"] = False
        return JSONResponse(
            {"ready": all(checks.values()), **checks}, status_code=200 if all(checks.values()) else 503
        )

    return app
