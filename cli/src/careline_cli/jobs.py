"""``careline jobs``: list, show, retry and purge each service's jobs, through its admin operations.

The CLI never opens a service's database for jobs: it asks ``admin.<service>.jobs_*`` over NATS
request/reply, as the admin API does, so the service applies its own rules (what is masked, what
may be retried or purged). The service has to be running to answer.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from careline_cli.common import (
    OPERATOR,
    SERVICES,
    STATUS_STYLES,
    CliError,
    cell,
    fmt_time,
    fmt_value,
    positive_int,
    safe_uri,
    service_option,
    truncate,
)
from careline_contracts import admin as ops
from careline_contracts.admin import (
    AdminReply,
    AdminRequest,
    JobSummary,
    ListJobs,
    Operation,
    PurgeJobs,
    RetryDeadJobs,
    RetryJob,
    ShowJob,
)
from careline_platform.jobs import JobStatus
from careline_platform.settings import Settings

Document = dict[str, Any]
Req = TypeVar("Req", bound=AdminRequest)
Rep = TypeVar("Rep", bound=AdminReply)
ALL_STATUSES = tuple(s.value for s in JobStatus)
DEFAULT_STATUSES = ("failed", "dead", "processing", "pending")
PURGEABLE = ("completed", "dead")
ERROR_WIDTH = 60
LIST_MAX = 500  # the most one jobs_list request returns


class Admin:
    """Asks one service's admin operations over NATS; what goes wrong becomes a ``CliError``."""

    def __init__(self, broker: Any, timeout_s: float) -> None:
        self.broker, self.timeout_s = broker, timeout_s

    async def __call__(self, service: str, operation: Operation[Req, Rep], request: Req) -> Rep:
        # imported here, as the broker is: FastStream is a second of start-up other commands skip
        from careline_platform.admin_client import NoAnswer, RequestRejected, ServiceFailed, ask

        try:
            return await ask(self.broker, service, operation, request, self.timeout_s)
        except NoAnswer as exc:
            raise CliError(f"{service} did not answer within {self.timeout_s:g}s: is it running?") from exc
        except ServiceFailed as exc:
            raise CliError(f"{service} failed to answer ({exc})") from exc
        except RequestRejected as exc:
            raise CliError(exc.rejected.reason) from exc


@asynccontextmanager
async def admin(settings: Settings, timeout_s: float) -> AsyncIterator[Admin]:
    """A connection to NATS for admin requests, given up after ``timeout_s``."""
    import asyncio

    from faststream.nats import NatsBroker  # imported here: other commands need not pay for it

    from careline_platform.nats_auth import broker_options

    async def quiet(*_args: Any) -> None:
        """nats-py's default callbacks log tracebacks; the CLI reports errors itself."""

    url = settings.nats_url
    broker = NatsBroker(
        settings.nats_servers,
        connect_timeout=max(1, round(timeout_s)),
        allow_reconnect=False,
        max_reconnect_attempts=1,
        error_cb=quiet,
        disconnected_cb=quiet,
        closed_cb=quiet,
        **broker_options(settings, OPERATOR),
    )
    try:
        await asyncio.wait_for(broker.connect(), timeout=timeout_s)
    except Exception as exc:  # refused, timed out, no servers, bad URL: all mean "can't reach it"
        raise CliError(f"cannot reach NATS at {safe_uri(url)} ({type(exc).__name__})") from exc
    try:
        yield Admin(broker, timeout_s)
    finally:
        await broker.stop()


# --- list -------------------------------------------------------------------------------


def _statuses(requested: list[str] | None) -> list[str]:
    if not requested:
        return list(DEFAULT_STATUSES)
    if "all" in requested:
        return list(ALL_STATUSES)
    return list(dict.fromkeys(requested))


def _created(job: JobSummary) -> datetime:
    at = job.created_at or datetime.min.replace(tzinfo=UTC)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


async def list_jobs(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    services = list(dict.fromkeys(args.service or SERVICES))
    statuses = _statuses(args.status)
    request = ListJobs(statuses=statuses, type=args.type, limit=min(args.limit, LIST_MAX))
    rows: list[tuple[str, JobSummary]] = []
    async with admin(settings, args.timeout) as ask_service:
        for service in services:
            rows += [(service, job) for job in (await ask_service(service, ops.JOBS_LIST, request)).jobs]
    rows.sort(key=lambda row: _created(row[1]), reverse=True)
    shown = rows[: args.limit]

    scope = ", ".join(services)
    if not shown:
        console.print(Text(f"No jobs with status {'/'.join(statuses)} in {scope}."))
        return 0
    table = Table(
        title=Text(f"Jobs ({'/'.join(statuses)}) in {scope}"), box=box.SIMPLE_HEAD, title_justify="left"
    )
    for name in ("service", "key", "type", "status", "attempts", "next attempt", "last error"):
        table.add_column(
            name,
            overflow="fold" if name in ("key", "last error") else None,  # type: ignore[arg-type]
            justify="right" if name == "attempts" else "left",
            no_wrap=name == "next attempt",
        )
    for service, job in shown:
        status = str(job.status)
        table.add_row(
            cell(service),
            cell(job.key),
            cell(job.type),
            cell(status, STATUS_STYLES.get(status, "")),
            # no per-job cap means the job type's retry policy decides
            cell(f"{job.attempts}/{job.max_attempts or 'policy'}"),
            cell(fmt_time(job.next_attempt_at) if status in ("pending", "failed") else "-"),
            cell(truncate(job.last_error, ERROR_WIDTH) if job.last_error else "-"),  # masked by the service
        )
    console.print(table)
    more = (
        " (limit reached; use --limit for more)" if len(rows) > len(shown) or len(shown) == args.limit else ""
    )
    console.print(Text(f"{len(shown)} job(s){more}"))
    return 0


# --- show -------------------------------------------------------------------------------

FIELD_ORDER = (
    "key",
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
    """One job in full, as the service shows it: masked unless ``--reveal``."""
    async with admin(settings, args.timeout) as ask_service:
        job = await ask_service(args.service, ops.JOBS_SHOW, ShowJob(key=args.key, reveal=args.reveal))
    doc = job.model_dump(exclude={"service", "masked"}, exclude_none=True)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for name in [f for f in FIELD_ORDER if f in doc]:
        for path, value in _flatten(name, doc[name]):
            style = STATUS_STYLES.get(str(value), "") if name == "status" else ""
            grid.add_row(Text(path), Text(fmt_value(value), style=style))
    console.print(Text(f"{args.service} job {args.key}", style="bold underline"))
    console.print(grid)
    if job.masked:
        console.print(Text("personal data masked; add --reveal to show it", style="dim"))
    return 0


# --- retry ------------------------------------------------------------------------------


async def retry_jobs(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    async with admin(settings, args.timeout) as ask_service:
        if args.all_dead:
            retried = (await ask_service(args.service, ops.JOBS_RETRY_DEAD, RetryDeadJobs())).keys
            if not retried:
                console.print(Text(f"No dead jobs in {args.service}."))
                return 0
            for key in retried:
                console.print(Text(f"retried {args.service} {key}: dead -> pending, attempts reset"))
            console.print(Text(f"{len(retried)} dead job(s) retried in {args.service}"))
            return 0
        reply = await ask_service(args.service, ops.JOBS_RETRY, RetryJob(key=args.key))
    if reply.retried:
        console.print(Text(f"retried {args.service} {args.key}: now pending, attempts reset"))
        return 0
    if reply.status is None:
        raise CliError(f"no job with key {args.key!r} in {args.service}")
    raise CliError(
        f"job {args.key!r} in {args.service} is {reply.status}; only failed or dead jobs can be retried"
    )


# --- purge ------------------------------------------------------------------------------


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
    request = PurgeJobs(statuses=statuses, older_than_days=args.older_than_days, dry_run=True)
    age = (
        f" finished more than {args.older_than_days:g} day(s) ago" if args.older_than_days is not None else ""
    )
    what = f"{'/'.join(statuses)} job(s){age} in {args.service}"
    async with admin(settings, args.timeout) as ask_service:
        counted = await ask_service(args.service, ops.JOBS_PURGE, request)
        if not counted.matched:
            console.print(Text(f"Nothing to purge: no {what}."))
            return 0
        if not args.yes:
            console.print(Text(f"{counted.matched} {what} match."))
            if not _confirm(counted.matched, what, input):
                console.print(Text("Nothing deleted."))
                return 0
        purged = await ask_service(
            args.service, ops.JOBS_PURGE, request.model_copy(update={"dry_run": False})
        )
    console.print(Text(f"Deleted {purged.deleted} {what}."))
    return 0


# --- the parser -------------------------------------------------------------------------


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
    service_option(p, "only these services")
    p.add_argument(
        "--status",
        action="append",
        choices=(*ALL_STATUSES, "all"),
        help="only this status (repeatable); 'all' includes completed",
    )
    p.add_argument("--type", help="only jobs of this type")
    p.add_argument("--limit", type=positive_int, default=50, help="at most N jobs (default 50)")
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
