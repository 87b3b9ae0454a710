"""The admin operations every service answers: its jobs, its rollups, a caregiver's slice.

Jobs as an operator sees them: listed, shown masked, retried, purged. The operations
(``jobs_list``, ``jobs_show``, ``jobs_retry``, ``jobs_retry_dead``, ``jobs_purge``) are how the
admin API and the ``careline jobs`` commands reach a service's ``jobs`` collection: nothing
outside the service opens its database. They read and write through :class:`JobBook`, so their
rules (what is masked, what may be retried or purged) run in unit tests on a fake
(``careline_testing.jobs.FakeJobBook``).

Masking is by shape, not by a list of known fields: in a job's payload, progress and result,
every string is ``[redacted]`` unless its key names an id, a type, a status or a count; numbers,
booleans and times are kept. A new job type with a new personal field is masked from the start.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from careline_contracts import admin as ops
from careline_contracts.admin import (
    CaregiverErased,
    CaregiverRecord,
    DeadJobsRetried,
    DeadLetterRedriven,
    EraseCaregiver,
    GetCaregiver,
    JobDetail,
    JobList,
    JobRetried,
    JobsPurged,
    JobSummary,
    ListJobs,
    ListRollups,
    PurgeJobs,
    RedriveDeadLetter,
    RefreshRollup,
    RetryDeadJobs,
    RetryJob,
    RollupList,
    RollupRefreshed,
    ShowJob,
)
from careline_platform.admin import AdminOperation, CaregiverSlice, Refused
from careline_platform.clock import Clock
from careline_platform.erasure import needles
from careline_platform.jobs import JobStatus, JobStore
from careline_platform.logging import get_logger, mask_text

__all__ = [
    "REDACTED",
    "JobBook",
    "JobOperations",
    "MongoJobBook",
    "RollupBook",
    "common_operations",
    "job_summary",
    "mask_job_data",
]

log = get_logger(__name__)
Document = dict[str, Any]
REDACTED = "[redacted]"
KEPT_KEYS = frozenset({"id", "key", "type", "kind", "status", "count"})
KEPT_SUFFIXES = ("_id", "_ids", "_key", "_type", "_status", "_count", "_at")
FINISHED_AT = {"completed": "completed_at", "dead": "dead_at"}
RETRYABLE = (JobStatus.FAILED.value, JobStatus.DEAD.value)


class JobBook(Protocol):
    """What the job operations need of a service's ``jobs`` collection."""

    async def find(self, key: str) -> Document | None: ...

    async def listed(self, statuses: Sequence[str], type_: str | None, limit: int) -> list[Document]:
        """Jobs in ``statuses`` (of ``type_``, if given), newest first, at most ``limit``."""
        ...

    async def retry(self, key: str) -> bool:
        """A failed or dead job back to pending with a fresh attempt budget; False: none such."""
        ...

    async def dead_keys(self, limit: int) -> list[str]: ...

    async def purge(
        self, statuses: Sequence[str], cutoff: datetime | None, *, dry_run: bool
    ) -> tuple[int, int]:
        """Delete finished jobs in ``statuses`` (finished before ``cutoff``): (matched, deleted)."""
        ...


def _kept(key: str) -> bool:
    key = key.lower()
    return key in KEPT_KEYS or key.endswith(KEPT_SUFFIXES)


def mask_job_data(value: Any, key: str = "") -> Any:
    """``value`` with every string redacted unless its key names an id, type, status or count."""
    if isinstance(value, dict):
        return {str(k): mask_job_data(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_job_data(v, key) for v in value]
    if isinstance(value, str) and not _kept(key):
        return REDACTED
    return value


def job_summary(doc: Document) -> JobSummary:
    """What an admin sees of a job in a list: never its payload; its last error masked."""
    return JobSummary(
        key=doc["_id"],
        type=doc.get("type"),
        status=doc.get("status"),
        attempts=doc.get("attempts", 0),
        max_attempts=doc.get("max_attempts"),
        last_error=mask_text(str(doc["last_error"])) if doc.get("last_error") else None,
        next_attempt_at=doc.get("next_attempt_at"),
        created_at=doc.get("created_at"),
    )


def job_detail(service: str, doc: Document, *, reveal: bool) -> JobDetail:
    data = {name: doc.get(name) for name in ("payload", "progress", "result")}
    if not reveal:
        data = {name: mask_job_data(value, name) for name, value in data.items()}
    error = doc.get("last_error")
    return JobDetail(
        **job_summary(doc).model_dump(exclude={"last_error"}),
        last_error=(str(error) if reveal else mask_text(str(error))) if error else None,
        service=service,
        actor=doc.get("actor"),
        completed_at=doc.get("completed_at"),
        dead_at=doc.get("dead_at"),
        dead_letter_published=doc.get("dead_letter_published"),
        lease=doc.get("lease"),
        payload=data["payload"] or {},
        progress=data["progress"] or {},
        result=data["result"],
        masked=not reveal,
    )


class JobOperations:
    """The job admin operations of one service, over its :class:`JobBook`."""

    def __init__(self, service: str, book: JobBook, clock: Clock) -> None:
        self.service, self.book, self.clock = service, book, clock

    async def list(self, request: ListJobs) -> JobList:
        docs = await self.book.listed(request.statuses, request.type, request.limit)
        return JobList(service=self.service, jobs=[job_summary(d) for d in docs])

    async def show(self, request: ShowJob) -> JobDetail:
        doc = await self.book.find(request.key)
        if doc is None:
            raise Refused("not_found", f"no job with key {request.key!r} in {self.service}")
        if request.reveal:
            log.warning("admin.job_revealed", service=self.service, key=request.key)
        return job_detail(self.service, doc, reveal=request.reveal)

    async def retry(self, request: RetryJob) -> JobRetried:
        retried = await self.book.retry(request.key)
        now = await self.book.find(request.key)
        status = now.get("status") if now is not None else None
        return JobRetried(service=self.service, retried=retried, status=status)

    async def retry_dead(self, request: RetryDeadJobs) -> DeadJobsRetried:
        keys = [key for key in await self.book.dead_keys(request.limit) if await self.book.retry(key)]
        if keys:
            log.warning("admin.dead_jobs_retried", service=self.service, jobs=len(keys))
        return DeadJobsRetried(service=self.service, keys=keys)

    async def purge(self, request: PurgeJobs) -> JobsPurged:
        days = request.older_than_days
        cutoff = None if days is None else self.clock.now() - timedelta(days=days)
        matched, deleted = await self.book.purge(request.statuses, cutoff, dry_run=request.dry_run)
        if deleted:
            log.warning("admin.jobs_purged", service=self.service, jobs=deleted)
        return JobsPurged(service=self.service, matched=matched, deleted=deleted)


def purge_filter(statuses: Sequence[str], cutoff: datetime | None) -> Document:
    """Completed/dead jobs (never anything else), finished before ``cutoff`` if one is given."""
    finished = [s for s in statuses if s in FINISHED_AT]
    if cutoff is None:
        return {"status": {"$in": finished}}
    clauses: list[Document] = []
    for status in finished:
        clauses.append({"status": status, FINISHED_AT[status]: {"$lt": cutoff}})
        # a job without its finishing time (older data) is aged by when it was created
        clauses.append({"status": status, FINISHED_AT[status]: None, "created_at": {"$lt": cutoff}})
    return {"$or": clauses}


def _created(doc: Document) -> float:
    at = doc.get("created_at")
    return at.timestamp() if isinstance(at, datetime) else 0.0


class MongoJobBook:
    """:class:`JobBook` over the service's ``jobs`` collection (the worker's :class:`JobStore`)."""

    PURGE_BATCH = 500

    def __init__(self, store: JobStore) -> None:
        self.store = store
        self.col = store.col

    async def find(self, key: str) -> Document | None:
        return await self.col.find_one({"_id": key})

    async def listed(self, statuses: Sequence[str], type_: str | None, limit: int) -> list[Document]:
        found: list[Document] = []
        for status in dict.fromkeys(statuses):  # one equality query per status: the status index
            query: Document = {"status": status} | ({"type": type_} if type_ else {})
            found += await self.col.find(query).sort("created_at", -1).limit(limit).to_list()
        found.sort(key=_created, reverse=True)
        return found[:limit]

    async def retry(self, key: str) -> bool:
        return await self.store.retry(key)

    async def dead_keys(self, limit: int) -> list[str]:
        cursor = self.col.find({"status": JobStatus.DEAD.value}, {"_id": 1}).limit(limit)
        return [doc["_id"] async for doc in cursor]

    async def purge(
        self, statuses: Sequence[str], cutoff: datetime | None, *, dry_run: bool
    ) -> tuple[int, int]:
        query = purge_filter(statuses, cutoff)
        keys = [doc["_id"] async for doc in self.col.find(query, {"_id": 1})]
        if dry_run:
            return len(keys), 0
        deleted = 0
        for start in range(0, len(keys), self.PURGE_BATCH):
            # the filter is repeated: a job retried since it was counted is kept
            res = await self.col.delete_many(
                {"_id": {"$in": keys[start : start + self.PURGE_BATCH]}, **query}
            )
            deleted += res.deleted_count
        return len(keys), deleted


# --- rollups and a caregiver's slice ---------------------------------------------------------


class RollupBook(Protocol):
    """A service's daily rollups: the most recent ones, and today's recomputed now."""

    async def recent(self, days: int) -> list[Document]: ...

    async def refresh(self) -> str | None:
        """Recompute today's rollup; its day (``YYYY-MM-DD``), None when the service keeps none."""
        ...


class RollupOperations:
    def __init__(self, service: str, book: RollupBook) -> None:
        self.service, self.book = service, book

    async def list(self, request: ListRollups) -> RollupList:
        return RollupList(service=self.service, rollups=await self.book.recent(request.days))

    async def refresh(self, _request: RefreshRollup) -> RollupRefreshed:
        day = await self.book.refresh()
        if day is None:
            raise Refused("not_found", f"{self.service} keeps no rollups")
        return RollupRefreshed(service=self.service, day=day)


Scrub = Callable[[Sequence[str]], Awaitable[dict[str, int]]]
"""Deletes the messages naming any of these marks from the service's own streams, by stream."""


async def no_streams(_marks: Sequence[str]) -> dict[str, int]:
    """A service without streams of its own to clean (and the unit tests' default)."""
    return {}


class CaregiverOperations:
    def __init__(self, service: str, caregiver: CaregiverSlice | None, scrub: Scrub = no_streams) -> None:
        self.service, self.caregiver, self.scrub = service, caregiver, scrub

    def _slice(self) -> CaregiverSlice:
        if self.caregiver is None:
            raise Refused("not_found", f"{self.service} keeps no caregiver data")
        return self.caregiver

    async def get(self, request: GetCaregiver) -> CaregiverRecord:
        found = jsonable(await self._slice().read(request.user_id))
        return CaregiverRecord.model_validate({**found, "service": self.service})

    async def erase(self, request: EraseCaregiver) -> CaregiverErased:
        """The slice, jobs and tombstone in one commit; then the messages in the service's streams
        that name the caregiver (after the commit: no job of theirs can publish any more)."""
        done = await self._slice().erase(request)
        known = [str(i) for i in done.get("identifiers") or []]
        marks = needles(request.user_id, request.phone, *request.identifiers, *known)
        scrubbed = await self.scrub(marks)
        return CaregiverErased.model_validate(
            {**done, "identifiers": known, "scrubbed": scrubbed, "service": self.service}
        )


def jsonable(value: Any) -> Any:
    """A document as JSON values: times as ISO text, ids and other values as text."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


Redrive = Callable[[RedriveDeadLetter], Awaitable[DeadLetterRedriven]]
"""Publishes a dead letter again (``careline_platform.deadletters.Redriver.redrive``)."""


def no_redrive(service: str) -> Redrive:
    """A service that cannot re-drive (the unit tests' default)."""

    async def refuse(_request: RedriveDeadLetter) -> DeadLetterRedriven:
        raise Refused("invalid", f"{service} re-drives no dead letters")

    return refuse


def common_operations(
    service: str,
    jobs: JobBook,
    rollups: RollupBook,
    caregiver: CaregiverSlice | None,
    clock: Clock,
    scrub: Scrub = no_streams,
    redrive: Redrive | None = None,
) -> list[AdminOperation[Any, Any]]:
    """The operations every service answers, in ``COMMON_OPERATIONS`` order."""
    job_ops = JobOperations(service, jobs, clock)
    rollup_ops = RollupOperations(service, rollups)
    slice_ops = CaregiverOperations(service, caregiver, scrub)
    return [
        AdminOperation(ops.JOBS_LIST, job_ops.list),
        AdminOperation(ops.JOBS_SHOW, job_ops.show),
        AdminOperation(ops.JOBS_RETRY, job_ops.retry, command=True),
        AdminOperation(ops.JOBS_RETRY_DEAD, job_ops.retry_dead, command=True),
        AdminOperation(ops.JOBS_PURGE, job_ops.purge, command=True),
        AdminOperation(ops.ROLLUPS, rollup_ops.list),
        AdminOperation(ops.ROLLUPS_REFRESH, rollup_ops.refresh, command=True),
        AdminOperation(ops.CAREGIVER_GET, slice_ops.get),
        AdminOperation(ops.CAREGIVER_ERASE, slice_ops.erase, command=True),
        AdminOperation(ops.DEADLETTER_REDRIVE, redrive or no_redrive(service)),
    ]
