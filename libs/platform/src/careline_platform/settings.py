"""One typed settings object for every service, read from the environment (or `.env`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from careline_platform import regions

DEFAULT_FROM_NUMBER = "+15550000000"
"""The sandbox's own number (a 555 number, never a real line)."""
DEVELOPMENT_PHONE_HASH_KEY = "careline-development-phone-hash-key"
"""The phone-hash key when ``PHONE_HASH_KEY`` is unset: public, so development only (production
refuses to start without a key of its own)."""


class Settings(BaseSettings):
    """Configuration of a Careline process. Built once by the entrypoint and passed in."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    careline_env: Literal["development", "production"] = Field(
        default="development",
        description="production refuses sandbox defaults and placeholder secrets (see production.py)",
    )
    nats_url: str = Field(
        default="nats://127.0.0.1:4222",
        description="NATS server URL, or several comma-separated (the servers of a cluster)",
    )
    nats_user: str | None = Field(
        default=None, description="NATS user; a service's own name, or `operator` for the CLI, by default"
    )
    nats_password: SecretStr | None = Field(
        default=None, description="password of the NATS user; unset connects anonymously (development)"
    )
    nats_ca_file: str | None = Field(
        default=None, description="CA certificate of the NATS servers; set, the connection is TLS"
    )
    mongodb_uri: str = "mongodb://127.0.0.1:27017"
    ingress_port: int = 8080
    ingress_host: str = "127.0.0.1"
    public_base_url: str = "http://127.0.0.1:8080"

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str = DEFAULT_FROM_NUMBER
    twilio_api_base_url: str | None = None
    twilio_timeout_s: float = 10.0
    sms_allowed_regions: str = Field(
        default="US,CA",
        description="regions outbound SMS may go to (comma-separated; see careline_platform.regions)",
    )

    stripe_api_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_price_id: str | None = Field(
        default=None, description="the monthly price (kept for STRIPE_PRICE_ID_MONTHLY's sake)"
    )
    stripe_price_id_monthly: str | None = Field(default=None, description="the $9.99 monthly price")
    stripe_price_id_annual: str | None = Field(default=None, description="the $99 annual price")
    stripe_api_base: str | None = None

    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_timeout_s: float = Field(default=8.0, description="one OpenAI call; then the rules agent answers")
    openai_embedding_model: str = Field(
        default="text-embedding-3-small",
        description="embeddings of kept messages and the catalogue (jobs only)",
    )
    openai_embedding_dimensions: int = Field(
        default=256,
        gt=0,
        le=3072,
        description="vector length asked of the embeddings model (text-embedding-3 allows fewer)",
    )
    openai_embedding_timeout_s: float = Field(
        default=2.0, gt=0, description="one embeddings call; a reply then recalls by words instead"
    )
    recall_messages: int = Field(
        default=3, ge=0, le=10, description="earlier messages recalled into an AI reply"
    )

    admin_user_ids: str = ""
    admin_jwt_secret: SecretStr | None = None
    admin_token_max_hours: float = Field(
        default=12.0, gt=0, le=24 * 7, description="longest lifetime an admin token may be signed for"
    )

    db_prefix: str = Field(default="careline", description="database names are <prefix>_<service>")
    log_format: str = Field(default="console", description="console or json")
    log_level: str = "INFO"
    log_redaction_key: SecretStr | None = Field(
        default=None, description="key of the [redacted:<tag>] tags; random per process when unset"
    )
    phone_hash_key: SecretStr | None = Field(
        default=None,
        description="key of the phone-number hashes kept in place of numbers (the audit log); "
        "must never change; required in production, a public development key otherwise",
    )
    publish_timeout_s: float = 2.0
    ingress_spool_dir: str = Field(
        default=".data/spool/ingress",
        description="where ingress spools webhooks while JetStream does not answer (a persistent "
        "volume of the replica's own)",
    )
    ingress_spool_max_mb: int = Field(
        default=1024, gt=0, description="largest the spool may grow; past it webhooks are answered 503"
    )
    ingress_identity_timeout_s: float = Field(
        default=2.0, gt=0, description="longest wait for the caregiver lookup; then the webhook is spooled"
    )
    startup_timeout_s: float = Field(
        default=120.0, description="how long a starting service waits for NATS and MongoDB"
    )
    duplicate_window_s: float = 120.0
    stream_replicas: int = Field(
        default=1, ge=1, le=5, description="JetStream servers holding each stream (3 on a cluster)"
    )
    shutdown_grace_s: float = Field(
        default=20.0,
        ge=0,
        description="on SIGTERM, how long in-flight messages and jobs may finish before being released",
    )
    jobs_poll_interval_s: float = 1.0
    jobs_lease_s: float = 30.0
    trial_days: int = 14
    past_due_grace_days: float = Field(
        default=7.0, ge=0, description="access kept while a payment is retried"
    )
    canceled_grace_days: float = Field(
        default=30.0, ge=0, description="access kept after a subscription ended"
    )
    clock_offset_file: str | None = Field(
        default=None, description="tests only: a file holding seconds to add to the clock"
    )
    metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="port of /metrics (default 9101-9103 by service)"
    )
    checkin_scan_s: float = Field(
        default=300.0, gt=0, description="how often profile looks for due check-ins"
    )
    summary_every: int = Field(default=6, gt=0, description="messages between running-summary refreshes")
    rate_window_s: float = Field(default=600.0, gt=0, description="rate-limit window per caregiver")
    rate_window_limit: int = Field(default=20, gt=0, description="inbound messages allowed per window")
    rate_daily_limit: int = Field(default=30, gt=0, description="inbound messages allowed per day")
    page_escalate_after_s: float = Field(
        default=600.0, gt=0, description="a crisis page not acknowledged in this time goes to the next person"
    )
    sandbox_auth_token: str = Field(
        default="sandbox-auth-token",
        description="token ingress checks Twilio signatures with when TWILIO_AUTH_TOKEN is unset",
    )

    @field_validator("sms_allowed_regions")
    @classmethod
    def _known_regions(cls, value: str) -> str:
        regions.parse_allowed(value)  # a ValueError names the unknown region at start
        return value

    @property
    def sms_regions(self) -> frozenset[str]:
        """The region codes of ``SMS_ALLOWED_REGIONS`` (validated when the settings were read)."""
        return regions.parse_allowed(self.sms_allowed_regions)

    @property
    def nats_servers(self) -> list[str]:
        """The server URLs of ``NATS_URL``: a client tries each in turn and reconnects to any.

        nats-py takes a list, not a comma-separated string. Connected, a client also learns the
        cluster's other servers from the one it reached, so one address of a cluster suffices
        to connect; listing all of them lets a client (re)connect while that one is down.
        """
        return [url.strip() for url in self.nats_url.split(",") if url.strip()]

    @property
    def bootstrap_admin_ids(self) -> frozenset[str]:
        """The user ids of ``ADMIN_USER_IDS`` (comma-separated, blanks dropped)."""
        return frozenset(u.strip() for u in self.admin_user_ids.split(",") if u.strip())

    @property
    def phone_hash_secret(self) -> bytes:
        """The key of :func:`careline_platform.phone.phone_hash`: ``PHONE_HASH_KEY``, else the
        public development key."""
        if self.phone_hash_key is not None:
            return self.phone_hash_key.get_secret_value().encode()
        return DEVELOPMENT_PHONE_HASH_KEY.encode()

    def database_name(self, service: str) -> str:
        return f"{self.db_prefix}_{service}"

    @property
    def production(self) -> bool:
        return self.careline_env == "production"

    @property
    def twilio_sandbox(self) -> bool:
        """Texts stay on this machine: development, and no Twilio credential set at all (a SID
        without its token, or a token without its SID, is a mistake, not a sandbox)."""
        return not self.production and self.twilio_account_sid is None and self.twilio_auth_token is None

    @property
    def monthly_price_id(self) -> str | None:
        """STRIPE_PRICE_ID_MONTHLY, or STRIPE_PRICE_ID (its older name) when it is not set."""
        return self.stripe_price_id_monthly or self.stripe_price_id

    @property
    def stripe_sandbox(self) -> bool:
        """Checkout is a local page: development with no Stripe credential at all (a webhook
        secret without an API key is a mistake, not a sandbox; never production)."""
        return not self.production and self.stripe_api_key is None and self.stripe_webhook_secret is None

    @property
    def twilio_signing_token(self) -> str | None:
        """The token Twilio signs webhooks with; the public sandbox token only in the sandbox,
        and None (every Twilio webhook refused) when a half-configured Twilio has no token."""
        if self.twilio_auth_token is not None:
            return self.twilio_auth_token.get_secret_value()
        return self.sandbox_auth_token if self.twilio_sandbox else None
