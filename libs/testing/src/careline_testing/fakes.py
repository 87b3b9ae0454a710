"""Small local HTTP servers that speak enough of the providers' APIs for their real SDKs."""

from __future__ import annotations

import asyncio
import itertools
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
                "date_created": None,
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
            }
            for m in self.messages
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
