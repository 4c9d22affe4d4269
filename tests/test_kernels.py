"""Kernels against the NumPy reference, a finite-difference gradient check, and the samplers' statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from w2v import kernels, sampling
from w2v.train import chunk_seed, init_weights, learning_rate, plan_chunks

from reference import SplitMix64, draw_noise, reference_chunk

VARIANTS = {"sg": ("sg", "ns", False), "sg-hogbatch": ("sg", "ns", True), "cbow": ("cbow", "ns", False)}


def tiny_problem(seed=0, vocab=12, dim=8, n_tokens=120):
    rng = np.random.default_rng(seed)
    counts = np.sort(rng.integers(1, 50, vocab))[::-1].astype(np.int64)
    ids = rng.integers(0, vocab, n_tokens).astype(np.int32)
    ends = np.array([7, 30, 31, 55, 90, n_tokens], dtype=np.int64)
    w_in = (rng.random((vocab, dim), dtype=np.float32) - 0.5)
    w_out = (rng.random((vocab, dim), dtype=np.float32) - 0.5) * 0.5
    keep = sampling.keep_thresholds(sampling.keep_probabilities(counts, 0.05))
    noise = sampling.alias_table(sampling.noise_distribution(counts))
    return (w_in, w_out), (keep, noise), ids, ends


@pytest.mark.parametrize("dim", [8, 37])  # 37: the vectorised row loops' body and their remainder
@pytest.mark.parametrize("variant,cbow_mean,window", [("sg", 1, 3), ("sg-hogbatch", 1, 3), ("cbow", 1, 3),
                                                      ("cbow", 0, 3), ("sg-hogbatch", 1, 8)])  # 8: 16 > a group
def test_kernel_matches_numpy_reference(variant, cbow_mean, window, dim):
    weights, tables, ids, ends = tiny_problem(dim=dim)
    params = (np.int64(window), np.int64(4), np.int64(cbow_mean))
    ref_in, ref_out, ref_stats = reference_chunk(variant, weights, tables, ids, ends, 1, 6, params, 0.1, 99)
    w = (weights[0].copy(), weights[1].copy())
    stats = kernels.KERNELS[VARIANTS[variant]](w, tables, ids, ends, 1, 6, params, 0.1, 99)
    np.testing.assert_allclose(w[0], ref_in, rtol=1e-5, atol=1e-6)  # float32 against float64
    np.testing.assert_allclose(w[1], ref_out, rtol=1e-5, atol=1e-6)
    assert stats[1:] == ref_stats[1:]
    assert stats[2] == ends[5] - ends[0]  # every token of sentences 1..5 visited
    assert stats[0] == pytest.approx(ref_stats[0], rel=1e-5)


def test_empty_chunk_changes_nothing():
    weights, tables, ids, ends = tiny_problem()
    before = (weights[0].copy(), weights[1].copy())
    for kernel in (kernels.KERNELS[key] for key in VARIANTS.values()):  # hs, softmax: test_losses.py
        assert kernel(weights, tables, ids, ends, 2, 2, (np.int64(3), np.int64(4), np.int64(1)), 0.1, 1) \
            == (0.0, 0, 0, 0)
    np.testing.assert_array_equal(weights[0], before[0])
    np.testing.assert_array_equal(weights[1], before[1])


def pair_objective(v, u_pos, u_negs):
    def logsig(x):
        return -np.log1p(np.exp(-x))
    return -logsig(u_pos @ v) - sum(logsig(-(u @ v)) for u in u_negs)


@pytest.mark.parametrize("variant", ["sg", "sg-hogbatch"])
def test_update_is_a_gradient_step_finite_differences(variant):
    """Sentence [0, 1], window 1: pair 1 is (context 1 -> centre 0), pair 2 (context 0 -> centre 1), and the
    noise words are only 2 and 3.  So W_in[1] and W_out[0] are moved by pair 1 alone, and their change must
    be -lr x the gradient of pair 1's loss, estimated by central finite differences."""
    dim = 6
    rng = np.random.default_rng(3)
    w_in = rng.normal(0, 0.3, (5, dim)).astype(np.float32)
    w_out = rng.normal(0, 0.3, (5, dim)).astype(np.float32)
    keep = np.array([2**32, 2**32, 2**32, 2**32, 2**32], dtype=np.int64)
    noise = sampling.alias_table(np.array([0.0, 0.0, 0.5, 0.5, 0.0]))  # negatives only words 2 and 3
    ids = np.array([0, 1], dtype=np.int32)
    ends = np.array([2], dtype=np.int64)
    lr = 0.05  # the step is taken at the old values, so it is exactly -lr x gradient for any lr
    params = (np.int64(1), np.int64(1), np.int64(1))  # one negative: no row is updated twice in a pair
    # replay the draws to know the negative of the first pair (context 1 -> centre 0)
    rng_k = SplitMix64(7)
    rng_k.next(), rng_k.next()  # subsampling draws
    rng_k.next()  # window of centre 0
    negs = [draw_noise(noise, rng_k.next())]
    w = (w_in.copy(), w_out.copy())
    kernels.KERNELS[VARIANTS[variant]](w, (keep, noise), ids, ends, 0, 1, params, lr, 7)
    v0, u0 = w_in[1].astype(np.float64), w_out[0].astype(np.float64)
    un = [w_out[t].astype(np.float64) for t in negs]
    eps = 1e-5
    grad_v = np.zeros(dim)
    for q in range(dim):
        e = np.zeros(dim)
        e[q] = eps
        grad_v[q] = (pair_objective(v0 + e, u0, un) - pair_objective(v0 - e, u0, un)) / (2 * eps)
    np.testing.assert_allclose(w[0][1] - w_in[1], -lr * grad_v, rtol=1e-3, atol=2e-7)
    grad_u = np.zeros(dim)
    for q in range(dim):
        e = np.zeros(dim)
        e[q] = eps
        grad_u[q] = (pair_objective(v0, u0 + e, un) - pair_objective(v0, u0 - e, un)) / (2 * eps)
    np.testing.assert_allclose(w[1][0] - w_out[0], -lr * grad_u, rtol=1e-3, atol=2e-7)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_loss_decreases_on_a_toy_corpus(variant):
    """Two disjoint 'topics': words co-occur only within their topic; the loss must fall epoch on epoch."""
    rng = np.random.default_rng(0)
    vocab, dim = 40, 16
    sents = [rng.integers(0, 20, 10) if i % 2 else rng.integers(20, 40, 10) for i in range(400)]
    ids = np.concatenate(sents).astype(np.int32)
    ends = np.cumsum([len(s) for s in sents]).astype(np.int64)
    counts = np.bincount(ids, minlength=vocab).astype(np.int64)
    tables = (sampling.keep_thresholds(np.ones(vocab)),
              sampling.alias_table(sampling.noise_distribution(counts)))
    weights = init_weights(vocab, dim, 1)
    kernel = kernels.KERNELS[VARIANTS[variant]]
    losses = []
    for epoch in range(7):  # epoch 0 at lr 0 measures the initial loss
        loss, examples, seen, _ = kernel(weights, tables, ids, ends, 0, len(ends),
                                         (np.int64(3), np.int64(5), np.int64(1)), 0.05 if epoch else 0.0,
                                         epoch + 1)
        assert seen == len(ids)
        losses.append(loss / examples)
    # W_out starts at zero: every term is log 2 (a few fewer terms where a negative hit the centre)
    assert losses[0] == pytest.approx(6 * math.log(2), rel=0.05)
    # falls fast, then stays on its plateau (within SGD noise), well under the start
    assert losses[1] < 0.8 * losses[0] and losses[2] < losses[1], losses
    assert all(b < a + 0.02 for a, b in zip(losses[1:], losses[2:])), losses
    assert losses[-1] < 0.6 * losses[0]


def test_seeded_kernel_is_deterministic():
    for kernel in (kernels.KERNELS[key] for key in VARIANTS.values()):  # hs, softmax: test_losses.py
        runs = []
        for _ in range(2):
            weights, tables, ids, ends = tiny_problem(seed=5)
            kernel(weights, tables, ids, ends, 0, len(ends), (np.int64(3), np.int64(4), np.int64(1)), 0.1, 42)
            runs.append(weights)
        np.testing.assert_array_equal(runs[0][0], runs[1][0])
        np.testing.assert_array_equal(runs[0][1], runs[1][1])


# -- samplers ------------------------------------------------------------------------------------------
def chi_square_pvalue(observed, expected):
    from scipy.stats import chisquare
    return chisquare(observed, expected).pvalue


@pytest.mark.parametrize("exponent", [0.75, 0.5, 1.0])
def test_noise_draws_follow_count_to_the_exponent(exponent):
    """The kernel's own draws (through the alias table) against count^a, by a chi-square test."""
    counts = np.array([5000, 1200, 800, 300, 120, 50, 20, 9, 5, 5, 3, 1], dtype=np.int64)
    p = sampling.noise_distribution(counts, exponent)
    table = sampling.alias_table(p)
    np.testing.assert_allclose(sampling.alias_probabilities(table), p, atol=1e-9)
    # the kernels' draw (replayed in Python on the same random stream; the kernels match it bit for bit)
    rng = SplitMix64(123)
    n = 200_000
    draws = np.fromiter((draw_noise(table, rng.next()) for _ in range(n)), dtype=np.int64, count=n)
    observed = np.bincount(draws, minlength=len(counts))
    assert chi_square_pvalue(observed, p * n) > 1e-3
    # a wrong exponent is rejected by the same test
    wrong = sampling.noise_distribution(counts, exponent + 0.15)
    assert chi_square_pvalue(observed, wrong * n) < 1e-6


def test_alias_table_is_exact_for_rare_words():
    counts = np.array([10**9] + [1] * 999, dtype=np.int64)  # rare words below the C tool's table resolution
    p = sampling.noise_distribution(counts, 0.75)
    got = sampling.alias_probabilities(sampling.alias_table(p))
    np.testing.assert_allclose(got, p, rtol=1e-6, atol=1e-12)
    assert (got[1:] > 0).all()


def test_keep_probability_formula_and_kernel_keep_rate():
    counts = np.array([100_000, 20_000, 3_000, 500, 10], dtype=np.int64)
    t = 1e-3
    p = sampling.keep_probabilities(counts, t)
    total = counts.sum()
    expected = np.minimum(1.0, (np.sqrt(counts / (t * total)) + 1) * (t * total) / counts)
    np.testing.assert_allclose(p, expected)
    assert p[-1] == 1.0 and p[0] < 0.2
    np.testing.assert_array_equal(sampling.keep_probabilities(counts, 0.0), 1.0)
    # the kernel keeps each word at that rate: one long sentence of word 0 repeated
    n = 100_000
    ids = np.zeros(n, dtype=np.int32)
    ends = np.array([n], dtype=np.int64)
    weights = init_weights(5, 4, 0)
    tables = (sampling.keep_thresholds(p), sampling.alias_table(sampling.noise_distribution(counts)))
    _, _, seen, kept = kernels.train_chunk_cbow(weights, tables, ids, ends, 0, 1,
                                                (np.int64(1), np.int64(1), np.int64(1)), 0.0, 9)
    assert seen == n
    sd = math.sqrt(p[0] * (1 - p[0]) / n)
    assert abs(kept / n - p[0]) < 5 * sd


def test_logistic_table_matches_the_exact_functions():
    """The kernels' interpolated sigmoid and -log sigmoid, inside the table's range and beyond it."""
    from numba import njit

    @njit
    def through_kernel(fs):
        out = np.empty((len(fs), 3))
        for i in range(len(fs)):
            out[i, 0], out[i, 1] = kernels._logistic(fs[i], 1.0)
            _, out[i, 2] = kernels._logistic(fs[i], 0.0)
        return out

    fs = np.concatenate([np.linspace(-20, 20, 100_003), [-1e4, -16.0, 0.0, 16.0, 1e4]])
    got = through_kernel(fs)
    np.testing.assert_allclose(got[:, 0], 0.5 * (1 + np.tanh(fs / 2)), atol=3e-7)
    np.testing.assert_allclose(got[:, 1], np.logaddexp(0, -fs), atol=3e-7, rtol=2e-6)  # -log sigmoid(f)
    # -log sigmoid(-f) = -log sigmoid(f) + f: exact up to the float32 rounding of the table (~1e-6 near 16)
    np.testing.assert_allclose(got[:, 2], np.logaddexp(0, fs), atol=2e-6, rtol=2e-6)


# -- schedule and plan -----------------------------------------------------------------------------------
def test_learning_rate_is_linear_and_clamped():
    assert learning_rate(0.025, 0.0001, 0.0) == 0.025
    assert learning_rate(0.025, 0.0001, 1.0) == pytest.approx(0.0001)
    assert learning_rate(0.025, 0.0001, 0.5) == pytest.approx((0.025 + 0.0001) / 2)
    assert learning_rate(0.025, 0.0001, 2.0) == pytest.approx(0.0001)


def test_plan_chunks_cuts_at_sentence_ends_and_covers_everything():
    ends = np.cumsum(np.random.default_rng(1).integers(1, 3000, 500)).astype(np.int64)
    bounds = plan_chunks(ends, 10_000)
    assert bounds[0] == 0 and bounds[-1] == len(ends)
    assert (np.diff(bounds) > 0).all()
    sizes = [ends[b - 1] - (0 if a == 0 else ends[a - 1]) for a, b in zip(bounds[:-1], bounds[1:])]
    assert sum(sizes) == ends[-1]
    assert max(sizes) < 10_000 + 3000
    assert plan_chunks(np.array([5], dtype=np.int64), 10_000).tolist() == [0, 1]


def test_chunk_seeds_differ():
    seeds = {chunk_seed(1, e, c) for e in range(1, 4) for c in range(1000)}
    assert len(seeds) == 3000
    assert chunk_seed(1, 1, 0) != chunk_seed(2, 1, 0)
    # the ranks of a distributed training count chunks in their own shares: their streams must differ too
    ranked = {chunk_seed(1, e, c, r) for e in range(1, 4) for c in range(1000) for r in range(8)}
    assert len(ranked) == 24_000 and seeds <= ranked
    assert chunk_seed(7, 2, 5, 0) == chunk_seed(7, 2, 5)
