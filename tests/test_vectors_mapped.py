"""Queries on memory-mapped vectors: the same answers as in memory, without a (V, d) copy of the matrix."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from w2v import vectors as vectors_module
from w2v.vectors import KeyedVectors, _is_mapped

V, D = 1000, 24


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """(in memory, memory-mapped) KeyedVectors of the same file, with a zero row and a tiny row."""
    rng = np.random.default_rng(3)
    vecs = rng.standard_normal((V, D)).astype(np.float32)
    vecs[17] = 0            # similar to nothing
    vecs[18] *= 1e-15       # tiny but not zero: still a direction
    words = [f"w{i}" for i in range(V)]
    path = tmp_path_factory.mktemp("mapped") / "v.w2v"
    KeyedVectors(words, vecs, counts=np.arange(V, 0, -1)).save(path)
    return KeyedVectors.load(path), KeyedVectors.load(path, mmap=True)


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(vectors_module, "_MAP_BLOCK_BYTES", 7 * 4 * D)  # norms: 7 rows a step, one partial


def _same(got, want):
    assert [w for w, _ in got] == [w for w, _ in want]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=2e-6)


def test_mapped_is_detected(pair):
    mem, mapped = pair
    assert mapped._mapped and not mem._mapped
    assert _is_mapped(mapped.vectors[3:9]) and not _is_mapped(np.zeros(3))


@pytest.mark.parametrize("restrict_vocab", [None, 500, 3])
def test_queries_agree_with_in_memory(pair, small_blocks, restrict_vocab):
    mem, mapped = pair
    for positive, negative in [("w5", None), (["w5", "w9"], ["w100"]), (None, ["w7"]), (["w1", ("w2", 0.5)], None),
                               ([mem.vectors[40] * 3], None), ("w17", None), ("w18", None)]:
        _same(mapped.most_similar(positive, negative, topn=8, restrict_vocab=restrict_vocab),
              mem.most_similar(positive, negative, topn=8, restrict_vocab=restrict_vocab))
    for method in ("3cosadd", "3cosmul"):
        _same(mapped.analogy("w1", "w2", "w3", topn=5, method=method, restrict_vocab=restrict_vocab),
              mem.analogy("w1", "w2", "w3", topn=5, method=method, restrict_vocab=restrict_vocab))
    np.testing.assert_allclose(mapped.most_similar("w4", topn=None, restrict_vocab=restrict_vocab),
                               mem.most_similar("w4", topn=None, restrict_vocab=restrict_vocab), atol=2e-6)
    assert mapped._normed is None  # answered without the unit-row copy


def test_word_queries_agree(pair, small_blocks):
    mem, mapped = pair
    assert mapped.similarity("w3", "w8") == mem.similarity("w3", "w8")
    assert mapped.similarity("w3", "w17") == 0.0
    assert mapped.rank("w3", "w8") == mem.rank("w3", "w8")
    assert mapped.doesnt_match(["w1", "w2", "w3", "w4"]) == mem.doesnt_match(["w1", "w2", "w3", "w4"])
    np.testing.assert_array_equal(mapped.get_vector("w6", norm=True), mem.get_vector("w6", norm=True))
    assert mapped.closer_than("w3", "w8") == mem.closer_than("w3", "w8")
    _same(*(kv.most_similar_cosmul(["w3", "w4"], ["w5"], topn=4) for kv in (mapped, mem)))
    np.testing.assert_allclose(mapped.get_mean_vector(["w3", "w4"]), mem.get_mean_vector(["w3", "w4"]), rtol=1e-6)
    assert mapped._normed is None
    # asking for the copy explicitly still works, and the queries then use it
    np.testing.assert_array_equal(mapped.get_normed_vectors(), mem.get_normed_vectors())
    _same(mapped.most_similar("w5", topn=4), mem.most_similar("w5", topn=4))


def test_nonfinite_rows_are_similar_to_nothing(tmp_path, small_blocks):
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((50, D)).astype(np.float32)
    vecs[3, 2] = np.nan
    vecs[9, 0] = np.inf
    vecs[11] = 3e38         # finite values whose norm overflows float32
    path = tmp_path / "bad.w2v"
    KeyedVectors([f"w{i}" for i in range(50)], vecs).save(path)
    mem = KeyedVectors.load(path, allow_nonfinite=True)
    mapped = KeyedVectors.load(path, mmap=True, allow_nonfinite=True)
    got = mapped.most_similar("w0", topn=None)
    np.testing.assert_allclose(got, mem.most_similar("w0", topn=None), atol=2e-6)
    assert np.isfinite(got).all() and got[3] == got[9] == got[11] == 0
    _same(mapped.most_similar("w0", topn=49), mem.most_similar("w0", topn=49))


def test_replacing_vectors_resets_the_norms(pair):
    _, mapped = pair
    k = KeyedVectors(mapped.index_to_key, mapped.vectors)
    assert k._mapped
    k.most_similar("w1")
    k.vectors = -np.asarray(k.vectors)  # an in-memory array now
    assert not k._mapped and k._inv_norms is None
    assert k.most_similar("w1", topn=1) == KeyedVectors(k.index_to_key, k.vectors).most_similar("w1", topn=1)


def test_memory_of_a_query_is_bounded(tmp_path):
    """A query on a mapped (20,000 x 100) matrix allocates O(V) floats, not the 8 MB unit-row copy."""
    n, d = 20_000, 100
    vecs = np.random.default_rng(1).standard_normal((n, d)).astype(np.float32)
    path = tmp_path / "big.w2v"
    KeyedVectors([f"w{i}" for i in range(n)], vecs).save(path)
    del vecs
    kv = KeyedVectors.load(path, mmap=True)
    kv.most_similar("w1")  # the 1/norm of each row, once
    tracemalloc.start()
    try:
        kv.most_similar("w2", topn=10)
        kv.analogy("w1", "w2", "w3", method="3cosmul")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 12 * 4 * n < 4 * n * d / 4, f"peak {peak} bytes"
    assert kv._normed is None
