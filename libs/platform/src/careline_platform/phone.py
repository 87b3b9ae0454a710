"""Phone numbers in E.164, the one form identities are keyed by."""

from __future__ import annotations

import hashlib
import hmac
import re

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


class InvalidPhoneNumber(ValueError):
    """The text is not a phone number we can key an identity by."""


def to_e164(raw: str, default_country_code: str = "1") -> str:
    """Normalise a phone number to E.164; 10-digit numbers are taken as North American."""
    text = raw.strip()
    if any(c.isdigit() and not c.isascii() for c in text):
        raise InvalidPhoneNumber("not a phone number")
    digits = re.sub(r"[^0-9]", "", text)  # ASCII only: a fullwidth digit is not ours
    if text.startswith("+"):
        candidate = "+" + digits
    elif text.startswith("00"):
        candidate = "+" + digits[2:]
    elif len(digits) == 10:
        candidate = f"+{default_country_code}{digits}"
    elif len(digits) == 11 and digits.startswith(default_country_code):
        candidate = "+" + digits
    else:
        candidate = "+" + digits
    if not _E164.match(candidate):
        raise InvalidPhoneNumber("not a phone number")
    return candidate


def is_e164(text: str) -> bool:
    """Exactly E.164 as written (``+15551234567``): no spaces, dashes or missing country code."""
    return _E164.fullmatch(text) is not None


def phone_hash(key: bytes, phone: str) -> str:
    """A phone number's keyed hash (HMAC-SHA256, hex), kept where the number itself must not be
    (the audit log). The same number under the same key always gives the same hash, so an admin
    can find every entry about a number; without the key, hashing every number in the plan
    recovers nothing."""
    return hmac.new(key, phone.encode(), hashlib.sha256).hexdigest()
