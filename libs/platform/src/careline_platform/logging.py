"""structlog, configured once per process: JSON in production, readable in a terminal.

Personal data is masked by a processor, not by discipline: phone numbers, message bodies,
tokens and secrets never reach a log line in clear, whatever a caller passes.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

SENSITIVE_KEYS = frozenset(
    {
        "body",
        "text",
        "message",
        "phone",
        "from",
        "from_",
        "to",
        "token",
        "secret",
        "password",
        "authorization",
        "signature",
        "auth_token",
        "api_key",
        "email",
    }
)
_PHONE = re.compile(
    r"\+\d{7,15}\b"  # E.164
    r"|\(?\b\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b"  # (415) 555-0101, 415.555.0101
    r"|\b1?\d{10}\b"  # 4155550101
)
_SECRET = re.compile(r"\b(sk|rk|whsec|pk)_[A-Za-z0-9_]{6,}\b")


def fingerprint(value: str) -> str:
    """A short, stable, non-reversible tag for correlating a value across log lines."""
    return hashlib.sha256(value.encode()).hexdigest()[:10]


def _mask_text(text: str) -> str:
    return _SECRET.sub("[secret]", _PHONE.sub("[phone]", text))


def mask_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: replace sensitive fields and mask phone-like text everywhere."""
    for key, value in list(event_dict.items()):
        if key in SENSITIVE_KEYS and value is not None:
            event_dict[key] = f"[redacted:{fingerprint(str(value))}]"
        elif isinstance(value, str):
            event_dict[key] = _mask_text(value)
    return event_dict


def configure_logging(service: str, *, fmt: str = "console", level: str = "INFO") -> None:
    """Set up structlog and the standard library logging for one process."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        mask_personal_data,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=shared[1:],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    for noisy in ("faststream", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
