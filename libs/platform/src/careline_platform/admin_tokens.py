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


class InvalidToken(Exception):
    """Missing, malformed, expired or wrongly signed: the caller is not authenticated."""


def mint_token(secret: str, user_id: str, ttl: timedelta = timedelta(hours=12)) -> str:
    now = datetime.now(UTC)
    claims = {"sub": user_id, "iss": ISSUER, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def user_of(secret: str, token: str) -> str:
    """The user id a valid token names; raises InvalidToken otherwise."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER, options={"require": ["sub", "exp", "iss"]}
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(type(exc).__name__) from exc
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("no subject")
    return subject
