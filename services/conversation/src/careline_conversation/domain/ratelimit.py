"""Per-caregiver rate limits: a flood gets one notice, then silence until the window passes.

Pure: the caller keeps the recent inbound times (bounded) and when the last notice went out.
Crisis messages never reach this check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

DAY = timedelta(days=1)
NOTICE = (
    "You've sent a lot of messages in a short time, so I'll pause my replies for a bit. "
    "If you are in danger, call or text 988 or call 911."
)


class Verdict(StrEnum):
    ALLOW = "allow"
    NOTICE = "notice"  # over a limit: say so, once
    SILENT = "silent"  # over a limit, already told


@dataclass(frozen=True)
class RateLimits:
    per_window: int = 20
    window: timedelta = timedelta(minutes=10)
    per_day: int = 30

    @property
    def history_size(self) -> int:
        """How many inbound times to keep to judge both limits."""
        return max(self.per_window, self.per_day) + 1


def check(
    inbound_at: list[datetime], now: datetime, limits: RateLimits, notice_at: datetime | None
) -> Verdict:
    """Judge the newest message; ``inbound_at`` includes it."""
    in_window = sum(1 for t in inbound_at if now - t < limits.window)
    in_day = sum(1 for t in inbound_at if now - t < DAY)
    if in_day > limits.per_day:
        quiet_for = DAY
    elif in_window > limits.per_window:
        quiet_for = limits.window
    else:
        return Verdict.ALLOW
    if notice_at is not None and now - notice_at < quiet_for:
        return Verdict.SILENT
    return Verdict.NOTICE
