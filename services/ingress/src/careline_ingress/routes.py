"""The webhook routes: HTTP in, a handler call, HTTP out, one log line and one timing each.

A route reads the body, checks the media type and the provider's signature, hands the
verified message to its handler in :mod:`careline_ingress.handlers`, and answers from the
outcome (:mod:`careline_ingress.errors`): 200 only once the events are durable (acknowledged by
JetStream or written to the local spool).
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from careline_ingress import handlers
from careline_ingress.asgi import Endpoint
from careline_ingress.domain import webhooks
from careline_ingress.errors import ACCEPTED, STRIPE, Outcome, UnsupportedMedia, outcome_of, refusal
from careline_ingress.handlers import Background, DurablePublisher, Identities
from careline_ingress.integrations.signatures import Signatures
from careline_platform.clock import Clock
from careline_platform.logging import get_logger
from careline_platform.metrics import WEBHOOK_SECONDS

log = get_logger(__name__)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
TWILIO_SMS_PATH = "/webhooks/twilio/sms"
TWILIO_STATUS_PATH = "/webhooks/twilio/status"
STRIPE_PATH = "/webhooks/stripe"
WEBHOOK_PATHS = frozenset({TWILIO_SMS_PATH, TWILIO_STATUS_PATH, STRIPE_PATH})
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@dataclass(frozen=True)
class Edge:
    """What the webhooks need once the service is connected."""

    users: Identities
    publisher: DurablePublisher
    """JetStream, or the local spool when it does not answer (``careline_ingress.durable``)."""
    clock: Clock
    background: Background
    identity_timeout_s: float = 2.0


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def twiml() -> Response:
    return Response(EMPTY_TWIML, media_type="text/xml")


def signed_path_and_query(request: Request) -> tuple[str, str]:
    """The path and query Twilio called, without building a URL in the usual case (no query)."""
    path: str = request.scope["path"]
    if path in WEBHOOK_PATHS and not request.scope.get("query_string"):
        return path, ""
    return request.url.path, request.url.query


async def answered(
    kind: str, request: Request, accept: Callable[[str], Awaitable[None]], ok: Callable[[], Response]
) -> Response:
    """Run ``accept`` for one webhook and answer from how it ended; log and time it."""
    # 128 random bits as 32 hex digits, like uuid4().hex, at a quarter of its cost
    correlation_id = request.headers.get("x-request-id") or os.urandom(16).hex()
    started = time.perf_counter()
    expected = JSON if kind == STRIPE else FORM
    try:
        if media_type(request) != expected:
            raise UnsupportedMedia(f"Content-Type must be {expected}")
        await accept(correlation_id)
        outcome: Outcome = ACCEPTED
    except Exception as exc:
        refused = outcome_of(kind, exc)
        if refused is None:
            raise
        outcome = refused
    WEBHOOK_SECONDS.labels(kind, str(outcome.status)).observe(time.perf_counter() - started)
    log.info(
        "webhook",
        kind=kind,
        status=outcome.status,
        outcome=outcome.reason,
        correlation_id=correlation_id,
        ms=round((time.perf_counter() - started) * 1000, 2),
    )
    return ok() if outcome.accepted else refusal(kind, outcome)


def webhook_endpoints(signatures: Signatures, edge: Callable[[], Edge]) -> dict[str, Endpoint]:
    """Path -> endpoint of the three webhooks; ``edge`` is looked up per request."""

    async def verified_form(request: Request) -> dict[str, str]:
        params = webhooks.parse_form(await request.body())
        path, query = signed_path_and_query(request)
        signatures.check_twilio(request.headers.get("x-twilio-signature"), path, query, params)
        return dict(params)

    async def twilio_sms(request: Request) -> Response:
        deps = edge()

        async def accept(cid: str) -> None:
            await handlers.on_sms(
                await verified_form(request),
                cid,
                users=deps.users,
                publisher=deps.publisher,
                clock=deps.clock,
                background=deps.background,
                identity_timeout_s=deps.identity_timeout_s,
            )

        return await answered("twilio-sms", request, accept, twiml)

    async def twilio_status(request: Request) -> Response:
        deps = edge()

        async def accept(cid: str) -> None:
            params = await verified_form(request)
            await handlers.on_status(params, cid, publisher=deps.publisher, clock=deps.clock)

        return await answered("twilio-status", request, accept, twiml)

    async def stripe_webhook(request: Request) -> Response:
        deps = edge()

        async def accept(cid: str) -> None:
            raw = webhooks.check_size(await request.body())
            signatures.check_stripe(request.headers.get("stripe-signature"), raw)
            await handlers.on_stripe(raw, cid, publisher=deps.publisher, clock=deps.clock)

        return await answered(STRIPE, request, accept, lambda: JSONResponse({"received": True}))

    return {TWILIO_SMS_PATH: twilio_sms, TWILIO_STATUS_PATH: twilio_status, STRIPE_PATH: stripe_webhook}
