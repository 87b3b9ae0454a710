"""Phone number normalisation to E.164."""

from __future__ import annotations

import hashlib

import pytest

from careline_platform.phone import InvalidPhoneNumber, is_e164, phone_hash, to_e164


@pytest.mark.parametrize(
    "raw",
    [
        "4155550101",
        "(415) 555-0101",
        "415-555-0101",
        "415.555.0101",
        "415 555 0101",
        "1 415 555 0101",
        "1-415-555-0101",
        "14155550101",
        "+1 (415) 555-0101",
        "+14155550101",
        "  +1 415 555 0101  ",
        "001 415 555 0101",
    ],
)
def test_us_formats_normalise_to_plus_one(raw: str) -> None:
    """Common North American spellings all become +14155550101."""
    assert to_e164(raw) == "+14155550101"


def test_uk_number_in_e164_stays_e164() -> None:
    """An international number written with '+' and spaces keeps its country code."""
    assert to_e164("+44 20 7946 0958") == "+442079460958"


def test_double_zero_international_prefix() -> None:
    """The '00' international prefix is replaced by '+'."""
    assert to_e164("0044 20 7946 0958") == "+442079460958"


def test_default_country_code_applies_to_ten_digit_numbers() -> None:
    """A ten-digit national number gets the configured default country code."""
    assert to_e164("2079460958", default_country_code="44") == "+442079460958"


def test_result_is_idempotent() -> None:
    """Normalising an already normalised number returns it unchanged."""
    once = to_e164("(415) 555-0101")
    assert to_e164(once) == once


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "garbage",
        "hello there",
        "abc-def-ghij",
        "555-CALL-NOW",
        "1-800-FLOWERS",
        "12345",
        "+1",
        "+12345",
        "+0 415 555 0101",
        "+1234567890123456",  # 16 digits, longer than E.164 allows
        "00",
    ],
)
def test_invalid_inputs_raise(raw: str) -> None:
    """Text that cannot be an E.164 number raises InvalidPhoneNumber."""
    with pytest.raises(InvalidPhoneNumber):
        to_e164(raw)


def test_invalid_phone_number_is_a_value_error() -> None:
    """InvalidPhoneNumber is a ValueError, so generic validation handlers catch it."""
    assert issubclass(InvalidPhoneNumber, ValueError)


def test_non_ascii_digits_never_reach_the_identity_key() -> None:
    """A number containing a fullwidth digit is either rejected or normalised to ASCII."""
    try:
        result = to_e164("415\uff15550101")
    except InvalidPhoneNumber:
        return
    assert result == "+14155550101"


@pytest.mark.parametrize("text", ["+15551234567", "+442071838750", "+4915123456789"])
def test_exact_e164_is_accepted(text: str) -> None:
    assert is_e164(text)


@pytest.mark.parametrize(
    "text",
    ["5551234567", "15551234567", "+1 555 123 4567", "+1-555-123-4567", "+15551234567\n", "+0551234567", ""],
    ids=["no-plus", "no-plus-with-1", "spaces", "dashes", "trailing-newline", "country-0", "empty"],
)
def test_anything_but_exact_e164_is_refused(text: str) -> None:
    assert not is_e164(text)


def test_a_phone_hash_is_keyed_stable_and_never_the_number() -> None:
    """The same number and key give the same hash in any process; another key, another hash."""

    one = phone_hash("+14155550101", b"k" * 32)
    assert one != "ph_" + hashlib.sha256(b"+14155550101").hexdigest()  # not the plain, reversible hash
    assert one == phone_hash("+14155550101", b"k" * 32)
    assert one.startswith("ph_") and "4155550101" not in one
    assert one != phone_hash("+14155550101", b"j" * 32)
    assert one != phone_hash("+14155550102", b"k" * 32)
    with pytest.raises(ValueError):
        phone_hash("+14155550101", b"")
