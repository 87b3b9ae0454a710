"""The language evaluation: how the detector does on caregivers' short texts.

The sets live in ``evals/language/*.jsonl`` at the repository root, one text a line:
``{"text", "lang", "family"}``. ``lang`` is the language the caregiver would want replies in
(for Spanglish, the language the sentence is built in); ``family`` says how it is written
(``plain``, ``no_accents``, ``lowercase``, ``typo``, ``spanglish``, ``emoji``, ``short``).
``dev`` is the set the thresholds were chosen on; ``holdout`` was written at the same time
and never tuned on.

Definitions (``make eval`` prints them; a unit test holds the target):

- *accuracy* is the share of texts whose best-scoring language is the label, by length
  bucket (words as ``detector.words`` counts them) and by language; the target is on texts of
  three words or more;
- *decisive* is the share of texts that would set a caregiver's language
  (``Detection.decisive``), and *decisive accuracy* how often those are right: a wrong
  decisive text is what would make the line write in the wrong language.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from careline_conversation import evaluation_sets
from careline_conversation.domain.language import MIN_WORDS, Detection
from careline_conversation.language.detector import detect_language

TARGET = 0.95
"""Accuracy on texts of ``MIN_WORDS`` words or more."""
BUCKETS = ("0-1", "2", "3-5", "6+")


@dataclass(frozen=True)
class Example:
    text: str
    lang: str
    family: str
    source: str = ""


@dataclass(frozen=True)
class Outcome:
    example: Example
    detection: Detection

    @property
    def correct(self) -> bool:
        return self.detection.language == self.example.lang

    @property
    def bucket(self) -> str:
        words = self.detection.words
        return "0-1" if words <= 1 else "2" if words == 2 else "3-5" if words <= 5 else "6+"


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def select(
        self, *, bucket: str | None = None, lang: str | None = None, long: bool = False
    ) -> list[Outcome]:
        return [
            o
            for o in self.outcomes
            if (bucket is None or o.bucket == bucket)
            and (lang is None or o.example.lang == lang)
            and (not long or o.detection.words >= MIN_WORDS)
        ]

    @staticmethod
    def accuracy(outcomes: list[Outcome]) -> float:
        return sum(o.correct for o in outcomes) / len(outcomes) if outcomes else 1.0

    def long_accuracy(self) -> float:
        """Accuracy on texts of three words or more: the target."""
        return self.accuracy(self.select(long=True))

    def decisive(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.detection.decisive]

    def misses(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.correct]

    def below_target(self) -> str | None:
        value = self.long_accuracy()
        if value >= TARGET:
            return None
        return f"language accuracy (3+ words) {value:.1%} (target >= {TARGET:.0%})"


def evals_dir() -> Path:
    """``evals/language`` (``evaluation_sets.evals_dir``)."""
    return evaluation_sets.evals_dir("language")


def load(paths: Iterable[Path]) -> list[Example]:
    return evaluation_sets.load(paths, lambda row, source: Example(**row, source=source))


def evaluate(examples: Iterable[Example], detector: Callable[[str], Detection] = detect_language) -> Report:
    return Report([Outcome(example, detector(example.text)) for example in examples])


def _cell(outcomes: list[Outcome]) -> str:
    if not outcomes:
        return f"{'-':>12}"
    right = sum(o.correct for o in outcomes)
    return f"{f'{right}/{len(outcomes)}':>7} {right / len(outcomes):>4.0%}"


def table(report: Report) -> str:
    """Accuracy by length bucket and language, what would set a caregiver's language, the target."""
    lines = [f"{'words':<8} {'en':>12} {'es':>12} {'all':>12} {'decisive':>9}"]
    rows = [(b, report.select(bucket=b)) for b in BUCKETS]
    rows += [("3+", report.select(long=True)), ("all", report.outcomes)]
    for name, outcomes in rows:
        by_lang = [_cell([o for o in outcomes if o.example.lang == lang]) for lang in ("en", "es")]
        setting = sum(o.detection.decisive for o in outcomes)
        lines.append(f"{name:<8} {by_lang[0]} {by_lang[1]} {_cell(outcomes)} {setting:>9}")
    decisive = report.decisive()
    lines.append("")
    lines.append(f"texts: {len(report.outcomes)}; decisive (would set the language): {len(decisive)}")
    lines.append(f"{'accuracy (3+ words)':<22} {report.long_accuracy():>7.1%}   target >= {TARGET:.0%}")
    lines.append(f"{'decisive accuracy':<22} {report.accuracy(decisive):>7.1%}")
    return "\n".join(lines)
