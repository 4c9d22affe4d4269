"""Slow, obviously-correct NumPy references of the kernels, replaying the kernels' random draws exactly.

The order of draws (see ``w2v.kernels``): per sentence one per token for subsampling, then per kept centre
word one for its window and one per negative.  Arithmetic here is float64; the kernels use float32, so
results agree to ~1e-6.
"""

from __future__ import annotations

import numpy as np

from w2v.kernels import HOGBATCH_GROUP  # (its group size: one definition)

MASK64 = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed: int):
        self.state = seed & MASK64

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)


def draw_noise(noise: np.ndarray, r: int) -> int:
    n = len(noise)
    bucket = ((r >> 32) * n) >> 32
    entry = int(noise[bucket])
    return bucket if (r & 0xFFFFFFFF) < (entry >> 32) else entry & 0xFFFFFFFF


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def pair_loss(f: float, label: float) -> float:
    """-log sigmoid(f) for the true target, -log sigmoid(-f) for a noise word."""
    return float(np.log1p(np.exp(-f))) if label == 1.0 else float(np.log1p(np.exp(f)))


def _sentences(ids, sentence_ends, s0, s1):
    for s in range(s0, s1):
        start = 0 if s == 0 else int(sentence_ends[s - 1])
        yield [int(w) for w in ids[start:int(sentence_ends[s])]]


def _subsample(sentence, keep, rng):
    return [w for w in sentence if (rng.next() & 0xFFFFFFFF) < int(keep[w])]


def _negatives(noise, negative, centre, rng):
    out = []
    for _ in range(negative):
        t = draw_noise(noise, rng.next())
        if t != centre:
            out.append(t)
    return out


def logistic_steps(w_out, h, targets, lr):
    """Binary logistic steps of input ``h`` against ``targets`` [(row of ``w_out``, label)], in order, each
    row updated at once (the C tool's order; negative sampling's targets and noise words, or a hierarchical
    softmax path).  Returns (loss, err for h)."""
    loss, err = 0.0, np.zeros_like(h)
    for row, label in targets:
        f = w_out[row] @ h
        loss += pair_loss(f, label)
        g = lr * (label - sigmoid(f))
        err += g * w_out[row]
        w_out[row] += g * h
    return loss, err


def _sequential_chunk(weights, keep, ids, sentence_ends, s0, s1, window, seed, centre_step):
    """The loop of every kernel on float64 copies: sentences, subsampling (one draw per token), one window
    draw per kept centre word, then ``centre_step(w_in, w_out, centre, context, rng) -> (loss, examples)``.
    Returns (W_in, W_out, (loss, examples, seen, kept))."""
    w_in = weights[0].astype(np.float64)
    w_out = weights[1].astype(np.float64)
    rng = SplitMix64(seed)
    loss = 0.0
    examples = seen = kept = 0
    for sentence in _sentences(ids, sentence_ends, s0, s1):
        seen += len(sentence)
        buf = _subsample(sentence, keep, rng)
        kept += len(buf)
        n = len(buf)
        for i, centre in enumerate(buf):
            b = 1 + rng.next() % window
            context = [buf[j] for j in range(max(0, i - b), min(n, i + b + 1)) if j != i]
            term, count = centre_step(w_in, w_out, centre, context, rng)
            loss += term
            examples += count
    return w_in, w_out, (loss, examples, seen, kept)


def _pairs_or_window(model, cbow_mean, step):
    """The centre step of skip-gram (each context row against the centre, updated after its targets) or CBOW
    (the mean or sum of the context rows; the error added to each), given ``step(w_out, h, centre, rng) ->
    (loss, err)``."""
    def centre_step(w_in, w_out, centre, context, rng):
        if model == "sg":
            total = 0.0
            for c in context:
                term, err = step(w_out, w_in[c].copy(), centre, rng)
                total += term
                w_in[c] += err
            return total, len(context)
        if not context:
            return 0.0, 0
        h = w_in[context].sum(axis=0)
        if cbow_mean:
            h /= len(context)
        term, err = step(w_out, h, centre, rng)
        for c in context:
            w_in[c] += err
        return term, 1
    return centre_step


def reference_chunk(model, weights, tables, ids, sentence_ends, s0, s1, params, lr, seed):
    """Train one chunk like ``kernels.KERNELS[model]`` (negative sampling: "sg", "sg-hogbatch" or "cbow") on
    float64 copies; returns (W_in, W_out, stats)."""
    keep, noise = tables[:2]  # the reference computes the logistic exactly
    window, negative, cbow_mean = (int(x) for x in params)

    def ns_step(w_out, h, centre, rng):
        targets = [(centre, 1.0)] + [(t, 0.0) for t in _negatives(noise, negative, centre, rng)]
        return logistic_steps(w_out, h, targets, lr)

    def hogbatch_step(w_in, w_out, centre, context, rng):
        if not context:
            return 0.0, 0
        targets = [centre] + _negatives(noise, negative, centre, rng)
        labels = np.array([1.0] + [0.0] * (len(targets) - 1))
        loss = 0.0
        for first in range(0, len(context), HOGBATCH_GROUP):  # a group of context rows at a time
            group = context[first:first + HOGBATCH_GROUP]
            X = w_in[group]                     # (m, d)
            Y = w_out[targets]                  # (1+k, d)
            F = X @ Y.T                         # (m, 1+k)
            loss += sum(pair_loss(f, lab) for row in F for f, lab in zip(row, labels))
            G = lr * (labels[None, :] - sigmoid(F))
            np.add.at(w_in, group, G @ Y)
            np.add.at(w_out, targets, G.T @ X)
        return loss, len(context)

    centre_step = hogbatch_step if model == "sg-hogbatch" else _pairs_or_window(model, cbow_mean, ns_step)
    return _sequential_chunk(weights, keep, ids, sentence_ends, s0, s1, window, seed, centre_step)


# -- hierarchical softmax and the full softmax (w2v.kernels.train_chunk_*_hs, *_softmax) ------------------------
def hs_path(offsets, paths, word):
    """Word ``word``'s path from the root: [(inner node, label)], label 1 - code (the C tool's convention)."""
    return [(int(p) >> 1, 1.0 - (int(p) & 1)) for p in paths[int(offsets[word]):int(offsets[word + 1])]]


def softmax_step(w_out, h, target, lr):
    """One example of the full softmax on ``w_out`` (updated in place); returns (loss, err for h)."""
    z = w_out @ h
    lse = np.logaddexp.reduce(z)
    g = -lr * np.exp(z - lse)
    g[target] += lr
    err = g @ w_out
    w_out += np.outer(g, h)
    return float(lse - z[target]), err


def reference_chunk_loss(model, loss, weights, tables, ids, sentence_ends, s0, s1, params, lr, seed):
    """Train one chunk like ``kernels.KERNELS[(model, loss, False)]`` for loss "hs" (tables (keep, offsets,
    paths)) or "softmax" (tables (keep,)), in float64; returns (W_in, W_out, stats).  The draws: subsampling,
    then one window per kept centre word, nothing else."""
    window, _, cbow_mean = (int(x) for x in params)

    def step(w_out, h, centre, rng):
        if loss == "hs":
            return logistic_steps(w_out, h, hs_path(tables[1], tables[2], centre), lr)
        return softmax_step(w_out, h, centre, lr)

    return _sequential_chunk(weights, tables[0], ids, sentence_ends, s0, s1, window, seed,
                             _pairs_or_window(model, cbow_mean, step))


# -- the torch engine: minibatch steps with counter-based draws (w2v.torch_engine) -------------------------
M32 = 0xFFFFFFFF


def mix32(x: int) -> int:
    x ^= x >> 16
    x = (x * 0x7FEB352D) & M32
    x ^= x >> 15
    x = (x * 0x846CA68B) & M32
    return x ^ (x >> 16)


def random32(seed: int, counter: int) -> int:
    """Draw ``counter`` of the stream ``seed`` (a chunk's 64-bit seed), as w2v.torch_engine.random32."""
    x = mix32((counter & M32) ^ (seed & M32))
    x = mix32(x ^ (seed >> 32))
    return mix32(x ^ (counter >> 32))


def noise_draw(noise: np.ndarray, seed: int, counter: int) -> int:
    bucket = (random32(seed, counter) * len(noise)) >> 32
    entry = int(noise[bucket])
    return bucket if random32(seed, counter + 1) < (entry >> 32) else entry & M32


def _damping(total: float) -> float:
    return 1.0 if total == 0.0 else -np.expm1(-total) / total


def _counter_draws(variant, keep, window, negative, ids, sentence_ends, chunk_sentences, lrs, seeds):
    """The tokens of a batch as the torch engine sees them, (word, sentence, seed, counter base, lr) each, and
    those kept by their subsampling draw with each one's window draw (w2v.torch_engine's counter layout)."""
    stride = 2 + 2 * negative * (2 * window if variant == "sg" else 1)
    tokens = []
    for g in range(len(lrs)):
        first = 0 if chunk_sentences[g] == 0 else int(sentence_ends[chunk_sentences[g] - 1])
        for s in range(int(chunk_sentences[g]), int(chunk_sentences[g + 1])):
            start = 0 if s == 0 else int(sentence_ends[s - 1])
            for p in range(start, int(sentence_ends[s])):
                tokens.append((int(ids[p]), s, int(seeds[g]), (p - first) * stride, float(lrs[g])))
    kept = [t for t in tokens if random32(t[2], t[3]) < int(keep[t[0]])]
    windows = [1 + random32(t[2], t[3] + 1) % window for t in kept]
    return tokens, kept, windows


def reference_hogwild(variant, weights, tables, ids, sentence_ends, chunk_sentences, lrs, seeds, params):
    """Train one batch like one block of ``w2v.cuda_kernels.hogwild`` (variant "sg", "sg-hogbatch" or
    "cbow"), in float64: the torch engine's kept tokens, windows and noise draws, each pair's update applied
    at once in order, as the C tool does (the output row at once, the input row after its targets; CBOW's
    error added to every context row).  Returns (W_in, W_out, (loss, examples, seen, kept))."""
    w_in = weights[0].astype(np.float64)
    w_out = weights[1].astype(np.float64)
    keep, noise = tables
    window, negative, cbow_mean = (int(x) for x in params)
    offsets = [o for o in range(-window, window + 1) if o != 0]
    tokens, kept, windows = _counter_draws(variant, keep, window, negative, ids, sentence_ends, chunk_sentences,
                                           lrs, seeds)
    loss, examples = 0.0, 0

    def train(v, targets, lr):
        nonlocal loss
        term, err = logistic_steps(w_out, v, targets, lr)
        loss += term
        return err

    for i, (centre, sentence, seed, base, lr) in enumerate(kept):
        contexts = [(a, kept[i + o][0]) for a, o in enumerate(offsets)
                    if 0 <= i + o < len(kept) and abs(o) <= windows[i] and kept[i + o][1] == sentence]

        def targets(first):
            draws = [noise_draw(noise, seed, base + 2 + 2 * (first + j)) for j in range(negative)]
            return [(centre, 1.0)] + [(t, 0.0) for t in draws if t != centre]

        if variant == "cbow":
            if not contexts:
                continue
            h = sum(w_in[c] for _, c in contexts)
            if cbow_mean:
                h = h / len(contexts)
            err = train(h, targets(0), lr)
            for _, c in contexts:
                w_in[c] += err
            examples += 1
            continue
        for a, c in contexts:
            w_in[c] += train(w_in[c].copy(), targets(a * negative if variant == "sg" else 0), lr)
            examples += 1
    return w_in, w_out, (loss, examples, len(tokens), len(kept))


def reference_torch_batch(variant, weights, tables, ids, sentence_ends, chunk_sentences, lrs, seeds, params,
                          step):
    """Train one batch like ``w2v.torch_engine.TorchEngine.train`` (variant "sg", "sg-hogbatch" or "cbow"),
    in float64: tokens kept by their own draw, steps of ``step`` kept centres whose updates are all computed
    from the weights at the start of the step, each contribution to a row scaled by ``(1 - exp(-A)) / A``
    with ``A`` the row's total stiffness in the step.  Returns (W_in, W_out, (loss, examples, seen, kept))."""
    w_in = weights[0].astype(np.float64)
    w_out = weights[1].astype(np.float64)
    keep, noise = tables
    window, negative, cbow_mean = (int(x) for x in params)
    offsets = [o for o in range(-window, window + 1) if o != 0]
    tokens, kept, windows = _counter_draws(variant, keep, window, negative, ids, sentence_ends, chunk_sentences,
                                           lrs, seeds)
    loss = 0.0
    examples = 0
    for start in range(0, len(kept), step):
        w0_in, w0_out = w_in.copy(), w_out.copy()
        into_in, into_out = [], []  # contributions: (row, vector, stiffness)
        for i in range(start, min(len(kept), start + step)):
            centre, sentence, seed, base, lr = kept[i]
            contexts = [(a, kept[i + o][0]) for a, o in enumerate(offsets)
                        if 0 <= i + o < len(kept) and abs(o) <= windows[i] and kept[i + o][1] == sentence]
            if variant == "sg":
                for a, c in contexts:
                    x = w0_in[c]
                    targets = [(centre, 1.0)]
                    for j in range(negative):
                        t = noise_draw(noise, seed, base + 2 + 2 * (a * negative + j))
                        if t != centre:
                            targets.append((t, 0.0))
                    dx, stiff_x = np.zeros_like(x), 0.0
                    for t, label in targets:
                        y = w0_out[t]
                        f = x @ y
                        s = sigmoid(f)
                        loss += pair_loss(f, label)
                        into_out.append((t, lr * (label - s) * x, lr * s * (1 - s) * (x @ x)))
                        dx += lr * (label - s) * y
                        stiff_x += lr * s * (1 - s) * (y @ y)
                    into_in.append((c, dx, stiff_x))
                    examples += 1
                continue
            if not contexts:
                continue
            targets = [(centre, 1.0)]
            for j in range(negative):
                t = noise_draw(noise, seed, base + 2 + 2 * j)
                if t != centre:
                    targets.append((t, 0.0))
            if variant == "sg-hogbatch":
                for _, c in contexts:
                    x = w0_in[c]
                    dx, stiff_x = np.zeros_like(x), 0.0
                    for t, label in targets:
                        y = w0_out[t]
                        f = x @ y
                        s = sigmoid(f)
                        loss += pair_loss(f, label)
                        into_out.append((t, lr * (label - s) * x, lr * s * (1 - s) * (x @ x)))
                        dx += lr * (label - s) * y
                        stiff_x += lr * s * (1 - s) * (y @ y)
                    into_in.append((c, dx, stiff_x))
                    examples += 1
            else:  # cbow
                h = sum(w0_in[c] for _, c in contexts)
                if cbow_mean:
                    h = h / len(contexts)
                dh, stiff_h = np.zeros_like(h), 0.0
                for t, label in targets:
                    y = w0_out[t]
                    f = h @ y
                    s = sigmoid(f)
                    loss += pair_loss(f, label)
                    into_out.append((t, lr * (label - s) * h, lr * s * (1 - s) * (h @ h)))
                    dh += lr * (label - s) * y
                    stiff_h += lr * s * (1 - s) * (y @ y)
                for _, c in contexts:
                    into_in.append((c, dh, stiff_h))
                examples += 1
        for matrix, contributions in ((w_in, into_in), (w_out, into_out)):
            total: dict[int, float] = {}
            for row, _, stiffness in contributions:
                total[row] = total.get(row, 0.0) + stiffness
            for row, vector, _ in contributions:
                matrix[row] += _damping(total[row]) * vector
    return w_in, w_out, (loss, examples, len(tokens), len(kept))


# -- a tiny batch for the engines (tests/test_torch_engine.py, benchmarks/gpu.py) ------------------------------

VARIANTS = {"sg": dict(model="sg", hogbatch=False), "sg-hogbatch": dict(model="sg", hogbatch=True),
            "cbow": dict(model="cbow")}


def tiny_batch(seed=0, vocab=12, dim=8):
    """A small random model and a batch of two chunks for the engines' one-batch checks (tests, GPU benchmark)."""
    from w2v import sampling
    from w2v.engine import Batch

    rng = np.random.default_rng(seed)
    counts = np.sort(rng.integers(1, 50, vocab))[::-1].astype(np.int64)
    ids = rng.integers(0, vocab, 140).astype(np.int32)
    ends = np.array([7, 30, 31, 55, 90, 120, 140], dtype=np.int64)
    w_in = rng.normal(0, 0.5, (vocab, dim)).astype(np.float32)
    w_out = rng.normal(0, 0.5, (vocab, dim)).astype(np.float32)
    keep = sampling.keep_thresholds(sampling.keep_probabilities(counts, 0.05))
    noise = sampling.alias_table(sampling.noise_distribution(counts))
    batch = Batch(ids, ends, np.array([0, 3, 7], dtype=np.int64), np.array([0.2, 0.15]),
                  np.array([2**63 + 12345, 77], dtype=np.uint64))
    return (w_in, w_out), (keep, noise), batch
