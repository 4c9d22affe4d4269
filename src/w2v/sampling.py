"""The two sampling formulas of word2vec, each defined once, and their tables for the kernels.

- Subsampling of frequent words (Mikolov et al. 2013b, in the form of the C tool): a word seen ``f`` times
  among ``N`` training words is kept with probability ``min(1, (sqrt(f/(t*N)) + 1) * (t*N)/f)``.
- The noise distribution of negative sampling: ``P(w) = count(w)^a / sum_v count(v)^a`` with ``a = 0.75``
  (Mikolov 2013b found 3/4 better than the unigram (1) or uniform (0) distribution).

The kernels draw with 32-bit random numbers, so both are turned into integer thresholds here:
``keep_thresholds`` (keep when ``r32 < threshold``) and ``alias_table``, Walker's alias method (Vose's
construction) packed into one ``uint64`` per word so that each draw touches one cache line and costs O(1),
with no rounding of rare words (the C tool's 100M-entry table gives a word of probability below 1e-8 no
slot at all).
"""

from __future__ import annotations

import numpy as np

_TWO32 = float(2**32)


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """Probability of keeping each word under subsampling.

    Parameters
    ----------
    counts : int64[V]
        Corpus frequency of each word.
    sample : float
        The threshold ``t``; 0 keeps every word.

    Returns
    -------
    float64[V] in (0, 1].
    """
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones_like(counts)
    threshold = sample * counts.sum()  # t * N
    with np.errstate(divide="ignore"):
        p = (np.sqrt(counts / threshold) + 1.0) * threshold / counts
    return np.minimum(p, 1.0)


def keep_thresholds(p: np.ndarray) -> np.ndarray:
    """``p`` as integer thresholds: a 32-bit uniform ``r`` keeps the word when ``r < threshold``.

    Returns int64[V] in [0, 2**32]; 2**32 means always kept.
    """
    return np.minimum(np.rint(np.asarray(p, dtype=np.float64) * _TWO32), _TWO32).astype(np.int64)


def noise_distribution(counts: np.ndarray, exponent: float = 0.75) -> np.ndarray:
    """``count^exponent`` normalised to sum to 1 (float64[V]).

    Computed from the logarithms, scaled by the largest weight, so that no exponent overflows or underflows
    to a distribution of NaN or zeros (``counts ** 100`` would): far from 0.75 the mass goes to the most (or,
    negative, the least) frequent words, as the formula says.
    """
    logs = exponent * np.log(np.asarray(counts, dtype=np.float64))
    weights = np.exp(logs - logs.max())
    return weights / weights.sum()


def alias_table(p: np.ndarray) -> np.ndarray:
    """Walker's alias table of the distribution ``p``, packed for the kernels.

    Bucket ``i`` (chosen uniformly) yields ``i`` with probability ``threshold_i / 2**32`` and its alias
    otherwise.  Entry ``i`` is ``(threshold_i << 32) | alias_i``; a full bucket has ``alias_i == i``, so a
    threshold of ``2**32`` never needs to be stored.

    Parameters
    ----------
    p : float64[V]
        Probabilities summing to 1 (V < 2**32).

    Returns
    -------
    uint64[V]
    """
    p = np.asarray(p, dtype=np.float64)
    n = len(p)
    scaled = p * (n / p.sum())  # mean 1: a bucket holds exactly one unit of probability
    alias = np.arange(n, dtype=np.int64)
    small = [int(i) for i in np.flatnonzero(scaled < 1.0)]
    large = [int(i) for i in np.flatnonzero(scaled >= 1.0)]
    prob = scaled.copy()
    while small and large:
        s = small.pop()
        g = large[-1]
        alias[s] = g
        prob[g] -= 1.0 - prob[s]  # g gives the rest of bucket s
        if prob[g] < 1.0:
            large.pop()
            small.append(g)
    for i in small + large:  # left over only through rounding: full buckets
        prob[i] = 1.0
        alias[i] = i
    threshold = np.minimum(np.floor(prob * _TWO32), _TWO32 - 1).astype(np.uint64)
    full = prob >= 1.0
    alias[full] = np.flatnonzero(full)
    return (threshold << np.uint64(32)) | alias.astype(np.uint64)


def alias_probabilities(table: np.ndarray) -> np.ndarray:
    """The exact distribution an alias table draws from (float64[V]); the inverse of :func:`alias_table`."""
    table = np.asarray(table, dtype=np.uint64)
    n = len(table)
    threshold = (table >> np.uint64(32)).astype(np.float64) / _TWO32
    alias = (table & np.uint64(0xFFFFFFFF)).astype(np.int64)
    own = np.where(alias == np.arange(n), 1.0, threshold)
    p = own.copy()
    np.add.at(p, alias, 1.0 - own)
    return p / n
