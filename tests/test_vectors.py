"""KeyedVectors: queries against brute-force NumPy references and gensim, unknown words, I/O."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from w2v.errors import ModelFileError, UnknownWordError
from w2v.formats import save_native
from w2v.vectors import KeyedVectors

V, D = 300, 16


@pytest.fixture(scope="module")
def kv():
    rng = np.random.default_rng(42)
    words = [f"w{i}" for i in range(V - 3)] + ["Paris", "paris", "France"]
    return KeyedVectors(words, rng.standard_normal((V, D)).astype(np.float32),
                        counts=np.arange(V, 0, -1))


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _ref_top(scores, exclude, topn):
    """Brute force: every index sorted by score (best first), the excluded ones removed."""
    order = [i for i in np.argsort(-scores, kind="stable") if i not in set(exclude)]
    return order[:topn]


def test_basic_access(kv):
    assert len(kv) == V and kv.vector_size == D
    assert "w3" in kv and "nope" not in kv and kv.has_index_for("w3")
    np.testing.assert_array_equal(kv["w3"], kv.vectors[3])
    assert kv[["w1", "w2"]].shape == (2, D)
    np.testing.assert_allclose(np.linalg.norm(kv.get_vector("w5", norm=True)), 1, rtol=1e-6)
    assert kv.get_count("w0") == V
    assert KeyedVectors(["a"], np.ones((1, 2))).get_count("a") is None
    assert kv.vectors.dtype == np.float32


def test_keys_as_gensim_takes_them_and_clear_errors_for_the_wrong_types(kv):
    np.testing.assert_array_equal(kv[3], kv.vectors[3])  # a row number (gensim: kv[0])
    np.testing.assert_array_equal(kv[np.int64(3)], kv["w3"])
    assert kv[[0, "w1"]].shape == (2, D)
    assert kv.most_similar(3, topn=2) == kv.most_similar("w3", topn=2)
    assert list(kv)[:3] == ["w0", "w1", "w2"] and list(kv) == kv.index_to_key  # as a dict: the words
    assert ["w1"] not in kv and b"w1" not in kv
    with pytest.raises(UnknownWordError):
        kv[V]  # past the last row
    with pytest.raises(TypeError, match="words are str, not bytes"):
        kv[b"w1"]
    with pytest.raises(TypeError, match="a key is a word, a row number or a list"):
        kv[None]
    with pytest.raises(ValueError, match="'restrict_vocab' must be None or an int"):
        kv.most_similar("w1", restrict_vocab="10")
    with pytest.raises(TypeError, match="n_similarity takes a list of words; got the str"):
        kv.n_similarity("w1", "w2")
    with pytest.raises(TypeError, match="doesnt_match takes a list of words"):
        kv.doesnt_match("w1 w2 w3")
    with pytest.raises(TypeError, match="analogies takes a list of .* questions; got one question"):
        kv.analogies(("w1", "w2", "w3"))
    with pytest.raises(TypeError, match="each question is three words"):
        kv.analogies([("w1", "w2")])
    with pytest.raises(ValueError, match="the positive and negative terms cancel out"):
        kv.most_similar(positive=["w1"], negative=["w1"])
    for vector in (np.zeros(D), np.full(D, np.nan)):
        with pytest.raises(ValueError, match="a query vector is zero or not finite"):
            kv.most_similar(vector)
    np_words = KeyedVectors(np.array(["a", "b"]), np.eye(2))
    assert all(type(w) is str for w in np_words.index_to_key)
    assert np_words.most_similar("a", topn=1) == [("b", 0.0)]


def test_normed_cache_invalidated(kv):
    k2 = KeyedVectors(kv.index_to_key, kv.vectors.copy())
    first = k2.get_normed_vectors()
    assert k2.get_normed_vectors() is first
    k2.vectors = -k2.vectors
    np.testing.assert_allclose(k2.get_normed_vectors(), -first)


def test_constructor_validates():
    with pytest.raises(ValueError, match="duplicate word 'a'"):
        KeyedVectors(["a", "a"], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="2 words for 3 vectors"):
        KeyedVectors(["a", "b"], np.zeros((3, 3)))


def test_unknown_word_error(kv):
    with pytest.raises(KeyError) as err:
        kv["w12x"]
    assert isinstance(err.value, UnknownWordError)
    assert err.value.word == "w12x"
    assert 1 <= len(err.value.suggestions) <= 3 and "w12" in err.value.suggestions
    assert "did you mean" in str(err.value)
    with pytest.raises(UnknownWordError) as err:
        kv.most_similar("PARIS")
    assert err.value.suggestions[0] in ("paris", "Paris")
    for call in (lambda: kv.similarity("w1", "zz"), lambda: kv.analogy("w1", "w2", "zz"),
                 lambda: kv.analogies([("w1", "w2", "zz")]), lambda: kv.doesnt_match(["w1", "zz"])):
        with pytest.raises(UnknownWordError):
            call()


@pytest.mark.parametrize("restrict_vocab", [None, 100])
def test_most_similar_matches_brute_force(kv, restrict_vocab):
    limit = restrict_vocab or V
    n = _unit(kv.vectors.astype(np.float64))
    cases = [("w3", None), (["w3", "w7"], ["w150"]), (None, ["w9"]), (["w1", ("w2", 0.5)], None)]
    for positive, negative in cases:
        pos = [positive] if isinstance(positive, str) else (positive or [])
        neg = negative or []
        terms = [(p, 1.0) if isinstance(p, str) else (p[0], p[1]) for p in pos] + [(w, -1.0) for w in neg]
        query = _unit(np.mean([w * n[kv.key_to_index[k]] for k, w in terms], axis=0))
        scores = n[:limit] @ query
        exclude = [kv.key_to_index[k] for k, _ in terms]
        got = kv.most_similar(positive, negative, topn=7, restrict_vocab=restrict_vocab)
        assert [kv.key_to_index[w] for w, _ in got] == _ref_top(scores, exclude, 7)
        np.testing.assert_allclose([s for _, s in got], scores[_ref_top(scores, exclude, 7)], atol=1e-5)
        assert all(kv.key_to_index[w] < limit for w, _ in got)
    assert kv.most_similar("w3", topn=None).shape == (V,)


def test_similar_by_vector_and_word(kv):
    vec = kv["w10"] * 3
    got = kv.similar_by_vector(vec, topn=3)
    assert got[0][0] == "w10" and got[0][1] == pytest.approx(1.0, abs=1e-5)  # a vector excludes nothing
    assert kv.similar_by_word("w10", topn=3) == kv.most_similar("w10", topn=3)


def _ref_analogy(kv, a, b, c, method, limit):
    n = _unit(kv.vectors.astype(np.float64))[:limit]
    va, vb, vc = (_unit(kv[w].astype(np.float64)) for w in (a, b, c))
    if method == "3cosadd":
        scores = n @ _unit(vb - va + vc)
    else:
        sa, sb, sc = ((n @ v + 1) / 2 for v in (va, vb, vc))
        scores = sb * sc / (sa + 1e-3)
    exclude = [kv.key_to_index[w] for w in (a, b, c)]
    return scores, exclude


@pytest.mark.parametrize("method", ["3cosadd", "3cosmul"])
@pytest.mark.parametrize("restrict_vocab", [None, 150])
def test_analogy_matches_brute_force(kv, method, restrict_vocab):
    rng = np.random.default_rng(7)
    questions = [tuple(kv.index_to_key[i] for i in rng.choice(V, 3, replace=False)) for _ in range(60)]
    questions.append(("w1", "w2", "w200"))  # an input outside restrict_vocab
    batched = kv.analogies(questions, method=method, restrict_vocab=restrict_vocab)
    for q, answer in zip(questions, batched):
        scores, exclude = _ref_analogy(kv, *q, method, restrict_vocab or V)
        best = _ref_top(scores, exclude, 5)
        got = kv.analogy(*q, topn=5, method=method, restrict_vocab=restrict_vocab)
        assert [kv.key_to_index[w] for w, _ in got] == best
        np.testing.assert_allclose([s for _, s in got], scores[best], rtol=1e-4, atol=1e-5)
        assert answer == got[0][0]
        assert answer not in q


def test_analogy_3cosadd_is_most_similar(kv):
    ours = kv.analogy("w1", "w2", "w3", topn=5)
    theirs = kv.most_similar(positive=["w2", "w3"], negative=["w1"], topn=5)
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], rtol=1e-5)


@pytest.mark.parametrize("positive, negative", [(["w1", "w2"], ["w3"]), (["w5"], None), (None, ["w7", "w8"]),
                                                (["w1", "w2", "w4"], ["w3", "w9"])])
def test_most_similar_cosmul_matches_brute_force(kv, positive, negative):
    n = _unit(kv.vectors.astype(np.float64))[:200]
    shifted = [[(n @ _unit(kv[w].astype(np.float64)) + 1) / 2 for w in terms or []] for terms in (positive, negative)]
    scores = np.prod(shifted[0], axis=0) / (np.prod(shifted[1], axis=0) + 1e-3)  # an empty product is 1
    exclude = [kv.key_to_index[w] for w in (positive or []) + (negative or [])]
    got = kv.most_similar_cosmul(positive, negative, topn=6, restrict_vocab=200)
    assert [kv.key_to_index[w] for w, _ in got] == _ref_top(scores, exclude, 6)
    np.testing.assert_allclose([s for _, s in got], scores[_ref_top(scores, exclude, 6)], rtol=1e-4)
    np.testing.assert_allclose(kv.most_similar_cosmul(positive, negative, topn=None, restrict_vocab=200), scores,
                               rtol=1e-4)


def test_most_similar_cosmul_is_3cosmul_and_takes_vectors(kv):
    ours = kv.most_similar_cosmul(positive=["w2", "w3"], negative=["w1"], topn=5)
    analogy = kv.analogy("w1", "w2", "w3", topn=5, method="3cosmul")
    assert [w for w, _ in ours] == [w for w, _ in analogy]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in analogy], rtol=1e-5)
    by_vector = kv.most_similar_cosmul(positive=[kv["w2"] * 5, "w3"], negative=["w1"], topn=None)  # its direction
    np.testing.assert_allclose(by_vector, kv.most_similar_cosmul(["w2", "w3"], ["w1"], topn=None), rtol=1e-5)
    assert "w2" in [w for w, _ in kv.most_similar_cosmul([kv["w2"], "w3"], ["w1"], topn=V)]  # a vector excludes none
    with pytest.raises(ValueError, match="at least one positive or negative"):
        kv.most_similar_cosmul()
    with pytest.raises(TypeError, match="not \\(word, weight\\) pairs"):
        kv.most_similar_cosmul([("w1", 2.0), "w2"])
    with pytest.raises(UnknownWordError):
        kv.most_similar_cosmul(["w1", "nope"])


def test_closer_than_and_rank(kv):
    sims = _unit(kv.vectors.astype(np.float64)) @ _unit(kv["w1"].astype(np.float64))
    closer = kv.closer_than("w1", "w30")
    expected = [i for i in np.argsort(-sims, kind="stable") if sims[i] > sims[30] and i != 1]
    assert [kv.key_to_index[w] for w in closer] == expected
    assert kv.rank("w1", "w30") == len(closer) + 1 and "w1" not in closer
    assert kv.closer_than("w1", kv.closer_than("w1", "w30")[0]) == []


def test_get_mean_vector(kv):
    units = _unit(kv[["w1", "w2"]].astype(np.float64))
    np.testing.assert_allclose(kv.get_mean_vector(["w1", "w2"]), units.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(kv.get_mean_vector(["w1", "nope", "w2"], weights=[1, 5, -3], pre_normalize=False),
                               (kv["w1"] - 3 * kv["w2"]) / 4, rtol=1e-5)
    post = kv.get_mean_vector(["w1", kv["w2"]], post_normalize=True)
    np.testing.assert_allclose(post, _unit(units[0] + kv["w2"]), rtol=1e-5)
    np.testing.assert_allclose(kv.get_mean_vector(["w1", 10 ** 6, "w2"]), units.mean(axis=0), rtol=1e-5)  # as gensim
    with pytest.raises(UnknownWordError):
        kv.get_mean_vector(["w1", "nope"], ignore_missing=False)
    with pytest.raises(UnknownWordError, match="none of the 2 keys"):
        kv.get_mean_vector(["nope", "nada"])
    with pytest.raises(ValueError, match="one finite weight for each"):
        kv.get_mean_vector(["w1"], weights=[1, 2])
    with pytest.raises(TypeError, match="takes a list of words"):
        kv.get_mean_vector("w1")


def test_analogy_bad_method(kv):
    with pytest.raises(ValueError, match="'method' must be one of"):
        kv.analogy("w1", "w2", "w3", method="cos")


@pytest.mark.filterwarnings("ignore:Call to deprecated `init_sims`:DeprecationWarning")  # gensim's cosmul, its own
@pytest.mark.filterwarnings("ignore:Call to deprecated `words_closer_than`:DeprecationWarning")  # gensim's alias
def test_queries_match_gensim(kv):
    gensim_models = pytest.importorskip("gensim.models")
    g = gensim_models.KeyedVectors(vector_size=D)
    g.add_vectors(kv.index_to_key, kv.vectors)
    assert kv.similarity("w1", "w2") == pytest.approx(float(g.similarity("w1", "w2")), abs=1e-6)
    assert kv.distance("w1", "w2") == pytest.approx(float(g.distance("w1", "w2")), abs=1e-6)
    assert kv.n_similarity(["w1", "w2"], ["w3"]) == pytest.approx(float(g.n_similarity(["w1", "w2"], ["w3"])),
                                                                   abs=1e-6)
    group = ["w1", "w2", "w3", "w4", "w5"]
    assert kv.doesnt_match(group) == g.doesnt_match(group)
    assert kv.rank("w1", "w50") == g.rank("w1", "w50")
    for pos, neg in ((["w1"], None), (["w1", "w2"], ["w3"])):
        ours = kv.most_similar(pos, neg, topn=5, restrict_vocab=200)
        theirs = g.most_similar(pos, neg, topn=5, restrict_vocab=200)
        assert [w for w, _ in ours] == [w for w, _ in theirs]
        np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-5)
    # without a negative term the two epsilons only scale the scores: gensim's 1 + 1e-6 against 1 + 1e-3
    ours = kv.most_similar_cosmul(["w1", "w2"], topn=5)
    theirs = g.most_similar_cosmul(["w1", "w2"], topn=5)
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    np.testing.assert_allclose([s * (1 + 1e-3) for _, s in ours], [s * (1 + 1e-6) for _, s in theirs], rtol=1e-5)
    assert sorted(kv.closer_than("w1", "w50")) == sorted(g.closer_than("w1", "w50"))
    for pre, post in ((True, False), (False, False), (True, True)):
        np.testing.assert_allclose(kv.get_mean_vector(["w1", "w2", "nope"], weights=[2, -1, 3], pre_normalize=pre,
                                                      post_normalize=post),
                                   g.get_mean_vector(["w1", "w2", "nope"], weights=[2, -1, 3], pre_normalize=pre,
                                                     post_normalize=post), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(kv.distances("w1", ["w2", "w9", "Paris"]), g.distances("w1", ["w2", "w9", "Paris"]),
                               atol=1e-6)
    np.testing.assert_allclose(kv.distances(kv["w3"] * 3), g.distances(kv["w3"] * 3), atol=1e-5)  # every word
    assert kv.words_closer_than("w1", "w50") == kv.closer_than("w1", "w50")
    assert sorted(kv.words_closer_than("w1", "w50")) == sorted(g.words_closer_than("w1", "w50"))
    assert kv.similar_by_key("w4", topn=3) == kv.similar_by_word("w4", topn=3)
    assert [w for w, _ in kv.similar_by_key("w4", topn=3)] == [w for w, _ in g.similar_by_key("w4", topn=3)]
    assert kv.most_similar_to_given("w1", ["w2", "w3", "w9"]) == g.most_similar_to_given("w1", ["w2", "w3", "w9"])
    assert kv.relative_cosine_similarity("w1", "w2") == pytest.approx(g.relative_cosine_similarity("w1", "w2"),
                                                                      rel=1e-4)
    np.testing.assert_allclose(KeyedVectors.cosine_similarities(kv["w1"], kv.vectors[:20]),
                               g.cosine_similarities(kv["w1"], kv.vectors[:20]), atol=1e-6)
    with pytest.raises(ValueError, match="takes a \\(d,\\) vector and a \\(n, d\\) array"):
        KeyedVectors.cosine_similarities(kv["w1"], kv.vectors[0])
    with pytest.raises(TypeError, match="takes a list of words"):
        kv.most_similar_to_given("w1", "w2")
    with pytest.raises(UnknownWordError):
        kv.distances("w1", ["w2", "nope"])
    with pytest.raises(ValueError, match="the vocabulary has no other"):
        KeyedVectors(["only"], np.ones((1, D), np.float32)).relative_cosine_similarity("only", "only")


def test_save_and_load_native(kv, tmp_path):
    path = tmp_path / "v.w2v"
    kv.save(path)
    for mmap in (False, True):
        back = KeyedVectors.load(path, mmap=mmap)
        assert back.index_to_key == kv.index_to_key
        np.testing.assert_array_equal(back.vectors, kv.vectors)
        np.testing.assert_array_equal(back.counts, kv.counts)
    assert isinstance(KeyedVectors.load(path, mmap=True).vectors.base, np.memmap)
    small = KeyedVectors.load(path, limit=10)
    assert len(small) == 10 and small.counts.shape == (10,)


def test_load_model_file(kv, tmp_path):
    path = tmp_path / "model.w2v"
    save_native(path, words=kv.index_to_key,
                arrays={"vectors": kv.vectors, "output": np.zeros_like(kv.vectors), "counts": kv.counts},
                header={"kind": "model", "config": {"dim": D}})
    back = KeyedVectors.load(path)
    np.testing.assert_array_equal(back.vectors, kv.vectors)
    save_native(path, words=["a"], arrays={"x": np.zeros(1)}, header={"kind": "loss-log"})
    with pytest.raises(ModelFileError, match="kind 'loss-log'"):
        KeyedVectors.load(path)


@pytest.mark.parametrize("binary", [True, False])
def test_load_guesses_word2vec(kv, tmp_path, binary):
    path = tmp_path / "v.bin"
    kv.save_word2vec_format(path, binary=binary)
    for back in (KeyedVectors.load(path), KeyedVectors.load_word2vec_format(path, binary=binary)):
        assert back.index_to_key == kv.index_to_key
        np.testing.assert_array_equal(back.vectors, kv.vectors)
    assert len(KeyedVectors.load(path, limit=5)) == 5


def test_load_unknown_format(tmp_path):
    path = tmp_path / "junk"
    path.write_bytes(b"\x00\x01 not vectors")
    with pytest.raises(ModelFileError, match="cannot tell the format"):
        KeyedVectors.load(path)


def test_queries_never_import_numba():
    code = ("import sys, numpy as np; import w2v; from w2v import KeyedVectors, formats, evaluate; "
            "kv = KeyedVectors(['a','b','c','d'], np.eye(4)); kv.most_similar('a'); "
            "bad = [m for m in sys.modules if m.startswith(('numba', 'w2v.kernels', 'w2v.train'))]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
