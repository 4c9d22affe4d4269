"""Huge vocabularies: counting memory stays bounded by --max-vocab, and the pruning is reported."""

from __future__ import annotations

import logging
import tracemalloc

import pytest

from w2v.vocab import build_vocab


class ManyRareWords:
    """A re-iterable corpus: ``distinct`` words seen once each, mixed with 50 frequent words."""

    def __init__(self, distinct: int, per_sentence: int = 20):
        self.distinct, self.per_sentence = distinct, per_sentence

    def __iter__(self):
        sentence = []
        for i in range(self.distinct):
            sentence.append(f"rare{i:08d}")
            sentence.append(f"common{i % 50}")
            if len(sentence) >= self.per_sentence:
                yield sentence
                sentence = []
        if sentence:
            yield sentence


def counting_peak(corpus, **kwargs):
    tracemalloc.start()
    try:
        vocab = build_vocab(corpus, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return vocab, peak


@pytest.mark.parametrize("distinct,max_vocab,bound_mb", [
    (200_000, 20_000, 8),
    pytest.param(3_000_000, 100_000, 40, marks=pytest.mark.slow),
])
def test_counting_memory_is_bounded_by_max_vocab(distinct, max_vocab, bound_mb, caplog):
    with caplog.at_level(logging.WARNING, logger="w2v"):
        vocab, peak = counting_peak(ManyRareWords(distinct), min_count=2, max_vocab=max_vocab)
    # every rare word was pruned at some point; the frequent ones survive with (lower-bound) counts
    assert vocab.pruned_words >= distinct - max_vocab
    assert f"{vocab.pruned_words:,}" in caplog.text or str(vocab.pruned_words) in caplog.text
    assert sorted(vocab.words) == sorted(f"common{i}" for i in range(50))
    assert peak < bound_mb * 2**20, f"counting peaked at {peak / 2**20:.1f} MB"


def test_without_max_vocab_the_same_corpus_needs_far_more():
    """The control: unbounded counting of the 200,000 rare words costs several times the bound above."""
    _, peak = counting_peak(ManyRareWords(200_000), min_count=2)
    assert peak > 16 * 2**20
