"""Checkpoints and resumption: killed or interrupted trainings continue to the same result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from w2v import ConfigError, CorpusError, KeyedVectors, ModelFileError, OutputConflictError, Word2Vec
from w2v.checkpoint import load_checkpoint
from w2v.formats import load_native

SETTINGS = dict(dim=16, window=3, negative=3, min_count=2, epochs=3, threads=1, seed=5)


def write_corpus(path, n=60_000, seed=0, vocab=400):
    rng = np.random.default_rng(seed)
    words = np.minimum(rng.zipf(1.2, n), vocab)
    lines = [" ".join(f"w{w}" for w in words[i:i + 50]) for i in range(0, n, 50)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_resume_from_any_checkpoint_is_bit_identical(tmp_path):
    """A checkpoint at every main-loop tick; resuming from the last one ends where an uninterrupted run ends."""
    corpus = write_corpus(tmp_path / "c.txt", n=200_000)
    ckpt = tmp_path / "m.ckpt"
    reference = Word2Vec(**SETTINGS).train(corpus, progress=False)
    kept = []

    def keep_a_copy(entry):  # after each epoch, the newest checkpoint is from somewhere in that epoch
        copy = tmp_path / f"after-epoch-{entry['epoch']}.ckpt"
        copy.write_bytes(ckpt.read_bytes())
        kept.append(copy)

    Word2Vec(**SETTINGS).train(corpus, progress=False, checkpoint=ckpt, checkpoint_every=1e-9,
                               callbacks=[keep_a_copy])
    positions = [load_checkpoint(p)[1] for p in kept]
    assert any(p.spans is not None and p.spans[0][0] > 0 for p in positions), positions  # some mid-pass
    for copy, position in zip(kept, positions):
        resumed = Word2Vec.resume(copy, corpus, progress=False)
        np.testing.assert_array_equal(resumed.weights[0], reference.weights[0])
        np.testing.assert_array_equal(resumed.weights[1], reference.weights[1])
        assert [e["loss"] for e in resumed.training_log] == [e["loss"] for e in reference.training_log]
        assert position.epochs == SETTINGS["epochs"]
        # the speed covers every pass, those trained before the interruption too
        seconds = sum(e["seconds"] for e in resumed.training_log)
        assert resumed.stats["train_seconds"] == pytest.approx(seconds, rel=1e-3)
        assert resumed.stats["words_per_sec_train"] == pytest.approx(
            resumed.stats["raw_tokens"] * SETTINGS["epochs"] / seconds, rel=1e-3)
        assert resumed.stats["resumed_seconds"] > 0 and resumed.stats["total_seconds"] > seconds


def test_resume_refuses_another_corpus(tmp_path):
    corpus = write_corpus(tmp_path / "c.txt", n=200_000)
    other = write_corpus(tmp_path / "d.txt", n=200_000, seed=1)
    ckpt = tmp_path / "m.ckpt"
    Word2Vec(**SETTINGS).train(corpus, progress=False, checkpoint=ckpt, checkpoint_every=1e-9)
    with pytest.raises(CorpusError, match="different corpus"):
        Word2Vec.resume(ckpt, other, progress=False)


def test_checkpoint_settings_are_checked(tmp_path):
    corpus = write_corpus(tmp_path / "c.txt", n=5_000)
    with pytest.raises(ConfigError, match="checkpoint"):
        Word2Vec(**SETTINGS).train(corpus, checkpoint_every=10)
    with pytest.raises(ConfigError, match="checkpoint_every"):
        Word2Vec(**SETTINGS).train(corpus, checkpoint=tmp_path / "x", checkpoint_every=-1)
    model = Word2Vec(**SETTINGS).train(corpus, progress=False)
    model.save(tmp_path / "m.w2v")
    with pytest.raises(ModelFileError, match="not a checkpoint"):
        Word2Vec.resume(tmp_path / "m.w2v", corpus)
    with pytest.raises(ConfigError, match="native w2v files are not compressed"):
        Word2Vec(**SETTINGS).train(corpus, checkpoint=tmp_path / "m.ckpt.gz")


def test_a_checkpoint_is_resumed_not_loaded_and_its_vectors_can_be_queried(tmp_path):
    corpus = write_corpus(tmp_path / "c.txt", n=200_000)
    ckpt = tmp_path / "m.ckpt"
    model = Word2Vec(**SETTINGS).train(corpus, progress=False, checkpoint=ckpt, checkpoint_every=1e-9)
    with pytest.raises(ModelFileError, match=r"a training checkpoint, not a model; .*Word2Vec.resume"):
        Word2Vec.load(ckpt)
    peek = KeyedVectors.load(ckpt)  # the vectors of the training so far
    assert peek.index_to_key == model.wv.index_to_key
    np.testing.assert_array_equal(peek.vectors, load_native(ckpt).arrays["vectors"])
    assert peek.most_similar("w1", topn=3)


# -- the command line, killed for real --------------------------------------------------------------------
def w2v(*args):
    return [sys.executable, "-m", "w2v", *map(str, args)]


def train_args(corpus, out):
    return ["train", corpus, "-o", out, "--dim", 64, "--window", 5, "--negative", 5, "--min-count", 2,
            "--epochs", 5, "--threads", 1, "--seed", 5, "--sample", 0, "--quiet"]


def wait_for(path, proc, timeout=60.0):
    start = time.monotonic()
    while not os.path.exists(path):
        assert proc.poll() is None, "training ended before a checkpoint was seen: make the corpus larger"
        assert time.monotonic() - start < timeout
        time.sleep(0.02)


@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("big") / "c.txt", n=1_000_000, vocab=5000)


@pytest.fixture(scope="module")
def uninterrupted(big_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "ref.w2v"
    subprocess.run(w2v(*train_args(big_corpus, out)), check=True)
    return load_native(out)


def test_sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run(big_corpus, uninterrupted, tmp_path):
    out = tmp_path / "m.w2v"
    out.write_bytes(b"previous model")  # an existing output must survive the kill
    ckpt = tmp_path / "m.w2v.ckpt"
    proc = subprocess.Popen(w2v(*train_args(big_corpus, out), "--checkpoint-every", 0.1))
    wait_for(ckpt, proc)
    time.sleep(0.15)  # a later checkpoint may be mid-write now: the kill must not break the previous one
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert out.read_bytes() == b"previous model"
    _, position, _ = load_checkpoint(ckpt)  # intact
    assert position.epoch > 0 or (position.spans is not None and position.spans[0][0] > 0)
    assert not [p for p in os.listdir(tmp_path) if p not in {"m.w2v", "m.w2v.ckpt"}], "temp files left"
    done = subprocess.run(w2v("train", big_corpus, "-o", out, "--resume", ckpt, "--quiet"),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    resumed = load_native(out)
    np.testing.assert_array_equal(resumed.arrays["vectors"], uninterrupted.arrays["vectors"])
    np.testing.assert_array_equal(resumed.arrays["output"], uninterrupted.arrays["output"])
    assert not ckpt.exists()  # removed once the model was saved


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_stop_signals_stop_after_the_chunk_and_say_where_the_checkpoint_is(signum, code, big_corpus,
                                                                          uninterrupted, tmp_path):
    """Ctrl-C, and SIGTERM and SIGHUP as schedulers send them (preemption): the chunks in flight finish, a
    checkpoint is written, the message says where, the exit code is 128 + the signal; resuming ends where
    an uninterrupted run ends."""
    out = tmp_path / "m.w2v"
    ckpt = tmp_path / "m.w2v.ckpt"
    proc = subprocess.Popen(w2v(*train_args(big_corpus, out), "--checkpoint-every", 0.1),
                            stderr=subprocess.PIPE, text=True)
    wait_for(ckpt, proc)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(ckpt) in lines[0] and "--resume" in lines[0], err
    assert signum == signal.SIGINT or signal.Signals(signum).name in lines[0]
    assert not out.exists()
    # "the same command with --resume": its settings are the checkpoint's, so they are accepted
    done = subprocess.run(w2v(*train_args(big_corpus, out), "--resume", ckpt), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(load_native(out).arrays["vectors"], uninterrupted.arrays["vectors"])
    assert not ckpt.exists()


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_a_second_ctrl_c_does_not_cut_the_stop(backend, big_corpus, tmp_path):
    """Ctrl-C pressed twice (or `timeout -s INT`, which may send two): the stop still writes its checkpoint."""
    if backend == "torch":
        pytest.importorskip("torch", reason="the torch backend needs PyTorch (pip install 'w2v[torch]')")
    out = tmp_path / "m.w2v"
    ckpt = tmp_path / "m.w2v.ckpt"
    proc = subprocess.Popen(w2v(*train_args(big_corpus, out), "--checkpoint-every", 0.1, "--backend", backend),
                            stderr=subprocess.PIPE, text=True)
    wait_for(ckpt, proc)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    # 130; or killed by the second SIGINT itself when it lands after the stop, as Python shuts down
    assert proc.returncode in (130, -signal.SIGINT), err
    assert "checkpoint written to" in err and "Traceback" not in err and "terminate called" not in err, err
    load_checkpoint(ckpt)  # whole


def test_resume_with_changed_settings_is_refused(tmp_path):
    corpus = write_corpus(tmp_path / "c.txt", n=200_000)
    ckpt = tmp_path / "m.ckpt"
    Word2Vec(**SETTINGS).train(corpus, progress=False, checkpoint=ckpt, checkpoint_every=1e-9)
    r = subprocess.run(w2v("train", corpus, "-o", tmp_path / "m.w2v", "--resume", ckpt, "--dim", 50, "--seed", 5,
                           "--no-hogbatch", "--alpha", 0.025), capture_output=True, text=True)
    assert r.returncode == 2 and not (tmp_path / "m.w2v").exists()
    assert "--dim 50 (the checkpoint's: --dim 16); --no-hogbatch (the checkpoint's: --hogbatch): settings " \
           "cannot change when resuming" in r.stderr, r.stderr  # --seed 5 and --alpha 0.025 are its own
    r = subprocess.run(w2v("train", corpus, "-o", tmp_path / "m.w2v", "--resume", ckpt, "--model", "cbow",
                           "--cbow-sum"), capture_output=True, text=True)
    assert "--model cbow (the checkpoint's: --model sg); --cbow-sum (the checkpoint's: no --cbow-sum)" \
           in r.stderr, r.stderr
    r = subprocess.run(w2v("train", corpus, "-o", tmp_path / "m.w2v", "--resume", tmp_path / "x.ckpt", "--dim", 16),
                       capture_output=True, text=True)
    assert r.returncode == 2 and "no such checkpoint file" in r.stderr


def test_an_existing_file_at_the_checkpoint_path_is_never_replaced(tmp_path):
    corpus = write_corpus(tmp_path / "c.txt", n=200_000)
    model, notes, ckpt = tmp_path / "m.w2v", tmp_path / "notes.txt", tmp_path / "m.w2v.ckpt"
    notes.write_text("mine\n")
    small = ["--dim", 16, "--min-count", 2, "--epochs", 1, "--quiet"]
    r = subprocess.run(w2v("train", corpus, "-o", model, "--checkpoint", notes, *small), capture_output=True,
                       text=True)
    assert r.returncode == 2 and "a file that is not a w2v checkpoint is there" in r.stderr, r.stderr
    assert notes.read_text() == "mine\n" and not model.exists()
    other = tmp_path / "other.w2v"  # a native file, but a model: not a checkpoint either
    Word2Vec(**SETTINGS).train(corpus, progress=False).save(other)
    r = subprocess.run(w2v("train", corpus, "-o", model, "--checkpoint", other, *small), capture_output=True,
                       text=True)
    assert r.returncode == 2 and "a file that is not a w2v checkpoint is there" in r.stderr, r.stderr
    Word2Vec(**SETTINGS).train(corpus, progress=False, checkpoint=ckpt, checkpoint_every=1e-9)
    before = ckpt.read_bytes()
    # the same command again, without --resume: the earlier training's checkpoint is kept and named
    r = subprocess.run(w2v("train", corpus, "-o", model, *small), capture_output=True, text=True)
    assert r.returncode == 2 and f"continue that training with --resume {ckpt}" in r.stderr, r.stderr
    assert "(in pass 3 of 3)" in r.stderr and ckpt.read_bytes() == before and not model.exists()
    with pytest.raises(OutputConflictError, match="an earlier training's checkpoint is there"):
        Word2Vec(**SETTINGS).train(corpus, progress=False, checkpoint=ckpt)
    with pytest.raises(OutputConflictError, match="not a w2v checkpoint"):
        Word2Vec.resume(ckpt, corpus, progress=False, checkpoint_to=notes)
    assert ckpt.read_bytes() == before and notes.read_text() == "mine\n"
    # the same model trained more replaces its own checkpoints (and a resumed one's)
    again, own = Word2Vec(**SETTINGS), tmp_path / "own.ckpt"
    again.train(corpus, progress=False, checkpoint=own, checkpoint_every=1e-9)
    again.train(corpus, progress=False, epochs=1, checkpoint=own, checkpoint_every=1e-9)
    Word2Vec.resume(own, corpus, progress=False).train(corpus, progress=False, epochs=1, checkpoint=own)
    # resumed in place: its own checkpoint, which the command deletes once the model is written
    r = subprocess.run(w2v("train", corpus, "-o", model, "--resume", ckpt, "--quiet"), capture_output=True,
                       text=True)
    assert r.returncode == 0 and model.exists() and not ckpt.exists(), r.stderr


def test_fingerprint_never_touches_the_memory_map():
    """Regression: a strided view of the mapped ids made the whole cache resident (503 MB vs 243 MB of peak
    RSS at 68M tokens).  The fingerprint must read through read_ids, and still tell corpora apart."""
    from w2v.checkpoint import fingerprint

    class Encoded:
        def __init__(self, ids):
            self._ids, self.raw_tokens = ids, len(ids)
            self.sentence_ends = np.arange(100, len(ids) + 1, 100, dtype=np.int64)

        @property
        def ids(self):
            raise AssertionError("the memory map was touched")

        def read_ids(self, start, stop):
            return self._ids[start:stop].copy()

    ids = np.random.default_rng(0).integers(0, 1000, 3_000_000).astype(np.int32)
    a = fingerprint(Encoded(ids))
    changed = ids.copy()
    changed[1_500_000:1_500_000 + 5_000] += 1  # a change inside one sampled block's reach
    assert a == fingerprint(Encoded(ids.copy()))
    assert a != fingerprint(Encoded(changed))


def test_a_stop_after_the_last_pass_in_python_keeps_the_trained_model(tmp_path):
    """A stop during the last epoch's callbacks is a stop like any other (it was held, then raised bare when
    train returned, and the trained model was lost): TrainingInterrupted, its model complete, a checkpoint that
    resumes to it."""
    from w2v import TrainingInterrupted

    corpus, ckpt = write_corpus(tmp_path / "c.txt", n=20_000), tmp_path / "m.ckpt"

    def stop_at_the_end(entry):
        if entry["epoch"] == SETTINGS["epochs"]:
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(TrainingInterrupted, match=r"after pass 3 of 3 \(every pass trained") as stopped:
        Word2Vec(**SETTINGS).train(corpus, progress=False, checkpoint=ckpt, callbacks=[stop_at_the_end])
    model = stopped.value.model
    assert len(model.training_log) == 3 and stopped.value.signum == signal.SIGTERM
    resumed = Word2Vec.resume(ckpt, corpus, progress=False)
    np.testing.assert_array_equal(resumed.weights[0], model.weights[0])
    assert len(model.train(corpus, progress=False, epochs=1).training_log) == 4  # complete: trains further


def test_a_model_whose_training_was_interrupted_is_not_trained_again_by_train(tmp_path):
    from w2v import TrainingInterrupted

    corpus = write_corpus(tmp_path / "c.txt", n=20_000)

    def stop_after_the_first(entry):
        if entry["epoch"] == 1:
            raise KeyboardInterrupt

    for ckpt, advice in ((tmp_path / "m.ckpt", r"continue that training with Word2Vec.resume\('.*m.ckpt', corpus\)"),
                         (None, "no checkpoint was written, so it cannot be continued where it stopped")):
        model = Word2Vec(**SETTINGS)
        with pytest.raises(TrainingInterrupted) as stopped:
            model.train(corpus, progress=False, checkpoint=ckpt, callbacks=[stop_after_the_first])
        assert stopped.value.model is model
        with pytest.raises(ConfigError, match=f"interrupted after pass 1 of 3, its weights partly trained: {advice}"):
            model.train(corpus, progress=False)
        assert len(model.training_log) == 1


def test_a_checkpoint_in_a_missing_directory_is_refused_before_training(tmp_path):
    from w2v import OutputError

    corpus = write_corpus(tmp_path / "c.txt", n=5_000)
    with pytest.raises(OutputError, match="cannot write checkpoint .*does not exist; name another path"):
        Word2Vec(**SETTINGS).train(corpus, progress=False, checkpoint=tmp_path / "no" / "m.ckpt",
                                   checkpoint_every=0.5)


def test_resume_from_the_command_line_epochs_threads_and_the_checkpoint_resumed(tmp_path, capsys):
    """--epochs is compared with the checkpoint's training (a Python one may train fewer passes than its
    config's), --threads may change, and the checkpoint resumed from is removed with the new one."""
    from w2v import TrainingInterrupted, cli

    corpus, ckpt, out = write_corpus(tmp_path / "c.txt", n=20_000), tmp_path / "p.ckpt", tmp_path / "m.w2v"

    def stop_after_the_first(entry):
        if entry["epoch"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted):
        Word2Vec(**{**SETTINGS, "epochs": 5}).train(corpus, progress=False, epochs=3, checkpoint=ckpt,
                                                    callbacks=[stop_after_the_first])
    assert cli.main(["train", str(corpus), "-o", str(out), "--resume", str(ckpt), "--epochs", "5"]) == 2
    assert "--epochs 5 (the checkpoint's training: --epochs 3)" in capsys.readouterr().err
    other = tmp_path / "q.ckpt"
    assert cli.main(["train", str(corpus), "-o", str(out), "--resume", str(ckpt), "--epochs", "3", "--threads", "2",
                     "--checkpoint", str(other), "--quiet"]) == 0
    assert not ckpt.exists() and not other.exists()
    assert len(Word2Vec.load(out).training_log) == 3


def test_under_torchrun_rank_0_checks_the_checkpoint_path_and_a_stop_after_the_last_pass_waits(monkeypatch, tmp_path):
    """Only rank 0 writes checkpoints (another rank's disk may lack the directory); and under torchrun a stop
    after the last pass is held until train returns (stopping then would start collectives no rank answers)."""
    from w2v import OutputError
    from w2v.distributed import launched
    from w2v.train import _checkpoints

    missing = tmp_path / "no" / "m.ckpt"
    assert not launched()  # (what train's final_hold follows)
    with pytest.raises(OutputError, match="does not exist"):
        _checkpoints(missing, None, None)
    monkeypatch.setenv("WORLD_SIZE", "2")
    for rank, refused in (("1", False), ("0", True)):
        monkeypatch.setenv("RANK", rank)
        assert launched()
        if refused:
            with pytest.raises(OutputError, match="does not exist"):
                _checkpoints(missing, None, None)
        else:
            assert _checkpoints(missing, None, None).path == str(missing)
