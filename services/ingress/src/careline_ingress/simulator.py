"""The web SMS simulator (sandbox only): text the line from a browser, see the replies live.

A message typed on the page is posted, signed exactly as Twilio signs it, to our own
``/webhooks/twilio/sms``: the whole path (signature, identity, JetStream, conversation) runs
as for a real phone. Replies that conversation sends to the sandbox (``sandbox.sms.sent``)
reach the page as server-sent events. Mounted only when no Twilio account is configured, so a
production line never has it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from importlib.resources import files
from typing import Any

import httpx
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from careline_contracts import subjects
from careline_platform.logging import get_logger
from careline_platform.phone import InvalidPhoneNumber, to_e164
from careline_platform.settings import Settings
from careline_platform.webhooks import inbound_sms_params, twilio_form

log = get_logger(__name__)
PAGE = files("careline_ingress").joinpath("static/simulator.html").read_text(encoding="utf-8")
KEEPALIVE_S = 15.0
STREAM_LIFETIME_S = 30 * 60.0  # a forgotten tab does not hold a stream forever
WEBHOOK_PATH = "/webhooks/twilio/sms"


def e164(value: str) -> str:
    try:
        return to_e164(value)
    except InvalidPhoneNumber as exc:
        raise ValueError("not a phone number (use E.164, e.g. +15555550123)") from exc


class SimulatedText(BaseModel):
    """One message typed on the simulator page."""

    model_config = ConfigDict(extra="forbid")
    phone: str = Field(min_length=4, max_length=20)
    body: str = Field(min_length=1, max_length=1600)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return e164(value)


def simulator_router(settings: Settings, nats: Callable[[], Any]) -> APIRouter:
    router = APIRouter(prefix="/dev/simulator", include_in_schema=False)
    signed_url = settings.public_base_url.rstrip("/") + WEBHOOK_PATH
    post_url = f"http://127.0.0.1:{settings.ingress_port}{WEBHOOK_PATH}"

    @router.get("", response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE)

    @router.post("/messages")
    async def send(text: SimulatedText) -> dict[str, Any]:
        """Post the message through the real Twilio webhook, signed with the line's token."""
        params = inbound_sms_params(text.phone, text.body, to=settings.twilio_from_number)
        body, headers = twilio_form(settings.sandbox_auth_token, signed_url, params)  # sandbox only
        async with httpx.AsyncClient(timeout=10) as client:
            try:
                resp = await client.post(post_url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                raise HTTPException(503, "the line did not answer; try again") from exc
        if resp.status_code != 200:
            raise HTTPException(503, f"the line answered {resp.status_code}; try again")
        return {"sid": params["MessageSid"], "accepted": True}

    @router.get("/replies")
    async def replies(request: Request, phone: str = Query(min_length=4, max_length=20)) -> StreamingResponse:
        """Server-sent events: every sandbox SMS sent to ``phone`` from now on."""
        try:
            number = e164(phone)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=100)

        async def on_sent(msg: Any) -> None:
            try:
                event = json.loads(msg.data)
            except ValueError:
                return
            if event.get("to") == number and not queue.full():
                queue.put_nowait({"sid": event.get("sid"), "body": event.get("body", "")})

        subscription = await nats().subscribe(subjects.SANDBOX_SMS_SENT, cb=on_sent)

        async def stream() -> AsyncIterator[str]:
            loop = asyncio.get_running_loop()
            ends = loop.time() + STREAM_LIFETIME_S
            last = loop.time()
            try:
                yield "retry: 2000\n\n"
                while loop.time() < ends and not await request.is_disconnected():
                    try:
                        item = await asyncio.wait_for(queue.get(), timeout=1.0)
                    except TimeoutError:
                        if loop.time() - last >= KEEPALIVE_S:  # proxies close idle streams
                            last = loop.time()
                            yield ": keepalive\n\n"
                        continue
                    last = loop.time()
                    yield f"event: reply\ndata: {json.dumps(item)}\n\n"
            finally:
                await subscription.unsubscribe()

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    return router
