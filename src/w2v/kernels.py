"""Numba kernels: one call trains one chunk of sentences.  Pure functions over arrays.

Every kernel has the same arguments (grouped so that no signature grows long):

- ``weights = (W_in, W_out)``: float32[V, d], C-contiguous, updated in place (Hogwild: threads share them
  without locks);
- ``tables = (keep, noise)``: ``keep`` int64[V] subsampling thresholds (keep a word when a 32-bit uniform
  is below it, see :func:`w2v.sampling.keep_thresholds`); ``noise`` uint64[V] the packed alias table of the
  noise distribution (:func:`w2v.sampling.alias_table`);
- ``ids`` int32[n] the encoded corpus and ``sentence_ends`` int64[s] its sentence end offsets; the chunk
  is sentences ``s0 .. s1-1``;
- ``params = (window, negative, cbow_mean)``;
- ``lr`` the learning rate of this chunk (the schedule lives in :func:`w2v.train.learning_rate`);
- ``seed`` the chunk's own random stream (so the draws do not depend on which thread runs the chunk).

Each returns ``(loss_sum, examples, words_seen, words_kept)``: the negative-sampling loss
``-log s(u_o.v) - sum_k log s(-u_k.v)`` summed (float64) over the chunk's training examples, the number of
examples (skip-gram: (context, centre) pairs; CBOW: windows), the in-vocabulary tokens visited and the
tokens kept by subsampling.

Order of random draws, per sentence: one per token for subsampling (in order), then per kept centre word
one for its window, then one per negative.  ``tests/reference.py`` replays exactly this in NumPy.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_JIT = dict(nogil=True, cache=True, fastmath=True, error_model="numpy", boundscheck=False)

_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)


@njit(inline="always", **_JIT)
def _splitmix64(state):
    """SplitMix64 (Steele et al. 2014): returns (new state, 64 random bits). Cheap and well mixed."""
    state = state + np.uint64(0x9E3779B97F4A7C15)
    z = state
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return state, z ^ (z >> np.uint64(31))


@njit(inline="always", **_JIT)
def _draw_noise(noise, r):
    """One draw from the alias table with 64 random bits: high half picks the bucket, low half the side."""
    n = np.uint64(noise.shape[0])
    bucket = ((r >> _SHIFT32) * n) >> _SHIFT32  # multiply-shift: uniform in [0, n) without a division
    entry = noise[bucket]
    if (r & _MASK32) < (entry >> _SHIFT32):
        return np.int64(bucket)
    return np.int64(entry & _MASK32)


LOGISTIC_RANGE = 16.0   # |f| below this: the table; beyond (rare), the exact formula
LOGISTIC_STEPS = 8192   # table resolution: linear interpolation is then within 2e-7 of the exact values
_LOGISTIC_SCALE = LOGISTIC_STEPS / (2.0 * LOGISTIC_RANGE)


def logistic_table() -> np.ndarray:
    """``sigmoid(x)`` and ``-log sigmoid(x)`` at ``LOGISTIC_STEPS + 1`` points evenly spaced over
    [-LOGISTIC_RANGE, LOGISTIC_RANGE] (float32[LOGISTIC_STEPS + 2, 2]; the last row repeats for
    interpolation).

    Two libm calls (exp, log1p) per target cost more than the dot product at d=100; interpolating this
    table (48 KB, cache-resident) gives the same values to ~1e-7 at a third of the cost.  Unlike the C
    tool's table (1,000 steps over [-6, 6], no interpolation, updates skipped beyond), nothing is clipped.
    """
    x = np.linspace(-LOGISTIC_RANGE, LOGISTIC_RANGE, LOGISTIC_STEPS + 1)
    table = np.empty((LOGISTIC_STEPS + 2, 2), dtype=np.float32)
    table[:-1, 0] = 1.0 / (1.0 + np.exp(-x))
    table[:-1, 1] = np.logaddexp(0.0, -x)  # -log sigmoid(x), stable
    table[-1] = table[-2]
    return table


@njit(inline="always", **_JIT)
def _logistic_exact(f, label):
    """(sigmoid(f), the loss: -log sigmoid(f) for label 1, -log sigmoid(-f) for label 0), float64, stable."""
    if f >= 0.0:
        e = math.exp(-f)
        return 1.0 / (1.0 + e), math.log1p(e) + (0.0 if label == 1.0 else f)
    e = math.exp(f)
    return e / (1.0 + e), math.log1p(e) - (f if label == 1.0 else 0.0)


# A constant of the module, frozen into the compiled code.  Passed as an argument instead, the same table
# made skip-gram 30% slower (measured: 500k vs 720k words/s on one thread): the compiler must then assume
# it may alias the weights being written.
_LOGISTIC = logistic_table()


@njit(inline="always", **_JIT)
def _logistic(f, label):
    """:func:`_logistic_exact`, interpolated in the table of :func:`logistic_table` where |f| < range."""
    table = _LOGISTIC
    if -LOGISTIC_RANGE < f < LOGISTIC_RANGE:
        x = (f + LOGISTIC_RANGE) * _LOGISTIC_SCALE
        i = int(x)
        w = x - i
        sig = table[i, 0] + w * (table[i + 1, 0] - table[i, 0])
        neg_log = table[i, 1] + w * (table[i + 1, 1] - table[i, 1])
        return sig, neg_log + (0.0 if label == 1.0 else f)  # -log sigmoid(-f) = -log sigmoid(f) + f
    return _logistic_exact(f, label)


@njit(inline="always", **_JIT)
def _subsample(ids, start, end, keep, buf, state):
    """Copy the kept tokens of ids[start:end] into buf; returns (count kept, new rng state)."""
    n = 0
    for p in range(start, end):
        w = ids[p]
        state, r = _splitmix64(state)
        if np.int64(r & _MASK32) < keep[w]:
            buf[n] = w
            n += 1
    return n, state


@njit(inline="always", **_JIT)
def _sgns_update(v, W_out, target, label, lr, err):
    """One negative-sampling step for input vector ``v`` (float32[d]) and output row ``target``.

    ``g = lr * (label - sigmoid(u.v))``; ``err += g*u``; ``u += g*v`` (``v`` itself is updated by the
    caller with ``err`` once all targets are done, as in the C tool).  Returns this target's loss term.
    """
    d = v.shape[0]
    u = W_out[target]
    f = np.float32(0.0)
    for j in range(d):
        f += v[j] * u[j]
    sig, loss = _logistic(np.float64(f), label)
    g = np.float32(lr * (label - sig))
    for j in range(d):
        err[j] += g * u[j]
        u[j] += g * v[j]
    return loss


@njit(inline="always", **_JIT)
def _sentence_bounds(sentence_ends, s):
    start = np.int64(0) if s == 0 else sentence_ends[s - 1]
    return start, sentence_ends[s]


@njit(inline="always", **_JIT)
def _longest(sentence_ends, s0, s1):
    longest = np.int64(1)
    for s in range(s0, s1):
        start, end = _sentence_bounds(sentence_ends, s)
        longest = max(longest, end - start)
    return longest


@njit(**_JIT)
def train_chunk_sg(weights, tables, ids, sentence_ends, s0, s1, params, lr, seed):
    """Skip-gram with negative sampling over sentences s0..s1-1 (Mikolov 2013b; the C tool's order).

    For each centre word and each context word in its (randomly shrunk) window, the context word's input
    vector predicts the centre word against ``negative`` noise words.
    """
    W_in, W_out = weights
    keep, noise = tables
    window, negative, _ = params
    d = W_in.shape[1]
    buf = np.empty(_longest(sentence_ends, s0, s1), dtype=np.int32)
    err = np.empty(d, dtype=np.float32)
    state = np.uint64(seed)
    loss = 0.0
    examples = np.int64(0)
    seen = np.int64(0)
    kept = np.int64(0)
    for s in range(s0, s1):
        start, end = _sentence_bounds(sentence_ends, s)
        seen += end - start
        n, state = _subsample(ids, start, end, keep, buf, state)
        kept += n
        for i in range(n):
            state, r = _splitmix64(state)
            b = 1 + np.int64(r % np.uint64(window))  # effective window, uniform in 1..window
            centre = buf[i]
            for j in range(max(0, i - b), min(n, i + b + 1)):
                if j == i:
                    continue
                v = W_in[buf[j]]
                err[:] = 0.0
                loss += _sgns_update(v, W_out, centre, 1.0, lr, err)
                for _k in range(negative):
                    state, r = _splitmix64(state)
                    t = _draw_noise(noise, r)
                    if t == centre:  # the true target is no noise word (C tool)
                        continue
                    loss += _sgns_update(v, W_out, t, 0.0, lr, err)
                for x in range(d):
                    v[x] += err[x]
                examples += 1
    return loss, examples, seen, kept


@njit(**_JIT)
def train_chunk_sg_hogbatch(weights, tables, ids, sentence_ends, s0, s1, params, lr, seed):
    """Skip-gram where the window's context words share one draw of negatives (HogBatch, Ji et al. 2016).

    For one centre word, the m context rows ``X`` (m, d) and the 1 + k target rows ``Y`` (centre, then the
    noise words) give the logits ``F = X Y^T`` (m, 1+k) and ``G = lr * (labels - sigmoid(F))``; then
    ``X += G Y`` and ``Y += G^T X``, both from the values before the update (a minibatch step).  Each row is
    read once per centre word instead of once per pair: level-3 work that stays in L1 cache.
    """
    W_in, W_out = weights
    keep, noise = tables
    window, negative, _ = params
    d = W_in.shape[1]
    buf = np.empty(_longest(sentence_ends, s0, s1), dtype=np.int32)
    ctx = np.empty(2 * window, dtype=np.int64)
    tgt = np.empty(negative + 1, dtype=np.int64)
    G = np.empty((2 * window, negative + 1), dtype=np.float32)
    dX = np.empty((2 * window, d), dtype=np.float32)
    state = np.uint64(seed)
    loss = 0.0
    examples = np.int64(0)
    seen = np.int64(0)
    kept = np.int64(0)
    for s in range(s0, s1):
        start, end = _sentence_bounds(sentence_ends, s)
        seen += end - start
        n, state = _subsample(ids, start, end, keep, buf, state)
        kept += n
        for i in range(n):
            state, r = _splitmix64(state)
            b = 1 + np.int64(r % np.uint64(window))
            centre = buf[i]
            m = 0
            for j in range(max(0, i - b), min(n, i + b + 1)):
                if j != i:
                    ctx[m] = buf[j]
                    m += 1
            if m == 0:
                continue
            tgt[0] = centre
            nt = 1
            for _k in range(negative):
                state, r = _splitmix64(state)
                t = _draw_noise(noise, r)
                if t != centre:
                    tgt[nt] = t
                    nt += 1
            # G = lr * (label - sigmoid(X Y^T)), and the loss
            for a in range(m):
                x = W_in[ctx[a]]
                for c in range(nt):
                    y = W_out[tgt[c]]
                    f = np.float32(0.0)
                    for q in range(d):
                        f += x[q] * y[q]
                    label = 1.0 if c == 0 else 0.0
                    sig, term = _logistic(np.float64(f), label)
                    loss += term
                    G[a, c] = np.float32(lr * (label - sig))
            # dX = G Y (from the old Y), then Y += G^T X (old X), then X += dX
            for a in range(m):
                for q in range(d):
                    dX[a, q] = 0.0
                for c in range(nt):
                    g = G[a, c]
                    y = W_out[tgt[c]]
                    for q in range(d):
                        dX[a, q] += g * y[q]
            for c in range(nt):
                y = W_out[tgt[c]]
                for a in range(m):
                    g = G[a, c]
                    x = W_in[ctx[a]]
                    for q in range(d):
                        y[q] += g * x[q]
            for a in range(m):
                x = W_in[ctx[a]]
                for q in range(d):
                    x[q] += dX[a, q]
            examples += m
    return loss, examples, seen, kept


@njit(**_JIT)
def train_chunk_cbow(weights, tables, ids, sentence_ends, s0, s1, params, lr, seed):
    """CBOW with negative sampling: the mean (or sum) ``h`` of the window's context input vectors predicts
    the centre word; the error is added to every context input vector (the C tool's choice)."""
    W_in, W_out = weights
    keep, noise = tables
    window, negative, cbow_mean = params
    d = W_in.shape[1]
    buf = np.empty(_longest(sentence_ends, s0, s1), dtype=np.int32)
    h = np.empty(d, dtype=np.float32)
    err = np.empty(d, dtype=np.float32)
    state = np.uint64(seed)
    loss = 0.0
    examples = np.int64(0)
    seen = np.int64(0)
    kept = np.int64(0)
    for s in range(s0, s1):
        start, end = _sentence_bounds(sentence_ends, s)
        seen += end - start
        n, state = _subsample(ids, start, end, keep, buf, state)
        kept += n
        for i in range(n):
            state, r = _splitmix64(state)
            b = 1 + np.int64(r % np.uint64(window))
            centre = buf[i]
            lo = max(0, i - b)
            hi = min(n, i + b + 1)
            m = hi - lo - 1
            if m == 0:
                continue
            h[:] = 0.0
            for j in range(lo, hi):
                if j != i:
                    x = W_in[buf[j]]
                    for q in range(d):
                        h[q] += x[q]
            if cbow_mean:
                inv = np.float32(1.0 / m)
                for q in range(d):
                    h[q] *= inv
            err[:] = 0.0
            loss += _sgns_update(h, W_out, centre, 1.0, lr, err)
            for _k in range(negative):
                state, r = _splitmix64(state)
                t = _draw_noise(noise, r)
                if t == centre:
                    continue
                loss += _sgns_update(h, W_out, t, 0.0, lr, err)
            for j in range(lo, hi):
                if j != i:
                    x = W_in[buf[j]]
                    for q in range(d):
                        x[q] += err[q]
            examples += 1
    return loss, examples, seen, kept


KERNELS = {
    ("sg", False): train_chunk_sg,
    ("sg", True): train_chunk_sg_hogbatch,
    ("cbow", False): train_chunk_cbow,
}
