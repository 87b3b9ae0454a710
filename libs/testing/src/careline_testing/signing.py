"""Sign webhooks exactly as Twilio and Stripe do, for tests and `make chat` (the Twilio form
builders live in ``careline_platform.webhooks``, where the simulator uses them too)."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from careline_platform.webhooks import inbound_sms_params, stripe_header, twilio_form

__all__ = ["inbound_sms_params", "stripe_event", "stripe_post", "twilio_form"]


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
