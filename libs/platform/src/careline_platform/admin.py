"""Admin requests over NATS request/reply: how ingress's admin API reaches every service.

Services never share databases, so the admin API asks. Each service answers on
``admin.<service>.<operation>`` (a queue group, so one replica answers), each operation a
FastStream subscriber with a typed request and reply from ``careline_contracts.admin``: list
and retry its failed or dead jobs, read or recompute its rollups, read or erase one caregiver's
slice, and operations of its own (conversation's crisis alerts, say). A command (an operation
that changes data) is one transaction, re-run when it hits a write conflict with a concurrent
job, so the person waiting gets an answer rather than an error. A request that fails gets an
``AdminError`` naming only the error's type; job errors are masked before they leave, as in the
logs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from faststream import BaseMiddleware
from faststream.nats import NatsRouter
from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase

from careline_contracts import admin as ops
from careline_contracts.admin import (
    AdminError,
    AdminReply,
    AdminRequest,
    CaregiverErased,
    CaregiverRecord,
    EraseCaregiver,
    GetCaregiver,
    JobList,
    JobRetried,
    JobSummary,
    ListJobs,
    ListRollups,
    RefreshRollup,
    RetryJob,
    RollupList,
    RollupRefreshed,
    admin_subject,
)
from careline_platform.clock import Clock
from careline_platform.jobs import JobStore
from careline_platform.logging import get_logger, mask_text
from careline_platform.mongo import rerun_on_conflict
from careline_platform.rollups import Metrics, write_rollup

__all__ = ["OPERATIONS", "AdminOperation", "AdminResponder", "CaregiverSlice", "admin_subject", "job_summary"]

log = get_logger(__name__)
Document = dict[str, Any]
OPERATIONS = ops.COMMON_OPERATIONS
SliceHook = Callable[[str], Awaitable[Document]]
Query = Callable[[Document], Awaitable[Document]]


@dataclass(frozen=True)
class CaregiverSlice:
    """How a service shows and erases its part of one caregiver's record."""

    read: SliceHook
    erase: SliceHook


@dataclass(frozen=True)
class AdminOperation:
    """One typed admin operation of a service's own: its name, request model and handler.

    ``handler`` takes the validated request and returns a reply model (``Rejected`` when it
    refuses); ``command`` marks one that writes, re-run on a write conflict.
    """

    name: str
    request: type[AdminRequest]
    handler: Callable[[Any], Awaitable[AdminReply]]
    command: bool = False


def job_summary(doc: Document) -> Document:
    """What an admin sees of a job: never its payload (phone numbers, message text)."""
    return {
        "key": doc["_id"],
        "type": doc.get("type"),
        "status": doc.get("status"),
        "attempts": doc.get("attempts", 0),
        "last_error": mask_text(str(doc["last_error"])) if doc.get("last_error") else None,
        "next_attempt_at": doc.get("next_attempt_at"),
        "created_at": doc.get("created_at"),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class AnswerErrors(BaseMiddleware):
    """An admin request always gets an answer, never a hang: a failure becomes ``AdminError``.

    That covers a request that does not validate, too: FastStream raises before the operation.
    """

    async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: Any) -> Any:
        try:
            return await call_next(msg)
        except Exception as exc:
            log.error("admin.failed", subject=msg.raw_message.subject, error=type(exc).__name__)
            return AdminError(error=type(exc).__name__)


class AdminResponder:
    """Answers one service's admin requests."""

    def __init__(
        self,
        service: str,
        db: AsyncDatabase[Document],
        jobs: JobStore,
        caregiver: CaregiverSlice | None,
        *,
        clock: Clock | None = None,
        rollup: Metrics | None = None,
        queries: Mapping[str, Query] | None = None,
        commands: Mapping[str, Query] | None = None,
        operations: Sequence[AdminOperation] = (),
    ) -> None:
        self.service = service
        self.db = db
        self.jobs = jobs
        self.caregiver = caregiver
        self.clock = clock
        self.rollup = rollup
        self.queries = dict(queries or {})
        """Untyped operations (a JSON object in and out), accepted until every service is typed."""
        self.commands = dict(commands or {})
        self.operations = list(operations)
        names = [*self.queries, *self.commands, *(op.name for op in self.operations)]
        clash = {n for n in names if names.count(n) > 1} | (set(names) & set(OPERATIONS))
        if clash:
            raise ValueError(f"queries and commands may not share names: {sorted(clash)}")

    def router(self) -> NatsRouter:
        """The FastStream subscribers of every operation, one queue group per service."""
        router = NatsRouter(middlewares=[AnswerErrors])
        queue = f"admin-{self.service}"
        common: list[tuple[str, Callable[..., Awaitable[Any]]]] = [
            (ops.JOBS_LIST, self.jobs_list),
            (ops.JOBS_RETRY, self.jobs_retry),
            (ops.ROLLUPS, self.rollups),
            (ops.ROLLUPS_REFRESH, self.rollups_refresh),
            (ops.CAREGIVER_GET, self.caregiver_get),
            (ops.CAREGIVER_ERASE, self.caregiver_erase),
        ]
        common += [(op.name, self._typed(op)) for op in self.operations]
        common += [(name, self._untyped(name)) for name in (*self.queries, *self.commands)]
        for name, answer in common:
            router.subscriber(admin_subject(self.service, name), queue=queue, title=f"{self.service}.{name}")(
                answer
            )
        return router

    async def jobs_list(self, request: ListJobs) -> JobList:
        found: list[Document] = []
        for status in request.statuses:  # one equality query per status: the status index
            found += await self.jobs.col.find({"status": status}).limit(request.limit).to_list()
        jobs = [JobSummary.model_validate(job_summary(d)) for d in found[: request.limit]]
        return JobList(service=self.service, jobs=jobs)

    async def jobs_retry(self, request: RetryJob) -> JobRetried:
        return JobRetried(service=self.service, retried=await self.jobs.retry(request.key))

    async def rollups(self, request: ListRollups) -> RollupList:
        rows = await self.db.rollups.find({}).sort("_id", -1).limit(request.days).to_list()
        return RollupList(service=self.service, rollups=_jsonable(rows))

    async def rollups_refresh(self, _request: RefreshRollup) -> RollupRefreshed | AdminError:
        if self.rollup is None or self.clock is None:
            return AdminError(error="no rollups in this service")
        now = self.clock.now()
        day = await write_rollup(self.db, self.service, self.rollup, now, now)
        return RollupRefreshed(service=self.service, day=_jsonable(day))

    async def caregiver_get(self, request: GetCaregiver) -> CaregiverRecord | AdminError:
        if self.caregiver is None:
            return AdminError(error="no caregiver data in this service")
        found = _jsonable(await self.caregiver.read(request.user_id))
        return CaregiverRecord.model_validate({**found, "service": self.service})

    async def caregiver_erase(self, request: EraseCaregiver) -> CaregiverErased | AdminError:
        if self.caregiver is None:
            return AdminError(error="no caregiver data in this service")
        done = await self.caregiver.erase(request.user_id)
        return CaregiverErased.model_validate({**done, "service": self.service})

    def _typed(self, op: AdminOperation) -> Callable[..., Awaitable[Any]]:
        async def answer(request: BaseModel) -> BaseModel:
            if op.command:
                return await rerun_on_conflict(lambda: op.handler(request))
            return await op.handler(request)

        answer.__annotations__ = {**answer.__annotations__, "request": op.request}
        answer.__name__ = answer.__qualname__ = op.name
        return answer

    def _untyped(self, name: str) -> Callable[..., Awaitable[Any]]:
        async def answer(request: dict[str, Any]) -> dict[str, Any]:
            return _jsonable(await self.handle(name, request))  # type: ignore[no-any-return]

        answer.__name__ = answer.__qualname__ = name
        return answer

    async def handle(self, operation: str, request: Document) -> Document:
        """Run one untyped query or command: ``{"service": ..., **its reply}``."""
        if operation in self.queries:
            return {"service": self.service, **(await self.queries[operation](request))}
        if operation in self.commands:
            command = self.commands[operation]
            return {"service": self.service, **(await rerun_on_conflict(lambda: command(request)))}
        return {"error": f"unknown operation {operation}"}
