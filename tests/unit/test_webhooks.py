"""Twilio and Stripe webhook signature verification."""

from __future__ import annotations

import random

import pytest

from careline_platform.webhooks import (
    SignatureError,
    stripe_header,
    stripe_signature,
    twilio_signature,
    verify_stripe,
    verify_twilio,
)

# Twilio's published example ("Validating requests", docs/usage/security).
TWILIO_TOKEN = "12345"
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+12349013030"),
    ("Digits", "1234"),
    ("From", "+12349013030"),
    ("To", "+18005551212"),
]
TWILIO_EXPECTED = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="

STRIPE_SECRET = "whsec_test_secret"
NOW = 1_700_000_000
PAYLOAD = b'{"id":"evt_1","type":"invoice.paid","data":{"object":{}}}'


# --- Twilio -----------------------------------------------------------------------------


def test_twilio_signature_matches_published_example() -> None:
    """The signature of Twilio's documented example request is the documented value."""
    assert twilio_signature(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS) == TWILIO_EXPECTED


def test_twilio_signature_ignores_param_order() -> None:
    """Params are sorted before signing, so the order they arrive in does not matter."""
    shuffled = list(reversed(TWILIO_PARAMS))
    assert twilio_signature(TWILIO_TOKEN, TWILIO_URL, shuffled) == TWILIO_EXPECTED


def test_verify_twilio_accepts_published_example() -> None:
    """verify_twilio accepts the documented example without raising."""
    verify_twilio(TWILIO_TOKEN, TWILIO_EXPECTED, TWILIO_URL, TWILIO_PARAMS)


def test_verify_twilio_rejects_altered_url() -> None:
    """A signature for one URL does not verify for another."""
    with pytest.raises(SignatureError):
        verify_twilio(
            TWILIO_TOKEN,
            TWILIO_EXPECTED,
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            TWILIO_PARAMS,
        )


def test_verify_twilio_rejects_altered_param() -> None:
    """Changing one form value breaks the signature."""
    params = [(k, "9999" if k == "Digits" else v) for k, v in TWILIO_PARAMS]
    with pytest.raises(SignatureError):
        verify_twilio(TWILIO_TOKEN, TWILIO_EXPECTED, TWILIO_URL, params)


def test_verify_twilio_rejects_added_param() -> None:
    """An extra form field that Twilio did not sign breaks the signature."""
    params = [*TWILIO_PARAMS, ("Body", "hello")]
    with pytest.raises(SignatureError):
        verify_twilio(TWILIO_TOKEN, TWILIO_EXPECTED, TWILIO_URL, params)


def test_verify_twilio_rejects_wrong_token() -> None:
    """A signature made with another auth token is rejected."""
    with pytest.raises(SignatureError):
        verify_twilio("54321", TWILIO_EXPECTED, TWILIO_URL, TWILIO_PARAMS)


@pytest.mark.parametrize("missing", [None, ""])
def test_verify_twilio_rejects_missing_header(missing: str | None) -> None:
    """A request without X-Twilio-Signature is rejected."""
    with pytest.raises(SignatureError, match="missing"):
        verify_twilio(TWILIO_TOKEN, missing, TWILIO_URL, TWILIO_PARAMS)


def test_verify_twilio_accepts_signature_over_explicit_default_port() -> None:
    """A signature computed over https://host:443/p verifies against https://host/p."""
    params = [("Body", "hi")]
    signed = twilio_signature(TWILIO_TOKEN, "https://x.com:443/p", params)
    verify_twilio(TWILIO_TOKEN, signed, "https://x.com/p", params)


def test_verify_twilio_accepts_signature_without_port_for_url_with_port() -> None:
    """A signature computed over https://host/p verifies against https://host:443/p."""
    params = [("Body", "hi")]
    signed = twilio_signature(TWILIO_TOKEN, "https://x.com/p", params)
    verify_twilio(TWILIO_TOKEN, signed, "https://x.com:443/p", params)


def test_verify_twilio_port_variants_keep_query_string() -> None:
    """The port variant keeps the path and query, so a different query still fails."""
    params = [("Body", "hi")]
    signed = twilio_signature(TWILIO_TOKEN, "https://x.com:443/p?a=1", params)
    verify_twilio(TWILIO_TOKEN, signed, "https://x.com/p?a=1", params)
    with pytest.raises(SignatureError):
        verify_twilio(TWILIO_TOKEN, signed, "https://x.com/p?a=2", params)


def test_verify_twilio_rejects_non_default_port() -> None:
    """A non-default port is not interchangeable with the portless URL."""
    params = [("Body", "hi")]
    signed = twilio_signature(TWILIO_TOKEN, "https://x.com:8443/p", params)
    with pytest.raises(SignatureError):
        verify_twilio(TWILIO_TOKEN, signed, "https://x.com/p", params)


# --- Stripe -----------------------------------------------------------------------------


def test_verify_stripe_accepts_valid_header_and_returns_timestamp() -> None:
    """A header built with the secret verifies and yields the signed timestamp."""
    header = stripe_header(STRIPE_SECRET, PAYLOAD, NOW)
    assert verify_stripe([STRIPE_SECRET], header, PAYLOAD, now=NOW + 10) == NOW


def test_stripe_header_has_expected_shape() -> None:
    """stripe_header yields ``t=<ts>,v1=<hex sha256>``."""
    header = stripe_header(STRIPE_SECRET, PAYLOAD, NOW)
    t_part, v1_part = header.split(",")
    assert t_part == f"t={NOW}"
    assert v1_part == f"v1={stripe_signature(STRIPE_SECRET, NOW, PAYLOAD)}"
    assert len(v1_part.removeprefix("v1=")) == 64


def test_verify_stripe_accepts_at_tolerance_edge() -> None:
    """A timestamp exactly ``tolerance_s`` old is still accepted."""
    header = stripe_header(STRIPE_SECRET, PAYLOAD, NOW)
    assert verify_stripe([STRIPE_SECRET], header, PAYLOAD, now=NOW + 300) == NOW


def test_verify_stripe_rejects_stale_timestamp() -> None:
    """A timestamp older than the 300 s tolerance is rejected."""
    header = stripe_header(STRIPE_SECRET, PAYLOAD, NOW)
    with pytest.raises(SignatureError, match="tolerance"):
        verify_stripe([STRIPE_SECRET], header, PAYLOAD, now=NOW + 301)


def test_verify_stripe_rejects_future_timestamp() -> None:
    """A timestamp further in the future than the tolerance is rejected."""
    header = stripe_header(STRIPE_SECRET, PAYLOAD, NOW + 301)
    with pytest.raises(SignatureError, match="tolerance"):
        verify_stripe([STRIPE_SECRET], header, PAYLOAD, now=NOW)


def test_verify_stripe_custom_tolerance() -> None:
    """A smaller tolerance_s is honoured."""
    header = stripe_header(STRIPE_SECRET, PAYLOAD, NOW)
    with pytest.raises(SignatureError):
        verify_stripe([STRIPE_SECRET], header, PAYLOAD, now=NOW + 11, tolerance_s=10)


@pytest.mark.parametrize(
    "header",
    [
        "v1=" + "a" * 64,  # no t
        "t=abc,v1=" + "a" * 64,  # non-digit t
        "t=-5,v1=" + "a" * 64,  # negative t
        "t=" + "9" * 13 + ",v1=" + "a" * 64,  # more digits than Unix seconds have (was a 500)
        "t=" + "1" * 5000 + ",v1=" + "a" * 64,  # past Python's int parsing limit (was a 500)
        "t=1700000000",  # no v1
        "t=1700000000,v0=" + "a" * 64,  # only an unknown scheme
        "garbage",
        "t1700000000v1abc",
        ",,,",
    ],
)
def test_verify_stripe_rejects_malformed_header(header: str) -> None:
    """Headers without a numeric t and at least one v1 raise SignatureError."""
    with pytest.raises(SignatureError):
        verify_stripe([STRIPE_SECRET], header, PAYLOAD, now=NOW)


@pytest.mark.parametrize("missing", [None, ""])
def test_verify_stripe_rejects_missing_header(missing: str | None) -> None:
    """A request without Stripe-Signature is rejected."""
    with pytest.raises(SignatureError, match="missing"):
        verify_stripe([STRIPE_SECRET], missing, PAYLOAD, now=NOW)


def test_verify_stripe_accepts_second_v1_value() -> None:
    """During Stripe-side rotation the header carries two v1 values; the second may match."""
    good = stripe_signature(STRIPE_SECRET, NOW, PAYLOAD)
    stale = stripe_signature("whsec_old_secret", NOW, PAYLOAD)
    header = f"t={NOW},v1={stale},v1={good}"
    assert verify_stripe([STRIPE_SECRET], header, PAYLOAD, now=NOW) == NOW


def test_verify_stripe_ignores_unknown_schemes() -> None:
    """Extra schemes such as v0 alongside a valid v1 do not break verification."""
    good = stripe_signature(STRIPE_SECRET, NOW, PAYLOAD)
    header = f"t={NOW},v0={'0' * 64},v1={good}"
    assert verify_stripe([STRIPE_SECRET], header, PAYLOAD, now=NOW) == NOW


def test_verify_stripe_accepts_second_configured_secret() -> None:
    """With two configured secrets (our-side rotation), a match on the second is accepted."""
    header = stripe_header("whsec_new_secret", PAYLOAD, NOW)
    secrets = ["whsec_old_secret", "whsec_new_secret"]
    assert verify_stripe(secrets, header, PAYLOAD, now=NOW) == NOW


def test_verify_stripe_rejects_when_no_secret_matches() -> None:
    """A header signed with a secret we do not hold is rejected."""
    header = stripe_header("whsec_someone_else", PAYLOAD, NOW)
    with pytest.raises(SignatureError, match="no Stripe-Signature"):
        verify_stripe([STRIPE_SECRET, "whsec_other"], header, PAYLOAD, now=NOW)


def test_verify_stripe_rejects_with_no_secrets_configured() -> None:
    """An empty secret list verifies nothing."""
    header = stripe_header(STRIPE_SECRET, PAYLOAD, NOW)
    with pytest.raises(SignatureError):
        verify_stripe([], header, PAYLOAD, now=NOW)


def test_verify_stripe_rejects_body_altered_by_one_byte() -> None:
    """Flipping a single byte of the raw body invalidates the signature."""
    header = stripe_header(STRIPE_SECRET, PAYLOAD, NOW)
    altered = bytearray(PAYLOAD)
    altered[10] ^= 0x01
    with pytest.raises(SignatureError):
        verify_stripe([STRIPE_SECRET], header, bytes(altered), now=NOW)


def test_verify_stripe_rejects_reserialised_body() -> None:
    """Semantically equal JSON with different whitespace is not what Stripe signed."""
    header = stripe_header(STRIPE_SECRET, PAYLOAD, NOW)
    reserialised = PAYLOAD.replace(b",", b", ")
    with pytest.raises(SignatureError):
        verify_stripe([STRIPE_SECRET], header, reserialised, now=NOW)


def test_verify_stripe_rejects_timestamp_swapped_into_header() -> None:
    """Replaying a v1 value under a fresh t fails because t is part of the signed text."""
    old_sig = stripe_signature(STRIPE_SECRET, NOW - 3600, PAYLOAD)
    header = f"t={NOW},v1={old_sig}"
    with pytest.raises(SignatureError):
        verify_stripe([STRIPE_SECRET], header, PAYLOAD, now=NOW)


def test_verify_stripe_round_trips_random_payloads() -> None:
    """For random payloads a built header verifies and any one-byte change is rejected."""
    rng = random.Random(20240601)
    for _ in range(25):
        payload = rng.randbytes(rng.randint(1, 300))
        ts = NOW + rng.randint(-100, 100)
        header = stripe_header(STRIPE_SECRET, payload, ts)
        assert verify_stripe([STRIPE_SECRET], header, payload, now=NOW) == ts
        mutated = bytearray(payload)
        index = rng.randrange(len(mutated))
        mutated[index] = (mutated[index] + rng.randint(1, 255)) % 256
        with pytest.raises(SignatureError):
            verify_stripe([STRIPE_SECRET], header, bytes(mutated), now=NOW)


def test_verify_stripe_rejects_unicode_digit_timestamp() -> None:
    """A timestamp made of non-ASCII 'digits' is a malformed header, not a crash."""
    with pytest.raises(SignatureError):
        verify_stripe([STRIPE_SECRET], "t=²,v1=" + "a" * 64, PAYLOAD, now=NOW)
