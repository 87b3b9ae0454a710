"""A person behind every crisis alert, over the four services as processes and the fake Twilio.

Staff set the on-call roster through the admin API; a caregiver's crisis text pages the first
person at once (category, priority and a link; never the caregiver's words or number); time
moved past the escalation pages the second; an acknowledgement stops it. A low-priority alert
pages only after an hour without acknowledgement. Staff acknowledge, resolve and text the
caregiver through the API, never an opted-out number the caregiver has not written from since,
and every action lands in the audit log without message text.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from careline_contracts.jobs import CrisisAlertJob
from careline_platform.admin_tokens import mint_token
from careline_platform.jobs import new_job
from careline_testing.fakes import FakeTwilio
from careline_testing.processes import Cluster
from careline_testing.waiting import eventually

from .helpers import databases, move_clock
from .test_conversation_journey import Phone

pytestmark = pytest.mark.asyncio
SECRET = "e2e-admin-jwt-secret-paging-0123456789"
ADMIN, SUPPORT = "usr_paging_admin", "usr_paging_support"
ON_CALL = [
    {"name": "Ana Ruiz", "phone": "+14155550201", "order": 1},
    {"name": "Ben Cho", "phone": "(415) 555-0202", "order": 2},
]
FIRST, SECOND = "+14155550201", "+14155550202"
CRISIS_WORDS = "i am going to kill myself tonight"


@pytest.fixture
def cluster_env(clock_file: Path) -> dict[str, str]:
    return {
        "ADMIN_JWT_SECRET": SECRET,
        "ADMIN_USER_IDS": ADMIN,
        "CLOCK_OFFSET_FILE": str(clock_file),
        "JOBS_POLL_INTERVAL_S": "0.5",
    }


def bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(SECRET, user, timedelta(hours=2))}"}


class Staff:
    """The admin API, as staff use it."""

    def __init__(self, client: httpx.AsyncClient, cluster: Cluster, user: str) -> None:
        self.client, self.base, self.headers = client, f"{cluster.base_url}/admin", bearer(user)

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await self.client.request(method, f"{self.base}{path}", headers=headers, **kwargs)

    async def alert(self, alert_id: str) -> dict[str, Any]:
        resp = await self.call("GET", f"/crisis-alerts/{alert_id}")
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body


async def grant_support(db: dict[str, Any]) -> None:
    await db["ingress"].users.insert_one({"_id": SUPPORT, "phone": "+14155550290", "roles": ["support"]})


async def alert_of(db: dict[str, Any], user_id: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def opened() -> bool:
        nonlocal found
        found = await db["conversation"].crisis_alerts.find_one({"user_id": user_id, "status": "open"}) or {}
        return bool(found)

    await eventually(opened, timeout_s=20)
    return found


async def job_done(db: dict[str, Any], key: str) -> dict[str, Any]:
    job: dict[str, Any] = {}

    async def completed() -> bool:
        nonlocal job
        job = await db["conversation"].jobs.find_one({"_id": key}) or {}
        return job.get("status") == "completed"

    await eventually(completed, timeout_s=20)
    return job


async def actions(db: dict[str, Any], ref: str) -> list[tuple[str, str]]:
    rows = db["conversation"].audit_log.find({"ref": ref}).sort([("at", 1), ("_id", 1)])
    return [(row["action"], row["actor"]) async for row in rows]


async def test_a_crisis_pages_the_roster_escalates_and_stops_when_acknowledged(
    cluster: Cluster, fake_twilio: tuple[FakeTwilio, str], mongo: AsyncMongoClient[Any], clock_file: Path
) -> None:
    twilio, _ = fake_twilio
    db = databases(mongo, cluster)
    await grant_support(db)
    async with httpx.AsyncClient(timeout=15) as client:
        admin, support = Staff(client, cluster, ADMIN), Staff(client, cluster, SUPPORT)
        assert (await support.call("PUT", "/oncall", json={"people": ON_CALL})).status_code == 403
        put = await admin.call("PUT", "/oncall", json={"people": ON_CALL})
        assert put.status_code == 200, put.text
        assert [p["phone"] for p in put.json()["people"]] == [FIRST, SECOND]
        assert put.json()["updated_by"] == ADMIN
        assert (await support.call("GET", "/oncall")).json()["people"] == put.json()["people"]

        caregiver = Phone(client, cluster, twilio, "+14155550210")
        await caregiver.text("hi")
        assert "988" in (await caregiver.text(CRISIS_WORDS) or "")
        user = await db["ingress"].users.find_one({"phone": caregiver.number})
        assert user is not None
        alert = await alert_of(db, user["_id"])
        alert_id = alert["_id"]

        await eventually(lambda: len(twilio.to(FIRST)) == 1, timeout_s=20)
        page = twilio.to(FIRST)[0].body
        assert alert["category"] in page and "HIGH priority" in page
        assert f"{cluster.base_url}/admin/ui#alert={alert_id}" in page
        assert "kill" not in page.lower() and "tonight" not in page
        assert "5550210" not in page and twilio.to(SECOND) == []

        move_clock(clock_file, timedelta(minutes=11))  # Ana did not acknowledge within ten minutes
        await eventually(lambda: len(twilio.to(SECOND)) == 1, timeout_s=20)
        assert "escalated" in twilio.to(SECOND)[0].body and len(twilio.to(FIRST)) == 1

        acked = await support.call("POST", f"/crisis-alerts/{alert_id}/acknowledge")
        assert acked.status_code == 200, acked.text
        assert (acked.json()["status"], acked.json()["acknowledged_by"]) == ("acknowledged", SUPPORT)
        assert [(p["name"], p["round"], p["escalated"]) for p in acked.json()["pages"]] == [
            ("Ana Ruiz", 1, False),
            ("Ben Cho", 1, True),
        ]

        move_clock(clock_file, timedelta(minutes=25))  # Ben's time is up too: the check finds it acknowledged
        check = await job_done(db, f"crisis:escalate:{alert_id}:1:1")
        assert check["result"]["skipped"] == "acknowledged"
        assert (len(twilio.to(FIRST)), len(twilio.to(SECOND))) == (1, 1)

        listed = (await support.call("GET", "/crisis-alerts", params={"status": "acknowledged"})).json()
        assert [a["id"] for a in listed["alerts"]] == [alert_id]
        assert "kill" not in str(listed) and caregiver.number not in str(listed)

    assert await actions(db, alert_id) == [
        ("crisis.open", "system"),
        ("crisis.page", "system"),
        ("crisis.escalate", "system"),
        ("crisis.page", "system"),
        ("crisis.acknowledge", SUPPORT),
    ]
    roster_rows = [r async for r in db["conversation"].audit_log.find({"action": "oncall.replace"})]
    assert [(r["actor"], r["detail"]["people"]) for r in roster_rows] == [(ADMIN, 2)]
    logs = (cluster.log_dir / "conversation.log").read_text()
    assert CRISIS_WORDS not in logs and FIRST not in logs and "Ana Ruiz" not in logs


async def test_a_low_priority_alert_pages_only_after_an_unacknowledged_hour(
    cluster: Cluster, fake_twilio: tuple[FakeTwilio, str], mongo: AsyncMongoClient[Any], clock_file: Path
) -> None:
    twilio, _ = fake_twilio
    db = databases(mongo, cluster)
    async with httpx.AsyncClient(timeout=15) as client:
        admin = Staff(client, cluster, ADMIN)
        assert (await admin.call("PUT", "/oncall", json={"people": ON_CALL[:1]})).status_code == 200
        caregiver = Phone(client, cluster, twilio, "+14155550211")
        await caregiver.text("hi")
        user = await db["ingress"].users.find_one({"phone": caregiver.number})
        assert user is not None
        # what the turn owes for an indirect-tier crisis: a low-priority alert job
        for sid in ("SMlowquiet", "SMlowhandled"):
            payload = CrisisAlertJob(
                user_id=user["_id"], message_sid=sid, category="suicide_self", tier="indirect", priority="low"
            )
            job = new_job(f"crisis:alert:{sid}", "crisis.alert", payload.to_payload(), now=datetime.now(UTC))
            await db["conversation"].jobs.insert_one(job)
        quiet, handled = "crisis:alert:SMlowquiet", "crisis:alert:SMlowhandled"
        await job_done(db, quiet)
        await job_done(db, handled)
        for alert_id in (quiet, handled):
            alert = await admin.alert(alert_id)
            assert (alert["priority"], alert["status"], alert["pages"]) == ("low", "open", [])
            check = await db["conversation"].jobs.find_one({"_id": f"crisis:page:{alert_id}:unacknowledged"})
            assert check is not None and check["status"] == "pending"
            due = (
                check["next_attempt_at"]
                - (await db["conversation"].crisis_alerts.find_one({"_id": alert_id}))["opened_at"]
            )
            assert due == timedelta(minutes=60)
        acked = await admin.call("POST", f"/crisis-alerts/{handled}/acknowledge")
        assert acked.status_code == 200

        move_clock(clock_file, timedelta(minutes=59))
        await asyncio.sleep(2.0)  # four polls of the job worker: nothing is due yet
        assert twilio.to(FIRST) == []

        move_clock(clock_file, timedelta(minutes=61))
        await eventually(lambda: len(twilio.to(FIRST)) == 1, timeout_s=20)
        page = twilio.to(FIRST)[0].body
        assert "LOW priority" in page and f"#alert={quiet}" in page
        skipped = await job_done(db, f"crisis:page:{handled}:unacknowledged")
        assert skipped["result"]["skipped"] == "acknowledged"
        assert len(twilio.to(FIRST)) == 1
        assert [p["name"] for p in (await admin.alert(quiet))["pages"]] == ["Ana Ruiz"]


async def test_staff_acknowledge_resolve_and_text_the_caregiver_but_never_an_opted_out_number(
    cluster: Cluster, fake_twilio: tuple[FakeTwilio, str], mongo: AsyncMongoClient[Any]
) -> None:
    twilio, _ = fake_twilio
    db = databases(mongo, cluster)
    await grant_support(db)
    async with httpx.AsyncClient(timeout=15) as client:
        support = Staff(client, cluster, SUPPORT)
        caregiver = Phone(client, cluster, twilio, "+14155550212")
        await caregiver.text("hi")
        await caregiver.text(CRISIS_WORDS)
        user = await db["ingress"].users.find_one({"phone": caregiver.number})
        assert user is not None
        alert_id = (await alert_of(db, user["_id"]))["_id"]

        words = "Hi, this is Sam from Careline. I read your message. Can I call you?"
        path = f"/crisis-alerts/{alert_id}/message"
        for bad in ({"text": ""}, {"text": "   "}, {"text": "x" * 481}, {"words": "hi"}):
            assert (await support.call("POST", path, json=bad)).status_code == 422, bad
        unknown = await support.call(
            "POST", "/crisis-alerts/crisis:alert:SMnope/message", json={"text": "hi"}
        )
        assert unknown.status_code == 404
        before = len(caregiver.replies())
        sent = await support.call("POST", path, json={"text": words}, headers={"Idempotency-Key": "req-1"})
        assert sent.status_code == 200, sent.text
        assert sent.json()["queued"] is True
        again = await support.call("POST", path, json={"text": words}, headers={"Idempotency-Key": "req-1"})
        assert again.status_code == 200 and again.json()["queued"] is False
        await eventually(lambda: len(caregiver.replies()) == before + 1, timeout_s=20)
        assert caregiver.replies()[-1] == words
        state = await db["conversation"].conversation_state.find_one({"_id": user["_id"]})
        assert state is not None
        assert {"dir": "out", "by": "staff", "text": words} == {
            k: state["recent_messages"][-1][k] for k in ("dir", "by", "text")
        }

        # STOP: refused, also after a message the line does not answer, until the caregiver
        # writes after the opt-out (the opt-out's time is set here as the STOP handler sets it)
        await caregiver.text("STOP")
        refused = await support.call("POST", path, json={"text": "Are you safe?"})
        assert refused.status_code == 409 and "opted out" in refused.json()["detail"]
        stopped = await db["conversation"].conversation_state.find_one({"_id": user["_id"]})
        assert stopped is not None and stopped["opted_out"] is True
        await db["conversation"].conversation_state.update_one(
            {"_id": user["_id"], "opted_out_at": None}, {"$set": {"opted_out_at": stopped["last_inbound_at"]}}
        )
        assert (await support.call("POST", path, json={"text": "Are you safe?"})).status_code == 409
        await caregiver.text("sorry, are you still there?", expect_reply=False)
        count = len(caregiver.replies())
        allowed = await support.call("POST", path, json={"text": "Yes, we are here. Are you safe?"})
        assert allowed.status_code == 200, allowed.text
        await eventually(lambda: len(caregiver.replies()) == count + 1, timeout_s=20)

        acked = await support.call("POST", f"/crisis-alerts/{alert_id}/acknowledge")
        assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
        bad_outcome = await support.call(
            "POST", f"/crisis-alerts/{alert_id}/resolve", json={"outcome": "fine"}
        )
        assert bad_outcome.status_code == 422
        resolved = await support.call(
            "POST", f"/crisis-alerts/{alert_id}/resolve", json={"outcome": "safe", "note": "spoke by phone"}
        )
        assert resolved.status_code == 200, resolved.text
        body = resolved.json()
        assert (body["status"], body["outcome"], body["note"], body["resolved_by"]) == (
            "resolved",
            "safe",
            "spoke by phone",
            SUPPORT,
        )
        assert body["staff_messages"] == 2
        for method_path, payload in (
            (f"/crisis-alerts/{alert_id}/resolve", {"outcome": "other"}),
            (f"/crisis-alerts/{alert_id}/acknowledge", None),
            (path, {"text": "one more thing"}),
        ):
            late = await support.call("POST", method_path, json=payload)
            assert late.status_code == 409, method_path

    done = await actions(db, alert_id)
    assert ("crisis.page_missed", "system") in done  # nobody is on call in this test (tried each minute)
    assert [a for a in done if a[0] != "crisis.page_missed"] == [
        ("crisis.open", "system"),
        ("crisis.staff_message", SUPPORT),
        ("crisis.staff_message", SUPPORT),
        ("crisis.acknowledge", SUPPORT),
        ("crisis.resolve", SUPPORT),
    ]
    rows = [r async for r in db["conversation"].audit_log.find({"ref": alert_id})]
    assert "Sam from Careline" not in str(rows) and "spoke by phone" not in str(rows)
    for name in ("ingress", "conversation"):
        log = (cluster.log_dir / f"{name}.log").read_text()
        assert "Sam from Careline" not in log and "spoke by phone" not in log, name
