"""The labelled evaluation sets under ``evals/``: where they are and how a JSONL file is read.

Shared by the crisis, intent and language evaluations (``safety``, ``intents``, ``language``):
each keeps its own example model and report, and reads its files through here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def evals_dir(name: str) -> Path:
    """``evals/<name>`` of the repository this package is installed from (an editable install)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "evals" / name
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"evals/{name} not found above {here}")


def load(paths: Iterable[Path], example: Callable[[dict[str, Any], str], T]) -> list[T]:
    """Every non-blank line of the JSONL files as ``example(row, source)`` (``source``: the file's
    stem); a line that is not a valid example names its file and line."""
    examples: list[T] = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                examples.append(example(json.loads(line), path.stem))
            except (ValueError, TypeError, KeyError) as exc:
                raise ValueError(f"{path.name}:{number}: not a valid example ({exc})") from exc
    return examples
