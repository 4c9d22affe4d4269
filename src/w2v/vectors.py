"""KeyedVectors: words, their vectors and counts; similarity queries, analogies, export.

Knows nothing of training (importing it never compiles a Numba kernel).  The queries w2v has follow
gensim's ``KeyedVectors`` in name and semantics (``most_similar``, ``similarity``, ``n_similarity``,
``doesnt_match``, ``rank``, ``distance``, ``closer_than``, ``most_similar_cosmul``, ``get_mean_vector``,
``kv[word]``, ``kv[row]``, ``save_word2vec_format``), so that such code keeps working; gensim's
``evaluate_word_analogies`` and ``evaluate_word_pairs`` are :mod:`w2v.evaluate`'s functions (they return a
report, not gensim's tuples).
"""

from __future__ import annotations

import difflib
import logging
import mmap
import numbers
import os
from typing import Any, Iterable, Iterator, Sequence, Union

import numpy as np

from . import formats
from .errors import ModelFileError, UnknownWordError

log = logging.getLogger(__name__)

Key = Union[str, np.ndarray]
METHODS = ("3cosadd", "3cosmul")
_COSMUL_EPS = 1e-3       # Levy & Goldberg (2014): keeps 3CosMul's denominator away from zero
_SUGGEST_POOL = 100_000  # unknown-word suggestions search only the most frequent words: stays fast
_BLOCK_BYTES = 64 << 20  # a (questions x vocabulary) score block is at most this big
_MAP_BLOCK_BYTES = 16 << 20  # rows of a memory-mapped matrix read per step when computing the norms


def _words_list(what: str, words: object) -> object:
    """``words`` itself, once it is known not to be a str (which would be read one character a word)."""
    if isinstance(words, str):
        raise TypeError(f"{what} takes a list of words; got the str {words[:40]!r} (split it, or wrap it: "
                        f"[{words[:20]!r}])")
    return words


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32.

    A row holding NaN or an infinity (loaded with ``allow_nonfinite``) becomes zero: similar to nothing,
    rather than NaN scores that would sort first.
    """
    x = np.asarray(x, dtype=np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        norms = np.linalg.norm(x, axis=-1, keepdims=True)
        out = x / np.maximum(norms, np.finfo(np.float32).tiny)
    if not np.isfinite(norms).all():
        out[~np.isfinite(out).all(axis=-1)] = 0
    return out


class KeyedVectors:
    """Word vectors with gensim-style queries.

    Parameters
    ----------
    words : the vocabulary, most frequent first (``restrict_vocab`` and evaluation rely on that order).
    vectors : (V, d) float32 (converted if needed; a float32 memmap is used as is).
    counts : (V,) int64 corpus counts, or None when unknown (word2vec C files carry none).
    """

    def __init__(self, words: Sequence[str], vectors: np.ndarray, counts: np.ndarray | None = None):
        words = list(words)
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be a (V, d) array; got shape {vectors.shape}")
        if len(words) != vectors.shape[0]:
            raise ValueError(f"{len(words)} words for {vectors.shape[0]} vectors")
        index = {}
        for i, word in enumerate(words):
            if type(word) is not str:
                if not isinstance(word, str):
                    raise TypeError(f"word {i} must be a str; got {type(word).__name__}")
                words[i] = word = str(word)  # np.str_: stored, and shown in results, as str
            if word in index:
                raise ValueError(f"duplicate word {word!r} (at {index[word]} and {i})")
            index[word] = i
        if counts is not None:
            counts = np.asarray(counts, dtype=np.int64)
            if counts.shape != (len(words),):
                raise ValueError(f"counts must have shape ({len(words)},); got {counts.shape}")
        self.index_to_key: list[str] = words
        self.key_to_index: dict[str, int] = index
        self.counts = counts
        self._vectors = vectors
        self._normed: np.ndarray | None = None
        self._mapped = _is_mapped(vectors)
        self._inv_norms: tuple[np.ndarray, np.ndarray] | None = None
        self._by_length: dict[int, list[str]] | None = None

    def __getattr__(self, name: str):  # only for names not found: gensim's, answered with the w2v way
        from .compat import GENSIM_KV_ATTRIBUTES, gensim_attribute

        raise gensim_attribute(type(self).__name__, name, GENSIM_KV_ATTRIBUTES)

    # -- basic access ---------------------------------------------------------------------------------
    @property
    def vectors(self) -> np.ndarray:
        """(V, d) float32."""
        return self._vectors

    @vectors.setter
    def vectors(self, value: np.ndarray) -> None:
        value = np.asarray(value, dtype=np.float32)
        if value.ndim != 2 or value.shape[0] != len(self.index_to_key):
            raise ValueError(f"vectors must have shape ({len(self.index_to_key)}, d); got {value.shape}")
        self._vectors = value
        self._mapped = _is_mapped(value)
        self.fill_norms(force=True)

    @property
    def vector_size(self) -> int:
        return int(self._vectors.shape[1])

    def __len__(self) -> int:
        return len(self.index_to_key)

    def __contains__(self, word: object) -> bool:
        try:
            return word in self.key_to_index
        except TypeError:  # an unhashable key (a list) is no word
            return False

    def __iter__(self) -> Iterator[str]:
        """The words, most frequent first (as a dict iterates its keys; ``in`` asks about words too)."""
        return iter(self.index_to_key)

    def has_index_for(self, word: str) -> bool:
        """Whether ``word`` has a row (gensim's name; the same as ``word in kv``)."""
        return word in self.key_to_index

    def __repr__(self) -> str:
        return f"KeyedVectors({len(self)} words, {self.vector_size} dims)"

    def get_index(self, word: str | int) -> int:
        """The row of ``word``; :class:`UnknownWordError` (a KeyError) with suggestions if absent.  An int in
        ``[0, len)`` that is not a word is taken as a row itself (as gensim does: ``kv[0]``)."""
        try:
            return self.key_to_index[word]
        except (KeyError, TypeError):
            if isinstance(word, numbers.Integral) and not isinstance(word, bool) and 0 <= word < len(self):
                return int(word)
            if isinstance(word, (bytes, bytearray)):
                raise TypeError(f"words are str, not bytes: decode it first ({bytes(word)[:40]!r}"
                                ".decode('utf-8'))") from None
            raise UnknownWordError(word, self._suggest(word)) from None

    def get_vector(self, word: str, norm: bool = False) -> np.ndarray:
        """The (d,) vector of ``word``, unit-length when ``norm``."""
        i = self.get_index(word)
        return self._unit_of(i) if norm else self._vectors[i]

    def __getitem__(self, key: str | int | Iterable[str | int]) -> np.ndarray:
        """A word (or a row number) -> its (d,) vector; a list of them -> (n, d)."""
        if isinstance(key, (str, bytes, bytearray, numbers.Integral)):
            return self.get_vector(key)
        if not isinstance(key, Iterable):
            raise TypeError(f"a key is a word, a row number or a list of them; got {type(key).__name__}")
        return self._vectors[[self.get_index(w) for w in key]]

    def get_count(self, word: str) -> int | None:
        """The corpus count of ``word``, or None when the vectors came without counts."""
        i = self.get_index(word)
        return None if self.counts is None else int(self.counts[i])

    def get_normed_vectors(self) -> np.ndarray:
        """(V, d) float32 unit rows, computed once and cached (recomputed if ``vectors`` is replaced).

        The queries of memory-mapped vectors never call this (a second (V, d) matrix, in memory); calling
        it makes them use the copy from then on.
        """
        if self._normed is None:
            self._normed = _unit_rows(self._vectors)
        return self._normed

    def fill_norms(self, force: bool = False) -> None:
        """Drop the cached unit rows and norms when ``force`` (call it after changing ``vectors`` in place;
        training a model does it for its ``wv``), so that the next query computes them from the current
        vectors.  gensim's name; the caches are filled lazily by the first query that needs them."""
        if force:
            self._normed = None
            self._inv_norms = None

    # Memory-mapped vectors (KeyedVectors.load(path, mmap=True)) are queried without the (V, d) unit-row
    # copy: a query multiplies the mapped rows by the unit query in place and scales the (V,) products by
    # 1/norm, precomputed once.  Extra memory: O(V), not O(V d).  In memory, the cached unit rows are used as
    # before.  Measured on 1M x 300 in benchmarks/serve_query.py (RESULTS.md): ~0.1 s a query, 1.1 GB less.
    def _bounded(self) -> bool:
        return self._mapped and self._normed is None

    def _unit_of(self, rows: int | Sequence[int] | np.ndarray) -> np.ndarray:
        """Unit vectors of ``rows`` (an index: (d,); indices: (n, d)): get_normed_vectors()[rows]'s values."""
        if self._bounded():
            return _unit_rows(self._vectors[rows])
        return self.get_normed_vectors()[rows]

    def _inverse_norms(self) -> tuple[np.ndarray, np.ndarray]:
        """((V,) float32 1/norm of each row (0 where not finite), (k,) int64 those rows); computed once."""
        if self._inv_norms is None:
            v = self._vectors
            inv = np.empty(len(v), dtype=np.float32)
            step = max(1, _MAP_BLOCK_BYTES // max(1, 4 * v.shape[1]))
            with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
                for s in range(0, len(v), step):
                    norms = np.linalg.norm(v[s:s + step], axis=-1)  # as _unit_rows computes them
                    inv[s:s + step] = 1 / np.maximum(norms, np.finfo(np.float32).tiny)
            bad = np.flatnonzero(~np.isfinite(inv) | (inv == 0))  # NaN/inf rows: similar to nothing
            inv[bad] = 0
            self._inv_norms = inv, bad  # one assignment: a concurrent query sees all of it or nothing
        return self._inv_norms

    def _cosines(self, query: np.ndarray, limit: int) -> np.ndarray:
        """(limit,) float32 cosines of a (d,) unit ``query`` with the first ``limit`` rows."""
        if not self._bounded():
            return self.get_normed_vectors()[:limit] @ query
        inv, bad = self._inverse_norms()
        # one matrix-vector product over the mapped rows, read in place: memory-bound, ~100 ms a GB here
        # (in blocks it was 2-3x slower: each BLAS call wakes its threads)
        with np.errstate(invalid="ignore", over="ignore"):  # rows of NaN/inf (allow_nonfinite): zeroed below
            out = self._vectors[:limit] @ query                          # (limit,)
            out *= inv[:limit]
        out[bad[bad < limit]] = 0
        return out

    def _suggest(self, word: object) -> list[str]:
        if not isinstance(word, str) or not self.index_to_key:
            return []
        if self._by_length is None:
            by_length: dict[int, list[str]] = {}  # built aside: a concurrent caller never sees half of it
            for w in self.index_to_key[:_SUGGEST_POOL]:
                by_length.setdefault(len(w), []).append(w)
            self._by_length = by_length
        lengths = range(max(0, len(word) - 2), len(word) + 3)  # similar lengths only: stays fast
        candidates = [w for n in lengths for w in self._by_length.get(n, ())]
        found = difflib.get_close_matches(word, candidates, n=3)
        for variant in (word.upper(), word.capitalize(), word.lower()):  # case slips come first, lower first
            if variant != word and variant in self.key_to_index:
                if variant in found:
                    found.remove(variant)
                found.insert(0, variant)
        return found[:3]

    # -- queries --------------------------------------------------------------------------------------
    def _limit(self, restrict_vocab: int | None) -> int:
        if restrict_vocab is None:
            return len(self)
        if not isinstance(restrict_vocab, numbers.Integral) or isinstance(restrict_vocab, bool) \
                or restrict_vocab < 1:
            raise ValueError(f"'restrict_vocab' must be None or an int >= 1; got {restrict_vocab!r}")
        return min(int(restrict_vocab), len(self))

    def _top(self, scores: np.ndarray, topn: int, exclude: Iterable[int]) -> list[tuple[str, float]]:
        """The ``topn`` best (word, score) of ``scores`` (over the first rows), skipping ``exclude``."""
        exclude = {i for i in exclude if i < len(scores)}
        k = min(len(scores), topn + len(exclude))
        if k <= 0:
            return []
        best = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.index_to_key[i], float(scores[i])) for i in best if i not in exclude][:topn]

    def _terms(self, items, weight: float) -> tuple[list[np.ndarray], list[int]]:
        if items is None:
            return [], []
        if isinstance(items, (str, np.ndarray, numbers.Integral)):
            items = [items]
        vecs, used = [], []
        for item in items:
            w = weight
            if isinstance(item, tuple) and len(item) == 2 and not isinstance(item, str):
                item, w = item[0], weight * float(item[1])
            if isinstance(item, (str, bytes, numbers.Integral)):  # a word (or a row number, as gensim)
                i = self.get_index(item)
                used.append(i)
                vecs.append(w * self._unit_of(i))
            else:
                vec = self._vector_arg(item, "a query vector")
                if not np.any(vec) or not np.all(np.isfinite(vec)):
                    raise ValueError("a query vector is zero or not finite: no word is nearer to it than another")
                vecs.append(w * vec)
        return vecs, used

    def _vector_arg(self, item: Any, what: str) -> np.ndarray:
        """``item`` given as a (d,) vector, float32; a ValueError naming ``what`` when its shape is not that."""
        vec = np.asarray(item, dtype=np.float32)
        if vec.shape != (self.vector_size,):
            raise ValueError(f"{what} must have shape ({self.vector_size},); got {vec.shape}")
        return vec

    def most_similar(self, positive: Key | Sequence | None = None, negative: Key | Sequence | None = None,
                     topn: int | None = 10, restrict_vocab: int | None = None):
        """The words nearest by cosine to the mean of the positive minus the negative unit vectors.

        ``positive``/``negative``: a word, a vector, or a list of words, vectors or (word, weight) pairs.
        Words given are excluded from the results.  Only the first ``restrict_vocab`` (most frequent) rows
        are searched.  Returns a list of (word, cosine), best first; with ``topn=None`` the (n,) array of
        cosines of every searched row instead (as gensim).
        """
        pos, used_pos = self._terms(positive, 1.0)
        neg, used_neg = self._terms(negative, -1.0)
        if not pos and not neg:
            raise ValueError("most_similar needs at least one positive or negative word or vector")
        limit = self._limit(restrict_vocab)
        query = _unit_rows(np.mean(pos + neg, axis=0))                   # (d,)
        if pos and neg and not np.any(query):
            raise ValueError("the positive and negative terms cancel out: the query is a zero vector, to which "
                             "no word is nearer than another")
        scores = self._cosines(query, limit)                             # (limit,)
        if topn is None:
            return scores
        return self._top(scores, int(topn), used_pos + used_neg)

    def most_similar_cosmul(self, positive: Key | Sequence | None = None, negative: Key | Sequence | None = None,
                            topn: int | None = 10, restrict_vocab: int | None = None):
        """The words best by 3CosMul (Levy & Goldberg 2014) over any terms, gensim's name: the product of their
        cosines with the positive terms over the product of those with the negative terms (+ 1e-3, the
        paper's; gensim adds 1e-6), each cosine shifted to [0, 1] as ``(1 + cos) / 2``.

        ``most_similar_cosmul(positive=[b, c], negative=[a])`` is ``analogy(a, b, c, method="3cosmul")``.
        Terms are words or vectors (a vector counts by its direction), as in :meth:`most_similar`; words given
        are excluded from the results.  Returns a list of (word, score), best first; with ``topn=None`` the
        (n,) array of every searched row's score.
        """
        for terms in (positive, negative):
            if isinstance(terms, (list, tuple)) and any(isinstance(t, tuple) for t in terms):
                raise TypeError("most_similar_cosmul takes words or vectors, not (word, weight) pairs: a product "
                                "of cosines has no weights (most_similar takes them)")
        pos, used_pos = self._terms(positive, 1.0)
        neg, used_neg = self._terms(negative, 1.0)
        if not pos and not neg:
            raise ValueError("most_similar_cosmul needs at least one positive or negative word or vector")
        limit = self._limit(restrict_vocab)
        pos, neg = ([_shift(self._cosines(_unit_rows(v), limit)) for v in terms] for terms in (pos, neg))
        scores = _cosmul(pos, neg)
        if topn is None:
            return scores
        return self._top(scores, int(topn), used_pos + used_neg)

    def get_mean_vector(self, keys: Sequence, weights: Sequence[float] | np.ndarray | None = None,
                        pre_normalize: bool = True, post_normalize: bool = False,
                        ignore_missing: bool = True) -> np.ndarray:
        """The weighted mean (d,) of the vectors of ``keys`` (words, row numbers or (d,) vectors), gensim's
        name and semantics: each word's unit vector (its raw vector without ``pre_normalize``) times its
        weight (default 1), summed, over the sum of the weights' absolute values; scaled to unit length with
        ``post_normalize``.  A word not in the vocabulary is skipped (``ignore_missing``) or an
        :class:`~w2v.UnknownWordError`; when none is known, that is an error too (gensim returns zeros).
        """
        keys = list(_words_list("get_mean_vector", keys))
        w = np.ones(len(keys)) if weights is None else np.asarray(weights, dtype=np.float64)
        if not keys or w.shape != (len(keys),) or not np.all(np.isfinite(w)):
            raise ValueError(f"get_mean_vector needs a non-empty list of keys and, if given, one finite weight "
                             f"for each; got {len(keys)} keys and weights of shape {w.shape}")
        total, weight = np.zeros(self.vector_size), 0.0
        for key, k in zip(keys, w):
            if isinstance(key, (str, bytes, numbers.Integral)):
                known = 0 <= key < len(self) if isinstance(key, numbers.Integral) else key in self
                if not known and ignore_missing:
                    continue
                i = self.get_index(key)
                vec = self._unit_of(i) if pre_normalize else self._vectors[i]
            else:
                vec = self._vector_arg(key, "a vector among the keys")
            total += k * vec
            weight += abs(k)
        if weight == 0:
            raise UnknownWordError(f"get_mean_vector: none of the {len(keys)} keys is in the vocabulary (or "
                                   "every weight is 0): there is no mean")
        mean = (total / weight).astype(np.float32)
        return _unit_rows(mean) if post_normalize else mean

    def similar_by_word(self, word: str, topn: int | None = 10, restrict_vocab: int | None = None):
        """The ``topn`` words nearest to ``word`` (itself excluded)."""
        return self.most_similar(positive=[word], topn=topn, restrict_vocab=restrict_vocab)

    def similar_by_vector(self, vector: np.ndarray, topn: int | None = 10, restrict_vocab: int | None = None):
        """The ``topn`` words nearest by cosine to a (d,) vector."""
        return self.most_similar(positive=[np.asarray(vector)], topn=topn, restrict_vocab=restrict_vocab)

    def similarity(self, w1: str, w2: str) -> float:
        """Cosine similarity of two words."""
        return float(self._unit_of(self.get_index(w1)) @ self._unit_of(self.get_index(w2)))

    def distance(self, w1: str, w2: str) -> float:
        """Cosine distance, ``1 - similarity``."""
        return 1.0 - self.similarity(w1, w2)

    def n_similarity(self, ws1: Sequence[str], ws2: Sequence[str]) -> float:
        """Cosine between the means of two word sets' vectors (gensim's definition)."""
        _words_list("n_similarity", ws1)
        _words_list("n_similarity", ws2)
        if not len(ws1) or not len(ws2):
            raise ValueError("n_similarity needs at least one word in each list")
        m1 = _unit_rows(self[list(ws1)].mean(axis=0))
        m2 = _unit_rows(self[list(ws2)].mean(axis=0))
        return float(m1 @ m2)

    def doesnt_match(self, words: Sequence[str]) -> str:
        """The word of ``words`` furthest from their mean unit vector (unknown words are an error)."""
        words = list(_words_list("doesnt_match", words))
        if not words:
            raise ValueError("doesnt_match needs at least one word")
        vecs = self._unit_of([self.get_index(w) for w in words])  # (n, d)
        mean = _unit_rows(vecs.mean(axis=0))
        return words[int(np.argmin(vecs @ mean))]

    def _closer(self, w1: str, w2: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows closer to ``w1`` than ``w2`` is, ``w1`` itself not among them; every row's cosine with ``w1``)."""
        i1, i2 = self.get_index(w1), self.get_index(w2)
        sims = self._cosines(self._unit_of(i1), len(self))
        closer = sims > sims[i2]
        closer[i1] = False
        return np.flatnonzero(closer), sims

    def rank(self, w1: str, w2: str) -> int:
        """1 + the number of words closer to ``w1`` than ``w2`` is (``w1`` itself not counted)."""
        return len(self._closer(w1, w2)[0]) + 1

    def closer_than(self, w1: str, w2: str) -> list[str]:
        """The words closer (by cosine) to ``w1`` than ``w2`` is, nearest first, ``w1`` itself not among them
        (gensim's name; it gives the same words in vocabulary order)."""
        rows, sims = self._closer(w1, w2)
        return [self.index_to_key[i] for i in rows[np.argsort(-sims[rows], kind="stable")]]

    words_closer_than = closer_than  # gensim's other name for it

    def similar_by_key(self, key: str, topn: int | None = 10, restrict_vocab: int | None = None):
        """The ``topn`` words nearest to ``key`` (gensim 4's name for :meth:`similar_by_word`)."""
        return self.similar_by_word(key, topn=topn, restrict_vocab=restrict_vocab)

    def distances(self, word_or_vector: Key, other_words: Sequence[str] = ()) -> np.ndarray:
        """Cosine distances (``1 - cosine``) from a word or a (d,) vector to each of ``other_words`` (every word,
        in vocabulary order, when empty), as gensim gives them."""
        if isinstance(word_or_vector, (str, bytes, numbers.Integral)):
            query = self._unit_of(self.get_index(word_or_vector))
        else:
            query = _unit_rows(self._vector_arg(word_or_vector, "the vector"))
        others = list(_words_list("distances", other_words))
        if not others:
            return 1 - self._cosines(query, len(self))
        return 1 - self._unit_of([self.get_index(w) for w in others]) @ query

    def most_similar_to_given(self, key: str, keys: Sequence[str]) -> str:
        """The word of ``keys`` nearest by cosine to ``key`` (the first of equals)."""
        keys = list(_words_list("most_similar_to_given", keys))
        if not keys:
            raise ValueError("most_similar_to_given needs at least one word to choose from")
        return keys[int(np.argmin(self.distances(key, keys)))]

    def relative_cosine_similarity(self, wa: str, wb: str, topn: int = 10) -> float:
        """The cosine of ``wa`` and ``wb`` over the sum of ``wa``'s ``topn`` nearest cosines (Leeuwenberg et
        al., 2016: above 1/topn, ``wb`` is nearer than an average one of ``wa``'s nearest words)."""
        nearest = self.similar_by_word(wa, topn=topn)
        if not nearest:
            raise ValueError(f"relative_cosine_similarity needs words near {wa!r}: the vocabulary has no other")
        return self.similarity(wa, wb) / sum(cosine for _, cosine in nearest)

    @staticmethod
    def cosine_similarities(vector_1: np.ndarray, vectors_all: np.ndarray) -> np.ndarray:
        """Cosines of a (d,) vector with each row of a (n, d) array (gensim's)."""
        vector_1, vectors_all = np.asarray(vector_1, dtype=np.float32), np.asarray(vectors_all, dtype=np.float32)
        if vectors_all.ndim != 2 or vector_1.shape != vectors_all.shape[1:]:
            raise ValueError(f"cosine_similarities takes a (d,) vector and a (n, d) array; got {vector_1.shape} "
                             f"and {vectors_all.shape}")
        return _unit_rows(vectors_all) @ _unit_rows(vector_1)

    def analogy(self, a: str, b: str, c: str, topn: int = 10, method: str = "3cosadd",
                restrict_vocab: int | None = None) -> list[tuple[str, float]]:
        """"``a`` is to ``b`` as ``c`` is to ?": the ``topn`` best answers with their scores.

        3CosAdd (Mikolov 2013a): cosine with ``b - a + c`` (unit vectors; the same as
        ``most_similar(positive=[b, c], negative=[a])``).  3CosMul (Levy & Goldberg 2014):
        ``cos'(x,b) * cos'(x,c) / (cos'(x,a) + 1e-3)`` with cosines shifted to [0, 1]:
        ``cos' = (1 + cos) / 2``.  The three input words are never answers.
        """
        _check_method(method)
        ia, ib, ic = self.get_index(a), self.get_index(b), self.get_index(c)
        limit = self._limit(restrict_vocab)
        ua, ub, uc = (self._unit_of(i) for i in (ia, ib, ic))
        if method == "3cosadd":
            scores = self._cosines(_unit_rows(ub - ua + uc), limit)
        else:
            sa, sb, sc = (_shift(self._cosines(u, limit)) for u in (ua, ub, uc))
            scores = _cosmul([sb, sc], [sa])
        return self._top(scores, int(topn), (ia, ib, ic))

    def analogies(self, questions: Sequence[tuple[str, str, str]], method: str = "3cosadd",
                  restrict_vocab: int | None = None) -> list[str]:
        """The best answer to each "a is to b as c is to ?" question, computed in blocks of matrix products.

        The same answers as ``analogy(a, b, c, topn=1)`` for each question, much faster for many.
        """
        if isinstance(questions, tuple) and len(questions) == 3 and all(isinstance(w, str) for w in questions):
            raise TypeError(f"analogies takes a list of (a, b, c) questions; got one question {questions!r}: "
                            "pass [question], or use analogy(a, b, c)")
        for q in questions if isinstance(questions, Sequence) else ():
            if isinstance(q, str) or len(q) != 3:
                raise TypeError(f"each question is three words (a, b, c); got {q!r}")
        idx = np.array([[self.get_index(w) for w in q] for q in questions], dtype=np.int64).reshape(-1, 3)
        best = self._analogy_indices(idx, method, self._limit(restrict_vocab))
        return [self.index_to_key[i] for i in best]

    def _analogy_indices(self, idx: np.ndarray, method: str, limit: int,
                         fold: np.ndarray | None = None) -> np.ndarray:
        """Best answers (n,) int64 for questions ``idx`` (n, 3) of rows (a, b, c), over the first ``limit``.

        ``fold``: optional (limit,) int64 id of each searched row's case-folded form; a candidate whose fold
        equals an input's fold is excluded too (case-insensitive evaluation, as the C tool and gensim).
        """
        _check_method(method)
        normed = self.get_normed_vectors()
        searched = normed[:limit]                                        # (limit, d)
        n = len(idx)
        out = np.empty(n, dtype=np.int64)
        # a (questions x searched) block of scores; 3CosMul holds five such arrays at once, 3CosAdd two
        block = int(max(1, min(4096, _BLOCK_BYTES // ((4 if method == "3cosadd" else 10) * max(limit, 1)))))
        shared = None
        if method == "3cosmul":
            # 3CosMul needs each question word's cosine with every searched row; questions share words
            # (the Google set has ~900 distinct), so compute those rows once when they fit in memory.
            uniq, inv = np.unique(idx, return_inverse=True)
            if len(uniq) * limit * 4 <= 4 * _BLOCK_BYTES:
                shared = _shifted_cosines(normed[uniq], searched), inv.reshape(idx.shape)
        for s in range(0, n, block):
            q = idx[s:s + block]                                         # (B, 3)
            rows = np.arange(len(q))
            if method == "3cosadd":
                scores = (normed[q[:, 1]] - normed[q[:, 0]] + normed[q[:, 2]]) @ searched.T  # (B, limit)
            else:
                if shared is not None:
                    shifted, inv = shared[0], shared[1][s:s + block]
                else:
                    uniq, inv = np.unique(q, return_inverse=True)
                    shifted, inv = _shifted_cosines(normed[uniq], searched), inv.reshape(q.shape)
                scores = _cosmul([shifted[inv[:, 1]], shifted[inv[:, 2]]], [shifted[inv[:, 0]]])  # (B, limit)
            for j in range(3):
                inside = q[:, j] < limit
                scores[rows[inside], q[inside, j]] = -np.inf
                if fold is not None and inside.any():
                    qf = np.full(len(q), -1, dtype=np.int64)
                    qf[inside] = fold[q[inside, j]]
                    scores[fold[None, :] == qf[:, None]] = -np.inf
            out[s:s + block] = scores.argmax(axis=1)
        return out

    # -- I/O ------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write a native vectors file (atomic): arrays "vectors" and "counts" (when known)."""
        arrays = {"vectors": self._vectors}
        if self.counts is not None:
            arrays["counts"] = self.counts
        formats.save_native(path, words=self.index_to_key, arrays=arrays,
                            header={"kind": "vectors", "vocab_size": len(self),
                                    "vector_size": self.vector_size})

    def save_word2vec_format(self, path: str | os.PathLike, fvocab: str | os.PathLike | None = None,
                             binary: bool | None = None) -> None:
        """Write the word2vec C format, readable by the C tool and gensim (atomically; compressed when the name
        ends in .gz, .bz2 or .xz).

        ``binary``: None (the default) decides by the name: text for ``.txt`` and ``.vec``, binary otherwise
        (gensim writes text unless told).  ``fvocab``: also write the counts there, a line "word count" each
        (gensim's vocabulary file, the C tool's ``-save-vocab``); the two files appear together.  The
        arguments are gensim's, in its order.
        """
        _check_binary_argument(fvocab, binary)
        if binary is None:
            binary = formats.binary_for_name(path)
        if fvocab is None:
            formats.save_word2vec(path, self.index_to_key, self._vectors, binary=binary)
            return
        if self.counts is None:
            raise ValueError("these vectors carry no counts to write to fvocab (a word2vec C file has none; "
                             "pass fvocab= when loading it, or use a model trained by w2v)")
        from .outputs import check_outputs

        check_outputs([("path", path), ("fvocab", fvocab)])  # (the same file twice would keep the counts alone)
        with formats.written_together():
            formats.save_word2vec(path, self.index_to_key, self._vectors, binary=binary)
            formats.save_counts(fvocab, self.index_to_key, self.counts)

    @classmethod
    def load_word2vec_format(cls, path: str | os.PathLike, fvocab: str | os.PathLike | None = None,
                             binary: bool | None = None, encoding: str = "utf8", unicode_errors: str = "replace",
                             limit: int | None = None, datatype: Any = np.float32, no_header: bool = False, *,
                             allow_nonfinite: bool = False) -> "KeyedVectors":
        """Read a word2vec C file (text or binary, guessed when ``binary`` is None; gz/bz2/xz too).

        The arguments are gensim's, in its order: ``fvocab`` a vocabulary file of lines "word count" giving
        the counts; ``encoding`` UTF-8 only; ``unicode_errors`` what to do with words that are not UTF-8:
        "replace" (w2v's default: replacement characters, a warning), "strict" (an error) or "ignore" (their
        bad bytes dropped); ``limit`` the first vectors only (None or 0: all, as in gensim); ``datatype``
        float32 only (w2v keeps float32 vectors); ``no_header`` for a text file without its first line
        "vocab_size dims" (GloVe's).  ``allow_nonfinite`` accepts NaN and infinite values.
        """
        _check_binary_argument(fvocab, binary)
        if not isinstance(encoding, str) or encoding.lower().replace("-", "").replace("_", "") != "utf8":
            raise ValueError(f"encoding {encoding!r}: w2v reads UTF-8 words (convert the file, e.g. with iconv, "
                             "or read it with unicode_errors='replace')")
        if np.dtype(datatype) != np.float32:
            raise ValueError(f"datatype {np.dtype(datatype)}: w2v keeps vectors in float32 only")
        words, vectors, _ = formats.load_word2vec(path, binary=binary, limit=limit or None,
                                                  allow_nonfinite=allow_nonfinite, no_header=no_header,
                                                  unicode_errors=unicode_errors)
        counts = None if fvocab is None else formats.load_counts(fvocab, words, unicode_errors)
        return cls(words, vectors, counts)

    @classmethod
    def load(cls, path: str | os.PathLike, *, limit: int | None = None, mmap: bool = False,
             allow_nonfinite: bool = False) -> "KeyedVectors":
        """Read vectors from a native model, vectors or checkpoint file (a checkpoint's vectors are those
        of the training so far), or a word2vec C file (guessed from its bytes).

        ``mmap`` maps a native file's vectors read-only instead of reading them (native files only).
        ``allow_nonfinite`` accepts vectors holding NaN or infinities (a :class:`ModelFileError` otherwise).
        Any damaged, truncated or foreign file raises a :class:`ModelFileError` (a missing one
        :class:`w2v.errors.ModelFileNotFoundError`), never another exception.
        """
        path = os.fspath(path)
        with formats.open_file(path) as f:
            head = f.read(64)
        kind = formats.sniff(head)
        if kind == "native":
            info = formats.native_info(path)
            found = info["header"].get("kind")
            if found not in ("vectors", "model", "checkpoint") or "vectors" not in info["arrays"]:
                raise ModelFileError(f"{path}: a native w2v file of kind {found!r} with arrays "
                                     f"{sorted(info['arrays'])}; expected kind 'vectors', 'model' or 'checkpoint' "
                                     f"with a 'vectors' array")
            names = [n for n in ("vectors", "counts") if n in info["arrays"]]
            native = formats.load_native(path, mmap=mmap, limit=limit, names=names)
            vectors = native.arrays["vectors"]
            if vectors.ndim != 2 or vectors.shape[0] != len(native.words) or vectors.dtype.kind != "f":
                raise ModelFileError(f"{path}: corrupt file: 'vectors' has shape {vectors.shape} and dtype "
                                     f"{vectors.dtype} for {len(native.words)} words (expected floats)")
            counts = native.arrays.get("counts")
            if counts is not None and counts.dtype.kind not in "iu":
                raise ModelFileError(f"{path}: corrupt file: 'counts' has dtype {counts.dtype}; expected "
                                     "integers")
            if not allow_nonfinite:
                formats.check_finite(path, native.words, vectors)
            try:
                return cls(native.words, vectors, counts)
            except (ValueError, TypeError) as e:  # duplicate words, counts of the wrong shape
                raise ModelFileError(f"{path}: corrupt file: {e}") from None
        if kind in formats.COMPRESSIONS or kind == "word2vec":
            if mmap:
                log.warning("%s: mmap applies to native w2v files only; this word2vec file is read into "
                            "memory", path)
            return cls.load_word2vec_format(path, limit=limit, allow_nonfinite=allow_nonfinite)
        raise ModelFileError(f"{path}: cannot tell the format: {formats.describe_foreign(head)}")


def _check_binary_argument(fvocab: object, binary: object) -> None:
    """``fvocab`` comes before ``binary``, as in gensim: a bool there was meant as ``binary``."""
    if isinstance(fvocab, bool):
        raise TypeError("the second argument is fvocab (a vocabulary file), as in gensim: pass binary=... by name")
    if binary is not None and not isinstance(binary, (bool, np.bool_)):
        raise TypeError(f"binary must be True, False or None; got {binary!r}")


def _is_mapped(a: object) -> bool:
    """Whether ``a`` is (a view of) a memory-mapped file, however deep the chain of views."""
    while a is not None:
        if isinstance(a, (np.memmap, mmap.mmap)):
            return True
        a = getattr(a, "base", None)
    return False


def _shifted_cosines(queries: np.ndarray, searched: np.ndarray) -> np.ndarray:
    """(U, limit) cosines of unit ``queries`` (U, d) with unit ``searched`` (limit, d), shifted to [0, 1]."""
    return _shift(queries @ searched.T)


def _shift(cosines: np.ndarray) -> np.ndarray:
    """Cosines shifted to [0, 1], ``(1 + cos) / 2``, as 3CosMul takes them (Levy & Goldberg 2014), in place."""
    cosines += 1
    cosines *= 0.5
    return cosines


def _cosmul(positive: Sequence[np.ndarray], negative: Sequence[np.ndarray]) -> np.ndarray:
    """3CosMul's scores (Levy & Goldberg 2014) from the shifted cosines ``(1 + cos) / 2`` of the candidates with
    each positive and each negative term (arrays of one shape): the positives' product over the negatives'
    product plus 1e-3.  A new array; with no positive term the numerator is 1, with no negative the
    denominator 1 + 1e-3 (gensim's convention)."""
    out = np.array(positive[0] if positive else np.ones_like(negative[0]), dtype=np.float32)
    for factor in positive[1:]:
        out *= factor
    below = np.array(negative[0], dtype=np.float32) if negative else np.float32(1)
    for factor in negative[1:]:
        below *= factor
    out /= below + _COSMUL_EPS
    return out


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"'method' must be one of {', '.join(map(repr, METHODS))}; got {method!r}")
