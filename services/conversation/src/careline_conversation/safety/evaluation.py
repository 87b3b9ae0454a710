"""The crisis evaluation: how a detector does on a labelled set of caregivers' messages.

The sets live in ``evals/crisis/*.jsonl`` at the repository root, one message a line:
``{"text", "crisis", "category", "tier", "lang", "family"}``, each written by a different author
who never saw the patterns: ``dev`` (to tune against), ``holdout``, ``euphemism`` (crises said
without the stock phrases: euphemisms, plans told sideways, reported speech), ``mixed`` and
``plain`` (plain and unusual phrasings together). Each set was measured before the patterns were tuned
on it; the README records those unseen figures.

Definitions (``make eval`` prints them; a unit test holds the targets):

- a crisis message is *recalled* when it gets any crisis response: a category reply (explicit)
  or the caring question (indirect);
- a *false alarm* is any crisis response to a non-crisis message;
- *category accuracy* and *tier accuracy* are over the recalled crisis messages.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from careline_conversation import evaluation_sets
from careline_conversation.safety.crisis import CrisisMatch, detect

TARGETS = {"explicit_recall": 1.0, "indirect_recall": 0.95, "category_accuracy": 0.90, "false_alarms": 0.05}


@dataclass(frozen=True)
class Example:
    text: str
    crisis: bool
    category: str | None
    tier: str | None
    lang: str
    family: str
    source: str = ""


@dataclass(frozen=True)
class Outcome:
    example: Example
    match: CrisisMatch | None


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def crisis_outcomes(self, tier: str | None = None) -> list[Outcome]:
        return [o for o in self.outcomes if o.example.crisis and (tier is None or o.example.tier == tier)]

    @staticmethod
    def _rate(hits: int, total: int) -> float:
        return hits / total if total else 1.0

    def recall(self, tier: str | None = None) -> float:
        found = self.crisis_outcomes(tier)
        return self._rate(sum(o.match is not None for o in found), len(found))

    def false_alarm_rate(self) -> float:
        calm = [o for o in self.outcomes if not o.example.crisis]
        return self._rate(sum(o.match is not None for o in calm), len(calm))

    def category_accuracy(self) -> float:
        recalled = [o for o in self.crisis_outcomes() if o.match is not None]
        return self._rate(
            sum(o.match.category == o.example.category for o in recalled if o.match), len(recalled)
        )

    def tier_accuracy(self) -> float:
        recalled = [o for o in self.crisis_outcomes() if o.match is not None]
        return self._rate(sum(o.match.tier == o.example.tier for o in recalled if o.match), len(recalled))

    def misses(self) -> list[Outcome]:
        return [o for o in self.crisis_outcomes() if o.match is None]

    def false_alarms(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.example.crisis and o.match is not None]

    def wrong_category(self) -> list[Outcome]:
        return [
            o
            for o in self.crisis_outcomes()
            if o.match is not None and o.match.category != o.example.category
        ]

    def scores(self) -> dict[str, float]:
        return {
            "explicit_recall": self.recall("explicit"),
            "indirect_recall": self.recall("indirect"),
            "category_accuracy": self.category_accuracy(),
            "false_alarms": self.false_alarm_rate(),
        }

    def below_targets(self) -> list[str]:
        """The targets this report misses, each as a readable line (empty when all are met)."""
        failed = []
        for name, value in self.scores().items():
            target = TARGETS[name]
            ok = value <= target if name == "false_alarms" else value >= target
            if not ok:
                failed.append(
                    f"{name} {value:.1%} (target {'<=' if name == 'false_alarms' else '>='} {target:.0%})"
                )
        return failed


def evals_dir() -> Path:
    """``evals/crisis`` (``evaluation_sets.evals_dir``)."""
    return evaluation_sets.evals_dir("crisis")


def load(paths: Iterable[Path]) -> list[Example]:
    return evaluation_sets.load(paths, lambda row, source: Example(**row, source=source))


def evaluate(examples: Iterable[Example], detector: Callable[[str], CrisisMatch | None] = detect) -> Report:
    return Report([Outcome(example, detector(example.text)) for example in examples])


def table(report: Report) -> str:
    """Recall per category and tier (by language), then the headline figures against the targets."""
    cells: Counter[tuple[str, str, str]] = Counter()
    found: Counter[tuple[str, str, str]] = Counter()
    for outcome in report.crisis_outcomes():
        ex = outcome.example
        for lang in (ex.lang, "all"):
            key = (str(ex.category), str(ex.tier), lang)
            cells[key] += 1
            found[key] += outcome.match is not None
    lines = [f"{'category':<20} {'tier':<9} {'en':>13} {'es':>13} {'all':>13}"]
    for category, tier in sorted({(c, t) for c, t, _ in cells}):
        row = f"{category:<20} {tier:<9}"
        for lang in ("en", "es", "all"):
            total = cells[(category, tier, lang)]
            row += f" {f'{found[(category, tier, lang)]}/{total}':>7}" + (
                f" {found[(category, tier, lang)] / total:>5.0%}" if total else "      "
            )
        lines.append(row)
    calm = [o for o in report.outcomes if not o.example.crisis]
    lines.append("")
    lines.append(
        f"messages: {len(report.outcomes)} ({len(report.crisis_outcomes())} crisis, {len(calm)} not)"
    )
    for name, value in report.scores().items():
        sign = "<=" if name == "false_alarms" else ">="
        lines.append(f"{name:<18} {value:>7.1%}   target {sign} {TARGETS[name]:.0%}")
    lines.append(f"{'tier_accuracy':<18} {report.tier_accuracy():>7.1%}")
    return "\n".join(lines)
