"""``careline``: the operator's command line for jobs and dead letters.

Exit codes: 0 success, 1 failure (reported as one line on stderr), 2 usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import ValidationError
from pymongo.errors import (
    ConfigurationError,
    ConnectionFailure,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)
from rich.console import Console

from careline_cli import admin, deadletters, jobs, migrate
from careline_cli.common import CliError, safe_uri
from careline_platform.settings import Settings

Handler = Callable[[argparse.Namespace, Settings, Console], Awaitable[int]]
DEFAULT_TIMEOUT_S = 3.0
PIPE_WIDTH = 160


def _common_options(*, suppress: bool) -> argparse.ArgumentParser:
    """Connection options, accepted before or after the command words.

    Subcommands get them with suppressed defaults, so a value given before the command is not
    overwritten by the subcommand's default.
    """
    default: Any = argparse.SUPPRESS if suppress else None
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection")
    group.add_argument("--mongodb-uri", default=default, help="MongoDB URI (default: env MONGODB_URI)")
    group.add_argument("--nats-url", default=default, help="NATS URL (default: env NATS_URL)")
    group.add_argument(
        "--db-prefix", default=default, help="database name prefix (default: env DB_PREFIX or 'careline')"
    )
    group.add_argument(
        "--timeout",
        type=float,
        default=argparse.SUPPRESS if suppress else DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"give up on an unreachable server after this long (default {DEFAULT_TIMEOUT_S:g})",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="careline",
        description="Inspect and repair Careline's jobs and dead letters; admin tokens and roles.",
        parents=[_common_options(suppress=False)],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub_common = _common_options(suppress=True)
    jobs.add_parser(commands, sub_common)
    deadletters.add_parser(commands, sub_common)
    admin.add_parser(commands, sub_common)
    migrate.add_parser(commands, sub_common)
    return parser


def load_settings(args: argparse.Namespace) -> Settings:
    overrides = {
        name: value
        for name in ("mongodb_uri", "nats_url", "db_prefix")
        if (value := getattr(args, name, None)) is not None
    }
    from careline_platform.nats_auth import with_local_credentials

    try:
        return with_local_credentials(Settings(**overrides))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "settings"
        raise CliError(f"invalid configuration: {where}: {first['msg']}") from exc


def mongo_error(exc: PyMongoError, uri: str, timeout_s: float) -> str:
    where = safe_uri(uri)
    if isinstance(exc, ServerSelectionTimeoutError | ConnectionFailure):
        return f"cannot reach MongoDB at {where} (no answer within {timeout_s:g}s)"
    if isinstance(exc, ConfigurationError):
        return f"invalid MongoDB configuration for {where}: {_first_line(exc)}"
    if isinstance(exc, OperationFailure):
        return f"MongoDB refused the operation: {_first_line(exc)}"
    return f"MongoDB error ({type(exc).__name__}): {_first_line(exc)}"


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def make_console() -> Console:
    """Rich output; piped output is not squeezed to 80 columns unless COLUMNS says so."""
    wide = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return Console(highlight=False, width=PIPE_WIDTH if wide else None)


async def _run(handler: Handler, args: argparse.Namespace, settings: Settings) -> int:
    return await handler(args, settings, make_console())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check = getattr(args, "check", None)
    if check is not None and (problem := check(args)) is not None:
        getattr(args, "command_parser", parser).error(problem)  # exits with 2
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    settings: Settings | None = None
    try:
        settings = load_settings(args)
        return asyncio.run(_run(args.handler, args, settings))
    except CliError as exc:
        _fail(str(exc))
    except PyMongoError as exc:
        uri = settings.mongodb_uri if settings is not None else "?"
        _fail(mongo_error(exc, uri, args.timeout))
    except KeyboardInterrupt:
        _fail("interrupted")
    return 1


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
