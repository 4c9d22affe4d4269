"""Slow, obviously-correct NumPy references of the kernels, replaying the kernels' random draws exactly.

The order of draws (see ``w2v.kernels``): per sentence one per token for subsampling, then per kept centre
word one for its window and one per negative.  Arithmetic here is float64; the kernels use float32, so
results agree to ~1e-6.
"""

from __future__ import annotations

import numpy as np

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


def reference_chunk(model, weights, tables, ids, sentence_ends, s0, s1, params, lr, seed):
    """Train one chunk like ``kernels.KERNELS[model]`` on float64 copies; returns (W_in, W_out, stats)."""
    w_in = weights[0].astype(np.float64)
    w_out = weights[1].astype(np.float64)
    keep, noise = tables[:2]  # the reference computes the logistic exactly
    window, negative, cbow_mean = (int(x) for x in params)
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
            if model == "sg":
                for c in context:
                    targets = [(centre, 1.0)] + [(t, 0.0) for t in _negatives(noise, negative, centre, rng)]
                    v = w_in[c].copy()
                    err = np.zeros_like(v)
                    for t, label in targets:
                        f = w_out[t] @ v
                        loss += pair_loss(f, label)
                        g = lr * (label - sigmoid(f))
                        err += g * w_out[t]
                        w_out[t] += g * v
                    w_in[c] += err
                    examples += 1
            elif model == "sg-hogbatch":
                if not context:
                    continue
                targets = [centre] + _negatives(noise, negative, centre, rng)
                labels = np.array([1.0] + [0.0] * (len(targets) - 1))
                X = w_in[context]                   # (m, d)
                Y = w_out[targets]                  # (1+k, d)
                F = X @ Y.T                         # (m, 1+k)
                loss += sum(pair_loss(f, lab) for row in F for f, lab in zip(row, labels))
                G = lr * (labels[None, :] - sigmoid(F))
                np.add.at(w_in, context, G @ Y)
                np.add.at(w_out, targets, G.T @ X)
                examples += len(context)
            else:  # cbow
                if not context:
                    continue
                h = w_in[context].sum(axis=0)
                if cbow_mean:
                    h /= len(context)
                err = np.zeros_like(h)
                targets = [(centre, 1.0)] + [(t, 0.0) for t in _negatives(noise, negative, centre, rng)]
                for t, label in targets:
                    f = w_out[t] @ h
                    loss += pair_loss(f, label)
                    g = lr * (label - sigmoid(f))
                    err += g * w_out[t]
                    w_out[t] += g * h
                for c in context:
                    w_in[c] += err
                examples += 1
    return w_in, w_out, (loss, examples, seen, kept)
