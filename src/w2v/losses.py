"""The three losses: what each needs beside the kernels, defined once.

- ``ns``, negative sampling (Mikolov et al. 2013b): each example updates its target's output row and
  ``negative`` noise words' rows drawn from ``count^ns_exponent`` (:mod:`w2v.sampling`); ``W_out`` has one
  row per word.  The default: the cost of an example does not depend on the vocabulary.
- ``hs``, hierarchical softmax (Morin and Bengio 2005; Mikolov 2013a): ``P(word | v)`` is the product of
  binary decisions along the word's path in a binary tree over the vocabulary; a Huffman tree built from the
  counts (as the C tool's ``CreateBinaryTree`` and gensim do) gives frequent words short paths, so an
  example costs about ``log2(V)`` logistic steps (fewer on average: the mean path is the entropy of the
  unigram distribution in bits).  ``W_out`` has one row per inner node: ``V - 1`` rows.
- ``softmax``, the exact softmax over the whole vocabulary: ``W_out`` has one row per word, and every
  example updates every row (``O(V d)``).  For small vocabularies, and to show what the other two avoid;
  refused above :data:`SOFTMAX_MAX_VOCAB` words.

The tree is a pure function of the counts in vocabulary order, so it is not stored: a model file of an hs
model stores its CRC (:func:`tree_fingerprint`), and loading rebuilds the tree and checks it.
"""

from __future__ import annotations

import zlib

import numpy as np

from . import sampling
from .config import LOSSES  # noqa: F401  (the names, defined with the setting)
from .errors import ConfigError, ModelFileError

SOFTMAX_MAX_VOCAB = 20_000
"""The largest vocabulary the full softmax trains (a bigger one is refused, with the estimated time per
epoch).  Each example costs two passes over the ``V x dim`` output weights: at 20,000 words and dim 100
about 0.6-1 ms here, over a thousand times a negative-sampling example: a skip-gram epoch of a 17M-token
corpus would take about a day on one core (docs/NEGATIVE_SAMPLING.md)."""

SOFTMAX_SECONDS_PER_ROW_DIM = 0.4e-9
"""Cost of the softmax kernels per example, per output row and dimension: measured 0.19-0.22 ns at 1,000
words, 0.32-0.50 ns at 10,000 and 67,873 words, where the output matrix no longer fits the caches
(benchmarks/losses.py, two runs on one core of the project's shared 2-core VM, dim 100).  The basis of the
estimate in the refusal."""


def output_rows(loss: str, vocab_size: int) -> int:
    """Rows of ``W_out`` for ``loss``: the inner nodes of the Huffman tree (``V - 1``) for hs, ``V`` else."""
    return max(vocab_size - 1, 0) if loss == "hs" else vocab_size


def huffman_tree(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Huffman tree of ``counts``, as each word's path from the root.

    Built as the C tool's ``CreateBinaryTree`` does, over the words sorted by decreasing count (ties kept in
    vocabulary order): two queues, the leaves from the rarest up and the inner nodes in the order they are
    made; each step joins the two smallest, a leaf winning a tie only when strictly smaller.  Inner node
    ``k`` (0-based, in the order made) is row ``k`` of ``W_out``; the root is the last, ``V - 2``.

    Parameters
    ----------
    counts : int64[V]
        The words' corpus counts, in vocabulary order.

    Returns
    -------
    offsets : int64[V + 1]
        Word ``w``'s path is ``paths[offsets[w]:offsets[w + 1]]``, from the root down.
    paths : int32[L]
        ``node << 1 | code``: the inner node (its row of ``W_out``) and the branch taken there (0 or 1);
        ``L`` is the sum of the code lengths.  A vocabulary of one word has an empty path.
    """
    counts = np.asarray(counts, dtype=np.int64)
    n = len(counts)
    if n >= 2**30:
        raise ValueError(f"a Huffman tree over {n} words does not fit the packed int32 paths")
    order = np.argsort(-counts, kind="stable")          # rank -> word, most frequent first
    sorted_counts = counts[order].tolist()
    parent = [0] * (2 * n)                              # by node: leaves are ranks 0..n-1, inner nodes n..
    code = [0] * (2 * n)
    inner = [0] * max(n - 1, 0)                         # counts of the inner nodes, in the order made
    leaf = n - 1                                        # the rarest leaf not yet joined
    made = 0                                            # the first inner node not yet joined
    for k in range(n - 1):
        pair = []
        for _ in range(2):
            if leaf >= 0 and (made >= k or sorted_counts[leaf] < inner[made]):
                pair.append((leaf, sorted_counts[leaf]))
                leaf -= 1
            else:
                pair.append((n + made, inner[made]))
                made += 1
        inner[k] = pair[0][1] + pair[1][1]
        parent[pair[0][0]] = parent[pair[1][0]] = n + k
        code[pair[1][0]] = 1
    parent_a = np.asarray(parent, dtype=np.int64)
    code_a = np.asarray(code, dtype=np.int64)
    # depth of every node, from the root down (a parent is always made after its children)
    depth = np.zeros(2 * n, dtype=np.int64)
    for node in range(2 * n - 3, -1, -1):
        depth[node] = depth[parent_a[node]] + 1
    lengths = np.zeros(n, dtype=np.int64)
    lengths[order] = depth[:n] if n > 1 else 0
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    paths = np.empty(int(offsets[-1]), dtype=np.int32)
    # walk every leaf up at once: step s writes the node s levels above the leaf, from the end of its path
    node = np.arange(n, dtype=np.int64)                 # by rank
    pos = offsets[order + 1] - 1                        # where each rank's next entry (from the end) goes
    active = depth[:n] > 0 if n > 1 else np.zeros(n, dtype=bool)
    while active.any():
        at = np.flatnonzero(active)
        up = parent_a[node[at]]
        paths[pos[at]] = ((up - n) << 1) | code_a[node[at]]
        node[at] = up
        pos[at] -= 1
        active[at] = up != 2 * n - 2
    return offsets, paths


def tree_fingerprint(counts: np.ndarray) -> int:
    """CRC-32 of the Huffman tree of ``counts``: stored with an hs model, checked when it is loaded."""
    offsets, paths = huffman_tree(counts)
    return zlib.crc32(paths.tobytes(), zlib.crc32(offsets.tobytes()))


def check_tree(config, counts: np.ndarray, header: dict, where: str) -> None:
    """Refuse an hs model whose tree, rebuilt from its counts, is not the one it was trained with (the CRC
    that :func:`file_header` wrote)."""
    if config.loss != "hs":
        return
    if header.get(TREE_KEY) != tree_fingerprint(counts):
        raise ModelFileError(f"{where}: the Huffman tree rebuilt from the model's counts is not the one it was "
                             "trained with (corrupt counts, or a w2v that builds the tree differently); its "
                             "hierarchical-softmax weights cannot be used")


def kernel_tables(config, counts: np.ndarray) -> tuple[np.ndarray, ...]:
    """The kernels' read-only tables for ``config.loss`` (see :mod:`w2v.kernels`): the subsampling thresholds,
    then the noise distribution's alias table (ns) or the Huffman paths (hs)."""
    keep = sampling.keep_thresholds(sampling.keep_probabilities(counts, config.sample))
    if config.loss == "ns":
        return keep, sampling.alias_table(sampling.noise_distribution(counts, config.noise_exponent))
    if config.loss == "hs":
        return (keep,) + huffman_tree(counts)
    return (keep,)


def examples_per_epoch(config, counts: np.ndarray) -> float:
    """Expected training examples of one pass: tokens kept by subsampling, times the mean number of context
    words of a centre word (``window + 1``: the window is drawn from 1..window, on both sides) for skip-gram,
    once for CBOW.  Sentence edges make the true figure a little smaller."""
    kept = float(np.sum(np.asarray(counts, dtype=np.float64) * sampling.keep_probabilities(counts, config.sample)))
    return kept * (config.window + 1) if config.model == "sg" else kept


def check_vocab(config, counts: np.ndarray) -> None:
    """Refuse the softmax above :data:`SOFTMAX_MAX_VOCAB` words, saying what an epoch would cost.

    Raises
    ------
    ConfigError
        ``loss='softmax'`` and a vocabulary larger than :data:`SOFTMAX_MAX_VOCAB`.
    """
    n = len(counts)
    if config.loss != "softmax" or n <= SOFTMAX_MAX_VOCAB:
        return
    examples = examples_per_epoch(config, counts)
    seconds = examples * n * config.dim * SOFTMAX_SECONDS_PER_ROW_DIM / max(config.n_threads, 1)
    raise ConfigError(f"'loss' 'softmax' normalises over the whole vocabulary for every training example: "
                      f"{n:,} words here, about {_duration(seconds)} per epoch ({examples:,.0f} examples x "
                      f"{n:,} rows x {config.dim} dimensions, {config.n_threads} thread"
                      f"{'s' if config.n_threads != 1 else ''}); it is refused above {SOFTMAX_MAX_VOCAB:,} "
                      f"words. Use loss 'ns' (the default, a cost independent of the vocabulary) or 'hs', or "
                      f"'max_final_vocab' {SOFTMAX_MAX_VOCAB:,} or less")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} hours"
    return f"{seconds / 86400:.0f} days"


TREE_KEY = "huffman_crc32"  # the header entry of an hs model or checkpoint file


def file_header(config, counts: np.ndarray) -> dict:
    """What a model or checkpoint file's header records for the loss: the tree's CRC under hs."""
    return {TREE_KEY: tree_fingerprint(counts)} if config.loss == "hs" else {}
