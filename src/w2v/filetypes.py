"""Is a corpus file text?  The rule, decided from the first :data:`SAMPLE_BYTES` of its (decompressed) content.

A file is **not text** when its first bytes

1. carry a known binary signature: w2v's own model and checkpoint files, a Python pickle (gensim's
   ``.model``), a word2vec vectors file (binary or text: a ``"V d"`` line followed by vectors), NumPy,
   HDF5, SQLite, Parquet, images, PDF, office documents, executables, archives (zip, tar, 7z, rar) and
   compressions that w2v does not read (zstd, lz4, compress); UTF-16 text (a byte-order mark, or NUL in
   every other byte) is named as such so it can be converted;
2. or hold more than :data:`MAX_CONTROL_FRACTION` of control bytes (NUL and the C0 controls other than
   tab, line feed, vertical tab, form feed, carriage return, escape and backspace: terminal colours and
   nroff's overstrike are text), and at least :data:`MIN_CONTROL_BYTES` of them: text has next to none;
3. or hold more than :data:`MAX_INVALID_FRACTION` of bytes that are not valid UTF-8, and at least
   :data:`MIN_INVALID_BYTES` of them (text in another encoding, such as GBK or KOI8-R, or compressed or
   random data); a short note in Latin-1 is still read, its bytes repaired and counted.

Vector files in text form are refused too: a word2vec text file (a ``"V d"`` line, then a word and ``d``
numbers a line) and a GloVe file (no header line; a word and the same number, 10 or more, of numbers on each
of its first lines).

Text with a few bad bytes (stray NULs, some Latin-1 accents) passes and is read as before, each repair
counted and reported.  ``allow_binary`` (``--allow-binary``) reads a refused file as text anyway.
"""

from __future__ import annotations

import codecs
import re

import numpy as np

SAMPLE_BYTES = 1 << 16
"""Bytes of a file's (decompressed) start that decide whether it is text."""

MAX_CONTROL_FRACTION = 0.05
"""More control bytes than this (of the sample) make a file binary: text has next to none, stored numbers
have many (a float32 array about 10%, small integers mostly NUL)."""

MIN_CONTROL_BYTES = 16
"""...and at least this many (a few stray control bytes in a short file are repaired, not refused)."""

MAX_INVALID_FRACTION = 0.25
"""More invalid UTF-8 than this (of the sample) makes a file not UTF-8 text: Latin-1 text in a Western
language stays under 10%, text in a multi-byte legacy encoding or random bytes are near 50%."""

MIN_INVALID_BYTES = 32
"""...and at least this many."""

# bytes 0-31 and 127 but tab, LF, VT, FF, CR, ESC (coloured terminal logs) and BS (nroff's bold and underline)
_CONTROL = bytes(b for b in range(32) if b not in b"\t\n\x0b\x0c\r\x1b\x08") + b"\x7f"

# (offset, signature, what the file is, what to do)
_SIGNATURES: tuple[tuple[int, bytes, str, str], ...] = (
    (0, b"W2VMODEL", "a w2v model, vectors or checkpoint file", "leave it out of the corpus"),
    (0, b"\x93NUMPY", "a NumPy .npy file", ""),
    (0, b"\x89HDF\r\n\x1a\n", "an HDF5 file", ""),
    (0, b"SQLite format 3\x00", "an SQLite database", ""),
    (0, b"PAR1", "a Parquet file", ""),
    (0, b"PK\x03\x04", "a zip archive (.zip, .npz, .docx, .epub, ...)", "extract its text first"),
    (0, b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "extract its text first"),
    (0, b"Rar!\x1a\x07", "a RAR archive", "extract its text first"),
    (257, b"ustar\x00", "a tar archive", "extract its files first (a directory of text files can be a corpus)"),
    (257, b"ustar  \x00", "a tar archive", "extract its files first (a directory of text files can be a corpus)"),
    (0, b"\x28\xb5\x2f\xfd", "a zstd-compressed file", "decompress it, or recompress it with gzip, bzip2 or xz"),
    (0, b"\x04\x22\x4d\x18", "an lz4-compressed file", "decompress it, or recompress it with gzip, bzip2 or xz"),
    (0, b"\x1f\x9d", "a compress (.Z) file", "decompress it, or recompress it with gzip, bzip2 or xz"),
    (0, b"%PDF-", "a PDF document", "extract its text first (e.g. pdftotext)"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an MS Office (OLE2) document", "save it as plain text first"),
    (0, b"{\\rtf", "an RTF document", "save it as plain text first"),
    (0, b"\x89PNG\r\n\x1a\n", "a PNG image", ""),
    (0, b"\xff\xd8\xff", "a JPEG image", ""),
    (0, b"GIF87a", "a GIF image", ""),
    (0, b"GIF89a", "a GIF image", ""),
    (0, b"\x7fELF", "an executable (ELF)", ""),
    (0, b"\xcf\xfa\xed\xfe", "an executable (Mach-O)", ""),
    (0, b"\xca\xfe\xba\xbe", "a Java class or Mach-O file", ""),
    (0, b"\x00asm", "a WebAssembly module", ""),
    (0, b"\xff\xfe", "UTF-16 text (little-endian)", "convert it to UTF-8 (iconv -f UTF-16 -t UTF-8)"),
    (0, b"\xfe\xff", "UTF-16 text (big-endian)", "convert it to UTF-8 (iconv -f UTF-16 -t UTF-8)"),
)
_PICKLE = re.compile(rb"\x80[\x02-\x05]")
_W2V_HEADER = re.compile(rb"[ \t]*(\d+)[ \t]+(\d+)[ \t]*\r?\n")
_ESCAPED = re.compile("[\udc80-\udcff]")
_FLOAT = re.compile(rb"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|[-+]?(nan|inf)", re.IGNORECASE)


def _count_invalid(sample: bytes, complete: bool) -> int:
    """Bytes of ``sample`` that are not valid UTF-8 (a sequence cut by the sample's end is not counted).

    ``surrogateescape`` turns each invalid byte into one lone surrogate, which valid UTF-8 never yields.
    """
    text = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape").decode(sample, complete)
    return len(_ESCAPED.findall(text))


def _word2vec_text(sample: bytes, header: re.Match) -> bool:
    """Whether the line after a ``"V d"`` header is ``word`` and ``d`` numbers."""
    dim = int(header.group(2))
    lines = sample[header.end():].split(b"\n", 1)
    if len(lines) < 2 and len(sample) >= SAMPLE_BYTES:
        return False  # the first record does not fit in the sample: cannot tell, so call it text
    fields = lines[0].split()
    return 1 <= dim == len(fields) - 1 and all(_FLOAT.fullmatch(x) for x in fields[1:])


def _word2vec_binary(sample: bytes, header: re.Match) -> bool:
    """Whether what follows a ``"V d"`` header is ``word b" " <d float32>`` records with plausible values
    (text read as float32 gives huge or tiny numbers: its bytes are mostly 0x20-0x7E)."""
    count, dim = int(header.group(1)), int(header.group(2))
    if not 1 <= dim <= 100_000:
        return False
    at, records = header.end(), 0
    while records < min(count, 3):
        space = sample.find(b" ", at, at + 1000)
        if space <= at:
            return records > 0 and space < 0 and len(sample) - at < 1000  # ran out of the sample
        end = space + 1 + 4 * dim
        if end > len(sample):
            return records > 0
        values = np.frombuffer(sample[space + 1:end], dtype="<f4")
        size = np.abs(values)
        if not (np.isfinite(values).all() and ((size < 1e4) & ((size > 1e-7) | (values == 0))).all()):
            return False
        at = end + (sample[end:end + 1] == b"\n")
        records += 1
    return True


def _glove(sample: bytes, complete: bool) -> int:
    """The number of values a line when the first lines are ``word v1 .. vd`` with the same d >= 10 (a
    GloVe or fastText .vec body without its header), else 0."""
    lines = sample.split(b"\n")
    if not complete or len(sample) >= SAMPLE_BYTES:
        lines = lines[:-1]  # the last may be cut
    lines = [line for line in lines[:5] if line.strip()]
    if len(lines) < 2:
        return 0
    dims = set()
    for line in lines:
        fields = line.split()
        if len(fields) < 11 or not all(_FLOAT.fullmatch(x) for x in fields[1:]):
            return 0
        dims.add(len(fields) - 1)
    return dims.pop() if len(dims) == 1 else 0


def not_text(sample: bytes, complete: bool = False) -> str | None:
    """Why ``sample`` (the first bytes of a file's content) is not text, or None when it is text.

    ``complete``: the sample is the whole file (so a multi-byte character cut at its end is an error).
    The returned sentence says what the file seems to be and, where it helps, what to do about it.
    """
    if not sample:
        return None
    for offset, magic, what, advice in _SIGNATURES:
        if sample.startswith(magic, offset):
            return what + (f": {advice}" if advice else "")
    if _PICKLE.match(sample):
        return "a Python pickle (a gensim .model file?): export its vectors with gensim's " \
               "save_word2vec_format and use 'w2v import' instead of training on it"
    n = len(sample)
    controls = n - len(sample.translate(None, _CONTROL))
    invalid = _count_invalid(sample, complete)
    many_controls = controls > MAX_CONTROL_FRACTION * n and controls >= MIN_CONTROL_BYTES
    many_invalid = invalid > MAX_INVALID_FRACTION * n and invalid >= MIN_INVALID_BYTES
    header = _W2V_HEADER.match(sample)
    if header is not None:
        kind = "binary" if _word2vec_binary(sample, header) else "text" if _word2vec_text(sample, header) else ""
        if kind:
            return (f"a word2vec vectors file ({kind} format, {header.group(1).decode()} vectors of "
                    f"{header.group(2).decode()} dimensions): load it with 'w2v import' or KeyedVectors.load")
    dim = _glove(sample, complete)
    if dim:
        return (f"a vectors file in text form without a header (GloVe style: a word and {dim} numbers a line); "
                f"to load it, add the line 'V {dim}' (V = its number of lines) in front and use 'w2v import'")
    if n >= 16 and controls:  # UTF-16 of mostly ASCII text: NUL in every other byte, and only there
        halves = sorted((sample[1::2], sample[0::2]), key=lambda h: h.count(0))
        if halves[1].count(0) > 0.9 * len(halves[1]) and halves[0].count(0) < 0.05 * len(halves[0]):
            return "UTF-16 text without a byte-order mark: convert it to UTF-8 (iconv -f UTF-16 -t UTF-8)"
    if many_controls:
        return (f"binary data ({controls:,} of its first {n:,} bytes are NUL or control characters, "
                f"more than {MAX_CONTROL_FRACTION:.0%})")
    if many_invalid:
        return (f"not UTF-8 text ({invalid:,} of its first {n:,} bytes are invalid UTF-8, more than "
                f"{MAX_INVALID_FRACTION:.0%}): if it is text in another encoding, convert it to UTF-8 "
                "(iconv -f ITS-ENCODING -t UTF-8; `file -i` may name the encoding)")
    return None
