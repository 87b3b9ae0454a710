"""Personal data masking in structured logs."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from careline_platform.logging import (
    configure_logging,
    fingerprint,
    keyed_fingerprint,
    mask_personal_data,
    set_tag_key,
)

PHONE = "+14155550101"
BODY = "my dad fell again and I can't cope"


def mask(**fields: Any) -> dict[str, Any]:
    """Run the processor over a fresh event dict."""
    return dict(mask_personal_data(None, "info", {"event": "test", **fields}))


@pytest.mark.parametrize("key", ["phone", "body", "to", "from", "token"])
def test_sensitive_keys_are_redacted_with_fingerprint(key: str) -> None:
    """Sensitive keys are replaced by '[redacted:<fingerprint>]' of their value."""
    out = mask(**{key: "some value +14155550101"})
    assert out[key] == f"[redacted:{fingerprint('some value +14155550101')}]"
    assert "some value" not in out[key]


def test_same_input_gives_same_fingerprint() -> None:
    """The same clear value always yields the same tag, so lines can be correlated."""
    first = mask(phone=PHONE)["phone"]
    second = mask(phone=PHONE)["phone"]
    other = mask(phone="+14155550102")["phone"]
    assert first == second
    assert first != other


def test_fingerprint_is_short_letters_and_not_the_value() -> None:
    """fingerprint is a 10-letter tag (no digits for the phone mask to eat) without the input."""
    tag = fingerprint(PHONE)
    assert len(tag) == 10
    assert tag.isalpha() and tag.islower()
    assert PHONE not in tag
    assert mask_personal_data(None, "info", {"event": "x", "msg": tag})["msg"] == tag


def test_a_tag_is_keyed_so_hashing_every_number_does_not_reverse_it() -> None:
    """An unsalted hash of a phone number is found by hashing the whole numbering plan; the
    tag is an HMAC under a key of this process's own (or LOG_REDACTION_KEY), never logged."""
    plain = (
        hashlib.sha256(PHONE.encode()).hexdigest()[:10].translate(str.maketrans("0123456789", "ghijklmnop"))
    )
    assert fingerprint(PHONE) != plain
    set_tag_key(b"k" * 32)
    try:
        shared = fingerprint(PHONE)
        assert fingerprint(PHONE) == shared  # services given the same key agree on a tag
        set_tag_key(b"j" * 32)
        assert fingerprint(PHONE) != shared
    finally:
        set_tag_key(os.urandom(32))


def test_the_services_take_the_tag_key_from_the_settings(tmp_path: Any) -> None:
    """LOG_REDACTION_KEY keys the tags of every service's log; the key itself is never logged."""
    code = (
        "import json, sys\n"
        "from careline_platform.logging import configure_logging, get_logger, fingerprint\n"
        "configure_logging('probe', fmt='json', tag_key=b'shared-key')\n"
        "get_logger('x').info('e', phone='+14155550101')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert f"[redacted:{keyed_fingerprint(b'shared-key', PHONE)}]" in run.stdout + run.stderr
    assert "shared-key" not in run.stdout + run.stderr


def test_sensitive_non_string_values_are_redacted() -> None:
    """A sensitive key holding a non-string (an int) is still redacted."""
    out = mask(phone=4155550101)
    assert out["phone"] == f"[redacted:{fingerprint('4155550101')}]"


def test_none_sensitive_value_is_left_as_none() -> None:
    """A sensitive key explicitly set to None stays None (nothing to hide)."""
    assert mask(token=None)["token"] is None


@pytest.mark.parametrize(
    "text",
    [
        "sending to +14155550101 now",
        "sending to +442079460958 now",
        "call (415) 555-0101 later",
        "call 415-555-0101 later",
        "call 415.555.0101 later",
        "call 4155550101 later",
    ],
)
def test_phone_numbers_inside_other_values_are_masked(text: str) -> None:
    """Phone-like text in a non-sensitive field is replaced by '[phone]'."""
    out = mask(note=text)
    assert "[phone]" in out["note"]
    assert "555" not in out["note"] and "7946" not in out["note"]


def test_phone_in_event_message_is_masked() -> None:
    """The event message itself is masked too."""
    out = mask_personal_data(None, "info", {"event": f"reply sent to {PHONE}"})
    assert out["event"] == "reply sent to [phone]"


@pytest.mark.parametrize(
    "secret",
    ["sk_live_51HxYzAbCdEf0123456789", "whsec_abcDEF123456", "rk_live_abcdef123", "sk_test_abcdef"],
)
def test_secrets_inside_values_are_masked(secret: str) -> None:
    """Stripe API keys and webhook secrets in free text become '[secret]'."""
    out = mask(note=f"configured key={secret} ok")
    assert secret not in out["note"]
    assert out["note"] == "configured key=[secret] ok"


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-26T08:15:24.394877Z",
        "2026-11-26",
        "ms=11.9",
        "ms=1234.56",
        "attempt=3 of 5",
        "5f2b1c3d4e5f6a7b8c9d0e1f",
        "a3c9e1b27f4d4c0e9d6b2a1f0c8e7d5b",
        "SM0123456789abcdef0123456789abcdef",
        "sms.inbound.received.3",
    ],
)
def test_ordinary_values_are_left_intact(value: str) -> None:
    """Timestamps, durations, counters, hex ids and subjects are not mistaken for PII."""
    assert mask(note=value)["note"] == value


def test_non_string_non_sensitive_values_are_untouched() -> None:
    """Numbers and booleans under ordinary keys pass through unchanged."""
    out = mask(ms=11.9, attempt=3, ok=True)
    assert (out["ms"], out["attempt"], out["ok"]) == (11.9, 3, True)


def test_nested_values_are_masked() -> None:
    """A phone number nested inside a dict value does not survive masking."""
    out = mask(form={"From": PHONE, "Body": BODY})
    assert PHONE not in repr(out) and BODY not in repr(out)


# --- end to end ---------------------------------------------------------------------------


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Undo every global change configure_logging makes, after the test."""
    root = logging.getLogger()
    noisy = [logging.getLogger(name) for name in ("faststream", "uvicorn.access")]
    saved_levels = [(lg, lg.level) for lg in (root, *noisy)]
    try:
        yield
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.reset_defaults()
        # Drop only the handler configure_logging installed; pytest manages its own.
        root.handlers[:] = [
            h for h in root.handlers if not isinstance(h.formatter, structlog.stdlib.ProcessorFormatter)
        ]
        for lg, level in saved_levels:
            lg.setLevel(level)


def configure_json() -> None:
    """Configure JSON logging from inside the test body.

    configure_logging binds the sys.stderr current at call time; capsys swaps sys.stderr
    between the setup and call phases, so this must run in the test, not in a fixture.
    """
    configure_logging("test", fmt="json")


def _json_lines(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines() if line.strip()]


def test_structlog_output_never_contains_clear_phone_or_body(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A structlog line with a phone and a body reaches stderr as JSON, with both masked."""
    configure_json()
    log = structlog.get_logger("test")
    log.info("sms.received", phone=PHONE, body=BODY, note="reply to (415) 555-0101")
    err = capsys.readouterr().err
    assert PHONE not in err
    assert BODY not in err
    assert "555-0101" not in err
    (line,) = _json_lines(err)
    assert line["event"] == "sms.received"
    assert line["service"] == "test"
    assert line["phone"] == f"[redacted:{fingerprint(PHONE)}]"
    assert line["body"] == f"[redacted:{fingerprint(BODY)}]"
    assert line["timestamp"].endswith("Z")


def test_stdlib_logging_output_is_masked(restore_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    """Records from the standard library go through the same masking."""
    configure_json()
    logging.getLogger("some.library").warning("sending to %s", PHONE)
    err = capsys.readouterr().err
    assert PHONE not in err
    (line,) = _json_lines(err)
    assert line["event"] == "sending to [phone]"


def test_exception_text_is_masked(restore_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    """A phone number in an exception message does not appear in the logged traceback."""
    configure_json()
    log = structlog.get_logger("test")
    try:
        raise ValueError(f"cannot deliver to {PHONE}")
    except ValueError:
        log.exception("delivery.failed")
    assert PHONE not in capsys.readouterr().err
