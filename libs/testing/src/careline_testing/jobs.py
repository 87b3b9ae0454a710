"""A service's jobs and rollups in memory, for unit tests of the admin operations.

``FakeJobBook`` keeps job documents as the jobs table does (``_id``, ``status``, ``attempts``,
``created_at``, ``completed_at``/``dead_at``, ``payload``...) and implements
``careline_platform.admin_operations.JobBook`` with the same rules: only failed or dead jobs are
retried, only completed or dead ones purged.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from careline_platform.jobs import new_job

Document = dict[str, Any]
FINISHED_AT = {"completed": "completed_at", "dead": "dead_at"}


class FakeJobBook:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.jobs: dict[str, Document] = {}

    def add(
        self, key: str, status: str = "pending", payload: Document | None = None, **fields: Any
    ) -> Document:
        """One job in ``status``; ``fields`` override the document (``created_at``, ``last_error``...)."""
        doc = new_job(
            key, fields.pop("type", "send_sms"), payload or {}, now=fields.pop("created_at", self.now)
        )
        doc.update(status=status, **fields)
        if status in FINISHED_AT:
            doc.setdefault(FINISHED_AT[status], doc["created_at"])
        self.jobs[key] = doc
        return doc

    async def find(self, key: str) -> Document | None:
        return copy.deepcopy(self.jobs.get(key))

    async def listed(self, statuses: Sequence[str], type_: str | None, limit: int) -> list[Document]:
        found = [d for d in self.jobs.values() if d["status"] in statuses and type_ in (None, d["type"])]
        return copy.deepcopy(sorted(found, key=lambda d: d["created_at"], reverse=True)[:limit])

    async def retry(self, key: str) -> bool:
        doc = self.jobs.get(key)
        if doc is None or doc["status"] not in ("failed", "dead"):
            return False
        doc.update(
            status="pending", attempts=0, lease=None, next_attempt_at=self.now, dead_letter_published=None
        )
        return True

    async def dead_keys(self, limit: int) -> list[str]:
        return [k for k, d in self.jobs.items() if d["status"] == "dead"][:limit]

    async def purge(
        self, statuses: Sequence[str], cutoff: datetime | None, *, dry_run: bool
    ) -> tuple[int, int]:
        def finished_before(doc: Document) -> bool:
            if cutoff is None:
                return True
            at = doc.get(FINISHED_AT[doc["status"]]) or doc["created_at"]
            return bool(at < cutoff)

        keys = [
            k
            for k, d in self.jobs.items()
            if d["status"] in statuses and d["status"] in FINISHED_AT and finished_before(d)
        ]
        if not dry_run:
            for key in keys:
                del self.jobs[key]
        return len(keys), 0 if dry_run else len(keys)


class FakeRollups:
    """``RollupBook`` in memory: ``rows`` newest first; ``refresh`` records today's day."""

    def __init__(self, now: datetime, *, keeps_rollups: bool = True) -> None:
        self.now, self.keeps_rollups = now, keeps_rollups
        self.rows: list[Document] = []

    async def recent(self, days: int) -> list[Document]:
        return copy.deepcopy(self.rows[:days])

    async def refresh(self) -> str | None:
        if not self.keeps_rollups:
            return None
        day = self.now.date().isoformat()
        self.rows = [
            {"_id": day, "day": self.now, "computed_at": self.now},
            *(r for r in self.rows if r["_id"] != day),
        ]
        return day
