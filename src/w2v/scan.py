"""Numba kernels of the fast reader: split UTF-8 bytes into tokens and give each a word id, in one pass.

Pure functions over arrays (the orchestration is :mod:`w2v.reader`).  They reproduce the Python reader of
:class:`w2v.corpus.Corpus` exactly, on bytes:

- whitespace is what ``str.split`` splits on: the ASCII bytes 0x09-0x0D, 0x1C-0x1F and 0x20, NUL (the
  reader turns it into a space), and the multi-byte characters ``str.isspace`` accepts (U+0085, U+00A0,
  U+2000..., given as ``spaces``: a flag per BMP code point, built from Python at import, never
  hard-coded).  A UTF-8 decoder restarts at every byte that is not a continuation byte, so a whitespace
  character is recognised wherever its bytes start, whatever invalid bytes come before it;
- ``\\n`` and ``\\r`` end a line (``\\r\\n`` is a line end and an empty line, which yields nothing);
- a line is cut into sentences of at most ``max_sentence_length`` tokens, counted from the line's start.

What bytes alone cannot do exactly is left to Python, token by token: a token with invalid UTF-8, or (with
``lowercase`` or ``normalize``) a token with a non-ASCII byte, is listed by :func:`find_special` and
replaced by the bytes Python makes of it (decoded with replacement, ``str.lower``, ``str.strip``);
:func:`scan_block` takes those replacements in order.  ASCII tokens are lowercased (A-Z) and stripped of
ASCII punctuation here, which is exactly what ``str.lower`` and ``str.strip(PUNCTUATION)`` do to them.

The word table is a tuple of arrays ``(slots, hashes, starts, arena, counts, sizes)``: open addressing with
linear probing over ``slots`` (int64: -1 free, else the hash's top 31 bits << 32 | word id), the words'
UTF-8 bytes one after another in ``arena``, each followed by ``\\n`` (word ``w`` is
``arena[starts[w]:starts[w + 1] - 1]``, so all of them decode at once with one ``split``), ``counts`` the
occurrences and ``sizes = (words, arena bytes used)``.  Ids are given in order of first appearance.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_JIT = {"nogil": True, "cache": True, "error_model": "numpy", "boundscheck": False}

# byte classes (see byte_classes)
TOKEN, PUNCT, HIGH, SPACE, LINE = 0, 1, 2, 3, 4

# status of scan_block
DONE, GROW, OVER, FLUSH = 0, 1, 2, 3

# state of scan_block (int64[10]), kept by the caller from one call to the next
LINE_COUNT, POS, N_IDS, N_ENDS, AT, SPECIAL, STATUS, NEED, FIRST_LINE_END, LAST_LINE_END = range(10)

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)


def byte_classes(punctuation: str) -> np.ndarray:
    """uint8[256]: the class of each byte: TOKEN, PUNCT (ASCII characters of ``punctuation``), HIGH (>= 0x80:
    part of a multi-byte character, which may be whitespace), SPACE (whitespace and NUL) or LINE (\\n, \\r)."""
    cls = np.full(256, TOKEN, np.uint8)
    cls[0x80:] = HIGH
    for c in punctuation:
        if ord(c) < 0x80:
            cls[ord(c)] = PUNCT
    for b in range(0x80):
        if chr(b).isspace():
            cls[b] = SPACE
    cls[0] = SPACE
    cls[ord("\n")] = cls[ord("\r")] = LINE
    return cls


def bmp_spaces() -> np.ndarray:
    """uint8[65536]: 1 where ``chr(c).isspace()``, for the code points of 2 and 3 UTF-8 bytes (Python's own
    rule, so it follows the Unicode version of the running Python).  No whitespace lies beyond the BMP."""
    flags = np.zeros(0x10000, np.uint8)
    for c in range(0x80, 0x10000):
        if chr(c).isspace():
            flags[c] = 1
    return flags


@njit(inline="always", **_JIT)
def _cont(b):
    return (b & 0xC0) == 0x80


@njit(**_JIT)  # a call, not inlined: inlined in the token loop it made that loop 2.5x slower
def _space_len(buf, i, n, spaces):
    """Bytes of the whitespace character starting at ``buf[i]`` (a byte >= 0x80), 0 when none starts there."""
    b0 = np.int64(buf[i])
    if 0xC2 <= b0 <= 0xDF:
        if i + 1 < n and _cont(buf[i + 1]):
            if spaces[((b0 & 0x1F) << 6) | (np.int64(buf[i + 1]) & 0x3F)]:
                return 2
    elif 0xE0 <= b0 <= 0xEF:
        if i + 2 < n and _cont(buf[i + 1]) and _cont(buf[i + 2]):
            b1 = np.int64(buf[i + 1])
            if (b0 != 0xE0 or b1 >= 0xA0) and (b0 != 0xED or b1 < 0xA0):  # no overlong form, no surrogate
                if spaces[((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (np.int64(buf[i + 2]) & 0x3F)]:
                    return 3
    return 0


@njit(**_JIT)
def _valid_len(buf, i, n):
    """Bytes of the well-formed UTF-8 character starting at ``buf[i]`` (>= 0x80); 0 when it is invalid."""
    b0 = np.int64(buf[i])
    if 0xC2 <= b0 <= 0xDF:
        return 2 if i + 1 < n and _cont(buf[i + 1]) else 0
    if 0xE0 <= b0 <= 0xEF:
        if i + 2 >= n or not (_cont(buf[i + 1]) and _cont(buf[i + 2])):
            return 0
        b1 = np.int64(buf[i + 1])
        return 3 if (b0 != 0xE0 or b1 >= 0xA0) and (b0 != 0xED or b1 < 0xA0) else 0
    if 0xF0 <= b0 <= 0xF4:
        if i + 3 >= n or not (_cont(buf[i + 1]) and _cont(buf[i + 2]) and _cont(buf[i + 3])):
            return 0
        b1 = np.int64(buf[i + 1])
        return 4 if (b0 != 0xF0 or b1 >= 0x90) and (b0 != 0xF4 or b1 < 0x90) else 0
    return 0


@njit(**_JIT)
def last_space(buf, n, cls, spaces):
    """Index just after the last whitespace byte or character of ``buf[:n]`` (0 when there is none): the
    text before it ends at a token boundary and can be read without waiting for the next block."""
    for i in range(n - 1, -1, -1):
        c = cls[buf[i]]
        if c >= SPACE:
            return i + 1
        if c == HIGH and buf[i] >= 0xC0:
            w = _space_len(buf, i, n, spaces)
            if w:
                return i + w
    return 0


@njit(**_JIT)
def max_byte(buf, n):
    m = 0
    for i in range(n):
        if buf[i] > m:
            m = buf[i]
    return m


@njit(**_JIT)
def lower_ascii(buf, n):
    """A-Z -> a-z in place (what ``str.lower`` does to ASCII; other tokens go through Python)."""
    for i in range(n):
        b = buf[i]
        if 65 <= b <= 90:
            buf[i] = b + 32


@njit(**_JIT)
def find_special(buf, n, cls, spaces, transform, out):
    """The tokens of ``buf[:n]`` that Python must make: invalid UTF-8, or non-ASCII when ``transform``
    (lowercase or normalize).  Writes the (start, end) byte offsets of the first ones to ``out``
    (int64[m, 2]); returns how many there are (more than m: call again with room for all)."""
    k = 0
    i = 0
    while i < n:
        c = cls[buf[i]]
        if c >= SPACE:
            i += 1
            continue
        if c == HIGH:
            w = _space_len(buf, i, n, spaces)
            if w:
                i += w
                continue
        a = i
        special = False
        while i < n:
            c = cls[buf[i]]
            if c < HIGH:
                i += 1
            elif c == HIGH:
                if _space_len(buf, i, n, spaces):
                    break
                if transform:
                    special = True
                    i += 1
                else:
                    v = _valid_len(buf, i, n)
                    if v == 0:
                        special = True
                        i += 1
                    else:
                        i += v  # a whole character: never holds the start of a whitespace character
            else:
                break
        if special:
            if k < out.shape[0]:
                out[k, 0] = a
                out[k, 1] = i
            k += 1
    return k


@njit(inline="always", **_JIT)
def _hash(data, a, b):
    """64-bit hash of ``data[a:b]``: 8 bytes at a time (little-endian), each word mixed in, then finalised."""
    h = _M1 ^ np.uint64(b - a)
    i = a
    while i + 8 <= b:
        w = (np.uint64(data[i]) | (np.uint64(data[i + 1]) << np.uint64(8))
             | (np.uint64(data[i + 2]) << np.uint64(16)) | (np.uint64(data[i + 3]) << np.uint64(24))
             | (np.uint64(data[i + 4]) << np.uint64(32)) | (np.uint64(data[i + 5]) << np.uint64(40))
             | (np.uint64(data[i + 6]) << np.uint64(48)) | (np.uint64(data[i + 7]) << np.uint64(56)))
        h = (h ^ w) * _M2
        h ^= h >> np.uint64(31)
        i += 8
    w = np.uint64(0)
    shift = np.uint64(0)
    while i < b:
        w |= np.uint64(data[i]) << shift
        shift += np.uint64(8)
        i += 1
    h = (h ^ w) * _M2
    h ^= h >> np.uint64(29)
    h *= _M3
    h ^= h >> np.uint64(32)
    return h


@njit(inline="always", **_JIT)
def _lookup(table, data, a, b, h):
    """(word id or -1, the slot where it is or would go) of ``data[a:b]``."""
    slots, starts, arena = table[0], table[2], table[3]
    mask = np.int64(len(slots) - 1)
    s = np.int64(h & np.uint64(mask))
    tag = np.int64(h >> np.uint64(33))
    length = b - a
    while True:
        e = slots[s]
        if e < 0:
            return -1, s
        if (e >> 32) == tag:
            w = e & 0xFFFFFFFF
            o = starts[w]
            if starts[w + 1] - 1 - o == length:
                same = True
                for j in range(length):
                    if arena[o + j] != data[a + j]:
                        same = False
                        break
                if same:
                    return w, s
        s = (s + 1) & mask


@njit(inline="always", **_JIT)
def _room(table, length):
    """Whether a word of ``length`` bytes can be inserted without growing the table."""
    slots, hashes, arena, sizes = table[0], table[1], table[3], table[5]
    return (sizes[0] + 1 < len(hashes) and sizes[1] + length + 1 <= len(arena)
            and 2 * (sizes[0] + 1) <= len(slots))


@njit(inline="always", **_JIT)
def _insert(table, data, a, b, h, s):
    """Add ``data[a:b]`` (hash ``h``, free slot ``s``) as a new word; returns its id (room checked first)."""
    slots, hashes, starts, arena, counts, sizes = table
    w = sizes[0]
    o = sizes[1]
    for j in range(b - a):
        arena[o + j] = data[a + j]
    arena[o + b - a] = 10  # "\n"
    starts[w + 1] = o + b - a + 1
    hashes[w] = h
    counts[w] = 0
    slots[s] = (np.int64(h >> np.uint64(33)) << 32) | w
    sizes[0] = w + 1
    sizes[1] = o + b - a + 1
    return w


@njit(**_JIT)
def build_slots(hashes, n, size):
    """The probe slots (int64[size], -1 free) of words 0..n-1; ``size`` a power of two > n."""
    slots = np.full(size, -1, np.int64)
    mask = np.int64(size - 1)
    for w in range(n):
        h = hashes[w]
        s = np.int64(h & np.uint64(mask))
        while slots[s] >= 0:
            s = (s + 1) & mask
        slots[s] = (np.int64(h >> np.uint64(33)) << 32) | w
    return slots


@njit(**_JIT)
def scan_block(buf, n, special, repl, table, out, state, params, cls, spaces):
    """Tokens of ``buf[:n]`` (which ends at a token boundary) -> word ids and sentence ends.

    ``special`` int64[k, 2]: the tokens Python made (:func:`find_special`), in order, and ``repl =
    (bytes uint8, offsets int64[k + 1])`` what each became (nothing: the token is dropped).  ``out = (ids
    int32, ends int64)``: the id of every token in order (-1: not in a frozen table) and the position (in
    tokens of the share, ``state[POS]``) after each sentence.  ``params = (max_sentence_length, normalize,
    insert, max_vocab or 0, final)``: ``insert`` adds unknown words (ids in order of first appearance) and
    counts every token; ``final`` ends the line at the end of ``buf``: 1 at a file's end, 2 where a share
    was cut inside a line (a sentence end, but not a line end).  ``state[FIRST_LINE_END]`` and
    ``state[LAST_LINE_END]`` keep the position of the first and last line end seen (-1: none yet), so that
    the sentences of a line cut between two shares can be made again as one line would make them.

    Resumable: ``state`` (see the constants above) says where to go on.  Status GROW: the table needs room
    for a word of ``state[NEED]`` bytes (grow it and call again); OVER: a sentence ended with more than
    ``max_vocab`` words in the table (prune it, or give up, and call again to go on); FLUSH: ``ids`` or
    ``ends`` is full (take ``state[N_IDS]`` ids and ``state[N_ENDS]`` ends, set both to 0, call again).
    """
    ids, ends = out
    max_len, normalize, insert, max_vocab, final = params[0], params[1], params[2], params[3], params[4]
    sizes = table[5]
    counts = table[4]
    rbytes, roffs = repl
    n_special = special.shape[0]
    line_count = state[LINE_COUNT]
    pos = state[POS]
    n_ids = state[N_IDS]
    n_ends = state[N_ENDS]
    i = state[AT]
    k = state[SPECIAL]
    next_special = special[k, 0] if k < n_special else -1  # where the next token Python made starts
    first_line_end = state[FIRST_LINE_END]
    last_line_end = state[LAST_LINE_END]
    status = DONE
    while i < n:
        if n_ids >= len(ids) or n_ends + 1 >= len(ends):  # an iteration writes one id or end at most
            status = FLUSH
            break
        c = cls[buf[i]]
        if c >= SPACE:
            i += 1
            if c == LINE:
                if first_line_end < 0:
                    first_line_end = pos
                last_line_end = pos
                if line_count > 0:
                    ends[n_ends] = pos
                    n_ends += 1
                    line_count = 0
                    if max_vocab > 0 and sizes[0] > max_vocab:
                        status = OVER
                        break
            continue
        if c == HIGH:
            w = _space_len(buf, i, n, spaces)
            if w:
                i += w
                continue
        a = i
        j = i + 1
        while j < n:  # the token's end (written out here: through a helper this loop ran 2.5x slower)
            c = cls[buf[j]]
            if c < HIGH:
                j += 1
            elif c == HIGH and _space_len(buf, j, n, spaces) == 0:
                j += 1
            else:
                break
        if a == next_special:
            ta = roffs[k]
            tb = roffs[k + 1]
            if ta == tb:
                k += 1
                next_special = special[k, 0] if k < n_special else -1
                i = j
                continue
            h = _hash(rbytes, ta, tb)
            w, s = _lookup(table, rbytes, ta, tb, h)
            if w < 0 and insert:
                if not _room(table, tb - ta):
                    status = GROW
                    state[NEED] = tb - ta + 1
                    break
                w = _insert(table, rbytes, ta, tb, h, s)
            k += 1
            next_special = special[k, 0] if k < n_special else -1
        else:
            ta = a
            tb = j
            if normalize:
                while ta < tb and cls[buf[ta]] == PUNCT:
                    ta += 1
                while tb > ta and cls[buf[tb - 1]] == PUNCT:
                    tb -= 1
                if ta == tb:
                    i = j
                    continue
            h = _hash(buf, ta, tb)
            w, s = _lookup(table, buf, ta, tb, h)
            if w < 0 and insert:
                if not _room(table, tb - ta):
                    status = GROW
                    state[NEED] = tb - ta + 1
                    break
                w = _insert(table, buf, ta, tb, h, s)
        if w >= 0:
            counts[w] += 1
        ids[n_ids] = w
        n_ids += 1
        pos += 1
        line_count += 1
        i = j
        if line_count == max_len:
            ends[n_ends] = pos
            n_ends += 1
            line_count = 0
            if max_vocab > 0 and sizes[0] > max_vocab:
                status = OVER
                break
    if status == DONE and final:
        if final == 1:
            if first_line_end < 0:
                first_line_end = pos
            last_line_end = pos
        if line_count > 0:
            ends[n_ends] = pos
            n_ends += 1
            line_count = 0
            if max_vocab > 0 and sizes[0] > max_vocab:
                status = OVER
    state[FIRST_LINE_END] = first_line_end
    state[LAST_LINE_END] = last_line_end
    state[LINE_COUNT] = line_count
    state[POS] = pos
    state[N_IDS] = n_ids
    state[N_ENDS] = n_ends
    state[AT] = i
    state[SPECIAL] = k
    state[STATUS] = status
    return status


@njit(**_JIT)
def insert_words(table, arena, starts, n, out):
    """Look up (and add, when absent and there is room) the words ``arena[starts[w]:starts[w + 1] - 1]``,
    w < n, in order; ``out[w]`` is each one's id in ``table``.  Returns the number done (< n: grow the table
    and call again from there, with ``starts`` and ``out`` sliced)."""
    for w in range(n):
        a = starts[w]
        b = starts[w + 1] - 1
        h = _hash(arena, a, b)
        v, s = _lookup(table, arena, a, b, h)
        if v < 0:
            if not _room(table, b - a):
                return w
            v = _insert(table, arena, a, b, h, s)
        out[w] = v
    return n


@njit(**_JIT)
def lookup_words(table, arena, starts, n, out):
    """``out[w]``: the id in ``table`` of each word ``arena[starts[w]:starts[w + 1] - 1]`` (-1: absent)."""
    for w in range(n):
        a = starts[w]
        b = starts[w + 1] - 1
        out[w] = _lookup(table, arena, a, b, _hash(arena, a, b))[0]


@njit(**_JIT)
def compact_table(table, keep):
    """Keep the words where ``keep`` (bool[words]) holds, in order (ids renumbered, slots rebuilt)."""
    slots, hashes, starts, arena, counts, sizes = table
    m = 0
    o = 0
    for w in range(sizes[0]):
        if keep[w]:
            a = starts[w]
            length = starts[w + 1] - a
            for j in range(length):
                arena[o + j] = arena[a + j]
            hashes[m] = hashes[w]
            counts[m] = counts[w]
            starts[m] = o
            o += length
            m += 1
    starts[m] = o
    sizes[0] = m
    sizes[1] = o
    slots[:] = build_slots(hashes, m, len(slots))


@njit(**_JIT)
def compact_ids(ids, n, perm, ends, state, out_ids, out_ends, counts):
    """Map ``ids[:n]`` (the next tokens of a share) through ``perm`` (-1: dropped), writing the kept ones to
    ``out_ids`` and the sentence ends among them to ``out_ends`` (empty sentences dropped); ``ends`` are the
    share's sentence ends in its own token positions.  ``counts[v]`` counts each kept id.

    ``state`` int64[5] = (tokens of the share done, its next sentence, sentence ends written for it; then,
    over the whole corpus: kept tokens before this call, kept tokens at the last sentence end written).  A
    sentence may begin in one share and end in the next.  Returns the ids written."""
    t = state[0]
    si = state[1]
    e = state[2]
    kept = state[3]
    last = state[4]
    m = 0
    n_ends = len(ends)
    for x in range(n):
        v = ids[x]
        if v >= 0:
            v = perm[v]
            if v >= 0:
                out_ids[m] = v
                m += 1
                counts[v] += 1
        t += 1
        while si < n_ends and ends[si] == t:
            if kept + m > last:
                last = kept + m
                out_ends[e] = last
                e += 1
            si += 1
    state[0] = t
    state[1] = si
    state[2] = e
    state[3] = kept + m
    state[4] = last
    return m
