"""The intent evaluation: how the classifier does on labelled caregivers' texts.

The sets live in ``evals/intents/*.jsonl`` at the repository root, one message a line:
``{"text", "intent", "lang"}``. ``dev`` is the set the patterns are tuned on; ``holdout`` was
written with it, before any pattern, and is never tuned on: it says how the patterns do on
phrasings nobody fitted them to. ``make eval`` prints both; a unit test holds the target.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from careline_conversation import evaluation_sets
from careline_conversation.intents.classifier import classify

TARGET = 0.90


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    lang: str
    source: str = ""


@dataclass(frozen=True)
class Outcome:
    example: Example
    predicted: str

    @property
    def correct(self) -> bool:
        return self.predicted == self.example.intent


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def accuracy(self, *, intent: str | None = None, lang: str | None = None) -> float:
        chosen = [
            o
            for o in self.outcomes
            if (intent is None or o.example.intent == intent) and (lang is None or o.example.lang == lang)
        ]
        return sum(o.correct for o in chosen) / len(chosen) if chosen else 1.0

    def misses(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.correct]


def evals_dir() -> Path:
    """``evals/intents`` (``evaluation_sets.evals_dir``)."""
    return evaluation_sets.evals_dir("intents")


def load(paths: Iterable[Path]) -> list[Example]:
    return evaluation_sets.load(
        paths, lambda row, source: Example(row["text"], row["intent"], row["lang"], source)
    )


def evaluate(examples: Iterable[Example]) -> Report:
    return Report([Outcome(ex, classify(ex.text).intent) for ex in examples])


def table(report: Report) -> str:
    """Accuracy overall, per language, then per intent (with each language's share)."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for o in report.outcomes:
        counts[o.example.intent][o.example.lang] += 1
    langs = sorted({o.example.lang for o in report.outcomes})
    lines = [f"{'':18} {'n':>4} {'accuracy':>9}   " + "   ".join(f"{lang:>9}" for lang in langs)]

    def row(name: str, n: int, intent: str | None) -> str:
        per_lang = "   ".join(f"{report.accuracy(intent=intent, lang=lang):>9.1%}" for lang in langs)
        return f"{name:18} {n:>4} {report.accuracy(intent=intent):>9.1%}   {per_lang}"

    lines.append(row("all", len(report.outcomes), None))
    for lang in langs:
        n = sum(o.example.lang == lang for o in report.outcomes)
        lines.append(f"{'  ' + lang:18} {n:>4} {report.accuracy(lang=lang):>9.1%}")
    for intent in sorted(counts):
        lines.append(row(intent, sum(counts[intent].values()), intent))
    return "\n".join(lines)
