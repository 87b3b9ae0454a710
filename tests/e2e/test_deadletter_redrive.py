"""Re-driving a dead letter from the admin API and from the dashboard's button, on the four real
services: conversation dead-letters a malformed inbound text; the re-drive reaches conversation
again through ingress (the owner of ``sms.*``), and since the text is still malformed it dies
again, under its original id, in a letter of its own. Who may call the route (401/403) is
``test_admin_api``'s, which walks every admin route of the OpenAPI document."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import nats as nats_client
import pytest
from pymongo import AsyncMongoClient
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from careline_platform.admin_tokens import mint_token
from careline_testing.processes import Cluster
from careline_testing.servers import ServerProcess
from careline_testing.waiting import eventually

from .helpers import databases
from .test_browser_faces import wait

pytestmark = pytest.mark.asyncio
SECRET = "e2e-admin-jwt-secret-redrive-0123456789"
ADMIN, SUPPORT = "usr_redrive_admin", "usr_redrive_support"
SUBJECT = "sms.inbound.received.3"


@pytest.fixture
def cluster_env() -> dict[str, str]:
    return {"ADMIN_JWT_SECRET": SECRET, "ADMIN_USER_IDS": ADMIN}


def bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(SECRET, user, timedelta(hours=1))}"}


async def letters_of(nats: ServerProcess, msg_id: str) -> list[dict[str, Any]]:
    """Every letter in DEAD_LETTERS for ``msg_id``, oldest first."""
    nc = await nats_client.connect(nats.url)
    try:
        js = nc.jetstream()
        try:
            state = (await js.stream_info("DEAD_LETTERS")).state
        except nats_client.js.errors.NotFoundError:
            return []
        found = []
        for seq in range(max(state.first_seq, 1), state.last_seq + 1):
            letter = json.loads((await js.get_msg("DEAD_LETTERS", seq)).data)
            if letter["msg_id"] == msg_id:
                found.append({**letter, "seq": seq})
        return found
    finally:
        await nc.close()


async def poison(nats: ServerProcess, msg_id: str) -> dict[str, Any]:
    """A malformed inbound text, dead-lettered by conversation; its letter."""
    nc = await nats_client.connect(nats.url)
    try:
        await nc.jetstream().publish(SUBJECT, b'{"v": 1, "body": "no ids"}', headers={"Nats-Msg-Id": msg_id})
    finally:
        await nc.close()
    [letter] = await eventually(lambda: letters_of(nats, msg_id), timeout_s=30)
    return letter


async def test_the_admin_api_previews_and_redrives_a_dead_letter_and_audits_it(
    cluster: Cluster, nats: ServerProcess, mongo: AsyncMongoClient[Any]
) -> None:
    letter = await poison(nats, "poison-api-1")
    assert (letter["service"], letter["subject"]) == ("conversation", SUBJECT)
    assert letter["durable"] == "conversation-sms-inbound"
    url = f"{cluster.base_url}/admin/deadletters/redrive"
    async with httpx.AsyncClient(timeout=30) as client:
        preview = await client.post(
            url, json={"ids": ["poison-api-1"], "dry_run": True}, headers=bearer(ADMIN)
        )
        assert preview.status_code == 200, preview.text
        [shown] = preview.json()["letters"]
        assert (shown["seq"], shown["outcome"], shown["service"]) == (
            letter["seq"],
            "would_redrive",
            "conversation",
        )
        assert "no ids" not in preview.text  # the payload is never shown
        assert len(await letters_of(nats, "poison-api-1")) == 1

        anonymous = await client.post(url, json={"ids": ["poison-api-1"]})
        assert anonymous.status_code == 401
        nobody = {"_id": "usr_redrive_nobody", "phone": "+14155550392", "roles": []}
        await databases(mongo, cluster)["ingress"].users.insert_one(nobody)
        refused = await client.post(url, json={"ids": ["poison-api-1"]}, headers=bearer("usr_redrive_nobody"))
        assert refused.status_code == 403
        for bad, why in (
            ({}, "choose dead letters"),
            ({"subject": "a b"}, "pattern"),
            ({"seqs": [0]}, "seqs"),
        ):
            refused = await client.post(url, json=bad, headers=bearer(ADMIN))
            assert refused.status_code == 422 and why in refused.text, (bad, refused.text)

        done = await client.post(url, json={"seqs": [letter["seq"]]}, headers=bearer(ADMIN))
        assert done.status_code == 200, done.text
        [redriven] = done.json()["letters"]
        assert redriven["outcome"] == "redriven" and redriven["detail"].startswith(
            f"redrive:{letter['seq']}:"
        )

    # still malformed: conversation dies on it again, a new letter under the original id
    again = await eventually(lambda: _at_least(letters_of(nats, "poison-api-1"), 2), timeout_s=30)
    assert [a["service"] for a in again] == ["conversation", "conversation"]
    audit = await databases(mongo, cluster)["ingress"].audit_log.find({"actor": ADMIN}).to_list()
    actions = [row["action"] for row in audit]
    assert "deadletters.preview" in actions and "deadletters.redrive" in actions


async def _at_least(found: Any, n: int) -> list[dict[str, Any]] | None:
    letters: list[dict[str, Any]] = await found
    return letters if len(letters) >= n else None


async def test_the_dashboard_button_redrives_the_period_s_dead_letters(
    cluster: Cluster, nats: ServerProcess, browser: WebDriver, mongo: AsyncMongoClient[Any]
) -> None:
    db = databases(mongo, cluster)
    await db["ingress"].users.insert_one({"_id": SUPPORT, "phone": "+14155550391", "roles": ["support"]})
    letter = await poison(nats, "poison-ui-1")

    browser.get(f"{cluster.base_url}/admin/ui")
    browser.find_element(By.ID, "token").send_keys(mint_token(SECRET, SUPPORT, timedelta(minutes=30)))
    browser.find_element(By.ID, "signin").click()
    wait(browser).until(lambda d: d.find_element(By.ID, "dl-preview").is_displayed())
    Select(browser.find_element(By.ID, "dl-since")).select_by_value("1")
    browser.find_element(By.ID, "dl-preview").click()
    wait(browser).until(lambda d: "letter(s) found" in d.find_element(By.ID, "dl-note").text)
    table = browser.find_element(By.ID, "deadletters").text
    assert "poison-ui-1" in table and "would redrive" in table and SUBJECT in table
    assert len(await letters_of(nats, "poison-ui-1")) == 1

    browser.find_element(By.ID, "dl-redrive").click()
    browser.switch_to.alert.accept()
    wait(browser).until(lambda d: "Re-drove 1 of 1" in d.find_element(By.ID, "dl-note").text)
    assert "redriven" in browser.find_element(By.ID, "deadletters").text
    again = await eventually(lambda: _at_least(letters_of(nats, "poison-ui-1"), 2), timeout_s=30)
    assert again[0]["seq"] == letter["seq"] and again[1]["dead_at"] > letter["dead_at"]
    assert datetime.fromisoformat(again[1]["dead_at"]) <= datetime.now(UTC)
