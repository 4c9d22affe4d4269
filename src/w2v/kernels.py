"""Numba kernels: one call trains one chunk of sentences.  Pure functions over arrays.

Every kernel has the same arguments (grouped so that no signature grows long):

- ``weights = (W_in, W_out)``: float32, C-contiguous, updated in place (Hogwild: threads share them without
  locks); ``W_in`` [V, d]; ``W_out`` [V, d] for negative sampling and the softmax, [V - 1, d] (the inner
  nodes of the Huffman tree) for hierarchical softmax;
- ``tables``, read-only, the subsampling thresholds first: ``keep`` int64[V] (keep a word when a 32-bit
  uniform is below it, see :func:`w2v.sampling.keep_thresholds`), then what the loss needs
  (:func:`w2v.losses.kernel_tables`): negative sampling ``(keep, noise)``, ``noise`` uint64[V] the packed
  alias table of the noise distribution (:func:`w2v.sampling.alias_table`); hierarchical softmax
  ``(keep, offsets, paths)``, each word's path in the Huffman tree (:func:`w2v.losses.huffman_tree`); the
  softmax ``(keep,)``;
- ``ids`` int32[n] the encoded corpus and ``sentence_ends`` int64[s] its sentence end offsets; the chunk
  is sentences ``s0 .. s1-1``;
- ``params = (window, negative, cbow_mean)`` (``negative`` 0 unless the loss is negative sampling);
- ``lr`` the learning rate of this chunk (the schedule lives in :func:`w2v.train.learning_rate`);
- ``seed`` the chunk's own random stream (so the draws do not depend on which thread runs the chunk).

Each returns ``(loss_sum, examples, words_seen, words_kept)``: the loss summed (float64) over the chunk's
training examples, the number of examples (skip-gram: (context, centre) pairs; CBOW: windows), the
in-vocabulary tokens visited and the tokens kept by subsampling.  The loss of an example is, by loss:
negative sampling ``-log s(u_o.v) - sum_k log s(-u_k.v)``; hierarchical softmax the exact
``-log P(centre | v)`` of the tree (a sum of ``-log s(+-u_n.v)`` over the path's nodes); softmax the exact
cross-entropy ``logsumexp(W_out v) - u_o.v``.

The loop over sentences, subsampling and the counters is written once (:func:`_train_chunk`), and so is the
window draw (:func:`_window`); each kernel supplies the step that trains one sentence's kept words.  Order of
random draws, per sentence: one per token for subsampling (in order), then per kept centre word one for its
window, then (negative sampling only) one per negative.  ``tests/reference.py`` replays exactly this in
NumPy.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

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


@intrinsic
def prefetch_row(typingctx, matrix, row):
    """Hint the CPU to load row ``row`` of a C-contiguous 2-D array into the caches (llvm.prefetch, read,
    high locality), every 64-byte line of it."""
    if not (isinstance(matrix, types.Array) and matrix.ndim == 2 and isinstance(row, types.Integer)):
        return None
    sig = types.void(matrix, row)

    def codegen(context, builder, signature, args):
        ary_ty, row_ty = signature.args
        ary = context.make_array(ary_ty)(context, builder, args[0])

        def intp(value):
            return context.get_constant(types.intp, value)

        r = context.cast(builder, args[1], row_ty, types.intp)
        first = cgutils.get_item_pointer(context, builder, ary_ty, ary, [r, intp(0)], wraparound=False)
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        prefetch = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                                  "llvm.prefetch.p0")
        base = builder.bitcast(first, i8p)
        itemsize = context.get_abi_sizeof(context.get_data_type(ary_ty.dtype))
        row_bytes = builder.mul(cgutils.unpack_tuple(builder, ary.shape, 2)[1], intp(itemsize))
        read, keep, data_cache = ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)
        with cgutils.for_range_slice(builder, intp(0), row_bytes, intp(64)) as (offset, _):
            builder.call(prefetch, [builder.gep(base, [offset]), read, keep, data_cache])
        return context.get_dummy_value()

    return sig, codegen


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
def _logistic_step(f, label, lr):
    """The step of one binary logistic example with logit ``f`` (float32): ``(g, loss term)``, ``g = lr *
    (label - sigmoid(f))`` in float32."""
    sig, term = _logistic(np.float64(f), label)
    return np.float32(lr * (label - sig)), term


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
    """One binary logistic step for input vector ``v`` (float32[d]) and output row ``target``: a target or a
    noise word of negative sampling, or a node of a hierarchical-softmax path.

    ``g = lr * (label - sigmoid(u.v))``; ``err += g*u``; ``u += g*v`` (``v`` itself is updated by the
    caller with ``err`` once all targets are done, as in the C tool).  Returns this target's loss term.
    """
    d = v.shape[0]
    f = np.float32(0.0)
    for j in range(d):  # W_out indexed in 2-D, not through a row view: no reference count updated per target
        f += v[j] * W_out[target, j]
    g, loss = _logistic_step(f, label, lr)
    for j in range(d):
        err[j] += g * W_out[target, j]
        W_out[target, j] += g * v[j]
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


# -- the prologue every kernel shares ---------------------------------------------------------------------
@njit(inline="always", **_JIT)
def _train_chunk(step, scratch, weights, tables, ids, sentence_ends, s0, s1, params, lr, seed):
    """The loop every kernel shares, written once: over sentences ``s0 .. s1-1``, count the tokens, subsample
    (one draw per token, into ``buf``), count the kept ones, and train the sentence's kept tokens ``buf[:n]``
    with ``step(weights, tables, params, scratch, buf, n, lr, state) -> (loss, examples, state)``.  The step
    draws each centre word's window with :func:`_window`, in order, before its other draws.

    This loop is inlined into each kernel, where ``step`` is a constant: a module-level ``@njit`` function,
    compiled and cached once, called once per sentence.  Measured against the hand-written loops
    (benchmarks/NOTES.md, section 12): a step per centre word, inlined, lost 4-10% (each call unpacked the
    ``weights``/``tables``/``scratch`` tuples: atomic reference-count updates per word that Numba did not
    prune); a step per sentence, called, is as fast for HogBatch and faster for the others (LLVM optimises
    it on its own; rows indexed in 2-D, not through views, gave CBOW +25%).  A loop that is not inlined
    takes the step as a first-class function argument, which Numba cannot cache: every process would compile
    the kernels again.  ``tables[0]`` is always the subsampling thresholds.
    """
    keep = tables[0]
    buf = np.empty(_longest(sentence_ends, s0, s1), dtype=np.int32)
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
        sentence_loss, sentence_examples, state = step(weights, tables, params, scratch, buf, n, lr, state)
        loss += sentence_loss
        examples += sentence_examples
    return loss, examples, seen, kept


@njit(inline="always", **_JIT)
def _window(state, window, i, n):
    """The context of centre ``i`` among ``n`` kept tokens: ``[lo, hi)`` but ``i``, with the effective window
    drawn uniformly from 1..window (one draw; Mikolov 2013a).  Returns ``(lo, hi, state)``."""
    state, r = _splitmix64(state)
    b = 1 + np.int64(r % np.uint64(window))
    return max(0, i - b), min(n, i + b + 1), state


# -- negative sampling ---------------------------------------------------------------------------------------
@njit(**_JIT)
def _sg_ns_step(weights, tables, params, scratch, buf, n, lr, state):
    """Skip-gram over one sentence: each context word's input vector predicts the centre word against its own
    ``negative`` noise words (the C tool's order)."""
    W_in, W_out = weights
    noise = tables[1]
    window, negative = params[0], params[1]
    err, drawn = scratch
    d = W_in.shape[1]
    loss = 0.0
    examples = np.int64(0)
    for i in range(n):
        lo, hi, state = _window(state, window, i, n)
        centre = buf[i]
        for j in range(lo, hi):
            if j == i:
                continue
            for k in range(negative):  # drawn first (the same draws, in the same order), their rows fetched
                state, r = _splitmix64(state)
                drawn[k] = _draw_noise(noise, r)
                prefetch_row(W_out, drawn[k])
            v = W_in[buf[j]]
            err[:] = 0.0
            loss += _sgns_update(v, W_out, centre, 1.0, lr, err)
            for k in range(negative):
                t = drawn[k]
                if t == centre:  # the true target is no noise word (C tool)
                    continue
                loss += _sgns_update(v, W_out, t, 0.0, lr, err)
            for x in range(d):
                v[x] += err[x]
            examples += 1
    return loss, examples, state


@njit(**_JIT)
def train_chunk_sg(weights, tables, ids, sentence_ends, s0, s1, params, lr, seed):
    """Skip-gram with negative sampling over sentences s0..s1-1 (Mikolov 2013b; the C tool's order).

    For each centre word and each context word in its (randomly shrunk) window, the context word's input
    vector predicts the centre word against ``negative`` noise words.
    """
    scratch = (np.empty(weights[0].shape[1], dtype=np.float32),  # err: the input vector's update
               np.empty(max(1, params[1]), dtype=np.int64))  # the pair's noise words
    return _train_chunk(_sg_ns_step, scratch, weights, tables, ids, sentence_ends, s0, s1, params, lr, seed)


@njit(inline="always", **_JIT)
def _add_rows(dst, i, src, r0, g0, r1, g1):
    """``dst[i] += g0 src[r0] + g1 src[r1]``: two products, one store (HogBatch's ``dX`` and ``Y`` updates)."""
    for q in range(dst.shape[1]):
        dst[i, q] += g0 * src[r0, q] + g1 * src[r1, q]


@njit(inline="always", **_JIT)
def _add_row(dst, i, src, r0, g0):
    """``dst[i] += g0 src[r0]``."""
    for q in range(dst.shape[1]):
        dst[i, q] += g0 * src[r0, q]


HOGBATCH_GROUP = 10
"""Context rows whose updates of the shared output rows (the centre's and the noise words') HogBatch sums at
once: twice the default window, so that a window of 5 is one group.  A wider window is trained in groups of this
many, each from the weights the group before left: summed over 600 context rows at once (window 300), the
output rows' step is 600 pairs' and the training diverges."""


@njit(**_JIT)
def _sg_hogbatch_step(weights, tables, params, scratch, buf, n, lr, state):
    """Skip-gram HogBatch over one sentence: see :func:`train_chunk_sg_hogbatch`."""
    W_in, W_out = weights
    noise = tables[1]
    window, negative = params[0], params[1]
    ctx, tgt, G, dX = scratch
    d = W_in.shape[1]
    loss = 0.0
    examples = np.int64(0)
    for i in range(n):
        lo, hi, state = _window(state, window, i, n)
        centre = buf[i]
        m = 0
        for j in range(lo, hi):
            if j != i:
                ctx[m] = buf[j]
                m += 1
        if m == 0:
            continue
        if i + 1 < n:  # the next window's new rows: its centre's output row, the context row entering it
            prefetch_row(W_out, buf[i + 1])
            if i + 1 + window < n:
                prefetch_row(W_in, buf[i + 1 + window])
        tgt[0] = centre
        nt = 1
        for _k in range(negative):
            state, r = _splitmix64(state)
            t = _draw_noise(noise, r)
            if t != centre:
                prefetch_row(W_out, t)  # a random row: its loads start while the others are computed
                tgt[nt] = t
                nt += 1
        # in groups of at most HOGBATCH_GROUP context rows, each from the weights the group before left
        for first in range(0, m, HOGBATCH_GROUP):
            last = min(m, first + HOGBATCH_GROUP)
            # G = lr * (label - sigmoid(X Y^T)), and the loss; two targets at a time share the loads of x
            for a in range(first, last):
                xa = ctx[a]
                c = 0
                while c + 1 < nt:
                    t0, t1 = tgt[c], tgt[c + 1]
                    f0 = np.float32(0.0)
                    f1 = np.float32(0.0)
                    for q in range(d):
                        xq = W_in[xa, q]
                        f0 += xq * W_out[t0, q]
                        f1 += xq * W_out[t1, q]
                    G[a, c], term = _logistic_step(f0, 1.0 if c == 0 else 0.0, lr)
                    loss += term
                    G[a, c + 1], term = _logistic_step(f1, 0.0, lr)
                    loss += term
                    c += 2
                if c < nt:
                    t0 = tgt[c]
                    f0 = np.float32(0.0)
                    for q in range(d):
                        f0 += W_in[xa, q] * W_out[t0, q]
                    G[a, c], term = _logistic_step(f0, 1.0 if c == 0 else 0.0, lr)
                    loss += term
            # dX = G Y (from the old Y), then Y += G^T X (old X), then X += dX: several rows a loop, one store
            # (dX set from its first two products, not zeroed; each output row takes four context rows a loop)
            for a in range(first, last):
                if nt >= 2:
                    g0, g1 = G[a, 0], G[a, 1]
                    t0, t1 = tgt[0], tgt[1]
                    for q in range(d):
                        dX[a, q] = g0 * W_out[t0, q] + g1 * W_out[t1, q]
                else:
                    g0, t0 = G[a, 0], tgt[0]
                    for q in range(d):
                        dX[a, q] = g0 * W_out[t0, q]
                c = 2
                while c + 1 < nt:
                    _add_rows(dX, a, W_out, tgt[c], G[a, c], tgt[c + 1], G[a, c + 1])
                    c += 2
                if c < nt:
                    _add_row(dX, a, W_out, tgt[c], G[a, c])
            for c in range(nt):
                t0 = tgt[c]
                a = first
                while a + 3 < last:
                    g0, g1, g2, g3 = G[a, c], G[a + 1, c], G[a + 2, c], G[a + 3, c]
                    x0, x1, x2, x3 = ctx[a], ctx[a + 1], ctx[a + 2], ctx[a + 3]
                    for q in range(d):
                        W_out[t0, q] += ((g0 * W_in[x0, q] + g1 * W_in[x1, q])
                                         + (g2 * W_in[x2, q] + g3 * W_in[x3, q]))
                    a += 4
                while a + 1 < last:
                    _add_rows(W_out, t0, W_in, ctx[a], G[a, c], ctx[a + 1], G[a + 1, c])
                    a += 2
                if a < last:
                    _add_row(W_out, t0, W_in, ctx[a], G[a, c])
            for a in range(first, last):
                xa = ctx[a]
                for q in range(d):
                    W_in[xa, q] += dX[a, q]
        examples += m
    return loss, examples, state


@njit(**_JIT)
def train_chunk_sg_hogbatch(weights, tables, ids, sentence_ends, s0, s1, params, lr, seed):
    """Skip-gram where the window's context words share one draw of negatives (HogBatch, Ji et al. 2016).

    For one centre word, the m context rows ``X`` (m, d) and the 1 + k target rows ``Y`` (centre, then the
    noise words) give the logits ``F = X Y^T`` (m, 1+k) and ``G = lr * (labels - sigmoid(F))``; then
    ``X += G Y`` and ``Y += G^T X``, both from the values before the update (a minibatch step), for at most
    :data:`HOGBATCH_GROUP` context rows at a time.  Each row is read once per centre word (or group) instead of
    once per pair: level-3 work that stays in L1 cache.
    """
    window, negative = params[0], params[1]
    d = weights[0].shape[1]
    scratch = (np.empty(2 * window, dtype=np.int64),                  # ctx: the context words
               np.empty(negative + 1, dtype=np.int64),                # tgt: the centre, then the noise words
               np.empty((2 * window, negative + 1), dtype=np.float32),  # G (m, 1+k)
               np.empty((2 * window, d), dtype=np.float32))           # dX (m, d)
    return _train_chunk(_sg_hogbatch_step, scratch, weights, tables, ids, sentence_ends, s0, s1, params, lr,
                        seed)


@njit(inline="always", **_JIT)
def _context_sum(W_in, buf, i, lo, hi, cbow_mean, h):
    """``h`` = the sum of the context input vectors ``buf[lo:hi]`` (without ``i``), divided by their number
    when ``cbow_mean``."""
    d = W_in.shape[1]
    h[:] = 0.0
    for j in range(lo, hi):
        if j != i:
            row = buf[j]  # indexed in 2-D, not through a row view: no reference count to update per word
            for q in range(d):
                h[q] += W_in[row, q]
    if cbow_mean:
        inv = np.float32(1.0 / (hi - lo - 1))
        for q in range(d):
            h[q] *= inv


@njit(inline="always", **_JIT)
def _add_to_context(W_in, buf, i, lo, hi, err):
    """Add ``err`` to every context input vector ``buf[lo:hi]`` but ``i`` (the C tool's CBOW update)."""
    d = W_in.shape[1]
    for j in range(lo, hi):
        if j != i:
            row = buf[j]
            for q in range(d):
                W_in[row, q] += err[q]


@njit(**_JIT)
def _cbow_ns_step(weights, tables, params, scratch, buf, n, lr, state):
    """CBOW over one sentence: each window's mean (or sum) predicts its centre word against ``negative`` noise
    words."""
    W_in, W_out = weights
    noise = tables[1]
    window, negative, cbow_mean = params
    h, err, drawn = scratch
    loss = 0.0
    examples = np.int64(0)
    for i in range(n):
        lo, hi, state = _window(state, window, i, n)
        if hi - lo - 1 == 0:
            continue
        centre = buf[i]
        for k in range(negative):  # drawn first (the same draws, in the same order), their rows fetched
            state, r = _splitmix64(state)
            drawn[k] = _draw_noise(noise, r)
            prefetch_row(W_out, drawn[k])
        if i + 1 < n:  # the next window's new rows: its centre's output row, the context row entering it
            prefetch_row(W_out, buf[i + 1])
            if i + 1 + window < n:
                prefetch_row(W_in, buf[i + 1 + window])
        _context_sum(W_in, buf, i, lo, hi, cbow_mean, h)
        err[:] = 0.0
        loss += _sgns_update(h, W_out, centre, 1.0, lr, err)
        for k in range(negative):
            t = drawn[k]
            if t == centre:
                continue
            loss += _sgns_update(h, W_out, t, 0.0, lr, err)
        _add_to_context(W_in, buf, i, lo, hi, err)
        examples += 1
    return loss, examples, state


@njit(**_JIT)
def train_chunk_cbow(weights, tables, ids, sentence_ends, s0, s1, params, lr, seed):
    """CBOW with negative sampling: the mean (or sum) ``h`` of the window's context input vectors predicts
    the centre word; the error is added to every context input vector (the C tool's choice)."""
    d = weights[0].shape[1]
    scratch = (np.empty(d, dtype=np.float32), np.empty(d, dtype=np.float32),  # h, err, the noise words
               np.empty(max(1, params[1]), dtype=np.int64))
    return _train_chunk(_cbow_ns_step, scratch, weights, tables, ids, sentence_ends, s0, s1, params, lr, seed)


# -- hierarchical softmax --------------------------------------------------------------------------------------
@njit(inline="always", **_JIT)
def _hs_update(v, W_out, paths, p0, p1, lr, err):
    """The hierarchical-softmax step for input vector ``v`` (float32[d]) and a word whose path from the root is
    ``paths[p0:p1]`` (see :func:`w2v.losses.huffman_tree`): one binary logistic step per inner node, the
    label being ``1 - code`` (the C tool's ``g = (1 - code - f) * alpha``).  The terms sum to the exact
    ``-log P(word | v)`` of the tree.  Returns that loss."""
    loss = 0.0
    for p in range(p0, p1):
        node = np.int64(paths[p] >> 1)     # packed: inner node (row of W_out) << 1 | code (the branch taken)
        label = 1.0 - np.float64(paths[p] & 1)
        loss += _sgns_update(v, W_out, node, label, lr, err)
    return loss


@njit(**_JIT)
def _sg_hs_step(weights, tables, params, scratch, buf, n, lr, state):
    """Skip-gram over one sentence: each context word's input vector predicts the centre word's path."""
    W_in, W_out = weights
    offsets, paths = tables[1], tables[2]
    window = params[0]
    (err,) = scratch
    d = W_in.shape[1]
    loss = 0.0
    examples = np.int64(0)
    for i in range(n):
        lo, hi, state = _window(state, window, i, n)
        centre = buf[i]
        p0, p1 = offsets[centre], offsets[centre + 1]
        for j in range(lo, hi):
            if j == i:
                continue
            v = W_in[buf[j]]
            err[:] = 0.0
            loss += _hs_update(v, W_out, paths, p0, p1, lr, err)
            for x in range(d):
                v[x] += err[x]
            examples += 1
    return loss, examples, state


@njit(**_JIT)
def train_chunk_sg_hs(weights, tables, ids, sentence_ends, s0, s1, params, lr, seed):
    """Skip-gram with hierarchical softmax (Mikolov 2013a/b; the C tool's ``-hs 1 -negative 0``).

    ``tables = (keep, offsets, paths)`` (:func:`w2v.losses.huffman_tree`); ``W_out`` has ``V - 1`` rows, one
    per inner node of the Huffman tree.  No random draws besides subsampling and the window.
    """
    scratch = (np.empty(weights[0].shape[1], dtype=np.float32),)  # err
    return _train_chunk(_sg_hs_step, scratch, weights, tables, ids, sentence_ends, s0, s1, params, lr, seed)


@njit(**_JIT)
def _cbow_hs_step(weights, tables, params, scratch, buf, n, lr, state):
    """CBOW over one sentence: each window's mean (or sum) predicts its centre word's path."""
    W_in, W_out = weights
    offsets, paths = tables[1], tables[2]
    window, cbow_mean = params[0], params[2]
    h, err = scratch
    loss = 0.0
    examples = np.int64(0)
    for i in range(n):
        lo, hi, state = _window(state, window, i, n)
        if hi - lo - 1 == 0:
            continue
        centre = buf[i]
        _context_sum(W_in, buf, i, lo, hi, cbow_mean, h)
        err[:] = 0.0
        loss += _hs_update(h, W_out, paths, offsets[centre], offsets[centre + 1], lr, err)
        _add_to_context(W_in, buf, i, lo, hi, err)
        examples += 1
    return loss, examples, state


@njit(**_JIT)
def train_chunk_cbow_hs(weights, tables, ids, sentence_ends, s0, s1, params, lr, seed):
    """CBOW with hierarchical softmax; ``tables`` and ``W_out`` as in :func:`train_chunk_sg_hs`."""
    d = weights[0].shape[1]
    scratch = (np.empty(d, dtype=np.float32), np.empty(d, dtype=np.float32))  # h, err
    return _train_chunk(_cbow_hs_step, scratch, weights, tables, ids, sentence_ends, s0, s1, params, lr, seed)


# -- the full softmax ------------------------------------------------------------------------------------------
@njit(inline="always", **_JIT)
def _softmax_update(v, W_out, target, lr, err, z):
    """One step of the exact softmax over all ``V`` output rows for input vector ``v`` (float32[d]).

    ``z = W_out v`` (float64[V] scratch), ``p = softmax(z)``; every row moves: ``u_j += g_j v`` and
    ``err += g_j u_j`` with ``g_j = lr * ([j == target] - p_j)``, from the old rows.  Two passes over the
    whole output matrix per example: the cost negative sampling exists to avoid.  Returns the loss
    ``-log p_target = logsumexp(z) - z_target``, computed stably (shifted by the largest logit).
    """
    V = W_out.shape[0]
    d = v.shape[0]
    zmax = -np.inf
    for j in range(V):
        u = W_out[j]
        f = np.float32(0.0)
        for q in range(d):
            f += v[q] * u[q]
        z[j] = f
        zmax = max(zmax, z[j])
    z_target = z[target]
    total = 0.0
    for j in range(V):
        z[j] = math.exp(z[j] - zmax)
        total += z[j]
    inv = 1.0 / total
    for j in range(V):
        p = z[j] * inv
        g = np.float32(lr * ((1.0 if j == target else 0.0) - p))
        u = W_out[j]
        for q in range(d):
            err[q] += g * u[q]
            u[q] += g * v[q]
    return math.log(total) + zmax - z_target


@njit(**_JIT)
def _sg_softmax_step(weights, tables, params, scratch, buf, n, lr, state):
    """Skip-gram over one sentence: each context word's input vector predicts the centre word over the whole
    vocabulary."""
    W_in, W_out = weights
    window = params[0]
    err, z = scratch
    d = W_in.shape[1]
    loss = 0.0
    examples = np.int64(0)
    for i in range(n):
        lo, hi, state = _window(state, window, i, n)
        centre = buf[i]
        for j in range(lo, hi):
            if j == i:
                continue
            v = W_in[buf[j]]
            err[:] = 0.0
            loss += _softmax_update(v, W_out, centre, lr, err, z)
            for x in range(d):
                v[x] += err[x]
            examples += 1
    return loss, examples, state


@njit(**_JIT)
def train_chunk_sg_softmax(weights, tables, ids, sentence_ends, s0, s1, params, lr, seed):
    """Skip-gram with the full softmax: ``tables = (keep,)``, ``W_out`` float32[V, d]; cost O(V d) a pair."""
    W_in, W_out = weights
    scratch = (np.empty(W_in.shape[1], dtype=np.float32),     # err
               np.empty(W_out.shape[0], dtype=np.float64))    # z: the logits, then exp(z - max)
    return _train_chunk(_sg_softmax_step, scratch, weights, tables, ids, sentence_ends, s0, s1, params, lr,
                        seed)


@njit(**_JIT)
def _cbow_softmax_step(weights, tables, params, scratch, buf, n, lr, state):
    """CBOW over one sentence: each window's mean (or sum) predicts its centre word over the whole
    vocabulary."""
    W_in, W_out = weights
    window, cbow_mean = params[0], params[2]
    h, err, z = scratch
    loss = 0.0
    examples = np.int64(0)
    for i in range(n):
        lo, hi, state = _window(state, window, i, n)
        if hi - lo - 1 == 0:
            continue
        _context_sum(W_in, buf, i, lo, hi, cbow_mean, h)
        err[:] = 0.0
        loss += _softmax_update(h, W_out, buf[i], lr, err, z)
        _add_to_context(W_in, buf, i, lo, hi, err)
        examples += 1
    return loss, examples, state


@njit(**_JIT)
def train_chunk_cbow_softmax(weights, tables, ids, sentence_ends, s0, s1, params, lr, seed):
    """CBOW with the full softmax: ``tables = (keep,)``, ``W_out`` float32[V, d]; cost O(V d) a window."""
    W_in, W_out = weights
    d = W_in.shape[1]
    scratch = (np.empty(d, dtype=np.float32), np.empty(d, dtype=np.float32),  # h, err
               np.empty(W_out.shape[0], dtype=np.float64))                   # z
    return _train_chunk(_cbow_softmax_step, scratch, weights, tables, ids, sentence_ends, s0, s1, params, lr,
                        seed)


# (model, loss, hogbatch) -> kernel: the one place a training configuration picks its kernel
KERNELS = {
    ("sg", "ns", False): train_chunk_sg,
    ("sg", "ns", True): train_chunk_sg_hogbatch,
    ("cbow", "ns", False): train_chunk_cbow,
    ("sg", "hs", False): train_chunk_sg_hs,
    ("cbow", "hs", False): train_chunk_cbow_hs,
    ("sg", "softmax", False): train_chunk_sg_softmax,
    ("cbow", "softmax", False): train_chunk_cbow_softmax,
}
