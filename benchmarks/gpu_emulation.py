"""The GPU kernel's concurrency emulated on the CPU: what thousands of warps at once do to what is learnt.

    python benchmarks/gpu_emulation.py --corpus enwiki-100m.txt.gz --blocks 1 4224 --memory fresh stale
    python benchmarks/gpu_emulation.py --corpus c.txt --tokens 300000 --epochs 1 --dims 16   # a dry run

The torch engine (``w2v.torch_engine``, ``kernel="hogwild"``) makes every random draw of a call as it does on
a GPU; instead of launching ``w2v.cuda_kernels.hogwild``, the call's segments are trained here on one CPU
thread, in lockstep: at each slot every block takes its next unit of work (a (context, centre) pair for
skip-gram, a centre for CBOW), as thousands of warps at once each work on one.  What a slot's blocks see of
each other's writes is the model of the GPU's memory (``--memory``):

- ``fresh``: every block reads its input row at the start of the slot; the output rows are updated one block
  after another, each seeing the others' writes; the input rows' errors are added at the end of the slot.
  Concurrent updates of a frequent *input* row are computed from the same weights and summed.
- ``stale``: the output rows too: for each target, every block computes its logit from the same weights,
  then every block adds its update (atomic adds, all in flight at once).
- ``lost`` (skip-gram): as ``stale``, but each write stores the value read plus the block's update: of the
  blocks writing a row in a slot the last one wins (plain loads and stores, at their worst).
- ``l1`` (skip-gram): the blocks in the order of ``fresh``, but block ``b`` runs on multiprocessor ``b % 132``,
  whose L1 cache (``--l1-kb``, 8-way, LRU, whole rows) keeps the rows it has read: a read that hits returns the
  cached copy, however old; a store goes to the shared weights (L2) and to the writer's cached copy, not to
  the other multiprocessors' (L1 caches are not coherent for global memory); a launch starts with empty caches.
  ``l1-invalidate``: the same, with a store dropping the writer's cached copy instead of updating it.

One block is the sequential reference of the tests (``reference_hogwild``), which the script checks first.
The logistic step is the CPU kernels' (``w2v.kernels._logistic_step``).  Results: ``OUT/gpu_emulation.json``
and ``.md``; benchmarks/NOTES.md, section 18, has what they said.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from w2v import cuda_kernels  # noqa: E402  (numba's own numba.cuda will do: nothing is launched)
from w2v.kernels import _logistic_step  # noqa: E402  (one definition of the step)

MEMORY = {"fresh": 0, "stale": 1, "lost": 2, "l1": 3, "l1-invalidate": 4}
MULTIPROCESSORS = 132  # an H100 SXM
L1_WAYS = 8


@njit(inline="always")
def _dot(a, b):
    """``a . b`` in float32, in order (as one lane would add it up)."""
    f = np.float32(0.0)
    for j in range(a.shape[0]):
        f += a[j] * b[j]
    return f


@njit(inline="always")
def _axpy(out, a, x, y):
    """``out = a * x + y``, element by element (``out`` may be ``y``)."""
    for j in range(out.shape[0]):
        out[j] = a * x[j] + y[j]


@njit(inline="always")
def _target_of(i, o, k, word, noise, mode, window, negative):
    """Target ``k`` of the centre ``i`` (context offset ``o``): the centre itself (k = 0), then its noise words
    (the pair's own, mode 0, or the centre's); -1 for a noise word equal to the centre (skipped)."""
    if k == 0:
        return word[i]
    first = 0 if mode > 0 else (o + window if o < 0 else o + window - 1) * negative
    t = noise[i, first + k - 1]
    return -1 if t == word[i] else t


@njit(cache=True)
def _next_unit(b, cur_i, cur_o, end, word, sentence, window_of, n, window, cbow):
    """Move block ``b`` to its next unit of work: the next pair's context offset (skip-gram) or the next
    centre with a context (CBOW); returns False when its segment is done."""
    while cur_i[b] < end:
        i = cur_i[b]
        bw = window_of[i]
        o = cur_o[b] + 1 if cur_o[b] > -window - 1 else -bw
        if cbow and cur_o[b] > -window - 1:  # this centre was done
            o = bw + 1
        while o <= bw:
            p = i + o
            if o != 0 and 0 <= p < n and sentence[p] == sentence[i]:
                cur_o[b] = o
                return True
            o += 1
        cur_i[b] += 1
        cur_o[b] = -window - 1
    return False


@njit(cache=True)
def emulate(w_in, w_out, word, sentence, lr, window_of, noise, n, segment, mode, window, negative, cbow_mean,
            memory):
    """Train the kept tokens ``word[0:n]`` as ``ceil(n / segment)`` blocks in lockstep (the arguments of
    ``w2v.cuda_kernels.hogwild``); returns (loss sum, examples)."""
    d = w_in.shape[1]
    cbow = mode == 2
    blocks = (n + segment - 1) // segment
    x = np.zeros((blocks, d), np.float32)     # each block's input vector (read at the start of the slot)
    err = np.zeros((blocks, d), np.float32)   # its input's update
    y = np.zeros((blocks, d), np.float32)     # the output row it read (stale, lost)
    f = np.zeros(blocks, np.float32)
    cur_i = np.arange(blocks) * segment
    cur_o = np.full(blocks, -window - 1)
    busy = np.zeros(blocks, np.bool_)
    loss, examples = 0.0, 0
    while True:
        active = 0
        for b in range(blocks):  # each block's unit of work and its input
            busy[b] = _next_unit(b, cur_i, cur_o, min(n, (b + 1) * segment), word, sentence, window_of, n, window,
                                 cbow)
            if not busy[b]:
                continue
            active += 1
            i = cur_i[b]
            err[b, :] = 0.0
            if not cbow:
                x[b, :] = w_in[word[i + cur_o[b]]]
                continue
            x[b, :] = 0.0
            m = 0
            for o in range(-window_of[i], window_of[i] + 1):
                p = i + o
                if o != 0 and 0 <= p < n and sentence[p] == sentence[i]:
                    _axpy(x[b], np.float32(1.0), w_in[word[p]], x[b])
                    m += 1
            if cbow_mean:
                for j in range(d):
                    x[b, j] /= m
        if active == 0:
            break
        for k in range(negative + 1):  # the targets: the centre, then the noise words
            for phase in range(2 if memory > 0 else 1):
                for b in range(blocks):
                    if not busy[b]:
                        continue
                    i = cur_i[b]
                    t = _target_of(i, cur_o[b], k, word, noise, mode, window, negative)
                    if t < 0:
                        continue
                    if memory == 0 or phase == 0:  # read (with "stale" and "lost": every block before any writes)
                        y[b, :] = w_out[t]
                        f[b] = _dot(x[b], y[b])
                        if memory > 0:
                            continue
                    g, term = _logistic_step(f[b], 1.0 if k == 0 else 0.0, lr[i])
                    loss += term
                    _axpy(err[b], g, y[b], err[b])
                    _axpy(w_out[t], g, x[b], y[b] if memory == 2 else w_out[t])
        for b in range(blocks):  # the input rows' updates land
            if not busy[b]:
                continue
            examples += 1
            i = cur_i[b]
            if not cbow:
                c = word[i + cur_o[b]]
                _axpy(w_in[c], np.float32(1.0), err[b], x[b] if memory == 2 else w_in[c])
                continue
            for o in range(-window_of[i], window_of[i] + 1):
                p = i + o
                if o != 0 and 0 <= p < n and sentence[p] == sentence[i]:
                    _axpy(w_in[word[p]], np.float32(1.0), err[b], w_in[word[p]])
    return loss, examples


@njit(inline="always")
def _cached(tag, stamp, data, sm, key, row, now, sets):
    """The slot of ``sm``'s cache holding ``key`` (``row`` read into it on a miss, over the set's least
    recently used slot)."""
    base = (((key * 2654435761) & 0xFFFFFFFF) % sets) * L1_WAYS
    lru = base
    for w in range(base, base + L1_WAYS):
        if tag[sm, w] == key:
            stamp[sm, w] = now
            return w
        if stamp[sm, w] < stamp[sm, lru]:
            lru = w
    tag[sm, lru] = key
    stamp[sm, lru] = now
    data[sm, lru, :] = row
    return lru


@njit(inline="always")
def _store(tag, data, sm, key, slot, row, value, update):
    """``row[:] = value`` (L2), and the writer's cached copy in ``slot`` updated or dropped."""
    row[:] = value
    if tag[sm, slot] == key:
        if update:
            data[sm, slot, :] = value
        else:
            tag[sm, slot] = -1


@njit(cache=True)
def emulate_l1(w_in, w_out, word, sentence, lr, window_of, noise, n, segment, mode, window, negative, l1_rows,
               update):
    """Skip-gram as :func:`emulate` in its "fresh" order, every read through the block's multiprocessor's L1
    copy of the row (``l1_rows`` rows a multiprocessor); returns (loss sum, examples)."""
    d = w_in.shape[1]
    vocab = w_in.shape[0]
    blocks = (n + segment - 1) // segment
    sms = min(blocks, MULTIPROCESSORS)
    sets = max(1, l1_rows // L1_WAYS)
    tag = np.full((sms, sets * L1_WAYS), -1, np.int64)
    stamp = np.zeros((sms, sets * L1_WAYS), np.int64)
    data = np.zeros((sms, sets * L1_WAYS, d), np.float32)
    x = np.zeros((blocks, d), np.float32)
    err = np.zeros((blocks, d), np.float32)
    value = np.zeros(d, np.float32)
    cur_i = np.arange(blocks) * segment
    cur_o = np.full(blocks, -window - 1)
    busy = np.zeros(blocks, np.bool_)
    loss, examples, now = 0.0, 0, 0
    while True:
        active = 0
        for b in range(blocks):
            busy[b] = _next_unit(b, cur_i, cur_o, min(n, (b + 1) * segment), word, sentence, window_of, n, window,
                                 False)
            if busy[b]:
                active += 1
                now += 1
                c = word[cur_i[b] + cur_o[b]]
                x[b, :] = data[b % sms, _cached(tag, stamp, data, b % sms, c, w_in[c], now, sets)]
                err[b, :] = 0.0
        if active == 0:
            break
        for k in range(negative + 1):
            for b in range(blocks):
                if not busy[b]:
                    continue
                i = cur_i[b]
                t = _target_of(i, cur_o[b], k, word, noise, mode, window, negative)
                if t < 0:
                    continue
                now += 1
                sm = b % sms
                slot = _cached(tag, stamp, data, sm, vocab + t, w_out[t], now, sets)
                y = data[sm, slot]
                g, term = _logistic_step(_dot(x[b], y), 1.0 if k == 0 else 0.0, lr[i])
                loss += term
                _axpy(value, g, x[b], y)
                _axpy(err[b], g, y, err[b])
                _store(tag, data, sm, vocab + t, slot, w_out[t], value, update)
        for b in range(blocks):
            if not busy[b]:
                continue
            examples += 1
            now += 1
            sm = b % sms
            c = word[cur_i[b] + cur_o[b]]
            slot = _cached(tag, stamp, data, sm, c, w_in[c], now, sets)  # w += err: a load (maybe cached), a store
            _axpy(value, np.float32(1.0), err[b], data[sm, slot])
            _store(tag, data, sm, c, slot, w_in[c], value, update)
    return loss, examples


class _Emulated:
    """Stands in for ``w2v.cuda_kernels`` in the torch engine: ``launch`` trains the call here."""

    MODES, ACCESS = cuda_kernels.MODES, cuda_kernels.ACCESS  # the torch engine reads them from the module

    def __init__(self, memory: str, l1_kb: float = 200):
        self.memory = MEMORY[memory]
        self.l1_bytes = int(l1_kb * 1024)

    def launch(self, w_in, w_out, word, sentence, lr, window_of, noise, n, segment, mode, window, negative,
               cbow_mean, loss_out, examples_out, access=0):
        if self.memory >= MEMORY["l1"]:
            loss, examples = emulate_l1(w_in, w_out, word, sentence, lr, window_of, noise, np.int64(n),
                                        np.int64(segment), np.int64(mode), np.int64(window), np.int64(negative),
                                        np.int64(self.l1_bytes // (4 * w_in.shape[1])),
                                        self.memory == MEMORY["l1"])
        else:
            loss, examples = emulate(w_in, w_out, word, sentence, lr, window_of, noise, np.int64(n),
                                     np.int64(segment), np.int64(mode), np.int64(window), np.int64(negative),
                                     bool(cbow_mean), np.int64(self.memory))
        loss_out[:] = 0.0
        examples_out[:] = 0
        loss_out[0], examples_out[0] = loss, examples


def _emulating(memory: str, blocks: int, l1_kb: float = 200):
    """Patch the torch engine to train its hogwild calls with :func:`emulate` in ``blocks`` blocks; returns a
    function that undoes it."""
    import w2v.torch_engine as te

    saved = te._cuda_kernels, te._hogwild_available, te.KERNEL, te.TorchEngine.__init__
    init = te.TorchEngine.__init__

    def patched(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.blocks = blocks

    emulated = _Emulated(memory, l1_kb)
    te._cuda_kernels, te._hogwild_available, te.KERNEL = (lambda: emulated), (lambda: True), "hogwild"
    te.TorchEngine.__init__ = patched

    def undo():
        te._cuda_kernels, te._hogwild_available, te.KERNEL, te.TorchEngine.__init__ = saved

    return undo


def check() -> list[str]:
    """One block against the sequential reference, each variant; returns the failures."""
    from reference import VARIANTS, reference_hogwild, tiny_batch

    from w2v import Config
    from w2v.torch_engine import TorchEngine

    failures = []
    for variant, cbow_mean in [("sg", True), ("sg-hogbatch", True), ("cbow", True), ("cbow", False)]:
        for memory in ("fresh", "stale") + (("lost", "l1", "l1-invalidate") if variant != "cbow" else ()):
            weights, tables, batch = tiny_batch()
            config = Config(window=3, negative=4, cbow_mean=cbow_mean, threads=1, dim=8, **VARIANTS[variant])
            ref_in, ref_out, ref_stats = reference_hogwild(variant, weights, tables, batch.ids, batch.sentence_ends,
                                                           batch.chunk_sentences, batch.lrs, batch.seeds,
                                                           (3, 4, int(cbow_mean)))
            undo = _emulating(memory, 1)
            try:
                w = (weights[0].copy(), weights[1].copy())
                engine = TorchEngine(config, w, tables, "cpu")
                stats = engine.train(batch)
                engine.close()
            finally:
                undo()
            error = max(float(np.abs(w[0] - ref_in).max()), float(np.abs(w[1] - ref_out).max()))
            if not (error < 1e-4 and stats[1:] == ref_stats[1:]):  # the logistic table: ~1e-6 a step
                failures.append(f"{variant} {memory}: max error {error:.1e}, stats {stats[1:]} vs {ref_stats[1:]}")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", required=True, help="the benchmark corpus (.txt or .txt.gz)")
    parser.add_argument("--out", default=str(HERE / "out"), help="where results go")
    parser.add_argument("--models", nargs="+", default=["sg"], choices=["sg", "cbow"])
    parser.add_argument("--dims", nargs="+", type=int, default=[100])
    parser.add_argument("--blocks", nargs="+", type=int, default=[4224],
                        help="blocks trained at once (an H100: 132 multiprocessors x 32 = 4,224)")
    parser.add_argument("--memory", nargs="+", default=["fresh", "stale"], choices=list(MEMORY))
    parser.add_argument("--l1-kb", type=float, default=200, help="L1 cache a multiprocessor (memory l1)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--tokens", type=int, help="only the first N tokens (default: all)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from corpus_slice import prepare_slice
    from gpu import evaluate

    from w2v import Word2Vec

    failures = check()
    if failures:
        print("the emulation disagrees with the sequential reference:", *failures, sep="\n  ")
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sl = prepare_slice(Path(args.corpus), out, args.tokens, 5)
    rows = []
    for model in args.models:
        for dim in args.dims:
            for blocks in args.blocks:
                for memory in args.memory:
                    if memory in ("lost", "l1", "l1-invalidate") and model == "cbow":
                        continue
                    undo = _emulating(memory, blocks, args.l1_kb)
                    t0 = time.perf_counter()
                    try:
                        w = Word2Vec(model=model, dim=dim, epochs=args.epochs, threads=1, seed=args.seed,
                                     backend="torch")
                        w.train(sl.path, progress=False)
                    finally:
                        undo()
                    row = {"model": model, "dim": dim, "blocks": blocks, "memory": memory, "seed": args.seed,
                           "l1_kb": args.l1_kb if memory.startswith("l1") else None,
                           "seconds": round(time.perf_counter() - t0, 1),
                           "loss": [round(e["loss"], 4) for e in w.training_log], **evaluate(w)}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                    (out / "gpu_emulation.json").write_text(json.dumps({"corpus": sl.path, "tokens": sl.tokens,
                                                                        "epochs": args.epochs, "rows": rows},
                                                                       indent=1))
    lines = [f"GPU emulation on the CPU: {sl.tokens:,} tokens, {args.epochs} epochs, seed {args.seed} "
             f"({time.strftime('%Y-%m-%d')})", "",
             "| model | dim | blocks | memory | loss per epoch | analogy | WS-353 |",
             "| --- | ---: | ---: | --- | --- | ---: | ---: |"]
    lines += [f"| {r['model']} | {r['dim']} | {r['blocks']:,} | {r['memory']} | "
              f"{' '.join(f'{x:.3f}' for x in r['loss'])} | {r['analogy']:.1%} | {r['ws353']:.3f} |" for r in rows]
    (out / "gpu_emulation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
