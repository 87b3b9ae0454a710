"""``careline_platform.backfill.write_slices`` over a dict, for repository fakes in unit tests."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from careline_contracts.migration import SliceCounts
from careline_platform.backfill import gap_fill

Document = dict[str, Any]


def fill_slices(
    store: dict[str, Document],
    slices: Sequence[Document],
    *,
    fill_stamp: Document | None = None,
    fillable: frozenset[str] | None = None,
    placeholder: frozenset[str] = frozenset(),
) -> tuple[SliceCounts, list[Document]]:
    """Create missing slices, fill the gaps of live ones; the same rules and counts as the real one."""
    created: list[Document] = []
    filled = unchanged = 0
    for doc in slices:
        candidates = doc if fillable is None else {k: v for k, v in doc.items() if k in fillable}
        existing = store.get(doc["_id"])
        if existing is None:
            store[doc["_id"]] = copy.deepcopy(doc)
            created.append(doc)
        elif set(existing) <= {"_id", *placeholder}:
            existing.update(gap_fill(existing, doc))
            created.append(doc)
        elif gaps := gap_fill(existing, candidates):
            existing.update(gaps, **(fill_stamp or {}))
            filled += 1
        else:
            unchanged += 1
    return SliceCounts(created=len(created), filled=filled, unchanged=unchanged), created
