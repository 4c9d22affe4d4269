"""The explorer's queries, as plain dicts ready for JSON: what ``w2v serve`` answers, without the HTTP.

Every argument here may come from a stranger's browser, so each one is checked against a bound before any
work (:data:`LIMITS`), and a mistake is an :class:`ExploreError` (a ``ValueError``) that says which
parameter, its range and the value given.  A word outside the vocabulary is the
:class:`w2v.errors.UnknownWordError` of :class:`~w2v.vectors.KeyedVectors`, with its spelling suggestions.

Queries go through :class:`~w2v.vectors.KeyedVectors`, so memory-mapped vectors are never copied whole (a
neighbours query holds O(V) floats, not O(V d)); the 2-D map is a PCA of at most ``MAX_MAP + 1`` unit vectors
(:func:`w2v.plot.pca_2d`, the same projection as ``w2v plot``).  Knows nothing of training or of HTTP.
"""

from __future__ import annotations

import bisect
import functools
from typing import Any

import numpy as np

from .errors import UnknownWordError, W2VError
from .plot import default_words, pca_2d
from .vectors import METHODS, KeyedVectors

# Bounds on what one request may ask for: each keeps a query's time and answer small whatever is sent.
MAX_WORD_CHARS = 500        # longer than any real token (the C tool cuts words at 100 bytes)
MAX_TOPN = 100              # neighbours or analogy answers per query
DEFAULT_TOPN = 10
MAX_MAP = 100               # neighbours drawn on the 2-D map, the query word aside
DEFAULT_MAP = 25
MAX_COMPLETIONS = 50        # completions per prefix
DEFAULT_COMPLETIONS = 10
LIMITS = {"word_chars": MAX_WORD_CHARS, "topn": MAX_TOPN, "map_neighbours": MAX_MAP,
          "completions": MAX_COMPLETIONS}
_DIGITS = 6                 # decimals of the cosines and coordinates sent: float32 holds about seven
# words whose nearest MAX_TOPN are kept: a search is a pass over the whole matrix (~0.1 s at 1M x 300), and
# the page asks for a word's neighbours and then its map, and comes back to words
NEAREST_CACHE = 256


class ExploreError(W2VError, ValueError):
    """A query parameter out of its bounds or of the wrong kind; the message names it."""


def check_word(value: Any, name: str = "word") -> str:
    """``value`` as a word to look up: a non-empty string of at most :data:`MAX_WORD_CHARS` characters."""
    if value is None:
        raise ExploreError(f"'{name}' is required")
    if not isinstance(value, str) or not value:
        raise ExploreError(f"'{name}' must be a non-empty word; got {value!r}")
    if len(value) > MAX_WORD_CHARS:
        raise ExploreError(f"'{name}' must be at most {MAX_WORD_CHARS} characters; got {len(value)}")
    return value


def check_int(value: Any, name: str, high: int, default: int) -> int:
    """``value`` (None, an int, or its decimal text) as an int in [1, ``high``]; None gives ``default``."""
    if value is None:
        return default
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 9):
            raise ExploreError(f"'{name}' must be an int in [1, {high}]; got {value[:20]!r}")
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise ExploreError(f"'{name}' must be an int in [1, {high}]; got {value!r}")
    return value


def _r(x: float) -> float:
    return round(float(x), _DIGITS)


class Explorer:
    """The queries of the explorer over one :class:`~w2v.vectors.KeyedVectors`; safe to share by threads.

    Parameters
    ----------
    kv : the vectors (memory-mapped ones stay mapped).
    name : what the page calls the model (a file's base name: never a path the client could use).
    """

    def __init__(self, kv: KeyedVectors, name: str = ""):
        self.kv = kv
        self.name = name
        words = kv.index_to_key
        # completion: the vocabulary sorted, and each sorted word's frequency rank; a prefix is a range
        order = sorted(range(len(words)), key=words.__getitem__)
        self._sorted = [words[i] for i in order]
        self._rank = np.asarray(order, dtype=np.int64)   # (V,) row of each sorted word; lower = more frequent
        # examples shown on the empty page; default_words reads the unit rows of at most the first 400
        # words, so give it those only (a memory-mapped model is not normalised whole for them)
        head = min(len(words), 400)
        self.examples = default_words(KeyedVectors(words[:head], np.array(kv.vectors[:head]))) if head else []
        self._nearest = functools.lru_cache(maxsize=NEAREST_CACHE)(self._search)

    def _search(self, word: str) -> tuple[tuple[str, float], ...]:
        """The ``max(MAX_TOPN, MAX_MAP)`` nearest words of ``word`` (which is in the vocabulary), best first."""
        return tuple(self.kv.most_similar(word, topn=max(MAX_TOPN, MAX_MAP)))

    def warm(self) -> None:
        """Do the one-off work now rather than in the first request: the 1/norm of every row (one pass over a
        memory-mapped file) and the spelling-suggestion index."""
        if len(self.kv):
            self.kv.most_similar(self.kv.index_to_key[0], topn=1)
            try:
                self.kv.get_index("\0")  # builds the index of the suggestions to an unknown word
            except UnknownWordError:
                pass

    # -- the queries ----------------------------------------------------------------------------------
    def info(self) -> dict:
        kv = self.kv
        return {"model": self.name, "words": len(kv), "dims": kv.vector_size, "counts": kv.counts is not None,
                "examples": self.examples, "methods": list(METHODS), "limits": dict(LIMITS)}

    def _count(self, i: int) -> int | None:
        return None if self.kv.counts is None else int(self.kv.counts[i])

    def _entry(self, word: str, score: float, key: str = "cosine") -> dict:
        return {"word": word, key: _r(score), "count": self._count(self.kv.key_to_index[word])}

    def complete(self, prefix: Any, limit: Any = None) -> dict:
        """The most frequent words starting with ``prefix`` (case-sensitive), most frequent first."""
        prefix = check_word(prefix, "prefix")
        limit = check_int(limit, "limit", MAX_COMPLETIONS, DEFAULT_COMPLETIONS)
        lo = bisect.bisect_left(self._sorted, prefix)
        last = ord(prefix[-1])
        if last < 0x10FFFF:  # the words with this prefix sort before the prefix with its last letter bumped
            hi = bisect.bisect_left(self._sorted, prefix[:-1] + chr(last + 1), lo)
        else:
            hi = lo
            while hi < len(self._sorted) and self._sorted[hi].startswith(prefix):
                hi += 1
        ranks = self._rank[lo:hi]                        # may be large (a one-letter prefix): O(range) only
        if len(ranks) > limit:
            ranks = ranks[np.argpartition(ranks, limit - 1)[:limit]]
        words = [self.kv.index_to_key[i] for i in np.sort(ranks)]
        return {"prefix": prefix, "words": words, "matches": int(hi - lo)}

    def neighbours(self, word: Any, topn: Any = None) -> dict:
        """``word``'s nearest words by cosine, best first."""
        word = check_word(word)
        topn = check_int(topn, "topn", MAX_TOPN, DEFAULT_TOPN)
        i = self.kv.get_index(word)  # an unknown word raises here, before the cache
        found = self._nearest(word)[:topn]
        return {"word": word, "count": self._count(i), "neighbours": [self._entry(w, s) for w, s in found]}

    def similarity(self, a: Any, b: Any) -> dict:
        """The cosine of two words."""
        a, b = check_word(a, "a"), check_word(b, "b")
        return {"a": a, "b": b, "cosine": _r(self.kv.similarity(a, b))}

    def analogy(self, a: Any, b: Any, c: Any, topn: Any = None, method: Any = None) -> dict:
        """"``a`` is to ``b`` as ``c`` is to ?" (the three words are never answers)."""
        a, b, c = check_word(a, "a"), check_word(b, "b"), check_word(c, "c")
        topn = check_int(topn, "topn", MAX_TOPN, DEFAULT_TOPN)
        method = METHODS[0] if method is None else method
        if method not in METHODS:
            raise ExploreError(f"'method' must be one of {', '.join(METHODS)}; got {str(method)[:20]!r}")
        found = self.kv.analogy(a, b, c, topn=topn, method=method)
        return {"a": a, "b": b, "c": c, "method": method,
                "answers": [self._entry(w, s, "score") for w, s in found]}

    def map(self, word: Any, n: Any = None) -> dict:
        """``word`` and its ``n`` nearest words on the first two principal components of their unit vectors.

        ``points[0]`` is ``word`` itself; ``explained``: the fraction of the neighbourhood's variance each
        axis shows.
        """
        word = check_word(word)
        n = check_int(n, "n", MAX_MAP, DEFAULT_MAP)
        i = self.kv.get_index(word)
        found = self._nearest(word)[:n]
        rows = [i] + [self.kv.key_to_index[w] for w, _ in found]
        units = np.stack([self.kv.get_vector(self.kv.index_to_key[r], norm=True) for r in rows])  # (n+1, d)
        coords, explained = pca_2d(units)
        cosines = [1.0] + [s for _, s in found]
        points = [{"word": self.kv.index_to_key[r], "x": _r(x), "y": _r(y), "cosine": _r(s)}
                  for r, (x, y), s in zip(rows, coords, cosines)]
        return {"word": word, "points": points, "explained": [_r(e) for e in explained]}
