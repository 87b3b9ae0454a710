"""The language evaluation sets (evals/language): the detector holds 95% on texts of 3+ words."""

from __future__ import annotations

import pytest

from careline_conversation.language.evaluation import TARGET, evals_dir, evaluate, load, table


@pytest.mark.parametrize("name", ["dev", "holdout"])
def test_each_set_meets_the_target_on_texts_of_three_words_or_more(name: str) -> None:
    examples = load([evals_dir() / f"{name}.jsonl"])
    report = evaluate(examples)
    print(f"\nlanguage eval ({name}):\n{table(report)}")
    assert report.long_accuracy() >= TARGET, table(report)


def test_the_sets_are_large_labelled_and_balanced() -> None:
    dev, holdout = load([evals_dir() / "dev.jsonl"]), load([evals_dir() / "holdout.jsonl"])
    assert len(dev) >= 200 and len(holdout) >= 40
    for examples in (dev, holdout):
        assert {e.lang for e in examples} == {"en", "es"}
        spanish = sum(e.lang == "es" for e in examples)
        assert 0.4 <= spanish / len(examples) <= 0.6
    assert not {e.text for e in dev} & {e.text for e in holdout}


def test_a_decisive_text_is_never_wrong_in_the_sets() -> None:
    """A decisive text sets a caregiver's language: a wrong one would make the line switch."""
    report = evaluate(load(sorted(evals_dir().glob("*.jsonl"))))
    wrong = [o.example.text for o in report.decisive() if not o.correct]
    assert wrong == []
