"""The intent classifier meets its accuracy target on the labelled sets in evals/intents."""

from __future__ import annotations

import pytest

from careline_conversation.intents import evaluation


@pytest.mark.parametrize("name", ["dev", "holdout"])
def test_each_set_is_classified_at_least_90_percent_right(name: str) -> None:
    report = evaluation.evaluate(evaluation.load([evaluation.evals_dir() / f"{name}.jsonl"]))
    misses = "\n".join(f"{o.example.intent} -> {o.predicted}: {o.example.text}" for o in report.misses())
    assert report.accuracy() >= evaluation.TARGET, misses


@pytest.mark.parametrize("lang", ["en", "es"])
def test_each_language_meets_the_target_on_its_own(lang: str) -> None:
    report = evaluation.evaluate(evaluation.load(sorted(evaluation.evals_dir().glob("*.jsonl"))))
    assert report.accuracy(lang=lang) >= evaluation.TARGET


def test_the_sets_are_big_enough_and_cover_every_intent() -> None:
    from careline_conversation.intents import intents

    dev = evaluation.load([evaluation.evals_dir() / "dev.jsonl"])
    holdout = evaluation.load([evaluation.evals_dir() / "holdout.jsonl"])
    assert len(dev) >= 300 and len(holdout) >= 50
    assert {ex.lang for ex in dev} == {"en", "es"}
    assert set(intents().ids) <= {ex.intent for ex in dev}
    assert set(intents().ids) <= {ex.intent for ex in holdout}
