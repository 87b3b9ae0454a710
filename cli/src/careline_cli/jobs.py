"""``careline jobs``: list, show, retry and purge the jobs of each service's database."""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import DESCENDING, AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from careline_cli.common import (
    SERVICES,
    STATUS_STYLES,
    CliError,
    cell,
    fmt_time,
    fmt_value,
    mask,
    mask_text,
    truncate,
)
from careline_platform.clock import SystemClock
from careline_platform.jobs import JobStatus, JobStore
from careline_platform.mongo import connect
from careline_platform.settings import Settings

Document = dict[str, Any]
ALL_STATUSES = tuple(s.value for s in JobStatus)
DEFAULT_STATUSES = ("failed", "dead", "processing", "pending")
PURGEABLE = ("completed", "dead")
RETRYABLE = ("failed", "dead")
ERROR_WIDTH = 60
PURGE_BATCH = 500
FINISHED_AT = {"completed": "completed_at", "dead": "dead_at"}


@asynccontextmanager
async def mongo(settings: Settings, timeout_s: float) -> AsyncIterator[AsyncMongoClient[Document]]:
    """A client that gives up after ``timeout_s`` when no server answers."""
    client = connect(settings.mongodb_uri, timeout_ms=max(1, int(timeout_s * 1000)))
    try:
        yield client
    finally:
        await client.close()


def jobs_collection(
    client: AsyncMongoClient[Document], settings: Settings, service: str
) -> AsyncCollection[Document]:
    return client[settings.database_name(service)].jobs


# --- list -------------------------------------------------------------------------------


def _statuses(requested: Sequence[str] | None) -> list[str]:
    if not requested:
        return list(DEFAULT_STATUSES)
    if "all" in requested:
        return list(ALL_STATUSES)
    return list(dict.fromkeys(requested))


async def list_jobs(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    services = list(dict.fromkeys(args.service or SERVICES))
    statuses = _statuses(args.status)
    query: Document = {"status": {"$in": statuses}}
    if args.type:
        query["type"] = args.type
    rows: list[tuple[str, Document]] = []
    async with mongo(settings, args.timeout) as client:
        for service in services:
            cursor = jobs_collection(client, settings, service).find(query).sort("created_at", DESCENDING)
            for doc in await cursor.limit(args.limit).to_list():
                rows.append((service, doc))
    epoch = datetime.min.replace(tzinfo=UTC)
    rows.sort(key=lambda row: _aware(row[1].get("created_at")) or epoch, reverse=True)
    shown = rows[: args.limit]

    scope = ", ".join(services)
    if not shown:
        console.print(Text(f"No jobs with status {'/'.join(statuses)} in {scope}."))
        return 0
    table = Table(
        title=Text(f"Jobs ({'/'.join(statuses)}) in {scope}"), box=box.SIMPLE_HEAD, title_justify="left"
    )
    table.add_column("service")
    table.add_column("key", overflow="fold")
    table.add_column("type")
    table.add_column("status")
    table.add_column("attempts", justify="right")
    table.add_column("next attempt", no_wrap=True)
    table.add_column("last error", overflow="fold")
    for service, doc in shown:
        status = str(doc.get("status"))
        error = doc.get("last_error")
        table.add_row(
            cell(service),
            cell(doc.get("_id")),
            cell(doc.get("type")),
            cell(status, STATUS_STYLES.get(status, "")),
            # no per-job cap means the job type's retry policy decides
            cell(f"{doc.get('attempts', 0)}/{doc.get('max_attempts') or 'policy'}"),
            cell(fmt_time(doc.get("next_attempt_at")) if status in ("pending", "failed") else "-"),
            cell(truncate(mask_text(str(error)), ERROR_WIDTH) if error else "-"),
        )
    console.print(table)
    more = (
        " (limit reached; use --limit for more)" if len(rows) > len(shown) or len(shown) == args.limit else ""
    )
    console.print(Text(f"{len(shown)} job(s){more}"))
    return 0


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- show -------------------------------------------------------------------------------

FIELD_ORDER = (
    "_id",
    "type",
    "status",
    "actor",
    "attempts",
    "max_attempts",
    "next_attempt_at",
    "created_at",
    "completed_at",
    "dead_at",
    "dead_letter_published",
    "last_error",
    "lease",
    "payload",
    "progress",
    "result",
)
MASKED_FIELDS = ("payload", "progress", "result", "last_error")


def _flatten(prefix: str, value: Any) -> list[tuple[str, Any]]:
    """Nested documents as dotted ``key: value`` pairs; an empty one stays as ``{}``."""
    if isinstance(value, dict):
        if not value:
            return [(prefix, "{}")]
        pairs: list[tuple[str, Any]] = []
        for key, inner in value.items():
            pairs.extend(_flatten(f"{prefix}.{key}", inner))
        return pairs
    if isinstance(value, list):
        if not value:
            return [(prefix, "[]")]
        pairs = []
        for index, inner in enumerate(value):
            pairs.extend(_flatten(f"{prefix}[{index}]", inner))
        return pairs
    return [(prefix, value)]


async def show_job(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    async with mongo(settings, args.timeout) as client:
        doc = await jobs_collection(client, settings, args.service).find_one({"_id": args.key})
    if doc is None:
        raise CliError(
            f"no job with key {args.key!r} in {args.service} ({settings.database_name(args.service)})"
        )
    if not args.reveal:
        doc = {k: mask(v) if k in MASKED_FIELDS else v for k, v in doc.items()}
    fields = [f for f in FIELD_ORDER if f in doc] + sorted(k for k in doc if k not in FIELD_ORDER)

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for name in fields:
        label = "key" if name == "_id" else name
        for path, value in _flatten(label, doc[name]):
            style = STATUS_STYLES.get(str(value), "") if name == "status" else ""
            grid.add_row(Text(path), Text(fmt_value(value), style=style))
    console.print(Text(f"{args.service} job {args.key}", style="bold underline"))
    console.print(grid)
    if not args.reveal:
        console.print(Text("personal data masked; add --reveal to show it", style="dim"))
    return 0


# --- retry ------------------------------------------------------------------------------


async def retry_jobs(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    async with mongo(settings, args.timeout) as client:
        col = jobs_collection(client, settings, args.service)
        store = JobStore(col, SystemClock())
        if args.all_dead:
            keys = [doc["_id"] async for doc in col.find({"status": JobStatus.DEAD.value}, {"_id": 1})]
            retried = [key for key in keys if await store.retry(key)]
            if not retried:
                console.print(Text(f"No dead jobs in {args.service}."))
                return 0
            for key in retried:
                console.print(Text(f"retried {args.service} {key}: dead -> pending, attempts reset"))
            console.print(Text(f"{len(retried)} dead job(s) retried in {args.service}"))
            return 0

        before = await col.find_one({"_id": args.key}, {"status": 1})
        if before is None:
            raise CliError(f"no job with key {args.key!r} in {args.service}")
        if await store.retry(args.key):
            console.print(
                Text(f"retried {args.service} {args.key}: {before['status']} -> pending, attempts reset")
            )
            return 0
        now = await col.find_one({"_id": args.key}, {"status": 1})
        status = now["status"] if now is not None else "gone"
        raise CliError(
            f"job {args.key!r} in {args.service} is {status}; only failed or dead jobs can be retried"
        )


# --- purge ------------------------------------------------------------------------------


def purge_filter(statuses: Sequence[str], older_than_days: float | None, now: datetime) -> Document:
    """Completed/dead jobs (never anything else), finished more than N days ago if N is given."""
    assert set(statuses) <= set(PURGEABLE)
    if older_than_days is None:
        return {"status": {"$in": list(statuses)}}
    cutoff = now - timedelta(days=older_than_days)
    clauses: list[Document] = []
    for status in statuses:
        finished = FINISHED_AT[status]
        clauses.append({"status": status, finished: {"$lt": cutoff}})
        # a job without its finishing time (older data) is aged by when it was created
        clauses.append({"status": status, finished: None, "created_at": {"$lt": cutoff}})
    return {"$or": clauses}


def _confirm(count: int, what: str, ask: Callable[[str], str]) -> bool:
    if not sys.stdin.isatty():
        raise CliError(
            f"refusing to delete {count} {what} without confirmation: stdin is not a terminal; "
            "re-run with --yes"
        )
    try:
        answer = ask(f"Delete {count} {what}? [y/N] ")
    except EOFError:  # Ctrl-D: no
        return False
    return answer.strip().lower() in ("y", "yes")


async def purge_jobs(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    statuses = [args.status] if args.status else list(PURGEABLE)
    query = purge_filter(statuses, args.older_than_days, datetime.now(UTC))
    age = (
        f" finished more than {args.older_than_days:g} day(s) ago" if args.older_than_days is not None else ""
    )
    what = f"{'/'.join(statuses)} job(s){age} in {args.service}"
    async with mongo(settings, args.timeout) as client:
        col = jobs_collection(client, settings, args.service)
        keys = [doc["_id"] async for doc in col.find(query, {"_id": 1})]
        if not keys:
            console.print(Text(f"Nothing to purge: no {what}."))
            return 0
        if not args.yes:
            console.print(Text(f"{len(keys)} {what} match."))
            if not _confirm(len(keys), what, input):
                console.print(Text("Nothing deleted."))
                return 0
        deleted = 0
        for start in range(0, len(keys), PURGE_BATCH):
            batch = keys[start : start + PURGE_BATCH]
            # the status filter is repeated: a job retried since we counted it is kept
            res = await col.delete_many({"_id": {"$in": batch}, **query})
            deleted += res.deleted_count
    console.print(Text(f"Deleted {deleted} {what}."))
    return 0


# --- the parser -------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """``careline jobs ...`` and its four subcommands."""
    jobs = commands.add_parser("jobs", help="inspect, retry and purge jobs", parents=[common])
    sub = jobs.add_subparsers(dest="action", metavar="ACTION", required=True)

    p = sub.add_parser(
        "list",
        help="list jobs (default: all but completed)",
        parents=[common],
        description="List jobs across services (default: every service; failed, dead, processing, pending).",
    )
    p.add_argument(
        "--service",
        action="extend",
        nargs="+",
        choices=SERVICES,
        metavar="SERVICE",
        help=f"only these services (one or more of: {', '.join(SERVICES)})",
    )
    p.add_argument(
        "--status",
        action="append",
        choices=(*ALL_STATUSES, "all"),
        help="only this status (repeatable); 'all' includes completed",
    )
    p.add_argument("--type", help="only jobs of this type")
    p.add_argument("--limit", type=_positive_int, default=50, help="at most N jobs (default 50)")
    p.set_defaults(handler=list_jobs)

    p = sub.add_parser("show", help="show one job in full (personal data masked)", parents=[common])
    p.add_argument("service", choices=SERVICES, metavar="SERVICE", help=", ".join(SERVICES))
    p.add_argument("key", metavar="KEY", help="the job's idempotency key (_id)")
    p.add_argument("--reveal", action="store_true", help="show phone numbers and message bodies in clear")
    p.set_defaults(handler=show_job)

    p = sub.add_parser("retry", help="put a failed or dead job back to pending", parents=[common])
    p.add_argument("service", choices=SERVICES, metavar="SERVICE", help=", ".join(SERVICES))
    p.add_argument("key", nargs="?", metavar="KEY", help="the job's key")
    p.add_argument("--all-dead", action="store_true", help="retry every dead job of the service")
    p.set_defaults(handler=retry_jobs, check=_check_retry, command_parser=p)

    p = sub.add_parser("purge", help="delete completed or dead jobs", parents=[common])
    p.add_argument("service", choices=SERVICES, metavar="SERVICE", help=", ".join(SERVICES))
    p.add_argument("--status", choices=PURGEABLE, help="only this status (default: completed and dead)")
    p.add_argument(
        "--older-than-days",
        type=_non_negative,
        metavar="N",
        help="only jobs finished more than N days ago",
    )
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(handler=purge_jobs)


def _check_retry(args: argparse.Namespace) -> str | None:
    if args.all_dead and args.key:
        return "give either KEY or --all-dead, not both"
    if not args.all_dead and not args.key:
        return "give a job KEY or --all-dead"
    return None
