"""The webhook routes end to end in memory: the real app over a fake broker and fake identities.

What only real servers can show (the JetStream ack, a broker outage, shutdown) stays in
tests/integration/test_ingress_webhooks.py and the e2e tests; here each answer the edge can
give is reached in milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient

from careline_ingress.app import Connected, create_app
from careline_ingress.audit_log import AuditLog
from careline_ingress.handlers import Background
from careline_ingress.health import Readiness
from careline_ingress.repository import Users
from careline_ingress.routes import Edge
from careline_platform.settings import Settings
from careline_testing.signing import inbound_sms_params, stripe_event, stripe_post, twilio_form
from careline_testing.uow import FakeClock

from .fakes import FakePublisher, FakeUsers

TOKEN = "unit-twilio-token"
STRIPE_SECRET = "whsec_unit_one"
PUBLIC = "https://careline.example"
SMS_PATH = "/webhooks/twilio/sms"


class World:
    def __init__(self) -> None:
        self.publisher = FakePublisher()
        self.users = FakeUsers()
        self.probes = {"nats": True, "mongodb": True}

    def probe(self, name: str) -> Any:
        async def check() -> bool:
            return self.probes[name]

        return check


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        twilio_auth_token=TOKEN,
        stripe_webhook_secret=f"whsec_old, {STRIPE_SECRET}",
        public_base_url=PUBLIC + "/",
    )
    connected = Connected(
        edge=Edge(world.users, world.publisher, FakeClock(), Background()),
        users=cast(Users, world.users),
        audit=cast(AuditLog, None),  # no admin route runs here
        readiness=Readiness({name: world.probe(name) for name in world.probes}),
        nats=lambda: None,  # type: ignore[arg-type,return-value]
        broker=lambda: None,  # type: ignore[arg-type,return-value]
    )
    with TestClient(create_app(settings, connected), raise_server_exceptions=False) as test_client:
        yield test_client


def test_a_signed_text_is_answered_with_empty_twiml_once_published(client: TestClient, world: World) -> None:
    body, headers = twilio_form(TOKEN, PUBLIC + SMS_PATH, inbound_sms_params("+14155550100", "hi"))
    resp = client.post(SMS_PATH, content=body, headers=headers)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/xml")
    assert resp.text.endswith("<Response/>")
    assert world.publisher.subjects() == ["user.registered", "sms.inbound.received"]


def test_the_signature_covers_the_public_url_and_the_query(client: TestClient, world: World) -> None:
    params = inbound_sms_params("+14155550100", "hi")
    body, headers = twilio_form(TOKEN, "http://testserver" + SMS_PATH, params)  # what the process sees
    assert client.post(SMS_PATH, content=body, headers=headers).status_code == 403
    body, headers = twilio_form(TOKEN, PUBLIC + SMS_PATH + "?x=1", params)
    assert client.post(SMS_PATH + "?x=1", content=body, headers=headers).status_code == 200
    assert len(world.publisher.published) == 2


@pytest.mark.parametrize(
    ("path", "content_type", "status"),
    [
        (SMS_PATH, "application/json", 415),
        ("/webhooks/twilio/status", "text/plain", 415),
        ("/webhooks/stripe", "application/x-www-form-urlencoded", 415),
        (SMS_PATH, "application/x-www-form-urlencoded", 403),  # no signature
        ("/webhooks/stripe", "application/json; charset=utf-8", 400),  # no signature
    ],
    ids=["sms-json", "status-text", "stripe-form", "sms-unsigned", "stripe-unsigned"],
)
def test_refusals_publish_nothing(
    client: TestClient, world: World, path: str, content_type: str, status: int
) -> None:
    resp = client.post(path, content=b"a=b", headers={"Content-Type": content_type})
    assert resp.status_code == status
    assert world.publisher.published == []


def test_a_signed_but_incomplete_text_is_a_400_with_its_reason(client: TestClient) -> None:
    body, headers = twilio_form(TOKEN, PUBLIC + SMS_PATH, {"From": "+14155550100", "Body": "hi"})
    resp = client.post(SMS_PATH, content=body, headers=headers)
    assert (resp.status_code, resp.text) == (400, "bad request: MessageSid and From are required")


def test_stripe_accepts_any_of_the_rotated_secrets(client: TestClient, world: World) -> None:
    body, headers = stripe_post(STRIPE_SECRET, stripe_event("invoice.paid", {"customer": "cus_1"}))
    resp = client.post("/webhooks/stripe", content=body, headers=headers)
    assert (resp.status_code, resp.json()) == (200, {"received": True})
    body, headers = stripe_post("whsec_someone_else", stripe_event("invoice.paid", {}))
    refused = client.post("/webhooks/stripe", content=body, headers=headers)
    assert refused.status_code == 400 and refused.json()["error"].startswith("rejected:")
    assert [p.key for p in world.publisher.published] == ["cus_1"]


def test_without_the_broker_a_webhook_is_a_503_and_readiness_says_why(
    client: TestClient, world: World
) -> None:
    world.publisher.down = True
    world.probes["nats"] = False
    body, headers = twilio_form(TOKEN, PUBLIC + SMS_PATH, inbound_sms_params("+14155550100", "hi"))
    resp = client.post(SMS_PATH, content=body, headers=headers)
    assert (resp.status_code, resp.text) == (503, "unavailable: PublishFailed")
    ready = client.get("/readyz")
    assert (ready.status_code, ready.json()) == (503, {"ready": False, "nats": False, "mongodb": True})
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readiness_and_metrics_while_everything_answers(client: TestClient) -> None:
    ready = client.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"ready": True, "nats": True, "mongodb": True})
    assert "careline_webhook_seconds" in client.get("/metrics").text
