"""Which texts are most like a message: cosine similarity of embeddings, or, without them, a
lexical score (BM25 over the words the texts share). Pure; the vectors come from jobs.

Used for two things in the reply job (``careline_conversation.remembering``): the caregiver's
past messages worth recalling for this one, and the catalogue entries that may fit it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Generic, TypeVar

from careline_conversation.safety.normalise import base

T = TypeVar("T")
K1, B = 1.2, 0.75
MIN_COSINE = 0.2
"""A floor against noise: an entry less similar than this is not offered, however few fit.
A starting value, not a measured one; tune it on real messages."""
RELATIVE = 0.5
_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS_FILE = ("data", "stopwords.txt")


@cache
def stopwords() -> frozenset[str]:
    """The packaged stopwords (English and Spanish), read once per process."""
    text = files("careline_conversation.memory").joinpath(*STOPWORDS_FILE).read_text(encoding="utf-8")
    lines = (line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return frozenset(word for line in lines for word in line.split())


@dataclass(frozen=True)
class Scored(Generic[T]):
    item: T
    score: float


def words(text: str) -> list[str]:
    """The content words of a text: lower case, accents folded, stopwords and 1-2 letter words out."""
    return [w for w in _WORD.findall(base(text)) if len(w) > 2 and w not in stopwords()]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity; 0 for vectors of different length or zero length."""
    if len(a) != len(b) or not a:
        return 0.0
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def by_embedding(
    query: Sequence[float], items: Sequence[tuple[T, Sequence[float]]], k: int, minimum: float = MIN_COSINE
) -> list[Scored[T]]:
    """The ``k`` items whose vectors are closest to ``query`` (at least ``minimum``), best first."""
    scored = [Scored(item, cosine(query, vector)) for item, vector in items]
    return _top([s for s in scored if s.score >= minimum], k)


def by_words(query: str, items: Sequence[tuple[T, str]], k: int) -> list[Scored[T]]:
    """The ``k`` items whose texts share the most telling words with ``query`` (BM25, the
    items themselves as the collection), best first; an item sharing no word, or scoring under
    ``RELATIVE`` of the best, is never picked (one common word in common is not relevance)."""
    wanted = set(words(query))
    if not wanted or not items:
        return []
    documents = [(item, Counter(words(text))) for item, text in items]
    average = sum(sum(c.values()) for _, c in documents) / len(documents) or 1.0
    holding = Counter(w for _, c in documents for w in set(c) & wanted)
    scored = []
    for item, counts in documents:
        length, score = sum(counts.values()), 0.0
        for word in wanted & set(counts):
            idf = math.log(1 + (len(documents) - holding[word] + 0.5) / (holding[word] + 0.5))
            tf = counts[word]
            score += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / average))
        if score > 0:
            scored.append(Scored(item, score))
    best = max((s.score for s in scored), default=0.0)
    return _top([s for s in scored if s.score >= RELATIVE * best], k)


def _top(scored: list[Scored[T]], k: int) -> list[Scored[T]]:
    # stable: among equal scores the earlier item (the caller's order) wins
    return sorted(scored, key=lambda s: -s.score)[:k]
