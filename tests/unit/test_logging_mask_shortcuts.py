"""The masking shortcuts skip only values the phone and secret patterns could never match."""

from __future__ import annotations

import itertools
import random

import pytest

from careline_platform.logging import _PHONE, _SECRET, _mask_text, _mask_value

PIECES = ["0", "1", "4", "5", "55", "415", "+", "-", ".", " ", "(", ")", "_", "sk", "whsec", "a", "Z"]
PIECES += ["\u0663", "\u00b2", "\t"]  # an Arabic-Indic digit (matches \d), superscript two (does not)


def patterns(text: str) -> str:
    """What masking did before the shortcuts: both patterns, always."""
    return _SECRET.sub("[secret]", _PHONE.sub("[phone]", text))


def test_shortcuts_agree_with_the_patterns_on_generated_text() -> None:
    rng = random.Random(20261126)
    texts = ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 16))) for _ in range(20_000)]
    for n in (10, 11):  # ten or eleven digits alone, the one match a single word allows
        texts += ["".join(p) for p in itertools.product("1\u0663a", repeat=n)]
    for text in texts:
        assert _mask_text(text) == patterns(text), repr(text)


@pytest.mark.parametrize(
    "text",
    [
        "webhook",
        "accepted",
        "a3c9e1b27f4d4c0e9d6b2a1f0c8e7d5b",
        "4155550101",
        "14155550101",
        "sk_live_abc123",
    ],
)
def test_words_and_ids_pass_or_are_masked_as_before(text: str) -> None:
    assert _mask_text(text) == patterns(text)


@pytest.mark.parametrize("value", [0, 200, -4155550101, 999_999_999, 4155550101, 14155550101, 24155550101])
def test_integers_are_masked_only_when_they_read_as_a_phone_number(value: int) -> None:
    expected = patterns(str(value)) if _PHONE.fullmatch(str(value)) else value
    assert _mask_value("n", value) == expected
