"""Nothing of the user's is lost: outputs never land on inputs, non-text corpus files are refused, SIGTERM and
SIGHUP stop like Ctrl-C, a full disk is found before training and a failed save keeps the model.

Each mistake is made for real, as a user would make it: the corpus given as the output, a link to it, a
model trained twice into its own corpus directory, a kill from a scheduler, a disk that fills up.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import io
import logging
import os
import pickle
import signal
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import pytest

from w2v import OutputConflictError, OutputError, W2VError, Word2Vec, cli, formats, outputs
from w2v.checkpoint import load_checkpoint
from w2v.corpus import Corpus
from w2v.errors import CorpusError
from w2v.filetypes import not_text
from w2v.vectors import KeyedVectors

from test_bad_input import assert_one_line_error
from test_checkpoint import big_corpus, train_args, w2v  # noqa: F401 (a fixture)

FAST = ["--dim", "8", "--epochs", "1", "--min-count", "1", "--threads", "1", "--quiet"]


def write_text(path: Path, lines: int = 400) -> Path:
    path.write_text("".join(f"w{i % 13} w{i % 7} w{i % 5} common\n" for i in range(lines)))
    return path


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A corpus, a trained model and its text export in a fresh directory (also the working directory)."""
    monkeypatch.chdir(tmp_path)
    corpus = write_text(tmp_path / "c.txt")
    assert cli.main(["train", "c.txt", "-o", "m.w2v", *FAST]) == 0
    assert cli.main(["export", "m.w2v", "v.txt", "--format", "word2vec-text"]) == 0
    return tmp_path, corpus.read_bytes()


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file() and not p.is_symlink()}


# == 1. no output lands on an input ==========================================================================

OUTPUT_ON_INPUT = [  # (command line, fragments of the one-line error)
    (["train", "c.txt", "-o", "c.txt"], ["-o/--output 'c.txt'", "corpus file 'c.txt'"]),
    (["train", "c.txt", "-o", "n.w2v", "--checkpoint", "c.txt"], ["--checkpoint 'c.txt'", "corpus file"]),
    (["train", "c.txt", "-o", "n.w2v", "--vectors", "./c.txt"], ["--vectors './c.txt'", "corpus file"]),
    (["train", "c.txt", "-o", "hard.txt"], ["-o/--output 'hard.txt'", "corpus file 'c.txt'", "another name"]),
    (["train", "c.txt", "-o", "soft.txt"], ["-o/--output 'soft.txt'", "corpus file 'c.txt'", "another name"]),
    (["train", "m.w2v.ckpt", "-o", "m.w2v"], ["the checkpoint (-o/--output + .ckpt by default)",
                                               "corpus file 'm.w2v.ckpt'"]),
    (["train", "soft.txt", "-o", "c.txt"], ["-o/--output 'c.txt'", "corpus file 'soft.txt'"]),
    (["train", "c.txt", "-o", "n.w2v", "--plot-loss", "c.png"], ["--plot-loss 'c.png'", "corpus file"]),
    (["train", "c.txt", "-o", "m.w2v", "--vectors", "m.w2v"], ["-o/--output 'm.w2v'", "--vectors 'm.w2v'",
                                                                 "the same file"]),
    (["train", "c.txt", "-o", "n.w2v", "--checkpoint", "./n.w2v"], ["'n.w2v'", "'./n.w2v'", "same file"]),
    (["train", "c.txt", "-o", "ck", "--resume", "ck"], ["-o/--output 'ck'", "checkpoint resumed"]),
    (["train", "c.txt", "-o", "n.w2v", "--vectors", "ck", "--resume", "ck"], ["--vectors 'ck'", "resumed"]),
    (["export", "m.w2v", "m.w2v", "--format", "word2vec-text"], ["OUT 'm.w2v'", "the model read 'm.w2v'"]),
    (["export", "m.w2v", "m-link.w2v", "--format", "word2vec-binary"], ["OUT 'm-link.w2v'", "model read"]),
    (["import", "v.txt", "v.txt"], ["OUT 'v.txt'", "the input 'v.txt'"]),
    (["import", "v.txt", "./v.txt"], ["OUT './v.txt'", "the input 'v.txt'"]),
    (["plot", "m.w2v", "-o", "m.png"], ["-o/--output 'm.png'", "the model read 'm.w2v'"]),
    (["plot-loss", "m.w2v", "-o", "m.png"], ["-o/--output 'm.png'", "the model read 'm.w2v'"]),
]


@pytest.mark.parametrize("argv, fragments", OUTPUT_ON_INPUT, ids=[" ".join(a) for a, _ in OUTPUT_ON_INPUT])
def test_no_command_writes_over_its_input(argv, fragments, work, capsys):
    directory, _ = work
    os.link("c.txt", "hard.txt")
    os.symlink("c.txt", "soft.txt")
    os.symlink("c.txt", "c.png")
    os.symlink("m.w2v", "m-link.w2v")
    os.symlink("m.w2v", "m.png")
    Path("ck").write_bytes(b"a checkpoint stand-in")
    Path("m.w2v.ckpt").write_text("text that happens to be named like a checkpoint\n")
    before = snapshot(directory)
    rc = cli.main([*argv, *(FAST if argv[0] == "train" and "--resume" not in argv else [])])
    assert_one_line_error(rc, capsys.readouterr().err, *fragments)
    assert snapshot(directory) == before  # nothing written, replaced or deleted
    assert not [p for p in os.listdir(directory) if p.endswith(".tmp")]


def test_the_corpus_survives_every_spelling_of_itself(work, capsys):
    """The rows of the issue, end to end: the corpus is byte for byte what it was."""
    directory, text = work
    for argv in (["train", "c.txt", "-o", "c.txt"], ["train", "c.txt", "-o", "m2.w2v", "--checkpoint", "c.txt"],
                 ["train", f"{directory}/c.txt", "-o", "../" + directory.name + "/c.txt"]):
        assert cli.main([*argv, *FAST]) == 2
    assert (directory / "c.txt").read_bytes() == text
    assert not (directory / "m2.w2v").exists()


def test_output_in_the_corpus_directory_is_left_out_of_the_corpus(tmp_path, capsys):
    """`w2v train d/ -o d/model.w2v` twice: the second run does not read the first model as text."""
    d = tmp_path / "d"
    d.mkdir()
    write_text(d / "c.txt")
    args = ["train", str(d), "-o", str(d / "model.w2v"), "--vectors", str(d / "v.bin"), *FAST[:-1]]
    assert cli.main(args) == 0
    first = KeyedVectors.load(d / "model.w2v")
    capsys.readouterr()
    assert cli.main(args) == 0
    again = KeyedVectors.load(d / "model.w2v")
    assert sorted(again.index_to_key) == sorted(first.index_to_key)  # no junk words from the model
    err = capsys.readouterr().err
    assert "left out" in err and "model.w2v" in err and "v.bin" in err
    assert "invalid UTF-8" not in err and "NUL" not in err


def test_another_model_in_the_corpus_directory_is_refused_by_name(tmp_path, capsys):
    d = tmp_path / "d"
    d.mkdir()
    write_text(d / "c.txt")
    assert cli.main(["train", str(d), "-o", str(d / "model.w2v"), *FAST]) == 0
    rc = cli.main(["train", str(d), "-o", str(d / "model2.w2v"), *FAST])
    assert_one_line_error(rc, capsys.readouterr().err, "model.w2v", "is not text", "w2v model", "--allow-binary")
    assert not (d / "model2.w2v").exists()


def test_resume_checkpoint_in_the_corpus_directory_is_not_corpus(tmp_path):
    """A checkpoint written into the corpus directory is left out when resuming from it (else the corpus
    would differ from the one checkpointed, or be refused as not text)."""
    d = tmp_path / "d"
    d.mkdir()
    write_text(d / "c.txt", lines=5_000)
    ckpt = d / "m.ckpt"

    def stop(entry):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Word2Vec(dim=8, epochs=2, min_count=1, threads=1).train(d, progress=False, checkpoint=ckpt,
                                                                 callbacks=[stop])
    resumed = Word2Vec.resume(ckpt, d, progress=False)
    assert len(resumed.training_log) == 2


def test_python_checkpoint_on_the_corpus_is_refused(tmp_path):
    corpus = write_text(tmp_path / "c.txt")
    text = corpus.read_bytes()
    with pytest.raises(OutputConflictError, match="checkpoint"):
        Word2Vec(min_count=1, threads=1).train(corpus, checkpoint=corpus, progress=False)
    with pytest.raises(OutputConflictError, match="checkpoint"):
        Word2Vec(min_count=1, threads=1).train(Corpus(corpus), checkpoint=tmp_path / "." / "c.txt")
    assert corpus.read_bytes() == text


def test_check_outputs_and_same_file(tmp_path):
    a = tmp_path / "a"
    a.write_text("x")
    os.link(a, tmp_path / "b")
    assert outputs.same_file(a, tmp_path / "b") and outputs.same_file(tmp_path / "new", tmp_path / "." / "new")
    assert not outputs.same_file(a, tmp_path / "new")
    outputs.check_outputs([("-o", tmp_path / "new"), ("--x", None)], [("the input", a)])
    with pytest.raises(OutputConflictError, match=r"-o .* is the input .*\(the same file under another name\)"):
        outputs.check_outputs([("-o", tmp_path / "b")], [("the input", a)])
    assert issubclass(OutputConflictError, ValueError) and issubclass(OutputConflictError, W2VError)


# == 2. a corpus file that is not text is refused before training =============================================

def _w2v_model(tmp: Path) -> bytes:
    KeyedVectors(["a", "b"], np.ones((2, 4), np.float32)).save(tmp / "x.w2v")
    return (tmp / "x.w2v").read_bytes()


def _tar_gz() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = b"some text in a tar\n" * 20
        info = tarfile.TarInfo("a.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _word2vec_binary() -> bytes:
    rows = np.random.default_rng(0).normal(0, 0.3, (50, 20)).astype("<f4")
    return b"50 20\n" + b"".join(f"w{i} ".encode() + r.tobytes() + b"\n" for i, r in enumerate(rows))


NOT_TEXT = {  # name -> (content (or a function of the temp dir), fragment of the reason)
    "w2v model": (_w2v_model, "w2v model"),
    "pickle": (pickle.dumps({"vectors": list(range(100))}, protocol=4), "pickle"),
    "gensim-like pickle, gzipped": (gzip.compress(pickle.dumps([1.5] * 100, protocol=2)), "pickle"),
    "npy": (b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }" + bytes(16),
            "NumPy"),
    "word2vec binary": (_word2vec_binary(), "word2vec vectors file (binary"),
    "word2vec text": (b"2 3\nthe 0.1 -0.2 3e-2\nof 1.0 0.5 -0.25\n", "word2vec vectors file (text"),
    "png": (b"\x89PNG\r\n\x1a\n" + bytes(100), "PNG image"),
    "jpeg": (b"\xff\xd8\xff\xe0" + bytes(100), "JPEG"),
    "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF"),
    "zip": (b"PK\x03\x04" + bytes(100), "zip archive"),
    "zstd": (b"\x28\xb5\x2f\xfd" + bytes(100), "zstd"),
    "tar.gz": (_tar_gz(), "tar archive"),
    "bzip2 of random bytes": (bz2.compress(np.random.default_rng(1).bytes(5000)), "binary data"),
    "elf": (b"\x7fELF\x02\x01\x01" + bytes(100), "executable"),
    "utf-16 with bom": ("the quick brown fox\n".encode("utf-16"), "UTF-16"),
    "utf-16 without bom": ("the quick brown fox jumps\n".encode("utf-16-le") * 5, "UTF-16"),
    "random bytes": (np.random.default_rng(2).bytes(70_000), "binary data"),
    "float32 array": (np.random.default_rng(3).normal(0, 1, 5000).astype("<f4").tobytes(), "binary data"),
    "NUL-heavy": (b"a b\x00\x00\x00\x00\n" * 50, "NUL or control"),
    "koi8-r": ("съешь же ещё этих мягких французских булок\n".encode("koi8-r") * 20, "not UTF-8 text"),
}


@pytest.mark.parametrize("name", list(NOT_TEXT))
def test_a_file_that_is_not_text_is_refused_with_what_it_seems_to_be(name, tmp_path, capsys):
    content, fragment = NOT_TEXT[name]
    data = content(tmp_path) if callable(content) else content
    path = tmp_path / "corpus.txt"
    path.write_bytes(data)
    with pytest.raises(CorpusError) as err:
        Corpus(path)
    assert fragment in str(err.value) and "allow_binary" in str(err.value) and "corpus.txt" in str(err.value)
    rc = cli.main(["train", str(path), "-o", str(tmp_path / "m.w2v"), *FAST])
    assert_one_line_error(rc, capsys.readouterr().err, "is not text", fragment, "--allow-binary")
    assert not (tmp_path / "m.w2v").exists()


def test_allow_binary_reads_a_refused_file_as_text(tmp_path, capsys):
    path = tmp_path / "junk.bin"
    path.write_bytes((b"alpha beta \x00\x01\x02 gamma\n" * 200))
    assert "control" in not_text(path.read_bytes())
    rc = cli.main(["train", str(path), "-o", str(tmp_path / "m.w2v"), "--allow-binary", *FAST])
    assert rc == 0, capsys.readouterr().err
    model = Word2Vec.load(tmp_path / "m.w2v")
    assert {"alpha", "beta", "gamma"} <= set(model.vocab.words) and model.config.allow_binary


TEXT_WITH_A_FEW_BAD_BYTES = {
    "latin-1": ("le café où l'on déjeune, à côté de la gare; été, hiver\n" * 40).encode("latin-1"),
    "stray NULs": b"the quick brown fox\x00 jumps over the lazy dog\n" * 100,
    "mixed repairs": b"alpha beta\x00gamma\r\nbeta \xff\xfe gamma\ralpha \xc0\xaf beta\n" * 50,
    "terminal colours": b"\x1b[31mred\x1b[0m text\tand tabs\x0c\n" * 50,
    "two numbers then text": b"1984 2\nwas a year and a novel\n" * 30,
    "utf-8 of many scripts": ("Ζεύς 宙斯 Зевс ज़्यूस 🙂\n" * 40).encode(),
}


@pytest.mark.parametrize("name", list(TEXT_WITH_A_FEW_BAD_BYTES))
def test_text_with_a_few_bad_bytes_is_still_text(name, tmp_path):
    data = TEXT_WITH_A_FEW_BAD_BYTES[name]
    assert not_text(data, complete=True) is None
    path = tmp_path / "t.txt"
    path.write_bytes(gzip.compress(data))
    assert sum(len(s) for s in Corpus(path)) > 0


def test_the_rule_reads_only_the_start_of_a_file(tmp_path):
    """A text file with binary junk after the sample is text (its repairs are counted while reading)."""
    path = tmp_path / "late-junk.txt"
    path.write_bytes(b"word " * 20_000 + b"\x00\x01\x02\x03" * 1000)
    c = Corpus(path)
    assert sum(len(s) for s in c) >= 20_000 and c.nul_bytes == 1000


# == 3. SIGTERM and SIGHUP stop like Ctrl-C =====================================================================

# (SIGTERM and SIGHUP mid-epoch, then a resume: test_checkpoint.py, beside Ctrl-C and SIGKILL)

def test_sigterm_without_periodic_checkpoints_still_saves_one(big_corpus, tmp_path):  # noqa: F811
    """The plain `w2v train` a scheduler preempts: no --checkpoint-every, yet nothing trained is lost."""
    out = tmp_path / "m.w2v"
    args = [a for a in train_args(big_corpus, out) if a != "--quiet"]
    proc = subprocess.Popen(w2v(*args), stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:  # progress lines (stderr is not a terminal): wait for training to start
        seen.append(line)
        if "epoch 1:" in line:
            break
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    proc.wait(timeout=60)
    assert proc.returncode == 143, "".join(seen) + rest
    _, position, _ = load_checkpoint(tmp_path / "m.w2v.ckpt")
    assert position.epochs == 5 and position.epoch >= 1 and "SIGTERM" in rest and "m.w2v.ckpt" in rest


def test_a_stop_whose_exception_python_dropped_is_raised_again():
    """A signal handler's exception that lands in a finaliser or weakref callback is dropped by Python
    ("Exception ignored in ..."); the trainer's polling loop raises the stop again, once."""
    import time

    from w2v.signals import Stopped, StopSignals, raise_lost

    with StopSignals():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler raises in here
        except Stopped:
            pass  # what Python does with it in a weakref callback
        with pytest.raises(Stopped) as stopped:
            raise_lost()
        assert stopped.value.signum == signal.SIGTERM
        raise_lost()  # once only
    raise_lost()  # outside: nothing


def test_ctrl_c_three_times_during_a_hold_quits_at_once(caplog):
    """A hold (a checkpoint or the model being written) that hangs can be left: the first Ctrl-C during it
    waits and says how to quit, the third quits; SIGTERM never does."""
    import time

    from w2v.signals import ESCAPE_CTRL_C, Stopped, StopSignals

    with StopSignals() as stopper:
        with caplog.at_level("WARNING", logger="w2v"), pytest.raises(Stopped, match="stopped at once"):
            with stopper.hold():
                for _ in range(4):
                    os.kill(os.getpid(), signal.SIGTERM)
                    time.sleep(0.05)
                for _ in range(ESCAPE_CTRL_C):
                    os.kill(os.getpid(), signal.SIGINT)
                    time.sleep(0.05)
                raise AssertionError("the third Ctrl-C did not quit")
        assert "Ctrl-C 2 more times quits at once" in caplog.text and "Ctrl-C 1 more time quits" in caplog.text
        assert stopper._holding == 0
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigterm_while_reading_exits_143_and_writes_nothing(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("alpha beta gamma delta\n" * 2_000_000)
    proc = subprocess.Popen(w2v("train", corpus, "-o", tmp_path / "m.w2v", "--min-count", 1),
                            stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if "w2v" in line:  # the first log line: reading has begun
            break
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    proc.wait(timeout=60)
    assert proc.returncode == 143 and "SIGTERM" in rest and "Traceback" not in rest, rest
    assert sorted(os.listdir(tmp_path)) == ["c.txt"]


def test_a_signal_during_the_final_save_waits_for_the_model(monkeypatch, tmp_path, capsys):
    """The model is only in memory after training: a SIGTERM then is held until it is on disk."""
    corpus = write_text(tmp_path / "c.txt")
    real_save = Word2Vec.save

    def save_then_signal(self, path):
        os.kill(os.getpid(), signal.SIGTERM)  # arrives in the middle of saving
        real_save(self, path)

    monkeypatch.setattr(Word2Vec, "save", save_then_signal)
    rc = cli.main(["train", str(corpus), "-o", str(tmp_path / "m.w2v"), "--vectors", str(tmp_path / "v.bin"),
                   *FAST])
    err = capsys.readouterr().err
    assert rc == 143 and "after the model was saved" in err and "not written or changed" not in err, err
    assert Word2Vec.load(tmp_path / "m.w2v").vocab is not None
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored


def test_python_train_stops_on_sigterm_only_without_a_handler_of_the_program(tmp_path):
    corpus = write_text(tmp_path / "c.txt", lines=50_000)
    fired = []

    def send(entry):
        os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(KeyboardInterrupt) as stop:
        Word2Vec(dim=8, epochs=3, min_count=1, threads=1).train(corpus, progress=False, callbacks=[send],
                                                                  checkpoint=tmp_path / "m.ckpt")
    assert stop.value.signum == signal.SIGTERM and "m.ckpt" in str(stop.value)
    assert load_checkpoint(tmp_path / "m.ckpt")[1].epoch >= 1
    previous = signal.signal(signal.SIGTERM, lambda *a: fired.append(1))
    try:
        Word2Vec(dim=8, epochs=2, min_count=1, threads=1).train(corpus, progress=False, callbacks=[send])
        assert fired == [1, 1]  # the program's own handler ran, training went on
    finally:
        signal.signal(signal.SIGTERM, previous)


# == 4. a full disk: refused before training; a save that fails keeps the model ============================

def _mount_tmpfs(mount: Path, size: str) -> bool:
    """A real tmpfs of ``size`` at ``mount`` where this test may mount one (root on Linux)."""
    if not (sys.platform.startswith("linux") and os.geteuid() == 0):
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                          capture_output=True).returncode == 0


@pytest.fixture(params=["tmpfs", "fake"])
def small_disk(request, tmp_path, monkeypatch):
    """A directory on a 2 MB file system: a real tmpfs (skipped where it cannot be mounted), and a fake one
    everywhere: its free space reported as 2 MB, its writes failing with ENOSPC once filled (a fake
    ``fsync``; in-process tests only)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    real = request.param == "tmpfs"
    if real and not _mount_tmpfs(mount, "2m"):
        pytest.skip("a tmpfs cannot be mounted here (needs root on Linux); the fake disk runs instead")
    if not real:
        real_free = outputs.free_bytes
        monkeypatch.setattr(outputs, "free_bytes",
                            lambda d: 2 << 20 if str(d).startswith(str(mount)) else real_free(d))
    yield mount, real
    if real:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path, real: bool, monkeypatch) -> None:
    """Use up the room left in ``directory``."""
    if real:
        with open(directory / "filler", "wb") as f:
            with pytest.raises(OSError):
                while True:
                    f.write(b"\0" * (1 << 16))
                    f.flush()
        return
    real_fsync = formats.os.fsync

    def failing_fsync(fd):
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(directory)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(formats.os, "fsync", failing_fsync)


def test_not_enough_room_is_refused_before_training(small_disk, tmp_path, capsys, monkeypatch):
    mount, real = small_disk
    corpus = tmp_path / "c.txt"
    corpus.write_text("".join(f"w{i % 3000} w{i % 2999} w{i % 17}\n" for i in range(20_000)))
    trained = []
    monkeypatch.setattr(Word2Vec, "_run", lambda *a, **k: trained.append(1) or 0.0)
    rc = cli.main(["train", str(corpus), "-o", str(mount / "m.w2v"), "--dim", "300", "--min-count", "1",
                   "--max-final-vocab", "2000", "--quiet"])
    line = assert_one_line_error(rc, capsys.readouterr().err, "not enough room", str(mount), "the model file",
                                 "free")
    assert "MB" in line and not trained and os.listdir(mount) == []


def test_disk_filled_during_training_keeps_the_model_elsewhere(small_disk, tmp_path, capsys, monkeypatch):
    mount, real = small_disk
    elsewhere = tmp_path / "tmp"
    elsewhere.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(elsewhere))
    corpus = write_text(tmp_path / "c.txt", lines=2000)
    real_run = Word2Vec._run

    def run_then_fill(self, *args, **kwargs):
        seconds = real_run(self, *args, **kwargs)
        fill(mount, real, monkeypatch)  # the disk fills while training
        return seconds

    monkeypatch.setattr(Word2Vec, "_run", run_then_fill)
    rc = cli.main(["train", str(corpus), "-o", str(mount / "m.w2v"), *FAST])
    line = assert_one_line_error(rc, capsys.readouterr().err, f"cannot write '{mount / 'm.w2v'}'",
                                 "No space left on device", f"saved to {elsewhere / 'm.w2v'} instead")
    assert "Traceback" not in line
    model = Word2Vec.load(elsewhere / "m.w2v")
    assert len(model.training_log) == 1 and "common" in model.vocab.words
    assert not (mount / "m.w2v").exists()
    assert not [p for p in os.listdir(mount) if p.endswith(".tmp")]


def test_checkpoint_on_a_full_disk_goes_elsewhere_on_interrupt(small_disk, tmp_path, monkeypatch):
    mount, real = small_disk
    elsewhere = tmp_path / "tmp"
    elsewhere.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(elsewhere))
    corpus = write_text(tmp_path / "c.txt", lines=20_000)

    def interrupt(entry):
        fill(mount, real, monkeypatch)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as stop:
        # the interrupt comes from the epoch callback: the pass is done, its checkpoint must still land
        Word2Vec(dim=8, epochs=3, min_count=1, threads=1).train(
            corpus, progress=False, checkpoint=mount / "m.ckpt", callbacks=[interrupt])
    assert str(elsewhere / "m.ckpt") in str(stop.value)
    assert load_checkpoint(elsewhere / "m.ckpt")[1].epoch == 1


def test_a_failing_periodic_checkpoint_does_not_stop_training(tmp_path, monkeypatch, caplog):
    from w2v import checkpoint as checkpoint_mod

    attempts = []

    def no_room(path, *a, **k):
        attempts.append(path)
        raise OutputError.wrap(OSError(errno.ENOSPC, "No space left on device"), os.fspath(path))

    monkeypatch.setattr(checkpoint_mod, "save_checkpoint", no_room)
    corpus = write_text(tmp_path / "c.txt", lines=150_000)  # long enough for the trainer to try a save
    with caplog.at_level(logging.WARNING, logger="w2v"):
        model = Word2Vec(dim=8, epochs=2, min_count=1, threads=1).train(
            corpus, progress=False, checkpoint=tmp_path / "m.ckpt", checkpoint_every=1e-9)
    assert len(model.training_log) == 2 and attempts
    assert "No space left on device" in caplog.text and "training goes on" in caplog.text


def test_python_saves_raise_output_errors(small_disk, tmp_path, monkeypatch):
    """Word2Vec.save, KeyedVectors.save and save_word2vec_format: a W2VError that is an OSError, never a
    bare OSError, and never a partial file."""
    mount, real = small_disk
    corpus = write_text(tmp_path / "c.txt")
    model = Word2Vec(dim=8, epochs=1, min_count=1, threads=1).train(corpus, progress=False)
    fill(mount, real, monkeypatch)
    for save in (model.save, model.wv.save, model.wv.save_word2vec_format):
        with pytest.raises(OutputError) as err:
            save(mount / "x.bin")
        assert isinstance(err.value, OSError) and isinstance(err.value, W2VError)
        assert err.value.errno == errno.ENOSPC and "x.bin" in str(err.value)
    assert not [p for p in os.listdir(mount) if p != "filler"]
    with pytest.raises(OutputError, match="does not exist"):
        model.save(tmp_path / "missing" / "m.w2v")


def test_check_room_adds_up_each_file_system(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    free = {str(tmp_path): 10 << 20}
    outputs.check_room([("x", a, 4 << 20), ("y", b, 4 << 20)], free=free.get)
    with pytest.raises(OutputError, match=r"x 4\.2 MB, y 6\.3 MB"):
        outputs.check_room([("x", a, 4 << 20), ("y", b, 6 << 20)], free=free.get)
    outputs.check_room([("x", a, 1 << 40)], free=lambda d: None)  # unknown: not checked


def test_the_room_needed_follows_what_coexists(tmp_path, capsys, monkeypatch):
    """Without periodic checkpoints the checkpoint and the model never coexist: a disk with room for one
    model trains; with --checkpoint-every it needs two and is refused."""
    corpus = tmp_path / "c.txt"
    corpus.write_text("".join(f"w{i % 3000} w{i % 2999} w{i % 17}\n" for i in range(20_000)))
    out = tmp_path / "out"
    out.mkdir()
    from w2v.train import native_file_bytes
    from w2v.vocab import build_vocab

    size = native_file_bytes(build_vocab(Corpus(corpus), min_count=1), 50)
    real_free = outputs.free_bytes
    monkeypatch.setattr(outputs, "free_bytes",
                        lambda d: int(1.5 * size) if str(d).startswith(str(out)) else real_free(d))
    args = ["train", str(corpus), "-o", str(out / "m.w2v"), "--dim", "50", "--min-count", "1", "--epochs", "1",
            "--threads", "1", "--quiet"]
    assert cli.main(args) == 0, capsys.readouterr().err
    rc = cli.main([*args, "--checkpoint-every", "600"])
    assert_one_line_error(rc, capsys.readouterr().err, "not enough room", "the checkpoint")


def test_no_room_for_the_encoded_corpus_is_refused_before_reading_it_again(tmp_path, capsys, monkeypatch):
    corpus = write_text(tmp_path / "c.txt", lines=20_000)
    cache = tmp_path / "cache"
    cache.mkdir()
    real_free = outputs.free_bytes
    monkeypatch.setattr(outputs, "free_bytes", lambda d: 100_000 if str(d).startswith(str(cache)) else real_free(d))
    rc = cli.main(["train", str(corpus), "-o", str(tmp_path / "m.w2v"), "--cache-dir", str(cache), *FAST])
    assert_one_line_error(rc, capsys.readouterr().err, "not enough room", str(cache), "the encoded corpus")


def test_a_full_cache_disk_is_one_line_not_a_traceback(tmp_path):
    """The encoded corpus itself on a disk that fills: CorpusError (the close of the half-written file must
    not hide it)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if not _mount_tmpfs(disk, "256k"):
        pytest.skip("needs a real tmpfs (root on Linux)")
    try:
        from w2v.corpus import encode_corpus
        from w2v.vocab import build_vocab

        c = Corpus(write_text(tmp_path / "c.txt", lines=40_000))
        with pytest.raises(CorpusError, match="disk full while writing the encoded corpus"):
            encode_corpus(c, build_vocab(c, min_count=1), directory=disk)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_sighup_ignored_by_nohup_stays_ignored(tmp_path):
    """`nohup w2v train ...`: the terminal closing must not stop the training."""
    corpus = write_text(tmp_path / "c.txt", lines=200_000)
    out = tmp_path / "m.w2v"

    def ignore_hup():
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    proc = subprocess.Popen(w2v("train", corpus, "-o", out, "--dim", 16, "--epochs", 3, "--min-count", 1),
                            stderr=subprocess.PIPE, text=True, preexec_fn=ignore_hup)
    for line in proc.stderr:
        if "pass 2: encoded" in line:
            break
    proc.send_signal(signal.SIGHUP)
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 0, rest
    assert out.exists()


def test_a_signal_between_the_last_pass_and_the_save_waits_for_the_model(monkeypatch, tmp_path, capsys):
    corpus = write_text(tmp_path / "c.txt")
    real = Word2Vec._record_stats

    def record_then_signal(self, *args, **kwargs):
        real(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)  # training is over, the model not yet saved

    monkeypatch.setattr(Word2Vec, "_record_stats", record_then_signal)
    rc = cli.main(["train", str(corpus), "-o", str(tmp_path / "m.w2v"), *FAST])
    err = capsys.readouterr().err
    assert rc == 143 and "after the model was saved" in err, err
    assert Word2Vec.load(tmp_path / "m.w2v").training_log


def test_a_signal_during_the_vectors_export_says_the_model_is_safe(monkeypatch, tmp_path, capsys):
    corpus = write_text(tmp_path / "c.txt")
    from w2v.vectors import KeyedVectors as KV

    def export_interrupted(self, path, binary=True):
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(KV, "save_word2vec_format", export_interrupted)
    rc = cli.main(["train", str(corpus), "-o", str(tmp_path / "m.w2v"), "--vectors", str(tmp_path / "v.bin"),
                   *FAST])
    err = capsys.readouterr().err
    assert rc == 143 and "after the model was saved to" in err and "the vectors were not written" in err, err
    assert f"'w2v export {tmp_path / 'm.w2v'} {tmp_path / 'v.bin'} --format word2vec-binary'" in err, err
    assert "plot-loss" not in err and "not written or changed" not in err
    assert Word2Vec.load(tmp_path / "m.w2v").training_log


def test_a_closed_stderr_pipe_does_not_lose_the_training(tmp_path):
    """`w2v train ... 2>&1 | head -2`: the progress goes silent, the model is saved."""
    corpus = write_text(tmp_path / "c.txt", lines=100_000)
    out = tmp_path / "m.w2v"
    proc = subprocess.Popen(w2v("train", corpus, "-o", out, "--dim", 16, "--epochs", 3, "--min-count", 1),
                            stderr=subprocess.PIPE)
    proc.stderr.readline()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 0
    assert len(Word2Vec.load(out).training_log) == 3


def test_resume_writes_new_checkpoints_where_asked(tmp_path):
    corpus = write_text(tmp_path / "c.txt", lines=20_000)
    first, second = tmp_path / "first.ckpt", tmp_path / "second.ckpt"

    def stop(entry):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Word2Vec(dim=8, epochs=3, min_count=1, threads=1).train(corpus, progress=False, checkpoint=first,
                                                                  callbacks=[stop])
    before = first.read_bytes()
    with pytest.raises(KeyboardInterrupt):
        Word2Vec.resume(first, corpus, progress=False, checkpoint_to=second, callbacks=[stop])
    assert first.read_bytes() == before and load_checkpoint(second)[1].epoch == 2


TEXT_NOT_BINARY = {
    "custard at byte 257": b"A" * 255 + b" custard pudding with nutmeg\n" * 20,
    "nroff overstrike": b"N\x08NA\x08AM\x08ME\x08E\n     b\x08ba\x08as\x08sh\x08h - GNU Bourne-Again SHell\n" * 30,
    "a short Latin-1 note": "\u00c7a \u00e9t\u00e9 l\u00e0\n".encode("latin-1"),
    "a few stray NULs in a short file": b"a\x00b c\x00d\n",
}


@pytest.mark.parametrize("name", list(TEXT_NOT_BINARY))
def test_text_that_looks_odd_is_still_text(name):
    assert not_text(TEXT_NOT_BINARY[name], complete=True) is None


def test_vector_files_in_text_forms_are_refused():
    rng = np.random.default_rng(0)
    glove = "".join(f"word{i} " + " ".join(f"{x:.5f}" for x in rng.normal(size=50)) + "\n" for i in range(20))
    assert "GloVe style" in not_text(glove.encode(), complete=True)
    rows = rng.normal(0, 0.3, (3, 2)).astype("<f4")
    long_words = b"3 2\n" + b"".join(b"averyveryverylongword%d " % i + r.tobytes() + b"\n"
                                        for i, r in enumerate(rows))
    assert "word2vec vectors file (binary" in not_text(long_words, complete=True)
    koi8 = ("\u0441\u044a\u0435\u0448\u044c \u0436\u0435 \u0435\u0449\u0451 \n" * 20).encode("koi8-r")
    assert "ITS-ENCODING" in not_text(koi8) and "LATIN1" not in not_text(koi8)


def test_the_text_export_estimate_is_an_upper_bound(tmp_path):
    rng = np.random.default_rng(0)
    vectors = (rng.normal(0, 1, (500, 30)) * 10.0 ** rng.integers(-6, 2, (500, 30))).astype(np.float32)
    words = [f"w{i}" for i in range(500)]
    formats.save_word2vec(tmp_path / "v.txt", words, vectors, binary=False)
    estimate = formats.word2vec_size(500, sum(len(w) for w in words), 30, binary=False)
    assert (tmp_path / "v.txt").stat().st_size <= estimate


def test_an_output_that_would_replace_a_text_file_of_a_corpus_directory_is_refused(tmp_path, capsys):
    from w2v import cli

    d = tmp_path / "corpus"
    d.mkdir()
    (d / "a.txt").write_text("the quick brown fox\n" * 50)
    (d / "b.txt").write_text("the lazy dog\n" * 50)
    for argv in (["phrases", str(d), "-o", str(d / "a.txt")],
                 ["train", str(d), "-o", str(tmp_path / "m.w2v"), "--vectors", str(d / "b.txt"), "--min-count", "1",
                  "--quiet"]):
        assert cli.main(argv) == 2
        assert "is a text file of the corpus directory" in capsys.readouterr().err
    assert (d / "a.txt").read_text() == "the quick brown fox\n" * 50
    assert (d / "b.txt").read_text() == "the lazy dog\n" * 50
    assert not (tmp_path / "m.w2v").exists()


def test_outputs_of_w2v_in_a_corpus_directory_let_a_command_run_again(tmp_path, capsys):
    from w2v import cli

    d, e = tmp_path / "phrases", tmp_path / "train"
    for directory in (d, e):
        directory.mkdir()
        (directory / "a.txt").write_text("the quick brown fox jumps over the lazy dog\n" * 200)
    for _ in range(2):  # the second run finds the first one's outputs there: left out, not refused
        assert cli.main(["phrases", str(d), "-o", str(tmp_path / "p.txt"), "--save-phrases", str(d / "p.tsv"),
                         "--min-count", "1", "--quiet"]) == 0
        assert cli.main(["train", str(e), "-o", str(e / "m.w2v"), "--plot-loss", str(e / "loss.svg"),
                         "--vectors", str(e / "v.txt"), "--min-count", "1", "--epochs", "1", "--dim", "8",
                         "--quiet"]) == 0
    capsys.readouterr()


def test_no_room_anywhere_for_the_trained_model_waits_for_room(monkeypatch, tmp_path, capsys):
    import threading

    from w2v import train_command

    corpus, model = write_text(tmp_path / "c.txt"), tmp_path / "m.w2v"
    real = outputs.save_with_fallback
    calls = []

    def full(write, path, fallbacks):
        calls.append(path)
        raise OutputError.wrap(OSError(errno.ENOSPC, "No space left on device"), str(path))

    def full_then_room(write, path, fallbacks):
        return full(write, path, fallbacks) if len(calls) < 2 else real(write, path, fallbacks)

    monkeypatch.setattr(train_command, "SAVE_RETRY_SECONDS", 0.01)
    monkeypatch.setattr(outputs, "save_with_fallback", full_then_room)
    assert cli.main(["train", str(corpus), "-o", str(model), *FAST]) == 0
    err = capsys.readouterr().err
    assert err.count("is only in memory: make room") == 1 and Word2Vec.load(model).training_log, err
    # never any room: given up after SAVE_WAIT_SECONDS, saying so
    monkeypatch.setattr(train_command, "SAVE_WAIT_SECONDS", 0.05)
    monkeypatch.setattr(outputs, "save_with_fallback", full)
    assert cli.main(["train", str(corpus), "-o", str(tmp_path / "m2.w2v"), *FAST]) == 2
    err = capsys.readouterr().err
    assert "gave up after waiting 0 minutes for room: the trained model is lost" in err, err
    # a stop while waiting gives up at once, and says so (not that the model was saved)
    monkeypatch.setattr(train_command, "SAVE_RETRY_SECONDS", 10.0)
    timers = []

    def full_then_stop(write, path, fallbacks):  # Ctrl-C (what the warning offers) once the wait has begun
        timers.append(threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)))
        timers[-1].start()
        full(write, path, fallbacks)
    monkeypatch.setattr(outputs, "save_with_fallback", full_then_stop)
    try:
        assert cli.main(["train", str(corpus), "-o", str(tmp_path / "m3.w2v"), *FAST]) == 130
    finally:
        for timer in timers:
            timer.cancel()
    err = capsys.readouterr().err
    assert "while waiting for room to save the trained model: it is lost" in err and "not written or" not in err, err
    # Ctrl-C three times during a save: out at once, and the message says the model is lost (not saved)

    def cut(write, path, fallbacks):
        for _ in range(3):
            os.kill(os.getpid(), signal.SIGINT)
        return real(write, path, fallbacks)
    monkeypatch.setattr(outputs, "save_with_fallback", cut)
    assert cli.main(["train", str(corpus), "-o", str(tmp_path / "m4.w2v"), *FAST]) == 130
    err = capsys.readouterr().err
    assert "pressed again while a file was being written (it was not): the trained model is lost" in err, err
    assert not any((tmp_path / f"m{i}.w2v").exists() for i in (2, 3, 4))
    # ... and pressed the third time just after the file was renamed into place: it was saved, and says so

    def cut_after(write, path, fallbacks):
        real(write, path, fallbacks)
        for _ in range(3):
            os.kill(os.getpid(), signal.SIGINT)
    monkeypatch.setattr(outputs, "save_with_fallback", cut_after)
    assert cli.main(["train", str(corpus), "-o", str(tmp_path / "m5.w2v"), *FAST]) == 130
    err = capsys.readouterr().err
    assert "after the model was saved to" in err and "is lost" not in err, err
    assert Word2Vec.load(tmp_path / "m5.w2v").training_log
    # ... or just after it was renamed into place in a fallback directory, -o having failed: saved there, and says so
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def cut_after_elsewhere(write, path, fallbacks):
        write(str(elsewhere / "m6.w2v"))
        for _ in range(3):
            os.kill(os.getpid(), signal.SIGINT)
    monkeypatch.setattr(outputs, "save_with_fallback", cut_after_elsewhere)
    assert cli.main(["train", str(corpus), "-o", str(tmp_path / "m6.w2v"), *FAST]) == 130
    err = capsys.readouterr().err
    assert f"after the model was saved to {elsewhere / 'm6.w2v'} (instead of {tmp_path / 'm6.w2v'})" in err, err
    assert "is lost" not in err and Word2Vec.load(elsewhere / "m6.w2v").training_log


def test_a_stop_while_a_resume_reads_says_the_checkpoint_is_as_it_was(monkeypatch, tmp_path, capsys):
    from w2v import checkpoint as checkpoint_module

    corpus, ckpt = write_text(tmp_path / "c.txt"), tmp_path / "m.ckpt"

    def stop(entry):  # a checkpoint after pass 1, whatever the timing (a tick may never come in so short a pass)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Word2Vec(dim=8, epochs=2, min_count=1, threads=1).train(str(corpus), progress=False, checkpoint=ckpt,
                                                               callbacks=[stop])
    before = ckpt.read_bytes()
    monkeypatch.setattr(checkpoint_module, "check_fingerprint", lambda *a: os.kill(os.getpid(), signal.SIGTERM))
    rc = cli.main(["train", str(corpus), "-o", str(tmp_path / "m.w2v"), "--resume", str(ckpt), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 143 and f"the checkpoint {ckpt} is as it was (the same command resumes it)" in err, err
    assert ckpt.read_bytes() == before and not (tmp_path / "m.w2v").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_an_output_that_is_a_fifo_a_device_or_a_stream_is_refused_not_replaced(tmp_path, capsys):
    """The atomic save renames a finished file onto the output's name: onto a FIFO, a device (as root,
    /dev/null itself) or /dev/stdout (the file the shell redirected it to) that replaced what was there.
    Refused with one line, before any work, by the commands and by the library; the FIFO stays a FIFO."""
    import stat

    fifo, link = tmp_path / "ff", tmp_path / "link.txt"
    os.mkfifo(fifo)
    link.symlink_to(fifo)
    corpus = tmp_path / "c.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog\n" * 300)
    model = tmp_path / "m.w2v"
    assert cli.main(["train", str(corpus), "-o", str(model), "--min-count", "1", "--epochs", "1", "--dim", "8",
                     "--sample", "0", "--quiet"]) == 0
    capsys.readouterr()
    for args in (["export", str(model), str(fifo), "--format", "word2vec-text"],
                 ["export", str(model), str(link), "--format", "word2vec-text"],
                 ["train", str(corpus), "-o", str(fifo), "--min-count", "1", "--epochs", "1", "--dim", "8"],
                 ["phrases", str(corpus), "-o", str(fifo), "--min-count", "1"]):
        assert cli.main(args) == 2, args
        err = capsys.readouterr().err
        assert "is a FIFO, not a regular file" in err and "give a file name" in err and len(err.splitlines()) == 1
    with pytest.raises(OutputError, match="is a FIFO, not a regular file"):
        Word2Vec.load(model).wv.save_word2vec_format(str(fifo), binary=False)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and link.is_symlink()
    to_stdout = tmp_path / "out.txt"
    to_stdout.symlink_to("/dev/stdout")  # a link to a stream is one too, whatever stdout is redirected to
    for stream in ("/dev/stdout", "/dev/stderr", "/dev/fd/1", "/proc/self/fd/2", to_stdout):
        assert "is a stream" in outputs.not_a_file(stream)  # (checked by name: never written in a test)
    assert outputs.not_a_file("a\x00b") is None  # (a NUL: open's own error, later)
    assert "is a device" in outputs.not_a_file("/dev/null")
    assert outputs.not_a_file(tmp_path / "new.txt") is None and outputs.not_a_file(model) is None


def test_an_output_under_a_file_says_the_file_is_not_a_directory(tmp_path, capsys):
    """``export m.w2v notes.txt/v.txt``: notes.txt exists, as a file; the message said the directory did not
    exist (text) or "File exists" (the projector's directory)."""
    corpus = write_text(tmp_path / "c.txt")
    model = tmp_path / "m.w2v"
    assert cli.main(["train", str(corpus), "-o", str(model), *FAST]) == 0
    capsys.readouterr()
    assert cli.main(["export", str(model), str(corpus / "v.txt"), "--format", "word2vec-text"]) == 2
    assert f"{str(corpus)!r} is a file, not a directory" in capsys.readouterr().err
    assert cli.main(["export", str(model), str(corpus / "sub"), "--format", "projector"]) == 2
    assert "a file (or a link to nothing) of that name is there; give another OUT" in capsys.readouterr().err
    assert corpus.is_file()
