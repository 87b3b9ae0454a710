"""Waiting out work in flight at shutdown, shared by the consumers and the job worker."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


async def finish_or_cancel(tasks: Iterable[asyncio.Task[None]], grace_s: float | None) -> tuple[int, int]:
    """Wait up to ``grace_s`` (None: no limit) for ``tasks``; cancel those still running.

    A cancelled task hands its work back itself (a consumer naks, a job is released).
    Returns (finished, cancelled).
    """
    running = set(tasks)
    if not running:
        return 0, 0
    _done, late = await asyncio.wait(running, timeout=grace_s)
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    return len(running) - len(late), len(late)
