"""Which files a corpus is: paths checked and expanded, outputs left out, files that are not text refused.

A corpus path is a file (plain, gzip, bzip2 or xz: recognised by its magic bytes, not its name) or a
directory, which stands for its sorted, non-hidden regular files.  Before anything is read:

- a file that an output of the same command will write (``exclude``) is an error when named directly, and
  left out (with a log line) when found in a directory: ``w2v train d/ -o d/model.w2v`` twice in a row
  does not read the first model as text;
- a file whose first bytes are not text (:mod:`w2v.filetypes` has the rule) is refused with a message
  that says what it seems to be, unless ``allow_binary``.
"""

from __future__ import annotations

import bz2
import gzip
import logging
import lzma
import os
import zlib
from typing import IO, Mapping, Sequence

from . import filetypes
from .errors import CorpusError, CorpusNotFoundError
from .outputs import check_outputs, same_file

logger = logging.getLogger("w2v")

MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"))
READERS = {"gzip": lambda raw: gzip.GzipFile(fileobj=raw, mode="rb"), "bzip2": bz2.BZ2File,
           "xz": lzma.LZMAFile, None: lambda raw: raw}  # each wraps an open binary file
READ_ERRORS = (OSError, EOFError, lzma.LZMAError, zlib.error)


def compression_from_head(head: bytes) -> str | None:
    """``'gzip'``, ``'bzip2'``, ``'xz'`` or None (plain), from a file's first 6 bytes."""
    return next((kind for magic, kind in MAGIC if head.startswith(magic)), None)


def compression_of(path: str) -> str | None:
    """``'gzip'``, ``'bzip2'``, ``'xz'`` or None (plain), from the file's first bytes."""
    with open(path, "rb") as f:
        return compression_from_head(f.read(6))


def read_block(f: IO[bytes], size: int) -> tuple[bytes, BaseException | None]:
    """Up to ``size`` bytes, and the read error that stopped it short, if any.

    Built from ``read1`` calls so that the bytes decompressed before a truncation or corruption are kept
    (``read(size)`` of a buffered reader drops them when it raises).
    """
    parts: list[bytes] = []
    got = 0
    try:
        while got < size:
            chunk = f.read1(size - got)
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
    except READ_ERRORS as e:
        return b"".join(parts), e
    return b"".join(parts), None


def content_sample(path: str, size: int = filetypes.SAMPLE_BYTES) -> tuple[bytes, bool]:
    """The first ``size`` bytes of the file's content (decompressed) and whether that is all of it.

    A read error (a truncated archive) just ends the sample: reading the corpus reports it properly.
    """
    with open(path, "rb") as raw:
        kind = compression_from_head(raw.read(6))
        raw.seek(0)
        with READERS[kind](raw) as f:
            data, error = read_block(f, size)
    return data, error is None and len(data) < size


def _not_found(message: str, path: str) -> CorpusNotFoundError:
    err = CorpusNotFoundError(message)
    err.filename = path
    return err


def expand_paths(paths: Sequence[str | os.PathLike], *, exclude: Mapping[str, str] | None = None,
                 allow_binary: bool = False) -> list[str]:
    """The files of a corpus, in reading order, each checked.

    Parameters
    ----------
    paths : files and directories
        A directory stands for its sorted, non-hidden regular files.
    exclude : {path: what}
        Outputs of the command (``{"model.w2v": "the model file"}``): named directly they are an error,
        found in a directory they are left out and logged.
    allow_binary : bool
        Read files whose first bytes are not text anyway (see :mod:`w2v.filetypes`).

    Raises
    ------
    CorpusNotFoundError
        A path that does not exist or cannot be read.
    CorpusError
        A directory without files, a pipe or device, a file that is not text.
    OutputConflictError
        A corpus file named directly that is an output.
    """
    outputs = [(os.fspath(p), what) for p, what in (exclude or {}).items()]
    files: list[str] = []
    for p in paths:
        path = os.fspath(p)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if os.path.isdir(path):
            inside = sorted(e.path for e in os.scandir(path) if not e.name.startswith(".") and e.is_file())
            kept = []
            for file in inside:
                match = next(((p, w) for p, w in outputs if same_file(file, p)), None)
                if match is None:
                    kept.append(file)
                else:
                    logger.info("corpus directory %r: %r left out (it is %s %r of this command)", path,
                                file, match[1], match[0])
            if not kept:
                raise CorpusError(f"corpus directory {path!r} holds no file to read (non-hidden regular files"
                                  f"{', outputs of this command left out' if len(inside) > len(kept) else ''})")
            inside = kept
        elif os.path.isfile(path):
            check_outputs([(what, p) for p, what in outputs], [("the corpus file", path)])
            inside = [path]
        elif os.path.exists(path):
            raise CorpusError(f"corpus path {path!r} is not a regular file or a directory; the corpus is read "
                              "twice (once to count, once to encode), so a pipe or device cannot be used: "
                              "write it to a file")
        else:
            hint = " (to train on text, pass a list of token lists)" if any(c.isspace() for c in path) else ""
            raise _not_found(f"corpus file not found: {path!r}{hint}", path)
        for file in inside:
            if not os.access(file, os.R_OK):
                raise _not_found(f"corpus file cannot be read (permission denied): {file!r}", file)
            if not allow_binary:
                _check_text(file, path if file != path else None)
        files.extend(inside)
    return files


def _check_text(file: str, directory: str | None) -> None:
    try:
        sample, complete = content_sample(file)
    except OSError as e:
        raise _not_found(f"corpus file cannot be read: {file!r} ({e.strerror or e})", file) from None
    reason = filetypes.not_text(sample, complete)
    if reason is not None:
        found = f" (found in the corpus directory {directory!r})" if directory else ""
        raise CorpusError(f"corpus file {file!r}{found} is not text: {reason}. Pass allow_binary=True "
                          "(--allow-binary) to read it as text anyway")
