"""The development sandbox's billing pages: an annual checkout, and the portal's stand-in."""

from __future__ import annotations

from fastapi.testclient import TestClient

from careline_ingress.app import create_app
from careline_ingress.dev import sandbox_events
from careline_platform.settings import Settings


def sandbox() -> TestClient:
    return TestClient(create_app(Settings(_env_file=None)))  # type: ignore[call-arg]


def test_an_annual_link_offers_the_annual_plan_and_a_bad_plan_is_refused() -> None:
    client = sandbox()
    page = client.get("/dev/checkout/cs_sandbox_x?user=u1&plan=annual")
    assert page.status_code == 200 and "$99 a year" in page.text and 'value="annual"' in page.text
    assert "$9.99 a month" in client.get("/dev/checkout/cs_sandbox_x?user=u1").text
    assert client.get("/dev/checkout/cs_sandbox_x?user=u1&plan=weekly").status_code == 404


def test_the_annual_sandbox_subscription_names_the_annual_price() -> None:
    [_, sub] = sandbox_events("cs_sandbox_x", "u1", 1_900_000_000, "annual")
    assert sub["data"]["object"]["items"]["data"][0]["price"]["id"] == "price_sandbox_annual"
    assert sub["data"]["object"]["current_period_end"] == 1_900_000_000 + 365 * 86400


def test_the_portal_stand_in_answers_only_sandbox_sessions() -> None:
    client = sandbox()
    page = client.get("/dev/portal/bps_sandbox_abc")
    assert page.status_code == 200 and "update the card" in page.text
    assert client.get("/dev/portal/bps_live_abc").status_code == 404


def test_no_sandbox_page_with_a_stripe_key() -> None:
    live = Settings(_env_file=None, stripe_api_key="sk_test_" + "Zq8" * 10, stripe_webhook_secret="whsec_x")  # type: ignore[call-arg]
    assert TestClient(create_app(live)).get("/dev/portal/bps_sandbox_abc").status_code == 404
