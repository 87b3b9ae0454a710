"""A unit of work in memory, so a handler's logic runs as a fast unit test.

It behaves as ``careline_platform.uow.UnitOfWork`` does where a handler can tell:

- a message id seen before raises ``AlreadyProcessed`` before the block runs;
- a block that raises leaves nothing behind: the repository's state, the events and the jobs
  it owed are rolled back;
- a job key owed before is not owed again (``schedule`` returns False), as in the jobs table;
- a commit that owed anything wakes the worker (``wakes`` counts it).

The repositories are the test's own in-memory fakes of the service's repository protocol; the
fake only snapshots and restores their attributes around each block.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from careline_contracts.base import Event
from careline_contracts.jobs import JobPayload
from careline_platform.mongo import AlreadyProcessed
from careline_platform.uow import HasMsgId, delivery_id

W = TypeVar("W")
R = TypeVar("R")


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, now: datetime | None = None) -> None:
        self.at = now or datetime(2026, 11, 30, 15, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> datetime:
        self.at += delta
        return self.at


@dataclass(frozen=True)
class Emitted:
    event: Event
    key: str
    msg_id: str


@dataclass(frozen=True)
class Scheduled:
    job: JobPayload
    key: str
    run_at: datetime | None
    actor: str | None
    max_attempts: int | None

    @property
    def type(self) -> str:
        return self.job.job_type()


@dataclass
class FakeTransaction(Generic[W]):
    repo: W
    now: datetime
    known_keys: set[str]
    emitted: list[Emitted] = field(default_factory=list)
    scheduled: list[Scheduled] = field(default_factory=list)
    cancelled: set[str] = field(default_factory=set)
    buried: dict[str, str | None] = field(default_factory=dict)

    async def cancel_caregiver_jobs(self, user_id: str) -> int:
        """As the real one: every job owed about ``user_id`` goes, the erasure's own excepted
        (what was owed before this transaction goes at its commit)."""
        self.cancelled.add(user_id)
        kept = [s for s in self.scheduled if not _cancelled_by(s, user_id)]
        gone = len(self.scheduled) - len(kept)
        self.scheduled = kept
        return gone

    async def bury(self, user_id: str, *, phone_hash: str | None = None) -> None:
        self.buried[user_id] = phone_hash

    async def emit(self, event: Event, *, key: str, msg_id: str) -> None:
        if f"event:{msg_id}" in self.known_keys:
            return
        self.known_keys.add(f"event:{msg_id}")
        self.emitted.append(Emitted(event, key, msg_id))

    async def schedule(
        self,
        job: JobPayload,
        *,
        key: str,
        run_at: datetime | None = None,
        actor: str | None = None,
        max_attempts: int | None = None,
    ) -> bool:
        job.job_type()  # an unregistered payload fails here as it would in the real one
        if key in self.known_keys:
            return False
        self.known_keys.add(key)
        self.scheduled.append(Scheduled(job, key, run_at, actor, max_attempts))
        return True


def _cancelled_by(scheduled: Scheduled, user_id: str) -> bool:
    survives = getattr(scheduled.job, "SURVIVES_ERASURE", False)
    return not survives and (scheduled.job.user_id == user_id or scheduled.actor == user_id)


class FakeUnitOfWork(Generic[W, R]):
    """``FakeUnitOfWork(repo)``; ``emitted``, ``scheduled`` and ``wakes`` say what was owed."""

    def __init__(
        self,
        repo: W,
        reader: R | None = None,
        *,
        clock: FakeClock | None = None,
        fail_commit: Callable[[], Exception | None] | None = None,
    ) -> None:
        self.repo = repo
        self.reader = reader
        self.clock = clock or FakeClock()
        self.processed: set[str] = set()
        self.emitted: list[Emitted] = []
        self.scheduled: list[Scheduled] = []
        self.buried: dict[str, str | None] = {}
        """Tombstones: user id -> the phone hash kept with it."""
        self.commits = 0
        self.rollbacks = 0
        self.wakes = 0
        self.fail_commit = fail_commit
        self._keys: set[str] = set()

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def read(self) -> R:
        if self.reader is None:
            return self.repo  # type: ignore[return-value]  # one fake often serves both sides
        return self.reader

    def single(self) -> W:
        return self.repo

    def events(self, kind: type[Event] | None = None) -> list[Event]:
        return [e.event for e in self.emitted if kind is None or isinstance(e.event, kind)]

    def jobs(self, kind: type[JobPayload] | None = None) -> list[Scheduled]:
        return [s for s in self.scheduled if kind is None or isinstance(s.job, kind)]

    @asynccontextmanager
    async def begin(self, delivery: HasMsgId | str | None = None) -> AsyncIterator[FakeTransaction[W]]:
        msg_id = delivery_id(delivery)
        if msg_id is not None and msg_id in self.processed:
            raise AlreadyProcessed(msg_id)
        saved = copy.deepcopy(vars(self.repo))
        tx = FakeTransaction(self.repo, self.clock.now(), set(self._keys))
        try:
            yield tx
            failure = self.fail_commit() if self.fail_commit else None
            if failure is not None:
                raise failure
        except BaseException:
            vars(self.repo).clear()
            vars(self.repo).update(saved)
            self.rollbacks += 1
            raise
        if msg_id is not None:
            self.processed.add(msg_id)
        self.commits += 1
        self._keys = tx.known_keys
        for user in tx.cancelled:
            self.scheduled = [s for s in self.scheduled if not _cancelled_by(s, user)]
            self.emitted = [e for e in self.emitted if e.key != user]
        self.buried.update(tx.buried)
        self.emitted += tx.emitted
        self.scheduled += tx.scheduled
        if tx.emitted or tx.scheduled:
            self.wakes += 1


@dataclass(frozen=True)
class FakeDelivery:
    """What a consumer hands a handler besides the body."""

    msg_id: str
    subject: str = "test.subject"
    deliveries: int = 1
    received_at: datetime = field(default_factory=lambda: datetime(2026, 11, 30, 15, 0, tzinfo=UTC))


def delivery(msg_id: str = "msg-1", **kwargs: Any) -> FakeDelivery:
    return FakeDelivery(msg_id, **kwargs)
