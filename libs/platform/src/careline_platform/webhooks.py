"""Webhook signature verification for Twilio and Stripe.

Both checks work on exactly what the provider signed: the raw body is never re-serialised
before verification, and digests are compared in constant time.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Sequence
from urllib.parse import urlencode, urlsplit, urlunsplit

STRIPE_TOLERANCE_S = 300


class SignatureError(Exception):
    """The request is not what the provider signed. The message says why, without secrets."""


# --- Twilio -----------------------------------------------------------------------------


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """Twilio's X-Twilio-Signature: base64 HMAC-SHA1 of the URL and the sorted form params."""
    payload = url + "".join(k + v for k, v in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def inbound_sms_params(
    from_: str, body: str, sid: str | None = None, to: str = "+15550000000"
) -> dict[str, str]:
    """The form Twilio posts for an inbound SMS (the simulator, `make chat` and tests build it)."""
    return {
        "MessageSid": sid or "SM" + secrets.token_hex(16),
        "AccountSid": "AC" + "0" * 32,
        "From": from_,
        "To": to,
        "Body": body,
        "NumMedia": "0",
    }


def twilio_form(auth_token: str, url: str, params: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """The body and headers Twilio would post to ``url``, signed with ``auth_token``."""
    body = urlencode(params).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilio_signature(auth_token, url, params.items()),
    }
    return body, headers


@functools.lru_cache(maxsize=256)  # a few webhook URLs, over and over: spare the parsing
def _port_variants(url: str) -> tuple[str, ...]:
    """The URL as signed with and without its default port (Twilio may sign either form)."""
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    netloc = parts.netloc  # kept verbatim: case, credentials and IPv6 brackets as signed
    variants = [url]
    rest = (parts.path, parts.query, parts.fragment)
    if parts.port is None and default is not None:
        variants.append(urlunsplit((parts.scheme, f"{netloc}:{default}", *rest)))
    elif parts.port == default:
        variants.append(urlunsplit((parts.scheme, netloc.rsplit(":", 1)[0], *rest)))
    return tuple(variants)


def verify_twilio(
    auth_token: str, signature: str | None, url: str, params: Sequence[tuple[str, str]]
) -> None:
    """Raise SignatureError unless ``signature`` is Twilio's for this URL and these params."""
    if not signature:
        raise SignatureError("missing X-Twilio-Signature")
    for candidate in _port_variants(url):
        expected = twilio_signature(auth_token, candidate, params)
        if hmac.compare_digest(expected.encode(), signature.encode()):
            return
    raise SignatureError("X-Twilio-Signature does not match")


# --- Stripe -----------------------------------------------------------------------------


def stripe_signature(secret: str, timestamp: int, payload: bytes) -> str:
    """One v1 value: hex HMAC-SHA256 of ``<timestamp>.<raw body>``."""
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def _parse_stripe_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    v1: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise SignatureError("malformed Stripe-Signature header")
        if key == "t":
            if not (value.isascii() and value.isdigit() and len(value) <= 12):  # Unix seconds
                raise SignatureError("malformed Stripe-Signature timestamp")
            timestamp = int(value)
        elif key == "v1":
            v1.append(value)
    if timestamp is None or not v1:
        raise SignatureError("Stripe-Signature lacks t or v1")
    return timestamp, v1


def verify_stripe(
    secrets: Sequence[str],
    header: str | None,
    payload: bytes,
    *,
    now: float | None = None,
    tolerance_s: int = STRIPE_TOLERANCE_S,
) -> int:
    """Raise SignatureError unless one v1 value matches one secret within the tolerance.

    Several secrets (rotation on our side) and several v1 values (rotation on Stripe's side)
    are both accepted. Returns the signed timestamp.
    """
    if not header:
        raise SignatureError("missing Stripe-Signature")
    timestamp, candidates = _parse_stripe_header(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise SignatureError("Stripe-Signature timestamp outside the tolerance")
    for secret in secrets:
        expected = stripe_signature(secret, timestamp, payload).encode()
        if any(hmac.compare_digest(expected, c.encode()) for c in candidates):
            return timestamp
    raise SignatureError("no Stripe-Signature v1 value matches")


def stripe_header(secret: str, payload: bytes, timestamp: int | None = None) -> str:
    """Build a Stripe-Signature header as Stripe would (for the simulator and tests)."""
    ts = int(time.time()) if timestamp is None else timestamp
    return f"t={ts},v1={stripe_signature(secret, ts, payload)}"
