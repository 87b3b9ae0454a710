"""The two faces in a real headless Chromium (Debian's, driven by Selenium through ChromeDriver).

The simulator texts the line through the real signed Twilio webhook and shows the replies
live; the dashboard signs in with a token and shows rollups, crisis alerts and failed jobs
with a working retry button. Screenshots land in ``artifacts/screenshots/``. The ``browser``
fixture is in ``conftest.py``; ``test_browser_alerts.py`` works a crisis alert from the dashboard.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from careline_platform.admin_tokens import mint_token
from careline_platform.jobs import new_job
from careline_testing.processes import Cluster
from careline_testing.waiting import eventually

from .helpers import databases

pytestmark = pytest.mark.asyncio
SECRET = "e2e-admin-jwt-secret-browser-0123456789"
ADMIN = "usr_browser_admin"
PHONE = "+14155550199"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.fixture
def cluster_env() -> dict[str, str]:
    # no Twilio credential: the sandbox, where the simulator is served and replies stay local
    no_twilio = {"TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": ""}
    return {**no_twilio, "ADMIN_JWT_SECRET": SECRET, "ADMIN_USER_IDS": ADMIN}


def wait(driver: WebDriver, timeout_s: float = 30) -> WebDriverWait[WebDriver]:
    return WebDriverWait(driver, timeout_s, poll_frequency=0.2)


def replies(driver: WebDriver) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#thread .msg.in")]


def text_the_line(driver: WebDriver, body: str, expect_replies: int) -> str:
    box = driver.find_element(By.ID, "text")
    box.send_keys(body, Keys.ENTER)
    wait(driver).until(lambda d: len(replies(d)) >= expect_replies)
    return replies(driver)[expect_replies - 1]


def screenshot(driver: WebDriver, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    assert driver.save_screenshot(str(path)), f"no screenshot written to {path}"
    assert path.stat().st_size > 10_000  # a rendered page, not a blank one
    return path


def chart_values(driver: WebDriver, container: str) -> list[str]:
    """Read in one script: the page may redraw a chart between a lookup and a read."""
    script = "return [...document.querySelectorAll(arguments[0])].map((e) => e.textContent);"
    values: list[str] = driver.execute_script(script, f"#{container} text[data-value]")
    return values


def chart_labels(driver: WebDriver, container: str) -> list[str]:
    script = "return [...document.querySelectorAll(arguments[0])].map((e) => e.textContent);"
    labels: list[str] = driver.execute_script(script, f"#{container} text:not([data-value])")
    return labels


async def test_the_simulator_texts_the_line_and_shows_replies_live(
    cluster: Cluster, browser: WebDriver, mongo: AsyncMongoClient[Any]
) -> None:
    db = databases(mongo, cluster)
    browser.get(f"{cluster.base_url}/dev/simulator")
    # on a loaded machine the page may still be arriving: wait for the form, then use it
    phone: WebElement = wait(browser).until(lambda d: d.find_element(By.ID, "phone"))
    phone.clear()
    phone.send_keys(PHONE, Keys.TAB)  # a change reconnects the reply stream for that number
    wait(browser).until(lambda d: d.find_element(By.ID, "status").text == "connected")

    welcome = text_the_line(browser, "hello", 1)
    assert "Careline" in welcome and "first name" in welcome
    second = text_the_line(browser, "Ana", 2)
    assert "Who do you care for" in second  # onboarding took the name and asked the next question
    crisis = text_the_line(browser, "I can't do this anymore, I want to die", 3)
    assert "988" in crisis
    outgoing = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#thread .msg.out")]
    assert outgoing == ["hello", "Ana", "I can't do this anymore, I want to die"]
    assert browser.find_elements(By.CSS_SELECTOR, "#thread .msg.failed") == []
    screenshot(browser, "simulator")

    # it went the real way: one identity, the three inbound messages through the signed webhook
    user = await db["ingress"].users.find_one({"phone": PHONE})
    assert user is not None
    inbound = await db["conversation"].processed_messages.count_documents({"_id": {"$regex": "^twilio:"}})
    assert inbound == 3

    user_id = user["_id"]

    async def alert_opened() -> bool:  # by a job of its own, not the one that sent the reply
        return await db["conversation"].crisis_alerts.count_documents({"user_id": user_id}) == 1

    await eventually(alert_opened, timeout_s=20)

    # a bad number is refused with a clear error and nothing is posted
    sent = browser.execute_async_script(
        """const done = arguments[arguments.length - 1];
        fetch('/dev/simulator/messages', {method: 'POST', headers: {'Content-Type': 'application/json'},
          body: JSON.stringify({phone: 'not a phone', body: 'hi'})})
          .then(async (r) => done([r.status, await r.text()]));"""
    )
    assert sent[0] == 422 and "phone" in sent[1]
    assert await db["ingress"].users.count_documents({}) == 1


async def test_the_dashboard_shows_the_line_and_retries_a_dead_job(
    cluster: Cluster, browser: WebDriver, mongo: AsyncMongoClient[Any]
) -> None:
    db = databases(mongo, cluster)
    # traffic to show: a caregiver in crisis, through the simulator
    browser.get(f"{cluster.base_url}/dev/simulator")
    wait(browser).until(lambda d: d.find_element(By.ID, "status").text == "connected")
    text_the_line(browser, "hello", 1)
    text_the_line(browser, "I want to kill myself", 2)
    # and a job that ran out of attempts (a rollup, harmless to run again)
    dead = new_job("rollup.daily:browser-test", "rollup.daily", {}, now=datetime.now(UTC))
    dead |= {"status": "dead", "attempts": 3, "last_error": "TimeoutError: the database did not answer"}
    await db["profile"].jobs.insert_one(dead)

    browser.get(f"{cluster.base_url}/admin/ui")
    browser.find_element(By.ID, "token").send_keys("not-a-token")
    browser.find_element(By.ID, "signin").click()
    wait(browser).until(lambda d: d.find_element(By.ID, "login-error").text != "")
    assert "not valid" in browser.find_element(By.ID, "login-error").text
    assert not browser.find_element(By.ID, "board").is_displayed()

    token = mint_token(SECRET, ADMIN, timedelta(minutes=30))
    field = browser.find_element(By.ID, "token")
    field.clear()
    field.send_keys(token)
    browser.find_element(By.ID, "signin").click()
    wait(browser).until(lambda d: d.find_element(By.ID, "board").is_displayed())

    browser.find_element(By.ID, "refresh").click()  # recompute today's rollups now
    wait(browser).until(lambda d: "1" in chart_values(d, "subscriptions"))
    labels = chart_labels(browser, "subscriptions")
    assert "trialing" in labels
    assert chart_values(browser, "subscriptions")[labels.index("trialing")] == "1"
    assert len(chart_values(browser, "bands")) == 5
    wait(browser).until(lambda d: "suicide" in d.find_element(By.ID, "alerts").text)
    assert PHONE not in browser.page_source  # alerts name the caregiver's id, never the number

    retry = browser.find_element(By.CSS_SELECTOR, "#jobs button[data-key='rollup.daily:browser-test']")
    browser.set_window_size(1280, 1250)  # the whole board in one picture
    screenshot(browser, "dashboard")
    retry.click()
    note = "Retried rollup.daily:browser-test"
    wait(browser).until(lambda d: note in d.find_element(By.ID, "job-note").text)

    async def ran_again() -> bool:
        job = await db["profile"].jobs.find_one({"_id": "rollup.daily:browser-test"})
        return job is not None and job["status"] == "completed"

    await eventually(ran_again, timeout_s=20)
    browser.refresh()  # the token survives a reload (session storage), the job is gone from the list
    wait(browser).until(lambda d: d.find_element(By.ID, "board").is_displayed())
    wait(browser).until(lambda d: "rollup.daily:browser-test" not in d.find_element(By.ID, "jobs").text)
