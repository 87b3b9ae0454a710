"""Admin tokens: who signed them, for whom, and for how long (issue 14: a 3-year token worked)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import jwt
import pytest

from careline_platform.admin_tokens import ALGORITHM, ISSUER, MAX_LIFETIME, InvalidToken, mint_token, user_of

SECRET = "unit-admin-secret-0123456789abcdef0123"
HOUR = 3600


def signed(secret: str = SECRET, algorithm: str = ALGORITHM, **claims: Any) -> str:
    now = int(time.time())
    body = {"sub": "usr_ops", "iss": ISSUER, "iat": now, "exp": now + HOUR, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, secret, algorithm=algorithm)


def test_a_minted_token_names_its_user() -> None:
    assert user_of(SECRET, mint_token(SECRET, "usr_ops", timedelta(hours=12))) == "usr_ops"


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (lambda: signed(exp=int(time.time()) + 3 * 365 * 24 * HOUR), "lifetime over the maximum"),
        (lambda: signed(exp=int(time.time()) + 13 * HOUR), "lifetime over the maximum"),
        # an iat moved forward to stretch the lifetime is refused
        (
            lambda: signed(iat=int(time.time()) + 30 * 24 * HOUR, exp=int(time.time()) + 30 * 24 * HOUR + 60),
            "ImmatureSignature",
        ),
        (lambda: signed(exp=None), "MissingRequiredClaim"),
        (lambda: signed(iat=None), "MissingRequiredClaim"),
        (lambda: signed(exp=int(time.time()) - 10), "ExpiredSignature"),
        (lambda: signed(secret="another-secret-0123456789abcdef01234"), "InvalidSignature"),
        (lambda: signed(secret=SECRET * 2, algorithm="HS512"), "InvalidAlgorithm"),
        (lambda: signed(iss="someone-else"), "InvalidIssuer"),
        (
            lambda: jwt.encode({"sub": "usr_ops", "iss": ISSUER, "exp": 9e9}, None, algorithm="none"),
            "InvalidAlgorithm",
        ),
        (lambda: "not.a.token", "DecodeError"),
    ],
    ids=[
        "3-years",
        "13-hours",
        "future-iat",
        "no-exp",
        "no-iat",
        "expired",
        "forged",
        "hs512",
        "issuer",
        "alg-none",
        "garbage",
    ],
)
def test_tokens_that_are_forged_expired_or_too_long_lived_are_refused(token: Any, reason: str) -> None:
    with pytest.raises(InvalidToken, match=reason):
        user_of(SECRET, token())


def test_the_maximum_is_a_setting_and_minting_past_it_is_refused() -> None:
    day = signed(exp=int(time.time()) + 24 * HOUR)
    assert user_of(SECRET, day, max_lifetime=timedelta(hours=24)) == "usr_ops"
    with pytest.raises(InvalidToken):
        user_of(SECRET, day)  # the default, 12 h
    with pytest.raises(ValueError, match="at most 12 h"):
        mint_token(SECRET, "usr_ops", MAX_LIFETIME + timedelta(seconds=1))
