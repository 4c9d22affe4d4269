"""Is a corpus file text?  The rule, decided from the first :data:`SAMPLE_BYTES` of its (decompressed) content.

A file is **not text** when its first bytes

1. carry a known binary signature: w2v's own model and checkpoint files, a Python pickle (gensim's
   ``.model``), a word2vec vectors file (binary or text: a ``"V d"`` line followed by vectors), NumPy,
   HDF5, SQLite, Parquet, images, PDF, office documents, executables, archives (zip, tar, 7z, rar) and
   compressions that w2v does not read (zstd, lz4, compress); UTF-16 text (a byte-order mark, or NUL in
   every other byte) is named as such so it can be converted;
2. or hold more than :data:`MAX_CONTROL_FRACTION` of control bytes (NUL and the C0 controls other than
   tab, line feed, vertical tab, form feed, carriage return and escape): text has next to none;
3. or hold more than :data:`MAX_INVALID_FRACTION` of bytes that are not valid UTF-8 (text in another
   encoding, such as GBK or KOI8-R, or compressed or random data).

Text with a few bad bytes (stray NULs, some Latin-1 accents) passes and is read as before, each repair
counted and reported.  ``allow_binary`` (``--allow-binary``) reads a refused file as text anyway.
"""

from __future__ import annotations

import codecs
import re

SAMPLE_BYTES = 1 << 16
"""Bytes of a file's (decompressed) start that decide whether it is text."""

MAX_CONTROL_FRACTION = 0.05
"""More control bytes than this (of the sample) make a file binary: text has next to none, stored numbers
have many (a float32 array about 10%, small integers mostly NUL)."""

MAX_INVALID_FRACTION = 0.25
"""More invalid UTF-8 than this (of the sample) makes a file not UTF-8 text: Latin-1 text in a Western
language stays under 10%, text in a multi-byte legacy encoding or random bytes are near 50%."""

# bytes 0-31 and 127 but tab, LF, VT, FF, CR and ESC (coloured terminal logs are text)
_CONTROL = bytes(b for b in range(32) if b not in b"\t\n\x0b\x0c\r\x1b") + b"\x7f"

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
    (257, b"ustar", "a tar archive", "extract its files first (a directory of text files can be a corpus)"),
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
    binary = controls > MAX_CONTROL_FRACTION * n or invalid > MAX_INVALID_FRACTION * n
    header = _W2V_HEADER.match(sample)
    if header is not None and (binary or _word2vec_text(sample, header)):
        kind = "binary" if binary else "text"
        return (f"a word2vec vectors file ({kind} format, {header.group(1).decode()} vectors of "
                f"{header.group(2).decode()} dimensions): load it with 'w2v import' or KeyedVectors.load")
    if n >= 16 and controls:  # UTF-16 of mostly ASCII text: NUL in every other byte, and only there
        halves = sorted((sample[1::2], sample[0::2]), key=lambda h: h.count(0))
        if halves[1].count(0) > 0.9 * len(halves[1]) and halves[0].count(0) < 0.05 * len(halves[0]):
            return "UTF-16 text without a byte-order mark: convert it to UTF-8 (iconv -f UTF-16 -t UTF-8)"
    if controls > MAX_CONTROL_FRACTION * n:
        return (f"binary data ({controls:,} of its first {n:,} bytes are NUL or control characters, "
                f"more than {MAX_CONTROL_FRACTION:.0%})")
    if invalid > MAX_INVALID_FRACTION * n:
        return (f"not UTF-8 text ({invalid:,} of its first {n:,} bytes are invalid UTF-8, more than "
                f"{MAX_INVALID_FRACTION:.0%}): if it is text in another encoding, convert it to UTF-8 "
                "(e.g. iconv -f LATIN1 -t UTF-8)")
    return None
