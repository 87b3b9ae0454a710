"""Erasing a caregiver for good: a tombstone, their jobs, and their messages in the streams.

An erasure that only deletes documents does not last: a queued event upserts the slice back, a
backfill run re-creates the identity, a job owed before the erasure sends its text afterwards,
and the streams keep the caregiver's number and words for their whole retention. So each
service, when asked to erase (``admin.<service>.caregiver_erase``), in one transaction:

- writes a tombstone (``tombstones``, keyed by the user id; ingress's also holds the keyed hash
  of the phone number, never the number) that every consumer checks before its handler runs
  (:func:`admitted`): a late event about the caregiver is acknowledged and dropped;
- cancels (deletes) every job about the caregiver, whatever its status (:func:`caregiver_jobs`):
  a job in ``processing`` loses its lease with its document, so its next guarded write (the
  progress recorded before an SMS is sent, the relay's look before publishing) raises
  ``LeaseLost`` and its effect never happens; only the erasure's own jobs (cancelling the Stripe
  subscription) are kept;
- deletes its slice;

and then deletes from the streams it owns every message whose body names the caregiver (their
user id, phone number or another id of theirs), one by one by sequence number
(:func:`scrub_streams`): subjects are partitioned, not per caregiver, so a stream is read whole.
Message text is never matched on; every message that carries a caregiver's text also carries
their user id or number.

A number that texts again after its erasure gets a new identity (a new user id, no tombstone):
the tombstone by phone hash only stops a backfill from bringing the old caregiver back.

The check before a handler runs leaves a window: a handler that passed it just before the
erasure committed would write the caregiver back. So the transaction of a handler about one
caregiver also fences them (:func:`handling`): it writes their ``caregiver_fences`` document and
reads their tombstone inside the transaction, and the erasure writes the same fence. Whichever
commits second conflicts and is run again, and the run again sees the tombstone: the handler
raises :class:`CaregiverErased` and its event is dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import BaseModel
from pymongo.asynchronous.collection import AsyncCollection

from careline_contracts.jobs import JobPayload
from careline_platform.logging import get_logger

log = get_logger(__name__)
Document = dict[str, Any]
TOMBSTONES = "tombstones"
FENCES = "caregiver_fences"
"""One document per caregiver (the user id and a counter), written by each handler transaction
about them and by their erasure, so the two conflict instead of interleaving."""
_HANDLING: ContextVar[str | None] = ContextVar("careline_handling_caregiver", default=None)


class CaregiverErased(Exception):
    """The caregiver a handler's transaction is about was erased meanwhile: drop the event."""


@contextmanager
def handling(user_id: str | None) -> Iterator[None]:
    """Transactions begun inside are about ``user_id``: they fence the caregiver (see above)."""
    token = _HANDLING.set(user_id)
    try:
        yield
    finally:
        _HANDLING.reset(token)


def handled_caregiver() -> str | None:
    """The caregiver the running handler is about, if one."""
    return _HANDLING.get()


DEAD_LETTERS_SCRUBBER = "ingress"
"""The one service that deletes an erased caregiver's messages from DEAD_LETTERS (every service
writes there; each other stream is cleaned by its owner): ingress, which erases last and knows
every id the others reported."""
SCAN_CONCURRENCY = 32
"""Messages read at once while a stream is scanned (one ``STREAM.MSG.GET`` request each)."""
SCAN_BATCH = 1024
MIN_MARK = 6


# --- decisions (pure) --------------------------------------------------------------------------


def erasure_job_types() -> list[str]:
    """Job types that carry an erasure out (``SURVIVES_ERASURE``): never cancelled by one."""
    return sorted(
        t for t, model in JobPayload.registry().items() if getattr(model, "SURVIVES_ERASURE", False)
    )


def caregiver_jobs(user_id: str) -> Document:
    """The jobs about one caregiver, in every status: their payload names them, or they run in
    the caregiver's order (``actor``), events owed about them included (``events:<user>``)."""
    return {
        "$or": [{"payload.user_id": user_id}, {"actor": user_id}, {"actor": f"events:{user_id}"}],
        "type": {"$nin": erasure_job_types()},
    }


def caregivers_of(event: object) -> list[str]:
    """The caregivers an event is about: its ``user_id``, each of a batch's ``users``, or those
    it names itself (``caregivers()``: a Stripe event's user id is inside Stripe's object)."""
    named = getattr(event, "caregivers", None)
    if callable(named):
        return list(named())
    user = getattr(event, "user_id", None)
    if isinstance(user, str):
        return [user]
    batch = getattr(event, "users", None)
    if isinstance(batch, list):
        return [u.user_id for u in batch if isinstance(getattr(u, "user_id", None), str)]
    return []


def admitted(event: BaseModel, buried: set[str]) -> BaseModel | None:
    """What of ``event`` a handler may see once ``buried`` caregivers are erased.

    None for an event about an erased caregiver (it must not write anything about them); a batch
    (a backfill's ``users``) without the erased ones; any other event as it is.
    """
    if not buried:
        return event
    if set(caregivers_of(event)) & buried and getattr(event, "users", None) is None:
        return None
    user = getattr(event, "user_id", None)
    if isinstance(user, str):
        return None if user in buried else event
    batch = getattr(event, "users", None)
    if isinstance(batch, list):
        kept = [u for u in batch if getattr(u, "user_id", None) not in buried]
        return event.model_copy(update={"users": kept}) if len(kept) != len(batch) else event
    return event


def needles(user_id: str, *identifiers: str | None) -> tuple[str, ...]:
    """What marks a stream message as about the caregiver: the user id and their other ids; a
    phone number by its digits (so ``+14155550101`` is found however it is written)."""
    others = [ident.removeprefix("+") for ident in identifiers if ident]
    # a short mark would match unrelated messages: an id or a number has at least MIN_MARK chars
    return tuple(dict.fromkeys([user_id, *(o for o in others if len(o) >= MIN_MARK)]))


def mentions(data: bytes, marks: Sequence[str]) -> bool:
    """Whether a message body names any of ``marks``."""
    return any(mark.encode() in data for mark in marks)


# --- the tombstones --------------------------------------------------------------------------


def tombstone(user_id: str, now: datetime, phone_hash: str | None = None) -> Document:
    doc: Document = {"_id": user_id, "at": now}
    if phone_hash is not None:
        doc["phone_hash"] = phone_hash
    return doc


class Tombstones:
    """A service's ``tombstones``, read outside transactions (written by a unit of work's ``bury``)."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self.col = collection

    async def ensure_indexes(self) -> None:
        await self.col.create_index("phone_hash", sparse=True)
        await self.col.create_index("at")

    async def buried_among(self, user_ids: Iterable[str]) -> set[str]:
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return set()
        if len(ids) == 1:
            return set(ids) if await self.col.find_one({"_id": ids[0]}, {"_id": 1}) else set()
        return {d["_id"] async for d in self.col.find({"_id": {"$in": ids}}, {"_id": 1})}

    async def buried(self, user_id: str) -> bool:
        return bool(await self.buried_among([user_id]))

    async def buried_phones(self, hashes: Iterable[str]) -> set[str]:
        """Which of these phone hashes belong to an erased caregiver."""
        wanted = list(dict.fromkeys(hashes))
        if not wanted:
            return set()
        cursor = self.col.find({"phone_hash": {"$in": wanted}}, {"phone_hash": 1})
        return {d["phone_hash"] async for d in cursor}


# --- the streams -----------------------------------------------------------------------------


async def scrub_stream(js: JetStreamContext, stream: str, marks: Sequence[str]) -> int:
    """Delete every message of ``stream`` whose body names one of ``marks``; how many went.

    Reads by sequence number (``$JS.API.STREAM.INFO.<stream>``, ``$JS.API.STREAM.MSG.GET.<stream>``)
    and deletes one by one (``$JS.API.STREAM.MSG.DELETE.<stream>``, overwriting the message).
    """
    if not marks:
        return 0
    info = await js.stream_info(stream)
    first, last = info.state.first_seq, info.state.last_seq
    gate = asyncio.Semaphore(SCAN_CONCURRENCY)

    async def check(seq: int) -> bool:
        async with gate:
            try:
                msg = await js.get_msg(stream, seq)
            except NotFoundError:  # deleted already, or aged out
                return False
            if msg.data is None or not mentions(msg.data, marks):
                return False
            try:
                return bool(await js.delete_msg(stream, seq))
            except NotFoundError:
                return False

    deleted = 0
    for start in range(first or 1, last + 1, SCAN_BATCH):  # bounded memory on a long stream
        found = await asyncio.gather(*(check(seq) for seq in range(start, min(start + SCAN_BATCH, last + 1))))
        deleted += sum(found)
    return deleted


async def scrub_streams(js: JetStreamContext, streams: Iterable[str], marks: Sequence[str]) -> dict[str, int]:
    """:func:`scrub_stream` over each of ``streams``: messages deleted, by stream."""
    deleted = {name: await scrub_stream(js, name, marks) for name in streams}
    log.info("erasure.streams_scrubbed", deleted=sum(deleted.values()), streams=len(deleted))
    return deleted
