"""The unit of work: one transaction per message or job, and the outbox it owns.

A handler writes::

    async with uow.begin(delivery) as tx:
        profile = await tx.repo.get_or_create(user, tx.now)
        await tx.repo.set_fields(user, {...}, tx.now)
        await tx.emit(event, key=user, msg_id=f"fact:{sid}")
        await tx.schedule(SendSmsJob(...), key=f"sms:reply:{sid}", actor=user)

Everything the block writes commits together, or not at all: the state change, the record
that ``delivery``'s message id was handled (a redelivered copy raises ``AlreadyProcessed``
before the block runs), the events owed (``outbox.publish`` jobs) and the jobs scheduled.
When the commit succeeded and anything was owed, the job worker is woken, so no handler can
forget to and no effect waits a poll interval.

Repositories never see a session. They are built on a ``WriteDb`` (inside a transaction) or a
``ReadDb`` (a read-only view, outside one), whose collections carry the session themselves.
``ReadDb``'s collections have no write methods, so a reader that writes is a type error, not a
bug found in production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.command_cursor import AsyncCommandCursor
from pymongo.asynchronous.cursor import AsyncCursor
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from pymongo.results import DeleteResult, InsertManyResult, InsertOneResult, UpdateResult

from careline_contracts import subjects
from careline_contracts.base import Event
from careline_contracts.jobs import JobPayload
from careline_platform.clock import Clock
from careline_platform.erasure import (
    FENCES,
    TOMBSTONES,
    CaregiverErased,
    caregiver_jobs,
    handled_caregiver,
    tombstone,
)
from careline_platform.jobs import JobStore, new_job
from careline_platform.mongo import AlreadyProcessed
from careline_platform.outbox import outbox_job

Document = dict[str, Any]
W_co = TypeVar("W_co", covariant=True)
R_co = TypeVar("R_co", covariant=True)


class ReadCollection:
    """One collection, for reading only; inside a transaction its reads see the transaction."""

    def __init__(self, collection: AsyncCollection[Document], session: AsyncClientSession | None) -> None:
        self.collection = collection
        self.session = session

    async def find_one(self, filter: Document, *args: Any, **kwargs: Any) -> Document | None:
        return await self.collection.find_one(filter, *args, session=self.session, **kwargs)

    def find(self, filter: Document | None = None, *args: Any, **kwargs: Any) -> AsyncCursor[Document]:
        return self.collection.find(filter or {}, *args, session=self.session, **kwargs)

    async def count_documents(self, filter: Document, **kwargs: Any) -> int:
        return await self.collection.count_documents(filter, session=self.session, **kwargs)

    async def aggregate(self, pipeline: Sequence[Document], **kwargs: Any) -> AsyncCommandCursor[Document]:
        return await self.collection.aggregate(list(pipeline), session=self.session, **kwargs)

    async def distinct(self, key: str, filter: Document | None = None) -> list[Any]:
        return await self.collection.distinct(key, filter, session=self.session)


class WriteCollection(ReadCollection):
    """One collection inside a transaction: reads and writes carry its session."""

    async def insert_one(self, document: Document) -> InsertOneResult:
        return await self.collection.insert_one(document, session=self.session)

    async def insert_many(self, documents: Sequence[Document], **kwargs: Any) -> InsertManyResult:
        return await self.collection.insert_many(list(documents), session=self.session, **kwargs)

    async def update_one(self, filter: Document, update: Any, **kwargs: Any) -> UpdateResult:
        return await self.collection.update_one(filter, update, session=self.session, **kwargs)

    async def update_many(self, filter: Document, update: Any, **kwargs: Any) -> UpdateResult:
        return await self.collection.update_many(filter, update, session=self.session, **kwargs)

    async def replace_one(self, filter: Document, document: Document, **kwargs: Any) -> UpdateResult:
        return await self.collection.replace_one(filter, document, session=self.session, **kwargs)

    async def find_one_and_update(
        self,
        filter: Document,
        update: Document,
        *,
        upsert: bool = False,
        return_document: bool = ReturnDocument.BEFORE,
    ) -> Document | None:
        """The document matching ``filter``, as it was before (or after) ``update``; None if none.

        Inside a transaction this is a read and then a write by ``_id``, not one
        ``findAndModify``: the transaction makes the pair atomic (its snapshot, and a write
        conflict if anyone changed the document since), and both are served by the ``_id``
        index on every MongoDB-wire server. The local server answers every ``findAndModify`` on
        an existing document with a scan of the whole collection (it re-asserts the query under
        ``$and``, which no index serves): 0.7 s a call at 100k caregivers, and each inbound
        text made one, so `make bench-scale` had no capacity at all at 100k. It costs one round
        trip more. Outside a transaction it stays one atomic command.
        """
        if self.session is None or not self.session.in_transaction:
            return await self.collection.find_one_and_update(
                filter, update, session=self.session, upsert=upsert, return_document=return_document
            )
        before = await self.find_one(filter)
        if before is None:
            if not upsert:
                return None
            made = await self.update_one(filter, update, upsert=True)
            if return_document == ReturnDocument.BEFORE:
                return None
            return await self.find_one({"_id": made.upserted_id})
        await self.update_one({"_id": before["_id"]}, update)
        if return_document == ReturnDocument.BEFORE:
            return before
        return await self.find_one({"_id": before["_id"]})

    async def delete_one(self, filter: Document) -> DeleteResult:
        return await self.collection.delete_one(filter, session=self.session)

    async def delete_many(self, filter: Document) -> DeleteResult:
        return await self.collection.delete_many(filter, session=self.session)


class ReadDb:
    """A service's database, read-only: ``db["user_profiles"]`` has reads and nothing else."""

    def __init__(self, db: AsyncDatabase[Document], session: AsyncClientSession | None = None) -> None:
        self.db = db
        self.session = session

    def __getitem__(self, name: str) -> ReadCollection:
        return ReadCollection(self.db[name], self.session)


class WriteDb(ReadDb):
    """A service's database inside one transaction: every collection carries the session."""

    def __init__(self, db: AsyncDatabase[Document], session: AsyncClientSession | None) -> None:
        super().__init__(db, session)

    def __getitem__(self, name: str) -> WriteCollection:
        return WriteCollection(self.db[name], self.session)


class Tx(Protocol[W_co]):
    """What a handler holds inside ``uow.begin``: its repositories, the time, and the outbox."""

    @property
    def repo(self) -> W_co: ...

    @property
    def now(self) -> datetime: ...

    async def emit(self, event: Event, *, key: str, msg_id: str) -> None:
        """Owe ``event`` about ``key`` (a caregiver): it is published after the commit, once,
        under ``msg_id``, which must name the fact (``fact:<sid>:zip``), not the attempt."""

    async def schedule(
        self,
        job: JobPayload,
        *,
        key: str,
        run_at: datetime | None = None,
        actor: str | None = None,
        max_attempts: int | None = None,
    ) -> bool:
        """Owe a job of ``job``'s registered type under the idempotency ``key``; False when a
        job with that key is already owed (the effect is owed once). ``actor`` orders it behind
        that actor's earlier jobs; ``run_at`` delays it."""

    async def cancel_caregiver_jobs(self, user_id: str) -> int:
        """Cancel (delete) every job about ``user_id``, whatever its status, the erasure's own
        excepted (``careline_platform.erasure``); how many."""

    async def bury(self, user_id: str, *, phone_hash: str | None = None) -> None:
        """Write the caregiver's tombstone: from the commit on, no event about them is handled."""


class UnitOfWorkApi(Protocol[W_co, R_co]):
    """The unit of work as handlers see it; the real one and ``careline_testing``'s fake."""

    def begin(self, delivery: HasMsgId | str | None = None) -> AbstractAsyncContextManager[Tx[W_co]]:
        """``async with uow.begin(delivery) as tx``: one transaction."""

    def read(self) -> R_co:
        """Read-only repositories, outside any transaction."""

    def single(self) -> W_co:
        """Repositories outside any transaction, for one single-document write that needs no
        outbox (a single-document update is atomic on its own); nothing can be emitted or
        scheduled. Unlike a transaction, it never aborts on a concurrent writer of the same
        document: the writes are applied one after the other."""

    @property
    def now(self) -> datetime: ...


class HasMsgId(Protocol):
    @property
    def msg_id(self) -> str: ...


def delivery_id(delivery: HasMsgId | str | None) -> str | None:
    if delivery is None or isinstance(delivery, str):
        return delivery
    return delivery.msg_id


class Transaction(Generic[W_co]):
    """One open transaction: its repositories, its clock reading, and what it owes."""

    def __init__(
        self,
        repo: W_co,
        now: datetime,
        session: AsyncClientSession,
        jobs: JobStore,
        stream: subjects.Stream,
        tombstones: AsyncCollection[Document],
    ) -> None:
        self._tombstones = tombstones
        self._repo = repo
        self._now = now
        self._session = session
        self._jobs = jobs
        self._stream = stream
        self.owed = 0

    @property
    def repo(self) -> W_co:
        return self._repo

    @property
    def now(self) -> datetime:
        return self._now

    async def emit(self, event: Event, *, key: str, msg_id: str) -> None:
        job = outbox_job(event, msg_id=msg_id, key=key, stream=self._stream, now=self._now)
        if await self._jobs.enqueue(job, session=self._session):
            self.owed += 1

    async def schedule(
        self,
        job: JobPayload,
        *,
        key: str,
        run_at: datetime | None = None,
        actor: str | None = None,
        max_attempts: int | None = None,
    ) -> bool:
        doc = new_job(
            key,
            job.job_type(),
            job.to_payload(),
            now=self._now,
            actor=actor,
            run_at=run_at,
            max_attempts=max_attempts,
        )
        added = await self._jobs.enqueue(doc, session=self._session)
        self.owed += int(added)
        return added

    async def cancel_caregiver_jobs(self, user_id: str) -> int:
        return await self._jobs.cancel(caregiver_jobs(user_id), session=self._session)

    async def bury(self, user_id: str, *, phone_hash: str | None = None) -> None:
        doc = tombstone(user_id, self._now, phone_hash)
        await self._tombstones.replace_one({"_id": user_id}, doc, upsert=True, session=self._session)
        await fence(self._tombstones.database, user_id, self._session)


async def fence(db: AsyncDatabase[Document], user_id: str, session: AsyncClientSession) -> None:
    """Write the caregiver's fence in this transaction (``careline_platform.erasure``)."""
    await db[FENCES].update_one({"_id": user_id}, {"$inc": {"writes": 1}}, upsert=True, session=session)


class UnitOfWork(Generic[W_co, R_co]):
    """Opens transactions over a service's database, its repositories bound to each.

    ``writer`` builds the service's repositories on a ``WriteDb``; ``reader`` builds its
    read-only ones on a ``ReadDb``. ``stream`` is where the service's events go. ``wake`` is
    called after a commit that owed anything (the runtime sets it to its job worker's wake).
    """

    def __init__(
        self,
        client: AsyncMongoClient[Document],
        db: AsyncDatabase[Document],
        *,
        jobs: JobStore,
        clock: Clock,
        stream: subjects.Stream,
        writer: Callable[[WriteDb], W_co],
        reader: Callable[[ReadDb], R_co],
    ) -> None:
        self.client = client
        self.db = db
        self.jobs = jobs
        self.clock = clock
        self.stream = stream
        self.writer = writer
        self.reader = reader
        self.wake: Callable[[], None] = lambda: None

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def read(self) -> R_co:
        return self.reader(ReadDb(self.db))

    def single(self) -> W_co:
        return self.writer(WriteDb(self.db, None))

    @asynccontextmanager
    async def begin(self, delivery: HasMsgId | str | None = None) -> AsyncIterator[Transaction[W_co]]:
        """One transaction; raises ``AlreadyProcessed`` for a message id handled before."""
        now = self.clock.now()
        msg_id = delivery_id(delivery)
        async with self.client.start_session() as session:
            async with await session.start_transaction():
                if msg_id is not None:
                    try:
                        seen = {"_id": msg_id, "at": now}
                        await self.db.processed_messages.insert_one(seen, session=session)
                    except DuplicateKeyError as exc:
                        raise AlreadyProcessed(msg_id) from exc
                about = handled_caregiver()
                if about is not None:  # an erasure committing meanwhile conflicts with this
                    await fence(self.db, about, session)
                    if await self.db[TOMBSTONES].find_one({"_id": about}, {"_id": 1}, session=session):
                        raise CaregiverErased(about)
                tx = Transaction(
                    self.writer(WriteDb(self.db, session)),
                    now,
                    session,
                    self.jobs,
                    self.stream,
                    self.db[TOMBSTONES],
                )
                yield tx
            # the transaction committed (an exception would have left the block above)
            if tx.owed:
                self.wake()
