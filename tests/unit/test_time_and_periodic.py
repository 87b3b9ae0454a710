"""The test clock moves every process's time together; periodic jobs get one key per slot."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from careline_platform.clock import OffsetFileClock, SystemClock, clock_from
from careline_platform.jobs import Periodic


def test_the_offset_file_moves_the_clock_and_a_missing_file_does_not(tmp_path: Path) -> None:
    path = tmp_path / "offset"
    clock = OffsetFileClock(path)
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=1)
    path.write_text(str(2 * 86400))
    assert abs(clock.now() - (datetime.now(UTC) + timedelta(days=2))) < timedelta(seconds=1)
    path.write_text("3600.5")
    os.utime(path, ns=(1, 10**18))  # a new stamp even within one mtime tick
    assert abs(clock.now() - (datetime.now(UTC) + timedelta(seconds=3600.5))) < timedelta(seconds=1)


def test_the_offset_clock_is_only_used_when_configured(tmp_path: Path) -> None:
    assert isinstance(clock_from(None), SystemClock)
    assert isinstance(clock_from(str(tmp_path / "offset")), OffsetFileClock)


def test_a_periodic_job_has_one_key_per_slot_and_the_next_follows_now() -> None:
    scan = Periodic("checkin.scan", timedelta(minutes=5))
    at = datetime(2026, 11, 26, 12, 7, 31, tzinfo=UTC)
    first, same = scan.current(at), scan.current(at + timedelta(minutes=2))
    assert first["_id"] == same["_id"] == "checkin.scan:2026-11-26T12:05:00+00:00"
    assert first["next_attempt_at"] == datetime(2026, 11, 26, 12, 5, tzinfo=UTC)
    later = at + timedelta(days=2)  # the service was away: no replay of the missed slots
    following = scan.following(later)
    assert following["_id"] == "checkin.scan:2026-11-28T12:10:00+00:00"
    assert following["next_attempt_at"] > later
