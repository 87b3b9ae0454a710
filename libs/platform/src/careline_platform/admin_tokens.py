"""Admin bearer tokens: HS256 JWTs signed with ``ADMIN_JWT_SECRET``, ``sub`` = the user id.

A token only says who is calling; what they may do comes from the roles on their user
identity (ingress's ``users``), looked up on every request, so revoking a role takes effect
at once without waiting for tokens to expire.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

ALGORITHM = "HS256"
ISSUER = "careline"
ROLES = ("admin", "support")
MAX_LIFETIME = timedelta(hours=12)
"""The longest a token may live, from its ``iat`` to its ``exp`` (``ADMIN_TOKEN_MAX_HOURS``).
A token signed for longer is refused however it was made: a leaked one is useless by morning."""
CLOCK_SKEW = timedelta(seconds=60)


class InvalidToken(Exception):
    """Missing, malformed, expired or wrongly signed: the caller is not authenticated."""


def mint_token(
    secret: str, user_id: str, ttl: timedelta = timedelta(hours=12), max_lifetime: timedelta = MAX_LIFETIME
) -> str:
    """A token for ``user_id`` that lives ``ttl``; one longer than ``max_lifetime`` is refused."""
    if ttl > max_lifetime:  # (a negative ttl makes an expired token, which tests use)
        raise ValueError(f"a token lives at most {max_lifetime.total_seconds() / 3600:g} h")
    now = datetime.now(UTC)
    claims = {"sub": user_id, "iss": ISSUER, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def user_of(secret: str, token: str, max_lifetime: timedelta = MAX_LIFETIME) -> str:
    """The user id a valid token names; raises InvalidToken otherwise.

    Valid: HS256 with ``secret``, our issuer, not expired, and signed to live at most
    ``max_lifetime`` from its ``iat`` (PyJWT refuses an ``iat`` in the future, so the lifetime
    cannot be stretched by moving it forward).
    """
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["sub", "exp", "iat", "iss"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(type(exc).__name__) from exc
    longest = (max_lifetime + CLOCK_SKEW).total_seconds()
    if claims["exp"] - claims["iat"] > longest:  # PyJWT checked both are numbers
        raise InvalidToken("lifetime over the maximum")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("no subject")
    return subject
