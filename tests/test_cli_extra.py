"""The command line's conversion and picture commands: ``import``, ``export --limit``, ``plot``,
``plot-loss`` and ``train --plot-loss``; each mistake is one line on stderr and exit code 2."""

from __future__ import annotations

import os
import random
import struct

import numpy as np
import pytest

from w2v import cli, formats
from w2v.errors import ModelFileError
from w2v.vectors import KeyedVectors

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TRAIN_FAST = ["--dim", "10", "--epochs", "2", "--min-count", "1", "--threads", "1", "--quiet"]


def assert_one_line_error(capsys, rc: int, *fragments: str) -> str:
    stderr = capsys.readouterr().err
    assert rc == 2, stderr
    lines = stderr.strip("\n").splitlines()
    assert len(lines) == 1 and lines[0].startswith("w2v: error: "), stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def assert_png(path) -> None:
    with open(path, "rb") as f:
        assert f.read(8) == PNG_SIGNATURE
    assert os.path.getsize(path) > 1000


@pytest.fixture(scope="module")
def gensim_files(tmp_path_factory):
    """The same 50 random vectors written by gensim as word2vec binary, text and gzipped binary."""
    gensim_models = pytest.importorskip("gensim.models")
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(49)] + ["été"]  # one non-ASCII word
    vectors = rng.normal(size=(50, 12)).astype(np.float32)
    kv = gensim_models.KeyedVectors(vector_size=12)
    kv.add_vectors(words, vectors)
    d = tmp_path_factory.mktemp("gensim")
    paths = {"binary": d / "v.bin", "text": d / "v.txt", "gzip": d / "v.bin.gz"}
    kv.save_word2vec_format(str(paths["binary"]), binary=True)
    kv.save_word2vec_format(str(paths["text"]), binary=False)
    kv.save_word2vec_format(str(paths["gzip"]), binary=True)
    return words, vectors, paths


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> str:
    """A trained native model (60 words in 6 groups that co-occur), with a training log of 2 epochs."""
    rng = random.Random(0)
    groups = [[f"{g}{i}" for i in range(10)] for g in "abcdef"]
    d = tmp_path_factory.mktemp("model")
    with open(d / "small.txt", "w", encoding="utf-8") as f:
        for _ in range(600):
            f.write(" ".join(rng.choice(rng.choice(groups)) for _ in range(10)) + "\n")
    out = d / "small.w2v"
    assert cli.main(["train", str(d / "small.txt"), "-o", str(out), *TRAIN_FAST]) == 0
    return str(out)


# -- import -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["binary", "text", "gzip"])
def test_import_round_trip_from_gensim(gensim_files, kind, tmp_path, capsys):
    words, vectors, paths = gensim_files
    out = tmp_path / "v.w2v"
    assert cli.main(["import", str(paths[kind]), str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "50 vectors of 12 dimensions" in stdout
    assert ("word2vec text" if kind == "text" else "word2vec binary") in stdout
    with open(out, "rb") as f:
        assert formats.sniff(f.read(64)) == "native"
    kv = KeyedVectors.load(out)
    assert kv.index_to_key == words
    np.testing.assert_array_equal(kv.vectors, vectors)  # gensim's text format keeps every float32 digit
    assert kv.counts is None


def test_import_forced_format_and_limit(gensim_files, tmp_path):
    words, vectors, paths = gensim_files
    out = tmp_path / "v.w2v"
    assert cli.main(["import", str(paths["text"]), str(out), "--text", "--limit", "7"]) == 0
    kv = KeyedVectors.load(out)
    assert kv.index_to_key == words[:7]
    np.testing.assert_array_equal(kv.vectors, vectors[:7])
    assert cli.main(["import", str(paths["binary"]), str(out), "--binary"]) == 0
    assert len(KeyedVectors.load(out)) == 50


def test_import_nonfinite_needs_the_flag(tmp_path, capsys):
    src = tmp_path / "nan.txt"
    src.write_text("2 3\na 1 2 3\nb nan 0 1\n", encoding="utf-8")
    out = tmp_path / "v.w2v"
    rc = cli.main(["import", str(src), str(out)])
    assert_one_line_error(capsys, rc, "NaN or infinite", "'b'")
    assert not out.exists()
    assert cli.main(["import", str(src), str(out), "--allow-nonfinite"]) == 0
    assert np.isnan(KeyedVectors.load(out, allow_nonfinite=True).vectors[1, 0])


@pytest.mark.parametrize("content, fragment", [(b"hello world\n", "not a word2vec file"),
                                               (b"", "not a word2vec file"),
                                               (b"3 2\na 1 2\n", "")])
def test_import_bad_input_is_one_line(tmp_path, capsys, content, fragment):
    src = tmp_path / "bad.txt"
    src.write_bytes(content)
    out = tmp_path / "v.w2v"
    assert_one_line_error(capsys, cli.main(["import", str(src), str(out)]), str(src), fragment)
    assert not out.exists()


def test_import_refuses_native_missing_and_conflicting_flags(model, gensim_files, tmp_path, capsys):
    out = str(tmp_path / "v.w2v")
    assert_one_line_error(capsys, cli.main(["import", model, out]), "already a native w2v file")
    assert_one_line_error(capsys, cli.main(["import", str(tmp_path / "nope.bin"), out]), "nope.bin")
    txt = str(gensim_files[2]["text"])
    assert_one_line_error(capsys, cli.main(["import", txt, out, "--binary", "--text"]), "not allowed with")
    assert_one_line_error(capsys, cli.main(["import", txt, str(tmp_path / "no" / "v.w2v")]), "does not exist")
    assert not os.path.exists(out)


def test_import_foreign_files_are_named(tmp_path, capsys):
    """A pickle (.kv), a fastText .bin and a headerless (GloVe) text file are told for what they are."""
    out = str(tmp_path / "v.w2v")
    for name, content, fragment in (("g.kv", b"\x80\x04\x95\x03\x00\x01", "gensim .model or .kv file"),
                                    ("ft.bin", struct.pack("<ii", 793712314, 12), "a fastText model"),
                                    ("glove.txt", b"alpha 0.1 0.2 0.3\nbeta 0.4 0.5 0.6\n", "--no-header")):
        (tmp_path / name).write_bytes(content)
        assert_one_line_error(capsys, cli.main(["import", str(tmp_path / name), out]), fragment)
        with pytest.raises(ModelFileError, match=fragment.replace(".", r"\.")):
            KeyedVectors.load(tmp_path / name)
    assert not os.path.exists(out)
    assert cli.main(["import", str(tmp_path / "glove.txt"), out, "--no-header"]) == 0
    assert "no header" in capsys.readouterr().out
    kv = KeyedVectors.load(out)
    assert kv.index_to_key == ["alpha", "beta"]
    np.testing.assert_array_equal(kv.vectors, np.array([[.1, .2, .3], [.4, .5, .6]], np.float32))
    assert_one_line_error(capsys, cli.main(["import", str(tmp_path / "glove.txt"), out, "--no-header", "--binary"]),
                          "--no-header reads the text format only")


def test_counts_cross_with_a_vocabulary_file(model, tmp_path, capsys):
    """export --vocab writes the counts beside the vectors (gensim's fvocab reads them); import --vocab reads
    them back in; vectors without counts, a file lacking a word and an output named twice are refused."""
    vectors, vocab = tmp_path / "v.bin", tmp_path / "v.vocab"
    assert cli.main(["export", model, str(vectors), "--format", "word2vec-binary", "--vocab", str(vocab)]) == 0
    full = KeyedVectors.load(model)
    assert vocab.read_text().splitlines()[0] == f"{full.index_to_key[0]} {full.counts[0]}"
    out = tmp_path / "back.w2v"
    assert cli.main(["import", str(vectors), str(out), "--vocab", str(vocab)]) == 0
    back = KeyedVectors.load(out)
    assert back.index_to_key == full.index_to_key
    np.testing.assert_array_equal(back.counts, full.counts)
    gensim_models = pytest.importorskip("gensim.models")
    theirs = gensim_models.KeyedVectors.load_word2vec_format(str(vectors), fvocab=str(vocab), binary=True)
    assert [theirs.get_vecattr(w, "count") for w in full.index_to_key[:5]] == list(full.counts[:5])
    capsys.readouterr()
    bare = tmp_path / "bare.w2v"
    assert cli.main(["import", str(vectors), str(bare)]) == 0
    assert_one_line_error(capsys, cli.main(["export", str(bare), str(tmp_path / "x.txt"), "--format",
                                            "word2vec-text", "--vocab", str(tmp_path / "x.vocab")]), "no counts")
    vocab.write_text("".join(vocab.read_text().splitlines(keepends=True)[1:]))  # the first word's line gone
    assert_one_line_error(capsys, cli.main(["import", str(vectors), str(out), "--vocab", str(vocab)]),
                          "no count for 1 of the", repr(full.index_to_key[0]))
    assert_one_line_error(capsys, cli.main(["export", model, str(tmp_path / "proj"), "--format", "projector",
                                            "--vocab", str(tmp_path / "p.vocab")]), "--vocab applies to the word2vec")
    same = str(tmp_path / "s.txt")
    assert_one_line_error(capsys, cli.main(["export", model, same, "--format", "word2vec-text", "--vocab", same]),
                          "are the same file")
    assert not os.path.exists(tmp_path / "x.txt") and not os.path.exists(same)


def test_words_the_word2vec_format_cannot_hold_are_one_line(tmp_path, capsys):
    src = tmp_path / "tab.bin"
    src.write_bytes(b"2 2\nhello " + np.ones(2, "<f4").tobytes() + b"\na\tb " + np.ones(2, "<f4").tobytes() + b"\n")
    out = tmp_path / "tab.txt"
    assert_one_line_error(capsys, cli.main(["export", str(src), str(out), "--format", "word2vec-text"]),
                          "'a\\tb'", "cannot store")
    assert not out.exists()


def test_export_limit(model, tmp_path):
    out = tmp_path / "v.txt"
    assert cli.main(["export", model, str(out), "--format", "word2vec-text", "--limit", "5"]) == 0
    kv, full = KeyedVectors.load(out), KeyedVectors.load(model)
    assert kv.index_to_key == full.index_to_key[:5]
    np.testing.assert_allclose(kv.vectors, full.vectors[:5], rtol=1e-6)


# -- pictures ---------------------------------------------------------------------------------------
def test_plot_words_and_default_words(model, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "words.png"
    assert cli.main(["plot", model, "a0", "b0", "-o", str(out), "--neighbours", "3"]) == 0
    assert_png(out)
    assert "2 words and 6 neighbours" in capsys.readouterr().out
    out2 = tmp_path / "default.png"
    assert cli.main(["plot", model, "-o", str(out2)]) == 0
    assert_png(out2)


def test_plot_unknown_word_suggests(model, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "words.png"
    rc = cli.main(["plot", model, "a0", "a0x", "-o", str(out)])
    assert_one_line_error(capsys, rc, "'a0x' is not in the vocabulary", "did you mean", "'a0'")
    assert not out.exists()


def test_plot_bad_extension_and_tsne_without_sklearn(model, tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    assert_one_line_error(capsys, cli.main(["plot", model, "a0", "-o", str(tmp_path / "w.bmp")]), ".png")
    monkeypatch.setitem(__import__("sys").modules, "sklearn", None)
    rc = cli.main(["plot", model, "a0", "--method", "tsne", "-o", str(tmp_path / "w.png")])
    assert_one_line_error(capsys, rc, "scikit-learn")
    assert os.listdir(tmp_path) == []


def test_plot_of_no_vectors_of_nan_ones_and_pgf_without_latex(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    (tmp_path / "zero.txt").write_text("0 3\n")
    assert_one_line_error(capsys, cli.main(["plot", str(tmp_path / "zero.txt"), "-o", str(tmp_path / "z.png")]),
                          "holds no vectors; nothing to draw")
    (tmp_path / "nan.txt").write_text("3 3\nbad nan 0 0\nb 0.1 0.2 0.3\nc 0.3 0.1 0.2\n")
    assert_one_line_error(capsys, cli.main(["plot", str(tmp_path / "nan.txt"), "b", "-o", str(tmp_path / "n.png")]),
                          "--allow-nonfinite")
    assert cli.main(["plot", str(tmp_path / "nan.txt"), "b", "-n", "1", "-o", str(tmp_path / "n.png"),
                     "--allow-nonfinite"]) == 0  # the flag the message names exists
    monkeypatch.setattr("shutil.which", lambda name: None)  # no LaTeX: refused before any work, not a traceback
    assert_one_line_error(capsys, cli.main(["plot", str(tmp_path / "nan.txt"), "b", "-o", str(tmp_path / "n.pgf")]),
                          "writes .pgf with LaTeX")
    assert not (tmp_path / "n.pgf").exists()


def test_plot_loss_from_a_model_file(model, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "loss.png"
    assert cli.main(["plot-loss", model, "-o", str(out)]) == 0
    assert_png(out)
    assert "loss of 2 epochs" in capsys.readouterr().out


def test_plot_loss_of_a_word2vec_file_has_no_log(model, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    vectors = tmp_path / "v.bin"
    assert cli.main(["export", model, str(vectors), "--format", "word2vec-binary"]) == 0
    out = tmp_path / "loss.png"
    rc = cli.main(["plot-loss", str(vectors), "-o", str(out)])
    assert_one_line_error(capsys, rc, "holds no training log", "word2vec", "w2v train")
    imported = tmp_path / "v.w2v"
    assert cli.main(["import", str(vectors), str(imported)]) == 0
    capsys.readouterr()
    assert_one_line_error(capsys, cli.main(["plot-loss", str(imported), "-o", str(out)]), "no training log")
    assert not out.exists()


def test_train_plot_loss(model, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    corpus = os.path.join(os.path.dirname(model), "small.txt")
    out, loss = tmp_path / "m.w2v", tmp_path / "loss.png"
    assert cli.main(["train", corpus, "-o", str(out), "--plot-loss", str(loss), *TRAIN_FAST]) == 0
    assert_png(loss)
    # a file name matplotlib cannot write is refused before training: nothing is written
    out2 = tmp_path / "m2.w2v"
    rc = cli.main(["train", corpus, "-o", str(out2), "--plot-loss", str(tmp_path / "loss.bmp"), *TRAIN_FAST])
    assert_one_line_error(capsys, rc, "loss.bmp")
    assert not out2.exists()
    same = str(tmp_path / "m.png")
    rc = cli.main(["train", corpus, "-o", same, "--plot-loss", same, *TRAIN_FAST])
    assert_one_line_error(capsys, rc, "--plot-loss")
    assert not os.path.exists(same)
