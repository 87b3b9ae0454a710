"""The edge never closes a kept-alive connection under a client that is about to reuse it.

A Twilio post paced five seconds after the previous one (as in the spool test, where NATS is down
for a minute) reused a connection that uvicorn's default 5 s keep-alive was closing at that
instant: the client saw a reset and the text was never answered. The server now keeps an idle
connection longer than the proxies in front of it do, so the client, or its proxy, closes first.
Not a unit test: it has to stay idle past uvicorn's default for real.
"""

from __future__ import annotations

import asyncio

from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from careline_platform.web import KEEP_ALIVE_S, WebServer
from careline_testing.servers import free_port

UVICORN_DEFAULT_S = 5.0
REQUEST = b"GET / HTTP/1.1\r\nHost: edge\r\nConnection: keep-alive\r\n\r\n"


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        await PlainTextResponse("ok")(scope, receive, send)


async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(REQUEST)
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    await asyncio.wait_for(reader.readexactly(2), 5)  # "ok"
    return head


def test_a_connection_idle_past_uvicorns_default_still_carries_the_next_request() -> None:
    assert KEEP_ALIVE_S > 60  # the common load balancers' idle timeout

    async def scenario() -> None:
        port = free_port()
        web = WebServer(app, "127.0.0.1", port, grace_s=5)
        await web.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert (await answer(reader, writer)).startswith(b"HTTP/1.1 200")
            await asyncio.sleep(UVICORN_DEFAULT_S + 1.0)
            assert not reader.at_eof()  # the server did not hang up on the idle connection
            assert (await answer(reader, writer)).startswith(b"HTTP/1.1 200")  # same socket
            writer.close()
            await writer.wait_closed()
        finally:
            await web.stop()

    asyncio.run(scenario())
