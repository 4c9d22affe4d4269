"""The first minutes of someone coming from gensim: its names for the settings, and its habit of passing the
corpus to the constructor, each answered with the w2v way to say it.

gensim's names are refused rather than accepted as aliases: a setting has one name in w2v (the Python API,
the command line and the model file's header all use it), and some of gensim's do not map one to one
(``sg=0`` is ``model="cbow"``; ``hs=1`` with ``negative=5`` trains both losses in gensim, one in w2v).  The
message says exactly what to write instead.
"""

from __future__ import annotations

import difflib
import os
from typing import Any

from .errors import ConfigError

# gensim's name -> what to write in w2v (a setting that has the same name in both is not listed)
GENSIM_NAMES: dict[str, str] = {
    "vector_size": "dim=... (the dimension of the vectors)",
    "size": "dim=... (gensim 3's name for the dimension)",
    "sg": "model='sg' (gensim's sg=1) or model='cbow' (sg=0)",
    "hs": "loss='hs' for hierarchical softmax (gensim's hs=1, negative=0); negative sampling is loss='ns', the "
          "default",
    "workers": "threads=... (0, the default, uses every core)",
    "max_vocab_size": "max_vocab=... (the bound on distinct words held while counting)",
    "iter": "epochs=... (gensim 3's name)",
    "compute_loss": "nothing: the loss of every epoch is always in model.training_log",
    "callbacks": "train(corpus, callbacks=[...]): each is called with the epoch's log entry",
    "trim_rule": "min_count and max_final_vocab (no callable rules)",
    "null_word": "nothing: w2v has no null word",
    "sorted_vocab": "nothing: the vocabulary is always sorted by frequency",
    "batch_words": "nothing: w2v cuts its own chunks of 10,000 words",
    "shrink_windows": "nothing: the window is always drawn uniformly from 1..window (the C tool's dynamic window)",
    "hashfxn": "nothing: w2v draws from its own seeded streams (seed=...)",
}
CORPUS_ARGUMENTS = ("sentences", "corpus_file", "corpus_iterable")

# gensim's arguments of Word2Vec.train -> what to write in w2v
GENSIM_TRAIN_ARGUMENTS: dict[str, str] = {
    "corpus_iterable": "train(corpus): the corpus is the first argument",
    "corpus_file": "train('corpus.txt'): a path is a corpus as it is",
    "sentences": "train(corpus): the corpus is the first argument",
    "total_examples": "nothing: w2v counts the corpus itself (train(corpus, epochs=...))",
    "total_words": "nothing: w2v counts the corpus itself (train(corpus, epochs=...))",
    "start_alpha": "alpha=... in Word2Vec(...) (the rate decays from alpha to min_alpha over each train call)",
    "end_alpha": "min_alpha=... in Word2Vec(...)",
    "word_count": "nothing: w2v counts the words itself",
    "queue_factor": "nothing: w2v has no job queue",
    "report_delay": "nothing: progress=True shows a bar (periodic lines when stderr is not a terminal)",
    "compute_loss": "nothing: the loss of every epoch is always in model.training_log",
}
# gensim's attributes of a Word2Vec model -> what to use in w2v
GENSIM_ATTRIBUTES: dict[str, str] = {
    "build_vocab": "train(corpus), which counts the vocabulary itself (and update_vocab=True to add words later)",
    "get_latest_training_loss": "model.training_log[-1]['loss'], the mean loss per example of the last epoch",
    "syn1neg": "model.weights[1] (the output weights)",
    "syn1": "model.weights[1] (the output weights)",
    "corpus_count": "model.stats['raw_tokens'] (words, not sentences)",
    "corpus_total_words": "model.stats['raw_tokens']",
    "vector_size": "model.config.dim",
    "window": "model.config.window",
}


def check_train_arguments(corpus: Any, unexpected: dict[str, Any]) -> None:
    """Raise ``TypeError`` with the w2v way for ``train``'s arguments that gensim has and w2v has not (and for
    a missing corpus)."""
    for name in unexpected:
        if name in GENSIM_TRAIN_ARGUMENTS:
            raise TypeError(f"train() takes no '{name}' (gensim's argument); in w2v write "
                            f"{GENSIM_TRAIN_ARGUMENTS[name]}")
        raise TypeError(f"train() got an unexpected keyword argument '{name}'")
    if corpus is None:
        raise TypeError("train() needs a corpus: a file path, a list of paths, or a re-iterable of token lists")


# gensim's attributes of KeyedVectors (model.wv) that w2v's have not -> what to use in w2v
GENSIM_KV_ATTRIBUTES: dict[str, str] = {
    "evaluate_word_analogies": "w2v.evaluate.evaluate_analogies(kv, path) (a report, not gensim's tuple; "
                               "restrict_vocab=300000, lowercase=True give gensim's figures)",
    "evaluate_word_pairs": "w2v.evaluate.evaluate_word_pairs(kv, path) (a report, not gensim's tuple; "
                           "restrict_vocab=300000, lowercase=True give gensim's figures)",
    "log_accuracy": "w2v.evaluate.evaluate_analogies(kv, path), whose report has each section's accuracy",
    "log_evaluate_word_pairs": "w2v.evaluate.evaluate_word_pairs(kv, path)",
    "index2word": "kv.index_to_key (gensim 4's name)",
    "index2entity": "kv.index_to_key (gensim 4's name)",
    "vocab": "kv.key_to_index (a word's row; gensim 4's name) and kv.get_count(word) (gensim 4's "
             "get_vecattr(word, 'count'))",
    "get_vecattr": "kv.get_count(word) (the only attribute w2v keeps per word)",
    "word_vec": "kv[word] or kv.get_vector(word, norm=...)",
    "init_sims": "nothing: the unit vectors are computed when a query first needs them (kv.get_normed_vectors())",
    "vectors_norm": "kv.get_normed_vectors()",
    "unit_normalize_all": "kv.get_normed_vectors() (a copy; w2v does not change the vectors in place)",
    "add_vector": "KeyedVectors(words, vectors, counts) with the rows added (w2v's vectors do not grow in place)",
    "add_vectors": "KeyedVectors(words, vectors, counts) with the rows added (w2v's vectors do not grow in place)",
}


def gensim_attribute(owner: str, name: str, table: dict[str, str] = GENSIM_ATTRIBUTES) -> AttributeError:
    """The ``AttributeError`` for ``name``, with the w2v way when ``table`` has it (gensim's name)."""
    if name in table:
        return AttributeError(f"'{owner}' object has no attribute '{name}' (gensim's); in w2v use {table[name]}")
    return AttributeError(f"'{owner}' object has no attribute '{name}'")


def _looks_like_corpus(value: Any) -> bool:
    if isinstance(value, (str, bytes, os.PathLike)):
        return True
    return hasattr(value, "__iter__") and not isinstance(value, dict)


def check_constructor(config: Any, settings: dict[str, Any], known: set[str]) -> None:
    """Raise :class:`ConfigError` with the w2v way when ``Word2Vec(...)`` is called the gensim way: a corpus
    given to the constructor, a gensim name, or a setting that does not exist (with the nearest names)."""
    from .config import Config

    how = "Word2Vec(min_count=5, ...).train(corpus)"
    if config is not None and not isinstance(config, Config):
        if _looks_like_corpus(config):
            raise ConfigError(f"Word2Vec() takes settings, not the corpus (w2v reads it in train): write {how}")
        raise ConfigError(f"Word2Vec()'s first argument is a w2v.Config; got {type(config).__name__}")
    for name in CORPUS_ARGUMENTS:
        if name in settings:
            raise ConfigError(f"'{name}' is gensim's way to give the corpus; w2v reads it in train: write {how}")
    mean = settings.get("cbow_mean")
    if isinstance(mean, int) and not isinstance(mean, bool) and mean in (0, 1):
        raise ConfigError(f"'cbow_mean' is a bool in w2v: write cbow_mean={bool(mean)} (gensim's {mean})")
    for name in settings:
        if name in known:
            continue
        if GENSIM_NAMES.get(name):
            raise ConfigError(f"'{name}' is gensim's name; in w2v write {GENSIM_NAMES[name]}")
        near = difflib.get_close_matches(name, sorted(known), n=3)
        hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else \
            " (w2v.Config lists every setting, `w2v train --help` too)"
        raise ConfigError(f"unknown setting '{name}'{hint}")
