"""The admin API on real processes: every route refuses the unauthenticated and the unauthorised,
and an admin can read, retry, grant, revoke and erase across all four services."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from careline_platform.admin_tokens import mint_token
from careline_testing.fakes import FakeTwilio
from careline_testing.processes import Cluster
from careline_testing.waiting import eventually

from .helpers import databases
from .test_conversation_journey import Phone

pytestmark = pytest.mark.asyncio
SECRET = "e2e-admin-jwt-secret-0123456789abcdef"
BOOTSTRAP_ADMIN = "usr_bootstrap_admin"


@pytest.fixture
def cluster_env() -> dict[str, str]:
    return {"ADMIN_JWT_SECRET": SECRET, "ADMIN_USER_IDS": BOOTSTRAP_ADMIN}


THREE_YEARS = (timedelta(days=3 * 365), timedelta(days=3 * 365))  # ttl, and the cap it was minted under


def bearer(user: str, secret: str = SECRET, ttl: timedelta = timedelta(hours=1)) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(secret, user, ttl)}"}


async def admin_routes(client: httpx.AsyncClient, cluster: Cluster) -> list[tuple[str, str]]:
    spec = (await client.get(f"{cluster.base_url}/openapi.json")).json()
    routes = []
    for path, methods in spec["paths"].items():
        if path.startswith("/admin"):
            concrete = re.sub(r"\{[^}]+\}", "x", path).replace("/roles/x", "/roles/support")
            routes += [(method.upper(), concrete) for method in methods]
    return routes


async def test_every_admin_route_refuses_without_a_valid_token_and_role(
    cluster: Cluster, mongo: AsyncMongoClient[Any]
) -> None:
    db = databases(mongo, cluster)
    await db["ingress"].users.insert_one(
        {"_id": "usr_support", "phone": "+14155550190", "roles": ["support"]}
    )
    await db["ingress"].users.insert_one({"_id": "usr_nobody", "phone": "+14155550191", "roles": []})
    async with httpx.AsyncClient(timeout=10) as client:
        routes = await admin_routes(client, cluster)
        assert len(routes) >= 8
        admin_only = {("POST", "/admin/caregivers/x/erase"), ("GET", "/admin/users/x/roles")}
        admin_only |= {("PUT", "/admin/oncall")}
        admin_only |= {(m, p) for m, p in routes if "/roles" in p}
        for method, path in routes:
            url = f"{cluster.base_url}{path}"
            cases = {
                "no token": {},
                "not a bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
                "garbage": {"Authorization": "Bearer not.a.jwt"},
                "wrong secret": bearer(BOOTSTRAP_ADMIN, secret="another-secret-0123456789abcdef0123"),
                "expired": bearer(BOOTSTRAP_ADMIN, ttl=timedelta(seconds=-10)),
                "three years": {
                    "Authorization": f"Bearer {mint_token(SECRET, BOOTSTRAP_ADMIN, *THREE_YEARS)}"
                },
            }
            for case, headers in cases.items():
                resp = await client.request(method, url, headers=headers, json={"role": "support"})
                assert resp.status_code == 401, (method, path, case, resp.status_code)
            nobody = await client.request(method, url, headers=bearer("usr_nobody"), json={"role": "support"})
            assert nobody.status_code == 403, (method, path, "no role")
            if (method, path) in admin_only:
                support = await client.request(
                    method, url, headers=bearer("usr_support"), json={"role": "support"}
                )
                assert support.status_code == 403, (method, path, "support on an admin route")


async def test_an_admin_reads_retries_grants_and_erases_across_services(
    cluster: Cluster, fake_twilio: tuple[FakeTwilio, str], mongo: AsyncMongoClient[Any]
) -> None:
    twilio, _ = fake_twilio
    db = databases(mongo, cluster)
    admin = bearer(BOOTSTRAP_ADMIN)
    async with httpx.AsyncClient(timeout=15) as client:
        phone = Phone(client, cluster, twilio, "+14155550181")
        await phone.text("hi")
        await phone.text("Ana")
        user = await db["ingress"].users.find_one({"phone": "+14155550181"})
        assert user is not None
        user_id = user["_id"]

        # a reply Twilio refuses for good becomes a dead job, visible and retriable from the API
        twilio.fail_next, twilio.fail_status, twilio.fail_code = 1, 400, 21610
        await phone.text("my mom", expect_reply=False)
        listed: dict[str, Any] = {}

        async def dead_job_listed() -> bool:
            nonlocal listed
            listed = (await client.get(f"{cluster.base_url}/admin/jobs", headers=admin)).json()
            return any(j["status"] == "dead" for j in listed["jobs"]["conversation"])

        await eventually(dead_job_listed, timeout_s=20)
        dead = next(j for j in listed["jobs"]["conversation"] if j["status"] == "dead")
        assert "21610" in (dead["last_error"] or "") and "+1415" not in str(listed)
        retry = await client.post(
            f"{cluster.base_url}/admin/jobs/conversation/{dead['key']}/retry", headers=admin
        )
        assert retry.status_code == 200
        await eventually(lambda: len(phone.replies()) == 3, timeout_s=20)  # the retried reply went out
        again = await client.post(
            f"{cluster.base_url}/admin/jobs/conversation/{dead['key']}/retry", headers=admin
        )
        assert again.status_code == 404  # nothing failed or dead under that key any more

        record: dict[str, Any] = {}

        async def every_slice_read() -> bool:  # billing and profile open theirs on their own clocks
            nonlocal record
            url = f"{cluster.base_url}/admin/caregivers/{user_id}"
            record = (await client.get(url, headers=admin)).json()
            return bool(record["billing"]["billing_account"] and record["profile"]["user_profile"])

        await eventually(every_slice_read, timeout_s=20)
        assert record["ingress"]["phone"] == "+14155550181"
        assert record["conversation"]["conversation_state"]["facts"]["first_name"] == "Ana"
        assert record["billing"]["billing_account"]["status"] == "trialing"
        assert record["profile"]["user_profile"]["_id"] == user_id

        # roles: grant support to the caregiver's identity, who may then read but not erase
        grant = await client.post(
            f"{cluster.base_url}/admin/users/{user_id}/roles", headers=admin, json={"role": "support"}
        )
        assert grant.status_code == 200
        bad = await client.post(
            f"{cluster.base_url}/admin/users/{user_id}/roles", headers=admin, json={"role": "owner"}
        )
        assert bad.status_code == 422
        support = bearer(user_id)
        assert (await client.get(f"{cluster.base_url}/admin/metrics", headers=support)).status_code == 200
        denied = await client.post(f"{cluster.base_url}/admin/caregivers/{user_id}/erase", headers=support)
        assert denied.status_code == 403
        revoke = await client.delete(f"{cluster.base_url}/admin/users/{user_id}/roles/support", headers=admin)
        assert revoke.status_code == 200
        assert (await client.get(f"{cluster.base_url}/admin/metrics", headers=support)).status_code == 403

        erased = await client.post(f"{cluster.base_url}/admin/caregivers/{user_id}/erase", headers=admin)
        assert erased.status_code == 200
        body = erased.json()
        assert body["complete"] is True and set(body["confirmed"]) == {
            "ingress",
            "conversation",
            "billing",
            "profile",
        }
        assert body["confirmed"]["profile"]["user_profiles"] == 1
        gone = await client.get(f"{cluster.base_url}/admin/caregivers/{user_id}", headers=admin)
        assert gone.status_code == 404
    assert await db["conversation"].conversation_state.count_documents({"_id": user_id}) == 0
    assert await db["billing"].billing_accounts.count_documents({"_id": user_id}) == 0
    assert await db["profile"].user_profiles.count_documents({"_id": user_id}) == 0
