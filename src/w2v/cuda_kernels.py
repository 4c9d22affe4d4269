"""The GPU's Hogwild kernel (numba-cuda): word2vec's sequential updates, thousands of corpus segments at once.

The torch engine's minibatch steps (:mod:`w2v.torch_engine`) compute every update of a step from the same
weights; on a GPU each step is a hundred small operations, and the host cannot launch them fast enough
(benchmarks/NOTES.md, section 13: an H100 busy 6% of the time).  This kernel does what the CPU kernels do,
on the GPU: one block of 32 threads (a warp) walks its own segment of the kept tokens in order and applies
each pair's update at once, as the C tool does (``g = lr * (label - s(u.v))``; the output row moves at
once, the input row after all of its targets); the warp's lanes share the vector's components and add up
the dot products by warp shuffles.  Thousands of segments run at once and write the shared weights without
locks: Hogwild, as the CPU threads do, with more writers.

Everything random is drawn by the torch engine before the launch (:meth:`TorchEngine._draws`): which tokens
are kept, each centre's window and noise words, from the same counter-based streams as the steps (one
definition, ``w2v.torch_engine.random32``).  The kernel only trains.

Modes: 0 skip-gram, each (context, centre) pair its own ``negative`` noise words (``noise[i, a * negative +
j]``, ``a`` the context's offset slot ``0 .. 2W-1``); 1 skip-gram sharing the centre's noise words across its
window (``noise[i, j]``, HogBatch's draws); 2 CBOW (mean or sum of the context rows; the error added to
every context row, the C tool's choice).

How the shared rows are read and written (``access``, :data:`ACCESS`): 0 as plain loads and stores, Hogwild
as the CPU threads do it; 1 with the updates as atomic adds, which land in the L2 cache, the GPU's point of
coherence, so that no concurrent update of a frequent row is lost (a plain ``w += u`` of two warps at once
keeps one of them); 2 with atomic adds and the rows read from L2 too (``ld.global.cg``, where numba-cuda has
``cuda.ldcg``), past each multiprocessor's L1 cache, which other multiprocessors' writes do not update.
Measured on an H100 (``benchmarks/gpu.py --access``; benchmarks/NOTES.md, section 21): plain stores lose
enough updates of the frequent rows to cost skip-gram 17 points of analogy at dim 100 (CBOW 9); atomic adds
learn as the CPU does, and the reads past L1 add nothing but time, so the torch engine's default is 1.

A segment with one writer (one block) is exactly the sequential reference of ``tests/reference.py``
(``reference_hogwild``), in every access setting; the tests run the kernel in Numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``; with the shared-memory sums, since it has no warp shuffles), and
``benchmarks/gpu.py`` runs it on a GPU against the same reference at every width it benchmarks.
"""

from __future__ import annotations

import math

import numpy as np

if not hasattr(np, "row_stack"):  # numba-cuda (0.2x) registers np.row_stack, which NumPy 2.5 removed
    np.row_stack = np.vstack

from numba import config as numba_config, cuda, float32, float64, int64  # noqa: E402

LANES = 32
"""Threads per block: one warp shares each vector's components."""

MAX_PER_LANE = 32
"""Components per lane a thread holds at most (three arrays of this many floats: the input, its update and a
target row), so dimensions up to ``LANES * MAX_PER_LANE`` = 1024.  In the kernel compiled for a width
(:data:`SPECIALISE`) the arrays are as long as the width needs and live in registers (ptxas, sm_90: 64 a
thread at dim 100, 102 at dim 300, 171 at dim 512; past 255, at dim 768 and over, some spill to local
memory); the generic kernel's are :data:`GENERIC_PER_LANE` long, in local memory."""

GENERIC_PER_LANE = 16
"""Components per lane the generic kernel holds: dimensions up to 512 (a 192-byte stack frame)."""

MAX_DIM = LANES * MAX_PER_LANE  # w2v.torch_engine.MAX_HOGWILD_DIM

MODES = {"sg": 0, "sg-hogbatch": 1, "cbow": 2}

ACCESS = {"plain": 0, "atomic": 1, "coherent": 2}
"""How the kernel reads and writes the shared rows (see the module docstring)."""

SIGNATURE = ("void(float32[:, ::1], float32[:, ::1], int32[::1], int64[::1], float32[::1], int32[::1], "
             "int32[:, ::1], int64, int64, int64, int64, int64, int64, int64, float64[::1], int64[::1])")
"""The types of the kernel's arguments in every launch (the torch engine's arrays, :func:`launch`'s
scalars), for compiling it ahead of time without a GPU (``benchmarks/gpu_ptx.py``); a test checks the
engine's launches against it."""


@cuda.jit(device=True)
def _load_plain(w, row, j, access):
    """``w[row, j]``."""
    return w[row, j]


@cuda.jit(device=True)
def _load_l2(w, row, j, access):
    """``w[row, j]``; read from L2, past this multiprocessor's L1 cache, when ``access`` is 2."""
    if access == 2:  # ldcg takes an index of one integer type: rows come as int32, columns as int64
        return cuda.ldcg(w, (int64(row), int64(j)))
    return w[row, j]


def _l2_loads_compile() -> bool:
    """Whether :func:`_load_l2` compiles here (numba-cuda's ``cuda.ldcg``, on a GPU); where it does not (numba's
    own numba.cuda, its simulator, an older numba-cuda) every load is a plain one."""
    if not hasattr(cuda, "ldcg") or numba_config.ENABLE_CUDASIM:
        return False
    try:
        def probe(w, rows, out, access):  # the kernel's index types: an int32 row, an int64 column
            out[0] = _load_l2(w, rows[0], int64(cuda.threadIdx.x) + 32 * access, access)

        cuda.jit("void(float32[:, ::1], int32[::1], float32[::1], int64)")(probe)
        return True
    except Exception:  # cannot compile it: no GPU to compile for, or no cache hints in this numba-cuda
        return False


_L2_LOADS = _l2_loads_compile()
"""Whether the rows can be read past the L1 cache (``access`` 2); when not, access 2 reads them as 1 does."""

_load = _load_l2 if _L2_LOADS else _load_plain


@cuda.jit(device=True)
def _add(w, row, j, value, access):
    """``w[row, j] += value``: a plain load and store (access 0), or an atomic add (1, 2)."""
    if access == 0:
        w[row, j] += value
    else:
        cuda.atomic.add(w, (row, j), value)


SPECIALISE = True
"""Compile a kernel for each number of components a lane holds (``ceil(d / 32)``: 4 at dim 100, 10 at dim 300),
so that the loops over a lane's components have a bound known at compile time: unrolled, their loads of a
row in flight together rather than one after another, the arrays in registers (benchmarks/NOTES.md, section
21).  False: one kernel for every dimension up to 512, the bound read at run time (the kernel of sections
13-19, but for reading each target row once)."""

SHUFFLE = True
"""Add a dot product's lanes up with warp shuffles (five ``shfl.xor``, every lane gets the sum) rather than
through shared memory with a barrier a step; the same sums, bit for bit.  Numba's CUDA simulator has no warp
shuffles: there the shared-memory sum runs whatever this says."""

_FULL_WARP = 0xFFFFFFFF


@cuda.jit(device=True)
def _block_sum(red, lane, value):
    """The sum over the block's lanes of ``value`` (every lane gets it), through shared memory."""
    red[lane] = value
    cuda.syncthreads()
    step = LANES // 2
    while step > 0:
        if lane < step:
            red[lane] += red[lane + step]
        cuda.syncthreads()
        step //= 2
    total = red[0]
    cuda.syncthreads()
    return total


@cuda.jit(device=True)
def _warp_sum(value):
    """The sum over the warp's lanes of ``value`` (every lane gets it), by butterfly shuffles: lane 0 adds in
    the order of :func:`_block_sum`'s tree, and every lane gets lane 0's sum (each step adds the same two
    numbers on both lanes of a pair), so the two agree to the bit."""
    value += cuda.shfl_xor_sync(_FULL_WARP, value, 16)
    value += cuda.shfl_xor_sync(_FULL_WARP, value, 8)
    value += cuda.shfl_xor_sync(_FULL_WARP, value, 4)
    value += cuda.shfl_xor_sync(_FULL_WARP, value, 2)
    value += cuda.shfl_xor_sync(_FULL_WARP, value, 1)
    return value


@cuda.jit(device=True)
def _in_window(o, p, n, sentence, here):
    """Whether the token ``p`` = ``i + o`` of the call is a context of the centre ``i``: not the centre itself,
    inside the call's tokens, in the centre's sentence ``here``."""
    return o != 0 and 0 <= p < n and sentence[p] == here


@cuda.jit(device=True)
def _target(x, err, y, w_out, t, label, rate, lane, per_lane, d, red, access, shuffle):
    """One binary logistic step of input ``x`` (this lane's components) against output row ``t``: the row,
    read once into ``y``, moves at once; ``err`` gathers the input's update.  Returns the pair's loss term."""
    part = float32(0.0)
    for q in range(per_lane):
        j = lane + LANES * q
        if j < d:
            y[q] = _load(w_out, t, j, access)
            part += x[q] * y[q]
    f = _warp_sum(part) if shuffle else _block_sum(red, lane, part)
    s = 1.0 / (1.0 + math.exp(-f))
    g = float32(rate * (label - s))
    for q in range(per_lane):
        j = lane + LANES * q
        if j < d:
            err[q] += g * y[q]
            if access == 0:
                w_out[t, j] = y[q] + g * x[q]
            else:
                cuda.atomic.add(w_out, (t, j), g * x[q])
    z = -f if label > 0.5 else f  # the loss: softplus(z) = -log s(-z)
    return float64(max(z, 0.0) + math.log1p(math.exp(-abs(z))))


def _build(fixed_per_lane: int, shuffle: bool):
    """The kernel for ``fixed_per_lane`` components a lane (0: any, from the rows' width at run time), its
    dot products summed by warp shuffles or through shared memory.  Both are constants of the compiled code."""
    size = fixed_per_lane if fixed_per_lane > 0 else GENERIC_PER_LANE  # the lane's arrays

    @cuda.jit
    def hogwild(w_in, w_out, word, sentence, lr, window_of, noise, n, segment, mode, window, negative, cbow_mean,
                access, loss_out, examples_out):
        """Train the kept tokens ``word[0:n]`` (their sentence, learning rate, window and noise words beside
        them), block ``b`` the tokens ``b * segment ..``; writes each block's loss sum and example count."""
        block = cuda.blockIdx.x
        lane = cuda.threadIdx.x
        red = cuda.shared.array(LANES, float32)
        x = cuda.local.array(size, float32)
        err = cuda.local.array(size, float32)
        y = cuda.local.array(size, float32)
        d = w_in.shape[1]
        per_lane = fixed_per_lane if fixed_per_lane > 0 else (d + LANES - 1) // LANES
        start = block * segment
        end = min(n, start + segment)
        loss = float64(0.0)
        examples = 0
        for i in range(start, end):
            centre = word[i]
            here = sentence[i]
            b = window_of[i]
            rate = lr[i]
            if mode == 2:  # CBOW
                for q in range(per_lane):
                    x[q] = 0.0
                    err[q] = 0.0
                m = 0
                for o in range(-b, b + 1):
                    p = i + o
                    if not _in_window(o, p, n, sentence, here):
                        continue
                    c = word[p]
                    for q in range(per_lane):
                        j = lane + LANES * q
                        if j < d:
                            x[q] += _load(w_in, c, j, access)
                    m += 1
                if m == 0:
                    continue
                if cbow_mean:
                    for q in range(per_lane):
                        x[q] /= m
                loss += _target(x, err, y, w_out, centre, 1.0, rate, lane, per_lane, d, red, access, shuffle)
                for k in range(negative):
                    t = noise[i, k]
                    if t != centre:
                        loss += _target(x, err, y, w_out, t, 0.0, rate, lane, per_lane, d, red, access, shuffle)
                for o in range(-b, b + 1):
                    p = i + o
                    if not _in_window(o, p, n, sentence, here):
                        continue
                    c = word[p]
                    for q in range(per_lane):
                        j = lane + LANES * q
                        if j < d:
                            _add(w_in, c, j, err[q], access)
                examples += 1
                continue
            for o in range(-b, b + 1):  # skip-gram: each context word's row against the centre and the noise
                p = i + o
                if not _in_window(o, p, n, sentence, here):
                    continue
                c = word[p]
                slot = o + window if o < 0 else o + window - 1
                for q in range(per_lane):
                    j = lane + LANES * q
                    x[q] = _load(w_in, c, j, access) if j < d else 0.0
                    err[q] = 0.0
                loss += _target(x, err, y, w_out, centre, 1.0, rate, lane, per_lane, d, red, access, shuffle)
                first = slot * negative if mode == 0 else 0
                for k in range(negative):
                    t = noise[i, first + k]
                    if t != centre:
                        loss += _target(x, err, y, w_out, t, 0.0, rate, lane, per_lane, d, red, access, shuffle)
                for q in range(per_lane):
                    j = lane + LANES * q
                    if j < d:
                        _add(w_in, c, j, err[q], access)
                examples += 1
        if lane == 0:
            loss_out[block] = loss
            examples_out[block] = examples

    return hogwild


_SHUFFLES = hasattr(cuda, "shfl_xor_sync") and not numba_config.ENABLE_CUDASIM
_KERNELS: dict = {}


def kernel(d: int):
    """The compiled :func:`_build` kernel for rows of ``d`` components, as :data:`SPECIALISE` and
    :data:`SHUFFLE` say (compiled at its first launch, kept for the next)."""
    if d > (MAX_DIM if SPECIALISE else LANES * GENERIC_PER_LANE):
        raise ValueError(f"the hogwild kernel{'' if SPECIALISE else ' (generic)'} holds at most "
                         f"{MAX_DIM if SPECIALISE else LANES * GENERIC_PER_LANE} dimensions, not {d}")
    key = (-(-d // LANES) if SPECIALISE else 0, SHUFFLE and _SHUFFLES)
    if key not in _KERNELS:
        _KERNELS[key] = _build(*key)
    return _KERNELS[key]


def prepare(d: int) -> bool:
    """Compile the kernel for rows of ``d`` components now, for the launches' types (:data:`SIGNATURE`), so
    that the first pass's clock does not count it (2.0 s at dim 100 on an H100); True if it compiled.  Nothing to
    compile in the simulator; where this fails, the first launch compiles it (and says why it fails)."""
    if numba_config.ENABLE_CUDASIM:
        return False
    built = kernel(d)  # a width the build cannot hold: ValueError, at once
    try:
        built.compile(SIGNATURE)
        return True
    except Exception:  # noqa: BLE001 - the launch compiles it again and raises what is wrong
        return False


def available() -> bool:
    """Whether the kernel can run here: a CUDA GPU that numba-cuda sees (or its simulator)."""
    try:
        return bool(cuda.is_available())
    except Exception:  # a driver numba-cuda cannot use
        return False


def launch(w_in, w_out, word, sentence, lr, window_of, noise, n: int, segment: int, mode: int, window: int,
           negative: int, cbow_mean: bool, loss_out, examples_out, access: int = 0) -> None:
    """Run the kernel for the rows' width (:func:`kernel`) over ``ceil(n / segment)`` blocks (arrays: device
    arrays, torch CUDA tensors, or NumPy arrays in the simulator); ``loss_out`` and ``examples_out`` hold at
    least that many blocks; ``access`` one of :data:`ACCESS`'s values."""
    blocks = (n + segment - 1) // segment
    if blocks == 0:
        return
    kernel(w_in.shape[1])[blocks, LANES](w_in, w_out, word, sentence, lr, window_of, noise, np.int64(n),
                                         np.int64(segment), np.int64(mode), np.int64(window), np.int64(negative),
                                         np.int64(bool(cbow_mean)), np.int64(access), loss_out, examples_out)
