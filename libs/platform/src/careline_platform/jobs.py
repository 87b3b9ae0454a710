"""The jobs/outbox engine: every side effect of every service runs as a job.

A job is written in the same transaction as the state change that calls for it, under a
unique idempotency key. Workers claim jobs with one atomic find-and-modify that sets a lease
(owner token + expiry); completion and failure are guarded by that token, so a worker whose
lease expired cannot overwrite a newer claim. Failures retry on an exponential schedule with
jitter; permanent errors and exhausted attempts end in ``dead`` and a dead-letter event.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

from careline_platform.clock import Clock
from careline_platform.logging import get_logger

log = get_logger(__name__)

Document = dict[str, Any]
COMPLETED_TTL_S = 7 * 24 * 3600


class JobStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    DEAD = "dead"


class PermanentJobError(Exception):
    """Retrying cannot help (a rejected recipient, a malformed request): go dead at once."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff from ``base_s`` (2, 4, 8, 16 ... capped), with jitter."""

    max_attempts: int = 5
    base_s: float = 2.0
    cap_s: float = 300.0
    jitter: float = 0.2

    def delay_after(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        raw = min(self.cap_s, self.base_s * 2 ** (attempt - 1))
        spread = raw * self.jitter
        return float(raw + (rng or random).uniform(-spread, spread))


def new_job(
    key: str,
    type_: str,
    payload: Mapping[str, Any],
    *,
    now: datetime,
    max_attempts: int = 5,
    actor: str | None = None,
) -> Document:
    """A pending job document, to be inserted together with the state change that wants it."""
    return {
        "_id": key,
        "type": type_,
        "payload": dict(payload),
        "actor": actor,
        "status": JobStatus.PENDING.value,
        "attempts": 0,
        "max_attempts": max_attempts,
        "next_attempt_at": now,
        "lease": None,
        "last_error": None,
        "progress": {},
        "result": None,
        "created_at": now,
        "completed_at": None,
        "dead_letter_published": None,
    }


@dataclass
class Job:
    """A claimed job, as the worker sees it. ``token`` proves the claim is still ours."""

    key: str
    type: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    progress: dict[str, Any]
    token: str
    actor: str | None = None

    @classmethod
    def from_doc(cls, doc: Document) -> Job:
        return cls(
            key=doc["_id"],
            type=doc["type"],
            payload=doc["payload"],
            attempts=doc["attempts"],
            max_attempts=doc["max_attempts"],
            progress=doc.get("progress") or {},
            token=doc["lease"]["token"],
            actor=doc.get("actor"),
        )


class LeaseLost(Exception):
    """Our lease expired and someone else holds the job now; our write was refused."""


class JobStore:
    """The ``jobs`` collection of one service."""

    def __init__(self, collection: AsyncCollection[Document], clock: Clock) -> None:
        self.col = collection
        self.clock = clock

    async def ensure_indexes(self, completed_ttl_s: int = COMPLETED_TTL_S) -> None:
        await self.col.create_index([("status", ASCENDING), ("next_attempt_at", ASCENDING)])
        await self.col.create_index([("type", ASCENDING), ("status", ASCENDING)])
        await self.col.create_index("completed_at", expireAfterSeconds=completed_ttl_s)

    async def enqueue(self, job: Document, session: AsyncClientSession | None = None) -> bool:
        """Insert a job; False when a job with that key exists (the effect is already owed)."""
        try:
            await self.col.insert_one(job, session=session)
        except DuplicateKeyError:
            return False
        return True

    async def claim(self, owner: str, lease_s: float, types: list[str] | None = None) -> Job | None:
        """Atomically take the next due job (or one whose lease expired) under a fresh lease."""
        now = self.clock.now()
        due: Document = {
            "$or": [
                {
                    "status": {"$in": [JobStatus.PENDING.value, JobStatus.FAILED.value]},
                    "next_attempt_at": {"$lte": now},
                },
                {"status": JobStatus.PROCESSING.value, "lease.expires_at": {"$lte": now}},
            ]
        }
        if types:
            due["type"] = {"$in": types}
        token = f"{owner}:{secrets.token_hex(8)}"
        doc = await self.col.find_one_and_update(
            due,
            {
                "$set": {
                    "status": JobStatus.PROCESSING.value,
                    "lease": {"token": token, "owner": owner, "expires_at": now + timedelta(seconds=lease_s)},
                },
                "$inc": {"attempts": 1},
            },
            sort=[("next_attempt_at", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )
        return Job.from_doc(doc) if doc else None

    async def _guarded(self, job: Job, update: Document) -> None:
        res = await self.col.update_one(
            {"_id": job.key, "status": JobStatus.PROCESSING.value, "lease.token": job.token},
            update,
        )
        if res.matched_count == 0:
            raise LeaseLost(job.key)

    async def record_progress(self, job: Job, **fields: Any) -> None:
        """Persist what an attempt learned (a provider id, generated text) before going on."""
        job.progress.update(fields)
        await self._guarded(job, {"$set": {f"progress.{k}": v for k, v in fields.items()}})

    async def complete(self, job: Job, result: Any = None) -> None:
        now = self.clock.now()
        await self._guarded(
            job,
            {
                "$set": {
                    "status": JobStatus.COMPLETED.value,
                    "result": result,
                    "completed_at": now,
                    "lease": None,
                    "last_error": None,
                }
            },
        )

    async def fail(self, job: Job, error: str, *, permanent: bool, policy: RetryPolicy) -> JobStatus:
        """Record a failed attempt; schedule the next one or declare the job dead."""
        now = self.clock.now()
        if permanent or job.attempts >= job.max_attempts:
            await self._guarded(
                job,
                {
                    "$set": {
                        "status": JobStatus.DEAD.value,
                        "last_error": error[:500],
                        "lease": None,
                        "dead_at": now,
                        "dead_letter_published": False,
                    }
                },
            )
            return JobStatus.DEAD
        delay = policy.delay_after(job.attempts)
        await self._guarded(
            job,
            {
                "$set": {
                    "status": JobStatus.FAILED.value,
                    "last_error": error[:500],
                    "lease": None,
                    "next_attempt_at": now + timedelta(seconds=delay),
                }
            },
        )
        return JobStatus.FAILED

    async def retry(self, key: str) -> bool:
        """Put a dead or failed job back in the queue with a fresh attempt budget."""
        res = await self.col.update_one(
            {"_id": key, "status": {"$in": [JobStatus.DEAD.value, JobStatus.FAILED.value]}},
            {
                "$set": {
                    "status": JobStatus.PENDING.value,
                    "attempts": 0,
                    "lease": None,
                    "next_attempt_at": self.clock.now(),
                    "dead_letter_published": None,
                }
            },
        )
        return res.modified_count == 1

    async def undelivered_dead_letters(self, limit: int = 50) -> list[Document]:
        cursor = self.col.find({"status": JobStatus.DEAD.value, "dead_letter_published": False})
        return await cursor.limit(limit).to_list()

    async def mark_dead_letter_published(self, key: str) -> None:
        await self.col.update_one({"_id": key}, {"$set": {"dead_letter_published": True}})


JobHandler = Callable[[Job], Awaitable[Any]]
DeadLetterSink = Callable[[Document], Awaitable[None]]


@dataclass
class JobType:
    """How one kind of job runs and retries."""

    handler: JobHandler
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    permanent: tuple[type[BaseException], ...] = (PermanentJobError,)


class JobWorker:
    """Claims and runs jobs of one service with bounded concurrency.

    The loop polls at ``poll_interval_s``; ``wake()`` lets a handler that just committed a job
    start it at once instead of waiting for the next poll.
    """

    def __init__(
        self,
        store: JobStore,
        types: Mapping[str, JobType],
        *,
        owner: str,
        dead_letter_sink: DeadLetterSink,
        concurrency: int = 4,
        lease_s: float = 30.0,
        poll_interval_s: float = 0.2,
    ) -> None:
        self.store = store
        self.types = dict(types)
        self.owner = owner
        self.dead_letter_sink = dead_letter_sink
        self.concurrency = concurrency
        self.lease_s = lease_s
        self.poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run_loop(i)) for i in range(self.concurrency)]
        self._tasks.append(asyncio.create_task(self._dead_letter_loop()))

    async def stop(self) -> None:
        """Stop claiming; in-flight jobs finish (their leases would expire otherwise)."""
        self._stopping.set()
        self._wake.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def run_once(self) -> bool:
        """Claim and run one job. True if there was one."""
        job = await self.store.claim(self.owner, self.lease_s, list(self.types))
        if job is None:
            return False
        await self._execute(job)
        return True

    async def _execute(self, job: Job) -> None:
        spec = self.types[job.type]
        try:
            result = await spec.handler(job)
        except LeaseLost:
            log.warning("job.lease_lost", job=job.key, type=job.type)
            return
        except Exception as exc:  # every failure is classified, none escapes the worker
            permanent = isinstance(exc, spec.permanent)
            try:
                status = await self.store.fail(
                    job, f"{type(exc).__name__}: {exc}", permanent=permanent, policy=spec.policy
                )
            except LeaseLost:
                log.warning("job.lease_lost", job=job.key, type=job.type)
                return
            log.warning(
                "job.failed",
                job=job.key,
                type=job.type,
                attempt=job.attempts,
                status=status.value,
                error=type(exc).__name__,
                permanent=permanent,
            )
            if status is JobStatus.DEAD:
                self._wake.set()
            return
        try:
            await self.store.complete(job, result)
        except LeaseLost:
            log.warning("job.lease_lost", job=job.key, type=job.type)
            return
        log.info("job.completed", job=job.key, type=job.type, attempt=job.attempts)

    async def _run_loop(self, index: int) -> None:
        while not self._stopping.is_set():
            try:
                ran = await self.run_once()
            except PyMongoError as exc:
                log.warning("job.claim_failed", error=type(exc).__name__)
                ran = False
                await asyncio.sleep(1.0)
            except Exception:  # a bug must not silently kill the worker loop
                log.exception("job.loop_error", worker=index)
                ran = False
                await asyncio.sleep(1.0)
            if ran:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval_s)

    async def _dead_letter_loop(self) -> None:
        """Publish a dead-letter event for every job that died (retried until it lands)."""
        while not self._stopping.is_set():
            try:
                for doc in await self.store.undelivered_dead_letters():
                    await self.dead_letter_sink(doc)
                    await self.store.mark_dead_letter_published(doc["_id"])
            except Exception as exc:  # the broker or database is away: try again later
                log.warning("job.dead_letter_publish_failed", error=type(exc).__name__)
            await asyncio.sleep(max(self.poll_interval_s, 1.0))
