"""The torch engine (``--backend torch``, the GPU path) on the CPU: its batch update against the NumPy reference
on the same draws, its draws' statistics, the same corpus trained by both backends, checkpoints across
backends, and the command line's device errors."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the torch backend needs PyTorch (pip install 'w2v[torch]'); "
                                            "`make test` installs it")

from w2v import Config, Word2Vec, cli, sampling  # noqa: E402
from w2v.checkpoint import load_checkpoint  # noqa: E402
from w2v.engine import Batch, check_available, resolve  # noqa: E402
from w2v.errors import ConfigError, DeviceError, ResourceError  # noqa: E402
from w2v.torch_engine import TorchEngine, random32  # noqa: E402

from reference import (VARIANTS, noise_draw, random32 as reference_random32, reference_torch_batch,  # noqa: E402
                       tiny_batch)
from test_bad_input import assert_one_line_error  # noqa: E402



@pytest.mark.parametrize("variant,cbow_mean", [("sg", True), ("sg-hogbatch", True), ("cbow", True),
                                               ("cbow", False)])
def test_batch_update_matches_the_numpy_reference(variant, cbow_mean):
    """Two chunks, steps of 5 kept centres (so several steps and a padded last one), lr 0.2 and big weights
    (so the damping of rows hit several times in a step matters)."""
    weights, tables, batch = tiny_batch()
    config = Config(window=3, negative=4, cbow_mean=cbow_mean, threads=1, dim=8, **VARIANTS[variant])
    params = (3, 4, int(cbow_mean))
    ref_in, ref_out, ref_stats = reference_torch_batch(variant, weights, tables, batch.ids, batch.sentence_ends,
                                                       batch.chunk_sentences, batch.lrs, batch.seeds, params, 5)
    w = (weights[0].copy(), weights[1].copy())
    engine = TorchEngine(config, w, tables, "cpu", step_centres=5)
    try:
        stats = engine.train(batch)
    finally:
        engine.close()
    assert np.abs(ref_in - weights[0]).max() > 0.01  # the batch did move the weights
    np.testing.assert_allclose(w[0], ref_in, atol=2e-5)
    np.testing.assert_allclose(w[1], ref_out, atol=2e-5)
    assert stats[1:] == ref_stats[1:]
    assert stats[2] == 140
    assert stats[0] == pytest.approx(ref_stats[0], rel=1e-5)


def test_random32_matches_the_reference_and_is_uniform():
    seeds = [0, 1, 2**63 + 5, 2**64 - 1]
    counters = np.array([0, 1, 2, 3, 2**32 - 1, 2**32, 2**40 + 17, 123456789], dtype=np.int64)
    for seed in seeds:
        got = random32(torch.tensor(seed & 0xFFFFFFFF), torch.tensor(seed >> 32), torch.from_numpy(counters))
        assert got.tolist() == [reference_random32(seed, int(c)) for c in counters]
    draws = random32(torch.tensor(99), torch.tensor(7), torch.arange(200_000)).numpy()
    assert draws.min() >= 0 and draws.max() < 2**32
    observed = np.bincount(draws >> 28, minlength=16)  # 16 bins of the top bits
    chi2 = ((observed - 12_500.0) ** 2 / 12_500.0).sum()
    assert chi2 < 37.7  # 15 degrees of freedom, p = 0.001
    low = np.bincount(draws & 15, minlength=16)  # and of the low bits
    assert ((low - 12_500.0) ** 2 / 12_500.0).sum() < 37.7


def test_noise_draws_follow_the_alias_table():
    """The engine's noise words, 200,000 draws, against count^0.75 (chi-square), and draw for draw the
    reference's."""
    counts = np.array([500, 200, 90, 40, 10, 3, 1], dtype=np.int64)
    p = sampling.noise_distribution(counts, 0.75)
    noise = sampling.alias_table(p)
    config = Config(window=2, negative=1, threads=1, dim=4, model="cbow")
    w = (np.zeros((7, 4), np.float32), np.zeros((7, 4), np.float32))
    engine = TorchEngine(config, w, (np.full(7, 2**32, np.int64), noise), "cpu")
    counter = torch.arange(0, 400_000, 2)
    drawn = engine._noise(torch.tensor(5), torch.tensor(0), counter).numpy()
    engine.close()
    assert [noise_draw(noise, 5, int(c)) for c in counter[:500]] == drawn[:500].tolist()
    observed = np.bincount(drawn, minlength=7)
    expected = p * len(drawn)
    assert ((observed - expected) ** 2 / expected).sum() < 22.5  # 6 degrees of freedom, p = 0.001


def topic_corpus(n_sentences=3000, topics=4, words=30, seed=0):
    """Sentences each drawn from one topic's words (plus shared function words): vectors should cluster by
    topic.  Returns (sentences, topic of each word)."""
    rng = np.random.default_rng(seed)
    common = [f"f{i}" for i in range(8)]
    vocab = {f"t{t}w{i}": t for t in range(topics) for i in range(words)}
    sentences = []
    for _ in range(n_sentences):
        t = rng.integers(topics)
        own = [f"t{t}w{i}" for i in rng.integers(0, words, 12)]
        fill = [common[i] for i in rng.integers(0, len(common), 4)]
        sentence = own + fill
        rng.shuffle(sentence)
        sentences.append(sentence)
    return sentences, vocab


def topic_separation(model, vocab) -> float:
    """Mean cosine of same-topic word pairs minus mean cosine of different-topic pairs."""
    words = [w for w in vocab if w in model.wv.key_to_index]
    v = np.stack([model.wv[w] for w in words])
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    sims = v @ v.T
    topic = np.array([vocab[w] for w in words])
    same = topic[:, None] == topic[None, :]
    off = ~np.eye(len(words), dtype=bool)
    return float(sims[same & off].mean() - sims[~same].mean())


@pytest.mark.parametrize("model", ["sg", "cbow"])
def test_numba_and_torch_backends_learn_alike(model):
    """The same corpus, three seeds each: the torch backend's topic separation is within a band below the
    Numba backend's.  Calibrated over 8 seeds: sg 0.690 (0.688-0.692) Numba, 0.672 (0.669-0.675) torch;
    cbow 0.726 (0.720-0.740) and 0.696 (0.690-0.702).  The band, 0.06, is twice the largest mean gap."""
    sentences, vocab = topic_corpus()
    scores = {}
    for backend in ("numba", "torch"):
        scores[backend] = [topic_separation(Word2Vec(model=model, dim=24, window=4, epochs=3, min_count=1,
                                                     threads=1, seed=s, backend=backend)
                                            .train(sentences, progress=False), vocab) for s in (1, 2, 3)]
    numba, torch_ = np.mean(scores["numba"]), np.mean(scores["torch"])
    assert numba > 0.3, scores  # the task is learnable
    assert torch_ > numba - 0.06, scores


@pytest.mark.parametrize("model,hogbatch", [("sg", False), ("sg", None), ("cbow", None)])
def test_every_token_is_visited_once_per_epoch(model, hogbatch, tmp_path):
    sentences, _ = topic_corpus(n_sentences=2000)
    n = sum(len(s) for s in sentences)
    m = Word2Vec(model=model, hogbatch=hogbatch, dim=8, epochs=2, min_count=1, threads=2,
                 backend="torch").train(sentences, progress=False)
    assert [e["words"] for e in m.training_log] == [n, n]
    assert all(0 < e["kept_words"] <= n and e["examples"] > 0 for e in m.training_log)
    assert all(math.isfinite(e["loss"]) for e in m.training_log)


def test_one_thread_on_the_cpu_is_reproducible():
    sentences, _ = topic_corpus(n_sentences=500)
    runs = [Word2Vec(dim=8, epochs=1, min_count=1, threads=1, seed=3, backend="torch")
            .train(sentences, progress=False).weights for _ in range(2)]
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_on_the_cpu_no_weight_check_runs_a_pytorch_op_on_the_main_thread(monkeypatch):
    """The divergence check after each pass ran torch.isfinite on the main thread: a second OpenMP team beside
    the training thread's, more OpenMP threads than cores, and every pass after the first at half speed on
    2 cores (measured: 580,000 words/s, then 250,000).  The CPU engine scans its host arrays with NumPy."""
    import threading

    real = torch.isfinite

    def off_the_main_thread(*args, **kwargs):
        assert threading.current_thread() is not threading.main_thread(), "a PyTorch op on the main thread"
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "isfinite", off_the_main_thread)
    sentences, _ = topic_corpus(n_sentences=300)
    model = Word2Vec(dim=8, epochs=3, min_count=1, threads=2, backend="torch").train(sentences, progress=False)
    assert len(model.training_log) == 3


@pytest.mark.parametrize("first,then", [("torch", "numba"), ("numba", "torch")])
def test_a_checkpoint_resumes_on_the_other_backend(first, then, tmp_path):
    sentences, _ = topic_corpus(n_sentences=2000)
    path = tmp_path / "c.txt"
    path.write_text("\n".join(" ".join(s) for s in sentences) + "\n")
    ckpt = tmp_path / "m.ckpt"

    def stop_after_the_first_pass(entry):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Word2Vec(dim=8, epochs=3, min_count=1, threads=1, backend=first).train(
            path, progress=False, checkpoint=ckpt, callbacks=[stop_after_the_first_pass])
    assert load_checkpoint(ckpt)[1].epoch == 1
    model = Word2Vec.resume(ckpt, path, progress=False, backend=then)
    assert model.backend == then and len(model.training_log) == 3
    assert [e["words"] for e in model.training_log] == [sum(len(s) for s in sentences)] * 3


def test_device_settings_are_checked():
    assert resolve() == ("cpu", "numba") and resolve("cuda") == ("cuda", "torch")
    assert resolve("cuda:1", "torch") == ("cuda:1", "torch") and resolve("cpu", "torch") == ("cpu", "torch")
    for device, backend, fragment in [("gpu", None, "'device'"), ("cuda:x", None, "'device'"),
                                      ("cpu", "jax", "'backend'"), ("cuda", "numba", "CPU only")]:
        with pytest.raises(ConfigError, match=fragment):
            resolve(device, backend)
    with pytest.raises(ConfigError):
        Word2Vec(device="tpu")
    assert Word2Vec(dim=8).to("cpu", "torch").backend == "torch"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the errors of a machine without a GPU")
def test_cuda_without_a_gpu_is_one_line(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c d\n" * 50)
    rc = cli.main(["train", str(corpus), "-o", str(tmp_path / "m.w2v"), "--device", "cuda", "--min-count", "1"])
    assert_one_line_error(rc, capsys.readouterr().err, "'cuda'", "--device cpu")
    with pytest.raises(DeviceError):
        Word2Vec(device="cuda:0").train([["a", "b"]] * 10, progress=False)
    rc = cli.main(["train", str(corpus), "-o", str(tmp_path / "m.w2v"), "--device", "cuda", "--backend", "numba"])
    assert_one_line_error(rc, capsys.readouterr().err, "numba backend runs on the CPU only")
    rc = cli.main(["train", str(corpus), "-o", str(tmp_path / "m.w2v"), "--device", "gpu"])
    assert_one_line_error(rc, capsys.readouterr().err, "--device must be 'cpu', 'cuda' or 'cuda:N'")
    assert not (tmp_path / "m.w2v").exists()


def test_a_broken_torch_or_an_unseen_gpu_is_named_not_sent_to_pip(monkeypatch):
    """PyTorch installed but failing to import (a library it loads is missing) is said so, with the cause, not
    "pip install" (pip would say it is installed); a CUDA build that sees no GPU is not told to install one."""
    import builtins

    real = builtins.__import__
    failure = OSError("libcudnn.so.9: cannot open shared object file\nmore")

    def fake_import(name, *args, **kwargs):
        if name == "torch":
            raise failure
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(DeviceError, match=r"^the torch backend \(device cuda\): PyTorch is installed but does not "
                                          r"import \(OSError: libcudnn\.so\.9: cannot open shared object file\); "
                                          r"reinstall it, or train with --backend numba$"):
        check_available("cuda", "torch")
    failure = ImportError("undefined symbol: ncclCommRegister", name="torch._C")
    with pytest.raises(DeviceError, match=r"installed but does not import \(undefined symbol"):
        check_available("cpu", "torch")
    failure = ImportError("cannot import name 'nope' from partially initialized module 'torch'", name="torch")
    with pytest.raises(DeviceError, match=r"installed but does not import \(cannot import name 'nope'"):
        check_available("cpu", "torch")  # torch's own __init__ failing: its name, but torch is there
    monkeypatch.setattr(builtins, "__import__", real)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", "12.4")
    with pytest.raises(DeviceError, match=r"no CUDA GPU is visible to this PyTorch \(a CUDA 12\.4 build\)") as e:
        check_available("cuda", "torch")
    assert "install a CUDA build" not in str(e.value)
    monkeypatch.setattr(torch.version, "cuda", None)
    with pytest.raises(DeviceError, match=r"CPU-only build; use --device cpu .* install a CUDA build"):
        check_available("cuda:1", "torch")


def test_torch_missing_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    with pytest.raises(DeviceError, match=r"pip install 'w2v\[torch\]'"):
        check_available("cpu", "torch")
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c d\n" * 50)
    rc = cli.main(["train", str(corpus), "-o", str(tmp_path / "m.w2v"), "--device", "cuda"])
    assert_one_line_error(rc, capsys.readouterr().err, "needs PyTorch", "pip install 'w2v[torch]'")


def test_the_cli_trains_with_the_torch_backend(tmp_path, capsys):
    sentences, _ = topic_corpus(n_sentences=1000)
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(" ".join(s) for s in sentences) + "\n")
    out = tmp_path / "m.w2v"
    rc = cli.main(["train", str(corpus), "-o", str(out), "--backend", "torch", "--dim", "8", "--epochs", "1",
                   "--min-count", "1", "--threads", "1", "--quiet"])
    assert rc == 0, capsys.readouterr().err
    model = Word2Vec.load(out)
    assert "backend" not in model.config.to_dict() and "device" not in model.config.to_dict()
    assert model.backend == "numba"  # a run-time choice: not saved


def test_weights_too_big_for_the_device_are_refused_with_what_fits(monkeypatch):
    config = Config(dim=300, threads=1)
    w = (np.zeros((10, 300), np.float32), np.zeros((10, 300), np.float32))
    engine = TorchEngine(config, w, (np.ones(10, np.int64), sampling.alias_table(np.full(10, 0.1))), "cpu")
    engine.close()
    engine.device = torch.device("cuda:0")
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (engine.step_bytes(300) + 50_000_000,
                                                                     80_000_000_000))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device: 0)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device: 0)
    with pytest.raises(ResourceError, match=r"memory on cuda:0.*--dim.*--max-final-vocab"):
        engine._check_memory(1_000_000, 300)
    engine._check_memory(10_000, 300)  # fits


def test_a_call_whose_draws_do_not_fit_takes_fewer_tokens_or_names_what_shrinks_it(monkeypatch):
    """The hogwild kernel's per-pair skip-gram draws ``negative x 2 x window`` noise words a token: at window 10
    and 25 noise words a call of 2^20 tokens needs 34 GB.  With 20 GB free the calls take fewer tokens; where
    not even one chunk's draws fit, the error says so (not "0 bytes available") and names --hogbatch."""
    config = Config(dim=100, threads=1, window=10, negative=25, hogbatch=False)
    w = (np.zeros((10, 100), np.float32), np.zeros((10, 100), np.float32))
    tables = (np.ones(10, np.int64), sampling.alias_table(np.full(10, 0.1)))
    engine = TorchEngine(config, w, tables, "cpu", kernel="hogwild")
    engine.close()
    engine.device = torch.device("cuda:0")
    calls = engine.chunks_per_call
    assert engine.step_bytes(100) > 30e9
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (19_000_000_000, 80_000_000_000))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device: 1_500_000_000)  # torch's cache: free too
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device: 500_000_000)
    engine._check_memory(10, 100)
    assert 0 < engine.chunks_per_call < calls and engine.step_bytes(100) <= 10e9
    engine.chunks_per_call = calls
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (200_000_000, 80_000_000_000))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device: 0)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device: 0)
    with pytest.raises(ResourceError, match=r"take .* of the 200.0 MB free on cuda:0, and a call's buffer needs "
                                            r"[\d.]+ MB more; lower --negative \(500 noise draws a token\) or "
                                            r"--window, or train with --hogbatch"):
        engine._check_memory(10, 100)
    # CBOW draws `negative` a token, whatever the window; where the weights fill the GPU, smaller ones are named
    cbow = TorchEngine(Config(dim=100, threads=1, model="cbow"), w, tables, "cpu", kernel="hogwild")
    cbow.close()
    cbow.device = torch.device("cuda:0")
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (830_000_000, 80_000_000_000))
    with pytest.raises(ResourceError, match=r"lower --negative \(5 noise draws a token\); or --dim at most "
                                            r"[\d,]+; or --max-final-vocab at most [\d,]+$") as refused:
        cbow._check_memory(1_000_000, 100)  # 824 MB of weights and tables: no room for one chunk's 8 MB of draws
    assert "--window" not in str(refused.value)


# -- the hogwild kernel (w2v.cuda_kernels), run in Numba's CUDA simulator -------------------------------------
_SIMULATED = """
import sys
sys.path.insert(0, {tests!r})
import numpy as np
from reference import VARIANTS, reference_hogwild, tiny_batch
from w2v import Config
from w2v.engine import Batch
from w2v.torch_engine import TorchEngine
from numba import typeof
from numba.core import sigutils
from w2v import cuda_kernels

launched = set()  # the argument types of every launch, against cuda_kernels.SIGNATURE
kernel = cuda_kernels.kernel


class Recorded:
    def __init__(self, d):
        self.d = d

    def __getitem__(self, shape):
        def run(*args):
            launched.add(tuple(typeof(a) for a in args))
            return kernel(self.d)[shape](*args)
        return run


cuda_kernels.kernel = Recorded
runs = [(v, m, 8, "plain") for v, m in [("sg", True), ("sg-hogbatch", True), ("cbow", True), ("cbow", False)]]
runs += [("sg", True, 37, "plain"), ("cbow", True, 37, "plain")]  # 37: two components on some lanes, one on others
runs += [("sg-hogbatch", True, 8, "atomic"), ("cbow", True, 37, "atomic"), ("sg", True, 37, "coherent")]
runs = [run + (True,) for run in runs] + [("sg", True, 37, "plain", False), ("cbow", False, 37, "coherent", False)]
runs += [("sg-hogbatch", True, 1000, "atomic", True)]  # 32 components a lane: the widest kernel
for variant, mean, dim, access, specialise in runs:
    cuda_kernels.SPECIALISE = specialise  # False: one kernel whose loops read their bound at run time
    weights, tables, batch = tiny_batch(dim=dim)
    batch = Batch(batch.ids[:14], np.array([5, 9, 14]), np.array([0, 1, 3]), batch.lrs, batch.seeds)
    config = Config(window=2, negative=2, cbow_mean=mean, threads=1, dim=dim, **VARIANTS[variant])
    ref_in, ref_out, ref_stats = reference_hogwild(variant, weights, tables, batch.ids, batch.sentence_ends,
                                                   batch.chunk_sentences, batch.lrs, batch.seeds, (2, 2, int(mean)))
    w = (weights[0].copy(), weights[1].copy())
    engine = TorchEngine(config, w, tables, "cpu", kernel="hogwild", blocks=1, access=access)
    stats = engine.train(batch)
    engine.close()
    error = max(np.abs(w[0] - ref_in).max(), np.abs(w[1] - ref_out).max())
    print(variant, mean, error, stats[1:] == ref_stats[1:], abs(stats[0] - ref_stats[0]), ref_stats[1])
expected = tuple(sigutils.normalize_signature(cuda_kernels.SIGNATURE)[0])
print("signature", launched == set([expected]), sorted(map(str, launched)), file=sys.stderr)
"""


def test_hogwild_kernel_in_the_cuda_simulator_matches_the_sequential_reference(tmp_path):
    """The GPU kernel itself (numba-cuda's simulator runs it on the CPU), one block: exactly the sequential
    reference on the same draws, for each variant and each way of reading and writing the rows, compiled for
    the rows' width and not; every launch passes the argument types of ``cuda_kernels.SIGNATURE``."""
    import os
    import subprocess

    pytest.importorskip("numba.cuda", reason="the simulator comes with numba.cuda")
    script = tmp_path / "simulated.py"
    script.write_text(_SIMULATED.format(tests=str(__import__("pathlib").Path(__file__).parent)))
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line.split() for line in done.stdout.splitlines()]
    assert len(lines) == 12, done.stdout
    assert "signature True" in done.stderr, done.stderr[-3000:]  # what benchmarks/gpu_ptx.py compiles for
    for variant, mean, error, same_stats, loss_error, examples in lines:
        assert float(error) < 1e-5, (variant, mean, error)
        assert same_stats == "True" and float(loss_error) < 1e-3, (variant, mean, same_stats, loss_error)
        assert int(examples) > 5  # the batch trains something


def test_the_hogwild_kernel_is_chosen_only_on_cuda():
    weights, tables, _ = tiny_batch()
    config = Config(dim=8, window=2, negative=2, threads=1)
    engine = TorchEngine(config, (weights[0].copy(), weights[1].copy()), tables, "cpu")
    assert engine.kernel == "steps"
    engine.close()
    with pytest.raises(ValueError, match="kernel must be"):
        TorchEngine(config, (weights[0].copy(), weights[1].copy()), tables, "cpu", kernel="fast")
    from w2v import cuda_kernels, torch_engine

    assert torch_engine.MAX_HOGWILD_DIM == cuda_kernels.MAX_DIM  # the engine decides without importing numba.cuda
    assert torch_engine.ACCESS_SETTINGS == tuple(cuda_kernels.ACCESS)
    with pytest.raises(ValueError, match="access must be one of plain, atomic, coherent"):
        TorchEngine(config, (weights[0].copy(), weights[1].copy()), tables, "cpu", access="fast")
    big = np.zeros((12, 1025), dtype=np.float32)
    with pytest.raises(ValueError, match="at most 1024 dimensions"):
        TorchEngine(Config(dim=1025, threads=1), (big, big.copy()), tables, "cpu", kernel="hogwild")


def test_the_hogwild_kernel_is_built_once_for_each_width_a_lane_holds(monkeypatch):
    """One compiled kernel for each number of components a lane holds (``ceil(d / 32)``, a constant of its
    code), kept for the next launch; with ``SPECIALISE`` off, one kernel for every width."""
    pytest.importorskip("numba.cuda", reason="the kernel is written with numba.cuda")
    from w2v import cuda_kernels

    monkeypatch.setattr(cuda_kernels, "_KERNELS", {})
    assert cuda_kernels.kernel(100) is cuda_kernels.kernel(97) is cuda_kernels.kernel(128)
    assert cuda_kernels.kernel(129) is not cuda_kernels.kernel(128)
    assert len(cuda_kernels._KERNELS) == 2
    monkeypatch.setattr(cuda_kernels, "SPECIALISE", False)
    assert cuda_kernels.kernel(8) is cuda_kernels.kernel(300) is cuda_kernels.kernel(512)
    assert len(cuda_kernels._KERNELS) == 3
    with pytest.raises(ValueError, match="generic.*at most 512 dimensions, not 513"):
        cuda_kernels.kernel(513)  # its lanes' arrays hold 16 components
    monkeypatch.setattr(cuda_kernels, "SPECIALISE", True)
    with pytest.raises(ValueError, match="at most 1024 dimensions, not 1025"):
        cuda_kernels.kernel(1025)


def test_a_gpu_without_the_hogwild_kernel_is_warned_of(monkeypatch, caplog):
    """On CUDA the steps are ~100x slower than the kernel: choosing them (a dimension over 1024, no numba-cuda)
    is a warning naming why, not an info line."""
    import logging
    import types

    from w2v import torch_engine

    engine = types.SimpleNamespace(device=torch.device("cuda"), step=1024)
    monkeypatch.setattr(torch_engine, "_hogwild_available", lambda: True)
    with caplog.at_level(logging.INFO, logger="w2v"):
        assert TorchEngine._choose_kernel(engine, "auto", 100) == "hogwild"
        assert TorchEngine._choose_kernel(engine, "auto", 1100) == "steps"
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "a dimension of at most 1024, not 1100" in warned[0], warned
    caplog.clear()
    monkeypatch.setattr(torch_engine, "_hogwild_available", lambda: False)
    with caplog.at_level(logging.INFO, logger="w2v"):
        assert TorchEngine._choose_kernel(engine, "auto", 100) == "steps"
    assert any(r.levelno == logging.WARNING and "numba-cuda" in r.getMessage() for r in caplog.records)


def test_resuming_an_hs_checkpoint_with_the_torch_backend_names_the_checkpoints_loss(tmp_path, capsys):
    """The loss of a resumed training is the checkpoint's (it cannot change): --backend torch with an hs
    checkpoint says so with the flags, rather than suggesting --loss ns."""
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c d e f\n" * 400)
    ckpt = tmp_path / "m.w2v.ckpt"

    def stop_after_the_first(entry):
        if entry["epoch"] == 1:
            raise KeyboardInterrupt

    from w2v import TrainingInterrupted

    with pytest.raises(TrainingInterrupted):
        Word2Vec(loss="hs", dim=8, epochs=2, min_count=1, threads=1, sample=0).train(
            str(corpus), checkpoint=str(ckpt), callbacks=[stop_after_the_first], progress=False)
    assert ckpt.exists()
    rc = cli.main(["train", str(corpus), "-o", str(tmp_path / "m.w2v"), "--resume", str(ckpt), "--backend", "torch"])
    assert_one_line_error(rc, capsys.readouterr().err, "trains with --loss 'hs'", "--backend 'numba'",
                          "cannot change when resuming")
    with pytest.raises(ConfigError, match=r"trains with 'loss' 'hs'.*cannot change when resuming: resume with "
                                          r"'backend' 'numba'"):  # the same in Python, before the weights are read
        Word2Vec.resume(ckpt, str(corpus), backend="torch")
