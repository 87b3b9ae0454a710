"""How a Careline process authenticates to NATS: its user, password, inbox and TLS, in one place.

Each service connects as its own user (its name), the ``careline`` CLI as ``operator``, unless
``NATS_USER`` says otherwise; ``NATS_PASSWORD`` is that user's password. What each user may
publish and subscribe is ``careline_contracts.access``. Replies come to the user's own inbox
prefix, the only inbox its permissions let it read. ``NATS_CA_FILE`` turns TLS on and verifies
the servers against that CA (a ``tls://`` URL without it verifies against the system's CAs).

Without ``NATS_PASSWORD`` the process connects anonymously, which only a development server
with no users accepts; production refuses to start without it (``production.py``).
"""

from __future__ import annotations

import json
import os
import ssl
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from careline_contracts.access import inbox_prefix
from careline_platform.settings import Settings

DEFAULT_INBOX_PREFIX = "_INBOX"
LOCAL_CREDENTIALS = Path("nats") / "operator.json"
"""Where ``make run`` writes the operator's credentials, under its data directory (``.data``)."""


def local_credentials_path() -> Path:
    return Path(os.environ.get("CARELINE_DATA_DIR", ".data")) / LOCAL_CREDENTIALS


def write_local_credentials(path: Path, user: str, password: str) -> None:
    """Write a user's credentials, readable by this account only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(json.dumps({"user": user, "password": password}))


def with_local_credentials(settings: Settings) -> Settings:
    """``settings``, with the credentials ``make run`` wrote when none are configured (the CLI
    and ``make chat`` on a developer's machine)."""
    path = local_credentials_path()
    if settings.nats_password is not None or not path.is_file():
        return settings
    found = json.loads(path.read_text())
    return settings.model_copy(
        update={"nats_user": found["user"], "nats_password": SecretStr(found["password"])}
    )


def user_of(settings: Settings, default_user: str) -> str | None:
    """The NATS user this process connects as, or None (anonymous, no password set)."""
    if settings.nats_password is None:
        return None
    return settings.nats_user or default_user


def inbox_of(settings: Settings, default_user: str) -> str:
    """The inbox prefix this process receives replies on: its user's, or NATS's default."""
    user = user_of(settings, default_user)
    return inbox_prefix(user) if user is not None else DEFAULT_INBOX_PREFIX


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """A client TLS context verifying the servers, when the connection is TLS."""
    if settings.nats_ca_file:
        return ssl.create_default_context(cafile=settings.nats_ca_file)
    if settings.nats_url.startswith("tls://"):
        return ssl.create_default_context()
    return None


def broker_options(settings: Settings, default_user: str) -> dict[str, Any]:
    """Keyword arguments of FastStream's ``NatsBroker`` for this process's identity."""
    from faststream.nats import NatsSecurity, NatsUserPassword  # the CLI's nats-py commands skip it

    user = user_of(settings, default_user)
    context = tls_context(settings)
    if user is None or settings.nats_password is None:
        return {"security": NatsSecurity(ssl_context=context)} if context is not None else {}
    return {
        "security": NatsUserPassword(user, settings.nats_password.get_secret_value(), ssl_context=context),
        "inbox_prefix": inbox_prefix(user),
    }


def connect_options(settings: Settings, default_user: str) -> dict[str, Any]:
    """Keyword arguments of nats-py's ``nats.connect`` for this process's identity."""
    user = user_of(settings, default_user)
    options: dict[str, Any] = {}
    context = tls_context(settings)
    if context is not None:
        options["tls"] = context
    if user is not None and settings.nats_password is not None:
        options |= {
            "user": user,
            "password": settings.nats_password.get_secret_value(),
            "inbox_prefix": inbox_prefix(user),
        }
    return options
