"""make eval: the crisis detector on the labelled sets in evals/crisis, per category, tier and language.

python tools/eval.py            # every set, then each set on its own
python tools/eval.py --misses   # also list what was missed, mislabelled or a false alarm
"""

from __future__ import annotations

import argparse
import sys

from careline_conversation.safety.evaluation import evals_dir, evaluate, load, table


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
    print("\n" + ("below target: " + "; ".join(failed) if failed else "every target met"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
