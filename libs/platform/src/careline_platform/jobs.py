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

import structlog
from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

from careline_platform.clock import Clock
from careline_platform.logging import get_logger
from careline_platform.metrics import DEAD_LETTERS, JOBS_FINISHED, RETRIES
from careline_platform.tasks import finish_or_cancel

log = get_logger(__name__)

Document = dict[str, Any]
COMPLETED_TTL_S = 7 * 24 * 3600


class JobStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    DEAD = "dead"


UNFINISHED = (JobStatus.PENDING, JobStatus.PROCESSING, JobStatus.FAILED)
CLAIM_CANDIDATES = 16
DEAD_LETTER_SWEEP_S = 10.0
"""How often a worker looks for dead jobs whose letter is not published yet (its own are at once)."""


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


_last_order = 0


def _next_order(now: datetime) -> int:
    """Microseconds of ``now``, but strictly increasing within the process: the jobs one
    transaction owes (a reply, then its events) share ``now`` and must still run in the order
    they were owed."""
    global _last_order
    _last_order = max(int(now.timestamp() * 1_000_000), _last_order + 1)
    return _last_order


def new_job(
    key: str,
    type_: str,
    payload: Mapping[str, Any],
    *,
    now: datetime,
    max_attempts: int | None = None,
    actor: str | None = None,
    run_at: datetime | None = None,
) -> Document:
    """A pending job document, to be inserted together with the state change that wants it.

    ``max_attempts`` overrides the job type's retry policy for this one job; by default the
    policy of the type decides. ``run_at`` delays the first attempt (a trial's end, a
    scheduled scan); by default the job is due at once.
    """
    return {
        "_id": key,
        "type": type_,
        "payload": dict(payload),
        "actor": actor,
        # an actor's jobs run one at a time in this order (microseconds of the creating clock)
        "order": _next_order(now),
        "status": JobStatus.PENDING.value,
        "attempts": 0,
        "max_attempts": max_attempts,
        "next_attempt_at": run_at or now,
        "lease": None,
        "first_claimed_at": None,
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
    max_attempts: int | None
    progress: dict[str, Any]
    token: str
    actor: str | None = None
    claimed_before: datetime | None = None
    """When the job was first claimed, if this claim is not its first: an earlier attempt ran
    (it failed, its lease expired, or a shutdown released it) and may have done its effect
    without recording so. None on a job's first claim."""

    @classmethod
    def from_doc(cls, doc: Document) -> Job:
        return cls(
            key=doc["_id"],
            type=doc["type"],
            payload=doc["payload"],
            attempts=doc["attempts"],
            max_attempts=doc.get("max_attempts"),
            progress=doc.get("progress") or {},
            token=doc["lease"]["token"],
            actor=doc.get("actor"),
            claimed_before=doc.get("first_claimed_at"),
        )


def _dotted(doc: Document, path: str) -> Any:
    """The value at a dotted path (``lease.expires_at``), None where a part is missing."""
    value: Any = doc
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


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
        await self.col.create_index([("actor", ASCENDING), ("order", ASCENDING)])
        await self.col.create_index([("actor", ASCENDING), ("status", ASCENDING), ("order", ASCENDING)])
        await self.col.create_index([("status", ASCENDING), ("lease.expires_at", ASCENDING)])

    async def enqueue(self, job: Document, session: AsyncClientSession | None = None) -> bool:
        """Insert a job; False when a job with that key exists (the effect is already owed).

        Inside a transaction the key is looked up first: a duplicate-key error there would abort
        the caller's whole transaction, not just this insert.
        """
        if session is not None and await self.col.find_one({"_id": job["_id"]}, {"_id": 1}, session=session):
            return False
        try:
            await self.col.insert_one(job, session=session)
        except DuplicateKeyError:
            return False
        return True

    @staticmethod
    def _due_retries(now: datetime) -> list[Document]:
        """Jobs that come due on a clock: a failed job's next attempt, an expired lease.

        Each is a query whose index order is the sort order (no in-memory sort): equality on
        ``status`` plus a range on the sort key lets the server walk the (status, sort key)
        index and stop at the first match; one query with ``$in``/``$or`` over several
        statuses would make it collect and sort every match.
        """
        return [
            {"status": JobStatus.FAILED.value, "next_attempt_at": {"$lte": now}},
            {"status": JobStatus.PROCESSING.value, "lease.expires_at": {"$lte": now}},
        ]

    @staticmethod
    def _due_new(now: datetime) -> Document:
        """Pending jobs that are due: what a committed unit of work just owed, mostly."""
        return {"status": JobStatus.PENDING.value, "next_attempt_at": {"$lte": now}}

    async def _waits_for_predecessor(self, candidate: Document) -> bool:
        """True while an earlier job of the same actor is unfinished (actor jobs run in order).

        Asks for the actor's first unfinished job on the (actor, status, order) index and
        compares its order here: a range on ``order`` beside the ``$in`` would make the
        MongoDB-wire server scan the whole collection, finished jobs included.
        """
        if not candidate.get("actor"):
            return False
        first = await self.col.find_one(
            {"actor": candidate["actor"], "status": {"$in": [s.value for s in UNFINISHED]}},
            {"order": 1},
            sort=[("order", ASCENDING)],
        )
        return first is not None and first["order"] < candidate["order"]

    async def claim(self, owner: str, lease_s: float, types: list[str] | None = None) -> Job | None:
        """Take the next due job (or one whose lease expired) under a fresh lease.

        The claim itself is one atomic find-and-modify on the job's id and its still-due state,
        so two workers never hold the same job; a job whose actor has an earlier unfinished job
        is skipped, so one caregiver's effects happen in the order they were decided.
        """
        return await self.claim_retry(owner, lease_s, types) or await self.claim_new(owner, lease_s, types)

    async def claim_new(self, owner: str, lease_s: float, types: list[str] | None = None) -> Job | None:
        """:meth:`claim`, of a pending job only: one query, what a worker asks after a wake."""
        now = self.clock.now()
        return await self._claim_first(self._due_new(now), owner, lease_s, now, types)

    async def claim_retry(self, owner: str, lease_s: float, types: list[str] | None = None) -> Job | None:
        """:meth:`claim`, of a failed job whose next attempt is due or one whose lease expired.

        Older work first: these come before new jobs, so a steady stream of new jobs cannot
        starve the retries.
        """
        now = self.clock.now()
        for query in self._due_retries(now):
            job = await self._claim_first(query, owner, lease_s, now, types)
            if job is not None:
                return job
        return None

    async def _claim_first(
        self, query: Document, owner: str, lease_s: float, now: datetime, types: list[str] | None
    ) -> Job | None:
        sort_key = "lease.expires_at" if "lease.expires_at" in query else "next_attempt_at"
        # The types are checked here, not in the query: a ``type`` condition would keep the
        # server off the (status, sort key) index. Only when the whole head of the queue is of
        # types this worker does not run (left by an older release) does it ask by type.
        head = self.col.find(query).sort(sort_key, ASCENDING).limit(CLAIM_CANDIDATES)
        candidates = await head.to_list()
        if types:
            runnable = [c for c in candidates if c.get("type") in types]
            if not runnable and len(candidates) == CLAIM_CANDIDATES:
                by_type = self.col.find({**query, "type": {"$in": types}}).sort(sort_key, ASCENDING)
                runnable = await by_type.limit(CLAIM_CANDIDATES).to_list()
            candidates = runnable
        # Concurrent workers see the same head of the queue: trying it in a random order
        # spreads them over different jobs instead of racing for the first one.
        random.shuffle(candidates)
        for candidate in candidates:
            if await self._waits_for_predecessor(candidate):
                continue
            job = await self.take(candidate, query, owner, lease_s, now)
            if job is not None:
                return job
        return None

    @staticmethod
    def _unchanged_since_read(candidate: Document, query: Document) -> Document:
        """The job as it was read, field for field: it was claimable then, and a claim, a
        release, a retry's new time or a renewed lease would each have changed one of these.

        Equalities only, led by ``_id``: a server finds the one document by its id. (With the
        claim query's range beside it, the MongoDB-wire server walked the whole (status, due)
        index range instead: every pending job, for every claim.)
        """
        guard: Document = {
            "_id": candidate["_id"],
            "status": query["status"],
            "first_claimed_at": candidate.get("first_claimed_at"),
        }
        for path in query:  # the due time the query ranged over, as read
            if path not in ("_id", "status"):
                guard[path] = _dotted(candidate, path)
        if candidate.get("lease") is not None:
            guard["lease.token"] = candidate["lease"].get("token")
        return guard

    async def take(
        self, candidate: Document, query: Document, owner: str, lease_s: float, now: datetime
    ) -> Job | None:
        """The claim of one job as read: one atomic conditional update that only succeeds while
        the job is still claimable, so exactly one worker gets it; and only if no one claimed
        it since it was read (a claim and a release in between would make ``claimed_before``
        wrong). None when another worker got there first."""
        token = f"{owner}:{secrets.token_hex(8)}"
        lease = {"token": token, "owner": owner, "expires_at": now + timedelta(seconds=lease_s)}
        claimed: Document = {"status": JobStatus.PROCESSING.value, "lease": lease}
        if candidate.get("first_claimed_at") is None:
            claimed["first_claimed_at"] = now
        res = await self.col.update_one(
            self._unchanged_since_read(candidate, query), {"$set": claimed, "$inc": {"attempts": 1}}
        )
        if res.modified_count != 1:
            return None
        return Job.from_doc({**candidate, "attempts": candidate["attempts"] + 1, "lease": lease})

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
        if permanent or job.attempts >= (job.max_attempts or policy.max_attempts):
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

    async def release(self, job: Job) -> bool:
        """Give a claimed job back, due at once, without counting the attempt (shutdown).

        Another replica claims it on its next poll instead of waiting for the lease to expire.
        What the attempt recorded (``progress``: a provider id, generated text) stays, so a
        cancelled attempt is resumed exactly as an expired lease would be. False when the lease
        was no longer ours.
        """
        try:
            await self._guarded(
                job,
                {
                    "$set": {
                        "status": JobStatus.PENDING.value,
                        "lease": None,
                        "next_attempt_at": self.clock.now(),
                    },
                    "$inc": {"attempts": -1},
                },
            )
        except LeaseLost:
            return False
        return True

    async def holds(self, job: Job) -> bool:
        """Whether our claim on ``job`` still stands: a last look before an effect that cannot be
        taken back (a publish). False once the lease moved on or the job was cancelled (deleted by
        an erasure)."""
        found = await self.col.find_one(
            {"_id": job.key, "status": JobStatus.PROCESSING.value, "lease.token": job.token}, {"_id": 1}
        )
        return found is not None

    async def cancel(self, query: Document, session: AsyncClientSession | None = None) -> int:
        """Delete every job matching ``query``, whatever its status (an erasure's cancellation).

        A job being run loses its lease with its document: its worker's next guarded write raises
        ``LeaseLost``, so it records nothing more and completes nothing.
        """
        return (await self.col.delete_many(query, session=session)).deleted_count

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
    """Claims and runs jobs of one service, at most ``concurrency`` at a time.

    One dispatcher claims while there is room and otherwise sleeps until ``wake()`` (a handler
    just committed a job, or a job finished) or ``poll_interval_s`` passes (jobs written by
    other replicas, retries coming due). Idle, it costs one query per interval.
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
        poll_interval_s: float = 1.0,
    ) -> None:
        self.store = store
        self.types = types
        self.owner = owner
        self.dead_letter_sink = dead_letter_sink
        self.concurrency = concurrency
        self.lease_s = lease_s
        self.poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._running: set[asyncio.Task[None]] = set()
        self._next_sweep = 0.0  # loop time of the next look for due retries and expired leases
        self._died = asyncio.Event()  # a job of this worker went dead: publish its letter now

    def wake(self) -> None:
        self._wake.set()

    @property
    def active(self) -> bool:
        """True from ``start()`` until ``stop()`` has ended its loops."""
        return any(not task.done() for task in self._tasks)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._dispatch_loop()),
            asyncio.create_task(self._dead_letter_loop()),
        ]

    async def stop(self, grace_s: float | None = None) -> tuple[int, int]:
        """Stop claiming; jobs in flight finish, those still running after ``grace_s`` are released.

        A released job goes back to ``pending`` under no lease, so another replica runs it now
        rather than when the lease would have expired. Returns (finished, released).
        """
        self._stopping.set()
        self._wake.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        return await finish_or_cancel(self._running, grace_s)

    async def run_once(self) -> bool:
        """Claim and run one job. True if there was one."""
        job = await self.store.claim(self.owner, self.lease_s, list(self.types))
        if job is None:
            return False
        await self._execute(job)
        return True

    async def _execute(self, job: Job) -> None:
        """Run one job; its log lines carry the correlation id of the turn that owed it."""
        correlation_id = job.payload.get("correlation_id")
        if correlation_id:
            with structlog.contextvars.bound_contextvars(correlation_id=correlation_id):
                await self._execute_job(job)
        else:
            await self._execute_job(job)

    async def _execute_job(self, job: Job) -> None:
        spec = self.types[job.type]
        try:
            result = await spec.handler(job)
        except asyncio.CancelledError:  # shutdown outlasted the grace period
            await asyncio.shield(self._release(job))
            raise
        except LeaseLost:
            log.warning("job.lease_lost", job=job.key, type=job.type)
            return
        except Exception as exc:  # every failure is classified, none escapes the worker
            await self._record_failure(job, spec, exc)
            return
        try:
            await self.store.complete(job, result)
        except LeaseLost:
            log.warning("job.lease_lost", job=job.key, type=job.type)
            return
        JOBS_FINISHED.labels(job.type, "completed").inc()
        log.info("job.completed", job=job.key, type=job.type, attempt=job.attempts)

    async def _release(self, job: Job) -> None:
        try:
            released = await self.store.release(job)
        except PyMongoError as exc:  # the lease expires on its own then
            log.warning("job.release_failed", job=job.key, type=job.type, error=type(exc).__name__)
            return
        log.info("job.released", job=job.key, type=job.type, released=released)

    async def _record_failure(self, job: Job, spec: JobType, exc: Exception) -> None:
        permanent = isinstance(exc, spec.permanent)
        try:
            status = await self.store.fail(
                job, f"{type(exc).__name__}: {exc}", permanent=permanent, policy=spec.policy
            )
        except LeaseLost:
            log.warning("job.lease_lost", job=job.key, type=job.type)
            return
        JOBS_FINISHED.labels(job.type, status.value).inc()
        if status is JobStatus.DEAD:
            DEAD_LETTERS.labels("job").inc()
            self._died.set()
        else:
            RETRIES.labels(job.type).inc()
        log.warning(
            "job.failed",
            job=job.key,
            type=job.type,
            attempt=job.attempts,
            status=status.value,
            error=type(exc).__name__,
            permanent=permanent,
        )

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()  # room for another job, and its actor's next job may be due now

    async def _claim(self) -> Job | None:
        """A new job; and, once per poll interval, a due retry or an expired lease first.

        A wake means a unit of work just committed a new job, so it asks one query. Retries
        and expired leases come due on a clock, not on a wake: they are looked for at most
        once per ``poll_interval_s``, and again at once while that keeps finding some.
        """
        types = list(self.types)
        loop = asyncio.get_running_loop()
        if loop.time() >= self._next_sweep:
            job = await self.store.claim_retry(self.owner, self.lease_s, types)
            if job is not None:
                return job
            self._next_sweep = loop.time() + self.poll_interval_s
        return await self.store.claim_new(self.owner, self.lease_s, types)

    async def _dispatch_loop(self) -> None:
        while not self._stopping.is_set():
            job: Job | None = None
            # Cleared before the claim, so a wake() that arrives while the claim is in flight
            # (a handler committed a job just after the claim's query ran) is not lost.
            self._wake.clear()
            if len(self._running) < self.concurrency:
                try:
                    job = await self._claim()
                except PyMongoError as exc:
                    log.warning("job.claim_failed", error=type(exc).__name__)
                    await asyncio.sleep(1.0)
                    continue
                except Exception:  # a bug must not silently kill the dispatcher
                    log.exception("job.dispatch_error")
                    await asyncio.sleep(1.0)
                    continue
            if job is not None and self._stopping.is_set():  # claimed while we were told to stop
                await self._release(job)
                continue
            if job is not None:
                task = asyncio.create_task(self._execute(job))
                self._running.add(task)
                task.add_done_callback(self._finished)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval_s)

    async def _dead_letter_loop(self) -> None:
        """Publish a dead-letter event for every job that died (retried until it lands).

        At once for a job this worker failed for good; every ``DEAD_LETTER_SWEEP_S`` for the
        rest (a letter whose publish failed, a job another replica killed before publishing).
        """
        while not self._stopping.is_set():
            self._died.clear()
            try:
                for doc in await self.store.undelivered_dead_letters():
                    await self.dead_letter_sink(doc)
                    await self.store.mark_dead_letter_published(doc["_id"])
            except Exception as exc:  # the broker or database is away: try again later
                log.warning("job.dead_letter_publish_failed", error=type(exc).__name__)
            woken = asyncio.ensure_future(self._died.wait())
            stopped = asyncio.ensure_future(self._stopping.wait())
            await asyncio.wait(
                {woken, stopped}, timeout=DEAD_LETTER_SWEEP_S, return_when=asyncio.FIRST_COMPLETED
            )
            woken.cancel()
            stopped.cancel()


@dataclass(frozen=True)
class Periodic:
    """A job type that runs once per time slot, however many replicas are running.

    The job for a slot has a key made from the slot's start, so every replica that tries to
    enqueue it writes the same key and only one job exists; when it starts it enqueues the
    job of the next slot after the current time (a service that was down does not replay the
    slots it missed, and a failing run does not end the chain).
    """

    job_type: str
    every: timedelta

    def slot_start(self, at: datetime) -> datetime:
        seconds = self.every.total_seconds()
        epoch = at.timestamp()
        return datetime.fromtimestamp(epoch - epoch % seconds, at.tzinfo)

    def job_for_slot(self, start: datetime, now: datetime) -> Document:
        return new_job(f"{self.job_type}:{start.isoformat()}", self.job_type, {}, now=now, run_at=start)

    def current(self, now: datetime) -> Document:
        return self.job_for_slot(self.slot_start(now), now)

    def following(self, now: datetime) -> Document:
        return self.job_for_slot(self.slot_start(now) + self.every, now)
