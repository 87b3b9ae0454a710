"""Rate limits that protect without punishing (issue 15, item 7): past a limit one notice that
says until when, then one reply every ``slow_every``, never hours of silence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from careline_conversation.domain.ratelimit import RateLimits, Verdict, check, notice, resume_time
from careline_conversation.safety.sizing import segments

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LIMITS = RateLimits(per_window=20, window=timedelta(minutes=10), per_day=30, slow_every=timedelta(minutes=10))


def flood(n: int, every_s: float, start: datetime = T0) -> list[datetime]:
    return [start + timedelta(seconds=i * every_s) for i in range(n)]


def test_within_the_limits_everything_is_answered() -> None:
    times = flood(20, 10)
    assert check(times, times[-1], LIMITS, None).verdict is Verdict.ALLOW
    assert resume_time(times, times[-1], LIMITS) is None


def test_over_the_window_one_notice_then_one_reply_per_slot() -> None:
    times = flood(21, 10)
    now = times[-1]
    first = check(times, now, LIMITS, None)
    assert first.verdict is Verdict.NOTICE
    assert first.resume_at == times[0] + LIMITS.window  # the oldest message ages out of the window
    soon = [*times, now + timedelta(seconds=5)]
    assert check(soon, soon[-1], LIMITS, notice_at=now, replied_at=now).verdict is Verdict.WAIT
    quick = RateLimits(
        per_window=20, window=timedelta(minutes=10), per_day=30, slow_every=timedelta(minutes=2)
    )
    later = now + timedelta(minutes=2, seconds=1)  # still over the window, a slot after the notice
    assert check([*soon, later], later, quick, notice_at=now, replied_at=now).verdict is Verdict.SLOW
    again = now + timedelta(minutes=10, seconds=30)  # a flood that outlasts the window is told again
    busy = [*flood(25, 20, now - timedelta(minutes=1)), again]
    assert check(busy, again, LIMITS, notice_at=now, replied_at=now).verdict is Verdict.NOTICE


def test_after_the_window_replies_resume() -> None:
    times = flood(21, 10)
    later = times[-1] + timedelta(minutes=11)
    assert check([*times, later], later, LIMITS, notice_at=times[-1]).verdict is Verdict.ALLOW


def test_a_busy_day_slows_replies_but_never_silences_for_hours() -> None:
    """The daily limit used to mean 24 hours of silence; now a reply every ten minutes."""
    times = flood(31, 15 * 60)  # one every 15 minutes: never 21 in ten minutes
    now = times[-1]
    told = check(times, now, LIMITS, None)
    assert told.verdict is Verdict.NOTICE and told.resume_at is not None
    assert told.resume_at - now > timedelta(hours=1)  # the count falls back only slowly
    for minutes in (15, 30, 45, 60, 120):  # each later message, more than a slot after a reply
        at = now + timedelta(minutes=minutes)
        decision = check([*times, at], at, LIMITS, notice_at=now, replied_at=at - timedelta(minutes=11))
        assert decision.verdict is Verdict.SLOW, minutes


def test_the_notice_says_until_when_in_one_sms_and_names_the_crisis_line() -> None:
    now = T0
    short = notice(now + timedelta(minutes=7, seconds=10), now, LIMITS)
    long = notice(now + timedelta(hours=5, minutes=1), now, LIMITS)
    assert "8 min" in short and "6 h" in long
    for text in (short, long):
        assert segments(text) == 1 and "988" in text and "every 10 min" in text
