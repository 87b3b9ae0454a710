"""``careline deadletters redrive``: publish dead-lettered messages again, for the consumer that
gave up on them (``careline_platform.deadletters``).

The CLI, connected as ``operator``, reads DEAD_LETTERS by sequence number and chooses the
letters; the service that owns each letter's original subject publishes it again when asked
(``admin.<owner>.deadletter_redrive``), so the operator needs no permission to publish events.
The owner has to be running to answer.
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from careline_cli.common import CliError, cell, fmt_time, positive_int, safe_uri, service_option
from careline_contracts import admin as ops
from careline_contracts.admin import DeadLetterRedriven, RedriveDeadLetter
from careline_contracts.http import REDRIVE_MAX, SUBJECT_PATTERN
from careline_contracts.subjects import DEAD_LETTERS
from careline_platform.settings import Settings

AGO = re.compile(r"^(\d+)([mhd])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days"}
STYLES = {"redriven": "green", "would_redrive": "cyan", "skipped": "dim", "failed": "bold red"}


def parse_since(text: str) -> datetime:
    """``30m``, ``2h``, ``7d`` ago, or an ISO 8601 time (UTC when it names no zone)."""
    if found := AGO.match(text.strip()):
        return datetime.now(UTC) - timedelta(**{UNITS[found[2]]: int(found[1])})
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            "not a time: give an ISO time (2026-11-30T22:00Z) or an age (30m, 2h, 7d)"
        ) from exc
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _subject(text: str) -> str:
    if not re.fullmatch(SUBJECT_PATTERN, text) or len(text) > 200:
        raise argparse.ArgumentTypeError("not a NATS subject (tokens separated by dots; * and > allowed)")
    return text


def _limit(text: str) -> int:
    value = int(text)
    if not 1 <= value <= REDRIVE_MAX:
        raise argparse.ArgumentTypeError(f"must be between 1 and {REDRIVE_MAX}")
    return value


async def redrive_letters(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    from nats.js.errors import NotFoundError

    from careline_cli.jobs import admin
    from careline_platform.deadletters import Selection, choose, redrive

    selection = Selection(
        tuple(args.id or ()),
        tuple(args.seq or ()),
        args.subject,
        args.since,
        tuple(args.service or ()),
    )
    async with admin(settings, args.timeout) as ask_service:
        try:
            chosen = await choose(
                ask_service.broker.connection.jetstream(timeout=args.timeout), selection, args.limit
            )
        except NotFoundError:
            console.print(Text(f"No dead letters: the {DEAD_LETTERS.name} stream does not exist yet."))
            return 0
        except Exception as exc:  # no responders, a timeout: JetStream is away
            raise CliError(
                f"cannot read {DEAD_LETTERS.name} on {safe_uri(settings.nats_url)} ({type(exc).__name__})"
            ) from exc

        async def ask_owner(owner: str, request: RedriveDeadLetter) -> DeadLetterRedriven:
            return await ask_service(owner, ops.DEADLETTER_REDRIVE, request)

        outcomes = await redrive(chosen, ask_owner, "operator", dry_run=args.dry_run)
    if not outcomes:
        console.print(Text("No dead letters match."))
        return 0
    title = "Would re-drive (dry run), newest first" if args.dry_run else "Re-drive, newest first"
    table = Table(title=Text(title), box=box.SIMPLE_HEAD, title_justify="left")
    for name, justify in (("seq", "right"), ("consumer", "left"), ("subject", "left"), ("msg id", "left")):
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    table.add_column("dead at", no_wrap=True)
    table.add_column("outcome")
    table.add_column("detail", overflow="fold")
    for o in outcomes:
        table.add_row(
            cell(o.seq),
            cell(o.letter.durable or o.letter.service),
            cell(o.letter.subject),
            cell(o.letter.msg_id),
            cell(fmt_time(o.letter.dead_at)),
            cell(o.outcome.replace("_", " "), STYLES[o.outcome]),
            cell(o.detail),
        )
    console.print(table)
    counts = {kind: sum(o.outcome == kind for o in outcomes) for kind in STYLES}
    summary = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in counts.items() if n)
    console.print(Text(f"{len(outcomes)} letter(s): {summary}"))
    return 1 if counts["failed"] else 0


def _check(args: argparse.Namespace) -> str | None:
    if not (args.id or args.seq or args.subject or args.since):
        return "choose the letters: --id, --seq, --subject or --since (see --dry-run to look first)"
    return None


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """``careline deadletters redrive``."""
    p = sub.add_parser(
        "redrive",
        help="publish dead letters again, for the consumer that gave up on them only",
        parents=[common],
        description="Publish dead-lettered messages again on their original subjects under a new "
        "message id (the original one in a header): only the consumer that gave up acts on it, "
        "and one that handled the message already does nothing. Criteria narrow together.",
    )
    p.add_argument(
        "--id", action="append", metavar="MSG_ID", help="a letter's original message id (repeatable)"
    )
    p.add_argument(
        "--seq", action="append", type=positive_int, metavar="N", help="a DEAD_LETTERS sequence number"
    )
    p.add_argument(
        "--subject", type=_subject, help="original subject: exact, a base (all partitions), or wildcards"
    )
    p.add_argument("--since", type=parse_since, metavar="TIME", help="dead since: ISO time, or 30m / 2h / 7d")
    service_option(p, "only letters of these services' consumers")
    p.add_argument(
        "--limit", type=_limit, default=100, help=f"at most N letters (default 100, max {REDRIVE_MAX})"
    )
    p.add_argument("--dry-run", action="store_true", help="list what would be re-driven; publish nothing")
    p.set_defaults(handler=redrive_letters, check=_check, command_parser=p)
