"""Writing one service's slice of a legacy backfill batch: live data wins, gaps are filled.

A caregiver who already has a slice (they texted the new line, or an earlier run wrote it)
keeps every value it holds; the legacy document only fills what is missing (absent, null,
empty). A slice that does not exist is created whole. Running the same batch again therefore
changes nothing, whatever the order it arrives in relative to live events.

A batch is written with a few bulk operations (one read of the batch's ids, one insert of the
new slices), not one round trip per caregiver: a 10,000-caregiver backfill stays in minutes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from careline_contracts.migration import (
    BillingBackfillApplied,
    ConversationBackfillApplied,
    ProfileBackfillApplied,
    SliceCounts,
)
from careline_platform.uow import WriteCollection

Document = dict[str, Any]
EMPTY: tuple[Any, ...] = (None, "", [], {})


def _empty(value: Any) -> bool:
    return any(value is e or (type(value) is type(e) and value == e) for e in EMPTY)


def gap_fill(existing: Document, incoming: Document) -> Document:
    """The fields of ``incoming`` that ``existing`` lacks; never one it holds a value for."""
    return {
        key: value
        for key, value in incoming.items()
        if key != "_id" and not _empty(value) and _empty(existing.get(key))
    }


async def write_slices(
    collection: WriteCollection,
    slices: Sequence[Document],
    *,
    fill_stamp: Document | None = None,
    fillable: frozenset[str] | None = None,
    placeholder: frozenset[str] = frozenset(),
) -> tuple[SliceCounts, list[Document]]:
    """Create missing slices and fill gaps in live ones, inside the caller's transaction.

    Returns the counts and the slices this call created (the caller may owe follow-up work for
    those). ``fillable`` limits which fields may fill a live slice's gaps (all when None); an
    existing document holding only ``placeholder`` fields (a projection written ahead of the
    slice) is no slice yet: it is completed and counted as created.
    """
    ids = [doc["_id"] for doc in slices]
    found = {d["_id"]: d for d in await collection.find({"_id": {"$in": ids}}).to_list()}
    new = [doc for doc in slices if doc["_id"] not in found]
    if new:
        await collection.insert_many(new)
    created, filled, unchanged = list(new), 0, 0
    for doc in slices:
        existing = found.get(doc["_id"])
        if existing is None:
            continue
        if set(existing) <= {"_id", *placeholder}:
            await collection.update_one({"_id": doc["_id"]}, {"$set": gap_fill(existing, doc)})
            created.append(doc)
            continue
        candidates = doc if fillable is None else {k: v for k, v in doc.items() if k in fillable}
        gaps = gap_fill(existing, candidates)
        if not gaps:
            unchanged += 1
            continue
        await collection.update_one({"_id": doc["_id"]}, {"$set": {**gaps, **(fill_stamp or {})}})
        filled += 1
    return SliceCounts(created=len(created), filled=filled, unchanged=unchanged), created


def confirmation_id(
    service: str, applied: ConversationBackfillApplied | BillingBackfillApplied | ProfileBackfillApplied
) -> str:
    """The id of the event confirming what ``service`` did with one batch: a redelivered batch
    confirms once. Owe it with ``tx.emit(applied, key=applied.run_id, msg_id=...)``."""
    return f"backfill-applied:{service}:{applied.run_id}:{applied.batch}"
