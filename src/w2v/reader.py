"""The fast reader: the shares of a file corpus read in parallel, each token given a provisional id.

The Python reader (:class:`w2v.corpus.Corpus` iterated, then :func:`w2v.vocab.build_vocab` and
:func:`w2v.corpus.encode_corpus`) reads the text twice at ~6M tokens/s in one thread.  Here each thread reads
one contiguous share (:meth:`w2v.corpus.Corpus.shares`) once, its bytes split and hashed by Numba
(:mod:`w2v.scan`) into the share's own word table (ids in order of first appearance), and every token's
*provisional* id goes to an anonymous temporary file with the sentence ends: a :class:`ShareIds`, whose
:meth:`ShareIds.word_counts` are what :func:`w2v.vocab.count_words` gives for the share.  The tokens are
exactly the Python reader's, whatever the thread count and block size (``tests/test_reader.py``).
:mod:`w2v.prepare` merges the shares, chooses the vocabulary and encodes the ids without reading the text
again (docs/ARCHITECTURE.md, "Reading").

Exactness on bytes: the Python reader's whitespace, line ends, ``max_sentence_length`` cuts, byte-order mark
and repair counts are reproduced in :mod:`w2v.scan`; a token Python must make (invalid UTF-8, or non-ASCII
under ``lowercase`` or ``normalize``) is made by Python (:meth:`_ShareReader._resolve`); a block whose last
token runs over ``MAX_TOKEN_CHARS`` bytes is split by the Python reader's own rule
(:meth:`_ShareReader._slow`), on the same grid of ``BLOCK_SIZE`` blocks from the file's start.  The checks
are the Python reader's own (``Corpus._open``, ``_read_failed``, ``_changed``, ``_report``): the same errors
and warnings, a warning once per file with the shares' figures added up.
"""

from __future__ import annotations

import codecs
import logging
import os
import queue
import tempfile
import threading
from collections.abc import Sequence
from typing import IO

import numpy as np

from . import corpus as corpus_mod
from . import scan
from .corpus import _ERRORS, PUNCTUATION, Corpus, _decode_state, _disk_full, _Stats
from .sources import READ_ERRORS, read_block
from .vocab import WordCounts

logger = logging.getLogger("w2v")

_CLASSES = scan.byte_classes(PUNCTUATION)
_SPACES = scan.bmp_spaces()
_BOM = b"\xef\xbb\xbf"
DECOMPRESS_THREAD = True
"""Decompress a compressed file in a thread of its own, beside the one that splits it (False: in the same
thread; kept to measure it)."""
IDS_OUT = 1 << 18
"""Token ids a kernel call writes before they go to the share's file (1 MB)."""
ENDS_OUT = 1 << 15
"""Sentence ends a kernel call writes before they are kept (256 KB)."""


def _pow2(n: int) -> int:
    return 1 << max(4, int(n - 1).bit_length())


def _grown(a: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, a.dtype)
    out[:len(a)] = a
    return out


def _arena(words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Words as the table stores them: UTF-8 (lone surrogates kept), each followed by a newline."""
    encoded = [w.encode("utf-8", "surrogatepass") for w in words]
    starts = np.zeros(len(encoded) + 1, np.int64)
    np.cumsum([len(e) + 1 for e in encoded], out=starts[1:])
    arena = np.frombuffer(b"".join(e + b"\n" for e in encoded), np.uint8) if encoded else np.zeros(0, np.uint8)
    return arena, starts


class WordTable:
    """Distinct words (UTF-8) -> ids in order of first appearance, with counts: the arrays of
    :mod:`w2v.scan`, grown here when a kernel asks for room."""

    def __init__(self, capacity: int = 1 << 12) -> None:
        cap = _pow2(capacity)
        self.slots = np.full(2 * cap, -1, np.int64)
        self.hashes = np.zeros(cap, np.uint64)
        self.starts = np.zeros(cap + 1, np.int64)
        self.arena = np.zeros(8 * cap, np.uint8)
        self.counts = np.zeros(cap, np.int64)
        self.sizes = np.zeros(2, np.int64)

    @classmethod
    def of_words(cls, words: Sequence[str]) -> WordTable:
        """A table whose ids are the positions in ``words`` (distinct), e.g. a vocabulary's."""
        table = cls(len(words) + 1)
        ids = table.add(*_arena(words))
        if len(table) != len(words) or not np.array_equal(ids, np.arange(len(words))):
            raise ValueError("WordTable.of_words: the words hold duplicates")
        return table

    def __len__(self) -> int:
        return int(self.sizes[0])

    @property
    def table(self) -> tuple:
        return self.slots, self.hashes, self.starts, self.arena, self.counts, self.sizes

    def grow(self, word_bytes: int) -> None:
        """Room for one more word of ``word_bytes`` bytes (its newline included)."""
        n, used = len(self), int(self.sizes[1])
        if n + 2 > len(self.hashes):
            size = 2 * len(self.hashes)
            self.hashes, self.counts = _grown(self.hashes, size), _grown(self.counts, size)
            self.starts = _grown(self.starts, size + 1)
        if used + word_bytes > len(self.arena):
            self.arena = _grown(self.arena, max(2 * len(self.arena), used + word_bytes))
        if 2 * (n + 1) > len(self.slots):
            self.slots = scan.build_slots(self.hashes, n, 2 * len(self.slots))

    def add(self, arena: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """The ids of the words ``arena[starts[w]:starts[w + 1] - 1]``, new ones added in order."""
        n = len(starts) - 1
        out = np.empty(n, np.int64)
        done = 0
        while done < n:
            done += scan.insert_words(self.table, arena, starts[done:], n - done, out[done:])
            if done < n:
                self.grow(int(starts[done + 1] - starts[done]))
        return out

    def lookup(self, arena: np.ndarray, starts: np.ndarray) -> np.ndarray:
        out = np.empty(len(starts) - 1, np.int64)
        scan.lookup_words(self.table, arena, starts, len(out), out)
        return out

    def words(self) -> list[str]:
        """The words in id order (a file's tokens: valid UTF-8 without newlines)."""
        if not len(self):
            return []
        return self.arena[:int(self.sizes[1]) - 1].tobytes().decode("utf-8").split("\n")

    def prune(self, max_vocab: int, min_reduce: int) -> tuple[int, int]:
        """The C tool's ReduceVocab until at most ``max_vocab`` words are held (as
        :func:`w2v.vocab.count_words` does); returns (words dropped, the last threshold)."""
        counts = self.counts[:len(self)]
        keep = np.ones(len(counts), bool)
        while int(keep.sum()) > max_vocab:
            min_reduce += 1
            keep = counts > min_reduce
        dropped = len(counts) - int(keep.sum())
        scan.compact_table(self.table, keep)
        return dropped, min_reduce


class ShareIds:
    """One share read once: its word table, every token's id in its table (a temporary file of int32; -1:
    not in a frozen table), its sentence ends (int64, in tokens of the share) and what reading saw."""

    def __init__(self, share: Corpus, table: WordTable) -> None:
        self.share = share
        self.table = table
        self.file: IO[bytes] | None = None
        self.n_tokens = 0
        self.ends = np.zeros(0, np.int64)
        self.line_ends = (-1, -1)  # positions of the first and last line end (-1: none)
        self.stats: dict[str, _Stats] = {}
        self.over = False  # more than max_vocab words held: the ids are abandoned
        self.pruned_words = 0
        self.min_reduce = 0

    def word_counts(self) -> WordCounts:
        """This share's counts as :func:`w2v.vocab.count_words` gives them (words in first-appearance order)."""
        n = len(self.table)
        return WordCounts(self.table.words(), self.table.counts[:n].copy(), self.n_tokens, self.pruned_words,
                          self.min_reduce)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


class _Stopped(Exception):
    """Another thread failed or gave up: stop reading."""


class _Plain:
    """The blocks of a plain file, read straight into the reader's buffer."""

    def __init__(self, f: IO[bytes], left: int | None, size: int, first: int) -> None:
        self.f, self.left, self.size, self.next = f, left, size, first

    def read_into(self, buf: np.ndarray, at: int) -> tuple[int, BaseException | None]:
        """Up to a block into ``buf[at:]``: (bytes read, the error that stopped it short)."""
        want = self.next if self.left is None else min(self.next, self.left)
        self.next = self.size
        view = memoryview(buf)[at:at + want]
        got = 0
        try:
            while got < want:
                k = self.f.readinto(view[got:])
                if not k:
                    break
                got += k
        except READ_ERRORS as e:
            return got, e
        finally:
            if self.left is not None:
                self.left -= got
        return got, None

    def close(self) -> None:
        pass


class _Prefetch:
    """The blocks of a compressed file, decompressed by a thread of their own (zlib, bz2 and lzma release
    the GIL), so that inflating the next block and splitting this one run at once."""

    def __init__(self, f: IO[bytes], left: int | None, size: int, first: int) -> None:
        self.left = left  # bytes of the piece not yet handed out (None: to the end of the file)
        self.blocks: queue.Queue = queue.Queue(maxsize=4)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(f, left, size, first), daemon=True,
                                       name="w2v-decompress")
        self.thread.start()

    def _run(self, f, left, size, first) -> None:
        try:
            while not self.done.is_set():
                data, error = read_block(f, first if left is None else min(first, left))
                first = size
                if left is not None:
                    left -= len(data)
                self._put((data, error))
                if not data or error is not None or left == 0:
                    return
        except BaseException as e:  # noqa: BLE001 (handed to the reading thread)
            self._put((b"", e))

    def _put(self, item) -> None:
        while not self.done.is_set():
            try:
                self.blocks.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def read_into(self, buf: np.ndarray, at: int) -> tuple[int, BaseException | None]:
        data, error = self.blocks.get()
        if error is not None and not isinstance(error, READ_ERRORS):
            raise error
        buf[at:at + len(data)] = np.frombuffer(data, np.uint8)
        if self.left is not None:
            self.left -= len(data)
        return len(data), error

    def close(self) -> None:
        self.done.set()
        self.thread.join()


class _ShareReader:
    """Reads the pieces of one share into a :class:`ShareIds` (see :func:`read_shares`)."""

    def __init__(self, share: Corpus, table: WordTable, *, insert: bool, max_vocab: int | None, prune: bool,
                 write_ids: bool, directory: str | None, stop: threading.Event) -> None:
        self.out = ShareIds(share, table)
        self.share, self.table = share, table
        self.prune, self.write_ids, self.directory, self.stop = prune, write_ids, directory, stop
        self.params = np.array([share.max_sentence_length, share.normalize, insert, max_vocab or 0, 0], np.int64)
        self.state = np.zeros(10, np.int64)
        self.state[scan.FIRST_LINE_END] = self.state[scan.LAST_LINE_END] = -1
        self.block_size = corpus_mod.BLOCK_SIZE
        self.max_token = corpus_mod.MAX_TOKEN_CHARS
        self._size(2 * self.block_size + self.max_token + 16)
        self.ids = np.empty(IDS_OUT, np.int32)  # a kernel call's output, flushed when full
        self.sent = np.empty(ENDS_OUT, np.int64)
        self.special = np.empty((1024, 2), np.int64)
        self.ends: list[np.ndarray] = []
        self.no_special = np.zeros((0, 2), np.int64)
        self.no_repl = (np.zeros(0, np.uint8), np.zeros(1, np.int64))

    def _size(self, n: int) -> None:
        self.buf = np.empty(n, np.uint8)

    def run(self) -> ShareIds:
        out = self.out
        try:
            if self.write_ids:
                out.file = corpus_mod._cache_file(self.directory)
            for piece in self.share.pieces:
                self._piece(piece)
                if out.over:
                    break
            out.n_tokens = int(self.state[scan.POS])
            out.line_ends = (int(self.state[scan.FIRST_LINE_END]), int(self.state[scan.LAST_LINE_END]))
            out.ends = np.concatenate(self.ends) if self.ends else np.zeros(0, np.int64)
            if out.file is not None:
                out.file.flush()
        except BaseException:
            out.close()
            raise
        return out

    # -- one piece of one file ------------------------------------------------------------------------
    def _piece(self, piece) -> None:
        """Read one piece (checks and messages as :meth:`Corpus._iter_file` has them)."""
        share, path = self.share, piece.path
        st = _Stats()  # this piece's figures: for the messages and the change check
        raw, f, kind, stamp = share._open(path, piece.start)
        left = None if piece.end is None else piece.end - piece.start
        # blocks on the file's grid of BLOCK_SIZE, as one reader of the whole file has them (a run of more
        # than MAX_TOKEN_CHARS characters is cut where a block ends)
        first = self.block_size - piece.start % self.block_size
        kind_of = _Prefetch if kind is not None and DECOMPRESS_THREAD else _Plain
        try:
            with raw, f:
                source = kind_of(f, left, self.block_size, first)
                try:
                    self._blocks(source, piece, kind, st)
                finally:
                    source.close()  # before f closes: a decompressing thread may be reading it
                end = os.fstat(raw.fileno())
        finally:
            total = self.out.stats.setdefault(path, _Stats())
            for name in _Stats.__slots__:
                setattr(total, name, getattr(total, name) + getattr(st, name))
        if self.out.over:
            return
        if (end.st_size, end.st_mtime_ns) != stamp:
            raise share._changed(path, f"it was modified while being read ({stamp[0]:,} bytes when opened, "
                                       f"{end.st_size:,} at the end)")
        key = (path, piece.start, piece.end)
        seen = share._seen.get(key)
        if seen is None:
            share._seen[key] = (stamp, st.tokens)
        elif seen[1] != st.tokens:
            raise share._changed(path, f"this pass read {st.tokens:,} tokens, the first {seen[1]:,}")

    def _blocks(self, source, piece, kind, st: _Stats) -> None:
        """The block loop: each block is scanned up to its last whitespace, the rest carried to the next."""
        pos0 = int(self.state[scan.POS])
        carry = 0
        bom = piece.start == 0  # only a file's first piece can start with a byte-order mark
        while True:
            if self.stop.is_set():
                raise _Stopped
            got, error = source.read_into(self.buf, carry)
            final = got == 0 or error is not None or source.left == 0
            st.bytes += got
            st.nul_bytes += int(np.count_nonzero(self.buf[carry:carry + got] == 0)) if got else 0
            n = carry + got
            if bom:
                if n < 3 and not final:
                    carry = n
                    continue
                bom = False
                if n >= 3 and self.buf[:3].tobytes() == _BOM:
                    self.buf[:n - 3] = self.buf[3:n].copy()
                    n -= 3
            if final:  # 2: where a share was cut inside a file (not a line end); 1: the end of the file
                final = 2 if piece.end is not None and error is None and source.left == 0 else 1
            cut = n if final else scan.last_space(self.buf, n, _CLASSES, _SPACES)
            if n - cut > self.max_token:
                carry = self._slow(n, final, st)
            else:
                self._fast(cut, final, st)
                carry = n - cut
                self.buf[:carry] = self.buf[cut:n].copy()
            st.tokens = int(self.state[scan.POS]) - pos0
            if self.out.over:
                return
            if final:
                if error is not None:
                    self.share._read_failed(piece.path, kind, error, st)  # raises unless allow_truncated
                return
            if carry + self.block_size > len(self.buf):
                kept = self.buf[:carry].copy()
                self._size(2 * (carry + self.block_size))
                self.buf[:carry] = kept

    # -- a block: the fast path, and the exact Python path for a run of more than max_token bytes -------
    def _fast(self, n: int, final: bool, st: _Stats) -> None:
        buf, share = self.buf, self.share
        special, repl = self.no_special, self.no_repl
        if n and scan.max_byte(buf, n) >= 0x80:
            transform = share.lowercase or share.normalize
            k = scan.find_special(buf, n, _CLASSES, _SPACES, transform, self.special)
            if k > len(self.special):
                self.special = np.empty((k, 2), np.int64)
                scan.find_special(buf, n, _CLASSES, _SPACES, transform, self.special)
            if k:
                special = self.special[:k]
                repl = self._resolve(special, st)
        if share.lowercase:
            scan.lower_ascii(buf, n)
        self._scan(buf, n, final, special, repl)

    def _resolve(self, special: np.ndarray, st: _Stats) -> tuple[np.ndarray, np.ndarray]:
        """What Python makes of each special token: decoded (bad bytes replaced and counted), lowercased,
        stripped, as the Python reader does."""
        share = self.share
        raw = self.buf[:int(special[-1, 1])].tobytes()
        made = []
        _decode_state.bad = 0
        for a, b in special.tolist():
            token = raw[a:b].decode("utf-8", _ERRORS)
            if share.lowercase:
                token = token.lower()
            if share.normalize:
                token = token.strip(PUNCTUATION)
            made.append(token.encode("utf-8"))
        st.decode_errors += _decode_state.bad
        offsets = np.zeros(len(made) + 1, np.int64)
        np.cumsum([len(m) for m in made], out=offsets[1:])
        return np.frombuffer(b"".join(made), np.uint8).copy(), offsets

    def _slow(self, n: int, final: bool, st: _Stats) -> int:
        """The block as the Python reader splits it (a run of more than MAX_TOKEN_CHARS characters without
        whitespace is cut at the block's end), re-joined with plain spaces and newlines and scanned; returns
        the bytes carried to the next block."""
        share = self.share
        decoder = codecs.getincrementaldecoder("utf-8")(errors=_ERRORS)
        _decode_state.bad = 0
        text = decoder.decode(self.buf[:n].tobytes().replace(b"\x00", b" "), final)
        st.decode_errors += _decode_state.bad
        pending = decoder.getstate()[0]
        carry = ""
        if not final and text:
            if text[-1] == "\r":
                carry, text = "\r", text[:-1]
            elif not text[-1].isspace():
                tail = text.rsplit(None, 1)[-1]
                if len(tail) <= self.max_token:
                    carry, text = tail, text[:len(text) - len(tail)]
                else:
                    st.split_tokens += 1
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if share.lowercase:
            text = text.lower()
        lines = []
        for segment in text.split("\n"):
            tokens = segment.split()
            if share.normalize:
                tokens = [w for w in (t.strip(PUNCTUATION) for t in tokens) if w]
            lines.append(" ".join(tokens))
        made = np.frombuffer("\n".join(lines).encode("utf-8"), np.uint8)
        normalize = self.params[1]
        self.params[1] = 0
        try:
            self._scan(made.copy(), len(made), final, self.no_special, self.no_repl)
        finally:
            self.params[1] = normalize
        kept = carry.encode("utf-8") + pending
        self.buf[:len(kept)] = np.frombuffer(kept, np.uint8)
        return len(kept)

    def _scan(self, buf: np.ndarray, n: int, final: bool, special, repl) -> None:
        state, params = self.state, self.params
        state[scan.AT] = state[scan.SPECIAL] = 0
        params[4] = final
        while True:
            status = scan.scan_block(buf, n, special, repl, self.table.table, (self.ids, self.sent), state, params,
                                     _CLASSES, _SPACES)
            if status == scan.GROW:
                self.table.grow(int(state[scan.NEED]))
            elif status == scan.FLUSH:
                self._flush()
            elif status == scan.OVER:
                if not self.prune:
                    self.out.over = True
                    self.stop.set()
                    return
                self._flush()
                dropped, self.out.min_reduce = self.table.prune(int(params[3]), self.out.min_reduce)
                self.out.pruned_words += dropped
                self.write_ids = False  # the ids so far name words renumbered or gone: pass 2 will read again
                self.out.close()
            else:
                break
        self._flush()

    def _flush(self) -> None:
        """The ids and sentence ends of the kernel's buffers to the share's file and list."""
        state = self.state
        if self.write_ids:
            try:
                self.out.file.write(memoryview(self.ids[:state[scan.N_IDS]]).cast("B"))
            except OSError as e:
                full = _disk_full(e, self.directory or tempfile.gettempdir(), int(state[scan.POS]))
                if full is None:
                    raise
                raise full from None
            if state[scan.N_ENDS]:
                self.ends.append(self.sent[:state[scan.N_ENDS]].copy())
        state[scan.N_IDS] = state[scan.N_ENDS] = 0


def _run(readers: list[_ShareReader]) -> list[ShareIds | None]:
    """Run each reader in a thread of its own (one: in this thread); their results in order, None for a
    reader stopped because another gave up.  The first failure, in share order, is raised once every
    thread has stopped (Ctrl-C too: the others stop at their next block)."""
    if len(readers) == 1:
        return [readers[0].run()]
    results: list[ShareIds | None] = [None] * len(readers)
    errors: list[BaseException | None] = [None] * len(readers)

    def work(i: int) -> None:
        try:
            results[i] = readers[i].run()
        except BaseException as e:  # noqa: BLE001 (raised below, in the calling thread)
            errors[i] = e
            readers[i].stop.set()

    threads = [threading.Thread(target=work, args=(i,), name=f"w2v-read-{i}", daemon=True)
               for i in range(len(readers))]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.25)
    except BaseException:
        readers[0].stop.set()
        for t in threads:
            t.join()
        _close(results)
        raise
    failure = next((e for e in errors if e is not None and not isinstance(e, _Stopped)), None)
    if failure is not None:
        _close(results)
        raise failure
    return results


def _close(shares) -> None:
    for s in shares:
        if s is not None:
            s.close()


def _finish(corpus: Corpus, shares: list[ShareIds]) -> None:
    """What the Python reader leaves on a Corpus after a pass: the repairs warned about once per file (the
    shares' figures added up), its counters, and the files' stamps for the next pass's change check."""
    total = _Stats()
    for path in corpus.files:
        st = _Stats()
        for share in shares:
            part = share.stats.get(path)
            if part is not None:
                for name in _Stats.__slots__:
                    setattr(st, name, getattr(st, name) + getattr(part, name))
        corpus._report(path, st)
        for name in _Stats.__slots__:
            setattr(total, name, getattr(total, name) + getattr(st, name))
    corpus.decode_errors, corpus.nul_bytes = total.decode_errors, total.nul_bytes
    corpus.raw_tokens = sum(s.n_tokens for s in shares)
    for share in shares:
        for key, value in share.share._seen.items():
            corpus._seen.setdefault(key, value)


def plan(corpus: Corpus, threads: int) -> list[Corpus]:
    """The shares the threads read: :meth:`Corpus.shares`, or the corpus itself for one thread.  A
    compressed file is never cut (a share would inflate all of it that comes before its part: one thread
    inflating beside the one splitting is faster), so a single compressed file is read by one thread.  Each
    share starts with what the corpus knows of its files (a file changed since is an error)."""
    shares = [corpus] if threads <= 1 else corpus.shares(threads, whole_compressed=True)
    shares = [s for s in shares if s.pieces] or [corpus]
    _known(shares, corpus)
    return shares


def _known(shares: list[Corpus], corpus: Corpus) -> None:
    """Give the shares what the corpus knows of its files (size and time when first read)."""
    for share in shares:
        if share is not corpus:
            share._seen.update(corpus._seen)


def read_shares(shares: list[Corpus], *, table_of=None, max_vocab: int | None = None, prune: bool = False,
                write_ids: bool = True, directory: str | os.PathLike | None = None) -> list[ShareIds] | None:
    """Read each share in a thread of its own (pass 1).

    ``table_of``: a callable giving each share's :class:`WordTable`, frozen (only its words get ids; -1
    for the others) when given, else a new table each (count mode).  ``max_vocab``: with ``prune`` the C
    tool's pruning (the counts become lower bounds, and the ids are given up once a word is pruned:
    ``ShareIds.file`` None), without it the reading gives up (returns None) as soon as a share holds more
    words.  The ids go to anonymous temporary files in ``directory`` (none when not ``write_ids``).
    """
    stop = threading.Event()
    where = os.fspath(directory) if directory is not None else None
    readers = [_ShareReader(share, table_of() if table_of else WordTable(), insert=table_of is None,
                            max_vocab=max_vocab, prune=prune, write_ids=write_ids,
                            directory=where, stop=stop) for share in shares]
    results = _run(readers)
    if any(r is None or r.over for r in results):
        _close(results)
        return None
    return results
