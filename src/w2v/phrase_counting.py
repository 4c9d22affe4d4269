"""Counting and joining for :mod:`w2v.phrases`: the word table, blocks of text, the corpus cache, the counts of
one pass and the phrase tables, around the kernels of :mod:`w2v.phrase_kernels`."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, NamedTuple

import numpy as np

from .errors import CorpusError
from .phrase_kernels import (apply_pass, build_pair_slots, build_slots, compact_words, count_block, count_sorted,
                             merge_counts, patch_separators, scan_tokens)

BLOCK_TOKENS = 1 << 20
"""Tokens per block (a module constant so that tests can make it small and exercise merges and pruning)."""

# -- the word table, blocks of text, the cache ---------------------------------------------------------------
_MAX_WORDS = (1 << 31) - 2  # ids are int32, and a pair key holds two of them in an int64


def _pow2(n: int) -> int:
    return 1 << max(1, int(n - 1).bit_length())


def _resized(a: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, a.dtype)
    out[:len(a)] = a[:n]
    return out


class _Block(NamedTuple):
    buf: np.ndarray  # uint8: the tokens, each followed by " " or (at a sentence end) "\n"
    n_tokens: int


class _WordTable:
    """Distinct tokens (UTF-8 bytes in one arena) and their int32 ids: the kernels' word table (see above),
    grown here when a kernel asks for room."""

    def __init__(self, words: Sequence[str] = (), capacity: int = 1 << 10) -> None:
        cap = max(16, int(capacity))
        self.slots = np.full(_pow2(2 * cap), -1, np.int32)
        self.hashes = np.zeros(cap, np.uint64)
        self.heads = np.zeros(cap, np.uint64)
        self.starts = np.zeros(cap + 1, np.int64)
        self.arena = np.zeros(cap * 8, np.uint8)
        self.sizes = np.zeros(2, np.int64)
        if words and len(set(self.encode_strings(words, insert=True).tolist())) != len(words):
            raise ValueError("_WordTable: the words hold duplicates")

    def __len__(self) -> int:
        return int(self.sizes[0])

    @property
    def table(self) -> tuple:
        return self.slots, self.hashes, self.heads, self.starts, self.arena, self.sizes

    def scan(self, block: _Block, insert: bool, what: str = "a token") -> tuple[np.ndarray, np.ndarray]:
        """``(ids int32, sentence_ends int64)`` of a block (see :func:`scan_tokens`); with ``insert`` unknown
        tokens become new words, else their id is -1."""
        n = block.n_tokens
        ids, ends, state = out = (np.empty(n, np.int32), np.empty(n, np.int64), np.zeros(5, np.int64))
        while True:
            scan_tokens(block.buf, out, self.table, insert)
            if state[1] == 0:
                return ids, ends[:state[0]].copy()
            if state[1] < 0:
                raise CorpusError(f"{what} is empty or holds whitespace; tokens are split on whitespace, so "
                                  "none may be empty or contain any")
            self._grow(int(state[2]))

    def encode_strings(self, strings: Sequence[str], insert: bool = False) -> np.ndarray:
        return self.scan(_block_of(list(strings), len(strings)), insert, "a word")[0]

    def _grow(self, length: int) -> None:
        n_words, n_bytes = int(self.sizes[0]), int(self.sizes[1])
        if n_words + 1 > len(self.hashes):
            if n_words + 1 > _MAX_WORDS:
                raise CorpusError(f"more than {_MAX_WORDS:,} distinct tokens: bound them with max_vocab "
                                  "(--max-vocab)")
            size = min(2 * len(self.hashes), _MAX_WORDS)
            self.hashes = _resized(self.hashes, size)
            self.heads = _resized(self.heads, size)
            self.starts = _resized(self.starts, size + 1)
        if n_bytes + length > len(self.arena):
            self.arena = _resized(self.arena, max(2 * len(self.arena), n_bytes + length))
        if 2 * (n_words + 1) > len(self.slots):
            self.slots = build_slots(self.hashes, n_words, 2 * len(self.slots))

    def word(self, i: int) -> str:
        return self.arena[self.starts[i]:self.starts[i + 1]].tobytes().decode("utf-8")

    def compact(self, keep: np.ndarray) -> np.ndarray:
        """Keep the words where ``keep`` (bool[len(self)]) holds; returns old id -> new id (-1: dropped)."""
        new_id = compact_words(self.table, keep)
        self.slots = build_slots(self.hashes, len(self), len(self.slots))
        return new_id


_OTHER_WHITESPACE = re.compile(r"[^\S \n]")


def _block_of(lines: list[str], n_tokens: int, check: bool = True) -> _Block:
    """A block from its lines (the tokens of a sentence joined by single spaces; the list is consumed).
    ``check``: the tokens come from Python, not from a file that ``str.split`` has split, and may hold
    whitespace."""
    lines.append("")  # so that the text ends with a newline, without copying it once more
    text = "\n".join(lines) if len(lines) > 1 else ""
    if check and _OTHER_WHITESPACE.search(text):
        raise CorpusError(f"a token holds whitespace ({_OTHER_WHITESPACE.search(text).group()!r}); tokens are "
                          "split on whitespace, so none may contain any")
    try:
        data = bytearray(text, "utf-8")  # encoded straight into a writable buffer (phrases are joined in it)
    except UnicodeEncodeError as e:
        raise CorpusError(f"a token is not valid Unicode ({e.reason}: {e.object[e.start:e.end]!r})") from None
    return _Block(np.frombuffer(data, np.uint8), n_tokens)


def _text_blocks(sentences: Iterable[Sequence[str]], check: bool) -> Iterator[_Block]:
    """The sentences in blocks of about :data:`BLOCK_TOKENS` tokens."""
    lines: list[str] = []
    n = 0
    join = " ".join
    for sentence in sentences:
        if isinstance(sentence, str):
            raise CorpusError("sentences must be lists of tokens, not strings (split them, e.g. line.split())")
        if not sentence:
            continue
        try:
            lines.append(join(sentence))
        except TypeError:
            raise CorpusError(f"tokens must be str; got a sentence {sentence!r:.80}") from None
        n += len(sentence)
        if n >= BLOCK_TOKENS:
            yield _block_of(lines, n, check)
            lines = []
            n = 0
    if lines:
        yield _block_of(lines, n, check)


def _tail(parts: list[memoryview], skip: int) -> list[memoryview]:
    """``parts`` less their first ``skip`` bytes (what a short write left)."""
    out = []
    for p in parts:
        if skip >= len(p):
            skip -= len(p)
        else:
            out.append(p[skip:])
            skip = 0
    return out


class _Cache:
    """The first pass's blocks (bytes, token ids, sentence ends) in an anonymous temporary file, which is gone
    once closed whatever happens: the later passes and the output read them instead of the text.  Ids of
    blocks cached before a pruning of the word table are stale: ``__iter__`` gives None for them."""

    def __init__(self, directory: str | os.PathLike | None) -> None:
        self.where = os.fspath(directory) if directory is not None else tempfile.gettempdir()
        self.file: IO[bytes] | None = tempfile.TemporaryFile(dir=directory)
        self.index: list[tuple[int, int, int, int]] = []  # offset, bytes, tokens, sentences of each block
        self.size = 0
        self.stale = 0  # the blocks before this one hold ids of an older word table

    def append(self, block: _Block, ids: np.ndarray, ends: np.ndarray) -> None:
        try:  # one system call for the three arrays
            parts = [memoryview(a).cast("B") for a in (block.buf, ids, ends)]
            done, total = 0, sum(len(p) for p in parts)
            while done < total:
                done += os.pwritev(self.file.fileno(), _tail(parts, done), self.size + done)
        except OSError as e:
            raise CorpusError(f"cannot write the corpus cache in {self.where} after {self.size:,} bytes "
                              f"({e.strerror or e}); free some space or pass another directory (cache_dir, "
                              "--cache-dir)") from None
        self.index.append((self.size, len(block.buf), block.n_tokens, len(ends)))
        self.size += len(block.buf) + ids.nbytes + ends.nbytes

    def _read(self, offset: int, out: np.ndarray) -> np.ndarray:
        view = memoryview(out).cast("B")
        done = 0
        while done < len(view):
            got = os.preadv(self.file.fileno(), [view[done:]], offset + done)
            if got <= 0:
                raise CorpusError(f"the corpus cache in {self.where} ended at byte {offset + done:,}")
            done += got
        return out

    def __iter__(self) -> Iterator[tuple[_Block, np.ndarray | None, np.ndarray]]:
        for i, (offset, nbytes, n_tokens, n_ends) in enumerate(self.index):
            buf = self._read(offset, np.empty(nbytes, np.uint8))
            ids = self._read(offset + nbytes, np.empty(n_tokens, np.int32)) if i >= self.stale else None
            ends = self._read(offset + nbytes + 4 * n_tokens, np.empty(n_ends, np.int64))
            yield _Block(buf, n_tokens), ids, ends

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


# -- counting one pass ---------------------------------------------------------------------------------------
MERGE_KEYS = 1 << 22
"""Candidates are sorted and merged into a pass's table once at least this many (and at least as many as the
table holds) are pending: the table is rewritten O(log) times, not once a block (a module constant so that
tests can make it small)."""


def _conn(n_connectors: int) -> tuple[int, int, int]:
    """(n, bits per connector in a code, the longest run coded): codes are exact and fit in 63 bits."""
    bits = max(1, n_connectors.bit_length())
    return n_connectors, bits, (63 // bits if n_connectors else 0)


class _PassCounts:
    """The counts of one pass: ``units`` (int64 per unit id), and the candidate pairs sorted by (key, code)
    with their counts (``keys``, ``codes``, ``counts``: views of the first ``size`` entries of buffers).

    Candidates wait in a pending buffer until there are :data:`MERGE_KEYS` of them, or a quarter of the
    table if more, then are sorted, counted and merged in: the table is rewritten a bounded number of times
    per table size (not once a block), and the pending buffer stays small beside it.  Buffers are reused,
    and allocated with room to spare (a page is only resident once written), since first touches of fresh
    memory cost more than the work here (~4 ms a MB on our VMs).
    """

    def __init__(self, n_units: int, conn: tuple[int, int, int]) -> None:
        self.conn = conn
        self.units = np.zeros(n_units, np.int64)  # room for the units (ids below n_units), maybe more
        self.n_units = n_units
        self._table = self._buffers(0, np.int64)
        self._pending = self._buffers(0, np.int32)  # counts of one flush fit in int32
        self.size = 0       # the table is the first `size` entries of each array of _table
        self.n_pending = 0  # the candidates are the first `n_pending` keys (and codes) of _pending
        self.tokens = 0
        self.pruned_units = self.pruned_pairs = self.min_reduce = 0

    def _buffers(self, n: int, count_type: type) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(keys, codes, counts): codes has no room without connector words (every code is 0)."""
        return np.empty(n, np.int64), np.empty(n if self.conn[0] else 0, np.int64), np.empty(n, count_type)

    @staticmethod
    def _grown(old: tuple, used: int, new: tuple) -> tuple:
        for a, b in zip(old, new):
            if len(b):
                b[:used] = a[:used]
        return new

    keys = property(lambda self: self._table[0][:self.size])
    counts = property(lambda self: self._table[2][:self.size])

    @property
    def codes(self) -> np.ndarray:
        return self._table[1][:self.size] if self.conn[0] else np.zeros(self.size, np.int64)

    def _set(self, keys: np.ndarray, codes: np.ndarray, counts: np.ndarray) -> None:
        self._table = (keys, codes if self.conn[0] else np.empty(0, np.int64), counts)
        self.size = len(keys)

    def add(self, units: np.ndarray, sentence_ends: np.ndarray, n_units: int) -> bool:
        """Count the units and candidates of one block (``units`` int32 below ``n_units``, -1 unknown);
        returns whether the pending candidates were merged into the table (then the counts held are
        exact)."""
        self.tokens += len(units)
        self.n_units = max(self.n_units, n_units)
        if n_units > len(self.units):
            self.units = _resized(self.units, max(n_units, len(self.units) + len(self.units) // 2))
        need = self.n_pending + len(units)
        if len(self._pending[0]) < need:
            self._pending = self._grown(self._pending, self.n_pending,
                                        self._buffers(max(need, MERGE_KEYS + len(units)), np.int32))
        self.n_pending = count_block(units, sentence_ends, self.conn, self.units, self._pending[0],
                                     self._pending[1], self.n_pending)
        if self.n_pending >= max(MERGE_KEYS, self.size // 4):
            self.flush()
            return True
        return False

    def flush(self) -> None:
        """Sort, count and merge the pending candidates into the table."""
        n = self.n_pending
        if n == 0:
            return
        keys, codes, counts = (a[:n] for a in self._pending)
        if self.conn[0]:
            order = np.lexsort((codes, keys))
            keys[:], codes[:] = keys[order], codes[order]
        else:
            keys.sort()  # in place
        m = count_sorted(keys, codes, counts)
        need = self.size + m
        if len(self._table[0]) < need:  # room to spare: np.empty pages are not resident until written
            self._table = self._grown(self._table, self.size, self._buffers(max(2 * need, 2 * MERGE_KEYS),
                                                                            np.int64))
        self.size = merge_counts(self._table, self.size, (keys[:m], codes[:m], counts[:m]))
        self.n_pending = 0

    def prune(self, bound: int, words: _WordTable | None) -> bool:
        """The C tool's ReduceVocab until at most ``bound`` words and pairs are held: drop those seen at most
        ``min_reduce`` times, raise ``min_reduce``.  Words are pruned in the first pass only (``words``
        given; never the connectors); later passes count units of a fixed table.  Returns whether words
        were dropped (their ids changed)."""
        compacted = False
        while self.size and (len(words) if words is not None else self.n_units) + self.size > bound:
            self.min_reduce += 1
            keep = self.counts > self.min_reduce
            self.pruned_pairs += self.size - int(np.count_nonzero(keep))
            self._set(self.keys[keep], self.codes[keep], self.counts[keep])
            if words is None:
                continue
            keep = self.units[:len(words)] > self.min_reduce
            keep[:self.conn[0]] = True
            if keep.all():
                continue
            compacted = True
            self.pruned_units += len(keep) - int(np.count_nonzero(keep))
            new_id = words.compact(keep)
            self.units = self.units[:len(keep)][keep]
            self.n_units = len(self.units)
            a, b = new_id[self.keys >> 32], new_id[self.keys & 0xFFFFFFFF]
            # count(ab) <= count(a) and count(b), so no pair outlives its words; a guard all the same
            alive = (a >= 0) & (b >= 0)
            self.pruned_pairs += self.size - int(np.count_nonzero(alive))
            # new ids keep the order of the old ones, so the keys stay sorted
            self._set((a[alive].astype(np.int64) << 32) | b[alive], self.codes[alive], self.counts[alive])
        return compacted


# -- phrase tables -------------------------------------------------------------------------------------------
class PhraseEntry(NamedTuple):
    """One phrase: the joined token, its score, the pass that joined it, and the units it joins."""

    phrase: str
    score: float
    pass_number: int
    parts: tuple[str, ...]


def _pair_table(keys: np.ndarray, codes: np.ndarray, ids: np.ndarray, n_units: int) -> tuple:
    keys = np.ascontiguousarray(keys, np.int64)
    codes = np.ascontiguousarray(codes, np.int64)
    lefts = np.zeros(n_units, np.bool_)
    lefts[keys >> 32] = True
    return (keys, codes, np.ascontiguousarray(ids, np.int32), build_pair_slots(keys, codes, _pow2(2 * len(keys) + 2)),
            lefts)


def _code(connector_ids: Sequence[int], bits: int) -> int:
    return sum((int(c) + 1) << (bits * i) for i, c in enumerate(connector_ids))


def _decode_code(code: int, bits: int) -> list[int]:
    out = []
    while code:
        out.append((code & ((1 << bits) - 1)) - 1)
        code >>= bits
    return out


def _join(units: np.ndarray, ends: np.ndarray, tables: Sequence[tuple], conn: tuple[int, int, int],
          buf: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Apply the passes' phrase tables to one block's units: ``(units, sentence_ends, joins)`` after them;
    with ``buf``, its separators are patched too."""
    n = len(units)
    tables = [t for t in tables if len(t[0])]
    if not tables:
        return units, ends, 0
    tokens = np.arange(n, dtype=np.int64)
    joined = np.zeros(n + 1, np.bool_)
    for i, table in enumerate(tables):
        # the units after the last table are only needed to count them (learning), not to write
        emit = buf is None or i < len(tables) - 1
        units, tokens, ends = apply_pass(units, tokens, ends, table, conn, joined, emit)
    if buf is not None:
        patch_separators(buf, joined)
    return units, ends, int(np.count_nonzero(joined))


class _Model:
    """What applying needs: a word table of the units that matter (the connectors first, ids 0..n-1) and one
    phrase table per pass.  Built from the entries alone, so that a learned and a loaded model are one."""

    def __init__(self, entries: Sequence[PhraseEntry], connectors: Sequence[str], passes: int) -> None:
        self.conn = _conn(len(connectors))
        self.words = _WordTable(tuple(connectors))
        strings = [w for e in entries for w in (*e.parts, e.phrase)]
        ids = self.words.encode_strings(strings, insert=True) if strings else np.empty(0, np.int32)
        rows: list[list[tuple[int, int, int]]] = [[] for _ in range(passes)]
        pos = 0
        for e in entries:
            k = len(e.parts)
            part = ids[pos:pos + k]
            rows[e.pass_number - 1].append(((int(part[0]) << 32) | int(part[-1]), _code(part[1:-1], self.conn[1]),
                                            int(ids[pos + k])))
            pos += k + 1
        self.tables = [_pair_table(*np.array(r, dtype=np.int64).reshape(-1, 3).T, len(self.words)) for r in rows]

    def join(self, block: _Block) -> tuple[np.ndarray, int]:
        """The block with its phrases joined (its buffer changed in place), and the number of joins."""
        units, ends = self.words.scan(block, insert=False)
        return block.buf, _join(units, ends, self.tables, self.conn, block.buf)[2]


