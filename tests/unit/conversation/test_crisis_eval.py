"""The evaluation sets decide crisis quality: recall per tier, category accuracy, false alarms.

``make eval`` prints the same figures per category, tier and language.
"""

from __future__ import annotations

from collections import Counter

import pytest

from careline_contracts.jobs import CRISIS_CATEGORIES
from careline_conversation.safety.crisis import LABELS
from careline_conversation.safety.evaluation import TARGETS, evals_dir, evaluate, load

EXAMPLES = load(sorted(evals_dir().glob("*.jsonl")))
REPORT = evaluate(EXAMPLES)


def test_the_sets_are_large_varied_and_cover_every_category_and_tier() -> None:
    """At least 400 messages: 250 crisis (60 in Spanish) over every category and both tiers, 150 calm."""
    crisis = [e for e in EXAMPLES if e.crisis]
    calm = [e for e in EXAMPLES if not e.crisis]
    assert len(EXAMPLES) >= 400 and len(crisis) >= 250 and len(calm) >= 150
    assert sum(e.lang == "es" for e in crisis) >= 60
    assert {e.category for e in crisis} == set(CRISIS_CATEGORIES)
    assert {e.tier for e in crisis} == {"explicit", "indirect"}
    assert all(e.category is None and e.tier is None for e in calm)
    texts = Counter(e.text for e in EXAMPLES)
    assert not [t for t, n in texts.items() if n > 1], "no message twice"


def test_the_detector_meets_every_target(capsys: pytest.CaptureFixture[str]) -> None:
    """Explicit recall 100%, indirect recall 95%, category accuracy 90%, false alarms at most 5%."""
    with capsys.disabled():
        print("\ncrisis eval:", {name: f"{value:.1%}" for name, value in REPORT.scores().items()})
    misses = [f"missed [{o.example.category}/{o.example.tier}] {o.example.text}" for o in REPORT.misses()]
    alarms = [
        f"false alarm [{o.match.pattern if o.match else ''}] {o.example.text}" for o in REPORT.false_alarms()
    ]
    assert not REPORT.below_targets(), "\n".join([*REPORT.below_targets(), *misses, *alarms])
    assert set(TARGETS) == set(REPORT.scores())


def test_matches_carry_fixed_labels_never_the_message() -> None:
    for outcome in REPORT.outcomes:
        if outcome.match is not None:
            assert outcome.match.pattern in LABELS
