"""What a gensim user types first: gensim's names and the corpus in the constructor, each answered with the
w2v way to say it."""

from __future__ import annotations

import pytest

from w2v import ConfigError, Word2Vec
from w2v.compat import GENSIM_NAMES


@pytest.mark.parametrize("name, value, fragment", [
    ("vector_size", 50, "dim="), ("size", 50, "dim="), ("sg", 0, "model='cbow'"), ("sg", 1, "model='sg'"),
    ("hs", 1, "loss='hs'"), ("workers", 4, "threads="), ("max_vocab_size", 10_000, "max_vocab="),
    ("iter", 5, "epochs="), ("compute_loss", True, "training_log"),
])
def test_gensim_names_say_the_w2v_name(name, value, fragment):
    with pytest.raises(ConfigError) as err:
        Word2Vec(**{name: value})
    assert f"'{name}' is gensim's name" in str(err.value) and fragment in str(err.value)
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize("call", [
    lambda: Word2Vec([["the", "quick", "fox"]], min_count=1),
    lambda: Word2Vec([["the", "quick", "fox"]]),
    lambda: Word2Vec("corpus.txt", vector_size=50),
    lambda: Word2Vec(sentences=[["a", "b"]], min_count=1),
    lambda: Word2Vec(corpus_file="corpus.txt"),
])
def test_the_corpus_in_the_constructor_shows_train(call):
    with pytest.raises(ConfigError, match=r"Word2Vec\(min_count=5, \.\.\.\)\.train\(corpus\)"):
        call()


def test_settings_with_the_same_name_are_accepted_and_others_suggested():
    model = Word2Vec(window=3, negative=4, min_count=1, epochs=2, alpha=0.03, min_alpha=1e-4, seed=7,
                     sample=1e-4, ns_exponent=0.5)
    assert model.config.window == 3 and model.config.seed == 7
    with pytest.raises(ConfigError, match="did you mean 'dim'"):
        Word2Vec(dimm=3)
    with pytest.raises(ConfigError, match="cbow_mean=False"):
        Word2Vec(model="cbow", cbow_mean=0)
    assert all(isinstance(v, str) and v for v in GENSIM_NAMES.values())


def test_gensim_train_arguments_and_methods_say_the_w2v_way():
    model = Word2Vec(min_count=1, sample=0, threads=1)
    sentences = [["a", "b", "a"]]
    with pytest.raises(TypeError, match=r"no 'total_examples' \(gensim's argument\); in w2v write nothing: w2v "
                                        r"counts the corpus itself"):
        model.train(sentences, total_examples=1, epochs=1)
    with pytest.raises(TypeError, match=r"no 'corpus_file' .* train\('corpus.txt'\)"):
        model.train(corpus_file="c.txt")
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        model.train(sentences, nope=1)
    with pytest.raises(TypeError, match="train\\(\\) needs a corpus"):
        model.train()
    with pytest.raises(AttributeError, match=r"'build_vocab' \(gensim's\); in w2v use train\(corpus\)"):
        model.build_vocab(sentences)
    with pytest.raises(AttributeError, match=r"training_log\[-1\]\['loss'\]"):
        model.get_latest_training_loss()
    with pytest.raises(AttributeError, match="^'Word2Vec' object has no attribute 'nope'$"):
        model.nope
    assert not hasattr(model, "syn1neg") and model.train(sentences, progress=False).wv["a"].shape == (100,)


def test_gensim_keyedvectors_names_are_answered_with_the_w2v_way():
    """``model.wv.evaluate_word_analogies(path)`` and gensim 3's ``index2word``, ``vocab``, ``word_vec`` name
    what to write in w2v; other missing names stay plain AttributeErrors (copy and pickle still work)."""
    import copy
    import pickle

    import numpy as np

    from w2v import KeyedVectors

    kv = KeyedVectors(["a", "b"], np.eye(2, dtype=np.float32), np.array([3, 1]))
    with pytest.raises(AttributeError, match=r"'evaluate_word_analogies' \(gensim's\); in w2v use "
                                             r"w2v\.evaluate\.evaluate_analogies\(kv, path\)"):
        kv.evaluate_word_analogies("questions-words.txt")
    with pytest.raises(AttributeError, match=r"kv\.index_to_key"):
        kv.index2word
    with pytest.raises(AttributeError, match=r"kv\.key_to_index .* kv\.get_count\(word\)"):
        kv.vocab
    with pytest.raises(AttributeError, match="^'KeyedVectors' object has no attribute 'nope'$"):
        kv.nope
    assert not hasattr(kv, "init_sims") and hasattr(kv, "index_to_key")
    for twin in (copy.deepcopy(kv), pickle.loads(pickle.dumps(kv))):
        assert twin.most_similar("a", topn=1)[0][0] == "b"
