"""Corpus preparation for the trainer: count, choose the vocabulary, encode, in one pass over the text.

The steps on top of :mod:`w2v.reader` (which reads the shares): :func:`merge_shares` adds the shares' counts
up in corpus order, :func:`encode_shares` turns their provisional ids into the vocabulary's (an
:class:`w2v.corpus.EncodedCorpus`, no text read), and :class:`Reading` puts them together for
:class:`w2v.train.Word2Vec`: ``counts()`` (pass 1), then ``encode(vocab)`` (pass 2).  A distributed rank
uses the same steps on its share, merging its counts with the other ranks' in between
(docs/ARCHITECTURE.md, "Reading").
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from typing import Any

import numpy as np

from . import corpus as corpus_mod
from . import scan
from .corpus import Corpus, EncodedCorpus, _disk_full
from .errors import CorpusError
from .outputs import check_room
from .reader import (
    ShareIds,
    WordTable,
    _arena,
    _close,
    _finish,
    _known,
    plan,
    read_shares,
)
from .sources import _piece_weight, content_sample
from .vocab import Vocab, WordCounts, count_words, warn_pruned

logger = logging.getLogger("w2v")

COMPACT_IDS = 1 << 20
"""Ids read, mapped and written at a time when encoding (4 MB)."""


def merge_shares(shares: list[ShareIds]) -> WordCounts:
    """The shares' counts added up in corpus order, words in order of first appearance over the corpus
    (what :func:`w2v.vocab.merge_counts` gives for the shares' :meth:`ShareIds.word_counts`)."""
    if len(shares) == 1:
        return shares[0].word_counts()
    merged = WordTable(max(len(s.table) for s in shares))
    for s in shares:
        n = len(s.table)
        ids = merged.add(s.table.arena[:int(s.table.sizes[1])], s.table.starts[:n + 1])
        merged.counts[ids] += s.table.counts[:n]
    n = len(merged)
    return WordCounts(merged.words(), merged.counts[:n].copy(), sum(s.n_tokens for s in shares), 0, 0)


def _join_cut_lines(shares: list[ShareIds]) -> list[np.ndarray]:
    """Each share's sentence ends, with the lines that a cut between two shares split made again as one
    line: cut every ``max_sentence_length`` tokens from the line's start, not from the cut (the shares'
    reading threads could not know where the line began).  A line end is known to each share
    (``line_ends``); a cut at a line end changes nothing."""
    offsets = np.cumsum([0] + [s.n_tokens for s in shares])
    joined = [k for k in range(1, len(shares)) if shares[k].share.pieces and shares[k].share.pieces[0].start > 0]
    if not joined:
        return [s.ends for s in shares]
    ends = np.concatenate([s.ends + offsets[k] for k, s in enumerate(shares)])
    n = shares[0].share.max_sentence_length
    for k in joined:
        before = [offsets[j] + shares[j].line_ends[1] for j in range(k) if shares[j].line_ends[1] >= 0]
        after = [offsets[j] + shares[j].line_ends[0] for j in range(k, len(shares)) if shares[j].line_ends[0] >= 0]
        a = before[-1] if before else 0
        b = after[0] if after else offsets[-1]
        if b <= a:
            continue
        inside = np.arange(a + n, b, n, dtype=np.int64)
        ends = np.concatenate([ends[ends <= a], inside, [b], ends[ends > b]])
    cuts = np.searchsorted(ends, offsets[1:-1], side="right")
    return [part - offsets[k] for k, part in enumerate(np.split(ends, cuts))]


def encode_shares(shares: list[ShareIds], vocab: Vocab, directory: str | os.PathLike | None = None,
                  frozen: bool = False) -> EncodedCorpus:
    """One encoded corpus from the shares' ids (pass 2 without reading text): each share's ids mapped to
    ``vocab``'s (``frozen``: they are already), out-of-vocabulary tokens and empty sentences dropped,
    exact counts.  The first share's file becomes the cache (compacted in place, the others appended);
    each other share's file is closed once copied.  Raises :class:`CorpusError` like
    :func:`w2v.corpus.encode_corpus`."""
    start = time.perf_counter()
    where = os.fspath(directory) if directory is not None else tempfile.gettempdir()
    counts = np.zeros(len(vocab), np.int64)
    out = shares[0].file
    raw = sum(s.n_tokens for s in shares)
    if not frozen:
        words = _arena(vocab.words)
    ends_parts = []
    share_ends = _join_cut_lines(shares)
    written = 0
    buf = np.empty(COMPACT_IDS, np.int32)
    kept = np.empty(COMPACT_IDS, np.int32)
    state = np.zeros(5, np.int64)
    try:
        for s, ends in zip(shares, share_ends):
            if frozen:
                perm = np.arange(len(vocab), dtype=np.int32)
            else:
                local = s.table.lookup(*words)
                perm = np.full(max(len(s.table), 1), -1, np.int32)
                found = local >= 0
                perm[local[found]] = np.flatnonzero(found).astype(np.int32)
            state[:3] = 0
            new_ends = np.empty(len(ends), np.int64)
            fd = s.file.fileno()
            for a in range(0, s.n_tokens, COMPACT_IDS):
                m = min(COMPACT_IDS, s.n_tokens - a)
                _pread(fd, buf[:m], 4 * a)
                k = scan.compact_ids(buf, m, perm, ends, state, kept, new_ends, counts)
                _pwrite(out.fileno(), kept[:k], 4 * written)
                written += k
            ends_parts.append(new_ends[:state[2]])
            if s is not shares[0]:
                s.close()
        out.truncate(4 * written)
        out.flush()
    except OSError as e:
        full = _disk_full(e, where, written)
        _close(shares)
        if full is None:
            raise
        raise full from None
    except BaseException:
        _close(shares)
        raise
    if written == 0:
        _close(shares)
        raise CorpusError(f"no token of the corpus ({raw} tokens) is in the vocabulary of {len(vocab)} words"
                          if raw else "corpus is empty: no token to encode")
    shares[0].file = None  # the encoded corpus owns it now
    ids = np.memmap(out, dtype=np.int32, mode="r", shape=(written,))
    sentence_ends = np.concatenate(ends_parts)
    logger.info("pass 2: encoded %d of %d tokens (%d sentences) in %.1f s, from the ids of pass 1 (the text is "
                "not read again); cache of %d bytes in %s (an anonymous temporary file, gone when closed)",
                written, raw, len(sentence_ends), time.perf_counter() - start, written * 4, where)
    return EncodedCorpus(ids, sentence_ends, raw, counts, out, vocab)


def _pread(fd: int, out: np.ndarray, offset: int) -> None:
    view = memoryview(out).cast("B")
    done = 0
    while done < len(view):
        got = os.preadv(fd, [view[done:]], offset + done)
        if got <= 0:
            raise CorpusError(f"a temporary file of token ids ended at byte {offset + done}")
        done += got


def _pwrite(fd: int, data: np.ndarray, offset: int) -> None:
    view = memoryview(data).cast("B")
    done = 0
    while done < len(view):
        done += os.pwrite(fd, view[done:], offset + done)


def estimate_tokens(shares: list[Corpus]) -> int:
    """The tokens of the shares, estimated before reading them (for the room their ids need): their content
    bytes times the tokens per byte of the first 64 KB of the first file."""
    pieces = [p for share in shares for p in share.pieces]
    if not pieces:
        return 0
    sample, _ = content_sample(pieces[0].path)
    per_byte = len(sample.split()) / max(len(sample), 1)
    return int(sum(_piece_weight(p) for p in pieces) * per_byte)


class Reading:
    """The trainer's reading of a corpus: :meth:`counts` (pass 1), then :meth:`encode` with the vocabulary
    chosen (pass 2: a remap of pass 1's ids, or a second read of the text when ``max_vocab`` pruning or a
    given vocabulary needs one).  A file corpus takes the fast reader with ``threads`` shares; an iterable
    of token lists the Python reader (:func:`w2v.vocab.count_words`, :func:`w2v.corpus.encode_corpus`).

    ``rewrites_cache``: whether :meth:`encode` still has the whole encoded corpus to write (room to check);
    False once pass 1 has written the ids it will compact in place."""

    def __init__(self, corpus: Any, *, threads: int = 1, directory: str | os.PathLike | None = None,
                 max_vocab: int | None = None) -> None:
        self.corpus = corpus
        self.fast = isinstance(corpus, Corpus) and corpus.files is not None
        self.threads = max(1, int(threads))
        self.directory = directory
        self.max_vocab = max_vocab
        self.shares: list[Corpus] | None = None
        self.read: list[ShareIds] | None = None  # pass 1's ids, when they can be remapped
        self.rewrites_cache = True

    def counts(self) -> WordCounts:
        """Pass 1: the words of the corpus counted (with ``max_vocab`` pruning as the C tool does)."""
        start = time.perf_counter()
        if not self.fast:
            found = count_words(self.corpus, max_vocab=self.max_vocab)
        else:
            self.shares = plan(self.corpus, self.threads)
            where = os.fspath(self.directory) if self.directory is not None else tempfile.gettempdir()
            check_room([("the encoded corpus", os.path.join(where, "x"), 4 * estimate_tokens(self.shares))])
            found = None
            if len(self.shares) > 1 or self.max_vocab is None:
                self.read = read_shares(self.shares, max_vocab=self.max_vocab, directory=self.directory)
                if self.read is not None:
                    _finish(self.corpus, self.read)
                    found = merge_shares(self.read)
                    if self.max_vocab is not None and len(found.words) > self.max_vocab:
                        found = None
                        self.close()
            if found is None:  # max_vocab: prune exactly as count_words does, in corpus order, in one thread
                whole = read_shares([self.corpus], max_vocab=self.max_vocab, prune=True,
                                    directory=self.directory)[0]
                _finish(self.corpus, [whole])
                found = whole.word_counts()
                if whole.pruned_words:
                    warn_pruned(self.max_vocab, whole.pruned_words, whole.min_reduce)
                else:  # nothing pruned after all: its ids hold
                    self.read = [whole]
            self.rewrites_cache = self.read is None
        logger.info("pass 1: %d tokens, %d distinct words, %.1f s (%s)", found.raw_tokens, len(found.words),
                    time.perf_counter() - start,
                    f"{len(self.shares)} reading thread{'s' if len(self.shares) > 1 else ''}" if self.fast
                    else "Python reader")
        return found

    def encode(self, vocab: Vocab) -> EncodedCorpus:
        """Pass 2: the corpus as ``vocab``'s ids (an :class:`EncodedCorpus`; close it when done)."""
        if not self.fast:
            return corpus_mod.encode_corpus(self.corpus, vocab, directory=self.directory)
        if self.read is not None:
            read, self.read = self.read, None
            return encode_shares(read, vocab, self.directory)
        shares = self.shares or plan(self.corpus, self.threads)
        _known(shares, self.corpus)  # a file changed since pass 1 is an error
        read = read_shares(shares, table_of=lambda: WordTable.of_words(vocab.words), directory=self.directory)
        _finish(self.corpus, read)
        return encode_shares(read, vocab, self.directory, frozen=True)

    def close(self) -> None:
        if self.read is not None:
            _close(self.read)
            self.read = None
