"""``careline deadletters``: read the DEAD_LETTERS stream without creating any consumer.

Messages are fetched one by one with JetStream's "get message by sequence" API, newest first,
so nothing is left behind on the server (no durable, no ephemeral consumer).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from careline_cli import redrive
from careline_cli.common import (
    OPERATOR,
    CliError,
    cell,
    fmt_time,
    mask_text,
    positive_int,
    safe_uri,
    service_option,
    truncate,
)
from careline_contracts.deadletter import DeadLetter
from careline_contracts.subjects import DEAD_LETTER_PREFIX, DEAD_LETTERS
from careline_platform.settings import Settings

if TYPE_CHECKING:
    from nats.aio.client import Client as NatsClient

REASON_WIDTH = 60


async def _quiet(*_args: Any) -> None:
    """nats-py's default callbacks log tracebacks; the CLI reports errors itself."""


@asynccontextmanager
async def nats_client(settings: Settings, timeout_s: float) -> AsyncIterator[NatsClient]:
    import nats  # imported here: the jobs commands need not pay for nats-py's import

    from careline_platform.nats_auth import connect_options

    url = settings.nats_url
    try:
        # one attempt per server (0 would mean "forever" while picking one), bounded overall
        nc = await asyncio.wait_for(
            nats.connect(
                settings.nats_servers,
                connect_timeout=timeout_s,
                allow_reconnect=False,
                max_reconnect_attempts=1,
                reconnect_time_wait=0.1,
                error_cb=_quiet,
                disconnected_cb=_quiet,
                closed_cb=_quiet,
                **connect_options(settings, OPERATOR),
            ),
            timeout=timeout_s,
        )
    except TimeoutError as exc:
        raise CliError(f"cannot reach NATS at {safe_uri(url)} (no answer within {timeout_s:g}s)") from exc
    except Exception as exc:  # refused, no servers, bad URL: all mean "can't reach it"
        raise CliError(f"cannot reach NATS at {safe_uri(url)} ({_describe(exc)})") from exc
    try:
        yield nc
    finally:
        await nc.close()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text and text[0] else type(exc).__name__


def _service_of(subject: str) -> str:
    parts = subject.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == DEAD_LETTER_PREFIX else "?"


async def list_dead_letters(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    from nats.errors import Error as NatsError
    from nats.errors import NoRespondersError
    from nats.js.errors import NotFoundError, ServiceUnavailableError

    rows: list[tuple[int, str, DeadLetter | None]] = []
    async with nats_client(settings, args.timeout) as nc:
        js = nc.jetstream(timeout=args.timeout)
        try:
            info = await js.stream_info(DEAD_LETTERS.name)
        except NotFoundError:
            console.print(Text(f"No dead letters: the {DEAD_LETTERS.name} stream does not exist yet."))
            return 0
        except (NoRespondersError, ServiceUnavailableError) as exc:
            raise CliError(f"JetStream is not available on {safe_uri(settings.nats_url)}") from exc
        except NatsError as exc:
            raise CliError(f"NATS error reading {DEAD_LETTERS.name}: {_describe(exc)}") from exc
        first, last = int(info.state.first_seq or 0), int(info.state.last_seq or 0)
        seq = last
        while seq >= max(first, 1) and len(rows) < args.limit:
            try:
                msg = await js.get_msg(DEAD_LETTERS.name, seq=seq)
            except NotFoundError:  # deleted or expired meanwhile
                seq -= 1
                continue
            except NatsError as exc:
                raise CliError(f"NATS error reading {DEAD_LETTERS.name}: {_describe(exc)}") from exc
            seq -= 1
            letter: DeadLetter | None
            try:
                letter = DeadLetter.model_validate_json(msg.data or b"")
            except (ValidationError, json.JSONDecodeError):
                letter = None
            service = letter.service if letter is not None else _service_of(msg.subject or "")
            if args.service and service not in args.service:
                continue
            rows.append((int(msg.seq or 0), msg.subject or "", letter))

    scope = ", ".join(dict.fromkeys(args.service)) if args.service else "all services"
    if not rows:
        console.print(Text(f"No dead letters for {scope}."))
        return 0
    table = Table(
        title=Text(f"Dead letters ({scope}), newest first"), box=box.SIMPLE_HEAD, title_justify="left"
    )
    table.add_column("seq", justify="right")
    table.add_column("service")
    table.add_column("subject", overflow="fold")
    table.add_column("msg id", overflow="fold")
    table.add_column("reason", overflow="fold")
    table.add_column("deliveries", justify="right")
    table.add_column("dead at", no_wrap=True)
    for seq_no, subject, letter in rows:
        if letter is None:
            table.add_row(
                cell(seq_no),
                cell(_service_of(subject)),
                cell(subject),
                cell("-"),
                cell("(not a dead-letter envelope)", "dim"),
                cell("-"),
                cell("-"),
            )
            continue
        table.add_row(
            cell(seq_no),
            cell(letter.service),
            cell(letter.subject),
            cell(letter.msg_id),
            cell(truncate(mask_text(letter.reason), REASON_WIDTH)),
            cell(letter.deliveries),
            cell(fmt_time(letter.dead_at)),
        )
    console.print(table)
    console.print(Text(f"{len(rows)} dead letter(s) of {int(info.state.messages or 0)} in the stream"))
    return 0


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """``careline deadletters list`` and ``redrive``."""
    letters = commands.add_parser(
        "deadletters", help=f"read the {DEAD_LETTERS.name} stream", parents=[common]
    )
    sub = letters.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("list", help="list dead-lettered messages, newest first", parents=[common])
    service_option(p, "only letters from these services")
    p.add_argument("--limit", type=positive_int, default=50, help="at most N letters (default 50)")
    p.set_defaults(handler=list_dead_letters)
    redrive.add_parser(sub, common)
