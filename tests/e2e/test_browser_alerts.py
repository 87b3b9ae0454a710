"""A crisis alert worked from the dashboard, in headless Chromium: the on-call person follows
the page's link, signs in, acknowledges, texts the caregiver and resolves the alert; the effects
are checked where they land (the alert in MongoDB, the SMS at the fake Twilio, the audit log)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from careline_platform.admin_tokens import mint_token
from careline_testing.fakes import FakeTwilio
from careline_testing.processes import Cluster
from careline_testing.waiting import eventually

from .helpers import databases
from .test_browser_faces import screenshot, wait
from .test_conversation_journey import Phone

pytestmark = pytest.mark.asyncio
SECRET = "e2e-admin-jwt-secret-browser-alerts-0123"
ADMIN, SUPPORT = "usr_browser_alerts_admin", "usr_on_call"
ON_CALL = "+14155550301"
CAREGIVER = "+14155550310"
CRISIS_WORDS = "i am going to kill myself tonight"


@pytest.fixture
def cluster_env() -> dict[str, str]:
    return {"ADMIN_JWT_SECRET": SECRET, "ADMIN_USER_IDS": ADMIN}


def text_of(driver: WebDriver, element_id: str) -> str:
    return str(driver.find_element(By.ID, element_id).text)


async def test_on_call_staff_acknowledge_message_and_resolve_an_alert_from_the_dashboard(
    cluster: Cluster, fake_twilio: tuple[FakeTwilio, str], browser: WebDriver, mongo: AsyncMongoClient[Any]
) -> None:
    twilio, _ = fake_twilio
    db = databases(mongo, cluster)
    await db["ingress"].users.insert_one({"_id": SUPPORT, "phone": "+14155550390", "roles": ["support"]})
    admin = {"Authorization": f"Bearer {mint_token(SECRET, ADMIN, timedelta(hours=1))}"}
    async with httpx.AsyncClient(timeout=15) as client:
        roster = {"people": [{"name": "Sam Okafor", "phone": ON_CALL, "order": 1}]}
        assert (
            await client.put(f"{cluster.base_url}/admin/oncall", json=roster, headers=admin)
        ).status_code == 200
        caregiver = Phone(client, cluster, twilio, CAREGIVER)
        await caregiver.text("hi")
        await caregiver.text(CRISIS_WORDS)
    await eventually(lambda: len(twilio.to(ON_CALL)) == 1, timeout_s=20)
    link = re.search(r"(http://\S+/admin/ui#alert=\S+)", twilio.to(ON_CALL)[0].body)
    assert link is not None
    alert_id = link.group(1).split("#alert=")[1]

    # the page's link opens the dashboard at the alert, once signed in
    browser.get(link.group(1))
    browser.find_element(By.ID, "token").send_keys(mint_token(SECRET, SUPPORT, timedelta(minutes=30)))
    browser.find_element(By.ID, "signin").click()
    wait(browser).until(lambda d: d.find_element(By.ID, "alert-detail").is_displayed())
    assert text_of(browser, "alert-id") == alert_id and text_of(browser, "alert-status") == "open"
    assert "Sam Okafor" in text_of(browser, "alert-pages")
    assert "Sam Okafor" in text_of(browser, "oncall")

    browser.find_element(By.ID, "ack").click()
    wait(browser).until(lambda d: text_of(d, "alert-status") == "acknowledged")
    alert = await db["conversation"].crisis_alerts.find_one({"_id": alert_id})
    assert alert is not None and (alert["status"], alert["acknowledged_by"]) == ("acknowledged", SUPPORT)

    words = "Hi, this is Sam from Careline. I just read your message. Are you safe right now?"
    browser.find_element(By.ID, "staff-text").send_keys(words)
    assert text_of(browser, "staff-count") == str(len(words))
    before = len(caregiver.replies())
    browser.find_element(By.ID, "send").click()
    wait(browser).until(lambda d: "on its way" in text_of(d, "alert-note"))
    await eventually(lambda: len(caregiver.replies()) == before + 1, timeout_s=20)
    assert caregiver.replies()[-1] == words

    Select(browser.find_element(By.ID, "outcome")).select_by_value("reached_988")
    browser.find_element(By.ID, "note").send_keys("Stayed on the line while she called 988.")
    browser.find_element(By.ID, "resolve").click()
    wait(browser).until(lambda d: text_of(d, "alert-status") == "resolved")
    assert not browser.find_element(By.ID, "send").is_enabled()
    alert = await db["conversation"].crisis_alerts.find_one({"_id": alert_id})
    assert alert is not None
    assert (alert["status"], alert["outcome"], alert["resolved_by"]) == ("resolved", "reached_988", SUPPORT)
    assert alert["note"] == "Stayed on the line while she called 988."
    wait(browser).until(lambda d: "resolved" in d.find_element(By.ID, "alerts").text)
    browser.set_window_size(1280, 1000)  # the alert panel and the list in one picture
    browser.execute_script("document.getElementById('alert-detail').scrollIntoView()")
    screenshot(browser, "dashboard-alert")
    assert CAREGIVER not in browser.page_source and "kill myself" not in browser.page_source

    rows = (
        db["conversation"].audit_log.find({"ref": alert_id, "actor": SUPPORT}).sort([("at", 1), ("_id", 1)])
    )
    staff_rows = [(row["action"], row["detail"]) async for row in rows]
    assert [action for action, _ in staff_rows] == [
        "crisis.acknowledge",
        "crisis.staff_message",
        "crisis.resolve",
    ]
    assert staff_rows[2][1] == {"outcome": "reached_988"}
    assert words not in str(staff_rows)
