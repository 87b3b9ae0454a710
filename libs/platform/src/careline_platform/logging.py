"""structlog, configured once per process: JSON in production, readable in a terminal.

Personal data is masked by a processor, not by discipline: phone numbers, message bodies,
tokens and secrets never reach a log line in clear, whatever a caller passes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import sys
from collections.abc import Mapping, MutableMapping
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


_NO_DIGITS = str.maketrans("0123456789", "ghijklmnop")


_tag_key = os.urandom(32)
"""The key of the redaction tags: random per process unless ``LOG_REDACTION_KEY`` gives one (the
same for every service, to follow one caregiver's tag across services). Never logged."""


def set_tag_key(key: bytes) -> None:
    global _tag_key
    _tag_key = key


def fingerprint(value: str) -> str:
    """A short, stable, non-reversible tag for correlating a value across log lines.

    Keyed (HMAC-SHA256): a plain hash of a phone number is reversed by hashing every number in
    the plan, a keyed one is not without the key. Letters only, so the phone-number mask never
    mistakes a tag for digits to hide.
    """
    return keyed_fingerprint(_tag_key, value)


def keyed_fingerprint(key: bytes, value: str) -> str:
    """:func:`fingerprint` under ``key``: what a service given ``LOG_REDACTION_KEY`` logs."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:10].translate(_NO_DIGITS)


_THREE_DIGITS = re.compile(r"\d{3}")


def _mask_text(text: str) -> str:
    # Shortcuts for the many values that cannot match (a log line's ids, kinds and outcomes),
    # because the patterns cost microseconds even when they find nothing: a phone number needs
    # three digits in a row and a secret an underscore; and in a single word of letters and
    # digits, which has neither "+", separators nor "_", only ten or eleven digits alone match.
    if text.isalnum() and not text.isdecimal():
        return text
    if "_" not in text and _THREE_DIGITS.search(text) is None:
        return text
    return _SECRET.sub("[secret]", _PHONE.sub("[phone]", text))


def mask_text(text: str) -> str:
    """Phone numbers and secrets in free text (an error message) replaced by placeholders."""
    return _mask_text(text)


def _mask_value(key: str, value: Any, depth: int = 0) -> Any:
    if value is None:
        return None
    if key.lower() in SENSITIVE_KEYS:
        return f"[redacted:{fingerprint(str(value))}]"
    if isinstance(value, str):
        return _mask_text(value)
    if isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        digits = str(value)  # a phone number has ten digits or more
        return _mask_text(digits) if len(digits) >= 10 and _PHONE.fullmatch(digits) else value
    if depth < 5 and isinstance(value, Mapping):
        return {k: _mask_value(str(k), v, depth + 1) for k, v in value.items()}
    if depth < 5 and isinstance(value, list | tuple | set):
        return [_mask_value("", v, depth + 1) for v in value]
    return value


def mask_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: redact sensitive fields, at any depth, and mask phone-like text."""
    for key, value in list(event_dict.items()):
        if key != "event" or isinstance(value, str):
            event_dict[key] = _mask_value(key, value) if key != "event" else _mask_text(value)
    return event_dict


def configure_logging(
    service: str, *, fmt: str = "console", level: str = "INFO", tag_key: bytes | None = None
) -> None:
    """Set up structlog and the standard library logging for one process; ``tag_key`` keys the
    redaction tags (a random key of this process's own when None)."""
    if tag_key is not None:
        set_tag_key(tag_key)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.format_exc_info,  # before masking: tracebacks quote values too
        mask_personal_data,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    for noisy in ("faststream", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
