"""Per-caregiver rate limits that protect the line without punishing the caregiver.

Past a limit the caregiver is told once, with when normal replies resume, and the line then
answers more slowly (one reply every ``slow_every``) instead of falling silent: nobody is
silenced for hours because of a busy day. Answers to the line's own questions (onboarding, an
assessment) are never counted (the caller leaves them out of ``inbound_at``), and crisis
messages never reach this check.

Pure: the caller keeps the recent inbound times (bounded), when the notice went out and when
the line last replied while over the limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from careline_conversation.domain import replies

DAY = timedelta(days=1)


class Verdict(StrEnum):
    ALLOW = "allow"
    NOTICE = "notice"  # over a limit, not told yet: say so, and when normal replies resume
    SLOW = "slow"  # over a limit, told, and no reply for ``slow_every``: answer this one
    WAIT = "wait"  # over a limit, answered moments ago: this one waits for the next slot


@dataclass(frozen=True)
class RateLimits:
    per_window: int = 20
    window: timedelta = timedelta(minutes=10)
    per_day: int = 30
    slow_every: timedelta = timedelta(minutes=10)
    """Over a limit, at most one reply this often."""

    @property
    def history_size(self) -> int:
        """How many inbound times to keep to judge both limits."""
        return max(self.per_window, self.per_day) + 1


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    resume_at: datetime | None = None
    """When the counts fall back within the limits if nothing more arrives (None: within)."""


def resume_time(inbound_at: list[datetime], now: datetime, limits: RateLimits) -> datetime | None:
    """When both limits would hold again, with no further message; None if they hold now."""
    resume: datetime | None = None
    for span, allowed in ((limits.window, limits.per_window), (DAY, limits.per_day)):
        recent = sorted(t for t in inbound_at if now - t < span)
        excess = len(recent) - allowed
        if excess > 0:  # the oldest ``excess`` of them must age out of the span
            at = recent[excess - 1] + span
            resume = at if resume is None else max(resume, at)
    return resume


def check(
    inbound_at: list[datetime],
    now: datetime,
    limits: RateLimits,
    notice_at: datetime | None,
    replied_at: datetime | None = None,
) -> Decision:
    """Judge the newest message; ``inbound_at`` includes it (if it counts)."""
    resume = resume_time(inbound_at, now, limits)
    if resume is None:
        return Decision(Verdict.ALLOW)
    over_day = sum(1 for t in inbound_at if now - t < DAY) > limits.per_day
    told_within = DAY if over_day else limits.window  # one notice per episode of each limit
    if notice_at is None or now - notice_at >= told_within:
        return Decision(Verdict.NOTICE, resume)
    if replied_at is not None and now - replied_at < limits.slow_every:
        return Decision(Verdict.WAIT, resume)
    return Decision(Verdict.SLOW, resume)


def notice(resume_at: datetime, now: datetime, limits: RateLimits, language: str = "en") -> str:
    """What the caregiver is told past a limit (one SMS): slower replies, and until when."""
    minutes = max(1, math.ceil((resume_at - now).total_seconds() / 60))
    when = f"{minutes} min" if minutes < 90 else f"{math.ceil(minutes / 60)} h"
    every = max(1, round(limits.slow_every.total_seconds() / 60))
    return replies.text("rate_notice", language).format(every=every, when=when)
