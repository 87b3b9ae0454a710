"""``CARELINE_ENV=production``: what a service refuses to start with, one line per problem.

Development (the default) runs on sandboxes: outbound texts stay on this machine, checkout is a
local page, webhooks are signed with public test secrets. Those defaults are exactly what an
attacker would use, so production has none of them: every provider secret must be set, real
(no placeholder from an example file) and strong enough, and the public URL must be https.
The service prints every problem and exits with status 78 (``EX_CONFIG``) before it connects
to anything.
"""

from __future__ import annotations

import re

from pydantic import SecretStr

from careline_platform.settings import DEFAULT_FROM_NUMBER, DEVELOPMENT_PHONE_HASH_KEY, Settings

EX_CONFIG = 78


class ConfigurationError(Exception):
    """A setting this service cannot run with; reported as one line, exit status 78."""


MIN_ADMIN_SECRET_BYTES = 32
MIN_PHONE_HASH_KEY_BYTES = 32
"""A shorter key could be guessed, and with it every number hashed in the audit log recovered."""
PLACEHOLDER = re.compile(
    r"change[-_ ]?me|replace[-_ ]?me|x{4,}|\btodo\b|\btbd\b|\bfixme\b|placeholder|\bdummy\b|<[^>]*>",
    re.IGNORECASE,
)
"""What example files and half-done configurations leave in a secret (``CHANGE-ME``,
``sk_live_CHANGE-ME``, ``ACxxxxxxxx...``, ``<your token>``). Random secrets do not contain these."""
NATS_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9_-]{15,}")
"""What nats-server takes as a plain string from ``$NATS_PASSWORD_<ID>`` (a leading digit or ``-``
may parse as a number, a size or fail; ``true`` is a boolean), and long enough to be a secret."""
STRIPE_TEST_KEY = re.compile(r"^(sk|rk)_test_")


def _value(secret: SecretStr | str | None) -> str:
    if secret is None:
        return ""
    return secret.get_secret_value() if isinstance(secret, SecretStr) else secret


def _checked(name: str, value: str) -> list[str]:
    if not value.strip():
        return [f"{name} is missing or empty"]
    if PLACEHOLDER.search(value):
        return [f"{name} is a placeholder, not a real value"]
    return []


def problems(settings: Settings) -> list[str]:
    """Every reason ``settings`` cannot run in production (empty in development)."""
    if not settings.production:
        return []
    found: list[str] = []
    for name, secret in (
        ("TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
        ("TWILIO_AUTH_TOKEN", settings.twilio_auth_token),
        ("TWILIO_FROM_NUMBER", settings.twilio_from_number),
        ("STRIPE_API_KEY", settings.stripe_api_key),
        (
            "STRIPE_PRICE_ID_MONTHLY" if settings.stripe_price_id_monthly else "STRIPE_PRICE_ID",
            settings.monthly_price_id,
        ),
        ("STRIPE_PRICE_ID_ANNUAL", settings.stripe_price_id_annual),
        ("ADMIN_JWT_SECRET", settings.admin_jwt_secret),
        ("NATS_PASSWORD", settings.nats_password),
        ("PHONE_HASH_KEY", settings.phone_hash_key),
    ):
        found += _checked(name, _value(secret))
    if settings.twilio_from_number == DEFAULT_FROM_NUMBER:
        found.append(f"TWILIO_FROM_NUMBER is the sandbox default {DEFAULT_FROM_NUMBER}")
    webhook_secrets = _value(settings.stripe_webhook_secret).split(",")
    if not any(s.strip() for s in webhook_secrets):
        found.append("STRIPE_WEBHOOK_SECRET is missing or empty")
    elif any(not s.strip() for s in webhook_secrets):
        found.append("STRIPE_WEBHOOK_SECRET has an empty entry in its comma-separated list")
    elif any(PLACEHOLDER.search(s) for s in webhook_secrets):
        found.append("STRIPE_WEBHOOK_SECRET is a placeholder, not a real value")
    admin_secret = _value(settings.admin_jwt_secret)
    if admin_secret.strip() and len(admin_secret.encode()) < MIN_ADMIN_SECRET_BYTES:
        found.append(f"ADMIN_JWT_SECRET is shorter than {MIN_ADMIN_SECRET_BYTES} bytes")
    nats_password = _value(settings.nats_password)
    if not _checked("NATS_PASSWORD", nats_password) and not NATS_PASSWORD.fullmatch(nats_password):
        found.append(
            "NATS_PASSWORD must start with a letter and hold only letters, digits, - and _ "
            "(nats-server reads it from its environment as configuration: 7kB would be a size)"
        )
    hash_key = _value(settings.phone_hash_key)
    if hash_key == DEVELOPMENT_PHONE_HASH_KEY:
        found.append("PHONE_HASH_KEY is the public development key")
    elif not _checked("PHONE_HASH_KEY", hash_key) and len(hash_key.encode()) < MIN_PHONE_HASH_KEY_BYTES:
        found.append(f"PHONE_HASH_KEY is shorter than {MIN_PHONE_HASH_KEY_BYTES} bytes")
    if not settings.public_base_url.lower().startswith("https://"):
        found.append("PUBLIC_BASE_URL is not https (Twilio and Stripe must reach us over TLS)")
    return found


def warnings(settings: Settings) -> list[str]:
    """What production accepts but an operator should know (a staging deployment, say)."""
    if settings.production and STRIPE_TEST_KEY.match(_value(settings.stripe_api_key)):
        return ["STRIPE_API_KEY is a test-mode key: no real payment will be taken"]
    return []
