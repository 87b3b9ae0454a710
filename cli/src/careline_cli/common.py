"""What every command shares: the service list, errors, masking and formatting of values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from rich.text import Text

from careline_platform.services import SERVICE_NAMES

SERVICES = SERVICE_NAMES
"""Every service with its own database (``<prefix>_<service>``) and ``jobs`` collection."""

REDACTED = "[redacted]"
SENSITIVE_KEYS = frozenset({"to", "from", "from_", "phone", "body", "text"})
"""Keys whose values are personal data (phone numbers, message bodies): masked unless revealed."""

_PHONE = re.compile(
    r"\+\d{7,15}\b"  # E.164
    r"|\(?\b\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b"  # (415) 555-0101, 415.555.0101
    r"|\b1?\d{10}\b"  # 4155550101
)
_USERINFO = re.compile(r"(?<=://)[^/@]*@")


class CliError(Exception):
    """A failure to report as one line on stderr, with exit code 1 (no traceback)."""


def safe_uri(uri: str) -> str:
    """The URI without user name and password, fit to print."""
    return _USERINFO.sub("***@", uri)


def mask_text(text: str) -> str:
    """Phone-number-like runs in free text (an error message, say) replaced by ``[phone]``."""
    return _PHONE.sub("[phone]", text)


def mask(value: Any, key: str = "") -> Any:
    """A copy of ``value`` with sensitive keys redacted at any depth and phone numbers masked."""
    if key.lower() in SENSITIVE_KEYS and value is not None:
        return REDACTED
    if isinstance(value, Mapping):
        return {k: mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v) for v in value]
    if isinstance(value, str):
        return mask_text(value)
    return value


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
