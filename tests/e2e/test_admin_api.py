"""The admin API on real processes: every route refuses the unauthenticated and the unauthorised,
an admin can read, retry, grant, revoke and erase across all four services, a revoked bootstrap
admin stays out, and every read is audited without a phone number."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from careline_platform.admin_tokens import mint_token
from careline_platform.phone import phone_hash
from careline_testing.fakes import FakeTwilio
from careline_testing.processes import Cluster
from careline_testing.waiting import eventually

from .helpers import databases
from .test_conversation_journey import Phone

pytestmark = pytest.mark.asyncio
SECRET = "e2e-admin-jwt-secret-0123456789abcdef"
BOOTSTRAP_ADMIN = "usr_bootstrap_admin"
REVOKED_ADMIN, ERASED_ADMIN = "usr_bootstrap_revoked", "usr_bootstrap_erased"
HASH_KEY = "e2e-phone-hash-key-0123456789abcdef"
CRISIS = "i cant do this anymore. i have her sleeping pills and i want to die tonight"


@pytest.fixture
def cluster_env() -> dict[str, str]:
    listed = ",".join((BOOTSTRAP_ADMIN, REVOKED_ADMIN, ERASED_ADMIN))
    return {"ADMIN_JWT_SECRET": SECRET, "ADMIN_USER_IDS": listed, "PHONE_HASH_KEY": HASH_KEY}


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
        admin_only |= {("PUT", "/admin/oncall"), ("GET", "/admin/audit")}
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


async def test_a_revoked_or_erased_bootstrap_admin_stays_out_across_a_restart(
    cluster: Cluster, mongo: AsyncMongoClient[Any]
) -> None:
    db = databases(mongo, cluster)
    await db["ingress"].users.insert_one({"_id": ERASED_ADMIN, "phone": "+14155550196", "roles": []})
    admin = bearer(BOOTSTRAP_ADMIN)
    async with httpx.AsyncClient(timeout=15) as client:
        base = cluster.base_url

        async def statuses() -> list[int]:
            users = (BOOTSTRAP_ADMIN, REVOKED_ADMIN, ERASED_ADMIN)
            return [(await client.get(f"{base}/admin/audit", headers=bearer(u))).status_code for u in users]

        assert await statuses() == [200, 200, 200]  # ADMIN_USER_IDS let all three in
        revoked = await client.delete(f"{base}/admin/users/{REVOKED_ADMIN}/roles/admin", headers=admin)
        assert revoked.status_code == 200  # a bootstrap admin without an identity can be revoked
        erased = await client.post(f"{base}/admin/caregivers/{ERASED_ADMIN}/erase", headers=admin)
        assert erased.status_code == 200
        assert await statuses() == [200, 403, 403]

        cluster.processes["ingress"].stop()
        cluster.start(("ingress",))  # ADMIN_USER_IDS still lists all three
        assert await statuses() == [200, 403, 403]
        roles = await client.get(f"{base}/admin/users/{REVOKED_ADMIN}/roles", headers=admin)
        assert roles.status_code == 200 and roles.json()["roles"] == []
        trail = await client.get(f"{base}/admin/audit", params={"user_id": REVOKED_ADMIN}, headers=admin)
        actions = [(e["action"], e["actor"], e["role"], e["detail"]) for e in trail.json()["entries"]]
        assert actions == [
            ("roles.read", BOOTSTRAP_ADMIN, "admin", {}),
            ("role.revoke", BOOTSTRAP_ADMIN, "admin", {"role": "admin"}),
        ]


async def test_every_read_is_audited_once_and_no_entry_holds_a_phone_number(
    cluster: Cluster, fake_twilio: tuple[FakeTwilio, str], mongo: AsyncMongoClient[Any]
) -> None:
    twilio, _ = fake_twilio
    db = databases(mongo, cluster)
    log = db["ingress"].audit_log
    await db["ingress"].users.insert_one(
        {"_id": "usr_support", "phone": "+14155550197", "roles": ["support"]}
    )
    support, admin = bearer("usr_support"), bearer(BOOTSTRAP_ADMIN)
    number = "+14155550183"
    async with httpx.AsyncClient(timeout=15) as client:
        base = cluster.base_url
        await Phone(client, cluster, twilio, number).text(CRISIS)  # a conversation and an alert
        user = await db["ingress"].users.find_one({"phone": number})
        assert user is not None
        user_id = user["_id"]
        alert = await eventually(lambda: db["conversation"].crisis_alerts.find_one({"user_id": user_id}))

        reads = {  # every read route: who calls it, the entry it must leave, the caregiver named
            "/admin/jobs": (support, "jobs.read", None),
            "/admin/caregivers/{user_id}": (support, "caregiver.read", user_id),
            "/admin/users/{user_id}/roles": (admin, "roles.read", user_id),
            "/admin/metrics": (support, "metrics.read", None),
            "/admin/crisis-alerts": (support, "alerts.read", None),
            "/admin/crisis-alerts/{alert_id}": (support, "alert.read", user_id),
            "/admin/oncall": (support, "oncall.read", None),
        }
        spec = (await client.get(f"{base}/openapi.json")).json()["paths"]
        gets = {p for p, methods in spec.items() if p.startswith("/admin") and "get" in methods}
        assert gets - {"/admin/audit"} == set(reads), "a new read route: audit it and list it here"
        for template, (headers, action, about) in reads.items():
            path = template.format(user_id=user_id, alert_id=alert["_id"])
            before = await log.count_documents({})
            resp = await client.get(f"{base}{path}", headers=headers)
            assert resp.status_code == 200, (path, resp.text)
            entries = await log.find().sort("_id", 1).skip(before).to_list()
            assert [(e["action"], e["user_id"]) for e in entries] == [(action, about)], path
            acted = ("usr_support", "support") if headers is support else (BOOTSTRAP_ADMIN, "admin")
            assert (entries[0]["actor"], entries[0]["role"]) == acted, path
        listed = await log.find_one({"action": "alerts.read"})
        assert listed is not None and user_id in listed["detail"]["user_ids"]

        # the lookup: exact E.164 only, found or not audited with the number's keyed hash
        lookup = f"{base}/admin/caregivers/lookup"
        found = await client.post(lookup, headers=support, json={"phone": number})
        assert found.status_code == 200 and found.json()["user_id"] == user_id
        for bad in ("4155550183", "5551234567", "+1 415 555 0183", "+1-415-555-0183"):
            refused = await client.post(lookup, headers=support, json={"phone": bad})
            assert refused.status_code == 400 and "E.164" in refused.json()["detail"], bad
        missing = await client.post(lookup, headers=support, json={"phone": "+14155550999"})
        assert missing.status_code == 404
        lookups = await log.find({"action": "caregiver.lookup"}).to_list()
        assert [(e["user_id"], e["detail"]) for e in lookups] == [
            (user_id, {"phone_hash": phone_hash(number, HASH_KEY.encode()), "found": True}),
            (None, {"phone_hash": phone_hash("+14155550999", HASH_KEY.encode()), "found": False}),
        ]

        # the log: admins only, newest first, paged
        assert (await client.get(f"{base}/admin/audit", headers=support)).status_code == 403
        first = (await client.get(f"{base}/admin/audit", params={"limit": 4}, headers=admin)).json()
        second = await client.get(
            f"{base}/admin/audit", params={"limit": 50, "before": first["next"]}, headers=admin
        )
        pages = first["entries"] + second.json()["entries"]
        assert [e["action"] for e in pages[:2]] == ["caregiver.lookup", "caregiver.lookup"]
        assert len(pages) == await log.count_documents({}) == 9 and second.json()["next"] is None
        assert [e["at"] for e in pages] == sorted((e["at"] for e in pages), reverse=True)
        assert len({e["id"] for e in pages}) == 9
        bad_cursor = await client.get(f"{base}/admin/audit", params={"before": "nope"}, headers=admin)
        assert bad_cursor.status_code == 400

    everything = str(await log.find().to_list()) + str(pages)
    for secret in ("4155550183", "4155550999", "4155550197", "sleeping pills"):
        assert secret not in everything
