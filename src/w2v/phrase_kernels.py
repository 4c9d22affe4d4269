"""The Numba kernels of :mod:`w2v.phrases` (the C tool's word2phrase): pure functions over arrays, each checked
against a plain Python reference in tests/test_phrases.py, and the scores."""

from __future__ import annotations


import numpy as np
from numba import njit

from .errors import ConfigError

DELIMITER = "_"  # joins the words of a phrase
SCORINGS = ("default", "npmi")
_SPACE, _NEWLINE, _JOIN = 32, 10, ord(DELIMITER)


# -- kernels: pure functions over arrays -------------------------------------------------------------------
# A word table is the tuple (slots int32[S], hashes uint64[C], heads uint64[C], starts int64[C+1], arena
# uint8[B], sizes int64[2] = (words, bytes used)): word i is arena[starts[i]:starts[i+1]] (heads[i]: its
# first 8 bytes, little-endian), found by linear probing from slot hashes[i] & (S-1); S is a power of two,
# at most half full.  A phrase table is (keys int64[P],
# codes int64[P], ids int32[P], slots int32[S], lefts bool[U]): the pair (a, b) with connector code c
# becomes unit ids[p] where keys[p] == a << 32 | b and codes[p] == c; lefts[a] says a starts some phrase.
# `conn` is (n_connectors, code_bits, max_run): connector words are ids 0..n-1 of every table, and a run of
# connectors r_1..r_m (m <= max_run) has the exact code sum((r_i + 1) << (code_bits * (i - 1))); code 0 is
# no connector.  Ids are int32 and a pair key holds two in an int64: the C tool keys its table by the
# string "a_b"; sorting 8-byte keys is what makes counting fast here.

_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)


@njit(cache=True, nogil=True)
def _mix(key, code):
    """splitmix64's finaliser over a phrase key and code: a well-spread 64-bit hash for the phrase table."""
    z = np.uint64(key) ^ (np.uint64(code) * np.uint64(0x9E3779B97F4A7C15))
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def scan_tokens(buf, out, table, insert):
    """Split a block into tokens and give each its word id, in one pass over the bytes.

    ``buf`` (uint8) holds tokens each followed by one separator, ``" "`` or ``"\\n"`` (a sentence end).
    ``out = (ids int32[n], ends int64[n], state int64[5])`` for a block of ``n`` tokens: ``ids[t]`` is the
    word id of token ``t`` in ``table`` (-1 when unknown, or a new id with ``insert``), ``ends[:state[0]]``
    the exclusive token index of each sentence end.  ``state`` = (sentences, status, bytes needed, token
    and byte to resume from): the scan goes on from where the last call stopped.  Sets the status: 0 all
    done; 1 the table needs room for a token of ``state[2]`` bytes (the caller grows it and calls again);
    -1 the block does not hold exactly ``n`` non-empty tokens ending with a newline (whitespace in a token).
    """
    ids, ends, state = out
    slots, hashes, heads, starts, arena, sizes = table
    n_tokens = len(ids)
    mask = np.uint64(len(slots) - 1)
    n_words = sizes[0]
    n_bytes = sizes[1]
    s = state[0]
    t = state[3]
    a = state[4]
    h = _FNV_OFFSET
    head = np.uint64(0)
    shift = np.uint64(0)
    state[1] = 0
    for i in range(a, len(buf)):
        c = buf[i]
        if c != _SPACE and c != _NEWLINE:
            h = (h ^ np.uint64(c)) * _FNV_PRIME  # FNV-1a, on the fly
            if shift < 64:  # and the first 8 bytes, packed
                head |= np.uint64(c) << shift
                shift += np.uint64(8)
            continue
        if t == n_tokens or i == a:
            state[1] = -1
            break
        slot = np.int64(h & mask)
        found = -1
        while True:  # linear probing; hash, first 8 bytes and length settle most tokens without a loop
            w = slots[slot]
            if w < 0:
                break
            if hashes[w] == h and heads[w] == head and starts[w + 1] - starts[w] == i - a:
                o = starts[w] - a
                same = True
                for j in range(a + 8, i):
                    if arena[o + j] != buf[j]:
                        same = False
                        break
                if same:
                    found = w
                    break
            slot = (slot + 1) & (len(slots) - 1)
        if found < 0 and insert:
            length = i - a
            if n_words + 1 > len(hashes) or n_bytes + length > len(arena) or 2 * (n_words + 1) > len(slots):
                state[1] = 1
                state[2] = length
                break
            arena[n_bytes:n_bytes + length] = buf[a:i]
            hashes[n_words] = h
            heads[n_words] = head
            n_bytes += length
            starts[n_words + 1] = n_bytes
            slots[slot] = n_words
            found = n_words
            n_words += 1
        ids[t] = found
        t += 1
        if c == _NEWLINE:
            ends[s] = t
            s += 1
            state[0] = s
        a = i + 1
        h = _FNV_OFFSET
        head = np.uint64(0)
        shift = np.uint64(0)
    sizes[0] = n_words
    sizes[1] = n_bytes
    state[3] = t
    state[4] = a
    if state[1] == 0 and (t != n_tokens or a != len(buf)):
        state[1] = -1


@njit(cache=True, nogil=True)
def build_slots(hashes, n, n_slots):
    """The probe slots (int32[n_slots], -1 free) of the first ``n`` hashes; ``n_slots`` a power of two."""
    slots = np.full(n_slots, -1, np.int32)
    mask = np.uint64(n_slots - 1)
    for w in range(n):
        s = np.int64(hashes[w] & mask)
        while slots[s] >= 0:
            s = (s + 1) & (n_slots - 1)
        slots[s] = w
    return slots


@njit(cache=True, nogil=True)
def compact_words(table, keep):
    """Keep the words of a word table where ``keep`` (bool[n]) holds, in order, in place (the slots are left
    to the caller to rebuild).  Returns ``new_id`` (int32[n], -1 for a dropped word): increasing, so pair
    keys keep their order once remapped."""
    _, hashes, heads, starts, arena, sizes = table
    new_id = np.full(len(keep), -1, np.int32)
    m = 0
    pos = 0
    for w in range(len(keep)):
        if keep[w]:
            begin, end = starts[w], starts[w + 1]
            for j in range(begin, end):  # pos <= begin: moving down never overwrites what is still to move
                arena[pos + j - begin] = arena[j]
            starts[m] = pos
            pos += end - begin
            hashes[m] = hashes[w]
            heads[m] = heads[w]
            new_id[w] = m
            m += 1
    starts[m] = pos
    sizes[0] = m
    sizes[1] = pos
    return new_id


@njit(cache=True, nogil=True)
def count_block(units, sentence_ends, conn, unit_counts, keys, codes, m):
    """Count a block's units, and list its candidates as gensim's ``_learn_vocab`` counts them: one per
    pair of non-connectors with only connectors between (a non-connector ends one and starts the next).

    ``units`` (int32[n]; -1 unknown, which is not counted and pairs with nothing), ``sentence_ends`` (int64,
    exclusive).  Adds 1 to ``unit_counts[u]`` (int64, room for every unit) for each known unit; writes
    ``a << 32 | b`` to ``keys[m:]`` and the code of the connectors between to ``codes[m:]`` (not written,
    and may be empty, when there are no connector words: every code is 0); both need room for ``n``.
    Returns the new end ``m``.
    """
    n_conn, bits, max_run = conn
    s0 = 0
    for e in sentence_ends:
        start = -1
        run = 0
        code = 0
        for i in range(s0, e):
            u = np.int64(units[i])
            if u >= 0:
                unit_counts[u] += 1
            if 0 <= u < n_conn:  # a connector: inside the candidate, if one has started
                if start >= 0:
                    if run < max_run:
                        code |= (u + 1) << (bits * run)
                    run += 1
            elif u < 0:
                start = -1
                run = 0
                code = 0
            else:
                if start >= 0 and run <= max_run:
                    keys[m] = (start << 32) | u
                    if n_conn:
                        codes[m] = code
                    m += 1
                start = u
                run = 0
                code = 0
        s0 = e
    return m


@njit(cache=True, nogil=True)
def count_sorted(keys, codes, counts):
    """Run-length count, in place, of (key, code) pairs sorted by key then code (``codes`` empty: all 0).

    The ``m`` distinct pairs end up in ``keys[:m]`` (and ``codes[:m]``), their counts in ``counts[:m]``
    (int64, room for all).  Returns ``m``.
    """
    with_codes = len(codes) > 0
    m = -1
    for i in range(len(keys)):
        if m >= 0 and keys[i] == keys[m] and (not with_codes or codes[i] == codes[m]):
            counts[m] += 1
        else:
            m += 1
            keys[m] = keys[i]
            if with_codes:
                codes[m] = codes[i]
            counts[m] = 1
    return m + 1


@njit(cache=True, nogil=True)
def merge_counts(table, size, new):
    """Merge the sorted, distinct counts ``new`` into the first ``size`` entries of ``table``, in place.

    Both are ``(keys int64, codes int64, counts int64)`` sorted by (key, code), ``codes`` empty in both when
    there are no connector words; ``table``'s arrays have room for ``size + len(new keys)``.  Merged from
    the back (so no second table is needed: fresh memory is dear), then the tail moved down over the gap
    that pairs found in both leave.  Returns the new size.
    """
    tk, tc, tn = table
    nk, nc, nn = new
    with_codes = len(tc) > 0
    i = size - 1
    j = len(nk) - 1
    k = size + len(nk) - 1
    while j >= 0:
        if i >= 0 and (tk[i] > nk[j] or (tk[i] == nk[j] and with_codes and tc[i] > nc[j])):
            order = 1   # the table's entry is the larger: it goes last
        elif i >= 0 and tk[i] == nk[j] and (not with_codes or tc[i] == nc[j]):
            order = 0   # in both: counts add up
        else:
            order = -1  # the new entry goes last
        if order >= 0:
            tk[k] = tk[i]
            if with_codes:
                tc[k] = tc[i]
            tn[k] = tn[i] + (nn[j] if order == 0 else 0)
            i -= 1
            j -= 1 if order == 0 else 0
        else:
            tk[k] = nk[j]
            if with_codes:
                tc[k] = nc[j]
            tn[k] = nn[j]
            j -= 1
        k -= 1
    gap = k - i  # entries found in both
    if gap > 0:
        for x in range(k + 1, size + len(nk)):
            tk[x - gap] = tk[x]
            if with_codes:
                tc[x - gap] = tc[x]
            tn[x - gap] = tn[x]
    return size + len(nk) - gap


@njit(cache=True, nogil=True)
def build_pair_slots(keys, codes, n_slots):
    """The probe slots (int32[n_slots], -1 free) of a phrase table; ``n_slots`` a power of two."""
    slots = np.full(n_slots, -1, np.int32)
    mask = np.uint64(n_slots - 1)
    for p in range(len(keys)):
        s = np.int64(_mix(keys[p], codes[p]) & mask)
        while slots[s] >= 0:
            s = (s + 1) & (n_slots - 1)
        slots[s] = p
    return slots


@njit(cache=True, nogil=True)
def _find_pair(phrases, key, code):
    keys, codes, ids, slots, _ = phrases
    s = np.int64(_mix(key, code) & np.uint64(len(slots) - 1))
    while True:
        p = slots[s]
        if p < 0:
            return -1
        if keys[p] == key and codes[p] == code:
            return ids[p]
        s = (s + 1) & (len(slots) - 1)


@njit(cache=True, nogil=True)
def apply_pass(units, unit_tokens, sentence_ends, phrases, conn, joined, emit):
    """One pass of joining, greedy left to right (word2phrase.c, and gensim's ``analyze_sentence``).

    ``units`` (int32[n]; -1 unknown) start at token ``unit_tokens[i]`` (int64) of the block; ``phrases`` is a
    phrase table (see above), whose last array flags (bool per unit) the units that start a phrase, so that
    most pairs are rejected without a lookup.  A candidate
    (start, connectors, end) found in ``phrases`` becomes one unit, and nothing joined is extended again in
    this pass.  Sets ``joined[t] = True`` (bool per token) for the first token of every unit joined to the
    unit before it.  Returns ``(units, unit_tokens, sentence_ends)`` after the pass.
    """
    n_conn, bits, max_run = conn
    lefts = phrases[4]
    out = np.empty(len(units) if emit else 0, np.int32)
    out_tok = np.empty(len(units) if emit else 0, np.int64)
    out_ends = np.empty(len(sentence_ends) if emit else 0, np.int64)
    m = 0
    s0 = 0
    for si in range(len(sentence_ends)):
        e = sentence_ends[si]
        start = -1
        run = 0
        code = 0
        for i in range(s0, e):
            u = np.int64(units[i])
            if 0 <= u < n_conn:
                if start >= 0:
                    if run < max_run:
                        code |= (u + 1) << (bits * run)
                    run += 1
                elif emit:
                    out[m] = u
                    out_tok[m] = unit_tokens[i]
                    m += 1
                continue
            if start >= 0:
                left = np.int64(units[start])
                hit = -1
                if u >= 0 and 0 <= left < len(lefts) and lefts[left] and run <= max_run:
                    hit = _find_pair(phrases, (left << 32) | u, code)
                if hit >= 0:
                    if emit:
                        out[m] = hit
                        out_tok[m] = unit_tokens[start]
                        m += 1
                    for j in range(start + 1, i + 1):
                        joined[unit_tokens[j]] = True
                    start = -1
                    continue
                if emit:
                    for j in range(start, i):  # not a phrase: the start and its connectors stay as they are
                        out[m] = units[j]
                        out_tok[m] = unit_tokens[j]
                        m += 1
            start = i
            run = 0
            code = 0
        if start >= 0 and emit:
            for j in range(start, e):
                out[m] = units[j]
                out_tok[m] = unit_tokens[j]
                m += 1
        if emit:
            out_ends[si] = m
        s0 = e
    return out[:m], out_tok[:m], out_ends


@njit(cache=True, nogil=True)
def patch_separators(buf, joined):
    """Turn the space before token ``t`` of ``buf`` into ``"_"`` wherever ``joined[t]`` (bool[n + 1] for a
    block of n tokens; ``joined[n]`` is read, never true)."""
    t = 0
    for i in range(len(buf)):  # without branches: 2x faster than testing each byte
        c = buf[i]
        t += (c == _SPACE) | (c == _NEWLINE)
        buf[i] = c + np.uint8(_JOIN - _SPACE) * ((c == _SPACE) & joined[t])


# -- scores --------------------------------------------------------------------------------------------------
def score_pairs(count_a: np.ndarray, count_b: np.ndarray, count_ab: np.ndarray, n_tokens: int, min_count: int,
                scoring: str) -> np.ndarray:
    """The score of each candidate (float64), ``-inf`` where an end or the candidate is under ``min_count``.

    default: ``(count(ab) - min_count) / (count(a) * count(b)) * N`` (word2phrase.c; Mikolov et al. 2013b);
    npmi: ``ln(p(ab) / (p(a) p(b))) / -ln(p(ab))``, ``p(x) = count(x) / N`` (Bouma 2009), in [-1, 1].
    The operations are gensim's, in its order, so that equal counts give equal floats.
    """
    ca = np.asarray(count_a, dtype=np.float64)
    cb = np.asarray(count_b, dtype=np.float64)
    cab = np.asarray(count_ab, dtype=np.float64)
    ok = (ca >= min_count) & (cb >= min_count) & (cab >= min_count)
    with np.errstate(divide="ignore", invalid="ignore"):
        if scoring == "default":
            score = (cab - min_count) / (ca * cb) * n_tokens
        elif scoring == "npmi":
            n = float(n_tokens)
            pab = cab / n
            score = np.log(pab / ((ca / n) * (cb / n))) / -np.log(pab)
        else:
            raise ConfigError(f"'scoring' must be one of {', '.join(SCORINGS)}; got {scoring!r}")
    return np.where(ok, score, -np.inf)


