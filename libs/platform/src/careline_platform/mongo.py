"""MongoDB access: one client per process, a transaction helper, and the inbox of processed ids.

Every consumer records the message ids it has handled in ``processed_messages`` (unique on
``_id``) inside the same transaction as its state change and outbox jobs, so a duplicate that
arrives after JetStream's de-duplication window changes nothing.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

PROCESSED_TTL_S = 30 * 24 * 3600
"""How long a handled message id is remembered: Stripe retries for three days; keep a month."""

Document = dict[str, Any]
TRANSIENT_RETRIES = 4
T = TypeVar("T")


class AlreadyProcessed(Exception):
    """This message id was handled before; the consumer acks it and does nothing else."""


def connect(uri: str, *, timeout_ms: int = 5000) -> AsyncMongoClient[Document]:
    """A client that fails fast when the server is away (readiness and retries handle it)."""
    return AsyncMongoClient(
        uri,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        tz_aware=True,
        uuidRepresentation="standard",
    )


async def ensure_inbox(db: AsyncDatabase[Document]) -> None:
    await db.processed_messages.create_index("at", expireAfterSeconds=PROCESSED_TTL_S)


class UnitOfWork:
    """Opens a transaction that also records the message id, exactly once."""

    def __init__(self, client: AsyncMongoClient[Document], db: AsyncDatabase[Document]) -> None:
        self.client = client
        self.db = db

    @asynccontextmanager
    async def transaction(self, msg_id: str | None, now: datetime) -> AsyncIterator[AsyncClientSession]:
        """Yield a session inside a transaction; raise AlreadyProcessed for a seen ``msg_id``.

        Everything written with the session commits together, or not at all.
        """
        async with self.client.start_session() as session, await session.start_transaction():
            if msg_id is not None:
                try:
                    await self.db.processed_messages.insert_one({"_id": msg_id, "at": now}, session=session)
                except DuplicateKeyError as exc:
                    raise AlreadyProcessed(msg_id) from exc
            yield session


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
