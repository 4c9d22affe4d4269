"""Tests of w2v.vocab: counting, order, min_count, max_final_vocab, pruning under max_vocab, errors."""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np
import pytest

from w2v.corpus import Corpus
from w2v.errors import ConfigError, CorpusError
from w2v.vocab import Vocab, build_vocab

SENTENCES = [["b", "a", "c", "a"], ["d", "c", "a", "e"], ["b", "c", "f", "f"]]
# counts: a 3, c 3, b 2, f 2, d 1, e 1; first appearance: b a c d e f


def test_counts_order_and_stable_ties():
    vocab = build_vocab(SENTENCES, min_count=1)
    assert vocab.words == ["a", "c", "b", "f", "d", "e"]  # ties in first-appearance order
    assert vocab.counts.dtype == np.int64 and vocab.counts.tolist() == [3, 3, 2, 2, 1, 1]
    assert vocab.index == {w: i for i, w in enumerate(vocab.words)}
    assert vocab.raw_tokens == 12 == vocab.total and vocab.distinct_words == 6
    assert vocab.pruned_words == 0 and vocab.min_reduce == 0
    assert len(vocab) == 6 and "a" in vocab and "z" not in vocab


def test_min_count():
    vocab = build_vocab(SENTENCES, min_count=2)
    assert vocab.words == ["a", "c", "b", "f"]
    assert vocab.raw_tokens == 12 and vocab.total == 10 and vocab.distinct_words == 6


def test_a_vocabulary_of_one_word_is_warned_of(caplog):
    with caplog.at_level(logging.WARNING, logger="w2v"):
        assert build_vocab(SENTENCES, min_count=1, max_final_vocab=1).words == ["a"]
    assert "the vocabulary holds one word ('a'): there is nothing to tell it apart from" in caplog.text


def test_max_final_vocab(caplog):
    with caplog.at_level(logging.INFO, logger="w2v"):
        vocab = build_vocab(SENTENCES, min_count=1, max_final_vocab=3)
    assert vocab.words == ["a", "c", "b"]
    assert "cut 3" in caplog.text
    assert build_vocab(SENTENCES, min_count=2, max_final_vocab=10).words == ["a", "c", "b", "f"]


def test_counts_match_a_counter_on_a_corpus(tmp_path):
    rng = np.random.default_rng(0)
    sentences = [[f"w{int(rng.zipf(1.4)) % 500}" for _ in range(rng.integers(1, 30))] for _ in range(300)]
    path = tmp_path / "c.txt"
    path.write_text("\n".join(" ".join(s) for s in sentences))
    vocab = build_vocab(Corpus(path), min_count=3)
    true = Counter(w for s in sentences for w in s)
    assert {w: int(c) for w, c in zip(vocab.words, vocab.counts)} == {w: c for w, c in true.items() if c >= 3}
    assert np.all(np.diff(vocab.counts) <= 0)


def test_pruning_under_max_vocab(caplog):
    rng = np.random.default_rng(3)
    sentences = [[f"w{int(rng.zipf(1.3)) % 1000}" for _ in range(10)] for _ in range(500)]
    true = Counter(w for s in sentences for w in s)
    with caplog.at_level(logging.WARNING, logger="w2v"):
        vocab = build_vocab(sentences, min_count=1, max_vocab=50)
    assert vocab.pruned_words > 0 and vocab.min_reduce >= 1
    assert vocab.distinct_words <= 50 + 10  # bounded (checked after each sentence of 10 tokens)
    assert all(c <= true[w] for w, c in zip(vocab.words, vocab.counts))  # lower bounds
    assert vocab.words[0] == true.most_common(1)[0][0]
    assert vocab.raw_tokens == 5000
    assert f"words were dropped {vocab.pruned_words} times while counting" in caplog.text
    assert "lower bounds" in caplog.text


def test_no_pruning_when_under_max_vocab():
    assert build_vocab(SENTENCES, min_count=1, max_vocab=6).pruned_words == 0


def test_empty_corpus_errors():
    for empty in ([], [[], []], Corpus([[]])):
        with pytest.raises(CorpusError, match="corpus is empty"):
            build_vocab(empty)


def test_every_word_under_min_count_gives_the_figures():
    with pytest.raises(CorpusError, match=r"min_count=5 times \(the most frequent, 'a', occurs 3 times") as e:
        build_vocab(SENTENCES, min_count=5)
    assert "min-count" in str(e.value)


@pytest.mark.parametrize("kwargs", [{"min_count": 0}, {"min_count": 1.5}, {"max_vocab": 0},
                                    {"max_final_vocab": -1}, {"min_count": True}])
def test_bad_settings(kwargs):
    with pytest.raises(ConfigError):
        build_vocab(SENTENCES, **kwargs)


def test_string_sentence_refused():
    with pytest.raises(CorpusError, match="not strings"):
        build_vocab(["a b c"])


def test_vocab_dataclass():
    v = Vocab(["x", "Y"], [3, 1])
    assert v.index == {"x": 0, "Y": 1} and v.counts.dtype == np.int64 and v.total == 4
    assert not v.is_lowercase() and Vocab(["x", "ß", "é"], [1, 1, 1]).is_lowercase()
    with pytest.raises(ValueError, match="counts"):
        Vocab(["x"], [1, 2])
    with pytest.raises(ValueError, match="duplicates"):
        Vocab(["x", "x"], [1, 1])


def test_with_counts_resorts_stably():
    v = Vocab(["a", "b", "c", "d"], [5, 5, 5, 5], pruned_words=7, min_reduce=2, raw_tokens=30)
    new, perm = v.with_counts([5, 9, 5, 6])
    assert new.words == ["b", "d", "a", "c"] and new.counts.tolist() == [9, 6, 5, 5]
    assert perm.dtype == np.int32 and perm.tolist() == [2, 0, 3, 1]  # old id -> new id
    assert [new.words[perm[i]] for i in range(4)] == v.words
    assert (new.pruned_words, new.min_reduce, new.raw_tokens) == (7, 2, 30)
    with pytest.raises(ValueError):
        v.with_counts([1, 2])
