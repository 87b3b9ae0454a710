"""MongoDB access: one client per process, the inbox of processed ids, and re-running on conflicts.

Every consumer records the message ids it has handled in ``processed_messages`` (unique on
``_id``) inside the same transaction as its state change and outbox jobs, so a duplicate that
arrives after JetStream's de-duplication window changes nothing.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from careline_platform import metrics

PROCESSED_TTL_S = 30 * 24 * 3600
"""How long a handled message id is remembered: Stripe retries for three days; keep a month."""

Document = dict[str, Any]
TRANSIENT_RETRIES = 4
T = TypeVar("T")


class AlreadyProcessed(Exception):
    """This message id was handled before; the consumer acks it and does nothing else."""


class CommandCounter(monitoring.CommandListener):
    """Counts every command the driver sends (``careline_db_commands_total``): one round trip
    each, so ``make bench-scale`` can say how many an inbound text costs. PyMongo's command
    monitoring publishes the application's commands, not its own heartbeats or handshakes."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        metrics.DB_COMMANDS.labels(command=event.command_name).inc()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def connect(uri: str, *, timeout_ms: int = 5000) -> AsyncMongoClient[Document]:
    """A client that fails fast when the server is away (readiness and retries handle it)."""
    return AsyncMongoClient(
        uri,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        tz_aware=True,
        uuidRepresentation="standard",
        event_listeners=[CommandCounter()],
    )


async def ensure_inbox(db: AsyncDatabase[Document]) -> None:
    await db.processed_messages.create_index("at", expireAfterSeconds=PROCESSED_TTL_S)


async def rerun_on_conflict(work: Callable[[], Awaitable[T]], retries: int = TRANSIENT_RETRIES) -> T:
    """Run ``work`` (one transaction), re-running it when the transaction hit a write conflict.

    For callers that answer someone waiting (an admin request), where a conflict with a
    concurrent job should cost a short pause, not an error. A short random pause lets the
    competing transaction finish; a conflict that persists is raised.
    """
    for attempt in range(retries + 1):
        try:
            return await work()
        except PyMongoError as exc:
            if attempt == retries or not exc.has_error_label("TransientTransactionError"):
                raise
            await asyncio.sleep(random.uniform(0.02, 0.1) * (attempt + 1))
    raise AssertionError("unreachable")
