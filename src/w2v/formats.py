"""File formats: the native model file, the word2vec C text and binary formats, atomic writes.

Native model file (format version 2)
------------------------------------
One file, little-endian throughout, readable with NumPy alone::

    offset 0   8 bytes   magic b"W2VMODEL"
    offset 8   uint32    format version (2); a reader refuses a newer one and reads every older one
    offset 12  uint32    CRC-32 of the J bytes of JSON (0 in files written before it: not checked)
    offset 16  uint64    J, the length in bytes of the JSON header
    offset 24  J bytes   UTF-8 JSON (padded with spaces):
                         {"format": 2, "w2v_version": "0.1.0",
                          "header": {...the caller's header...},
                          "vocab": {"offset": o, "nbytes": n, "count": V},
                          "arrays": {"vectors": {"dtype": "<f4", "shape": [V, d],
                                                 "offset": o, "nbytes": n, "crc32": c}, ...}}
    then       n bytes   the vocabulary: the V words in UTF-8 joined by "\\n" (a word holds no "\\n")
    then                 each array, C order, raw bytes of its dtype, at an offset that is a multiple of 64

"crc32" (optional: files written before it have none) is zlib's CRC-32 of the array's bytes; a reader that
reads a whole array checks it (a memory-mapped or partial read does not).  The JSON's checksum (offset 12)
and the vocabulary's ("vocab": {..., "crc32": c}, optional too) are checked at every read: a flipped bit in
a setting, the training's position or a word is an error, not a silently different model.

Every offset in the JSON counts from the start of the file.  To read one without w2v::

    import json, numpy as np
    raw = open(path, "rb").read()
    json_len = int(np.frombuffer(raw, "<u8", 1, 16)[0])
    meta = json.loads(raw[24:24 + json_len])
    v = meta["vocab"]; words = raw[v["offset"]:v["offset"] + v["nbytes"]].decode().split("\\n")
    a = meta["arrays"]["vectors"]
    vectors = np.frombuffer(raw, a["dtype"], int(np.prod(a["shape"])), a["offset"]).reshape(a["shape"])

A trained model stores arrays "vectors", "output" and "counts" with header {"kind": "model", "config": {...}};
a vectors file stores "vectors" and "counts" with header {"kind": "vectors"}.  No pickle, ever.

Versions: 1 (w2v before hierarchical softmax) had one loss, negative sampling: "output" always had the
shape of "vectors" and the config no "loss".  2 adds the config's "loss" ("ns", "hs" or "softmax"; absent
means "ns") and, for "hs", an "output" of V - 1 rows (the inner nodes of the Huffman tree, which the counts
rebuild: see w2v.losses) and the tree's CRC-32 in the header ("huffman_crc32"); "negative" and
"ns_exponent" may be null (not given: the loss's default).  A version-1 file reads as a version-2 file of
loss "ns".

word2vec C formats
------------------
As written by the C tool (``-binary 0/1``) and gensim: a header line ``"V d\\n"``, then one record per word.
Text: ``word v1 v2 ... vd\\n``.  Binary: ``word`` + ``b" "`` + ``d`` little-endian float32 + ``b"\\n"`` (the
newline is optional when reading: gensim writes none).
"""

from __future__ import annotations

import bz2
import contextlib
import contextvars
import dataclasses
import gzip
import json
import logging
import lzma
import math
import numbers
import os
import re
import secrets
import stat
import struct
import zlib
from typing import IO, Any, BinaryIO, Iterator, NamedTuple, Sequence

import numpy as np

from ._version import __version__
from .errors import ConfigError, ModelFileError, ModelFileNotFoundError, OutputError, W2VError

log = logging.getLogger(__name__)

MAGIC = b"W2VMODEL"
FORMAT_VERSION = 2  # 2: the loss, and hierarchical softmax's V - 1 output rows (above)
_PREFIX = struct.Struct("<8sIIQ")  # magic, format version, the JSON's CRC-32, JSON length: 24 bytes
_ALIGN = 64                        # array offsets are multiples of 64: aligned for SIMD and memmap
_NUMERIC_KINDS = "biufc"           # bool, int, uint, float, complex: never object/str/void
# the dtype strings a native file may name: little-endian (or byte-order free) numeric types only
_DTYPES = {d.str: d for d in (np.dtype(c).newbyteorder("<") for c in "?bBhHiIlLqQefdFD")}


class Compression(NamedTuple):
    """A compression w2v reads (recognised by its first bytes) and writes (chosen by a file's name)."""
    module: Any    # gzip, bz2 or lzma: its open(path or binary file, mode) and decompress(bytes)
    magic: bytes   # how the content starts
    suffix: str    # the name's ending that asks for it when writing


COMPRESSIONS = {"gzip": Compression(gzip, b"\x1f\x8b", ".gz"), "bzip2": Compression(bz2, b"BZh", ".bz2"),
                "xz": Compression(lzma, b"\xfd7zXZ\x00", ".xz")}
"""Every compression, by the name its tool goes by: the one table the corpus readers, the vector and phrase
readers and every writer use."""
HEAD_BYTES = 10  # what compression_from_head needs: bzip2's signature is its 4-byte header and a 6-byte magic
_W2V_HEADER = re.compile(rb"[ \t]*(\d+)[ \t]+(\d+)[ \t]*\r?\n")
MAX_DIM = 1 << 20     # a word2vec header with more dimensions is refused as implausible (no real model has)
_MAX_NDIM = 32        # a native array with more dimensions is refused (NumPy's own limit is 64)
_MAX_EXTENT = 1 << 62  # and so is one extent beyond this (NumPy cannot index it)


def read_decompressed(path: str | os.PathLike, error: type[Exception] = ModelFileError,
                      what: str = "file") -> bytes:
    """The whole content of a small file (a phrase table, an evaluation set), decompressed when it is gzip,
    bzip2 or xz (by its first bytes).  A missing or unreadable file raises ``FileNotFoundError`` or
    ``OSError`` naming it; a damaged archive, ``error``."""
    with open(path, "rb") as f:
        raw = f.read()
    kind = compression_from_head(raw[:HEAD_BYTES])
    if kind is None:
        return raw
    try:
        return COMPRESSIONS[kind].module.decompress(raw)
    except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as e:
        article = "an" if kind == "xz" else "a"
        raise error(f"{os.fspath(path)}: {article} {kind}-compressed {what} that cannot be decompressed ({e})") \
            from None


def open_file(path: str | os.PathLike, what: str = "model or vectors file") -> BinaryIO:
    """``open(path, "rb")``; a missing path, a directory or an unreadable file is a
    :class:`ModelFileNotFoundError` (a ``FileNotFoundError``) whose message names the path and ``what`` it
    is; a pipe (``<(...)``, a FIFO) or a device is a :class:`ModelFileError`: the file is opened more than
    once (its first bytes tell its format), and a pipe would give its bytes to the first opening only."""
    path = os.fspath(path)
    try:
        f = open(path, "rb")
    except OSError as e:
        if isinstance(e, FileNotFoundError):
            message = f"{what} not found: {path!r}"
        elif isinstance(e, IsADirectoryError):
            message = f"{path!r} is a directory, not a {what}"
        else:
            message = f"{what} {path!r} cannot be read ({e.strerror or e})"
        err = ModelFileNotFoundError(message)
        err.filename = path
        raise err from None
    if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
        f.close()
        raise ModelFileError(f"{what} {path!r} is a pipe or a device, not a file: w2v reads it more than once "
                             "(its first bytes tell its format); write it to a file first")
    return f


# -- atomic writes -----------------------------------------------------------------------------------

@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", **open_kwargs: Any) -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; on success fsync it and rename it onto ``path``.

    On any exception (Ctrl-C included) the temporary file is removed and an existing file at ``path`` is
    left untouched.  ``mode`` is "wb" or "w" (then ``open_kwargs`` such as ``encoding`` apply).  A symbolic
    link at ``path`` stays one (its target is replaced); a file replaced keeps its permission bits.

    Raises
    ------
    OutputError
        For any OS error while creating, writing, syncing or renaming (no room, a read-only or missing
        directory, a failed disk): an ``OSError`` of the ``W2VError`` family whose message names ``path``.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write writes new files only: mode must be 'wb' or 'w'; got {mode!r}")
    path = os.fspath(path)
    from .outputs import check_a_file

    check_a_file(path, "output")  # /dev/null, a FIFO, /dev/stdout: the rename would replace it (as root, /dev/null)
    if os.path.islink(path):  # a link to the output stays a link: its target is what gets replaced
        path = os.path.realpath(path)
    try:
        keep_mode = stat.S_IMODE(os.stat(path).st_mode)  # an existing output keeps its permissions
    except OSError:
        keep_mode = None
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    while True:
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(4)}.tmp")
        try:
            # 0o666 filtered by the umask, like open(path, "w"); mkstemp would leave 0o600
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:
            continue
        except OSError as e:
            if not os.path.isdir(directory):
                err = OutputError(f"cannot write {path!r}: the directory {directory!r} does not exist")
                err.errno, err.strerror, err.filename = e.errno, e.strerror, path
                raise err from None
            raise OutputError.wrap(e, path) from None
    together = _TOGETHER.get()
    try:
        with os.fdopen(fd, mode, **open_kwargs) as f:
            if keep_mode is not None and hasattr(os, "fchmod"):
                with contextlib.suppress(OSError):  # best effort: a file system may refuse modes
                    os.fchmod(f.fileno(), keep_mode)
            yield f
            f.flush()
            os.fsync(f.fileno())
        if together is not None:  # renamed with the others when the written_together block ends
            together.append((tmp, path))
            return
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and not isinstance(e, W2VError):
            raise OutputError.wrap(e, path) from None
        raise
    _sync_directory(directory)


def _sync_directory(directory: str) -> None:
    """Make the renames in ``directory`` durable (POSIX); not possible everywhere."""
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


_TOGETHER: contextvars.ContextVar[list[tuple[str, str]] | None] = contextvars.ContextVar("written_together",
                                                                                         default=None)


@contextlib.contextmanager
def written_together() -> Iterator[None]:
    """The files :func:`atomic_write` writes in this block (in this thread) appear together when it ends:
    each is written and synced to its temporary file as usual, and all are renamed onto their paths only
    once the block has succeeded, while stop signals wait.  A failure or a stop inside the block leaves
    none of them (and every earlier file at those paths untouched); a stop that arrives during the renames
    is raised after them, as :class:`~w2v.signals.Stopped` saying the files were written.  For outputs that
    belong together: a text and its phrase table, the projector's two files."""
    from .signals import Stopped, deferred, signal_name

    staged: list[tuple[str, str]] = []
    token = _TOGETHER.set(staged)
    try:
        yield
    except BaseException:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    finally:
        _TOGETHER.reset(token)
    done: list[str] = []
    try:
        with deferred():
            for tmp, path in staged:
                try:
                    os.replace(tmp, path)
                except BaseException as e:
                    for left, _ in staged[len(done):]:
                        with contextlib.suppress(OSError):
                            os.unlink(left)
                    if not isinstance(e, OSError):
                        raise
                    err = OutputError.wrap(e, path)
                    if done:
                        err.args = (f"{err.args[0]} ({', '.join(done)} written already)",)
                    raise err from None
                done.append(path)
    except Stopped as stop:
        raise Stopped(stop.signum, f"stopped by {signal_name(stop.signum)} after {', '.join(done)} were "
                                   "written", saved=True) from None
    for directory in dict.fromkeys(os.path.dirname(os.path.abspath(path)) for path in done):
        _sync_directory(directory)


GZIP_LEVEL = 6  # zlib's default: level 9 (gzip.open's) is ~3x slower for ~2% smaller output


def compression_for_name(path: str | os.PathLike) -> str | None:
    """"gzip", "bzip2" or "xz" when ``path``'s name ends in .gz, .bz2 or .xz (any case), else None: the
    compression a written file gets from its name (the readers look at the content instead)."""
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    return next((kind for kind, c in COMPRESSIONS.items() if c.suffix == suffix), None)


def _check_limit(limit: object) -> None:
    if limit is not None and (not isinstance(limit, numbers.Integral) or isinstance(limit, bool) or limit < 0):
        raise ValueError(f"'limit' must be None or an int >= 0; got {limit!r}")


def check_native_name(path: str | os.PathLike, what: str = "a native w2v file") -> None:
    """Refuse a .gz, .bz2 or .xz name for a native file, which is never compressed (it is read in place,
    memory-mapped): written under such a name it would mislead every tool that trusts the name."""
    if compression_for_name(path):
        raise ConfigError(f"{what} {os.fspath(path)!r}: native w2v files are not compressed (they are "
                          "memory-mapped when loaded), so the name may not end in "
                          f"{os.path.splitext(os.fspath(path))[1]}; drop the suffix (the word2vec formats, "
                          "w2v export and --vectors, compress by the name)")


@contextlib.contextmanager
def compressed_write(path: str | os.PathLike) -> Iterator[IO[bytes]]:
    """:func:`atomic_write` of bytes, compressed as ``path``'s name says (.gz, .bz2, .xz; plain otherwise),
    as gensim, zcat and the C tools expect of such a name.  gzip's header carries no name or time stamp:
    the same content gives the same bytes."""
    kind = compression_for_name(path)
    with atomic_write(path, "wb") as raw:
        if kind is None:
            yield raw
            return
        if kind == "gzip":
            f: IO[bytes] = gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=GZIP_LEVEL, mtime=0)
        else:
            f = COMPRESSIONS[kind].module.open(raw, "wb")
        with f:
            yield f


# -- sniffing ----------------------------------------------------------------------------------------

def bzip2_head(head: bytes) -> bool:
    """Whether a head starting "BZh" is bzip2's: a block size digit, then a block's or the stream end's magic
    (text can start with "BZh")."""
    return head[3:4] in (b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"8", b"9") and (
        len(head) < 10 or head[4:10] in (b"1AY&SY", b"\x17rE8P\x90"))


def compression_from_head(head: bytes) -> str | None:
    """``'gzip'``, ``'bzip2'``, ``'xz'`` or None (not compressed), from a file's first :data:`HEAD_BYTES`
    bytes (text may start with "BZh": bzip2 is its whole signature)."""
    kind = next((kind for kind, c in COMPRESSIONS.items() if head.startswith(c.magic)), None)
    return None if kind == "bzip2" and not bzip2_head(head) else kind


def decompressing(raw: IO[bytes], kind: str | None) -> IO[bytes]:
    """A reader of the content of the open binary file ``raw`` (positioned at its start when compressed),
    which stays ``raw``'s owner's to close; ``kind`` is :func:`compression_from_head`'s answer."""
    return raw if kind is None else COMPRESSIONS[kind].module.open(raw, "rb")


def sniff(head: bytes) -> str:
    """What a file is, from its first bytes (64 are plenty).

    Returns "native", "gzip", "bzip2", "xz", "word2vec" (an uncompressed "V d" header line), "empty" or
    "unknown".
    """
    if head.startswith(MAGIC):
        return "native"
    kind = compression_from_head(head)
    if kind is not None:
        return kind
    if not head:
        return "empty"
    if _W2V_HEADER.match(head):
        return "word2vec"
    return "unknown"


_FASTTEXT_MAGIC = struct.pack("<i", 793712314)  # the int32 a fastText .bin model starts with


def _headerless(head: bytes) -> bool:
    """Whether ``head`` starts like a word2vec text row (a word, then numbers): a file without the header."""
    line = head.split(b"\n", 1)[0]
    fields = line.split()
    if b"\n" not in head:
        fields = fields[:-1]  # the last field may be cut
    return len(fields) >= 3 and number_or_none(fields[0]) is None and _values_after_a_word(line, fields)


def describe_foreign(head: bytes) -> str:
    """A sentence saying what a file that is not a native w2v model seems to be, and what to do."""
    kind = sniff(head)
    if kind in COMPRESSIONS:
        return (f"a {kind}-compressed file, not a native w2v model; if it holds word2vec vectors, "
                f"read it with KeyedVectors.load(path) or KeyedVectors.load_word2vec_format(path)")
    if kind == "word2vec":
        return ("a word2vec C-format file (text or binary), not a native w2v model; read it with "
                "KeyedVectors.load(path) or KeyedVectors.load_word2vec_format(path)")
    if kind == "empty":
        return "an empty file"
    if head[:1] == b"\x80":
        return ("a Python pickle (a gensim .model or .kv file?), which w2v never loads: in gensim, write "
                "model.wv.save_word2vec_format(path, binary=True) (kv.save_word2vec_format for a .kv file) "
                "and load that")
    if head.startswith(_FASTTEXT_MAGIC):
        return ("a fastText model (.bin), which w2v does not read: load the .vec file fastText writes beside "
                "it (the word2vec text format), or write one with 'fasttext print-word-vectors'")
    if _headerless(head):
        return ("word2vec text without its first line 'vocab_size dims' (GloVe's format): read it with "
                "KeyedVectors.load_word2vec_format(path, no_header=True), or 'w2v import PATH OUT --no-header'")
    if head.startswith(b"\x93NUMPY"):
        return "a NumPy .npy file, not a w2v model"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive (.npz?), not a w2v model"
    return f"not a w2v model file (it starts with {head[:16]!r})"


# -- native model file -------------------------------------------------------------------------------

@dataclasses.dataclass
class NativeFile:
    """The content of a native model file.

    ``header``: the caller's JSON header; ``words``: the vocabulary in order; ``arrays``: name -> array
    (``np.memmap``, read-only, when loaded with ``mmap=True``); ``w2v_version``: the version that wrote it.
    """

    header: dict
    words: list[str]
    arrays: dict[str, np.ndarray]
    w2v_version: str = ""


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"header value of type {type(obj).__name__} is not JSON serialisable")


def _round_up(n: int, to: int = _ALIGN) -> int:
    return -(-n // to) * to


def save_native(path: str | os.PathLike, *, words: Sequence[str], arrays: dict[str, np.ndarray],
                header: dict) -> None:
    """Write a native model file atomically (see the module docstring for the layout).

    Parameters
    ----------
    words : the vocabulary, in row order; a word may not contain "\\n".
    arrays : name -> numeric array of any shape (written little-endian, C order).
    header : JSON-serialisable dict (e.g. {"kind": "vectors"}), returned as is by :func:`load_native`.
    """
    check_native_name(path)
    words = list(words)
    for i, word in enumerate(words):
        if not isinstance(word, str):
            raise TypeError(f"word {i} must be a str; got {type(word).__name__}")
        if "\n" in word:
            raise ModelFileError(f"word {i} ({word[:50]!r}) contains a newline, which the vocabulary block "
                                 "cannot hold")
    vocab_blob = "\n".join(words).encode("utf-8")
    prepared: dict[str, np.ndarray] = {}
    for name, arr in arrays.items():
        a = np.asarray(arr)
        if a.dtype.kind not in _NUMERIC_KINDS:
            raise ValueError(f"array {name!r} has dtype {a.dtype}; only numeric arrays can be saved")
        a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
        prepared[str(name)] = a
    # a checksum of each array's bytes (zlib's CRC-32, ~2.5 GB/s): a full read checks it, so that a flipped
    # bit in a model or checkpoint is an error rather than a silently different model
    sums = {name: zlib.crc32(a.reshape(-1).view(np.uint8).data) if a.nbytes else 0 for name, a in prepared.items()}

    # The JSON holds absolute offsets, which depend on the JSON's own length: grow the space reserved for
    # it (a multiple of 64) until the JSON fits, then pad it with spaces.
    reserved = _ALIGN
    while True:
        vocab_offset = _PREFIX.size + reserved
        offset = _round_up(vocab_offset + len(vocab_blob))
        table = {}
        for name, a in prepared.items():
            table[name] = {"dtype": a.dtype.str, "shape": list(a.shape), "offset": offset, "nbytes": a.nbytes,
                           "crc32": sums[name]}
            offset = _round_up(offset + a.nbytes)
        meta = {"format": FORMAT_VERSION, "w2v_version": __version__, "header": header,
                "vocab": {"offset": vocab_offset, "nbytes": len(vocab_blob), "count": len(words),
                          "crc32": zlib.crc32(vocab_blob)},
                "arrays": table}
        text = json.dumps(meta, ensure_ascii=False, allow_nan=False, default=_json_default).encode("utf-8")
        if len(text) <= reserved:
            text += b" " * (reserved - len(text))
            break
        reserved = _round_up(len(text))

    with atomic_write(path, "wb") as f:
        f.write(_PREFIX.pack(MAGIC, FORMAT_VERSION, zlib.crc32(text), len(text)))
        f.write(text)
        f.write(vocab_blob)
        position = vocab_offset + len(vocab_blob)
        for name, a in prepared.items():
            start = table[name]["offset"]
            f.write(b"\0" * (start - position))
            if a.nbytes:
                f.write(a.reshape(-1).view(np.uint8).data)
            position = start + a.nbytes


def native_size(words_nbytes: int, array_nbytes: Sequence[int], header_nbytes: int = 1 << 16) -> int:
    """Bytes of a native file holding a vocabulary blob of ``words_nbytes`` and arrays of these sizes, for
    a JSON header of about ``header_nbytes`` (config, training log): to check for room before writing."""
    return _PREFIX.size + _round_up(header_nbytes) + _round_up(words_nbytes) + sum(
        _round_up(n) for n in array_nbytes)


def word2vec_size(n_words: int, words_nbytes: int, dim: int, binary: bool) -> int:
    """Estimated bytes of a word2vec C file (binary: exact; text: at most 15 characters a value, the longest
    shortest float32 text, ``-1.2345678e-05``, and its space)."""
    per_value = 4 if binary else 15
    return 32 + words_nbytes + n_words * (2 + per_value * dim)


def _bad(path: str, what: str) -> ModelFileError:
    return ModelFileError(f"{path}: {what}")


def _parse_meta(path: str, raw: bytes, size: int) -> dict:
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as e:  # bad UTF-8 or JSON, an int of > 4300 digits, deep nesting
        raise _bad(path, f"corrupt native model file: its JSON header is malformed "
                         f"({type(e).__name__}: {str(e)[:200]})") from None

    def need(cond: bool, what: str) -> None:
        if not cond:
            raise _bad(path, f"corrupt native model file: malformed JSON header ({what})")

    def is_count(x: Any) -> bool:
        return isinstance(x, int) and not isinstance(x, bool) and x >= 0

    need(isinstance(meta, dict), "not an object")
    need(isinstance(meta.get("header", {}), dict), "'header' is not an object")
    vocab = meta.get("vocab")
    need(isinstance(vocab, dict) and all(is_count(vocab.get(k)) for k in ("offset", "nbytes", "count")),
         "'vocab' needs non-negative integers 'offset', 'nbytes', 'count'")
    need(vocab["count"] <= vocab["nbytes"] + 1, "more words than vocabulary bytes")
    need(vocab.get("crc32") is None or (is_count(vocab["crc32"]) and vocab["crc32"] < 1 << 32),
         "the vocabulary has a bad 'crc32'")
    arrays = meta.get("arrays")
    need(isinstance(arrays, dict), "'arrays' is not an object")
    ends = [vocab["offset"] + vocab["nbytes"]]
    for name, spec in arrays.items():
        need(isinstance(spec, dict), f"array {name!r} is not described by an object")
        # looked up, never parsed: np.dtype() of an arbitrary string runs a small parser (ast.literal_eval)
        dtype = _DTYPES.get(spec.get("dtype")) if isinstance(spec.get("dtype"), str) else None
        need(dtype is not None,
             f"array {name!r} has dtype {spec.get('dtype')!r}; expected a little-endian numeric dtype")
        shape = spec.get("shape")
        need(isinstance(shape, list) and len(shape) <= _MAX_NDIM
             and all(is_count(s) and s < _MAX_EXTENT for s in shape), f"array {name!r} has a bad shape")
        need(is_count(spec.get("offset")) and is_count(spec.get("nbytes")),
             f"array {name!r} needs non-negative integers 'offset' and 'nbytes'")
        need(spec["nbytes"] == math.prod(shape) * dtype.itemsize,
             f"array {name!r}: {spec['nbytes']} bytes do not match shape {shape} of {dtype.str}")
        need(spec.get("crc32") is None or (is_count(spec["crc32"]) and spec["crc32"] < 1 << 32),
             f"array {name!r} has a bad 'crc32'")
        spec["dtype"] = dtype
        ends.append(spec["offset"] + spec["nbytes"])
    if max(ends) > size:
        raise _bad(path, f"truncated native model file: its header describes {max(ends)} bytes, "
                         f"the file has {size}")
    return meta


def _read_meta(f: BinaryIO, path: str, size: int) -> dict:
    """Check the fixed header and parse the JSON one (``f`` at offset 0); refuse foreign and newer files."""
    head = f.read(_PREFIX.size)
    if not head.startswith(MAGIC):
        raise _bad(path, describe_foreign(head + f.read(64)))
    if len(head) < _PREFIX.size:
        raise _bad(path, f"truncated native model file: {len(head)} bytes, the fixed header alone "
                         f"needs {_PREFIX.size}")
    _, version, json_crc, json_len = _PREFIX.unpack(head)
    if version > FORMAT_VERSION:
        raise _bad(path, f"written by a newer w2v (format {version}); this w2v "
                         f"({__version__}) reads format {FORMAT_VERSION}: upgrade w2v to load it")
    if version < 1:
        raise _bad(path, f"corrupt native model file: format version {version}")
    if _PREFIX.size + json_len > size:
        raise _bad(path, f"truncated native model file: the JSON header needs "
                         f"{_PREFIX.size + json_len} bytes, the file has {size}")
    text = f.read(json_len)
    if json_crc and zlib.crc32(text) != json_crc:
        raise _bad(path, "corrupt native model file: the JSON header does not match its checksum (a flipped bit: "
                         "a failing disk, memory or copy)")
    return _parse_meta(path, text, size)


def native_info(path: str | os.PathLike) -> dict:
    """A native file's description without reading its data.

    Returns {"header": the caller's header, "w2v_version", "vocab_size",
    "arrays": {name: {"dtype": str, "shape": tuple}}}.  Raises ModelFileError as :func:`load_native`.
    """
    path = os.fspath(path)
    with open_file(path) as f:
        meta = _read_meta(f, path, os.fstat(f.fileno()).st_size)
    return {"header": meta.get("header", {}), "w2v_version": str(meta.get("w2v_version", "")),
            "vocab_size": meta["vocab"]["count"],
            "arrays": {name: {"dtype": spec["dtype"].str, "shape": tuple(spec["shape"])}
                       for name, spec in meta["arrays"].items()}}


def load_native(path: str | os.PathLike, *, mmap: bool = False, names: Sequence[str] | None = None,
                limit: int | None = None) -> NativeFile:
    """Read a native model file.

    Parameters
    ----------
    mmap : map the arrays read-only (``np.memmap``) instead of reading them into memory.
    names : read only these arrays (all when None); a name the file lacks is an error.
    limit : read only the first ``limit`` words, and the first ``limit`` rows of every array whose first
        dimension is the vocabulary size.

    Raises
    ------
    ModelFileError : not a native model file (saying what it seems to be), a newer format version, a
        truncated file, a malformed header.
    """
    path = os.fspath(path)
    _check_limit(limit)
    with open_file(path) as f:
        size = os.fstat(f.fileno()).st_size
        meta = _read_meta(f, path, size)
        vocab = meta["vocab"]
        f.seek(vocab["offset"])
        try:
            blob = f.read(vocab["nbytes"])
            if vocab.get("crc32") is not None and zlib.crc32(blob) != vocab["crc32"]:
                raise _bad(path, "corrupt native model file: the vocabulary does not match its checksum (a flipped "
                                 "bit: a failing disk, memory or copy)")
            words = blob.decode("utf-8").split("\n") if vocab["count"] else []
        except UnicodeDecodeError as e:
            raise _bad(path, f"corrupt native model file: the vocabulary is not valid UTF-8 ({e})") from None
        if len(words) != vocab["count"]:
            raise _bad(path, f"corrupt native model file: the header says {vocab['count']} words, "
                             f"the vocabulary holds {len(words)}")
        n_words = len(words)
        if limit is not None:
            words = words[:limit]

        table = meta["arrays"]
        wanted = list(table) if names is None else list(names)
        missing = [n for n in wanted if n not in table]
        if missing:
            raise _bad(path, f"the file holds no array named {', '.join(map(repr, missing))} "
                             f"(it has: {', '.join(table) or 'none'})")
        arrays: dict[str, np.ndarray] = {}
        for name in wanted:
            spec = table[name]
            dtype, shape = spec["dtype"], list(spec["shape"])
            if limit is not None and shape and shape[0] == n_words:
                shape[0] = min(shape[0], limit)
            count = math.prod(shape)
            if count == 0:
                arr = np.zeros(shape, dtype)
                arr.flags.writeable = not mmap
            elif mmap:
                arr = np.memmap(path, dtype=dtype, mode="r", offset=spec["offset"], shape=tuple(shape))
            else:
                arr = np.empty(shape, dtype)
                f.seek(spec["offset"])
                view = memoryview(arr.reshape(-1).view(np.uint8))
                got = 0
                while got < len(view):
                    n = f.readinto(view[got:])
                    if not n:
                        raise _bad(path, f"truncated native model file while reading array {name!r}")
                    got += n
                if spec.get("crc32") is not None and shape == list(spec["shape"]) \
                        and zlib.crc32(view) != spec["crc32"]:
                    raise _bad(path, f"corrupt native model file: the bytes of its array {name!r} do not match "
                                     "their checksum (a flipped bit: a failing disk, memory or copy)")
            arrays[name] = arr
    return NativeFile(header=meta.get("header", {}), words=words, arrays=arrays,
                      w2v_version=str(meta.get("w2v_version", "")))


def nonfinite_rows(vectors: np.ndarray) -> tuple[int, int]:
    """(how many rows of the (V, d) ``vectors`` hold NaN or an infinity, the first of them or -1).

    Scanned in blocks of rows, so a memory-mapped file is read once without a full-size temporary.
    """
    step = max(1, (16 << 20) // max(1, vectors.shape[1] * vectors.itemsize))
    bad = 0
    first = -1
    for start in range(0, vectors.shape[0], step):
        rows = np.flatnonzero(~np.isfinite(vectors[start:start + step]).all(axis=1))
        if rows.size and first < 0:
            first = start + int(rows[0])
        bad += rows.size
    return bad, first


def all_finite(*matrices: np.ndarray) -> bool:
    """Whether every value of the (V, d) ``matrices`` is finite (the engines' divergence check)."""
    return not any(nonfinite_rows(m)[0] for m in matrices)


def check_finite(path: str, words: Sequence[str], vectors: np.ndarray) -> None:
    """Raise :class:`ModelFileError` naming the first word whose vector holds NaN or an infinity."""
    if vectors.ndim != 2 or not vectors.size:
        return
    bad, first = nonfinite_rows(vectors)
    if bad:
        raise _bad(path, f"{bad} vector(s) hold NaN or infinite values, the first for {words[first]!r} "
                         f"(vector {first + 1}); pass allow_nonfinite=True (--allow-nonfinite) to load "
                         "them anyway")


# -- word2vec C formats: writing ----------------------------------------------------------------------

_W2V_SPACES = " \t\n\r\x0b\x0c"  # what bytes.split() splits on: the text reader's separators

MAX_WORD_BYTES = 1 << 22
"""The longest word the word2vec readers look for and the writers write, in UTF-8 bytes: a token of
``corpus.MAX_TOKEN_CHARS`` characters at up to 4 bytes each (a test checks the two agree)."""


def unstorable(word: str) -> bool:
    """Whether ``word`` is empty or holds a character the word2vec text format splits words on (which
    includes the model file's line end), or a NUL (which the binary reader takes for records out of step, and
    the corpus reader splits on): no file w2v writes could hold it as one word."""
    return not word or any(c in word for c in _W2V_SPACES) or "\0" in word


def _check_w2v_words(words: Sequence[str], n_rows: int) -> None:
    if len(words) != n_rows:
        raise ValueError(f"{len(words)} words for {n_rows} vectors")
    for i, word in enumerate(words):
        if not isinstance(word, str):
            raise TypeError(f"word {i} must be a str; got {type(word).__name__}")
        if unstorable(word):
            raise ModelFileError(f"word {i} ({word[:50]!r}) is empty or holds a space, tab, newline, \\v, \\f or "
                                 "NUL, which the word2vec format cannot store")
        if len(word) * 4 > MAX_WORD_BYTES and len(word.encode("utf-8")) > MAX_WORD_BYTES:
            raise ModelFileError(f"word {i} ({word[:50]!r}...) is longer than {MAX_WORD_BYTES} bytes, more "
                                 "than the word2vec readers look for")


def save_word2vec(path: str | os.PathLike, words: Sequence[str], vectors: np.ndarray,
                  binary: bool = True) -> None:
    """Write the word2vec C format (as the C tool and gensim do), atomically; compressed when ``path`` ends
    in .gz, .bz2 or .xz (as gensim does).

    ``vectors``: (V, d), written as float32.  Binary: ``word b" " <d float32 LE> b"\\n"``; text: the
    shortest decimal form of each float32 that reads back to the same value.
    """
    vectors = np.asarray(vectors)
    if vectors.ndim != 2:
        raise ValueError(f"vectors must be a (V, d) array; got shape {vectors.shape}")
    _check_w2v_words(words, vectors.shape[0])
    n, d = vectors.shape
    with compressed_write(path) as f:
        f.write(f"{n} {d}\n".encode())
        block = 4096
        for start in range(0, n, block):
            rows = np.ascontiguousarray(vectors[start:start + block], dtype="<f4")  # (b, d)
            parts = []
            for word, row in zip(words[start:start + block], rows):
                if binary:
                    parts.append(word.encode("utf-8") + b" " + row.tobytes() + b"\n")
                else:  # str(np.float32) is the shortest text that round-trips (the same as gensim writes)
                    parts.append(f"{word} {' '.join(map(str, row))}\n".encode("utf-8"))
            f.write(b"".join(parts))


def binary_for_name(path: str | os.PathLike) -> bool:
    """Whether a word2vec file named ``path`` is written binary: text when it ends in .txt or .vec (fastText's
    name for it; before a .gz, .bz2 or .xz), binary otherwise."""
    path = os.fspath(path)
    if compression_for_name(path):
        path = os.path.splitext(path)[0]
    return not path.lower().endswith((".txt", ".vec"))


def save_counts(path: str | os.PathLike, words: Sequence[str], counts: np.ndarray) -> None:
    """Write the words' corpus counts, a line "word count" each (gensim's ``fvocab``, the C tool's
    ``-save-vocab``), atomically; compressed as the name says."""
    _check_w2v_words(words, len(counts))
    with compressed_write(path) as f:
        for start in range(0, len(words), 65_536):
            f.write("".join(f"{w} {int(c)}\n" for w, c in zip(words[start:start + 65_536],
                                                               counts[start:start + 65_536])).encode("utf-8"))


def load_counts(path: str | os.PathLike, words: Sequence[str], unicode_errors: str = "replace") -> np.ndarray:
    """The counts of ``words`` from a file of lines "word count" (gensim's ``fvocab``, the C tool's
    ``-save-vocab``, compressed or not; its words decoded as the vectors' were, ``unicode_errors``); its other
    words are ignored, a word of ``words`` it lacks is an error."""
    path = os.fspath(path)
    found: dict[str, int] = {}
    stream, _ = _open_stream(path, "vocabulary (counts) file")
    with stream:
        for line_no, line in enumerate(stream, 1):
            fields = line.split()
            if not fields:
                continue
            try:
                count = int(fields[-1]) if len(fields) >= 2 else -1
            except ValueError:
                count = -1
            if not 0 <= count < 1 << 63:
                raise _bad(path, f"line {line_no}: expected 'word count' (a vocabulary file), found {line[:64]!r}")
            raw = b" ".join(fields[:-1])
            try:
                word = raw.decode("utf-8", errors=unicode_errors)
            except UnicodeDecodeError as e:
                raise _bad(path, f"line {line_no}: the word {raw[:50]!r} is not UTF-8 ({e.reason}); "
                                 "unicode_errors='replace' or 'ignore' reads it") from None
            found.setdefault(word, count)
    counts = np.empty(len(words), np.int64)
    missing = []
    for i, word in enumerate(words):
        count = found.get(word)
        if count is None:
            missing.append(word)
            continue
        counts[i] = count
    if missing:
        raise _bad(path, f"no count for {len(missing)} of the {len(words)} words (the first: {missing[0]!r}): "
                         "not the vocabulary file of these vectors")
    return counts


# -- word2vec C formats: reading ----------------------------------------------------------------------

class _Buffer:
    """Bytes read ahead from a (possibly compressed) stream, consumed from ``pos``."""

    CHUNK = 1 << 20

    def __init__(self, stream: BinaryIO, path: str = "", compression: str | None = None):
        self.stream = stream
        self.path = path
        self.compression = compression
        self.read_bytes = 0  # (decompressed) bytes read so far
        self.failure: BaseException | None = None  # the read error met after the bytes read so far
        self.data = b""
        self.pos = 0
        self.eof = False

    def more(self) -> bool:
        """Read another chunk; False at end of file.  The bytes decompressed before a truncation or a
        corruption are used first (a --limit within them reads); the error comes at the next read."""
        if self.eof:
            return False
        from .sources import read_block

        if self.failure is not None:
            e = self.failure
            what = "truncated" if isinstance(e, EOFError) else "corrupt"
            kind = f"{self.compression}-compressed " if self.compression else ""
            raise _bad(self.path, f"{what} {kind}file: {e} (after {self.read_bytes} "
                                  f"{'decompressed ' if kind else ''}bytes)")
        chunk, self.failure = read_block(self.stream, self.CHUNK)
        if not chunk and self.failure is not None:
            return self.more()
        self.read_bytes += len(chunk)
        if not chunk:
            self.eof = True
            return False
        self.data = self.data[self.pos:] + chunk
        self.pos = 0
        return True

    def need(self, n: int) -> bool:
        """Make ``n`` bytes available from ``pos``; False if the file ends first."""
        while len(self.data) - self.pos < n:
            if not self.more():
                return False
        return True

    def find(self, byte: bytes, max_len: int) -> int:
        """Index in ``data`` of the next ``byte`` from ``pos``, -1 at end of file, -2 beyond ``max_len``."""
        start = self.pos
        while True:
            i = self.data.find(byte, start)
            if i >= 0:
                return i if i - self.pos <= max_len else -2
            if len(self.data) - self.pos > max_len:
                return -2
            start = len(self.data)
            offset = self.pos
            if not self.more():
                return -1
            start -= offset  # more() dropped the consumed bytes


def _open_stream(path: str, what: str = "model or vectors file") -> tuple[BinaryIO, str | None]:
    with open_file(path, what) as f:
        kind = compression_from_head(f.read(HEAD_BYTES))  # (bzip2 by its whole signature, as everywhere)
    if kind is not None:
        return COMPRESSIONS[kind].module.open(path, "rb"), kind
    return open_file(path, what), None


_TEXT_BYTES = frozenset(b"0123456789+-.eEinfatyINFATY \t\r")


def _plain_text(line: bytes) -> bool:
    """Whether ``line`` is UTF-8 without control bytes but tab and CR (a binary row's float bytes rarely are)."""
    if any(b < 0x20 and b not in (9, 13) for b in line) or b"\x7f" in line:
        return False
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _values_after_a_word(line: bytes, fields: list[bytes]) -> bool:
    """Whether a text ``line`` (split into ``fields``) is a word2vec text row: plain text, numbers after the
    first field."""
    return _plain_text(line) and all(number_or_none(f) is not None for f in fields[1:])


def _ends_in_numbers(fields: list[bytes], d: int) -> int:
    """How many fields the word takes when the last ``d`` of a text row's ``fields`` are numbers: more than 1
    for a word holding spaces, unless those extra fields are numbers too (a ragged row); else 0."""
    if len(fields) < d + 1 or any(number_or_none(x) is None for x in fields[-d:]):
        return 0
    parts = len(fields) - d
    if parts > 1 and all(number_or_none(x) is not None for x in fields[1:parts]):
        return 0  # "b 4.0 5.0 6.0 7.0" with d = 3: one value too many, not the word "b 4.0"
    return parts


def number_or_none(field: str | bytes) -> float | None:
    """``float(field)``, or None when it is not a number."""
    try:
        return float(field)
    except ValueError:
        return None


def _looks_like_text(segment: bytes, d: int, complete: bool) -> bool:
    """Whether the bytes after the first word are d numbers in text (rather than 4*d raw float32s)."""
    line, newline, _ = segment.partition(b"\n")
    if not set(line) <= _TEXT_BYTES:
        return False
    if newline:
        try:
            return len([float(x) for x in line.split()]) == d
        except ValueError:
            return False
    return complete and bool(line.strip())  # a text line longer than 4*d bytes


class _Rows:
    """A (n, d) float32 array filled row by row; grows in blocks when the file size cannot vouch for n."""

    def __init__(self, n: int, d: int, preallocate: bool):
        self.n, self.d, self.filled = n, d, 0
        self.preallocate = preallocate
        self.array = np.empty((0, d), np.float32)

    def slot(self) -> np.ndarray:
        if self.filled == self.array.shape[0]:
            if self.preallocate:
                cap = self.n
            else:  # the bytes of this row are already in memory: growing by ~1 MB or 2x is justified
                cap = max(self.filled * 2, (1 << 20) // (4 * self.d), 1)
                cap = cap if self.n is None else min(self.n, cap)  # n None: as many as the file holds
            grown = np.empty((cap, self.d), np.float32)
            grown[:self.filled] = self.array[:self.filled]
            self.array = grown
        self.filled += 1
        return self.array[self.filled - 1]

    def result(self) -> np.ndarray:
        if self.filled == self.array.shape[0]:
            return self.array
        return self.array[:self.filled].copy()  # do not keep the unused capacity alive


def load_word2vec(path: str | os.PathLike, binary: bool | None = None, limit: int | None = None, *,
                  allow_nonfinite: bool = False, no_header: bool = False,
                  unicode_errors: str = "replace") -> tuple[list[str], np.ndarray, dict]:
    """Read a word2vec C-format file, text or binary, plain or gzip/bz2/xz compressed.

    Parameters
    ----------
    binary : True, False, or None to guess from the bytes after the first word.
    limit : read only the first ``limit`` vectors.
    allow_nonfinite : accept NaN and infinite values (an error otherwise).
    no_header : the file has no first line "vocab_size dims" (GloVe's text format): every line is a vector,
        the dimension is the number of values on the first; text only.
    unicode_errors : a word that is not UTF-8 is decoded with replacement characters ("replace", with a
        warning), refused ("strict") or loses its bad bytes ("ignore").

    Returns
    -------
    words : list[str], vectors : float32 (V, d), info : dict with "binary", "compression", "header_count",
        "vector_size", "invalid_utf8" (words decoded with replacement characters).

    Raises
    ------
    ModelFileError : bad header, a file shorter than its header claims, ragged text rows, duplicate words,
        non-finite values; the message names the file and the line or record.
    """
    path = os.fspath(path)
    _check_limit(limit)
    if no_header and binary:
        raise ConfigError("no_header reads the text format only (a binary file always has its header)")
    if unicode_errors not in UNICODE_ERRORS:
        raise ConfigError(f"unicode_errors must be one of {', '.join(UNICODE_ERRORS)}; got {unicode_errors!r}")
    stream, compression = _open_stream(path)
    with stream:
        buf = _Buffer(stream, path, compression)
        if no_header:
            n_header, header_len, header = None, 0, b""
            d, first_line = _first_row_values(path, buf)
            binary = False
        else:
            end = buf.find(b"\n", 1024)
            header = buf.data[buf.pos:end] if end >= 0 else buf.data[buf.pos:buf.pos + 64]
            m = _W2V_HEADER.match(header + b"\n")
            if end < 0 or not m:
                raise _bad(path, _not_word2vec(buf.data[buf.pos:buf.pos + 4096], header, compression))
            header_len = end + 1
            buf.pos = header_len
            n_header, d, first_line = int(m.group(1)), int(m.group(2)), 2
        if d < 1 or d > MAX_DIM:
            found = f"header {header!r}" if n_header is not None else f"first row's {d} values"
            raise _bad(path, f"bad word2vec {found}: the dimension must be in [1, {MAX_DIM}]")
        n = n_header if limit is None else limit if n_header is None else min(n_header, limit)

        if binary is None:
            binary = _guess_binary(path, buf, d) if n else True
        if compression is None and not no_header:  # check the size the header claims BEFORE allocating for it
            remaining = os.path.getsize(path) - header_len
            per_record = 4 * d + 2 if binary else 2 * d + 2  # at least: a 1-byte word, separators, values
            if n * per_record > remaining:
                kind = "binary" if binary else "text"
                raise _bad(path, f"the file cannot hold what its header claims: {n_header} vectors of {d} "
                                 f"dimensions need at least {n * per_record} bytes (for {n}) in word2vec "
                                 f"{kind} format, but only {remaining} follow the header (a truncated file, "
                                 f"a wrong header, or short rows)")
        rows = _Rows(n, d, preallocate=compression is None and not no_header)
        if binary:
            words, invalid, skipped = _read_binary(path, buf, rows, n, d, unicode_errors)
        else:
            words, invalid, skipped = _read_text(path, buf, rows, n, d, unicode_errors, headerless=no_header,
                                                 first_line=first_line)
        vectors = rows.result()
        if n_header is not None and n == n_header and not _at_end(buf):
            log.warning("%s: data after the %d vectors the header announces was ignored", path, n_header)

    if invalid:
        how = "with replacement characters" if unicode_errors == "replace" else "without their invalid bytes"
        log.warning("%s: %d word(s) were not valid UTF-8 and were decoded %s (the C tool can cut a word in "
                    "the middle of a character)", path, invalid, how)
    if skipped:
        log.warning("%s: %d word(s) that became duplicates after that decoding were dropped "
                    "(the first occurrence kept)", path, skipped)
    if not allow_nonfinite:
        check_finite(path, words, vectors)
    info = {"binary": binary, "compression": compression, "header_count": n_header, "vector_size": d,
            "invalid_utf8": invalid, "dropped_duplicates": skipped}
    return words, vectors, info


def _not_word2vec(head: bytes, first_line: bytes, compression: str | None = None) -> str:
    """Why a file whose first line is not "vocab_size dims" cannot be read, and what it seems to be
    (``head`` decompressed, as ``compression`` says)."""
    if sniff(head) == "native" and compression:
        return (f"{'an' if compression == 'xz' else 'a'} {compression}-compressed native w2v file: native files "
                "are read uncompressed (they are mapped and read in place); decompress it first")
    if sniff(head) == "native":
        return "a native w2v file, not the word2vec format: read it with KeyedVectors.load(path)"
    seems = describe_foreign(head)
    if not seems.startswith("not a w2v model file"):
        return f"not a word2vec file: {seems}"
    return f"not a word2vec file: the first line should be 'vocab_size dims', found {first_line[:64]!r}"


def _first_row_values(path: str, buf: _Buffer) -> tuple[int, int]:
    """The number of values on the first row of a headerless text file, its dimension, and the row's line
    number (blank lines before it are consumed, as the reader skips them)."""
    line_no = 1
    while True:
        newline = buf.find(b"\n", MAX_WORD_BYTES + 64 * MAX_DIM)
        line = buf.data[buf.pos:newline if newline >= 0 else len(buf.data)]
        if line.strip() or newline < 0:
            break
        buf.pos = newline + 1
        line_no += 1
    fields = line.split()
    if len(fields) < 2 or not _values_after_a_word(line, fields):
        raise _bad(path, f"with no_header, the first line should be a word and its values, found {line[:64]!r}")
    if _W2V_HEADER.match(line + b"\n"):
        raise _bad(path, f"with no_header, the first line should be a word and its values; {line[:64]!r} is a "
                         "header 'vocab_size dims': read the file without no_header (--no-header)")
    return len(fields) - 1, line_no


def _guess_binary(path: str, buf: _Buffer, d: int) -> bool:
    newline = buf.find(b"\n", 64 * d + 4096)
    line = buf.data[buf.pos:newline] if newline >= 0 else b""
    if _plain_text(line) and _ends_in_numbers(line.split(), d) > 1:
        return False  # text whose first word holds a space ("new york 0.1 ..."): its last d fields are numbers
    space = buf.find(b" ", MAX_WORD_BYTES)
    if space == -1 and not buf.data[buf.pos:].strip():
        raise _bad(path, "truncated file: the header announces vectors, the file ends right after it")
    if space < 0:
        raise _bad(path, "not a word2vec file: no space after the first word")
    start = space + 1 - buf.pos
    complete = buf.need(start + 4 * d)
    segment = buf.data[buf.pos + start:buf.pos + start + 4 * d]
    return not _looks_like_text(segment, d, complete)


def _at_end(buf: _Buffer) -> bool:
    while True:
        if buf.data[buf.pos:].strip():
            return False
        buf.pos = len(buf.data)
        if not buf.more():
            return True


UNICODE_ERRORS = ("replace", "strict", "ignore")
"""What the word2vec readers do with a word that is not UTF-8 (``unicode_errors``, gensim's argument)."""


class _Words:
    """Decodes words, counts invalid UTF-8, refuses duplicates (except those made by replacement)."""

    def __init__(self, path: str, errors: str = "replace"):
        self.path = path
        self.errors = errors
        self.words: list[str] = []
        self.index: dict[str, int] = {}
        self.made: set[int] = set()  # the words that decoding made (their bytes were not UTF-8)
        self.broken = False  # the last word was not UTF-8 before its end (not a character cut at the end)
        self.invalid = 0
        self.skipped = 0

    def add(self, raw: bytes, where: str) -> bool:
        """Record the word; False when it is a replacement-made duplicate to drop."""
        try:
            word = raw.decode("utf-8")
            replaced = self.broken = False
        except UnicodeDecodeError as e:
            # the C tool cuts long words at a byte count, in a character at worst; anywhere else: another
            # encoding (Latin-1), or a binary record's bytes read as a word
            self.broken = e.reason != "unexpected end of data"
            if self.errors == "strict":
                raise _bad(self.path, f"the word at {where} is not UTF-8 ({e.reason} at byte {e.start}: "
                                      f"{raw[:50]!r}); unicode_errors='replace' or 'ignore' reads it (unless the "
                                      "file is not what it seems: another encoding, or binary records out of step)"
                           ) from None
            word = raw.decode("utf-8", errors=self.errors)
            replaced = True
            self.invalid += 1
        if word in self.index:
            if replaced or self.index[word] in self.made:
                self.skipped += 1
                return False
            raise _bad(self.path, f"duplicate word {word!r} at {where} (first at vector "
                                  f"{self.index[word] + 1})")
        if replaced:
            self.made.add(len(self.words))
        self.index[word] = len(self.words)
        self.words.append(word)
        return True


def _read_binary(path: str, buf: _Buffer, rows: _Rows, n: int, d: int,
                 errors: str = "replace") -> tuple[list[str], int, int]:
    nbytes = 4 * d
    words = _Words(path, errors)
    suspect: list[int] = []  # rows of words no writer writes: control bytes, or not UTF-8 before their end
    control: list[tuple[str, bytes]] = []  # (record, word) of those with control bytes
    for r in range(n):
        where = f"record {r + 1}"
        while True:  # the newline after the previous vector is optional (gensim writes none)
            if not buf.need(1):
                raise _bad(path, f"truncated file: the header announces {n} vectors, the file ends "
                                 f"after {r}")
            if buf.data[buf.pos] != 10:
                break
            buf.pos += 1
        space = buf.find(b" ", MAX_WORD_BYTES)
        if space == -1:
            raise _bad(path, f"truncated file: {where} of {n} has no complete word")
        if space == -2:
            raise _bad(path, f"corrupt binary file: no space within {MAX_WORD_BYTES} bytes at {where}")
        raw = buf.data[buf.pos:space]
        if b"\n" in raw or b"\0" in raw:  # no writer puts these in a word: a vector's bytes, read as one
            raise _bad(path, _out_of_step(where, raw, "newline" if b"\n" in raw else "NUL byte", d))
        odd = _CONTROL_BYTES.search(raw) is not None
        if odd:
            control.append((where, raw))
        buf.pos = space + 1
        if not buf.need(nbytes):
            raise _bad(path, f"truncated file: {where} of {n} ({raw[:50]!r}) has "
                             f"{len(buf.data) - buf.pos} of its {nbytes} bytes")
        if r == 0 and nbytes >= 8 and set(buf.data[buf.pos:buf.pos + nbytes]) <= _TEXT_BYTES:
            raise _bad(path, "the first vector's bytes are decimal text (digits, signs, points, spaces): this is "
                             "the word2vec text format, read as binary; read it as text (without --binary; "
                             "binary=False or None)")
        if words.add(raw, where):
            if odd or words.broken:
                suspect.append(rows.filled)
            rows.slot()[:] = np.frombuffer(buf.data, "<f4", d, buf.pos)
        buf.pos += nbytes
    absurd = _absurd_rows(rows.array[:rows.filled])
    if absurd and suspect:  # a suspect word beside a vector of absurd values (text read as floats): out of step
        marked = set(absurd)
        for row in suspect:
            if row in marked or row - 1 in marked:
                raise _bad(path, _out_of_step(f"vector {row + 1}", words.words[row].encode("utf-8", "replace"),
                                              "control or non-UTF-8 byte", d))
    if control:
        log.warning("%s: %d word(s) hold control bytes (the first: %r at %s): if the vectors look wrong, the "
                    "records are out of step (a word holding a space, a wrong dimension)",
                    path, len(control), control[0][1][:40], control[0][0])
    if absurd:
        log.warning("%s: %d vector(s) hold values beyond %g, which no trained vector does (the first: %r's): "
                    "the records are out of step (a word holding a space, a wrong dimension), or the vectors "
                    "diverged", path, len(absurd), ABSURD_VALUE, words.words[absurd[0]])
    return words.words, words.invalid, words.skipped


def _absurd_rows(vectors: np.ndarray, block: int = 1 << 16) -> list[int]:
    """The rows holding a finite value beyond :data:`ABSURD_VALUE` (a block of rows at a time)."""
    found: list[int] = []
    for start in range(0, len(vectors), block):
        part = vectors[start:start + block]
        if not part.size or (part.max() <= ABSURD_VALUE and part.min() >= -ABSURD_VALUE):  # no copy: the usual case
            continue
        with np.errstate(invalid="ignore"):
            big = (np.abs(part) > ABSURD_VALUE) & np.isfinite(part)
        found += (start + np.flatnonzero(big.any(axis=1))).tolist()
    return found


ABSURD_VALUE = 1e15
"""No word vector holds a value this large; text read as float32 often does (ASCII letters as an exponent)."""

_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0a-\x0c\x0e-\x1f\x7f]")
"""Bytes no writer puts in a word (tab and CR aside): a binary record's word holding one is suspect."""


def _out_of_step(where: str, raw: bytes, held: str, d: int) -> str:
    return (f"corrupt binary file: {where}'s word {raw[:40]!r} holds a {held}, so the records are out of step: "
            "a word holding a space (the binary format ends a word at its first space, so that gensim's 'new "
            f"york' cannot be read back: export such vectors as text), a header whose dimension ({d}) is not the "
            "vectors', or not a binary word2vec file")


def _read_text(path: str, buf: _Buffer, rows: _Rows, n: int | None, d: int, errors: str = "replace",
               headerless: bool = False, first_line: int = 2) -> tuple[list[str], int, int]:
    """``n`` vectors (``headerless``: at most ``n``, None: all, to the end of the file), the first on line
    ``first_line`` of the file."""
    words = _Words(path, errors)
    max_line = 64 * d + (1 << 20) + MAX_WORD_BYTES
    line_no = first_line - 1
    r = spaced = 0
    while n is None or r < n:
        line_no += 1
        newline = buf.find(b"\n", max_line)
        if newline == -2:
            raise _bad(path, f"line {line_no} is longer than {max_line} bytes: not a word2vec text file")
        if newline == -1:
            if buf.pos >= len(buf.data) and headerless:
                break
            if buf.pos >= len(buf.data):
                raise _bad(path, f"truncated file: the header announces {n} vectors, the file ends "
                                 f"after {r} (line {line_no - 1})")
            newline = len(buf.data)
        fields = buf.data[buf.pos:newline].split()
        buf.pos = newline + 1
        if not fields:
            continue  # a blank line carries nothing
        if len(fields) != d + 1:
            parts = _ends_in_numbers(fields, d)
            if parts < 2:
                raise _bad(path, f"line {line_no}: expected a word and {d} values, found "
                                 f"{len(fields) - 1} values (ragged rows, or a binary file read as text?)")
            fields = [b" ".join(fields[:parts])] + fields[parts:]  # a word holding spaces (no format allows it)
            spaced += 1
        where = f"line {line_no}"
        if words.add(fields[0], where):
            try:
                with np.errstate(over="ignore"):  # beyond float32 becomes inf: refused as non-finite below
                    rows.slot()[:] = np.array(fields[1:], dtype=np.float32)
            except ValueError as e:
                raise _bad(path, f"line {line_no}: {e}") from None
        r += 1
    if spaced:
        log.warning("%s: %d word(s) held spaces, which the word2vec format has no way to write (gensim cannot read "
                    "them back): each read as the fields before its %d values, joined by one space", path, spaced, d)
    return words.words, words.invalid, words.skipped
