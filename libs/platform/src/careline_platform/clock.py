"""Time as a dependency, so tests can move it instead of sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock UTC time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class OffsetFileClock:
    """Wall-clock time plus an offset in seconds read from a file: time travel for tests.

    End-to-end tests run the services as separate processes; they move every process's time
    forward together by writing one number to the file (``CLOCK_OFFSET_FILE``), instead of
    sleeping. The file is re-read when it changes; a missing or empty file means no offset.
    Never set in production.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._offset = timedelta(0)

    def _read_offset(self) -> timedelta:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return timedelta(0)
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            text = self.path.read_text().strip()
            self._offset = timedelta(seconds=float(text)) if text else timedelta(0)
            self._stamp = stamp
        return self._offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self._read_offset()


def clock_from(offset_file: str | None) -> Clock:
    return OffsetFileClock(Path(offset_file)) if offset_file else SystemClock()
