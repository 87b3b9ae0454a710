"""Small local HTTP servers that speak enough of the providers' APIs for their real SDKs."""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import itertools
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from careline_testing.servers import free_port, wait_for_port


@dataclass
class SentSms:
    sid: str
    to: str
    from_: str
    body: str
    at: float
    created: float = field(default_factory=time.time)
    """Wall-clock time Twilio created it (its ``date_created``)."""


@dataclass
class FakeTwilio:
    """Twilio's Messages API: records every message; can be told to fail.

    ``fail_next`` answers the next N sends with ``fail_status`` (500 by default) and
    ``fail_code`` in Twilio's error body; ``delay_s`` holds each answer (timeouts).
    """

    messages: list[SentSms] = field(default_factory=list)
    attempts: list[float] = field(default_factory=list)
    fail_next: int = 0
    lose_answers: int = 0
    """Record the next N messages but answer 500, as when a send's answer is lost in transit."""
    fail_status: int = 500
    fail_code: int = 20500
    delay_s: float = 0.0
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def _create(self, request: Request) -> JSONResponse:
        form = await request.form()
        self.attempts.append(time.monotonic())
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return JSONResponse(
                    {
                        "code": self.fail_code,
                        "message": "fake failure",
                        "status": self.fail_status,
                        "more_info": "https://www.twilio.com/docs/errors",
                    },
                    status_code=self.fail_status,
                )
            sid = f"SM{next(self._ids):032x}"
            msg = SentSms(
                sid, str(form.get("To")), str(form.get("From")), str(form.get("Body")), time.monotonic()
            )
            self.messages.append(msg)
            if self.lose_answers > 0:
                self.lose_answers -= 1
                return JSONResponse({"code": 20500, "message": "lost", "status": 500}, status_code=500)
        account = request.path_params["account"]
        return JSONResponse(
            {
                "sid": sid,
                "account_sid": account,
                "to": msg.to,
                "from": msg.from_,
                "body": msg.body,
                "status": "queued",
                "num_segments": "1",
                "direction": "outbound-api",
                "date_created": email.utils.formatdate(msg.created, usegmt=True),
                "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
            },
            status_code=201,
        )

    async def _list(self, request: Request) -> JSONResponse:
        """Messages.json GET: the sent messages to ``To`` (what a cautious retry checks)."""
        to = request.query_params.get("To")
        account = request.path_params["account"]
        records = [
            {
                "sid": m.sid,
                "account_sid": account,
                "to": m.to,
                "from": m.from_,
                "body": m.body,
                "status": "sent",
                "direction": "outbound-api",
                "date_created": email.utils.formatdate(m.created, usegmt=True),
            }
            for m in reversed(self.messages)  # newest first, as Twilio lists them
            if to is None or m.to == to
        ]
        return JSONResponse(
            {
                "messages": records,
                "end": len(records),
                "first_page_uri": "",
                "next_page_uri": None,
                "page": 0,
                "page_size": 50,
                "previous_page_uri": None,
                "start": 0,
                "uri": "",
            }
        )

    def to(self, phone: str) -> list[SentSms]:
        return [m for m in self.messages if m.to == phone]

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/2010-04-01/Accounts/{account}/Messages.json", self._create, methods=["POST"]),
                Route("/2010-04-01/Accounts/{account}/Messages.json", self._list, methods=["GET"]),
            ]
        )


@dataclass
class ScriptedAnswer:
    """One chat completion the fake returns: text, or tool calls (name, JSON arguments)."""

    text: str | None = None
    tool_calls: list[tuple[str, str]] = field(default_factory=list)
    with_tools: bool | None = None
    """Answer only requests that offer tools (True) or offer none (False); None: any request."""


@dataclass
class FakeOpenAI:
    """OpenAI's chat completions and embeddings endpoints, for the real openai SDK
    (``base_url`` = ``<url>/v1``).

    Answers come from ``script`` in order, then ``default``; ``fail_next`` answers N requests
    with ``fail_status``; ``delay_s`` holds each answer (timeouts). Every request is kept.

    Embeddings (``embedding_requests``; ``embedding_fail_next``, ``embedding_delay_s`` as above)
    are deterministic: each text's words of three letters or more, hashed into the requested
    number of dimensions and normalised, so texts that share words are close by cosine.
    """

    script: list[ScriptedAnswer] = field(default_factory=list)
    default: ScriptedAnswer = field(default_factory=lambda: ScriptedAnswer("I hear you. That is a lot."))
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0
    fail_status: int = 500
    delay_s: float = 0.0
    embedding_requests: list[dict[str, Any]] = field(default_factory=list)
    embedding_fail_next: int = 0
    embedding_delay_s: float = 0.0
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def vector(text: str, dimensions: int = 1536) -> list[float]:
        """The fake's embedding of ``text`` (what a test compares stored vectors with)."""
        counts = [0.0] * dimensions
        for word in re.findall(r"[a-z]{3,}", text.lower()):
            counts[int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "big") % dimensions] += 1.0
        norm = math.sqrt(sum(c * c for c in counts)) or 1.0
        return [c / norm for c in counts]

    async def _embed(self, request: Request) -> JSONResponse:
        body = await request.json()
        with self._lock:
            self.embedding_requests.append(body)
            failing = self.embedding_fail_next > 0
            if failing:
                self.embedding_fail_next -= 1
        if self.embedding_delay_s:
            await asyncio.sleep(self.embedding_delay_s)
        if failing:
            return JSONResponse(
                {"error": {"message": "fake failure", "type": "server_error", "code": None}}, status_code=500
            )
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        dimensions = int(body.get("dimensions") or 1536)
        data = [
            {"object": "embedding", "index": i, "embedding": self.vector(str(t), dimensions)}
            for i, t in enumerate(texts)
        ]
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body.get("model", "fake"),
                "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)},
            }
        )

    async def _complete(self, request: Request) -> JSONResponse:
        body = await request.json()
        with self._lock:
            self.requests.append(body)
            failing = self.fail_next > 0
            if failing:
                self.fail_next -= 1
            answer = self.default
            if not failing:
                offered = bool(body.get("tools"))
                for i, scripted in enumerate(self.script):
                    if scripted.with_tools in (None, offered):
                        answer = self.script.pop(i)
                        break
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if failing:
            return JSONResponse(
                {"error": {"message": "fake failure", "type": "server_error", "code": None}},
                status_code=self.fail_status,
            )
        message: dict[str, Any] = {"role": "assistant", "content": answer.text}
        if answer.tool_calls:
            message["tool_calls"] = [
                {"id": f"call_{next(self._ids)}", "type": "function", "function": {"name": n, "arguments": a}}
                for n, a in answer.tool_calls
            ]
        return JSONResponse(
            {
                "id": f"chatcmpl-{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": "tool_calls" if answer.tool_calls else "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            }
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._complete, methods=["POST"]),
                Route("/v1/embeddings", self._embed, methods=["POST"]),
            ]
        )


@dataclass
class FakeStripe:
    """Enough of Stripe's API for the real stripe SDK: checkout sessions (``price`` is the first
    line item's), billing portal sessions (``portal_sessions``) and subscriptions (retrieved,
    and cancelled: ``cancelled`` lists the ids, in order).

    Like Stripe, a request that repeats an ``Idempotency-Key`` gets the first answer again and
    creates nothing. ``lose_answers`` creates the session but answers 500 (a lost answer).
    """

    sessions: list[dict[str, Any]] = field(default_factory=list)
    portal_sessions: list[dict[str, Any]] = field(default_factory=list)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    lose_answers: int = 0
    fail_next: int = 0
    _answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def _create_session(self, request: Request) -> JSONResponse:
        form = dict((await request.form()).items())
        key = request.headers.get("idempotency-key")
        with self._lock:
            self.requests.append({"form": form, "idempotency_key": key})
            if self.fail_next > 0:
                self.fail_next -= 1
                return JSONResponse({"error": {"type": "api_error", "message": "fake"}}, status_code=500)
            if key is not None and key in self._answers:
                return JSONResponse(self._answers[key])
            session_id = f"cs_test_{next(self._ids):08d}"
            session = {
                "id": session_id,
                "object": "checkout.session",
                "mode": form.get("mode"),
                "client_reference_id": form.get("client_reference_id"),
                "price": form.get("line_items[0][price]"),
                "url": f"https://checkout.stripe.test/c/pay/{session_id}",
                "status": "open",
            }
            self.sessions.append(session)
            if key is not None:
                self._answers[key] = session
            if self.lose_answers > 0:
                self.lose_answers -= 1
                return JSONResponse({"error": {"type": "api_error", "message": "lost"}}, status_code=500)
        return JSONResponse(session)

    async def _create_portal_session(self, request: Request) -> JSONResponse:
        """``POST /v1/billing_portal/sessions``: a session for an existing customer (an unknown
        one is ``resource_missing`` at Stripe; here any ``cus_`` id exists)."""
        form = dict((await request.form()).items())
        key = request.headers.get("idempotency-key")
        with self._lock:
            self.requests.append({"portal": form, "idempotency_key": key})
            if key is not None and key in self._answers:
                return JSONResponse(self._answers[key])
            customer = str(form.get("customer") or "")
            if not customer.startswith("cus_"):
                error = {"type": "invalid_request_error", "code": "resource_missing", "message": "none"}
                return JSONResponse({"error": error}, status_code=400)
            session_id = f"bps_test_{next(self._ids):08d}"
            session = {
                "id": session_id,
                "object": "billing_portal.session",
                "customer": customer,
                "return_url": form.get("return_url"),
                "url": f"https://billing.stripe.test/p/session/{session_id}",
            }
            self.portal_sessions.append(session)
            if key is not None:
                self._answers[key] = session
        return JSONResponse(session)

    async def _subscription(self, request: Request) -> JSONResponse:
        sub = self.subscriptions.get(request.path_params["sub"])
        if sub is None:
            return JSONResponse(
                {"error": {"type": "invalid_request_error", "code": "resource_missing", "message": "none"}},
                status_code=404,
            )
        return JSONResponse({"object": "subscription", **sub})

    async def _cancel_subscription(self, request: Request) -> JSONResponse:
        """``DELETE /v1/subscriptions/{id}`` (``Subscription.cancel``): canceled at once; an
        unknown id is ``resource_missing``, as Stripe answers."""
        sub_id = request.path_params["sub"]
        with self._lock:
            self.requests.append(
                {"cancel": sub_id, "idempotency_key": request.headers.get("idempotency-key")}
            )
            sub = self.subscriptions.get(sub_id)
            if sub is None:
                return JSONResponse(
                    {
                        "error": {
                            "type": "invalid_request_error",
                            "code": "resource_missing",
                            "message": "none",
                        }
                    },
                    status_code=404,
                )
            sub.update(status="canceled", canceled_at=int(time.time()))
            if sub_id not in self.cancelled:
                self.cancelled.append(sub_id)
        return JSONResponse({"object": "subscription", **sub})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/checkout/sessions", self._create_session, methods=["POST"]),
                Route("/v1/billing_portal/sessions", self._create_portal_session, methods=["POST"]),
                Route("/v1/subscriptions/{sub}", self._subscription, methods=["GET"]),
                Route("/v1/subscriptions/{sub}", self._cancel_subscription, methods=["DELETE"]),
            ]
        )


class ThreadedServer:
    """Runs an ASGI app with uvicorn in a background thread on a free port."""

    def __init__(self, app: Callable[..., Any], port: int | None = None) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        wait_for_port(self.port)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
