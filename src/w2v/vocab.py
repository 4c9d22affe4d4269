"""The vocabulary: one counting pass (pass 1), bounded memory, pruning, sorting by frequency.

:func:`build_vocab` counts the tokens of a corpus with :class:`collections.Counter` (the counting loop runs in
C).  With ``max_vocab`` it holds at most that many distinct words while counting, pruning the rarest the way
the C tool's ``ReduceVocab`` does: every word seen at most ``min_reduce`` times is dropped, and
``min_reduce`` rises by one each time.  A pruned word that comes back starts again from zero, so after
pruning every count is a lower bound; the second pass (:func:`w2v.corpus.encode_corpus`) measures the exact
counts and :func:`w2v.corpus.finalize` puts them in place (:meth:`Vocab.with_counts`).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import ConfigError, CorpusError

logger = logging.getLogger("w2v")


@dataclass
class Vocab:
    """Words sorted by count (descending; ties keep their first-appearance order), with their counts.

    Attributes
    ----------
    words : list[str]
        ``words[i]`` is the word of id ``i``; id 0 is the most frequent.
    counts : np.ndarray
        ``int64[V]``, ``counts[i]`` the number of occurrences of ``words[i]`` (lower bounds if
        ``pruned_words > 0`` until :func:`w2v.corpus.finalize` replaces them with exact counts).
    pruned_words : int
        Word entries dropped while counting because ``max_vocab`` was reached (a word pruned twice counts
        twice: telling them apart would take the unbounded memory the pruning avoids).
    min_reduce : int
        The last pruning threshold: the final prune dropped the words seen at most this many times since
        they were last (re)inserted.  0 when nothing was pruned.
    raw_tokens : int
        Every token read by pass 1, including those of words later dropped.
    distinct_words : int
        Distinct words held at the end of counting, before ``min_count`` and ``max_final_vocab``.
    index : dict[str, int]
        Word -> id; built from ``words`` when not given.
    """

    words: list[str]
    counts: np.ndarray
    pruned_words: int = 0
    min_reduce: int = 0
    raw_tokens: int = 0
    distinct_words: int = 0
    index: dict[str, int] = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.words = list(self.words)
        self.counts = np.asarray(self.counts, dtype=np.int64).reshape(-1)
        if len(self.counts) != len(self.words):
            raise ValueError(f"Vocab: {len(self.words)} words but {len(self.counts)} counts")
        if self.index is None:
            self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ValueError(f"Vocab: the word list holds duplicates ({len(self.words)} words, "
                             f"{len(self.index)} distinct)")

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    @property
    def total(self) -> int:
        """Sum of the counts: the in-vocabulary tokens of the corpus."""
        return int(self.counts.sum())

    def is_lowercase(self) -> bool:
        """True when no word changes under ``str.lower`` (no uppercase letter anywhere)."""
        text = "\n".join(self.words)
        return text == text.lower()

    def with_counts(self, counts: Sequence[int] | np.ndarray) -> tuple["Vocab", np.ndarray]:
        """The same words with new counts, sorted again by count (stable: ties keep the current order).

        Parameters
        ----------
        counts : int64[V]
            The new count of each current id (e.g. the exact counts of pass 2).

        Returns
        -------
        (vocab, perm)
            ``perm`` is ``int32[V]``, old id -> new id, so ``perm[ids]`` re-encodes a corpus.
        """
        counts = np.asarray(counts, dtype=np.int64).reshape(-1)
        if len(counts) != len(self.words):
            raise ValueError(f"with_counts: {len(counts)} counts for a vocabulary of {len(self.words)} words")
        order = np.argsort(-counts, kind="stable")  # new id -> old id
        perm = np.empty(len(order), dtype=np.int32)
        perm[order] = np.arange(len(order), dtype=np.int32)
        vocab = Vocab([self.words[i] for i in order], counts[order], pruned_words=self.pruned_words,
                      min_reduce=self.min_reduce, raw_tokens=self.raw_tokens,
                      distinct_words=self.distinct_words)
        return vocab, perm


def _check_count(name: str, value: int | None, none_ok: bool) -> None:
    if value is None and none_ok:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"'{name}' must be an int in [1, inf); got {value!r}")


def _describe(sentences: object) -> str:
    describe = getattr(sentences, "describe", None)
    return describe() if callable(describe) else f"the given sentences ({type(sentences).__name__})"


def _prune(counter: Counter, max_vocab: int, min_reduce: int) -> tuple[Counter, int, int]:
    """The C tool's ReduceVocab, repeated until at most ``max_vocab`` words are held.

    Returns the new counter, the number of entries dropped and the last threshold used.
    """
    dropped = 0
    while len(counter) > max_vocab:
        min_reduce += 1
        before = len(counter)
        counter = Counter({w: c for w, c in counter.items() if c > min_reduce})
        dropped += before - len(counter)
    return counter, dropped, min_reduce


@dataclass
class WordCounts:
    """Raw counts of a corpus (or of a share of it): the words in order of first appearance, their counts,
    and what counting saw.  :func:`merge_counts` adds shares up; :func:`select_vocab` makes a :class:`Vocab`."""

    words: list[str]
    counts: np.ndarray        # int64, aligned with words
    raw_tokens: int = 0
    pruned_words: int = 0
    min_reduce: int = 0


def warn_pruned(max_vocab: int, pruned: int, min_reduce: int) -> None:
    """The warning of a count pruned to ``max_vocab`` words (``pruned`` drops, ``min_reduce`` the last
    threshold)."""
    logger.warning("max_vocab=%d: words were dropped %d times while counting (a word dropped may come back and "
                   "be dropped again; last threshold: count <= %d); the counts of the surviving words are lower "
                   "bounds until the second pass measures them exactly", max_vocab, pruned, min_reduce)


def count_words(sentences: Iterable[Sequence[str]], *, max_vocab: int | None = None) -> WordCounts:
    """Count the words of ``sentences`` in one pass (pass 1), holding at most ``max_vocab`` distinct words
    (C-tool pruning; the counts of the survivors are then lower bounds and a warning says how many words
    were pruned)."""
    _check_count("max_vocab", max_vocab, none_ok=True)
    counter: Counter = Counter()
    raw_tokens = pruned = min_reduce = 0
    for sentence in sentences:
        if isinstance(sentence, str):
            raise CorpusError("sentences must be lists of tokens, not strings (split them, or pass a file path "
                              "to Corpus)")
        try:
            counter.update(sentence)
        except TypeError:  # an unhashable token (a list, ...)
            from .corpus import _check_tokens
            _check_tokens(sentence)
            raise
        raw_tokens += len(sentence)
        if max_vocab is not None and len(counter) > max_vocab:
            counter, dropped, min_reduce = _prune(counter, max_vocab, min_reduce)
            pruned += dropped
    if pruned:
        warn_pruned(max_vocab, pruned, min_reduce)
    words = _checked_words(counter)
    counts = np.fromiter(counter.values(), dtype=np.int64, count=len(words))
    return WordCounts(words, counts, raw_tokens, pruned, min_reduce)


def _checked_words(counter: Counter) -> list[str]:
    """The distinct words counted, as plain str (np.str_ and other subclasses converted)."""
    words = list(counter)
    for i, word in enumerate(words):
        if type(word) is not str:
            if not isinstance(word, str):
                raise CorpusError(f"tokens must be str; got {type(word).__name__} ({word!r})")
            words[i] = str(word)
    return words


def _check_storable(words: Sequence[str]) -> None:
    """Refuse a word of the vocabulary that no file could hold: empty, or holding a space, tab or line end
    (the model file holds one word a line, the word2vec formats separate words by whitespace).  Words read
    from files never do; tokens given as lists may, and only those that enter the vocabulary matter."""
    from .formats import unstorable

    for word in words:
        if unstorable(word):
            raise CorpusError(f"token {word!r} is empty or holds whitespace or a NUL: a word of the vocabulary is "
                              "one word (the model file and the word2vec formats separate words by whitespace); "
                              "join a phrase's parts with '_' (as w2v phrases does), or split it")


def merge_counts(parts: Sequence[WordCounts]) -> WordCounts:
    """The counts of consecutive shares (in corpus order) as one: summed, and in order of first appearance
    over the whole corpus (a word's first share decides), so that ties sort as in one pass."""
    index: dict[str, int] = {}
    words: list[str] = []
    for part in parts:
        for w in part.words:
            if w not in index:
                index[w] = len(words)
                words.append(w)
    counts = np.zeros(len(words), dtype=np.int64)
    for part in parts:
        counts[np.fromiter((index[w] for w in part.words), dtype=np.int64, count=len(part.words))] += part.counts
    return WordCounts(words, counts, sum(p.raw_tokens for p in parts), sum(p.pruned_words for p in parts),
                      max((p.min_reduce for p in parts), default=0))


def select_vocab(found: WordCounts, *, min_count: int = 5, max_final_vocab: int | None = None,
                 describe: str = "the corpus", known: Collection[str] = ()) -> Vocab:
    """Keep the words of ``found`` that reach ``min_count`` or are ``known`` (a trained model's words, whose counts
    a new text adds to, however few: ``update_vocab``), at most ``max_final_vocab`` (the most frequent), sorted
    by count, ties in first-appearance order (with ``known``, ``max_final_vocab`` bounds the words known and new
    together, the known always kept).

    Raises
    ------
    CorpusError
        No token was counted, or no word is kept (the message gives the figures).
    """
    _check_count("min_count", min_count, none_ok=False)
    _check_count("max_final_vocab", max_final_vocab, none_ok=True)
    if found.raw_tokens == 0:
        raise CorpusError(f"corpus is empty: no token was read from {describe}")
    words, counts, distinct = found.words, found.counts, len(found.words)
    is_known = np.fromiter((w in known for w in words), dtype=bool, count=len(words)) if known else None
    kept = np.flatnonzero(counts >= min_count if is_known is None else (counts >= min_count) | is_known)
    if len(kept) == 0:
        top = int(np.argmax(counts))  # the first of the most frequent
        raise CorpusError(f"no word occurs at least min_count={min_count} times (the most frequent, "
                          f"{words[top]!r}, occurs {counts[top]} times, among {distinct} distinct words and "
                          f"{found.raw_tokens} tokens); lower min_count (--min-count)")
    order = kept[np.argsort(-counts[kept], kind="stable")]  # stable: ties in first-appearance order
    logger.info("vocabulary: %d of %d distinct words occur at least min_count=%d times", len(order), distinct,
                min_count)
    if max_final_vocab is not None and is_known is not None:  # the model's words stay; new ones as room allows
        room = max(0, max_final_vocab - len(known))
        keep = is_known[order] | (np.cumsum(~is_known[order]) <= room)
        if not keep.all():
            logger.info("max_final_vocab=%d: %d new words left out (the vocabulary holds %d)", max_final_vocab,
                        int((~keep).sum()), len(known))
        order = order[keep]
    elif max_final_vocab is not None and len(order) > max_final_vocab:
        cut = len(order) - max_final_vocab
        order = order[:max_final_vocab]
        logger.info("max_final_vocab=%d: kept the %d most frequent words, cut %d more (the last kept occurs "
                    "%d times)", max_final_vocab, max_final_vocab, cut, counts[order[-1]])
    kept_words = [words[i] for i in order]
    _check_storable(kept_words)
    if len(kept_words) == 1 and is_known is None:
        logger.warning("the vocabulary holds one word (%r): there is nothing to tell it apart from, so training "
                       "learns nothing (lower min_count, or give more text)", kept_words[0])
    return Vocab(kept_words, counts[order], pruned_words=found.pruned_words,
                 min_reduce=found.min_reduce, raw_tokens=found.raw_tokens, distinct_words=distinct)


def build_vocab(sentences: Iterable[Sequence[str]], *, min_count: int = 5, max_vocab: int | None = None,
                max_final_vocab: int | None = None) -> Vocab:
    """Count the words of ``sentences`` in one pass and keep the frequent ones (:func:`count_words`, then
    :func:`select_vocab`).

    Parameters
    ----------
    sentences : iterable of list[str]
        Usually a :class:`w2v.corpus.Corpus`; read once.
    min_count : int
        Words seen fewer times are left out.
    max_vocab : int or None
        Bound on the distinct words held while counting (C-tool pruning; counts become lower bounds and a
        warning says how many words were pruned).
    max_final_vocab : int or None
        Keep at most this many of the most frequent words (exactly this many; ties at the cut are decided
        by first appearance).

    Raises
    ------
    CorpusError
        The corpus holds no token, or no word reaches ``min_count`` (the message gives the figures).
    """
    _check_count("min_count", min_count, none_ok=False)
    _check_count("max_vocab", max_vocab, none_ok=True)
    _check_count("max_final_vocab", max_final_vocab, none_ok=True)
    start = time.perf_counter()
    found = count_words(sentences, max_vocab=max_vocab)
    vocab = select_vocab(found, min_count=min_count, max_final_vocab=max_final_vocab,
                         describe=_describe(sentences))
    logger.info("pass 1: %d tokens, %d words in the vocabulary (%d in-vocabulary tokens), %.1f s",
                found.raw_tokens, len(vocab), vocab.total, time.perf_counter() - start)
    return vocab
