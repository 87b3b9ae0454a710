"""What every command shares: the service list, errors, masking and formatting of values."""

from __future__ import annotations

import argparse
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient
from rich.text import Text

from careline_platform.mongo import connect
from careline_platform.services import SERVICE_NAMES
from careline_platform.settings import Settings

SERVICES = SERVICE_NAMES
"""Every service with its own database (``<prefix>_<service>``) and ``jobs`` collection."""
OPERATOR = "operator"
"""The NATS user the CLI connects as (``careline_contracts.access``), unless NATS_USER says."""

_PHONE = re.compile(
    r"\+\d{7,15}\b"  # E.164
    r"|\(?\b\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b"  # (415) 555-0101, 415.555.0101
    r"|\b1?\d{10}\b"  # 4155550101
)
_USERINFO = re.compile(r"(?<=://)[^/@]*@")


class CliError(Exception):
    """A failure to report as one line on stderr, with exit code 1 (no traceback)."""


@asynccontextmanager
async def mongo(settings: Settings, timeout_s: float) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    """A client that gives up after ``timeout_s`` when no server answers."""
    client = connect(settings.mongodb_uri, timeout_ms=max(1, int(timeout_s * 1000)))
    try:
        yield client
    finally:
        await client.close()


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (a limit, a sequence number)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def service_option(parser: argparse.ArgumentParser, only: str) -> None:
    """``--service A [B ...]`` (repeatable), narrowing a command to some services: ``only``
    says what is kept ("only letters from these services")."""
    parser.add_argument(
        "--service",
        action="extend",
        nargs="+",
        choices=SERVICES,
        metavar="SERVICE",
        help=f"{only} (one or more of: {', '.join(SERVICES)})",
    )


def safe_uri(uri: str) -> str:
    """The URI without user name and password, fit to print."""
    return _USERINFO.sub("***@", uri)


def mask_text(text: str) -> str:
    """Phone-number-like runs in free text (an error message, say) replaced by ``[phone]``."""
    return _PHONE.sub("[phone]", text)


def fmt_time(value: Any) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM:SSZ`` (UTC); anything else as text, None as ``-``."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        stamp: str = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        return stamp
    return str(value)


def fmt_value(value: Any) -> str:
    """A scalar for display: times in UTC, None as ``-``."""
    if value is None or isinstance(value, datetime):
        return fmt_time(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def truncate(text: str, width: int) -> str:
    """One line of at most ``width`` characters, ending in an ellipsis when cut."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def cell(value: Any, style: str = "") -> Text:
    """A table cell that is never read as rich markup (data may contain brackets)."""
    return Text(fmt_value(value), style=style)


STATUS_STYLES = {
    "pending": "cyan",
    "processing": "yellow",
    "completed": "green",
    "failed": "magenta",
    "dead": "bold red",
}
