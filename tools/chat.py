"""`make chat`: text the line from a terminal, as a phone would through Twilio.

Each line you type is posted to the ingress SMS webhook, signed exactly as Twilio signs it.
Replies sent to the sandbox (no Twilio credentials) are shown as they arrive.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

import httpx
import nats

from careline_contracts import subjects
from careline_platform.nats_auth import connect_options, with_local_credentials
from careline_platform.phone import to_e164
from careline_platform.settings import Settings
from careline_testing.signing import inbound_sms_params, twilio_form


async def read_lines() -> asyncio.Queue[str | None]:
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def reader() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\n"))
        loop.call_soon_threadsafe(queue.put_nowait, None)

    loop.run_in_executor(None, reader)
    return queue


async def chat(phone: str, settings: Settings) -> None:
    url = settings.public_base_url.rstrip("/") + "/webhooks/twilio/sms"
    post_url = f"http://127.0.0.1:{settings.ingress_port}/webhooks/twilio/sms"
    nc = await nats.connect(
        settings.nats_servers, **connect_options(with_local_credentials(settings), "operator")
    )

    async def on_reply(msg: nats.aio.msg.Msg) -> None:
        event = json.loads(msg.data)
        if event.get("to") == phone:
            print(f"\n  line > {event['body']}\n you > ", end="", flush=True)

    await nc.subscribe(subjects.SANDBOX_SMS_SENT, cb=on_reply)
    print(f"Texting the Careline number as {phone}. Type a message, Ctrl-D to quit.")
    if settings.twilio_account_sid:
        print("(Twilio credentials are set: replies go to the real phone, not here.)")
    token = settings.twilio_signing_token
    if token is None:
        raise SystemExit("TWILIO_ACCOUNT_SID is set without TWILIO_AUTH_TOKEN: nothing to sign with")
    lines = await read_lines()
    async with httpx.AsyncClient(timeout=10) as client:
        print(" you > ", end="", flush=True)
        while (line := await lines.get()) is not None:
            if not line.strip():
                print(" you > ", end="", flush=True)
                continue
            body, headers = twilio_form(token, url, inbound_sms_params(phone, line))
            resp = await client.post(post_url, content=body, headers=headers)
            if resp.status_code != 200:
                print(f"  ! ingress answered {resp.status_code}: {resp.text}")
    await asyncio.sleep(1.0)  # let the last reply arrive
    await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--phone", default="+15555550123", help="the number you text from")
    args = parser.parse_args()
    asyncio.run(chat(to_e164(args.phone), Settings()))


if __name__ == "__main__":
    main()
