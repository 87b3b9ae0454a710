"""Sign webhooks exactly as Twilio and Stripe do, for tests, `make chat` and the simulator."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from careline_platform.webhooks import stripe_header, twilio_signature


def twilio_form(auth_token: str, url: str, params: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """The body and headers Twilio would post to ``url``."""
    body = urlencode(params).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilio_signature(auth_token, url, params.items()),
    }
    return body, headers


def inbound_sms_params(
    from_: str, body: str, sid: str | None = None, to: str = "+15550000000"
) -> dict[str, str]:
    return {
        "MessageSid": sid or "SM" + secrets.token_hex(16),
        "AccountSid": "AC" + "0" * 32,
        "From": from_,
        "To": to,
        "Body": body,
        "NumMedia": "0",
    }


def stripe_event(
    type_: str, obj: dict[str, Any], *, event_id: str | None = None, created: int | None = None
) -> dict[str, Any]:
    return {
        "id": event_id or "evt_" + secrets.token_hex(12),
        "object": "event",
        "type": type_,
        "created": created or int(time.time()),
        "livemode": False,
        "api_version": "2024-06-20",
        "data": {"object": obj},
    }


def stripe_post(
    secret: str, event: dict[str, Any], timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    return body, {
        "Content-Type": "application/json",
        "Stripe-Signature": stripe_header(secret, body, timestamp),
    }
