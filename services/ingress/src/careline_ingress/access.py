"""Who is calling the admin API, and in which role: the bearer token's user and its roles.

A request is let in when its token is valid (signed with ``ADMIN_JWT_SECRET``, not expired, no
longer-lived than ``ADMIN_TOKEN_MAX_HOURS``: else 401) and its user holds one of the route's
roles (else 403). Roles come from ``careline_platform.staff_roles``: the identity's, plus
``admin`` for a live bootstrap admin of ``ADMIN_USER_IDS``, so a revoke takes effect on the
next request and stays.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from fastapi import HTTPException, Request
from pydantic import BaseModel

from careline_platform.admin_tokens import InvalidToken, user_of
from careline_platform.settings import Settings
from careline_platform.staff_roles import StaffRoles


class Caller(BaseModel):
    user_id: str
    roles: frozenset[str]

    @property
    def role(self) -> str:
        """The role the caller acts in (the highest they hold), as the audit log records it."""
        return "admin" if "admin" in self.roles else "support"


class Gate:
    """The admin API's authentication (the token) and authorisation (the roles)."""

    def __init__(self, settings: Settings, roles: Callable[[], StaffRoles]) -> None:
        self.settings = settings
        self.roles = roles
        self.bootstrap = settings.bootstrap_admin_ids

    async def caller(self, request: Request) -> Caller:
        """The user the bearer token names, with their roles (401 without a valid token)."""
        secret = self.settings.admin_jwt_secret
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if secret is None or scheme.lower() != "bearer" or not token:
            raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        try:
            longest = timedelta(hours=self.settings.admin_token_max_hours)
            user_id = user_of(secret.get_secret_value(), token.strip(), longest)
        except InvalidToken as exc:
            raise HTTPException(
                401, "the token is not valid", headers={"WWW-Authenticate": "Bearer"}
            ) from exc
        roles = await self.roles().roles_of(user_id, self.bootstrap)
        return Caller(user_id=user_id, roles=roles or frozenset())

    def needs(self, *allowed: str) -> Callable[[Request], Awaitable[Caller]]:
        """A dependency that lets in only callers holding one of ``allowed`` (else 403)."""

        async def check(request: Request) -> Caller:
            who = await self.caller(request)
            if not who.roles & set(allowed):
                raise HTTPException(403, f"requires role {' or '.join(allowed)}")
            return who

        return check
