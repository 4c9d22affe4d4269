"""``w2v export MODEL DIR --format projector``: the Embedding Projector's vectors.tsv and metadata.tsv."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest

from w2v import cli, projector
from w2v.vectors import KeyedVectors


@pytest.fixture
def model(tmp_path):
    rng = np.random.default_rng(0)
    words = ["the", "king", "<b>queen</b>", "naïve", "w4"]
    path = tmp_path / "m.w2v"
    KeyedVectors(words, rng.standard_normal((5, 3)).astype(np.float32), counts=[50, 40, 30, 20, 10]).save(path)
    return str(path)


def _read(path):
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


def test_export_projector(model, tmp_path, capsys):
    out = tmp_path / "new" / "proj"  # created, parents too
    assert cli.main(["export", model, str(out), "--format", "projector"]) == 0
    assert sorted(os.listdir(out)) == ["metadata.tsv", "vectors.tsv"]  # no temporary file left
    kv = KeyedVectors.load(model)
    rows = _read(out / "vectors.tsv").split("\n")
    assert rows[-1] == "" and len(rows) == 6
    np.testing.assert_allclose(np.array([r.split("\t") for r in rows[:-1]], dtype=float), kv.vectors, rtol=1e-5)
    assert _read(out / "metadata.tsv") == "word\tcount\nthe\t50\nking\t40\n<b>queen</b>\t30\nnaïve\t20\nw4\t10\n"
    printed = capsys.readouterr().out
    assert "5 vectors of 3 dimensions for the Embedding Projector" in printed and "words and counts" in printed
    # again, into the existing directory, with --limit: replaced
    assert cli.main(["export", model, str(out), "--format", "projector", "--limit", "2"]) == 0
    assert _read(out / "metadata.tsv") == "word\tcount\nthe\t50\nking\t40\n"
    assert len(_read(out / "vectors.tsv").splitlines()) == 2


def test_without_counts_one_column_no_header(tmp_path):
    kv = KeyedVectors(["a", "b"], np.eye(2, dtype=np.float32))
    vectors_path, metadata_path = projector.save_projector(tmp_path, kv.index_to_key, kv.vectors, kv.counts)
    assert _read(metadata_path) == "a\nb\n"
    assert _read(vectors_path) == "1\t0\n0\t1\n"


def test_words_with_tabs_or_newlines(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        _, metadata_path = projector.save_projector(tmp_path, ["a\tb", "c\nd", "e"], np.zeros((3, 2)), [3, 2, 1])
    assert _read(metadata_path) == "word\tcount\na b\t3\nc d\t2\ne\t1\n"
    assert "2 word(s) held a tab or a line break" in caplog.text


def test_out_is_a_file(model, tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("keep me")
    assert cli.main(["export", model, str(target), "--format", "projector"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file" in err and "give a directory" in err
    assert target.read_text() == "keep me"


def test_no_output_is_the_input(tmp_path, capsys):
    directory = tmp_path / "d"
    directory.mkdir()
    kv = KeyedVectors(["a", "b"], np.eye(2, dtype=np.float32))
    model = directory / "vectors.tsv"  # a word2vec text file that happens to bear the name
    kv.save_word2vec_format(model, binary=False)
    before = model.read_bytes()
    assert cli.main(["export", str(model), str(directory), "--format", "projector"]) == 2
    assert "is the model read" in capsys.readouterr().err
    assert model.read_bytes() == before and not (directory / "metadata.tsv").exists()


def test_failure_leaves_the_directory_as_it_was(model, tmp_path, monkeypatch):
    out = tmp_path / "proj"
    assert cli.main(["export", model, str(out), "--format", "projector"]) == 0
    before = {n: _read(out / n) for n in os.listdir(out)}

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(projector.np, "savetxt", broken)
    assert cli.main(["export", model, str(out), "--format", "projector", "--limit", "1"]) == 2
    assert {n: _read(out / n) for n in os.listdir(out)} == before  # both files intact, no temporaries


def test_a_directory_that_cannot_be_made_or_a_failed_export_leaves_no_directory(model, tmp_path, monkeypatch,
                                                                                capsys):
    out = tmp_path / "a" / "b" / "proj"
    monkeypatch.setattr(projector.np, "savetxt", lambda *a, **k: (_ for _ in ()).throw(OSError(28, "No space")))
    assert cli.main(["export", model, str(out), "--format", "projector"]) == 2
    assert sorted(os.listdir(tmp_path)) == ["m.w2v"]  # a/b/proj made for it, all removed
    monkeypatch.undo()

    def read_only(path, *args, **kwargs):
        raise OSError(30, "Read-only file system", path)
    monkeypatch.setattr(os, "mkdir", read_only)
    capsys.readouterr()
    assert cli.main(["export", model, str(out), "--format", "projector"]) == 2
    err = capsys.readouterr().err
    assert f"cannot write the directory '{tmp_path / 'a'}': Read-only file system" in err and "Traceback" not in err


def test_a_stop_while_the_two_files_are_renamed_waits_for_both(model, tmp_path, monkeypatch, capsys):
    import signal

    out = tmp_path / "proj"
    assert cli.main(["export", model, str(out), "--format", "projector", "--limit", "2"]) == 0
    real = os.replace

    def replace_then_stop(src, dst):  # SIGTERM right after the first file is in place
        real(src, dst)
        os.kill(os.getpid(), signal.SIGTERM)
    monkeypatch.setattr(os, "replace", replace_then_stop)
    capsys.readouterr()
    assert cli.main(["export", model, str(out), "--format", "projector"]) == 143
    err = capsys.readouterr().err
    assert "stopped by SIGTERM after" in err and "were written" in err and "not written" not in err, err
    assert len(_read(out / "vectors.tsv").splitlines()) == 5 and len(_read(out / "metadata.tsv").splitlines()) == 6


def test_missing_model_creates_nothing(tmp_path):
    out = tmp_path / "proj"
    assert cli.main(["export", str(tmp_path / "nope.w2v"), str(out), "--format", "projector"]) == 2
    assert not out.exists()
