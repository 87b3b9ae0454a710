"""Which secrets and which URL ingress checks the providers' signatures against.

The algorithms live in :mod:`careline_platform.webhooks` (shared with the tests' signers);
what is ingress's own is what it feeds them: Twilio signs ``PUBLIC_BASE_URL`` + path + query
(what Twilio called, not what the process sees behind a proxy), and Stripe may sign with any
of several secrets while one is rotated. Both raise ``SignatureError`` on a mismatch.
"""

from __future__ import annotations

from collections.abc import Sequence

from careline_platform.settings import Settings
from careline_platform.webhooks import SignatureError, verify_stripe, verify_twilio

SANDBOX_STRIPE_SECRET = "whsec_careline_sandbox"


def stripe_secrets(settings: Settings) -> list[str]:
    """Comma-separated secrets allow rotating ours (an empty entry is no secret); without any,
    the public sandbox secret in the Stripe sandbox only, and elsewhere none: every Stripe
    webhook is refused (a Stripe API key without a webhook secret)."""
    if settings.stripe_webhook_secret is not None:
        return [s.strip() for s in settings.stripe_webhook_secret.get_secret_value().split(",") if s.strip()]
    return [SANDBOX_STRIPE_SECRET] if settings.stripe_sandbox else []


def signed_url(public_base_url: str, path: str, query: str) -> str:
    """What Twilio signed: the public base URL, the path and the query string."""
    url = public_base_url.rstrip("/") + path
    return f"{url}?{query}" if query else url


class Signatures:
    """Checks both providers' signatures with this deployment's secrets."""

    def __init__(self, settings: Settings) -> None:
        self.twilio_token = settings.twilio_signing_token
        self.public_base_url = settings.public_base_url
        self.stripe = stripe_secrets(settings)

    def check_twilio(
        self, signature: str | None, path: str, query: str, params: Sequence[tuple[str, str]]
    ) -> None:
        if self.twilio_token is None:
            raise SignatureError("no TWILIO_AUTH_TOKEN is configured to check Twilio's signature")
        verify_twilio(self.twilio_token, signature, signed_url(self.public_base_url, path, query), params)

    def check_stripe(self, signature: str | None, raw: bytes) -> None:
        verify_stripe(self.stripe, signature, raw)
