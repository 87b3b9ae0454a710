"""Where the two pages are served: the simulator only in the sandbox, the dashboard shell always.

The app is built without its lifespan (no NATS, no database): these routes must answer, or
refuse bad input, before touching either.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from careline_ingress.app import create_app
from careline_platform.settings import Settings


def client(**overrides: object) -> TestClient:
    return TestClient(create_app(Settings(_env_file=None, **overrides)))  # type: ignore[call-arg]


def test_the_simulator_is_served_only_without_a_twilio_account() -> None:
    sandbox = client()
    page = sandbox.get("/dev/simulator")
    assert page.status_code == 200 and 'id="compose"' in page.text
    production = client(twilio_account_sid="AC" + "1" * 32, twilio_auth_token="token")
    assert production.get("/dev/simulator").status_code == 404
    posted = production.post("/dev/simulator/messages", json={"phone": "+14155550100", "body": "hi"})
    assert posted.status_code in (404, 405)


def test_the_simulator_refuses_bad_input_before_posting_anything() -> None:
    sandbox = client()
    for bad in (
        {"phone": "not a phone", "body": "hi"},
        {"phone": "+14155550100", "body": ""},
        {"phone": "+14155550100", "body": "x" * 1601},
        {"phone": "+14155550100", "body": "hi", "extra": 1},
    ):
        resp = sandbox.post("/dev/simulator/messages", json=bad)
        assert resp.status_code == 422, bad
    assert sandbox.get("/dev/simulator/replies", params={"phone": "nope"}).status_code == 422


def test_the_dashboard_page_is_a_shell_without_data_and_not_in_the_api_document() -> None:
    app = create_app(Settings(_env_file=None))  # type: ignore[call-arg]
    page = TestClient(app).get("/admin/ui")
    assert page.status_code == 200 and page.headers["x-frame-options"] == "DENY"
    assert 'id="signin"' in page.text and "Bearer" in page.text
    paths = app.openapi()["paths"]
    assert "/admin/ui" not in paths and "/dev/simulator" not in paths
    assert {"/admin/crisis-alerts", "/admin/metrics/refresh", "/admin/oncall"} <= set(paths)
    assert {"/admin/crisis-alerts/{alert_id}/acknowledge", "/admin/crisis-alerts/{alert_id}/message"} <= set(
        paths
    )
