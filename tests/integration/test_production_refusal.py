"""Each service, started in production with sandbox defaults, refuses before connecting anywhere."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from careline_platform.production import EX_CONFIG
from careline_platform.services import SERVICE_NAMES
from careline_testing.processes import ServiceProcess


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_a_service_in_production_with_sandbox_defaults_exits_78_naming_each_problem(
    name: str, tmp_path: Path
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "STRIPE_", "ADMIN_"))},
        "CARELINE_ENV": "production",
        "NATS_URL": "nats://127.0.0.1:1",  # nothing listens: a service that tried would hang
        "MONGODB_URI": "mongodb://127.0.0.1:1",
        "TWILIO_AUTH_TOKEN": "CHANGE-ME",
        "ADMIN_JWT_SECRET": "short",
    }
    process = ServiceProcess(name, env, tmp_path / f"{name}.log")
    started = time.monotonic()
    process.start()
    assert process.proc is not None
    assert process.proc.wait(30) == EX_CONFIG
    assert time.monotonic() - started < 30
    lines = (tmp_path / f"{name}.log").read_text().splitlines()
    refusals = [line for line in lines if line.startswith(f"careline-{name}: refusing to start: ")]
    reasons = "\n".join(refusals)
    for expected in (
        "TWILIO_ACCOUNT_SID is missing",
        "TWILIO_AUTH_TOKEN is a placeholder",
        "STRIPE_API_KEY is missing",
        "STRIPE_WEBHOOK_SECRET is missing",
        "ADMIN_JWT_SECRET is shorter than 32 bytes",
        "PHONE_HASH_KEY is missing",
        "TWILIO_FROM_NUMBER is the sandbox default",
        "PUBLIC_BASE_URL is not https",
    ):
        assert expected in reasons, reasons
    assert "Traceback" not in "\n".join(lines)
    assert "CHANGE-ME" not in "\n".join(lines)  # a problem is named, never its value
