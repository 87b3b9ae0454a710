"""Sandbox-only pages: a checkout that completes itself, the way Stripe would report it, and a
stand-in for Stripe's customer portal.

Without a Stripe account billing hands out links to ``/dev/checkout/<session>``. Completing
one posts a correctly signed ``checkout.session.completed`` and an active subscription to
our own Stripe webhook, so the whole path (signature, JetStream, billing, entitlement,
conversation) runs exactly as with Stripe. A link with ``plan=annual`` subscribes to the
annual plan. Portal links (``/dev/portal/<session>``: BILLING, a failed payment) open a page
that says what Stripe's portal would offer there. Never mounted when a Stripe key is configured.
"""

from __future__ import annotations

import hashlib
import html
import json
import time
from typing import Any

import httpx
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from careline_platform.settings import Settings
from careline_platform.webhooks import stripe_header

PAGE = """<!doctype html><html><head><meta name="viewport" content="width=device-width">
<title>Careline sandbox checkout</title></head>
<body style="font-family:sans-serif;max-width:28em;margin:3em auto">
<h1>Careline</h1><p>{message}</p>{form}</body></html>"""
FORM = """<form method="post"><input type="hidden" name="user" value="{user}">
<input type="hidden" name="plan" value="{plan}">
<button type="submit">Subscribe ({price}, sandbox)</button></form>"""
PRICES = {"monthly": "$9.99 a month", "annual": "$99 a year"}
PORTAL = (
    "This is the sandbox billing portal: no card is on file. With Stripe, the customer portal "
    "opens here to update the card, switch between the monthly and annual plans, or cancel."
)


def sandbox_events(session_id: str, user_id: str, now: int, plan: str = "monthly") -> list[dict[str, Any]]:
    """What Stripe would send after a paid checkout: the session, then the active subscription."""
    annual = plan == "annual"
    tag = hashlib.sha1(f"{session_id}:{user_id}".encode()).hexdigest()[:14]
    customer, subscription = f"cus_sbx_{tag}", f"sub_sbx_{tag}"
    session = {
        "id": session_id,
        "object": "checkout.session",
        "client_reference_id": user_id,
        "customer": customer,
        "subscription": subscription,
        "mode": "subscription",
    }
    active = {
        "id": subscription,
        "object": "subscription",
        "customer": customer,
        "status": "active",
        "cancel_at_period_end": False,
        "current_period_end": now + (365 if annual else 30) * 86400,
        "items": {"data": [{"price": {"id": f"price_sandbox_{'annual' if annual else 'monthly'}"}}]},
        "metadata": {"user_id": user_id},
    }
    return [
        _event(f"evt_sbx_{tag}_1", "checkout.session.completed", session, now),
        _event(f"evt_sbx_{tag}_2", "customer.subscription.created", active, now + 1),
    ]


def _event(event_id: str, type_: str, obj: dict[str, Any], created: int) -> dict[str, Any]:
    return {"id": event_id, "object": "event", "type": type_, "created": created, "data": {"object": obj}}


def dev_router(settings: Settings, secret: str) -> APIRouter:
    router = APIRouter(prefix="/dev", include_in_schema=False)

    @router.get("/checkout/{session_id}", response_class=HTMLResponse)
    async def checkout_page(session_id: str, user: str = "", plan: str = "monthly") -> HTMLResponse:
        if not session_id.startswith("cs_sandbox_") or not user or plan not in PRICES:
            return HTMLResponse(PAGE.format(message="This checkout link is not valid.", form=""), 404)
        message = "This is the sandbox: no card is charged."
        form = FORM.format(user=html.escape(user), plan=plan, price=PRICES[plan])
        return HTMLResponse(PAGE.format(message=message, form=form))

    @router.get("/portal/{session_id}", response_class=HTMLResponse)
    async def portal_page(session_id: str) -> HTMLResponse:
        if not session_id.startswith("bps_sandbox_"):
            return HTMLResponse(PAGE.format(message="This billing link is not valid.", form=""), 404)
        return HTMLResponse(PAGE.format(message=PORTAL, form=""))

    @router.post("/checkout/{session_id}", response_class=HTMLResponse)
    async def complete(
        session_id: str, request: Request, user: str = Form(""), plan: str = Form("monthly")
    ) -> HTMLResponse:
        if not session_id.startswith("cs_sandbox_") or not user or plan not in PRICES:
            return HTMLResponse(PAGE.format(message="This checkout link is not valid.", form=""), 404)
        url = f"http://127.0.0.1:{settings.ingress_port}/webhooks/stripe"
        async with httpx.AsyncClient(timeout=10) as client:
            for event in sandbox_events(session_id, user, int(time.time()), plan):
                body = json.dumps(event).encode()
                resp = await client.post(
                    url,
                    content=body,
                    headers={
                        "Stripe-Signature": stripe_header(secret, body),
                        "Content-Type": "application/json",
                    },
                )
                if resp.status_code != 200:
                    message = "The line is busy right now; please try again in a minute."
                    return HTMLResponse(PAGE.format(message=message, form=""), 503)
        return HTMLResponse(PAGE.format(message="You're subscribed. You can text the line again.", form=""))

    return router
