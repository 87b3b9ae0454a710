"""The two ASGI layers ingress puts in front of FastAPI's router: a body limit and direct routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]


class BodyLimit:
    """Refuse, before reading it, a body whose Content-Length is over the limit (413)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = b"0"
            for name, value in scope.get("headers") or ():
                if name == b"content-length":
                    length = value  # the last one, as a dict of the headers would keep
            if not length.isdigit() or int(length) > self.max_bytes:
                too_big = JSONResponse({"error": f"body over {self.max_bytes} bytes"}, status_code=413)
                await too_big(scope, receive, send)
                return
        await self.app(scope, receive, send)


class DirectRoutes:
    """Answer a few POST routes straight from the ASGI scope, ahead of FastAPI's router.

    The webhooks take a Request and return a Response: FastAPI's routing, dependency solving
    and exception layers add nothing to them but a fifth of their CPU. They stay declared on
    the FastAPI app with the same endpoint functions, so the OpenAPI document lists them and
    what they answer cannot drift. This layer sits inside the app's ServerErrorMiddleware and
    the body limit, so an unexpected error is still the app's short JSON 500.

    A scope with a ``root_path`` goes the long way, where the router strips it.
    """

    def __init__(self, app: ASGIApp, endpoints: Mapping[str, Endpoint]) -> None:
        self.app = app
        self.endpoints = dict(endpoints)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = None
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            endpoint = self.endpoints.get(scope["path"])
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        response = await endpoint(Request(scope, receive, send))
        await response(scope, receive, send)
