"""Schemathesis against the ingress OpenAPI document, on the real services: no request it
generates (valid or not, with and without an admin token) gets a 5xx answer."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from careline_platform.admin_tokens import mint_token
from careline_testing.processes import Cluster
from careline_testing.signing import inbound_sms_params

from .helpers import post_sms

pytestmark = pytest.mark.asyncio
SECRET = "e2e-admin-jwt-secret-fuzz-0123456789ab"
ADMIN = "usr_fuzz_admin"
REPORTS = Path(__file__).resolve().parents[2] / "artifacts" / "schemathesis"
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@pytest.fixture
def cluster_env() -> dict[str, str]:
    return {"ADMIN_JWT_SECRET": SECRET, "ADMIN_USER_IDS": ADMIN}


def fuzz(cluster: Cluster, name: str, *headers: str) -> subprocess.CompletedProcess[str]:
    """One schemathesis run: every operation, positive and negative data, only the 5xx check."""
    command = [
        *(str(SCHEMATHESIS), "run", f"{cluster.base_url}/openapi.json"),
        *("--checks", "not_a_server_error", "--max-examples", "20", "--seed", "20261126"),
        *("--workers", "1", "--request-timeout", "20", "--generation-database", "none", "--no-color"),
        *("--report", "junit", "--report-junit-path", str(REPORTS / f"{name}.xml")),
    ]
    for header in headers:
        command += ["--header", header]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow  # started first (tests/conftest.py)
async def test_no_generated_request_gets_a_server_error(cluster: Cluster) -> None:
    async with httpx.AsyncClient(timeout=10) as client:  # a caregiver for the routes to find
        resp = await post_sms(client, cluster, inbound_sms_params("+14155550177", "hi"))
        assert resp.status_code == 200
    REPORTS.mkdir(parents=True, exist_ok=True)
    token = mint_token(SECRET, ADMIN, timedelta(hours=1))
    for name, headers in (("anonymous", ()), ("admin", (f"Authorization: Bearer {token}",))):
        run = fuzz(cluster, name, *headers)
        assert run.returncode == 0, f"{name}: schemathesis found failures\n{run.stdout[-6000:]}"
        report = (REPORTS / f"{name}.xml").read_text()
        operations = sum(int(n) for n in re.findall(r'<testsuite\b[^>]*\btests="(\d+)"', report))
        assert operations >= 12, f"{name}: only {operations} operations were tested"
