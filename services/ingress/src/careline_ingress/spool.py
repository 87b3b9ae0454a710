"""Ingress's local spool: webhooks made durable on this replica's disk while JetStream is away.

When the broker does not acknowledge a publish (or the identity database does not answer),
the webhook is still answered 200, because its event is first appended here and fsync'd:
SQLite in WAL mode with ``synchronous=FULL``, so a commit returns only after the write-ahead
log reached the disk and survives a SIGKILL or a power cut. Each entry keeps what a
republish needs (subject, stream, payload, headers, ``Nats-Msg-Id``) and its arrival order
(the rowid); ``careline_ingress.durable`` republishes them oldest first and deletes each one
only after JetStream acknowledged it.

Every call runs on one worker thread of its own (SQLite's file I/O and fsync never block the
event loop), one at a time on one connection. A write that fails (disk full, a read-only
volume, an I/O error) raises :class:`SpoolUnavailable`, which the edge answers with 503.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from careline_platform.logging import get_logger

log = get_logger(__name__)
T = TypeVar("T")
FILE_NAME = "ingress-spool.sqlite3"
EVENT = "event"
"""An event ready to publish as it is."""
SMS = "sms"
"""A verified inbound text whose sender is not known yet (the identity database did not answer):
the drainer looks the caregiver up, then publishes what the webhook would have."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    stream TEXT NOT NULL,
    msg_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    headers TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY);
"""
COLUMNS = "seq, kind, subject, stream, msg_id, payload, headers"


class SpoolUnavailable(Exception):
    """The spool could not make an entry durable; the webhook must not be answered 200."""


@dataclass(frozen=True)
class Entry:
    """One spooled webhook: ``seq`` is its arrival order (0 until appended)."""

    kind: str
    subject: str
    stream: str
    msg_id: str
    payload: bytes
    headers: dict[str, str]
    seq: int = 0


class Spool:
    """An append-only, fsync'd queue of entries in one SQLite file under ``directory``."""

    def __init__(self, directory: Path, max_bytes: int | None = None) -> None:
        self.path = Path(directory) / FILE_NAME
        self.max_bytes = max_bytes
        """A cap on the file (SQLite's ``max_page_count``): past it a write fails as on a full disk."""
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool")
        self._db: sqlite3.Connection | None = None
        self.depth = 0
        """Entries waiting, kept in memory for the webhooks' path (changed only on the spool's
        thread, in the order of its writes; re-read from disk by :meth:`count`)."""

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            if self._db is None:
                self._db = self._connect()
            return work(self._db)

        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5.0)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")  # fsync the WAL at every commit, not only checkpoints
        # a drained entry holds a caregiver's number and text: overwrite it on delete, not just unlink it
        db.execute("PRAGMA secure_delete=ON")
        db.executescript(SCHEMA)
        if self.max_bytes is not None:
            page = int(db.execute("PRAGMA page_size").fetchone()[0])
            db.execute(f"PRAGMA max_page_count={max(self.max_bytes // page, 1)}")
        return db

    async def open(self) -> int:
        """Create or reopen the spool; returns the entries left by an earlier run (0 when it cannot
        be opened: the service still starts, answers 503 while it would need the spool, and
        ``/readyz`` says the spool is not writable)."""
        try:
            return await self.count()
        except (sqlite3.Error, OSError) as exc:
            log.error("spool.unavailable", path=str(self.path), error=error_name(exc))
            return 0

    async def count(self) -> int:
        """The number of entries on disk (another process sharing the file included)."""

        def read(db: sqlite3.Connection) -> int:
            self.depth = int(db.execute("SELECT count(*) FROM entries").fetchone()[0])
            return self.depth

        return await self._run(read)

    async def append(self, entry: Entry) -> int:
        """Write ``entry`` durably; returns its sequence number. Raises :class:`SpoolUnavailable`."""

        def write(db: sqlite3.Connection) -> int:
            cursor = db.execute(
                "INSERT INTO entries (kind, subject, stream, msg_id, payload, headers) VALUES (?,?,?,?,?,?)",
                (
                    entry.kind,
                    entry.subject,
                    entry.stream,
                    entry.msg_id,
                    entry.payload,
                    json.dumps(entry.headers),
                ),
            )
            self.depth += 1  # on the spool's thread, in the order of the writes
            return int(cursor.lastrowid or 0)

        try:
            return await self._run(write)
        except (sqlite3.Error, OSError) as exc:
            raise SpoolUnavailable(error_name(exc)) from exc

    async def oldest(self) -> Entry | None:
        """The entry that arrived first, or None when the spool is empty."""

        def read(db: sqlite3.Connection) -> Entry | None:
            row = db.execute(f"SELECT {COLUMNS} FROM entries ORDER BY seq LIMIT 1").fetchone()
            if row is None:
                return None
            seq, kind, subject, stream, msg_id, payload, headers = row
            return Entry(kind, subject, stream, msg_id, bytes(payload), json.loads(headers), seq)

        return await self._run(read)

    async def delete(self, seq: int) -> None:
        """Forget entry ``seq`` (after JetStream acknowledged it)."""

        def forget(db: sqlite3.Connection) -> None:
            deleted = db.execute("DELETE FROM entries WHERE seq = ?", (seq,)).rowcount
            self.depth = max(self.depth - deleted, 0)

        await self._run(forget)

    async def writable(self) -> bool:
        """True when a write reaches the disk now (a row written and removed in one commit)."""

        def probe(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("INSERT OR REPLACE INTO probe (id) VALUES (1)")
                db.execute("DELETE FROM probe")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

        try:
            await self._run(probe)
        except (sqlite3.Error, OSError):
            return False
        return True

    async def close(self) -> None:
        def shut(db: sqlite3.Connection) -> None:
            db.close()
            self._db = None

        if self._db is not None:
            await self._run(shut)
        self._thread.shutdown(wait=True)


def error_name(exc: BaseException) -> str:
    """A short name for a storage error (SQLite's own code name when it has one): never data."""
    name = getattr(exc, "sqlite_errorname", None)
    return str(name) if name else type(exc).__name__
