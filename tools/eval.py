"""make eval: the crisis detector on the labelled sets in evals/crisis, per category, tier and language;
then the language detector on evals/language, by length and language.

python tools/eval.py            # every set, then each set on its own
python tools/eval.py --misses   # also list what was missed, mislabelled or a false alarm
"""

from __future__ import annotations

import argparse
import sys

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
    failed = report.below_targets()
    language_failed = language_report(args.misses)
    if language_failed:
        failed.append(language_failed)
    print("\n" + ("below target: " + "; ".join(failed) if failed else "every target met"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
