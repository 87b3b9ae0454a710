"""make eval: the crisis detector, the intent classifier and the language detector on their
labelled sets (evals/).

Crisis (evals/crisis): recall per category, tier and language, and false alarms. Intents
(evals/intents): accuracy overall, per intent and per language, on the tuned set and the
held-out one. Language (evals/language): accuracy by length and language.

python tools/eval.py            # every set, then each set on its own
python tools/eval.py --misses   # also list what was missed, mislabelled or a false alarm
"""

from __future__ import annotations

import argparse
import sys

from careline_conversation.intents import evaluation as intents
from careline_conversation.language import evaluation as language_eval
from careline_conversation.safety.evaluation import evals_dir, evaluate, load, table


def language_report(misses: bool) -> str | None:
    """The language tables (every set, then each; ``dev`` was tuned on, ``holdout`` never);
    the target missed, if any."""
    paths = sorted(language_eval.evals_dir().glob("*.jsonl"))
    report = language_eval.evaluate(language_eval.load(paths))
    print(f"\n== language: all sets ({', '.join(p.stem for p in paths)}) ==")
    print(language_eval.table(report))
    for path in paths:
        print(f"\n== language: {path.stem} ==")
        print(language_eval.table(language_eval.evaluate(language_eval.load([path]))))
    if misses:
        print("\n== language: wrong ==")
        for o in report.misses():
            d, ex = o.detection, o.example
            print(f"  [{ex.source} {ex.lang}->{d.language} {d.confidence:.2f}] {ex.text}")
    return report.below_target()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--misses", action="store_true", help="list every miss, false alarm and wrong category"
    )
    args = parser.parse_args()
    paths = sorted(evals_dir().glob("*.jsonl"))
    report = evaluate(load(paths))
    print(f"== all sets ({', '.join(p.stem for p in paths)}) ==")
    print(table(report))
    for path in paths:
        print(f"\n== {path.stem} ==")
        print(table(evaluate(load([path]))))
    if args.misses:
        print("\n== missed ==")
        for o in report.misses():
            ex = o.example
            print(f"  [{ex.source} {ex.category}/{ex.tier}/{ex.family}] {ex.text}")
        print("\n== false alarms ==")
        for o in report.false_alarms():
            assert o.match is not None
            ex = o.example
            print(f"  [{ex.source} {ex.family} -> {o.match.category}:{o.match.pattern}] {ex.text}")
        print("\n== wrong category ==")
        for o in report.wrong_category():
            assert o.match is not None
            ex = o.example
            print(f"  [{ex.source} {ex.category} -> {o.match.category}:{o.match.pattern}] {ex.text}")
    failed = report.below_targets() + intent_tables(misses=args.misses)
    language_failed = language_report(args.misses)
    if language_failed:
        failed.append(language_failed)
    print("\n" + ("below target: " + "; ".join(failed) if failed else "every target met"))
    return 1 if failed else 0


def intent_tables(*, misses: bool) -> list[str]:
    """Print the intent tables, set by set; the sets below the accuracy target."""
    failed = []
    for path in sorted(intents.evals_dir().glob("*.jsonl")):
        report = intents.evaluate(intents.load([path]))
        print(f"\n== intents: {path.stem} ==")
        print(intents.table(report))
        if report.accuracy() < intents.TARGET:
            failed.append(f"intents {path.stem} accuracy {report.accuracy():.1%} < {intents.TARGET:.0%}")
        if misses:
            for o in report.misses():
                print(f"  [{o.example.lang} {o.example.intent} -> {o.predicted}] {o.example.text}")
    return failed


if __name__ == "__main__":
    sys.exit(main())
