"""The two ASGI layers ingress puts in front of FastAPI's router: a body limit and direct routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]


class BodyTooLarge(Exception):
    """The body being read passed the limit; answered 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"body over {max_bytes} bytes")


class BodyLimit:
    """Refuse a body over ``max_bytes`` with 413, without buffering past the limit.

    A Content-Length over the limit (or not a number) is refused before anything is read. A body
    without one (``Transfer-Encoding: chunked``) is counted as the server hands it over: the
    read that passes the limit raises :class:`BodyTooLarge`, so the request is refused before
    anyone verified a signature or kept more than ``max_bytes`` of it. A declared length is
    held to by the HTTP server itself (it never delivers more than it says).
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def too_big(self) -> Response:
        return JSONResponse({"error": f"body over {self.max_bytes} bytes"}, status_code=413)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length: bytes | None = None
        for name, value in scope.get("headers") or ():
            if name == b"content-length":
                length = value  # the last one, as a dict of the headers would keep
        if length is not None:
            if not length.isdigit() or int(length) > self.max_bytes:
                await self.too_big()(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        received, exceeded, answered = 0, False, False

        async def counted() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched(message: Message) -> None:
            nonlocal answered
            if exceeded:  # the app's own answer to a body it could not read (FastAPI's 400)
                return
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if answered:  # a route that answered before reading the rest: nothing left to say
                raise
        if exceeded and not answered:
            await self.too_big()(scope, receive, send)


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
