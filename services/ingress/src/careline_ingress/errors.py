"""How a webhook that was not accepted is answered: one table from failure to status.

The status tells the provider what to do next. 403 (Twilio) and 400 (Stripe) for a bad
signature: never retry. 400 for a signed body we cannot use, 413 for a body over the limit
(counted while it is read) and 415 for the wrong media type:
a bug to fix, not to retry. 503 only when the message could not be made durable: neither
JetStream nor ingress's local spool took it (the spool could not write). Twilio does not retry
that by default (a lost text: README, Operations); Stripe retries it for up to three days.
Anything else is a bug; it propagates to the app's short JSON 500.
"""

from __future__ import annotations

from dataclasses import dataclass

from pymongo.errors import PyMongoError
from starlette.responses import JSONResponse, Response

from careline_ingress.asgi import BodyTooLarge
from careline_ingress.domain.webhooks import BadRequest
from careline_ingress.spool import SpoolUnavailable
from careline_platform.messaging import PublishFailed
from careline_platform.webhooks import SignatureError

STRIPE = "stripe"


class UnsupportedMedia(Exception):
    """The body is not of the media type the route takes."""


@dataclass(frozen=True)
class Outcome:
    """How one webhook ended: its status and a short reason (logged, and the refusal's body)."""

    status: int
    reason: str

    @property
    def accepted(self) -> bool:
        return self.status == 200


ACCEPTED = Outcome(200, "accepted")


def outcome_of(kind: str, exc: Exception) -> Outcome | None:
    """The answer to a webhook of ``kind`` that raised ``exc``; None: not a refusal, a bug."""
    if isinstance(exc, UnsupportedMedia):
        return Outcome(415, f"bad request: {exc}")
    if isinstance(exc, BodyTooLarge):
        return Outcome(413, f"bad request: {exc}")
    if isinstance(exc, SignatureError):
        return Outcome(400 if kind == STRIPE else 403, f"rejected: {exc}")
    if isinstance(exc, BadRequest):
        return Outcome(400, f"bad request: {exc}")
    if isinstance(exc, SpoolUnavailable):
        return Outcome(503, "unavailable: spool")
    if isinstance(exc, (PublishFailed, PyMongoError)):
        return Outcome(503, f"unavailable: {type(exc).__name__}")
    return None


def refusal(kind: str, outcome: Outcome) -> Response:
    """A refusal in the provider's register: JSON for Stripe, plain text for Twilio."""
    if kind == STRIPE:
        return JSONResponse({"error": outcome.reason}, status_code=outcome.status)
    return Response(outcome.reason, status_code=outcome.status, media_type="text/plain")
