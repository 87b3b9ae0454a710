"""The ASGI layers in front of ingress's router: webhooks answered directly, the rest passed on.

The app is built without its lifespan (no NATS, no database), so a webhook that reaches its
endpoint fails on the missing connections: which is how these tests see that it got there.
"""

from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Message, Receive, Scope, Send

from careline_ingress.app import create_app
from careline_ingress.asgi import BodyLimit, DirectRoutes
from careline_ingress.routes import WEBHOOK_PATHS
from careline_platform.settings import Settings


async def endpoint(_request: Request) -> Response:
    return PlainTextResponse("direct")


async def inner(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("inner")(scope, receive, send)


def answer(method: str, path: str, **scope: object) -> str:
    """Run one request through DirectRoutes; returns the body of the answer."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    app = DirectRoutes(inner, {"/hook": endpoint})
    full: Scope = {"type": "http", "method": method, "path": path, "headers": [], **scope}
    asyncio.run(app(full, receive, send))
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body").decode()


def test_only_a_post_to_a_listed_path_is_answered_directly() -> None:
    assert answer("POST", "/hook") == "direct"
    assert answer("GET", "/hook") == "inner"
    assert answer("POST", "/hook/") == "inner"
    assert answer("POST", "/other") == "inner"
    assert answer("POST", "/hook", root_path="/prefix") == "inner"  # the router strips it


def test_the_webhooks_stay_in_the_api_document_and_fail_short() -> None:
    """Declared on FastAPI for the document; an unexpected error is still the short JSON 500."""
    app = create_app(Settings(_env_file=None))  # type: ignore[call-arg]
    assert set(WEBHOOK_PATHS) <= set(app.openapi()["paths"])
    client = TestClient(app, raise_server_exceptions=False)
    for path in sorted(WEBHOOK_PATHS):
        resp = client.post(path, content=b"a=b", headers={"Content-Type": "application/json"})
        assert (resp.status_code, resp.json()) == (500, {"error": "internal error"}), path
        assert client.get(path).status_code == 405
    too_big = client.post("/webhooks/twilio/sms", headers={"Content-Length": "70000"})
    assert too_big.status_code == 413 and "Traceback" not in too_big.text


LIMIT = 1000


def post_through_limit(chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> tuple[int, int, int]:
    """POST ``chunks`` through BodyLimit to an app that reads the whole body, then answers 200.

    Returns (status, bytes the app was handed, chunks the client had to send)."""
    handed, pulled = 0, 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal pulled
        pulled += 1
        last = pulled >= len(chunks)
        return {"type": "http.request", "body": chunks[pulled - 1], "more_body": not last}

    async def reader(scope: Scope, receive_: Receive, send: Send) -> None:
        nonlocal handed
        body = await Request(scope, receive_).body()
        handed = len(body)
        await PlainTextResponse("read")(scope, receive_, send)

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "POST", "path": "/x", "headers": headers}
    asyncio.run(BodyLimit(reader, LIMIT)(scope, receive, send))
    return int(sent[0]["status"]), handed, pulled


def test_a_chunked_body_over_the_limit_is_refused_while_it_is_read() -> None:
    """No Content-Length (chunked): 413 at the chunk that passes the limit, the rest never read,
    nothing handed to the app; within the limit, the app gets the whole body."""
    status, handed, pulled = post_through_limit([b"x" * 400] * 50, [])
    assert (status, handed, pulled) == (413, 0, 3)  # 400 + 400 + 400 > 1000: stop at the third
    assert post_through_limit([b"x" * 500, b"x" * 500], []) == (200, 1000, 2)


def test_a_declared_length_over_the_limit_or_not_a_number_is_refused_before_reading() -> None:
    assert post_through_limit([b"x"], [(b"content-length", b"1001")]) == (413, 0, 0)
    assert post_through_limit([b"x"], [(b"content-length", b"12abc")]) == (413, 0, 0)
    assert post_through_limit([b"x" * 10], [(b"content-length", b"10")]) == (200, 10, 1)
