"""Admin requests over NATS request/reply: how ingress's admin API reaches every service.

Services never share databases, so the admin API asks. Each service answers on
``admin.<service>.<operation>`` (a queue group, so one replica answers): list and retry its
failed or dead jobs, read or recompute its rollups, read or erase one caregiver's slice, any
read-only queries of its own (conversation's crisis alerts, say) and commands (acknowledging an
alert): a command is one transaction, re-run when it hits a write conflict with a concurrent
job, so the person waiting gets an answer rather than an error. Replies are JSON; job errors are
masked before they leave, as in the logs.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from pymongo.asynchronous.database import AsyncDatabase

from careline_platform.clock import Clock
from careline_platform.jobs import JobStore
from careline_platform.logging import get_logger, mask_text
from careline_platform.mongo import rerun_on_conflict
from careline_platform.rollups import Metrics, write_rollup

log = get_logger(__name__)
Document = dict[str, Any]
ADMIN_PREFIX = "admin"
OPERATIONS = ("jobs_list", "jobs_retry", "rollups", "rollups_refresh", "caregiver_get", "caregiver_erase")
SliceHook = Callable[[str], Awaitable[Document]]
Query = Callable[[Document], Awaitable[Document]]


def admin_subject(service: str, operation: str) -> str:
    return f"{ADMIN_PREFIX}.{service}.{operation}"


@dataclass(frozen=True)
class CaregiverSlice:
    """How a service shows and erases its part of one caregiver's record."""

    read: SliceHook
    erase: SliceHook


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


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
    ) -> None:
        self.service = service
        self.db = db
        self.jobs = jobs
        self.caregiver = caregiver
        self.clock = clock
        self.rollup = rollup
        self.queries = dict(queries or {})
        self.commands = dict(commands or {})
        clash = (set(self.queries) | set(self.commands)) & set(OPERATIONS)
        clash |= set(self.queries) & set(self.commands)
        if clash:
            raise ValueError(f"queries and commands may not share names: {sorted(clash)}")

    async def start(self, nc: NatsClient) -> None:
        await nc.subscribe(
            f"{ADMIN_PREFIX}.{self.service}.*", queue=f"admin-{self.service}", cb=self._on_request
        )

    async def _on_request(self, msg: Msg) -> None:
        operation = msg.subject.rsplit(".", 1)[-1]
        try:
            request = json.loads(msg.data or b"{}")
            reply = await self.handle(operation, request if isinstance(request, dict) else {})
            data = json.dumps(_jsonable(reply))  # a value JSON cannot carry is an error too
        except Exception as exc:  # an admin request must get an answer, never a hang
            log.error("admin.failed", operation=operation, error=type(exc).__name__)
            data = json.dumps({"error": f"{type(exc).__name__}"})
        await msg.respond(data.encode())

    async def handle(self, operation: str, request: Document) -> Document:
        if operation == "jobs_list":
            statuses = [s for s in request.get("statuses", ["failed", "dead"]) if isinstance(s, str)]
            limit = min(int(request.get("limit", 100)), 500)
            found: list[Document] = []
            for status in statuses:  # one equality query per status: the status index
                found += await self.jobs.col.find({"status": status}).limit(limit).to_list()
            return {"service": self.service, "jobs": [job_summary(d) for d in found[:limit]]}
        if operation == "jobs_retry":
            return {"service": self.service, "retried": await self.jobs.retry(str(request["key"]))}
        if operation == "rollups":
            days = min(int(request.get("days", 7)), 90)
            rows = await self.db.rollups.find({}).sort("_id", -1).limit(days).to_list()
            return {"service": self.service, "rollups": rows}
        if operation == "rollups_refresh" and self.rollup is not None and self.clock is not None:
            now = self.clock.now()
            return {
                "service": self.service,
                "day": await write_rollup(self.db, self.service, self.rollup, now, now),
            }
        if operation in ("caregiver_get", "caregiver_erase") and self.caregiver is not None:
            hook = self.caregiver.read if operation == "caregiver_get" else self.caregiver.erase
            return {"service": self.service, **(await hook(str(request["user_id"])))}
        if operation in self.queries:
            return {"service": self.service, **(await self.queries[operation](request))}
        if operation in self.commands:
            command = self.commands[operation]
            return {"service": self.service, **(await rerun_on_conflict(lambda: command(request)))}
        return {"error": f"unknown operation {operation}"}
