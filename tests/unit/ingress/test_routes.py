"""The webhook routes end to end in memory: the real app over a fake broker and fake identities.

What only real servers can show (the JetStream ack, a broker outage, shutdown) stays in
tests/integration/test_ingress_webhooks.py and the e2e tests; here each answer the edge can
give is reached in milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from careline_contracts import subjects
from careline_ingress.app import Connected, create_app
from careline_ingress.audit_log import AuditLog
from careline_ingress.durable import SpoolingPublisher
from careline_ingress.handlers import Background
from careline_ingress.health import Readiness
from careline_ingress.repository import Users
from careline_ingress.routes import Edge
from careline_ingress.spool import Spool
from careline_platform.settings import Settings
from careline_testing.signing import inbound_sms_params, stripe_event, stripe_post, twilio_form
from careline_testing.uow import FakeClock

from .fakes import FakeJetStream, FakeUsers

TOKEN = "unit-twilio-token"
STRIPE_SECRET = "whsec_unit_one"
PUBLIC = "https://careline.example"
SMS_PATH = "/webhooks/twilio/sms"


class World:
    """The edge as it runs: the spooling publisher over a fake JetStream and a real spool on disk."""

    def __init__(self, spool_dir: Path) -> None:
        self.jetstream = FakeJetStream()
        self.users = FakeUsers()
        self.probes = {"nats": True, "mongodb": True}
        self.spool = Spool(spool_dir)
        connected = lambda: self.probes["nats"]  # noqa: E731
        self.publisher = SpoolingPublisher(self.jetstream, self.spool, connected, lambda: None)

    def subjects(self) -> list[str]:
        """What JetStream acknowledged, without the partition."""
        return [p.subject.rsplit(".", 1)[0] for p in self.jetstream.published]

    def probe(self, name: str) -> Any:
        async def check() -> bool:
            return self.probes[name]

        return check


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path / "spool")


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
        readiness=Readiness({name: world.probe(name) for name in world.probes}, world.spool),
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
    assert world.subjects() == ["user.registered", "sms.inbound.received"]


def test_the_signature_covers_the_public_url_and_the_query(client: TestClient, world: World) -> None:
    params = inbound_sms_params("+14155550100", "hi")
    body, headers = twilio_form(TOKEN, "http://testserver" + SMS_PATH, params)  # what the process sees
    assert client.post(SMS_PATH, content=body, headers=headers).status_code == 403
    body, headers = twilio_form(TOKEN, PUBLIC + SMS_PATH + "?x=1", params)
    assert client.post(SMS_PATH + "?x=1", content=body, headers=headers).status_code == 200
    assert len(world.jetstream.published) == 2


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
    assert world.jetstream.published == [] and world.spool.depth == 0


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
    assert [p.subject for p in world.jetstream.published] == [
        subjects.partitioned(subjects.STRIPE_EVENT_RECEIVED, "cus_1")
    ]


def test_without_the_broker_a_text_is_spooled_answered_200_and_readiness_holds(
    client: TestClient, world: World
) -> None:
    """Twilio does not retry a 503: with NATS away the text goes to the spool and is accepted."""
    world.jetstream.down = True
    world.probes["nats"] = False
    body, headers = twilio_form(TOKEN, PUBLIC + SMS_PATH, inbound_sms_params("+14155550100", "hi"))
    resp = client.post(SMS_PATH, content=body, headers=headers)
    assert resp.status_code == 200 and resp.text.endswith("<Response/>")
    assert world.jetstream.attempts == []  # disconnected: no wait for an ack that cannot come
    assert world.spool.depth == 2  # user.registered, then the text
    ready = client.get("/readyz")
    assert (ready.status_code, ready.json()) == (
        200,
        {"ready": True, "nats": False, "mongodb": True, "spool": {"writable": True, "depth": 2}},
    )
    assert client.get("/healthz").json() == {"status": "ok"}


def test_a_publish_without_an_ack_is_spooled_and_what_follows_queues_behind_it(
    client: TestClient, world: World
) -> None:
    world.jetstream.down = True  # connected, but no ack comes
    for text in ("first", "second"):
        body, headers = twilio_form(TOKEN, PUBLIC + SMS_PATH, inbound_sms_params("+14155550100", text))
        assert client.post(SMS_PATH, content=body, headers=headers).status_code == 200
    world.jetstream.down = False
    body, headers = stripe_post(STRIPE_SECRET, stripe_event("invoice.paid", {"customer": "cus_1"}))
    assert client.post("/webhooks/stripe", content=body, headers=headers).status_code == 200
    # one attempt (the registration); the rest went straight behind it, the Stripe event too
    assert len(world.jetstream.attempts) == 1 and world.jetstream.published == []
    assert world.spool.depth == 4


def test_a_spool_that_cannot_write_makes_the_webhook_a_503_and_the_replica_not_ready(
    tmp_path: Path, world: World, client: TestClient
) -> None:
    (tmp_path / "not-a-directory").write_text("")
    world.spool.path = tmp_path / "not-a-directory" / "spool" / "ingress-spool.sqlite3"  # mkdir fails
    world.jetstream.down = True
    world.probes["nats"] = False
    failures = REGISTRY.get_sample_value("careline_spool_write_failures_total") or 0.0
    body, headers = twilio_form(TOKEN, PUBLIC + SMS_PATH, inbound_sms_params("+14155550100", "hi"))
    resp = client.post(SMS_PATH, content=body, headers=headers)
    assert (resp.status_code, resp.text) == (503, "unavailable: spool")
    assert REGISTRY.get_sample_value("careline_spool_write_failures_total") == failures + 1
    ready = client.get("/readyz")
    assert (ready.status_code, ready.json()) == (
        503,
        {"ready": False, "nats": False, "mongodb": True, "spool": {"writable": False, "depth": 0}},
    )


def test_readiness_and_metrics_while_everything_answers(client: TestClient) -> None:
    ready = client.get("/readyz")
    assert (ready.status_code, ready.json()) == (
        200,
        {"ready": True, "nats": True, "mongodb": True, "spool": {"writable": True, "depth": 0}},
    )
    metrics = client.get("/metrics").text
    assert "careline_webhook_seconds" in metrics and "careline_spool_depth" in metrics
