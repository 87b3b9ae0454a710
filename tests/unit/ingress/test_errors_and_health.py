"""The failure-to-status table (careline_ingress.errors) and the readiness report (health)."""

from __future__ import annotations

import asyncio

import pytest
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError

from careline_ingress.domain.webhooks import BadRequest
from careline_ingress.errors import Outcome, UnsupportedMedia, outcome_of, refusal
from careline_ingress.health import Readiness, SpoolReport, mongo_probe, readiness_report
from careline_ingress.integrations.signatures import SANDBOX_STRIPE_SECRET, signed_url, stripe_secrets
from careline_ingress.spool import SpoolUnavailable
from careline_platform.messaging import PublishFailed
from careline_platform.settings import Settings
from careline_platform.webhooks import SignatureError


@pytest.mark.parametrize(
    ("kind", "exc", "status"),
    [
        ("twilio-sms", SignatureError("missing"), 403),
        ("twilio-status", SignatureError("missing"), 403),
        ("stripe", SignatureError("stale"), 400),  # Stripe's convention for a bad signature
        ("twilio-sms", BadRequest("no From"), 400),
        ("stripe", UnsupportedMedia("json only"), 415),
        ("twilio-sms", PublishFailed("TimeoutError"), 503),
        ("stripe", ServerSelectionTimeoutError("no primary"), 503),
        ("twilio-sms", AutoReconnect("gone"), 503),
        ("twilio-sms", SpoolUnavailable("SQLITE_FULL"), 503),
        ("stripe", SpoolUnavailable("SQLITE_READONLY"), 503),  # Stripe retries it for three days
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_each_refusal_has_one_status(kind: str, exc: Exception, status: int) -> None:
    outcome = outcome_of(kind, exc)
    assert outcome is not None and outcome.status == status and not outcome.accepted


def test_an_unexpected_error_is_not_a_refusal_but_a_bug() -> None:
    assert outcome_of("twilio-sms", KeyError("x")) is None
    assert outcome_of("stripe", RuntimeError("x")) is None


def test_refusals_speak_each_providers_register() -> None:
    outcome = Outcome(503, "unavailable: PublishFailed")
    stripe, twilio = refusal("stripe", outcome), refusal("twilio-sms", outcome)
    assert (stripe.status_code, stripe.body) == (503, b'{"error":"unavailable: PublishFailed"}')
    assert (twilio.status_code, twilio.body, twilio.media_type) == (
        503,
        b"unavailable: PublishFailed",
        "text/plain",
    )


@pytest.mark.parametrize(
    ("checks", "status"),
    [({"nats": True, "mongodb": True}, 200), ({"nats": False, "mongodb": True}, 503), ({}, 200)],
    ids=["all-up", "nats-down", "nothing-to-check"],
)
def test_ready_only_when_every_check_passes(checks: dict[str, bool], status: int) -> None:
    body, code = readiness_report(checks)
    assert code == status and body == {"ready": status == 200, **checks}


@pytest.mark.parametrize(
    ("nats", "writable", "status"),
    [(True, False, 200), (False, True, 200), (False, False, 503)],
    ids=["broker-answers", "spool-writes", "neither"],
)
def test_ready_while_a_webhook_can_be_made_durable(nats: bool, writable: bool, status: int) -> None:
    """JetStream (with MongoDB) or a writable spool: either makes a webhook durable."""
    body, code = readiness_report({"nats": nats, "mongodb": True}, SpoolReport(writable, depth=7))
    assert code == status
    spool = {"writable": writable, "depth": 7}
    assert body == {"ready": status == 200, "nats": nats, "mongodb": True, "spool": spool}


def test_the_mongodb_probe_is_false_when_the_ping_fails() -> None:
    async def down() -> object:
        raise ServerSelectionTimeoutError("no servers")

    async def up() -> object:
        return {"ok": 1}

    async def check() -> dict[str, bool]:
        return await Readiness({"up": mongo_probe(up), "down": mongo_probe(down)}).check()

    assert asyncio.run(check()) == {"up": True, "down": False}


def test_stripe_secrets_rotate_and_default_to_the_sandbox() -> None:
    sandbox = Settings(_env_file=None)  # type: ignore[call-arg]
    rotated = Settings(_env_file=None, stripe_webhook_secret="whsec_a, whsec_b,")  # type: ignore[call-arg]
    assert stripe_secrets(sandbox) == [SANDBOX_STRIPE_SECRET]
    assert stripe_secrets(rotated) == ["whsec_a", "whsec_b"]


def test_twilio_signs_the_public_url_with_its_query() -> None:
    assert (
        signed_url("https://x.example/", "/webhooks/twilio/sms", "")
        == "https://x.example/webhooks/twilio/sms"
    )
    assert signed_url("https://x.example", "/hook", "a=1") == "https://x.example/hook?a=1"
