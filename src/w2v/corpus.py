"""Reading a corpus (text files or token lists) and encoding it once as token ids (pass 2).

Files are streamed in binary blocks of :data:`BLOCK_SIZE` bytes, whatever their lines: a one-line file of
gigabytes takes bounded memory (a block, the partial token that straddles two blocks, and at most
``max_sentence_length`` tokens of the current line).  Compression (gzip, bzip2, xz) is recognised by the
file's magic bytes, not its name.  Text is decoded as UTF-8 incrementally; invalid bytes become U+FFFD and
NUL bytes become spaces, both counted and reported by a warning on the ``w2v`` logger.

A line is a sentence (``\\n``, ``\\r\\n`` and a lone ``\\r`` all end one); tokens are split on whitespace
(``str.split`` semantics).  A line longer than ``max_sentence_length`` tokens is cut into consecutive
sentences of at most that many tokens, counted from the line's start, so the cut does not depend on the
block size and no token is lost.

A compressed file that is truncated or corrupt is an error naming the file and how far reading got; with
``allow_truncated`` what could be read is used and a warning says how much.  A file that changes between
the passes (its size or modification time, or the tokens read) is an error: the vocabulary counted in
pass 1 would not match the text encoded in pass 2.
"""

from __future__ import annotations

import codecs
import errno
import itertools
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from .errors import ConfigError, CorpusError, CorpusNotFoundError
from .sources import Piece, compression_of, content_at, expand_paths, plan_shares, read_block  # noqa: F401

if TYPE_CHECKING:  # pragma: no cover
    from .vocab import Vocab

logger = logging.getLogger("w2v")

BLOCK_SIZE = 1 << 20
"""Bytes read per block (read at each pass, so tests can set it small to split tokens across blocks)."""

MAX_TOKEN_CHARS = 1 << 20
"""A run of this many characters without whitespace is cut into pieces (counted and warned): memory stays
bounded even on binary junk with no space in it."""

FLUSH_IDS = 1 << 20
"""encode_corpus buffers this many token ids in Python before writing them out with NumPy."""

# ASCII punctuation plus the common Unicode quotes, dashes and ellipsis: stripped at word edges by normalize.
PUNCTUATION = ("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
               "\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u00ab\u00bb\u2039\u203a"  # quotes
               "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"  # hyphens, dashes, minus
               "\u2026\u00a1\u00bf\u00b7\u2022\u2032\u2033")  # ellipsis, inverted marks, dots, primes

# Decoding errors are counted by a codec error handler (called in the decoding thread, only on bad bytes).
_decode_state = threading.local()


def _count_and_replace(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    _decode_state.bad = getattr(_decode_state, "bad", 0) + (exc.end - exc.start)
    return "\ufffd", exc.end


_ERRORS = "w2v.count_replace"
codecs.register_error(_ERRORS, _count_and_replace)


class _Stats:
    __slots__ = ("decode_errors", "nul_bytes", "split_tokens", "tokens", "bytes")

    def __init__(self) -> None:
        self.decode_errors = self.nul_bytes = self.split_tokens = self.tokens = self.bytes = 0


_join = "".join


def _check_tokens(sentence: Sequence[object]) -> None:
    """Raise :class:`CorpusError` naming the first token of ``sentence`` that is not a str."""
    for i, token in enumerate(sentence):
        if not isinstance(token, str):
            shown = repr(list(sentence[:8]))[:-1] + (", ...]" if len(sentence) > 8 else "]")
            raise CorpusError(f"tokens must be str; token {i} of the sentence {shown} is "
                              f"{type(token).__name__} ({token!r})")


class Corpus:
    """A re-iterable corpus: each iteration yields its sentences as ``list[str]``.

    Parameters
    ----------
    source : path, list of paths, or re-iterable of token lists
        A file (plain, gzip, bzip2 or xz), a directory (its sorted non-hidden files), a list of those, or an
        object whose ``__iter__`` gives a fresh iterator of sentences (lists or tuples of str) each time.
        A one-shot iterator is refused: the corpus is read twice.
    lowercase : bool
        Lowercase every token.
    normalize : bool
        Strip :data:`PUNCTUATION` at word edges (``'LORD,'`` -> ``'LORD'``; ``"don't"`` stays); a token made
        only of punctuation disappears.  Case is left alone.
    max_sentence_length : int
        Longer lines (or sentences) are cut into consecutive sentences of at most this many tokens.
    allow_truncated : bool
        A compressed file that is truncated or corrupt is read up to the damage (a warning says how far)
        instead of raising :class:`CorpusError`.
    allow_binary : bool
        Read files whose first bytes are not text (a model file, a pickle, an image...; the rule is in
        :mod:`w2v.filetypes`) as text anyway, instead of raising :class:`CorpusError` at construction.
    exclude : {path: what}
        Outputs of the command: a file found in a corpus directory that is one of them is left out; one named
        directly is an :class:`w2v.errors.OutputConflictError` (see :func:`w2v.sources.expand_paths`).

    Raises (while iterating)
    ------------------------
    CorpusError
        A compressed file is truncated or corrupt (without ``allow_truncated``); a file changed since an
        earlier pass of this Corpus read it (size, modification time or token count).

    Attributes
    ----------
    files : list[str] or None
        The files read, in order (None for an iterable source).
    pieces : list[w2v.sources.Piece] or None
        What is read of them: whole files, or for a share (:meth:`shares`) runs of their content.
    decode_errors, nul_bytes, raw_tokens : int
        Of the last complete pass: bytes of invalid UTF-8 replaced by U+FFFD, NUL bytes read as spaces, and
        tokens yielded.
    """

    def __init__(self, source: Any, *, lowercase: bool = False, normalize: bool = False,
                 max_sentence_length: int = 10_000, allow_truncated: bool = False, allow_binary: bool = False,
                 exclude: Mapping[str, str] | None = None) -> None:
        if not isinstance(max_sentence_length, int) or isinstance(max_sentence_length, bool) \
                or max_sentence_length < 1:
            raise ConfigError(f"'max_sentence_length' must be an int in [1, inf); got {max_sentence_length!r}")
        self.lowercase = bool(lowercase)
        self.normalize = bool(normalize)
        self.max_sentence_length = max_sentence_length
        self.allow_truncated = bool(allow_truncated)
        self.allow_binary = bool(allow_binary)
        # (path, start, end) -> ((size, mtime_ns), tokens) of its first complete read: later passes must find
        # the same
        self._seen: dict[tuple[str, int, int | None], tuple[tuple[int, int], int]] = {}
        self.files: list[str] | None = None
        self.source: Any = None
        self.decode_errors = 0
        self.nul_bytes = 0
        self.raw_tokens = 0
        self._warned: set[Any] = set()
        self._first_read: int | None = None  # an iterable source's tokens when first read to its end
        if isinstance(source, (str, bytes, os.PathLike)):
            self.files = expand_paths([source], exclude=exclude, allow_binary=self.allow_binary)
        elif isinstance(source, (list, tuple)) and source and all(
                isinstance(s, (str, bytes, os.PathLike)) for s in source):
            strings = [s for s in source if isinstance(s, str)]
            if strings and all(not os.path.exists(s) for s in strings) \
                    and any(any(c.isspace() for c in s) for s in strings):
                raise CorpusError("sentences must be lists of tokens, not strings (these strings are not "
                                  f"existing files either, e.g. {strings[0][:60]!r})")
            self.files = expand_paths(source, exclude=exclude, allow_binary=self.allow_binary)
        else:
            # (iter(source) is not called to find out: an __iter__ that reads a file would be used up)
            if not (hasattr(type(source), "__iter__") or hasattr(type(source), "__getitem__")):
                raise CorpusError(f"a corpus is a file path, a list of paths, or a re-iterable of token lists; "
                                  f"got {type(source).__name__}")
            if isinstance(source, Iterator):
                raise CorpusError(f"the corpus is a one-shot iterator ({type(source).__name__}), but it is "
                                  "read twice (once to count the words, once to encode them); pass a list of "
                                  "token lists, an object whose __iter__ starts over, or a file path")
            self.source = source
        self.pieces = None if self.files is None else [Piece(f) for f in self.files]
        self._slice: tuple[int, int] | None = None  # an iterable source's share: sentences [a, b)

    def fresh(self) -> "Corpus":
        """A copy of this corpus that remembers none of its reads: a new training checks that its own reads
        agree with each other, not with an earlier training's (a file appended to, a list grown since)."""
        import copy

        new = copy.copy(self)
        new._seen, new._warned, new._first_read = {}, set(), None
        return new

    def shares(self, parts: int, *, whole_compressed: bool = False) -> list["Corpus"]:
        """This corpus cut into ``parts`` contiguous shares, each a :class:`Corpus` with the same settings:
        its pieces (the files, or a share's runs of them) cut at line ends (:func:`w2v.sources.plan_shares`),
        an iterable cut by sentence count.  The
        shares' sentences, in order, hold exactly the corpus's tokens; a line longer than
        ``sources.CUT_SEARCH`` bytes may be cut between two words (and ``max_sentence_length`` then counts
        from the cut)."""
        if self.files is not None:
            plans = plan_shares(self.pieces, parts, whole_compressed=whole_compressed)
        else:
            n = len(self.source) if hasattr(self.source, "__len__") else sum(1 for _ in self.source)
            plans = [(n * r // parts, n * (r + 1) // parts) for r in range(parts)]
        out = []
        for plan in plans:
            share = self.fresh()
            if self.files is not None:
                share.pieces = list(plan)
                share.files = list(dict.fromkeys(p.path for p in plan))
            else:
                share._slice = plan
            out.append(share)
        return out

    # -- description ------------------------------------------------------------------------------------
    def describe(self) -> str:
        """A short human description, for logs and error messages."""
        if self.files is None:
            n = len(self.source) if hasattr(self.source, "__len__") else None
            what = f"{n} sentences" if n is not None else "sentences"
            return f"an iterable of {what} ({type(self.source).__name__})"
        if len(self.files) == 1:
            return f"file {self.files[0]!r}"
        shown = ", ".join(repr(f) for f in self.files[:3])
        return f"{len(self.files)} files ({shown}{', ...' if len(self.files) > 3 else ''})"

    def __repr__(self) -> str:
        return (f"Corpus({self.describe()}, lowercase={self.lowercase}, normalize={self.normalize}, "
                f"max_sentence_length={self.max_sentence_length}, allow_truncated={self.allow_truncated}, "
                f"allow_binary={self.allow_binary})")

    # -- iteration --------------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[list[str]]:
        stats = _Stats()
        if self.files is None:
            yield from self._iter_sentences(stats)
        else:
            for piece in self.pieces:
                file_stats = _Stats()
                yield from self._iter_file(piece.path, file_stats, piece.start, piece.end)
                self._report(piece.path, file_stats)
                for name in _Stats.__slots__:
                    setattr(stats, name, getattr(stats, name) + getattr(file_stats, name))
        self.decode_errors = stats.decode_errors
        self.nul_bytes = stats.nul_bytes
        self.raw_tokens = stats.tokens

    def _report(self, path: str, st: _Stats) -> None:
        """Warn (once per file and Corpus) about what decoding had to repair."""
        if path in self._warned or not (st.decode_errors or st.nul_bytes or st.split_tokens):
            return
        self._warned.add(path)
        parts = []
        if st.decode_errors:
            parts.append(f"{st.decode_errors} bytes of invalid UTF-8 replaced by U+FFFD")
        if st.nul_bytes:
            parts.append(f"{st.nul_bytes} NUL bytes read as spaces")
        if st.split_tokens:
            parts.append(f"{st.split_tokens} runs of more than {MAX_TOKEN_CHARS} characters without "
                         "whitespace cut into pieces")
        logger.warning("corpus file %r: %s", path, "; ".join(parts))

    def _cut(self, tokens: list[str]) -> Iterator[list[str]]:
        """``tokens`` (one whole line) as sentences of at most max_sentence_length tokens."""
        n = self.max_sentence_length
        if len(tokens) <= n:
            yield tokens
        else:
            for i in range(0, len(tokens), n):
                yield tokens[i:i + n]

    def _iter_sentences(self, stats: _Stats) -> Iterator[list[str]]:
        lower, normalize = self.lowercase, self.normalize
        source = self.source if self._slice is None else itertools.islice(self.source, *self._slice)
        for sentence in source:
            if isinstance(sentence, str):
                raise CorpusError("sentences must be lists of tokens, not strings (got "
                                  f"{sentence[:40]!r}); split each sentence, e.g. line.split()")
            if isinstance(sentence, np.ndarray) and sentence.ndim == 1:
                sentence = sentence.tolist()  # (a pandas column of lists read from parquet holds such arrays)
            if not isinstance(sentence, (list, tuple)):
                raise CorpusError("each sentence must be a list or tuple of str tokens; got "
                                  f"{type(sentence).__name__}")
            if not sentence:
                continue
            try:
                _join(sentence)  # every token a str (np.str_ too), checked at C speed: ~25 ns a token
            except TypeError:
                _check_tokens(sentence)
                raise
            if lower:
                sentence = [t.lower() for t in sentence]
            if normalize:
                sentence = [w for w in (t.strip(PUNCTUATION) for t in sentence) if w]
                if not sentence:
                    continue
            elif type(sentence) is not list:
                sentence = list(sentence)
            stats.tokens += len(sentence)
            yield from self._cut(sentence)
        if self._first_read is None:
            self._first_read = stats.tokens
        elif self._first_read and not stats.tokens:
            raise CorpusError(f"the corpus gave {self._first_read} tokens when first read and none when read "
                              f"again: its __iter__ ({type(self.source).__name__}) does not start over, but the "
                              "corpus is read twice (once to count the words, once to encode them); pass a "
                              "list of token lists, or make __iter__ start from the beginning each time")
        elif stats.tokens != self._first_read:
            raise CorpusError(f"the corpus gave {self._first_read:,} tokens when first read and {stats.tokens:,} "
                              f"when read again: its __iter__ ({type(self.source).__name__}) gives other "
                              "sentences each time, but the vocabulary counted in the first read must match the "
                              "text trained on in the second; give the same sentences each time (their order "
                              "may change)")

    def _changed(self, path: str, what: str) -> CorpusError:
        return CorpusError(f"corpus file {path!r} changed during training: {what}; the vocabulary counted in "
                           "the first pass no longer matches the text, so nothing was trained on it. Train "
                           "again once the file is complete (with a new Corpus)")

    def _open(self, path: str, start: int = 0) -> tuple[IO[bytes], IO[bytes], str | None, tuple[int, int]]:
        """(raw file, decompressing reader at content offset ``start``, compression, (size, mtime_ns));
        checks the file did not change."""
        try:
            raw = open(path, "rb")
        except OSError as e:
            if any(k[0] == path for k in self._seen):
                raise self._changed(path, f"it cannot be opened any more ({e.strerror or e})") from None
            err = CorpusNotFoundError(f"corpus file cannot be read: {path!r} ({e.strerror or e})")
            err.filename = path
            raise err from None
        try:
            st = os.fstat(raw.fileno())
            stamp = (st.st_size, st.st_mtime_ns)
            seen = next((v for k, v in self._seen.items() if k[0] == path), None)
            if seen is not None and seen[0] != stamp:
                raise self._changed(path, f"it held {seen[0][0]:,} bytes when first read, now {stamp[0]:,}"
                                    if seen[0][0] != stamp[0] else "its modification time differs from the "
                                    "first pass")
            reader, kind = content_at(raw, start)  # a compressed stream is decompressed up to the piece
        except BaseException:
            raw.close()
            raise
        return raw, reader, kind, stamp

    def _read_failed(self, path: str, kind: str | None, e: BaseException, stats: _Stats) -> None:
        """A read error at ``stats.bytes``: raise, or (allow_truncated, compressed) warn and let it end."""
        where = f"after {stats.bytes:,} {'decompressed ' if kind else ''}bytes ({stats.tokens:,} tokens)"
        if kind is None:
            raise CorpusError(f"corpus file {path!r} cannot be read: {e} ({where})") from None
        what = "truncated" if isinstance(e, EOFError) else "corrupt"
        if not self.allow_truncated:
            raise CorpusError(f"corpus file {path!r} ({kind}) is {what}: {e}; reading stopped {where}. "
                              "What was read of it is not used: pass allow_truncated=True "
                              "(--allow-truncated) to train on it anyway") from None
        if ("truncated", path) not in self._warned:
            self._warned.add(("truncated", path))
            logger.warning("corpus file %r (%s) is %s (%s): training on what was read of it, %s decompressed "
                           "bytes (%s tokens); the rest is lost (allow_truncated)", path, kind, what, e,
                           f"{stats.bytes:,}", f"{stats.tokens:,}")

    def _iter_file(self, path: str, stats: _Stats, start: int = 0, end: int | None = None) -> Iterator[list[str]]:
        """Stream the sentences of one file (or of its content bytes ``start`` to ``end``: a piece of a
        share, see :func:`w2v.sources.plan_shares`); the block loop is below, the splitting in :meth:`_split`."""
        raw, f, kind, stamp = self._open(path, start)
        block_size = BLOCK_SIZE
        # -sig: drop a leading BOM (only a file's first piece can hold one)
        decoder = codecs.getincrementaldecoder("utf-8-sig" if start == 0 else "utf-8")(errors=_ERRORS)
        line: list[str] = []  # tokens of the current, unfinished line not yet yielded
        carry = ""  # text held back for the next block: a partial token or a '\r' that may start a CRLF
        left = None if end is None else end - start
        with raw, f:
            while True:
                data, error = read_block(f, block_size if left is None else min(block_size, left))
                if left is not None:
                    left -= len(data)
                final = not data or error is not None or left == 0  # a read error ends what is read
                stats.bytes += len(data)
                if b"\x00" in data:
                    stats.nul_bytes += data.count(b"\x00")
                    data = data.replace(b"\x00", b" ")  # 0x00 is never part of a multi-byte UTF-8 sequence
                _decode_state.bad = 0
                text = decoder.decode(data, final)
                stats.decode_errors += _decode_state.bad
                if carry:
                    text = carry + text
                    carry = ""
                if not final and text:
                    last = text[-1]
                    if last == "\r":
                        carry, text = "\r", text[:-1]
                    elif not last.isspace():
                        tail = text.rsplit(None, 1)[-1]  # the token that may go on in the next block
                        if len(tail) <= MAX_TOKEN_CHARS:
                            carry, text = tail, text[:len(text) - len(tail)]
                        else:
                            stats.split_tokens += 1
                yield from self._split(text, line, final, stats)
                if final:
                    if error is not None:
                        self._read_failed(path, kind, error, stats)  # raises unless allow_truncated
                    break
            st = os.fstat(raw.fileno())
        if (st.st_size, st.st_mtime_ns) != stamp:
            raise self._changed(path, f"it was modified while being read ({stamp[0]:,} bytes when opened, "
                                      f"{st.st_size:,} at the end)")
        key = (path, start, end)
        seen = self._seen.get(key)
        if seen is None:
            self._seen[key] = (stamp, stats.tokens)
        elif seen[1] != stats.tokens:
            raise self._changed(path, f"this pass read {stats.tokens:,} tokens, the first {seen[1]:,}")

    def _split(self, text: str, line: list[str], final: bool, stats: _Stats) -> Iterator[list[str]]:
        """Sentences of ``text`` (which ends at a token boundary); ``line`` holds the unfinished line."""
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if self.lowercase:
            text = text.lower()  # whole tokens only (text ends at a boundary), so this equals per-token lower
        n = self.max_sentence_length
        segments = text.split("\n")
        last = len(segments) - 1
        for i, segment in enumerate(segments):
            tokens = segment.split()
            if self.normalize and tokens:
                tokens = [w for w in (t.strip(PUNCTUATION) for t in tokens) if w]
            if tokens:
                stats.tokens += len(tokens)
                if line:
                    line.extend(tokens)
                else:
                    line[:] = tokens
            if i < last or final:  # the line ends here
                if line:
                    yield from self._cut(line[:])
                    line.clear()
            elif len(line) >= n:  # a long line goes on: yield its whole sentences now (bounded memory)
                full = len(line) - len(line) % n
                for j in range(0, full, n):
                    yield line[j:j + n]
                del line[:full]


# -- pass 2: the encoded corpus ----------------------------------------------------------------------------
class EncodedCorpus:
    """The corpus as in-vocabulary token ids, memory-mapped from an anonymous temporary file.

    Attributes
    ----------
    ids : np.ndarray
        ``int32[n]`` (read-only memmap): every in-vocabulary token, in corpus order.
    sentence_ends : np.ndarray
        ``int64[s]``: exclusive end offset of each sentence in ``ids``; strictly increasing, last == n.
    raw_tokens : int
        Tokens read, out-of-vocabulary ones included.
    counts : np.ndarray
        ``int64[V]``: exact occurrences of each vocabulary id in ``ids``.
    vocab : Vocab or None
        The vocabulary ``ids`` refer to: the one given to :func:`encode_corpus`, or the re-sorted one after
        :func:`finalize`.
    """

    def __init__(self, ids: np.ndarray, sentence_ends: np.ndarray, raw_tokens: int, counts: np.ndarray,
                 file: IO[bytes] | None = None, vocab: "Vocab | None" = None) -> None:
        self.ids = ids
        self.vocab = vocab
        self.sentence_ends = sentence_ends
        self.raw_tokens = raw_tokens
        self.counts = counts
        self._file = file

    @property
    def n_tokens(self) -> int:
        return len(self.ids)

    @property
    def n_sentences(self) -> int:
        return len(self.sentence_ends)

    def read_ids(self, start: int, stop: int) -> np.ndarray:
        """``ids[start:stop]`` as a fresh int32 array read from the cache file (the GIL is released while
        reading), so that training touches only the chunks in flight and memory stays bounded however
        long the corpus (a view of the memory map would keep every page read resident)."""
        if self._file is None:
            return np.array(self.ids[start:stop], dtype=np.int32)
        out = np.empty(stop - start, dtype=np.int32)
        view = memoryview(out).cast("B")
        fd, offset, done = self._file.fileno(), start * 4, 0
        while done < len(view):
            got = os.preadv(fd, [view[done:]], offset + done)
            if got <= 0:
                raise CorpusError(f"the encoded corpus cache ended at byte {offset + done}; expected "
                                  f"{stop * 4} bytes")
            done += got
        return out

    def _remap(self, perm: np.ndarray) -> None:
        """Replace every id ``i`` by ``perm[i]``, in place in the cache file, chunk by chunk."""
        n = len(self.ids)
        if self._file is None:
            self.ids = perm[self.ids]
            return
        writable = np.memmap(self._file, dtype=np.int32, mode="r+", shape=(n,))
        for a in range(0, n, FLUSH_IDS * 16):
            writable[a:a + FLUSH_IDS * 16] = perm[writable[a:a + FLUSH_IDS * 16]]
        writable.flush()
        del writable
        self.ids = np.memmap(self._file, dtype=np.int32, mode="r", shape=(n,))

    def close(self) -> None:
        """Release the map and the file (the space is freed once no view of ``ids`` remains)."""
        self.ids = np.empty(0, dtype=np.int32)
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "EncodedCorpus":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"EncodedCorpus({self.n_tokens} ids, {self.n_sentences} sentences, {self.raw_tokens} raw tokens)"


def _cache_file(directory: str | None) -> IO[bytes]:
    """An anonymous temporary file: on POSIX it has no name on disk at any moment (O_TMPFILE, or created
    and unlinked at once), so nothing is left behind on any exit, SIGKILL included."""
    return tempfile.TemporaryFile(dir=directory)


def _disk_full(e: OSError, where: str, written: int) -> CorpusError | None:
    if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return CorpusError(f"disk full while writing the encoded corpus cache in {where} (after {written * 4} "
                           "bytes); free some space or pass another directory")
    return None


def encode_corpus(sentences: Iterable[Sequence[str]], vocab: "Vocab",
                  directory: str | os.PathLike | None = None) -> EncodedCorpus:
    """Pass 2: encode ``sentences`` as the int32 ids of ``vocab``, out-of-vocabulary tokens dropped.

    The ids go to an anonymous temporary file in ``directory`` (default: the system temp dir), written in
    batches of :data:`FLUSH_IDS`, then memory-mapped read-only; memory stays bounded by a batch.  Sentences
    left empty (all out of vocabulary) are dropped.  ``counts`` of the result are exact; after a pruned
    pass 1 call :func:`finalize` to sort the vocabulary by them.

    Raises
    ------
    CorpusError
        No token of the corpus is in the vocabulary, or the disk is full (the message says where).
    """
    start = time.perf_counter()
    where = os.fspath(directory) if directory is not None else tempfile.gettempdir()
    get = vocab.index.get
    oov = itertools.repeat(-1)  # map(get, sentence, oov) calls get(word, -1)
    n_vocab = len(vocab)
    counts = np.zeros(n_vocab, dtype=np.int64)
    ends_parts: list[np.ndarray] = []
    written = raw = 0
    f = _cache_file(os.fspath(directory) if directory is not None else None)
    try:
        buf: list[int] = []  # ids of the batch, -1 for out-of-vocabulary tokens
        lens: list[int] = []  # token count of each sentence of the batch

        def flush() -> None:
            nonlocal written, raw
            a = np.array(buf, dtype=np.int32)
            sent_lens = np.array(lens, dtype=np.int64)
            keep = a >= 0
            kept = a[keep]
            # end of each sentence among the kept ids, then drop the sentences that kept nothing
            ends = np.cumsum(keep, dtype=np.int64)[np.cumsum(sent_lens) - 1] + written
            previous = np.concatenate(([written], ends[:-1]))
            ends_parts.append(ends[ends > previous])
            f.write(kept.tobytes())
            counts[:] += np.bincount(kept, minlength=n_vocab)
            written += len(kept)
            raw += len(a)

        try:
            for sentence in sentences:
                if isinstance(sentence, str):
                    raise CorpusError("sentences must be lists of tokens, not strings")
                if not sentence:
                    continue
                buf += map(get, sentence, oov)  # runs in C; a list beats array.array here
                lens.append(len(sentence))
                if len(buf) >= FLUSH_IDS:
                    flush()
                    buf.clear()
                    lens.clear()
            if lens:
                flush()
            f.flush()
        except OSError as e:
            full = _disk_full(e, where, written)
            if full is None:
                raise
            raise full from None
        if written == 0:
            raise CorpusError(f"no token of the corpus ({raw} tokens) is in the vocabulary of {n_vocab} words"
                              if raw else "corpus is empty: no token to encode")
        ids = np.memmap(f, dtype=np.int32, mode="r", shape=(written,))
    except BaseException:
        try:
            f.close()  # may fail again (the buffered tail of a full disk): the first error is the one to tell
        except OSError:
            pass
        raise
    sentence_ends = np.concatenate(ends_parts) if ends_parts else np.empty(0, dtype=np.int64)
    logger.info("pass 2: encoded %d of %d tokens (%d sentences) in %.1f s; cache of %d bytes in %s "
                "(an anonymous temporary file, gone when closed)", written, raw, len(sentence_ends),
                time.perf_counter() - start, written * 4, where)
    return EncodedCorpus(ids, sentence_ends, raw, counts, f, vocab)


def finalize(encoded: EncodedCorpus, vocab: "Vocab") -> "Vocab":
    """Give ``vocab`` the exact counts of pass 2, sorted again; re-encode ``encoded`` to match.

    Pass 1 counts are exact unless ``max_vocab`` pruned words (then they are lower bounds, and the order may
    be wrong).  Returns ``vocab`` itself when the counts already agree; otherwise a new :class:`Vocab` sorted
    by the exact counts, with ``encoded.ids``, ``encoded.counts`` and ``encoded.vocab`` rewritten in place
    to its ids.  Use the returned vocabulary from then on.  (Which words were kept was decided on the lower
    bounds: that needs no third pass and is what the C tool does.)

    Call it only with the vocabulary built from this very corpus: a model's vocabulary that goes on training
    on new text must keep its ids (its weights are indexed by them), so encode_corpus never re-sorts.
    """
    if len(encoded.counts) != len(vocab):
        raise ValueError(f"finalize: the encoded corpus has counts for {len(encoded.counts)} words, the "
                         f"vocabulary {len(vocab)}")
    if np.array_equal(encoded.counts, vocab.counts):
        return vocab
    new_vocab, perm = vocab.with_counts(encoded.counts)
    moved = int(np.count_nonzero(perm != np.arange(len(perm))))
    if moved:
        encoded._remap(perm)
    encoded.counts = new_vocab.counts.copy()
    encoded.vocab = new_vocab
    logger.info("exact counts of pass 2 replace the lower bounds of pass 1: %d tokens more, %d words changed "
                "place", new_vocab.total - vocab.total, moved)
    return new_vocab
