"""CARELINE_ENV=production refuses every sandbox default and placeholder, one line per problem;
development keeps its sandboxes only while a provider has no credential at all (issue 14)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from careline_billing.app import build_gateway
from careline_billing.integrations.stripe_gateway import SandboxGateway
from careline_ingress.app import create_app
from careline_ingress.integrations.signatures import SANDBOX_STRIPE_SECRET, Signatures, stripe_secrets
from careline_platform.production import ConfigurationError, problems, warnings
from careline_platform.settings import Settings
from careline_platform.webhooks import SignatureError

LIVE: dict[str, Any] = {
    "careline_env": "production",
    "twilio_account_sid": "AC" + "3f" * 16,
    "twilio_auth_token": "9b1c" * 8,
    "twilio_from_number": "+14155550123",
    "stripe_api_key": "sk_live_" + "Zq8" * 10,
    "stripe_webhook_secret": "whsec_" + "k2P" * 10,
    "stripe_price_id": "price_1QxYz" + "a" * 10,
    "stripe_price_id_annual": "price_1QxYz" + "y" * 10,
    "admin_jwt_secret": "7e2a" * 12,
    "phone_hash_key": "c41d" * 12,
    "public_base_url": "https://line.example.org",
    "nats_password": "Nq4" * 11,
}


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_a_complete_live_configuration_starts() -> None:
    assert problems(settings(**LIVE)) == []
    assert warnings(settings(**LIVE)) == []


def test_development_has_no_refusals_and_is_the_default() -> None:
    assert settings().careline_env == "development"
    assert problems(settings()) == []


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("twilio_account_sid", None, "TWILIO_ACCOUNT_SID is missing or empty"),
        ("twilio_auth_token", None, "TWILIO_AUTH_TOKEN is missing or empty"),
        ("stripe_api_key", None, "STRIPE_API_KEY is missing or empty"),
        ("stripe_price_id", None, "STRIPE_PRICE_ID is missing or empty"),
        ("admin_jwt_secret", None, "ADMIN_JWT_SECRET is missing or empty"),
        ("phone_hash_key", None, "PHONE_HASH_KEY is missing or empty"),
        ("phone_hash_key", "CHANGE-ME" * 4, "PHONE_HASH_KEY is a placeholder"),
        ("phone_hash_key", "9f3e" * 7, "PHONE_HASH_KEY is shorter than 32 bytes"),
        ("phone_hash_key", "careline-development-phone-hash-key", "PHONE_HASH_KEY is the public development"),
        ("stripe_webhook_secret", None, "STRIPE_WEBHOOK_SECRET is missing or empty"),
        ("twilio_auth_token", "   ", "TWILIO_AUTH_TOKEN is missing or empty"),
        ("twilio_auth_token", "CHANGE-ME", "TWILIO_AUTH_TOKEN is a placeholder"),
        ("twilio_account_sid", "AC" + "x" * 32, "TWILIO_ACCOUNT_SID is a placeholder"),
        ("stripe_api_key", "sk_live_CHANGE-ME", "STRIPE_API_KEY is a placeholder"),
        ("stripe_price_id", "price_changeme", "STRIPE_PRICE_ID is a placeholder"),
        ("admin_jwt_secret", "replace_me" * 4, "ADMIN_JWT_SECRET is a placeholder"),
        ("admin_jwt_secret", "<your admin secret, 32 bytes or more>", "ADMIN_JWT_SECRET is a placeholder"),
        ("twilio_auth_token", "todo", "TWILIO_AUTH_TOKEN is a placeholder"),
        ("stripe_webhook_secret", "whsec_CHANGE-ME", "STRIPE_WEBHOOK_SECRET is a placeholder"),
        ("stripe_webhook_secret", "whsec_" + "k2P" * 10 + ", ", "STRIPE_WEBHOOK_SECRET has an empty entry"),
        ("admin_jwt_secret", "CorrectHorse-31-bytes-long-1234", "ADMIN_JWT_SECRET is shorter than 32 bytes"),
        ("twilio_from_number", None, "TWILIO_FROM_NUMBER is the sandbox default"),
        ("public_base_url", "http://line.example.org", "PUBLIC_BASE_URL is not https"),
        ("phone_hash_key", "CHANGE-ME", "PHONE_HASH_KEY is a placeholder"),
        ("phone_hash_key", "k" * 31, "PHONE_HASH_KEY is shorter than 32 bytes"),
        ("public_base_url", None, "PUBLIC_BASE_URL is not https"),
        ("nats_password", None, "NATS_PASSWORD is missing or empty"),
        ("nats_password", "CHANGE-ME", "NATS_PASSWORD is a placeholder"),
        ("nats_password", "7kB" + "a" * 20, "NATS_PASSWORD must start with a letter"),
        ("nats_password", "p+/=" + "a" * 20, "NATS_PASSWORD must start with a letter"),
        ("nats_password", "pShort", "NATS_PASSWORD must start with a letter"),
    ],
)
def test_each_problem_is_named_on_its_own_line(name: str, value: Any, problem: str) -> None:
    config = {**LIVE, name: value}
    if value is None:
        del config[name]
    found = problems(settings(**config))
    assert len(found) == 1 and found[0].startswith(problem), found


def test_an_empty_production_names_every_problem_at_once() -> None:
    found = problems(settings(careline_env="production"))
    for variable in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET"):
        assert any(line.startswith(variable) for line in found), found
    assert any(line.startswith("PUBLIC_BASE_URL") for line in found)
    assert len(found) >= 8


def test_a_stripe_test_key_is_allowed_in_production_with_a_warning() -> None:
    staging = settings(**{**LIVE, "stripe_api_key": "sk_test_" + "Zq8" * 10})
    assert problems(staging) == []
    assert warnings(staging) == ["STRIPE_API_KEY is a test-mode key: no real payment will be taken"]


def test_production_publishes_no_api_description_and_no_sandbox_page() -> None:
    app = TestClient(create_app(settings(**LIVE)))
    for path in ("/docs", "/redoc", "/openapi.json", "/dev/simulator", "/dev/checkout/cs_sandbox_x"):
        assert app.get(path).status_code == 404, path
    development = TestClient(create_app(settings()))
    assert development.get("/openapi.json").status_code == 200
    assert development.get("/dev/simulator").status_code == 200


def test_a_twilio_token_or_sid_alone_is_no_sandbox() -> None:
    """Half a Twilio configuration: no simulator, and never the public sandbox token."""
    token_only = settings(twilio_auth_token="9b1c" * 8)
    sid_only = settings(twilio_account_sid="AC" + "3f" * 16)
    assert not token_only.twilio_sandbox and not sid_only.twilio_sandbox
    assert TestClient(create_app(token_only)).get("/dev/simulator").status_code == 404
    assert sid_only.twilio_signing_token is None
    with pytest.raises(SignatureError, match="no TWILIO_AUTH_TOKEN"):
        Signatures(sid_only).check_twilio("anything", "/webhooks/twilio/sms", "", [])
    assert settings().twilio_signing_token == settings().sandbox_auth_token


def test_stripe_secrets_drop_empty_entries_and_the_sandbox_secret_is_the_sandboxs_only() -> None:
    assert stripe_secrets(settings(stripe_webhook_secret="whsec_a, , whsec_b, ")) == ["whsec_a", "whsec_b"]
    assert stripe_secrets(settings(stripe_webhook_secret=", ")) == []
    assert stripe_secrets(settings()) == [SANDBOX_STRIPE_SECRET]
    assert stripe_secrets(settings(stripe_api_key="sk_live_" + "Zq8" * 10)) == []  # no secret: refuse all
    assert SANDBOX_STRIPE_SECRET not in stripe_secrets(settings(**LIVE))


def test_admin_user_ids_are_a_set_of_trimmed_ids_and_the_phone_key_has_a_development_default() -> None:
    assert settings(admin_user_ids=" usr_a, ,usr_b,usr_a ").bootstrap_admin_ids == {"usr_a", "usr_b"}
    assert settings().bootstrap_admin_ids == frozenset()
    assert settings().phone_hash_secret == b"careline-development-phone-hash-key"
    assert settings(phone_hash_key="c41d" * 12).phone_hash_secret == b"c41d" * 12


def test_a_mixed_stripe_configuration_gets_no_sandbox_page_and_billing_refuses_it() -> None:
    """A webhook secret without an API key is a mistake, not a sandbox: no /dev/checkout (which
    would grant a subscription to anyone and sign with the real secret), and billing stops at
    start instead of handing out sandbox links."""
    mixed = settings(stripe_webhook_secret="whsec_" + "k2P" * 10)
    assert not mixed.stripe_sandbox
    assert TestClient(create_app(mixed)).get("/dev/checkout/cs_sandbox_x?user=u1").status_code == 404
    assert stripe_secrets(mixed) == ["whsec_" + "k2P" * 10]
    with pytest.raises(ConfigurationError, match="STRIPE_API_KEY and STRIPE_PRICE_ID"):
        build_gateway(mixed)
    with pytest.raises(ConfigurationError):
        build_gateway(settings(stripe_api_key="sk_test_" + "Zq8" * 10))  # a key without its price
    assert isinstance(build_gateway(settings()), SandboxGateway)
    assert TestClient(create_app(settings())).get("/dev/checkout/cs_sandbox_x?user=u1").status_code == 200


def test_production_serves_metrics_only_on_its_own_port() -> None:
    assert TestClient(create_app(settings(**LIVE))).get("/metrics").status_code == 404
    assert TestClient(create_app(settings())).get("/metrics").status_code == 200
