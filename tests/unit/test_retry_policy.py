"""Retry backoff schedule of the jobs engine."""

from __future__ import annotations

import random

import pytest

from careline_platform.jobs import RetryPolicy


def test_delays_without_jitter_double_from_two_seconds() -> None:
    """With no jitter the delays after attempts 1..5 are 2, 4, 8, 16, 32 seconds."""
    policy = RetryPolicy(jitter=0.0)
    assert [policy.delay_after(n) for n in range(1, 6)] == [2.0, 4.0, 8.0, 16.0, 32.0]


def test_delays_are_capped() -> None:
    """Delays never exceed cap_s, however many attempts failed."""
    policy = RetryPolicy(jitter=0.0, cap_s=10.0)
    assert [policy.delay_after(n) for n in range(1, 7)] == [2.0, 4.0, 8.0, 10.0, 10.0, 10.0]


def test_default_cap_reached_for_large_attempt_numbers() -> None:
    """The default cap (300 s) holds for very large attempt numbers."""
    policy = RetryPolicy(jitter=0.0)
    assert policy.delay_after(9) == 300.0
    assert policy.delay_after(60) == 300.0


def test_custom_base_scales_schedule() -> None:
    """base_s sets the first delay and the schedule doubles from it."""
    policy = RetryPolicy(base_s=0.5, jitter=0.0)
    assert [policy.delay_after(n) for n in range(1, 5)] == [0.5, 1.0, 2.0, 4.0]


@pytest.mark.parametrize("jitter", [0.1, 0.2, 0.5])
def test_jittered_delays_stay_within_fraction(jitter: float) -> None:
    """Each jittered delay lies within +-jitter of the un-jittered value."""
    policy = RetryPolicy(jitter=jitter, cap_s=100.0)
    rng = random.Random(7)
    for attempt in range(1, 10):
        raw = min(100.0, 2.0 * 2 ** (attempt - 1))
        for _ in range(200):
            delay = policy.delay_after(attempt, rng)
            assert raw * (1 - jitter) <= delay <= raw * (1 + jitter)


def test_jitter_actually_varies_delays() -> None:
    """With jitter on, repeated delays for the same attempt are not all identical."""
    policy = RetryPolicy(jitter=0.2)
    rng = random.Random(3)
    delays = {policy.delay_after(3, rng) for _ in range(20)}
    assert len(delays) > 1
    assert min(delays) < 8.0 < max(delays)


def test_jitter_spread_covers_both_sides() -> None:
    """Over many draws jitter goes both below and above the base delay, near the bounds."""
    policy = RetryPolicy(jitter=0.2)
    rng = random.Random(11)
    delays = [policy.delay_after(4, rng) for _ in range(2000)]
    assert min(delays) < 16.0 * 0.82
    assert max(delays) > 16.0 * 1.18


def test_seeded_rng_is_deterministic() -> None:
    """Two RNGs with the same seed produce the same schedule."""
    policy = RetryPolicy()
    first = [policy.delay_after(n, random.Random(42)) for n in range(1, 8)]
    second = [policy.delay_after(n, random.Random(42)) for n in range(1, 8)]
    assert first == second
    rng_a, rng_b = random.Random(5), random.Random(5)
    assert [policy.delay_after(n, rng_a) for n in range(1, 8)] == [
        policy.delay_after(n, rng_b) for n in range(1, 8)
    ]


def test_different_seeds_give_different_schedules() -> None:
    """Different seeds give different jittered schedules (the rng is really used)."""
    policy = RetryPolicy()
    rng_a, rng_b = random.Random(1), random.Random(2)
    a = [policy.delay_after(n, rng_a) for n in range(1, 6)]
    b = [policy.delay_after(n, rng_b) for n in range(1, 6)]
    assert a != b


def test_delays_are_always_positive() -> None:
    """Jitter below 100% never produces a zero or negative wait."""
    policy = RetryPolicy(jitter=0.9)
    rng = random.Random(0)
    assert all(policy.delay_after(n, rng) > 0 for n in range(1, 12) for _ in range(100))


def test_policy_is_immutable() -> None:
    """RetryPolicy is a frozen dataclass, shared safely between job types."""
    policy = RetryPolicy()
    with pytest.raises(AttributeError):
        policy.cap_s = 1.0  # type: ignore[misc]
