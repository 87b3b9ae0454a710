"""Ingress's webhook edge: signatures decide, and nothing unverified is ever published."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from nats.js import JetStreamContext

from careline_platform.webhooks import stripe_signature
from careline_testing.processes import Cluster
from careline_testing.signing import inbound_sms_params, stripe_event, stripe_post, twilio_form

from .conftest import STRIPE_SECRETS, TWILIO_TOKEN, stream_count

pytestmark = pytest.mark.asyncio
JSON = {"Content-Type": "application/json; charset=utf-8"}  # what Stripe sends


def sms_url(ingress: Cluster) -> str:
    return f"{ingress.base_url}/webhooks/twilio/sms"


async def test_signed_sms_is_published_once_and_answered_with_empty_twiml(
    ingress: Cluster, js: JetStreamContext
) -> None:
    """A correctly signed post is acknowledged with TwiML after it is in the SMS stream."""
    body, headers = twilio_form(TWILIO_TOKEN, sms_url(ingress), inbound_sms_params("+14155550111", "hi"))
    async with httpx.AsyncClient() as client:
        resp = await client.post(sms_url(ingress), content=body, headers=headers)
    assert resp.status_code == 200
    assert resp.text.endswith("<Response/>")
    assert await stream_count(js, "SMS") == 1
    assert await stream_count(js, "USERS") == 1


@pytest.mark.parametrize(
    "tamper",
    ["url", "param", "token", "missing", "added-param"],
)
async def test_tampered_twilio_posts_are_refused_and_nothing_is_published(
    ingress: Cluster, js: JetStreamContext, tamper: str
) -> None:
    """Altered URL, param, token or a missing header gives 403 and publishes nothing."""
    params = inbound_sms_params("+14155550112", "hello")
    signed_url = sms_url(ingress) + ("?x=1" if tamper == "url" else "")
    token = "wrong-token" if tamper == "token" else TWILIO_TOKEN
    body, headers = twilio_form(token, signed_url, params)
    if tamper == "param":
        body = body.replace(b"hello", b"hellO")
    if tamper == "added-param":
        body += b"&Extra=1"
    if tamper == "missing":
        del headers["X-Twilio-Signature"]
    async with httpx.AsyncClient() as client:
        resp = await client.post(sms_url(ingress), content=body, headers=headers)
    assert resp.status_code == 403
    assert await stream_count(js, "SMS") == 0
    assert await stream_count(js, "USERS") == 0


async def test_status_callback_is_verified_and_published(ingress: Cluster, js: JetStreamContext) -> None:
    """Status callbacks use the same signature check and land in the SMS stream."""
    url = f"{ingress.base_url}/webhooks/twilio/status"
    params = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered", "AccountSid": "AC" + "c" * 32}
    body, headers = twilio_form(TWILIO_TOKEN, url, params)
    async with httpx.AsyncClient() as client:
        bad = await client.post(url, content=body, headers={**headers, "X-Twilio-Signature": "AAAA"})
        good = await client.post(url, content=body, headers=headers)
    assert (bad.status_code, good.status_code) == (403, 200)
    assert await stream_count(js, "SMS") == 1


async def test_signed_but_incomplete_sms_is_a_clear_400(ingress: Cluster, js: JetStreamContext) -> None:
    """A signed post without MessageSid is refused with a reason and publishes nothing."""
    params = {"From": "+14155550113", "Body": "hi"}
    body, headers = twilio_form(TWILIO_TOKEN, sms_url(ingress), params)
    async with httpx.AsyncClient() as client:
        resp = await client.post(sms_url(ingress), content=body, headers=headers)
    assert resp.status_code == 400
    assert "MessageSid" in resp.text
    assert await stream_count(js, "SMS") == 0


def _checkout(user: str = "usr_x") -> dict[str, object]:
    return stripe_event(
        "checkout.session.completed",
        {
            "id": "cs_1",
            "object": "checkout.session",
            "client_reference_id": user,
            "customer": "cus_1",
            "subscription": "sub_1",
        },
    )


async def test_stripe_signatures(ingress: Cluster, js: JetStreamContext) -> None:
    """Valid, rotated, stale, malformed and bad-JSON Stripe posts get the right status."""
    url = f"{ingress.base_url}/webhooks/stripe"
    old, new = STRIPE_SECRETS
    event = _checkout()
    payload = json.dumps(event).encode()
    now = int(time.time())
    cases: list[tuple[str, bytes, str, int]] = [
        ("stale", payload, f"t={now - 301},v1={stripe_signature(new, now - 301, payload)}", 400),
        ("malformed", payload, "garbage", 400),
        ("no-v1", payload, f"t={now}", 400),
        ("wrong-secret", payload, f"t={now},v1={stripe_signature('whsec_other', now, payload)}", 400),
        ("bad-json", b"{not json", f"t={now},v1={stripe_signature(new, now, b'{not json')}", 400),
        ("not-an-event", b"[1, 2]", f"t={now},v1={stripe_signature(new, now, b'[1, 2]')}", 400),
    ]
    async with httpx.AsyncClient() as client:
        for name, body, header, expected in cases:
            resp = await client.post(url, content=body, headers={"Stripe-Signature": header, **JSON})
            assert resp.status_code == expected, name
        assert await stream_count(js, "STRIPE") == 0

        rotated = f"t={now},v1={'0' * 64},v1={stripe_signature(new, now, payload)}"
        resp = await client.post(url, content=payload, headers={"Stripe-Signature": rotated, **JSON})
        assert resp.status_code == 200
        assert resp.json() == {"received": True}
        body, headers = stripe_post(old, event)  # our older secret is still accepted
        resp = await client.post(url, content=body, headers=headers)
        assert resp.status_code == 200
    assert await stream_count(js, "STRIPE") == 1  # the same event id twice: one message


async def test_bodies_of_the_wrong_type_or_size_are_refused_before_anything_else(
    ingress: Cluster, js: JetStreamContext
) -> None:
    params = inbound_sms_params("+14155550199", "hello")
    body, headers = twilio_form(TWILIO_TOKEN, sms_url(ingress), params)
    async with httpx.AsyncClient() as client:
        as_json = await client.post(
            sms_url(ingress), content=body, headers={**headers, "Content-Type": "application/json"}
        )
        huge = await client.post(sms_url(ingress), content=b"a=" + b"x" * 70_000, headers=headers)
        stripe_form = await client.post(
            f"{ingress.base_url}/webhooks/stripe", content=b"a=b", headers={"Content-Type": "text/plain"}
        )
        admin_junk = await client.post(
            f"{ingress.base_url}/admin/users/u/roles",
            content=b"x" * 70_000,
            headers={"Content-Type": "application/json"},
        )
    assert (as_json.status_code, huge.status_code, stripe_form.status_code) == (415, 413, 415)
    assert admin_junk.status_code == 413
    assert "Traceback" not in as_json.text + huge.text + stripe_form.text
    assert (await js.stream_info("SMS")).state.messages == 0


async def test_a_chunked_body_over_the_limit_is_refused_while_it_is_read(
    ingress: Cluster, js: JetStreamContext
) -> None:
    """No Content-Length to refuse early: ingress counts while it reads and answers 413 once the
    body passes 64 KiB, on every route, before any signature check (tests/unit/test_ingress_asgi.py
    shows the app is handed nothing and the rest is never read); a chunked body within the limit
    is read and verified as usual."""
    sent: dict[str, int] = {}

    async def chunks(path: str, total: int) -> AsyncIterator[bytes]:
        sent[path] = 0
        while sent[path] < total:
            sent[path] += 16_384
            yield b"x" * 16_384

    twenty_mb = 20 * 1024 * 1024
    async with httpx.AsyncClient(timeout=30) as client:
        for path, media in (
            ("/webhooks/twilio/sms", "application/x-www-form-urlencoded"),
            ("/webhooks/twilio/status", "application/x-www-form-urlencoded"),
            ("/webhooks/stripe", "application/json"),
            ("/admin/users/u/roles", "application/json"),
        ):
            resp = await client.post(
                f"{ingress.base_url}{path}", content=chunks(path, twenty_mb), headers={"Content-Type": media}
            )
            assert resp.status_code == 413, (path, resp.status_code, resp.text)
            assert sent[path] == twenty_mb  # httpx sends it all; ingress kept none of it past 64 KiB
        params = inbound_sms_params("+14155550198", "chunked but small")
        body, headers = twilio_form(TWILIO_TOKEN, sms_url(ingress), params)

        async def in_two(whole: bytes) -> AsyncIterator[bytes]:
            yield whole[:10]
            yield whole[10:]

        small = await client.post(sms_url(ingress), content=in_two(body), headers=headers)
    assert small.status_code == 200
    assert (await js.stream_info("SMS")).state.messages == 1


async def test_invalid_utf8_is_a_clear_400_on_every_webhook_and_nothing_is_published(
    ingress: Cluster, js: JetStreamContext
) -> None:
    """Bytes that are not UTF-8, in a form field or a JSON body, signed or not: 400 with a short
    JSON error, never a 500 or a traceback, and nothing reaches a stream (issue 14, hostile input)."""
    params = inbound_sms_params("+14155550177", "hello")
    body, headers = twilio_form(TWILIO_TOKEN, sms_url(ingress), params)
    broken_form = body.replace(b"hello", b"hel%FF%FElo")  # percent-encoded bytes that decode to nothing
    raw_bytes = body.replace(b"hello", b"hel\xff\xfelo")  # raw invalid bytes in the body
    event = stripe_event("checkout.session.completed", {}, event_id="evt_utf8")
    stripe_body = json.dumps(event).encode().replace(b"evt_utf8", b"evt_\xc3\x28")  # a broken 2-byte char
    now = int(time.time())
    signed = f"t={now},v1={stripe_signature(STRIPE_SECRETS[0], now, stripe_body)}"  # a valid signature
    status_url = f"{ingress.base_url}/webhooks/twilio/status"
    async with httpx.AsyncClient() as client:
        answers = [
            await client.post(sms_url(ingress), content=broken_form, headers=headers),
            await client.post(sms_url(ingress), content=raw_bytes, headers=headers),
            await client.post(status_url, content=raw_bytes, headers=headers),
            await client.post(
                f"{ingress.base_url}/webhooks/stripe",
                content=stripe_body,
                headers={**JSON, "Stripe-Signature": signed},
            ),
        ]
    # percent-encoded junk decodes to U+FFFD, so no signature can match it: refused as forged
    assert [a.status_code for a in answers] == [403, 400, 400, 400], [a.text for a in answers]
    for answer in answers:
        assert "Traceback" not in answer.text and len(answer.text) < 300
    for stream in ("SMS", "STRIPE", "USERS"):
        assert await stream_count(js, stream) == 0
