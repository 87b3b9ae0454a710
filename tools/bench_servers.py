"""The benchmark's helper servers, each run as its own process by `tools/bench.py`.

``bare``: an ASGI endpoint that only answers 200, served exactly as ingress is served
(`careline_platform.web.WebServer`: one uvicorn server on uvloop, same arguments), so it is the ceiling of
what any endpoint on these server settings can do on this machine.

``twilio``: the fake Twilio API of `careline_testing` in its own process (so the load
generator never delays it), plus ``GET /bench/sent`` listing every message it received with
the ``time.monotonic()`` of its arrival (one clock for every process on the machine).
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from careline_testing.fakes import FakeTwilio

EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer every request 200 with the TwiML ingress answers, after reading the body."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:  # read the body, as any real endpoint must
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/xml"), (b"content-length", str(len(EMPTY_TWIML)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": EMPTY_TWIML})


def twilio_app() -> Any:
    fake = FakeTwilio()
    app = fake.app()

    async def sent(_request: Request) -> JSONResponse:
        return JSONResponse([{"to": m.to, "body": m.body, "at": m.at} for m in list(fake.messages)])

    app.router.routes.append(Route("/bench/sent", sent, methods=["GET"]))
    return app


def serve(app: Any, port: int) -> None:
    """The same uvicorn settings as `careline_platform.web.WebServer` (one process, no access log)."""
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=("bare", "twilio"))
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve(bare_app if args.kind == "bare" else twilio_app(), args.port)


if __name__ == "__main__":
    main()
