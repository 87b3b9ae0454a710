"""``careline migrate backfill``: fan legacy ``users`` documents out through the services' events.

The tool never writes a service's database. It validates and normalises each legacy document,
submits batches to ingress as ``migration.users.submitted`` (``Nats-Msg-Id``
``backfill:<run>:<batch>``), and counts the confirmations each service publishes after writing
its slice (``user.imported`` from ingress, ``*.backfill.applied`` from the others).

Resuming: after JetStream acknowledged a batch, the checkpoint records the run id and how many
source records are behind it. ``--resume`` re-reads that prefix only to rebuild the counts and
the duplicate checks, publishes the rest under the same run id (a batch re-sent after a crash
carries its old id: the broker or the services' inboxes drop the copy) and then reads back every
confirmation of the run, including those that arrived before the crash.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from careline_cli.migrate.mapping import Rejected, to_legacy_user
from careline_cli.migrate.sources import Source
from careline_contracts import subjects
from careline_contracts.migration import LegacyUser, LegacyUsersSubmitted

SLICES = {
    "ingress": (subjects.USERS, subjects.USER_IMPORTED),
    "conversation": (subjects.CONVERSATION, subjects.CONVERSATION_BACKFILL_APPLIED),
    "billing": (subjects.BILLING, subjects.BILLING_BACKFILL_APPLIED),
    "profile": (subjects.PROFILE, subjects.PROFILE_BACKFILL_APPLIED),
}
COLLECTIONS = {
    "ingress": "users",
    "conversation": "conversation_state",
    "billing": "billing_accounts",
    "profile": "user_profiles",
}


@dataclass
class Tally:
    """What the source held: records read, valid users, and why the others were not written."""

    read: int = 0
    valid: int = 0
    invalid: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    coverage: Counter[str] = field(default_factory=Counter)
    seen_ids: set[str] = field(default_factory=set)
    seen_phones: set[str] = field(default_factory=set)

    def admit(self, record: Any) -> LegacyUser | None:
        """Count one record; the user to write, or None (invalid, skipped, duplicate)."""
        self.read += 1
        user = record if isinstance(record, Rejected) else to_legacy_user(record)
        if isinstance(user, LegacyUser):
            if user.legacy_id in self.seen_ids:
                user = Rejected("skipped", "duplicate legacy id")
            elif user.phone in self.seen_phones:
                user = Rejected("skipped", "phone number of an earlier legacy document")
        if isinstance(user, Rejected):
            (self.invalid if user.kind == "invalid" else self.skipped)[user.reason] += 1
            return None
        self.seen_ids.add(user.legacy_id)
        self.seen_phones.add(user.phone)
        self.valid += 1
        self._cover(user)
        return user

    def _cover(self, user: LegacyUser) -> None:
        """What each slice would receive, for the dry run's report."""
        p, c, b = user.profile, user.conversation, user.billing
        facts = {
            "ingress: with roles": bool(user.roles),
            "ingress: with email": bool(user.email),
            "profile: with first name": bool(p.first_name),
            "profile: with zip": bool(p.zip),
            "profile: with burnout score": p.burnout_score is not None,
            "profile: with assessment history": bool(p.assessments),
            "conversation: with recent messages": bool(c.recent_messages),
            "conversation: with summary": bool(c.summary),
            "conversation: opted out": c.opted_out,
            "billing: with Stripe customer": bool(b.stripe_customer_id),
            f"billing: status {b.status}": True,
        }
        self.coverage.update(k for k, v in facts.items() if v)


@dataclass
class Checkpoint:
    """Progress of one run, saved after every acknowledged batch (atomically: write, then rename)."""

    path: Path
    source: str
    run_id: str
    batch_size: int
    next_record: int = 0
    next_batch: int = 0
    published_all: bool = False

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {k: v for k, v in self.__dict__.items() if k != "path"}
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.path)

    @classmethod
    def load(cls, path: Path) -> Checkpoint:
        data = json.loads(path.read_text())
        return cls(path=path, **data)

    @classmethod
    def fresh(cls, path: Path, source: str, batch_size: int) -> Checkpoint:
        return cls(path, source, uuid.uuid4().hex[:16], batch_size)


@dataclass(frozen=True)
class Batch:
    number: int
    end_record: int
    users: list[LegacyUser]


async def batches(
    source: Source, tally: Tally, *, size: int, max_bytes: int, resume_at: int, first: int, timeout_s: float
) -> AsyncIterator[Batch]:
    """Batches of valid users in source order; records before ``resume_at`` are only counted.

    A batch closes at ``size`` users or ``max_bytes`` of payload, so its boundaries depend only
    on the source: a resumed run cuts the same batches.
    """
    number, users, weight, position = first, [], 0, 0
    async for record in source.records(timeout_s):
        position += 1
        user = tally.admit(record)
        if user is None or position <= resume_at:
            continue
        users.append(user)
        weight += len(user.model_dump_json())
        if len(users) >= size or weight >= max_bytes:
            yield Batch(number, position, users)
            number, users, weight = number + 1, [], 0
    if users:
        yield Batch(number, position, users)


class Confirmations:
    """Every service's confirmations of one run, read back from their streams (all of history)."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.by_service: dict[str, dict[int, dict[str, int]]] = {s: {} for s in SLICES}
        self.changed = asyncio.Event()

    async def start(self, js: Any) -> list[Any]:
        from nats.js.api import DeliverPolicy

        subs = []
        for service, (stream, base) in SLICES.items():
            subs.append(
                await js.subscribe(
                    subjects.partitioned(base, self.run_id),
                    stream=stream.name,
                    ordered_consumer=True,
                    deliver_policy=DeliverPolicy.ALL,
                    cb=self._receiver(service),
                )
            )
        return subs

    def _receiver(self, service: str) -> Any:
        async def receive(msg: Any) -> None:
            data = json.loads(msg.data)
            if data.get("run_id") == self.run_id:
                self.by_service[service].setdefault(int(data["batch"]), data["counts"])  # first copy counts
                self.changed.set()

        return receive

    def confirmed(self, service: str, total: int) -> int:
        return sum(1 for b in self.by_service[service] if b < total)

    def complete(self, total: int) -> bool:
        return all(self.confirmed(s, total) >= total for s in SLICES)

    def slice_report(self, total: int) -> dict[str, dict[str, int]]:
        report = {}
        for service, found in self.by_service.items():
            sums: Counter[str] = Counter()
            for batch, counts in found.items():
                if batch < total:
                    sums.update(counts)
            report[service] = {
                "created": sums["created"],
                "filled": sums["filled"],
                "unchanged": sums["unchanged"],
                "written": sums["created"] + sums["filled"],
                "confirmed_batches": self.confirmed(service, total),
            }
        return report


def submitted(run_id: str, batch: Batch) -> tuple[str, bytes, dict[str, str]]:
    """Subject, payload and headers of one batch; the message id names the batch of the run."""
    event = LegacyUsersSubmitted(
        occurred_at=datetime.now(UTC),
        correlation_id=f"backfill:{run_id}",
        run_id=run_id,
        batch=batch.number,
        users=batch.users,
    )
    headers = {"Nats-Msg-Id": f"backfill:{run_id}:{batch.number}", "Correlation-Id": event.correlation_id}
    return subjects.partitioned(event.subject, run_id), event.to_bytes(), headers


def report_of(
    tally: Tally, source: Source, *, run_id: str | None, batches_total: int, started: float, dry_run: bool
) -> dict[str, Any]:
    return {
        "source": source.label,
        "run_id": run_id,
        "dry_run": dry_run,
        "read": tally.read,
        "valid": tally.valid,
        "invalid": dict(tally.invalid.most_common()),
        "skipped": dict(tally.skipped.most_common()),
        "batches": batches_total,
        "seconds": round(time.monotonic() - started, 2),
    }
