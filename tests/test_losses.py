"""The three losses: hierarchical softmax and the full softmax beside negative sampling.

Kernels against the NumPy reference and finite differences, the Huffman tree, the settings each loss
refuses, the model file (format 2, older files read), continued training, resumption, update_vocab, the
engines that refuse a loss, and the worked example of the noise distribution.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
import struct
from dataclasses import fields

import numpy as np
import pytest

from w2v import Config, ConfigError, ModelFileError, Word2Vec, cli, formats, kernels, losses, sampling
from w2v.checkpoint import load_checkpoint
from w2v.train import init_weights

from reference import SplitMix64, reference_chunk_loss

NEW = [("sg", "hs"), ("cbow", "hs"), ("sg", "softmax"), ("cbow", "softmax")]


def problem(loss, seed=0, vocab=12, dim=8, n_tokens=120):
    """A small chunk, and the tables and weights ``loss`` trains with (W_out of V - 1 rows for hs)."""
    rng = np.random.default_rng(seed)
    counts = np.sort(rng.integers(1, 50, vocab))[::-1].astype(np.int64)
    ids = rng.integers(0, vocab, n_tokens).astype(np.int32)
    ends = np.array([7, 30, 31, 55, 90, n_tokens], dtype=np.int64)
    w_in = rng.random((vocab, dim), dtype=np.float32) - 0.5
    w_out = (rng.random((losses.output_rows(loss, vocab), dim), dtype=np.float32) - 0.5) * 0.5
    return (w_in, w_out), losses.kernel_tables(Config(loss=loss, sample=0.05), counts), ids, ends


# -- kernels -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model,loss,cbow_mean", [(m, loss, 1) for m, loss in NEW] + [("cbow", "hs", 0),
                                                                                   ("cbow", "softmax", 0)])
def test_kernel_matches_numpy_reference(model, loss, cbow_mean):
    weights, tables, ids, ends = problem(loss)
    params = (np.int64(3), np.int64(0), np.int64(cbow_mean))
    ref_in, ref_out, ref_stats = reference_chunk_loss(model, loss, weights, tables, ids, ends, 1, 6, params, 0.1,
                                                      99)
    w = (weights[0].copy(), weights[1].copy())
    stats = kernels.KERNELS[(model, loss, False)](w, tables, ids, ends, 1, 6, params, 0.1, 99)
    np.testing.assert_allclose(w[0], ref_in, atol=2e-6)
    np.testing.assert_allclose(w[1], ref_out, atol=2e-6)
    assert stats[1:] == ref_stats[1:]
    assert stats[0] == pytest.approx(ref_stats[0], rel=1e-5)


@pytest.mark.parametrize("model,loss", NEW)
def test_empty_chunk_changes_nothing_and_a_seed_reproduces(model, loss):
    kernel = kernels.KERNELS[(model, loss, False)]
    params = (np.int64(3), np.int64(0), np.int64(1))
    weights, tables, ids, ends = problem(loss)
    before = (weights[0].copy(), weights[1].copy())
    assert kernel(weights, tables, ids, ends, 2, 2, params, 0.1, 1) == (0.0, 0, 0, 0)
    np.testing.assert_array_equal(weights[1], before[1])
    runs = []
    for _ in range(2):
        w = (before[0].copy(), before[1].copy())
        kernel(w, tables, ids, ends, 0, len(ends), params, 0.1, 42)
        runs.append(w)
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def example_loss(loss, tables, h, w_out, target):
    """The exact loss of one example, float64: -log P(target | h)."""
    if loss == "softmax":
        z = w_out @ h
        return float(np.logaddexp.reduce(z) - z[target])
    offsets, paths = tables[1], tables[2]
    total = 0.0
    for p in paths[offsets[target]:offsets[target + 1]]:
        f = w_out[int(p) >> 1] @ h
        total += np.logaddexp(0.0, -f if (int(p) & 1) == 0 else f)  # -log s(f) for code 0, -log s(-f) for 1
    return total


def numeric_gradient(fn, x, eps=1e-6):
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[index] = eps
        grad[index] = (fn(x + e) - fn(x - e)) / (2 * eps)
    return grad


@pytest.mark.parametrize("model,loss", NEW)
def test_each_update_is_a_gradient_step_finite_differences(model, loss):
    """Sentence [0, 1, 2], window 1 (drawn: always 1), nothing subsampled: the examples, in order, are
    (context -> centre) 1->0, 0->1, 2->1, 1->2 for skip-gram and {1}->0, {0,2}->1, {1}->2 for CBOW.  Replaying
    them as plain gradient steps, each at the weights the previous one left, with gradients estimated by
    central finite differences of the exact loss, must give the kernel's weights."""
    rng = np.random.default_rng(4)
    vocab, dim, lr = 5, 4, 0.2
    counts = np.array([40, 30, 20, 10, 5], dtype=np.int64)
    tables = losses.kernel_tables(Config(loss=loss, sample=0), counts)
    w_in = rng.normal(0, 0.5, (vocab, dim)).astype(np.float32)
    w_out = rng.normal(0, 0.5, (losses.output_rows(loss, vocab), dim)).astype(np.float32)
    ids = np.array([0, 1, 2], dtype=np.int32)
    ends = np.array([3], dtype=np.int64)
    w = (w_in.copy(), w_out.copy())
    kernels.KERNELS[(model, loss, False)](w, tables, ids, ends, 0, 1, (np.int64(1), np.int64(0), np.int64(1)),
                                          lr, 5)
    if model == "sg":
        examples = [([1], 0), ([0], 1), ([2], 1), ([1], 2)]
    else:
        examples = [([1], 0), ([0, 2], 1), ([1], 2)]
    x_in, x_out = w_in.astype(np.float64), w_out.astype(np.float64)
    for context, target in examples:
        h = x_in[context].mean(axis=0)
        grad_h = numeric_gradient(lambda v, m=x_out, t=target: example_loss(loss, tables, v, m, t), h)
        grad_out = numeric_gradient(lambda m, v=h, t=target: example_loss(loss, tables, v, m, t), x_out)
        x_out = x_out - lr * grad_out
        for c in context:  # the C tool's CBOW: every context word gets the whole update of h
            x_in[c] -= lr * grad_h
    np.testing.assert_allclose(w[0], x_in, atol=2e-5)
    np.testing.assert_allclose(w[1], x_out, atol=2e-5)


@pytest.mark.parametrize("model,loss", NEW)
def test_loss_starts_where_the_maths_says_and_falls(model, loss):
    """W_out at zero: every softmax example costs log V; every hs example (ln 2) x its path length.  Then
    the loss falls on a corpus of two 'topics'."""
    rng = np.random.default_rng(0)
    vocab, dim = 40, 16
    sents = [rng.integers(0, 20, 10) if i % 2 else rng.integers(20, 40, 10) for i in range(300)]
    ids = np.concatenate(sents).astype(np.int32)
    ends = np.cumsum([len(s) for s in sents]).astype(np.int64)
    counts = np.bincount(ids, minlength=vocab).astype(np.int64)
    tables = losses.kernel_tables(Config(loss=loss, sample=0), counts)
    weights = init_weights(vocab, dim, 1, losses.output_rows(loss, vocab))
    kernel = kernels.KERNELS[(model, loss, False)]
    params = (np.int64(3), np.int64(0), np.int64(1))
    first = kernel(weights, tables, ids, ends, 0, len(ends), params, 0.0, 1)
    if loss == "softmax":
        assert first[0] / first[1] == pytest.approx(math.log(vocab), rel=1e-5)
    else:
        assert first[0] / first[1] == pytest.approx(np.diff(tables[1]).mean() * math.log(2), rel=0.05)
    curve = [first[0] / first[1]]
    for epoch in range(4):
        loss_sum, examples, _, _ = kernel(weights, tables, ids, ends, 0, len(ends), params, 0.05, epoch + 2)
        curve.append(loss_sum / examples)
    assert curve[-1] < 0.9 * curve[0] and curve[2] < curve[1], curve


# -- the Huffman tree ----------------------------------------------------------------------------------------
def decode(offsets, paths):
    """Each word's path as [(node, code)], and the tree as {(node, code): child} (a child is ('leaf', w) or
    ('node', n)); asserts the paths describe one binary tree rooted at V - 2."""
    n = len(offsets) - 1
    edges = {}
    words = []
    for w in range(n):
        path = [(int(p) >> 1, int(p) & 1) for p in paths[offsets[w]:offsets[w + 1]]]
        words.append(path)
        if n > 1:
            assert path[0][0] == n - 2  # the root
        for (node, code), nxt in zip(path, path[1:] + [None]):
            child = ("leaf", w) if nxt is None else ("node", nxt[0])
            assert edges.setdefault((node, code), child) == child
    return words, edges


def test_huffman_tree_is_the_c_tools():
    """counts 4, 3, 2, 1 worked by hand through CreateBinaryTree (a leaf wins a tie only when smaller)."""
    offsets, paths = losses.huffman_tree(np.array([4, 3, 2, 1]))
    words, _ = decode(offsets, paths)
    assert words == [[(2, 0)], [(2, 1), (1, 1)], [(2, 1), (1, 0), (0, 1)], [(2, 1), (1, 0), (0, 0)]]


@pytest.mark.parametrize("seed", range(4))
def test_huffman_tree_is_a_full_binary_prefix_code_of_optimal_length(seed):
    rng = np.random.default_rng(seed)
    n = [2, 3, 50, 3000][seed]
    counts = np.sort(np.minimum(rng.zipf(1.3, n), 10**6))[::-1].astype(np.int64)  # many ties
    offsets, paths = losses.huffman_tree(counts)
    _, edges = decode(offsets, paths)
    assert len(edges) == 2 * (n - 1)                 # every inner node has both children
    assert {c for c in edges.values() if c[0] == "leaf"} == {("leaf", w) for w in range(n)}
    assert {node for node, _ in edges} == set(range(n - 1))
    lengths = np.diff(offsets)
    # the optimal total code length (any Huffman code has it), by the textbook heap construction
    heap = [int(c) for c in counts]
    heapq.heapify(heap)
    optimal = 0
    while len(heap) > 1:
        a, b = heapq.heappop(heap), heapq.heappop(heap)
        optimal += a + b
        heapq.heappush(heap, a + b)
    assert int(lengths @ counts) == optimal
    assert (np.diff(lengths) >= 0).all()             # counts descending: frequent words, short codes


def test_huffman_tree_small_and_unsorted_vocabularies():
    offsets, paths = losses.huffman_tree(np.array([7]))
    assert offsets.tolist() == [0, 0] and len(paths) == 0  # one word: nothing to decide
    offsets, paths = losses.huffman_tree(np.array([3, 5]))
    words, _ = decode(offsets, paths)
    assert sorted(words) == [[(0, 0)], [(0, 1)]]
    counts = np.array([5, 40, 1, 9, 9, 2])
    order = np.argsort(-counts, kind="stable")
    a = decode(*losses.huffman_tree(counts))[0]
    b = decode(*losses.huffman_tree(counts[order]))[0]
    assert [a[w] for w in order] == b                # the tree follows the counts, not the order given
    assert losses.tree_fingerprint(counts) == losses.tree_fingerprint(counts.copy())


# -- settings -------------------------------------------------------------------------------------------------
def test_loss_defaults_and_choices():
    assert Config().loss == "ns" and Config().n_negative == 5 and Config().noise_exponent == 0.75
    assert Config(negative=7).n_negative == 7 and Config(ns_exponent=0.5).noise_exponent == 0.5
    for loss in ("hs", "softmax"):
        cfg = Config(loss=loss)
        assert cfg.n_negative == 0 and not cfg.use_hogbatch
        assert not Config(model="cbow", loss=loss).use_hogbatch
    with pytest.raises(ConfigError, match="'loss' must be one of 'ns', 'hs', 'softmax'; got 'nce'"):
        Config(loss="nce")
    help_text = next(f for f in fields(Config) if f.name == "loss").metadata["help"]
    assert f"refused above {losses.SOFTMAX_MAX_VOCAB:,} words" in help_text  # the help states the limit


@pytest.mark.parametrize("loss", ["hs", "softmax"])
@pytest.mark.parametrize("name,value", [("negative", 5), ("ns_exponent", 0.75), ("hogbatch", True),
                                        ("hogbatch", False)])
def test_negative_sampling_settings_are_refused_with_another_loss(loss, name, value):
    with pytest.raises(ConfigError) as err:
        Config(loss=loss, **{name: value})
    assert f"'{name}'" in str(err.value) and f"'loss' {loss!r}" in str(err.value)


@pytest.mark.parametrize("flag,value", [("--negative", "5"), ("--ns-exponent", "0.5"), ("--hogbatch", None),
                                        ("--no-hogbatch", None)])
def test_negative_sampling_flags_with_hs_on_the_command_line(flag, value, tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c\n")
    args = ["train", str(corpus), "-o", str(tmp_path / "m.w2v"), "--quiet", "--loss", "hs", flag]
    rc = cli.main(args + ([value] if value else []))
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert flag.replace("--no-", "--") in err and "--loss 'hs'" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.txt"]


@pytest.mark.parametrize("model", ["sg", "cbow"])
@pytest.mark.parametrize("loss", ["hs", "softmax"])
def test_train_with_each_loss_on_the_command_line(model, loss, tmp_path, capsys):
    """`w2v train --loss hs|softmax` as the README shows it, for both models."""
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(" ".join(s) for s in topics(3000)) + "\n")
    out = tmp_path / "m.w2v"
    rc = cli.main(["train", str(corpus), "-o", str(out), "--model", model, "--loss", loss, "--dim", "8",
                   "--min-count", "1", "--epochs", "2", "--threads", "2"])
    assert rc == 0, capsys.readouterr().err
    m = Word2Vec.load(out)
    assert m.config.loss == loss and m.weights[1].shape == (losses.output_rows(loss, 60), 8)


def test_softmax_over_a_large_vocabulary_is_refused_with_the_cost(monkeypatch):
    monkeypatch.setattr(losses, "SOFTMAX_MAX_VOCAB", 30)
    sentences = [[f"w{i % 60}" for i in range(j, j + 40)] for j in range(100)]
    with pytest.raises(ConfigError) as err:
        Word2Vec(loss="softmax", min_count=1, threads=1).train(sentences, progress=False)
    message = str(err.value)
    for fragment in ("60 words", "per epoch", "refused above 30 words", "'ns'", "'max_final_vocab'"):
        assert fragment in message, message
    model = Word2Vec(loss="softmax", min_count=1, threads=1, max_final_vocab=30, epochs=1)
    assert len(model.train(sentences, progress=False).vocab) == 30


def test_the_torch_engine_refuses_hs_and_softmax():
    pytest.importorskip("torch")
    from w2v.engine import make_engine

    sentences = [["a", "b", "c", "a", "b"]] * 20
    for loss in ("hs", "softmax"):
        with pytest.raises(ConfigError, match=f"'loss' '{loss}' is implemented by the Numba kernels only"):
            Word2Vec(loss=loss, min_count=1, backend="torch").train(sentences, progress=False)
        cfg = Config(loss=loss)
        with pytest.raises(ConfigError, match="torch"):
            make_engine("cpu", "torch", cfg, init_weights(3, 4, 1, losses.output_rows(loss, 3)), ())


# -- the trainer, the file, continued training --------------------------------------------------------------
def topics(n=6000, seed=0):
    """Sentences from two disjoint topics of 30 words each."""
    rng = np.random.default_rng(seed)
    return [[f"{'ab'[i % 2]}{w}" for w in rng.integers(0, 30, 12)] for i in range(n // 12)]


def separation(model):
    """Mean cosine within topics minus across them."""
    v = model.wv.vectors / np.linalg.norm(model.wv.vectors, axis=1, keepdims=True)
    side = np.array([w[0] == "a" for w in model.wv.index_to_key])
    sims = v @ v.T
    same = sims[np.equal.outer(side, side)].mean()
    return same - sims[~np.equal.outer(side, side)].mean()


@pytest.mark.parametrize("model", ["sg", "cbow"])
@pytest.mark.parametrize("loss", ["hs", "softmax"])
def test_trainer_learns_topics_and_saves_and_reloads(model, loss, tmp_path):
    settings = dict(model=model, loss=loss, dim=16, window=3, min_count=1, epochs=4, threads=2, seed=3)
    m = Word2Vec(**settings).train(topics(), progress=False)
    assert m.weights[1].shape == (losses.output_rows(loss, 60), 16)
    assert separation(m) > 0.3, separation(m)
    log_ = [e["loss"] for e in m.training_log]
    assert log_[-1] < log_[0]
    m.save(tmp_path / "m.w2v")
    info = formats.native_info(tmp_path / "m.w2v")
    assert info["arrays"]["output"]["shape"] == m.weights[1].shape
    assert info["header"]["config"]["loss"] == loss and info["header"]["config"]["negative"] is None
    again = Word2Vec.load(tmp_path / "m.w2v")
    np.testing.assert_array_equal(again.weights[1], m.weights[1])
    again.train(topics(seed=1), epochs=1, progress=False)  # continued training
    assert len(again.training_log) == 5


def test_model_file_is_format_2_and_a_format_1_file_still_loads(tmp_path, monkeypatch):
    m = Word2Vec(dim=8, min_count=1, epochs=1, threads=1).train(topics(600), progress=False)
    m.save(tmp_path / "new.w2v")
    assert struct.unpack_from("<I", (tmp_path / "new.w2v").read_bytes(), 8)[0] == formats.FORMAT_VERSION == 2
    # what w2v wrote before the losses: format 1, no 'loss', 'negative' and 'ns_exponent' given
    config = {k: v for k, v in m.config.to_dict().items() if k != "loss"}
    config.update(negative=5, ns_exponent=0.75)
    monkeypatch.setattr(formats, "FORMAT_VERSION", 1)
    formats.save_native(tmp_path / "old.w2v", words=list(m.vocab.words),
                        arrays={"vectors": m.weights[0], "output": m.weights[1], "counts": m.vocab.counts},
                        header={"kind": "model", "config": config, "training_log": m.training_log})
    monkeypatch.undo()
    assert struct.unpack_from("<I", (tmp_path / "old.w2v").read_bytes(), 8)[0] == 1
    assert "loss" not in formats.native_info(tmp_path / "old.w2v")["header"]["config"]
    old = Word2Vec.load(tmp_path / "old.w2v")
    assert old.config.loss == "ns" and old.config.n_negative == 5
    np.testing.assert_array_equal(old.weights[1], m.weights[1])
    old.train(topics(600, seed=2), epochs=1, progress=False)


def test_hs_file_with_a_tree_that_does_not_match_is_refused(tmp_path):
    m = Word2Vec(loss="hs", dim=8, min_count=1, epochs=1, threads=1).train(topics(600), progress=False)
    m.save(tmp_path / "m.w2v")
    raw = bytearray((tmp_path / "m.w2v").read_bytes())
    json_len = struct.unpack_from("<Q", raw, 16)[0]
    meta = json.loads(raw[24:24 + json_len])
    counts = meta["arrays"]["counts"]
    struct.pack_into("<q", raw, counts["offset"] + 8 * 59, 10**6)  # the rarest word, now the most frequent
    del counts["crc32"]  # as if written so (the checksum would catch a flipped count first)
    text = json.dumps(meta).encode()
    raw[24:24 + json_len] = text + b" " * (json_len - len(text))
    struct.pack_into("<I", raw, 12, 0)  # nor the JSON's
    (tmp_path / "m.w2v").write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="Huffman tree rebuilt"):
        Word2Vec.load(tmp_path / "m.w2v")
    raw = bytearray((tmp_path / "m.w2v").read_bytes())
    shape = meta["arrays"]["output"]["shape"]
    assert shape == [59, 8]  # V - 1 rows


@pytest.mark.parametrize("loss", ["hs", "softmax"])
def test_resume_is_bit_identical(loss, tmp_path):
    """Interrupted after its first pass (deterministically: Ctrl-C from a callback), then resumed: the same
    weights and log as a training never interrupted.  (Mid-pass positions are the trainer's business,
    whatever the loss: tests/test_checkpoint.py.)"""
    from w2v.train import TrainingInterrupted

    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(" ".join(s) for s in topics(30_000)) + "\n")
    settings = dict(loss=loss, dim=8, window=2, min_count=1, epochs=2, threads=1, seed=5)
    reference = Word2Vec(**settings).train(corpus, progress=False)
    ckpt = tmp_path / "m.ckpt"

    def stop(entry):
        raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted, match="after pass 1"):
        Word2Vec(**settings).train(corpus, progress=False, checkpoint=ckpt, callbacks=[stop])
    assert json.dumps(load_checkpoint(ckpt)[0].header["config"]) == json.dumps(reference.config.to_dict())
    resumed = Word2Vec.resume(ckpt, corpus, progress=False)
    np.testing.assert_array_equal(resumed.weights[0], reference.weights[0])
    np.testing.assert_array_equal(resumed.weights[1], reference.weights[1])
    assert [e["loss"] for e in resumed.training_log] == [e["loss"] for e in reference.training_log]


def test_update_vocab_under_hs_rebuilds_the_tree_and_says_so(caplog):
    m = Word2Vec(loss="hs", dim=8, min_count=1, epochs=1, threads=1).train(topics(1200), progress=False)
    vectors = {w: m.wv[w].copy() for w in ("a1", "b2")}
    more = topics(1200, seed=1) + [["new", "words", "here"]] * 3
    with caplog.at_level(logging.WARNING, logger="w2v"):
        m.train(more, epochs=1, update_vocab=True, progress=False)
    assert "Huffman tree is rebuilt" in caplog.text and "63 words" in caplog.text
    assert m.weights[1].shape == (62, 8) and len(m.vocab) == 63
    assert np.isfinite(m.training_log[-1]["loss"])
    assert all(np.abs(m.wv[w] - v).max() < 1 for w, v in vectors.items())  # input vectors kept (and trained)
    again = Word2Vec(loss="softmax", dim=8, min_count=1, epochs=1, threads=1).train(topics(1200), progress=False)
    again.train(more, epochs=1, update_vocab=True, progress=False)
    assert again.weights[1].shape == (63, 8)


# -- the noise distribution -----------------------------------------------------------------------------------
def test_pens_notebooks_and_a_pencil():
    """The worked example, done right: the 3/4 power moves probability from the frequent item to the rare
    ones only once renormalised (0.71 ** 0.75 = 0.77, the popular mistake, points the other way)."""
    counts = np.array([3, 10, 1])  # pens, notebooks, pencil
    raw = sampling.noise_distribution(counts, 1.0)
    smoothed = sampling.noise_distribution(counts, 0.75)
    assert np.round(raw, 2).tolist() == [0.21, 0.71, 0.07]
    assert np.round(smoothed, 2).tolist() == [0.26, 0.63, 0.11]
    assert round(0.71 ** 0.75, 2) == 0.77 > raw[1] > smoothed[1]
    assert smoothed[2] > raw[2] and smoothed[0] > raw[0]
    # and the kernels draw exactly that: the alias table's distribution, and 100,000 of its draws
    table = sampling.alias_table(smoothed)
    np.testing.assert_allclose(sampling.alias_probabilities(table), smoothed, atol=1e-9)
    from reference import draw_noise

    rng = SplitMix64(11)
    drawn = np.bincount([draw_noise(table, rng.next()) for _ in range(100_000)], minlength=3) / 100_000
    np.testing.assert_allclose(drawn, smoothed, atol=0.005)
