"""Recall's scoring: cosine over embeddings, and BM25 over shared words when there are none."""

from __future__ import annotations

import pytest

from careline_conversation.memory import similarity
from careline_testing.fakes import FakeOpenAI


def test_cosine_is_one_for_the_same_direction_and_zero_for_mismatched_vectors() -> None:
    assert similarity.cosine([1.0, 2.0], [2.0, 4.0]) == pytest.approx(1.0)
    assert similarity.cosine([1.0, 0.0], [0.0, 1.0]) == 0.0
    assert similarity.cosine([1.0], [1.0, 0.0]) == 0.0  # another model's vector
    assert similarity.cosine([], []) == 0.0


def test_words_fold_accents_and_drop_stopwords() -> None:
    assert similarity.words("Mi mamá no duerme por las NOCHES") == ["mama", "duerme", "noches"]
    assert similarity.words("I am so tired of it") == ["tired"]


def test_by_words_prefers_the_texts_that_share_the_rarer_words() -> None:
    past = [
        ("a", "mom wanders at night and I can't sleep"),
        ("b", "the adult day program gave me a break"),
        ("c", "money is tight this month"),
        ("d", "I can't sleep again"),
    ]
    picked = similarity.by_words("she wanders every night", past, k=2)
    assert [p.item for p in picked] == ["a"]  # only "a" shares a word; "d" shares none
    assert similarity.by_words("anything else", past, k=2) == []
    assert similarity.by_words("the", past, k=2) == []  # nothing telling in the query


def test_by_embedding_ranks_by_cosine_and_drops_what_is_too_far() -> None:
    texts = ["mom wanders at night", "the adult day program gave me a break", "money is tight"]
    items = [(t, FakeOpenAI.vector(t, 64)) for t in texts]
    picked = similarity.by_embedding(FakeOpenAI.vector("she wanders at night", 64), items, k=3)
    assert picked[0].item == "mom wanders at night"
    assert all(p.score >= similarity.MIN_COSINE for p in picked)
    assert "money is tight" not in [p.item for p in picked]
