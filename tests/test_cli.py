"""The command line: train -> query round trips, the one-line error policy, lazy imports, the demo."""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest

from w2v import cli
from w2v.vectors import KeyedVectors
from w2v.config import Config

TRAIN_FAST = ["--dim", "10", "--epochs", "1", "--min-count", "1", "--threads", "1", "--quiet"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    return env


def run_sub(*args: str, code: str | None = None) -> subprocess.CompletedProcess:
    """``python -m w2v ARGS`` (or ``python -c CODE``) in a fresh interpreter."""
    cmd = [sys.executable, "-c", code] if code is not None else [sys.executable, "-m", "w2v", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=120)


def assert_one_line_error(rc: int, stderr: str, *fragments: str) -> None:
    assert rc == 2, stderr
    lines = stderr.strip("\n").splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("w2v: error: "), stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> str:
    """About 6,000 tokens of 60 words; words 'a0'..'a9' only appear together, so do 'b0'..'b9'."""
    rng = random.Random(0)
    groups = [[f"{g}{i}" for i in range(10)] for g in "abcdef"]
    path = tmp_path_factory.mktemp("corpus") / "small.txt"
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(600):
            group = rng.choice(groups)
            f.write(" ".join(rng.choice(group) for _ in range(10)) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def model(corpus, tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("model") / "small.w2v"
    assert cli.main(["train", corpus, "-o", str(out), "--vectors", str(out) + ".bin", *TRAIN_FAST]) == 0
    return str(out)


# -- the happy path ---------------------------------------------------------------------------------
def test_train_writes_model_and_vectors(model):
    assert os.path.getsize(model) > 0
    assert os.path.getsize(model + ".bin") > 0


def test_train_prints_summary(corpus, tmp_path, capsys):
    out = tmp_path / "m.w2v"
    args = ["train", corpus, "-o", str(out), "--dim", "10", "--epochs", "2", "--min-count", "1", "--threads", "1"]
    assert cli.main(args) == 0
    stdout = capsys.readouterr().out
    assert "vocabulary: 60 words" in stdout
    assert "words/s" in stdout and "end to end" in stdout
    table = [line.split() for line in stdout.splitlines()]
    assert ["epoch", "loss"] == table[1][:2]
    assert [row[0] for row in table[2:4]] == ["1", "2"]  # a row per epoch
    assert str(out) in stdout


def test_similar_analogy_evaluate_export_round_trip(model, tmp_path, capsys):
    assert cli.main(["similar", model, "a1", "b2", "-n", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("a1:") and "\nb2:" in out
    assert len([line for line in out.splitlines() if line.startswith("  ")]) == 6

    assert cli.main(["analogy", model, "a1", "a2", "b1", "-n", "2", "--method", "3cosmul"]) == 0
    out = capsys.readouterr().out
    assert "a1 is to a2 as b1 is to ?" in out

    assert cli.main(["evaluate", model, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["analogies"]["total"] == 19544 and res["word_pairs"][0]["oov"] == 353
    assert res["analogies"]["method"] == "3cosadd"
    assert cli.main(["evaluate", model, "--json", "--method", "3cosmul"]) == 0
    assert json.loads(capsys.readouterr().out)["analogies"]["method"] == "3cosmul"

    for fmt, name in (("word2vec-binary", "v.bin"), ("word2vec-text", "v.txt")):
        target = str(tmp_path / name)
        assert cli.main(["export", model, target, "--format", fmt]) == 0
        capsys.readouterr()
        assert cli.main(["similar", target, "a1", "-n", "3"]) == 0
        assert capsys.readouterr().out.startswith("a1:")

    from w2v.vectors import KeyedVectors
    native = KeyedVectors.load(model)
    for name in ("v.bin", "v.txt"):
        other = KeyedVectors.load(str(tmp_path / name))
        assert other.index_to_key == native.index_to_key
        np.testing.assert_allclose(other.vectors, native.vectors, rtol=1e-6, atol=1e-7)
    trained_bin = KeyedVectors.load(model + ".bin")  # written by train --vectors
    np.testing.assert_array_equal(trained_bin.vectors, native.vectors)


@pytest.mark.parametrize("suffix, magic", [(".gz", b"\x1f\x8b"), (".bz2", b"BZh"), (".xz", b"\xfd7zXZ")])
def test_export_compresses_as_the_name_says(model, tmp_path, capsys, suffix, magic):
    gensim_models = pytest.importorskip("gensim.models")
    for fmt, name in (("word2vec-binary", "v.bin"), ("word2vec-text", "v.txt")):
        target = tmp_path / (name + suffix)
        assert cli.main(["export", model, str(target), "--format", fmt]) == 0
        assert target.read_bytes().startswith(magic)
        theirs = gensim_models.KeyedVectors.load_word2vec_format(str(target), binary=fmt == "word2vec-binary")
        ours = KeyedVectors.load(model)
        assert theirs.index_to_key == ours.index_to_key
        np.testing.assert_allclose(theirs.vectors, ours.vectors, rtol=1e-6, atol=1e-7)
    capsys.readouterr()


@pytest.mark.parametrize("argv, says", [
    (["train", "{corpus}", "-o", "{tmp}/m.w2v", "--cbow"], "unrecognized arguments: --cbow; --cbow: w2v's is "
                                                           "--model cbow (see 'w2v train --help')"),
    (["train", "{corpus}", "-o", "{tmp}/m.w2v", "--vec", "300"], "unrecognized arguments: --vec 300 (see 'w2v "
                                                                 "train --help')"),
    (["train", "{corpus}", "-o", "{tmp}/m.w2v", "-size", "50", "-iter", "3"], "-size: w2v's is --dim; -iter: "
                                                                              "w2v's is --epochs"),
    (["train", "{corpus}", "-o", "{tmp}/m.w2v", "--cbow-sum"], "--cbow-sum applies to --model cbow only"),
    (["similar", "{tmp}/m.w2v", "a1", "--lim", "3"], "unrecognized arguments: --lim 3 (see 'w2v similar"),
])
def test_options_are_never_abbreviated_and_foreign_ones_are_translated(corpus, tmp_path, capsys, argv, says):
    argv = [a.format(corpus=corpus, tmp=tmp_path) for a in argv]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []


def test_distributed_settings_outside_torchrun_are_said_to_do_nothing(corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    assert cli.main(["train", corpus, "-o", str(tmp_path / "m.w2v"), "--sync", "full", "--sync-words", "9",
                     *TRAIN_FAST]) == 0
    err = capsys.readouterr().err
    assert err.count("--sync, --sync-words: distributed settings, ignored in a training of one") == 1, err


def test_a_huge_noise_exponent_trains_without_overflow(corpus, tmp_path, capsys, recwarn):
    out = tmp_path / "m.w2v"
    assert cli.main(["train", corpus, "-o", str(out), "--ns-exponent", "100", *TRAIN_FAST]) == 0
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    assert "RuntimeWarning" not in capsys.readouterr().err


def test_similarity_files_before_the_model_are_explained(model, tmp_path, capsys):
    assert cli.main(["evaluate", "--similarity", "p.tsv", model]) == 2
    assert "--similarity takes every file after it: write MODEL first" in capsys.readouterr().err
    assert cli.main(["evaluate", "--json"]) == 2
    assert "--similarity" not in capsys.readouterr().err
    assert cli.main(["export", model, "-", "--format", "projector"]) == 2
    assert "w2v writes files, not standard output" in capsys.readouterr().err


def test_standard_output_is_no_output_file(model, corpus, capsys):
    for argv in (["export", model, "-", "--format", "word2vec-text"], ["train", corpus, "-o", "-"],
                 ["phrases", corpus, "-o", "-"]):
        assert cli.main(argv) == 2
        assert "w2v writes files, not standard output" in capsys.readouterr().err
    assert not os.path.exists("-")


def test_similar_names_every_unknown_word_at_once(model, capsys):
    assert cli.main(["similar", model, "a1", "zz9", "A2"]) == 2
    err = capsys.readouterr().err
    assert "2 words are not in the vocabulary: 'zz9'" in err and "'A2' (did you mean 'a2'" in err
    assert cli.main(["analogy", model, "zz9", "a1", "A2"]) == 2  # analogy too (it named the first only)
    err = capsys.readouterr().err
    assert "2 words are not in the vocabulary: 'zz9'" in err and "'A2' (did you mean 'a2'" in err


def test_train_vectors_named_vec_are_text(corpus, tmp_path, capsys):
    out = tmp_path / "m.w2v"
    assert cli.main(["train", corpus, "-o", str(out), "--vectors", str(tmp_path / "v.vec"), *TRAIN_FAST]) == 0
    assert (tmp_path / "v.vec").read_text().startswith("60 10\n")


def test_a_diverging_training_is_one_line_and_leaves_no_file(corpus, tmp_path, capsys):
    out = tmp_path / "m.w2v"
    argv = ["train", corpus, "-o", str(out), "--vectors", str(tmp_path / "v.bin"), "--alpha", "1",
            "--checkpoint-every", "0.001", "--dim", "50", "--epochs", "3", "--min-count", "1", "--threads", "1",
            "--quiet"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "w2v: error: training diverged in pass 1" in err and "--alpha" in err and "Traceback" not in err
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".ckpt")] == []


def test_train_vectors_named_txt_gz_are_gzipped_text(corpus, tmp_path, capsys):
    out = tmp_path / "m.w2v"
    assert cli.main(["train", corpus, "-o", str(out), "--vectors", str(out) + ".txt.gz", *TRAIN_FAST]) == 0
    capsys.readouterr()
    text = gzip.decompress((tmp_path / "m.w2v.txt.gz").read_bytes()).decode()
    assert text.startswith("60 10\n") and len(text.splitlines()) == 61


@pytest.mark.parametrize("argv", [["train", "{corpus}", "-o", "{tmp}/m.w2v.gz"],
                                  ["train", "{corpus}", "-o", "{tmp}/m.w2v", "--checkpoint", "{tmp}/c.ckpt.xz"],
                                  ["import", "{model}.bin", "{tmp}/m.w2v.bz2"]])
def test_a_native_file_named_as_compressed_is_refused_before_any_work(corpus, model, tmp_path, capsys, argv):
    argv = [a.format(corpus=corpus, tmp=tmp_path, model=model) for a in argv]
    assert cli.main(argv) == 2
    assert "native w2v files are not compressed" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == []


def test_evaluate_given_files(model, tmp_path, capsys):
    analogies = tmp_path / "q.txt"
    analogies.write_text(": group\na0 a1 b0 b1\na0 a1 zz b1\n", encoding="utf-8")
    pairs = tmp_path / "p.tsv"
    pairs.write_text("a0\ta1\t9\na0\tb1\t1\nb0\tb1\t8\nzz\ta0\t5\n", encoding="utf-8")
    assert cli.main(["evaluate", model, "--analogies", str(analogies), "--similarity", str(pairs),
                     "--restrict-vocab", "50", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert (res["analogies"]["answered"], res["analogies"]["oov"]) == (1, 1)
    assert (res["word_pairs"][0]["pairs"], res["word_pairs"][0]["oov"]) == (3, 1)
    assert cli.main(["evaluate", model, "--analogies", str(analogies), "--similarity", str(pairs)]) == 0
    report = capsys.readouterr().out
    assert "q.txt" in report and "p.tsv" in report


def test_subprocess_round_trip(model):
    res = run_sub("similar", model, "a3", "-n", "2")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("a3:") and res.stderr == ""


# -- flags derived from Config ----------------------------------------------------------------------
def test_every_config_field_has_a_flag():
    help_text = cli.build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    for f in dataclasses.fields(Config):
        flag = "--cbow-sum" if f.name == "cbow_mean" else cli.flag_name(f.name)
        assert flag in help_text, flag
    for flag in ("--ns-exponent", "--max-final-vocab", "--min-alpha", "--hogbatch", "--cache-dir", "--vectors"):
        assert flag in help_text
    assert "(default: 100)" in help_text and "0 uses every core" in help_text


def test_only_given_options_are_passed():
    args = cli.build_parser().parse_args(["train", "c.txt", "-o", "m.w2v", "--model", "cbow", "--cbow-sum",
                                          "--sample", "1e-4", "--max-vocab", "1000"])
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config) if hasattr(args, f.name)}
    assert given == {"model": "cbow", "cbow_mean": False, "sample": 1e-4, "max_vocab": 1000}


# -- errors: exit code 2, one line, nothing written -------------------------------------------------
@pytest.mark.parametrize("case", ["missing", "empty", "dim0", "min_count", "bad_flag", "bad_choice", "no_dir"])
def test_train_errors(case, corpus, tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    out = tmp_path / "out.w2v"
    args, expected = {
        "missing": (["train", str(tmp_path / "nope.txt"), "-o", str(out)], ["nope.txt"]),
        "empty": (["train", str(empty), "-o", str(out)], ["empty"]),
        "dim0": (["train", corpus, "-o", str(out), "--dim", "0"], ["--dim", "got 0"]),
        "min_count": (["train", corpus, "-o", str(out), "--min-count", "100000"], ["min_count"]),
        "bad_flag": (["train", corpus, "-o", str(out), "--dimension", "3"], ["--dimension"]),
        "bad_choice": (["train", corpus, "-o", str(out), "--model", "glove"], ["--model", "glove"]),
        "no_dir": (["train", corpus, "-o", str(tmp_path / "nodir" / "m.w2v")], ["nodir"]),
    }[case]
    rc = cli.main(args + ["--threads", "1", "--quiet"])
    assert_one_line_error(rc, capsys.readouterr().err, *expected)
    assert sorted(os.listdir(tmp_path)) == ["empty.txt"]  # no output, no temporary file


def test_failed_train_keeps_existing_output(tmp_path, capsys):
    out = tmp_path / "out.w2v"
    out.write_bytes(b"precious")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    assert cli.main(["train", str(empty), "-o", str(out), "--quiet"]) == 2
    assert out.read_bytes() == b"precious"
    assert sorted(os.listdir(tmp_path)) == ["empty.txt", "out.w2v"]


def test_interrupted_train_exits_130_and_keeps_output(corpus, tmp_path, capsys, monkeypatch):
    from w2v import train

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train.Word2Vec, "train", interrupted)
    out = tmp_path / "out.w2v"
    out.write_bytes(b"precious")
    assert cli.main(["train", corpus, "-o", str(out), "--quiet"]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interrupted" in err[0]
    assert out.read_bytes() == b"precious"


def test_unknown_word(model, capsys):
    rc = cli.main(["similar", model, "a1", "a11"])
    captured = capsys.readouterr()
    assert_one_line_error(rc, captured.err, "'a11'", "did you mean", "'a1'")
    assert captured.out == ""  # every word is checked before anything is printed
    rc = cli.main(["analogy", model, "a1", "a2", "qqq"])
    assert_one_line_error(rc, capsys.readouterr().err, "'qqq'")


@pytest.mark.parametrize("case", ["missing_model", "foreign_model", "bad_n", "bad_eval_file", "export_dir"])
def test_query_errors(case, model, tmp_path, capsys):
    foreign = tmp_path / "foreign.bin"
    foreign.write_bytes(b"\x00\x01 not vectors")
    bad_eval = tmp_path / "bad.txt"
    bad_eval.write_text(": s\nonly three words\n")
    args, expected = {
        "missing_model": (["similar", str(tmp_path / "none.w2v"), "a1"], ["none.w2v"]),
        "foreign_model": (["similar", str(foreign), "a1"], ["foreign.bin"]),
        "bad_n": (["similar", model, "a1", "-n", "0"], ["-n"]),
        "bad_eval_file": (["evaluate", model, "--analogies", str(bad_eval)], ["bad.txt", "line 2"]),
        "export_dir": (["export", model, str(tmp_path), "--format", "word2vec-text"], ["directory"]),
    }[case]
    assert_one_line_error(cli.main(args), capsys.readouterr().err, *expected)


def test_errors_in_a_subprocess(model, tmp_path):
    res = run_sub("train", str(tmp_path / "nope.txt"), "-o", str(tmp_path / "m.w2v"))
    assert_one_line_error(res.returncode, res.stderr, "nope.txt")
    res = run_sub("similar", model, "zzz")
    assert_one_line_error(res.returncode, res.stderr, "'zzz'")
    res = run_sub("frobnicate")
    assert_one_line_error(res.returncode, res.stderr, "frobnicate")
    res = run_sub()
    assert_one_line_error(res.returncode, res.stderr, "COMMAND")
    assert not os.path.exists(tmp_path / "m.w2v")


def test_version(capsys):
    from w2v import __version__

    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"w2v {__version__}"
    res = run_sub("--version")
    assert res.returncode == 0 and res.stdout.strip() == f"w2v {__version__}"


# -- imports ----------------------------------------------------------------------------------------
def test_queries_do_not_import_numba(model, tmp_path):
    text = str(tmp_path / "v.txt")
    code = f"""
import sys, contextlib, io
from w2v.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    assert main(["similar", {model!r}, "a1"]) == 0
    assert main(["analogy", {model!r}, "a1", "a2", "b1"]) == 0
    assert main(["evaluate", {model!r}]) == 0
    assert main(["export", {model!r}, {text!r}, "--format", "word2vec-text"]) == 0
    assert main(["--help"]) == 0
bad = sorted(m for m in sys.modules if m.split(".")[0] == "numba" or m in ("w2v.train", "w2v.kernels"))
print(bad)
"""
    res = run_sub(code=code)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


def test_python_dash_m_w2v_help():
    res = run_sub("--help")
    assert res.returncode == 0
    for command in ("train", "similar", "analogy", "evaluate", "export", "demo"):
        assert command in res.stdout


# -- the demo ---------------------------------------------------------------------------------------
def test_demo_corpus_is_bundled():
    from importlib import resources

    with resources.as_file(cli.demo_corpus_path()) as path:
        assert os.path.getsize(path) > 1_000_000


@pytest.mark.slow
def test_demo(capsys):
    assert cli.main(["demo", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "vocabulary:" in out and "nearest to 'jesus':" in out and "christ" in out
    assert "man is to woman as king is to ?" in out
