"""Rate limits: the 21st message in ten minutes gets one notice, then silence, then replies again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from careline_conversation.domain.ratelimit import NOTICE, RateLimits, Verdict, check

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LIMITS = RateLimits(per_window=20, window=timedelta(minutes=10), per_day=30)


def flood(n: int, every_s: float, start: datetime = T0) -> list[datetime]:
    return [start + timedelta(seconds=i * every_s) for i in range(n)]


def test_within_the_limits_everything_is_answered() -> None:
    times = flood(20, 10)
    assert check(times, times[-1], LIMITS, None) is Verdict.ALLOW


def test_over_the_window_one_notice_then_silence() -> None:
    times = flood(21, 10)
    now = times[-1]
    assert check(times, now, LIMITS, None) is Verdict.NOTICE
    more = [*times, now + timedelta(seconds=5)]
    assert check(more, more[-1], LIMITS, notice_at=now) is Verdict.SILENT


def test_after_the_window_replies_resume() -> None:
    times = flood(21, 10)
    later = times[-1] + timedelta(minutes=11)
    assert check([*times, later], later, LIMITS, notice_at=times[-1]) is Verdict.ALLOW


def test_the_daily_limit_holds_even_when_messages_are_spread_out() -> None:
    times = flood(31, 15 * 60)  # one every 15 minutes: never 21 in ten minutes
    assert check(times, times[-1], LIMITS, None) is Verdict.NOTICE
    assert check(times, times[-1], LIMITS, notice_at=times[-2]) is Verdict.SILENT


def test_the_notice_fits_one_sms_and_names_the_crisis_line() -> None:
    assert len(NOTICE) <= 160 and "988" in NOTICE
