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

import logging
import lzma
import os
import zlib
from dataclasses import dataclass
from typing import IO, Mapping, Sequence

from . import filetypes
from .formats import HEAD_BYTES, compression_from_head, decompressing
from .errors import CorpusError, CorpusNotFoundError, OutputConflictError
from .outputs import check_outputs, same_file

logger = logging.getLogger("w2v")

READ_ERRORS = (OSError, EOFError, lzma.LZMAError, zlib.error)


def compression_of(path: str) -> str | None:
    """``'gzip'``, ``'bzip2'``, ``'xz'`` or None (plain), from the file's first bytes."""
    with open(path, "rb") as f:
        return compression_from_head(f.read(HEAD_BYTES))


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
        kind = compression_from_head(raw.read(HEAD_BYTES))
        raw.seek(0)
        with decompressing(raw, kind) as f:
            data, error = read_block(f, size)
    return data, error is None and len(data) < size


def _not_found(message: str, path: str) -> CorpusNotFoundError:
    err = CorpusNotFoundError(message)
    err.filename = path
    return err


def expand_paths(paths: Sequence[str | os.PathLike], *, exclude: Mapping[str, str] | None = None,
                 allow_binary: bool = False, warn_repeated: bool = True) -> list[str]:
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
    warn_repeated : bool
        Warn about a file named more than once (it is read as many times).

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
            entries = [e for e in os.scandir(path) if not e.name.startswith(".")]
            inside = sorted(e.path for e in entries if e.is_file())
            subdirectories = sorted(e.name for e in entries if e.is_dir())
            shown = ", ".join(subdirectories[:3]) + (", ..." if len(subdirectories) > 3 else "")
            kept = []
            for file in inside:
                match = next(((p, w) for p, w in outputs if same_file(file, p)), None)
                if match is None:
                    kept.append(file)
                elif _is_text(file):  # a corpus file (or an earlier text output): the output would replace it
                    raise OutputConflictError(
                        f"{match[1]} {match[0]!r} is a text file of the corpus directory {path!r}: it would be "
                        "read as corpus and then replaced; write the output elsewhere (or, if it is an earlier "
                        "output of this command, delete it first)")
                else:  # an earlier model, checkpoint or vectors file: not text, left out
                    logger.info("corpus directory %r: %r left out (it is %s %r of this command)", path,
                                file, match[1], match[0])
            if not kept:
                nested = f"; its subdirectories ({shown}) are not read: give them as corpus paths" \
                    if subdirectories else ""
                raise CorpusError(f"corpus directory {path!r} holds no file to read (non-hidden regular files"
                                  f"{', outputs of this command left out' if len(inside) > len(kept) else ''})"
                                  f"{nested}")
            if subdirectories:
                logger.warning("corpus directory %r: its subdirectories are not read (%d: %s); give them as "
                               "corpus paths to read them too", path, len(subdirectories), shown)
            inside = kept
        elif os.path.isfile(path):
            check_outputs([(what, p) for p, what in outputs], [("the corpus file", path)])
            inside = [path]
        elif os.path.exists(path):
            raise CorpusError(f"corpus path {path!r} is not a regular file or a directory (a pipe or a device); "
                              "the text is read more than once (its words counted first, then used), which a "
                              "pipe cannot give: write it to a file")
        else:
            hint = ""
            if "://" in path:
                hint = " (w2v reads files, not URLs: download it first)"
            elif any(c in path for c in "*?["):
                hint = " (w2v does not expand wildcards: let the shell do it, or pass glob.glob(pattern))"
            elif path.startswith("~"):
                hint = " (w2v does not expand ~: pass os.path.expanduser(path))"
            elif any(c.isspace() for c in path):
                hint = " (to train on text, pass a list of token lists)"
            elif len(paths) > 1 and not any(os.path.exists(os.fspath(q)) for q in paths):
                hint = (f", nor is any of the {len(paths)} paths given: if they are the tokens of one sentence, "
                        "pass a list of sentences ([tokens])")
            raise _not_found(f"corpus file not found: {path!r}{hint}", path)
        for file in inside:
            if not os.access(file, os.R_OK):
                raise _not_found(f"corpus file cannot be read (permission denied): {file!r}", file)
            if not allow_binary:
                _check_text(file, path if file != path else None)
        files.extend(inside)
    if warn_repeated:
        _warn_repeated(files)
    return files


def _warn_repeated(files: list[str]) -> None:
    """A file named more than once (directly, through a directory, or under another name) is read as many
    times, as asked; a warning says so, since it is rarely meant."""
    seen: dict[tuple[int, int], list[str]] = {}
    for f in files:
        try:
            st = os.stat(f)
        except OSError:
            continue
        seen.setdefault((st.st_dev, st.st_ino), []).append(f)
    for names in seen.values():
        if len(names) > 1:
            logger.warning("corpus file %r is given %d times (%s): it is read %d times", names[0], len(names),
                           ", ".join(map(repr, dict.fromkeys(names))), len(names))


_OUTPUT_HEADS = (b"#w2v-phrases\t", b"%!PS-Adobe")  # phrase tables, PostScript pictures (plot-loss .eps/.ps)


def _is_text(file: str) -> bool:
    """Whether ``file`` is a non-empty file the corpus reader would take as text, and not one of the text
    formats w2v writes itself (a phrase table, an SVG, PostScript or PGF picture): those, found where an
    output goes, are an earlier output of the same command."""
    try:
        if os.path.getsize(file) == 0:
            return False
        sample, complete = content_sample(file)
    except OSError:
        return False
    head = sample[:4096]
    if head.startswith(_OUTPUT_HEADS) or b"<svg" in head or b"Creator: Matplotlib" in head:
        return False
    return filetypes.not_text(sample, complete) is None


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


# -- shares: contiguous parts of a corpus, for parallel readers and for the ranks of a distributed training --
CUT_SEARCH = 1 << 20
"""Bytes searched after a target offset for a line end before settling for a space (a line longer than this
is cut between two words instead)."""

_WHITESPACE = b" \t\r\x0b\x0c"


@dataclass(frozen=True)
class Piece:
    """A contiguous run of one file's content: bytes ``start`` to ``end`` (of the decompressed content, for a
    compressed file; ``end`` None: to the end).  ``start`` is 0 or just after a line end, unless
    ``mid_line``: then it is just after a space inside a line too long to wait for its end (the line's words
    before the cut belong to the previous piece)."""

    path: str
    start: int = 0
    end: int | None = None
    mid_line: bool = False


def _content_size(path: str) -> int:
    """Bytes of the file's content: its size, or for a compressed file its decompressed size (streamed)."""
    kind = compression_of(path)
    if kind is None:
        return os.path.getsize(path)
    total = 0
    with open(path, "rb") as raw, decompressing(raw, kind) as f:
        while True:
            data, error = read_block(f, 1 << 22)
            total += len(data)
            if not data or error is not None:
                return total


def _weight(path: str) -> int:
    """The size of a file's content, estimated cheaply: its size, or for a compressed file its size times the
    expansion of its first 4 MB of content."""
    size = os.path.getsize(path)
    kind = compression_of(path)
    if kind is None:
        return size
    with open(path, "rb") as raw, decompressing(raw, kind) as f:
        data, _ = read_block(f, 1 << 22)
        used = raw.tell()
    return len(data) if used >= size or not used else int(size * len(data) / used)


def open_content(path: str, start: int = 0) -> tuple[IO[bytes], IO[bytes], str | None]:
    """(raw file, reader of its content positioned at ``start``, compression): see :func:`content_at`."""
    raw = open(path, "rb")
    try:
        return (raw, *content_at(raw, start))
    except BaseException:
        raw.close()
        raise


def content_at(raw: IO[bytes], start: int = 0) -> tuple[IO[bytes], str | None]:
    """(reader of the content of the open binary file ``raw`` positioned at content offset ``start``,
    compression): a plain file seeks, a compressed one decompresses and drops the first ``start`` bytes (a
    read error there ends the skipping: the reader meets it again)."""
    kind = compression_from_head(raw.read(HEAD_BYTES))
    raw.seek(start if kind is None else 0)
    f = decompressing(raw, kind)
    skip = 0 if kind is None else start
    while skip > 0:
        data, error = read_block(f, min(skip, 1 << 22))
        if not data or error is not None:
            break
        skip -= len(data)
    return f, kind


def cut_point(path: str, target: int) -> tuple[int, bool]:
    """The first cut at or after content offset ``target``: just after a line end within
    :data:`CUT_SEARCH` bytes, else just after the first whitespace byte (``mid_line`` True), else (a word of
    a megabyte) ``target`` itself.  Returns (offset, mid_line).  Two neighbouring shares compute it alike."""
    if target <= 0:
        return 0, False
    raw, f, _ = open_content(path, target - 1)  # the byte before: a cut right at a line start is found too
    with raw, f:
        data, _ = read_block(f, CUT_SEARCH + 1)
    newline = data.find(b"\n")
    if newline >= 0:
        return target + newline, False
    for i, byte in enumerate(data):
        if byte in _WHITESPACE:
            return target + i, True
    return target + len(data) - 1 if data else target, True


def _piece_weight(piece: Piece) -> int:
    """A piece's content bytes, estimated as :func:`_weight` does for a whole file."""
    end = piece.end if piece.end is not None else _weight(piece.path)
    return max(0, end - piece.start)


def plan_shares(files: Sequence[str | Piece], parts: int, *, whole_compressed: bool = False) -> list[list[Piece]]:
    """Cut the files (in order) into ``parts`` contiguous shares of about equal size, at line ends.

    ``files`` may also be pieces (a share's :attr:`w2v.corpus.Corpus.pieces`): a share is then cut again,
    for the threads of one distributed rank.  Sizes are content bytes: a plain file's size, a compressed
    file's estimated from how its start expands; a compressed file that a cut falls in is measured
    (decompressed once) and cut in its content.  Every byte of the corpus is in exactly one share, in order,
    so the shares' tokens concatenated are the corpus's tokens.  A share may be empty (``[]``) when the
    corpus has fewer lines than ``parts``.  Deterministic: every process that plans the same files gets the
    same shares.  ``whole_compressed``: never cut inside a compressed file (a cut that falls in one moves to
    its nearer end): threads of one process then inflate each file once, not once per share.
    """
    if parts < 1:
        raise ValueError(f"plan_shares: parts must be >= 1; got {parts}")
    pieces = [p if isinstance(p, Piece) else Piece(p) for p in files]
    sizes = [_piece_weight(p) for p in pieces]
    total = sum(sizes)
    # the cut of each boundary r = 1 .. parts-1: (piece index, content offset, mid_line; None: the piece's own)
    cuts: list[tuple[int, int, bool | None]] = []
    offset_of = [0]
    for size in sizes:
        offset_of.append(offset_of[-1] + size)
    for r in range(1, parts):
        target = total * r // parts
        i = max(0, min(len(pieces) - 1, next((k for k in range(len(pieces)) if offset_of[k + 1] > target),
                                             len(pieces) - 1)))
        piece = pieces[i]
        within = target - offset_of[i]
        if within <= 0:
            cuts.append((i, piece.start, None))
            continue
        if whole_compressed and compression_of(piece.path):
            if 2 * within < sizes[i] or i + 1 == len(pieces):
                cuts.append((i, piece.start, None))
            else:
                cuts.append((i + 1, pieces[i + 1].start, None))
            continue
        if compression_of(piece.path):
            end = piece.end if piece.end is not None else _content_size(piece.path)
            content = max(0, end - piece.start)
        else:
            content = sizes[i]
        scaled = within if sizes[i] == content else int(content * within / max(sizes[i], 1))
        at, mid = cut_point(piece.path, piece.start + scaled) if scaled < content else \
            (piece.start + content, False)
        if at < piece.start + content:
            cuts.append((i, at, mid))
        else:
            cuts.append((i + 1, pieces[i + 1].start if i + 1 < len(pieces) else 0, None))
    shares: list[list[Piece]] = []
    first = (0, pieces[0].start if pieces else 0, None)
    bounds = [first] + cuts + [(len(pieces), 0, False)]
    for (fa, oa, ma), (fb, ob, _) in zip(bounds[:-1], bounds[1:]):
        share: list[Piece] = []
        for k in range(fa, min(fb, len(pieces) - 1) + 1):
            piece = pieces[k]
            start = oa if k == fa else piece.start
            end = ob if k == fb else piece.end
            if end is not None and end <= start:
                continue
            mid = piece.mid_line if k != fa or ma is None or start == piece.start else ma
            share.append(Piece(piece.path, start, end, bool(mid) and start > 0))
        shares.append(share)
    return shares
