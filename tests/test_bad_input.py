"""Every bad input is a test case: a clear error (a W2VError; exit code 2 and one line on the command line,
nothing written) or a counted warning, never a traceback or a hang (DESIGN.md, "Bad input").

Sections: corpora, settings, model files, untrusted files (no pickle), memory.
"""

from __future__ import annotations

import bz2
import dataclasses
import gzip
import json
import logging
import lzma
import math
import os
import re
import struct
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from w2v import cli, config as config_mod, corpus as corpus_mod, formats, memory
from w2v.config import Config
from w2v.corpus import Corpus, encode_corpus
from w2v.errors import (ConfigError, CorpusError, CorpusNotFoundError, ModelFileError, ModelFileNotFoundError,
                        ResourceError, W2VError)
from w2v.vectors import KeyedVectors
from w2v.vocab import build_vocab

SRC = Path(__file__).resolve().parents[1] / "src" / "w2v"
COMPRESS = {"gzip": gzip.compress, "bzip2": bz2.compress, "xz": lzma.compress}
TEXT = "".join(f"w{i % 13} w{i % 7} w{i % 5} common\n" for i in range(400))


def assert_one_line_error(rc: int, stderr: str, *fragments: str, warnings: bool = False) -> str:
    """Exit code 2 and one line ``w2v: error: ...`` holding each fragment (after warnings, if allowed)."""
    assert rc == 2, stderr
    lines = stderr.strip("\n").splitlines()
    if warnings:  # counted repairs (NUL bytes, invalid UTF-8) are warned before the error
        assert all(line.startswith("w2v: ") and not line.startswith("w2v: error") for line in lines[:-1])
        lines = lines[-1:]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("w2v: error: "), stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def _train_fast(*extra: str) -> list[str]:
    return ["--dim", "8", "--epochs", "1", "--min-count", "1", "--threads", "1", "--quiet", *extra]


# == 1. corpora ==============================================================================================

def _corpus_case(case: str, tmp: Path) -> tuple[list[str], list[str]]:
    """(corpus arguments, fragments the one-line error must hold) for each bad corpus."""
    if case == "missing":
        return [str(tmp / "nope.txt")], ["nope.txt", "not found"]
    if case == "dir_hidden_only":
        d = tmp / "hidden"
        d.mkdir()
        (d / ".secret.txt").write_text("a b c\n")
        return [str(d)], ["hidden", "holds no file"]
    if case == "dir_subdirs_only":
        d = tmp / "nested"
        (d / "sub").mkdir(parents=True)
        (d / "sub" / "text.txt").write_text("a b c\n")
        return [str(d)], ["nested", "holds no file"]
    if case == "dir_empty_files":
        d = tmp / "blank"
        d.mkdir()
        (d / "1.txt").write_text("")
        (d / "2.txt").write_text("\n \n")
        return [str(d)], ["corpus is empty", "2 files"]
    if case == "empty":
        (tmp / "empty.txt").write_bytes(b"")
        return [str(tmp / "empty.txt")], ["corpus is empty", "empty.txt"]
    if case == "whitespace":
        (tmp / "ws.txt").write_bytes(b" \t\n\r\n\x0b\x0c \n" * 100)
        return [str(tmp / "ws.txt")], ["corpus is empty", "ws.txt"]
    if case == "nul_only":  # not text: refused before reading (w2v.filetypes)
        (tmp / "nul.txt").write_bytes(b"\x00" * 1000)
        return [str(tmp / "nul.txt")], ["nul.txt", "is not text", "NUL or control", "--allow-binary"]
    if case == "nul_only_allowed":  # read as text anyway: 1,000 spaces
        (tmp / "nul.txt").write_bytes(b"\x00" * 1000)
        return [str(tmp / "nul.txt"), "--allow-binary"], ["corpus is empty", "nul.txt"]
    if case == "under_min_count":
        (tmp / "rare.txt").write_text("every word here is distinct\n")
        return [str(tmp / "rare.txt"), "--min-count", "2"], ["min_count=2", "--min-count", "'every'"]
    if case in ("gzip_cut", "bzip2_cut", "xz_cut"):
        kind = case[:-4]
        data = COMPRESS[kind](TEXT.encode() * 20)
        path = tmp / f"cut.{kind}"
        path.write_bytes(data[:len(data) * 2 // 3])
        return [str(path)], [str(path), "is truncated", "bytes", "not used", "--allow-truncated"]
    if case == "gzip_corrupt":
        data = bytearray(gzip.compress(TEXT.encode() * 20))
        data[-6] ^= 0xFF  # the CRC/size trailer
        (tmp / "bad.gz").write_bytes(bytes(data))
        return [str(tmp / "bad.gz")], ["bad.gz", "is corrupt", "--allow-truncated"]
    if case == "fifo":
        os.mkfifo(tmp / "fifo")
        return [str(tmp / "fifo")], ["fifo", "pipe"]
    if case == "one_missing_of_two":
        (tmp / "ok.txt").write_text("a b c\n")
        return [str(tmp / "ok.txt"), str(tmp / "gone.txt")], ["gone.txt"]
    raise AssertionError(case)


CORPUS_CASES = ["missing", "dir_hidden_only", "dir_subdirs_only", "dir_empty_files", "empty", "whitespace",
                "nul_only", "nul_only_allowed", "under_min_count", "gzip_cut", "bzip2_cut", "xz_cut", "gzip_corrupt",
                "one_missing_of_two"] + (["fifo"] if hasattr(os, "mkfifo") else [])


@pytest.mark.parametrize("case", CORPUS_CASES)
def test_bad_corpus_on_the_command_line(case, tmp_path, capsys):
    """Exit code 2, one line naming the file or the setting, and no file written next to the output."""
    work = tmp_path / "in"
    work.mkdir()
    args, fragments = _corpus_case(case, work)
    out = tmp_path / "out"
    out.mkdir()
    flags = [a for a in args if a.startswith("--")]
    corpus_args = [a for a in args if not a.startswith("--") and not a.isdigit()]
    rc = cli.main(["train", *corpus_args, "-o", str(out / "m.w2v"), "--vectors", str(out / "v.bin"),
                   *_train_fast(), *flags, *(a for a in args if a.isdigit())])
    assert_one_line_error(rc, capsys.readouterr().err, *fragments, warnings=case == "nul_only_allowed")
    assert os.listdir(out) == []


@pytest.mark.parametrize("case", [c for c in CORPUS_CASES if c != "under_min_count"])
def test_bad_corpus_in_python_raises_a_w2v_error(case, tmp_path):
    args, fragments = _corpus_case(case, tmp_path)
    allow_binary = "--allow-binary" in args
    args = [a for a in args if a != "--allow-binary"]
    with pytest.raises(W2VError) as err:
        build_vocab(Corpus(args if len(args) > 1 else args[0], allow_binary=allow_binary), min_count=1)
    assert isinstance(err.value, (CorpusError, CorpusNotFoundError))
    message = str(err.value)
    for fragment in fragments:
        if fragment != "--allow-truncated":
            assert fragment in message, (fragment, message)


INVALID_UTF8 = {  # bytes -> how many of them are replaced (one U+FFFD each maximal invalid subpart)
    b"\x80": 1,                  # a lone continuation byte
    b"\xbf\xbf": 2,              # two of them
    b"\xc0\xaf": 2,              # an overlong '/'
    b"\xe0\x80\xaf": 3,          # an overlong 3-byte '/'
    b"\xed\xa0\x80": 3,          # a UTF-16 surrogate
    b"\xf4\x90\x80\x80": 4,      # beyond U+10FFFF
    b"\xf8\x88\x80\x80\x80": 5,  # an old 5-byte form
    b"\xfe": 1, b"\xff": 1,      # never in UTF-8
    b"\xe2\x82": 2,              # a truncated 3-byte sequence
    b"\xf0\x9f\x98": 3,          # a truncated 4-byte sequence
}


def test_invalid_utf8_of_every_kind_is_counted_and_trained_on(tmp_path, caplog):
    body = b" ".join(b"x" + bad + b"y" for bad in INVALID_UTF8)
    path = tmp_path / "bad.txt"
    path.write_bytes((body + b"\n") * 3 + b"end \xe2\x82")  # the last one cut by the end of the file
    c = Corpus(path, allow_binary=True)  # mostly invalid bytes: past the text rule's limit
    with caplog.at_level(logging.WARNING, logger="w2v"):
        sentences = list(c)
    expected = 3 * sum(INVALID_UTF8.values()) + 2
    assert c.decode_errors == expected
    assert f"{expected} bytes of invalid UTF-8" in caplog.text and "bad.txt" in caplog.text
    assert len(sentences) == 4 and all(len(s) == len(INVALID_UTF8) for s in sentences[:3])
    assert all(t.startswith("x") and t.endswith("y") for t in sentences[0])


def test_junk_corpus_trains_on_the_command_line_with_warnings(tmp_path, capsys):
    """NUL bytes, invalid UTF-8, CRLF, lone CR and LF mixed: trained on, each repair warned with a count."""
    path = tmp_path / "junk.txt"
    lines = [b"alpha beta\x00gamma\r\n", b"beta \xff\xfe gamma\r", b"alpha \xc0\xaf beta\n"] * 50
    path.write_bytes(b"".join(lines))
    out = tmp_path / "m.w2v"
    rc = cli.main(["train", str(path), "-o", str(out), "--dim", "8", "--epochs", "1", "--min-count", "1",
                   "--threads", "1", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "Traceback" not in err
    assert "50 NUL bytes read as spaces" in err and "200 bytes of invalid UTF-8" in err
    kv = KeyedVectors.load(out)
    assert {"alpha", "beta", "gamma"} <= set(kv.index_to_key)


def test_mixed_line_endings(tmp_path):
    path = tmp_path / "e.txt"
    path.write_bytes(b"a b\r\nc\rd e\n\r\n\rf\r\r\ng")
    assert list(Corpus(path)) == [["a", "b"], ["c"], ["d", "e"], ["f"], ["g"]]


def _one_long_line(path: Path, size: int) -> int:
    """A file of about ``size`` bytes: one line, no newline, of 50-character tokens; returns the tokens."""
    token = b"".join(b"%08d" % i for i in range(6)) + b"x "  # 50 bytes with the space
    block = token * ((1 << 20) // len(token))
    n_blocks = max(1, size // len(block))
    with open(path, "wb") as f:
        for _ in range(n_blocks):
            f.write(block)
    return n_blocks * (len(block) // len(token))


def _peak_while_reading(path: Path, max_len: int) -> tuple[int, int, int]:
    tracemalloc.start()
    try:
        sentences = tokens = 0
        for s in Corpus(path, max_sentence_length=max_len):
            sentences += 1
            tokens += len(s)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return tokens, sentences, peak


def test_50mb_line_without_newline_is_streamed(tmp_path):
    path = tmp_path / "long.txt"
    n = _one_long_line(path, 50 << 20)
    tokens, sentences, peak = _peak_while_reading(path, 10_000)
    assert tokens == n and sentences == -(-n // 10_000)
    # a block (1 MB of bytes, its text and a few copies) and a sentence: not the 50 MB line
    assert peak < 16 << 20, peak


@pytest.mark.slow
def test_1gb_line_without_newline_is_streamed(tmp_path):
    path = tmp_path / "huge.txt"
    n = _one_long_line(path, 1 << 30)
    tokens, _, peak = _peak_while_reading(path, 10_000)
    assert tokens == n
    assert peak < 16 << 20, peak


# -- truncated and corrupt compressed files ----------------------------------------------------------------

@pytest.mark.parametrize("kind", list(COMPRESS))
def test_truncated_compressed_corpus(kind, tmp_path, caplog):
    whole = TEXT.encode() * 400  # 2.8 MB: bzip2 compresses blocks of 900 kB, half the file holds one
    data = COMPRESS[kind](whole)
    path = tmp_path / f"cut.{kind}"
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(CorpusError) as err:
        build_vocab(Corpus(path), min_count=1)
    message = str(err.value)
    reached = int(re.search(r"after ([\d,]+) decompressed bytes", message).group(1).replace(",", ""))
    assert 0 < reached < len(whole)
    assert str(path) in message and f"({kind}) is truncated" in message
    assert re.search(r"\([\d,]+ tokens\)", message)
    assert "not used" in message and "allow_truncated=True" in message and "--allow-truncated" in message

    # allowed: a warning with the figures, and training goes on with the part that was read, twice alike
    c = Corpus(path, allow_truncated=True, max_sentence_length=10_000)
    with caplog.at_level(logging.WARNING, logger="w2v"):
        vocab = build_vocab(c, min_count=1)
        with encode_corpus(c, vocab) as enc:
            assert enc.raw_tokens == c.raw_tokens == vocab.raw_tokens
    warnings = [r.getMessage() for r in caplog.records if "truncated" in r.getMessage()]
    assert len(warnings) == 1  # once per file, not once per pass
    assert str(path) in warnings[0] and f"{reached:,} decompressed bytes" in warnings[0]
    tokens = [t for s in c for t in s]
    assert f"({len(tokens):,} tokens)" in warnings[0]
    assert tokens == whole[:reached].decode().split()  # every byte decompressed before the damage


def test_truncated_corpus_trains_with_allow_truncated(tmp_path):
    from w2v.train import Word2Vec

    data = gzip.compress(TEXT.encode() * 20)
    path = tmp_path / "cut.gz"
    path.write_bytes(data[:len(data) // 2])
    model = Word2Vec(dim=8, epochs=1, min_count=1, threads=1, allow_truncated=True)
    model.train(Corpus(path, allow_truncated=True), progress=False)
    assert "common" in model.wv and model.stats["raw_tokens"] > 0


def test_truncated_corpus_on_the_command_line_with_allow_truncated(tmp_path, capsys):
    data = lzma.compress(TEXT.encode() * 20)
    path = tmp_path / "cut.xz"
    path.write_bytes(data[:len(data) // 2])
    out = tmp_path / "m.w2v"
    rc = cli.main(["train", str(path), "-o", str(out), *_train_fast(), "--allow-truncated"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "is truncated" in err and "decompressed bytes" in err
    assert out.exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_corpus_and_model(tmp_path, capsys):
    corpus = tmp_path / "locked.txt"
    corpus.write_text("a b c\n")
    model = tmp_path / "locked.w2v"
    _kv().save(model)
    corpus.chmod(0)
    model.chmod(0)
    try:
        with pytest.raises(CorpusNotFoundError, match="locked.txt.*permission denied"):
            Corpus(corpus)
        with pytest.raises(ModelFileNotFoundError, match="locked.w2v.*cannot be read"):
            KeyedVectors.load(model)
        assert_one_line_error(cli.main(["similar", str(model), "w1"]), capsys.readouterr().err, "locked.w2v")
    finally:
        corpus.chmod(0o644)
        model.chmod(0o644)


def test_allow_truncated_is_a_config_field_and_a_flag():
    assert Config().allow_truncated is False
    assert "allow_truncated" in config_mod._BOOLS
    field = {f.name: f for f in dataclasses.fields(Config)}["allow_truncated"]
    assert "truncated" in field.metadata["help"]
    with pytest.raises(ConfigError, match="'allow_truncated' must be a bool"):
        Config(allow_truncated="yes")
    parser = cli.build_parser()
    assert parser.parse_args(["train", "c.txt", "-o", "m", "--allow-truncated"]).allow_truncated is True


# -- a corpus file that changes between the passes ---------------------------------------------------------

def test_file_growing_between_passes(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(TEXT)
    c = Corpus(path)
    vocab = build_vocab(c, min_count=1)
    with open(path, "a") as f:
        f.write("late words\n")
    with pytest.raises(CorpusError, match=r"c.txt.*changed during training.*held [\d,]+ bytes when first "
                                          r"read, now [\d,]+"):
        encode_corpus(c, vocab)


def test_same_size_and_time_but_other_tokens(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a b c d\n")
    c = Corpus(path)
    assert sum(map(len, c)) == 4
    st = os.stat(path)
    path.write_text("ab  c d\n")  # same size: 3 tokens
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(CorpusError, match="changed during training: this pass read 3 tokens, the first 4"):
        list(c)


def test_touched_file_is_a_change(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a b c d\n")
    c = Corpus(path)
    list(c)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    with pytest.raises(CorpusError, match="changed during training: its modification time differs"):
        list(c)


def test_file_removed_between_passes(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a b c d\n")
    c = Corpus(path)
    list(c)
    path.unlink()
    with pytest.raises(CorpusError, match="changed during training: it cannot be opened any more"):
        list(c)


def test_file_modified_while_being_read(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_mod, "BLOCK_SIZE", 64)
    path = tmp_path / "c.txt"
    path.write_text(TEXT)
    it = iter(Corpus(path))
    next(it)
    with open(path, "a") as f:
        f.write("appended while reading\n")
    with pytest.raises(CorpusError, match="modified while being read"):
        list(it)


def test_unchanged_file_reads_any_number_of_times(tmp_path):
    path = tmp_path / "c.txt.gz"
    path.write_bytes(gzip.compress(TEXT.encode()))
    c = Corpus([path, path])
    first = list(c)
    for _ in range(3):
        assert list(c) == first


# == 2. settings =============================================================================================

def _edge_cases() -> list[tuple[str, object, str]]:
    """(setting, bad value, fragment of the message) for every rule of config._RULES."""
    cases = []
    for name, (typ, low, high, lo_inc, hi_inc, none_ok) in config_mod._RULES.items():
        step = 1 if typ is int else 1e-9 * max(1.0, abs(low) if math.isfinite(low) else 1.0)
        where = config_mod._range_text(low, high, lo_inc, hi_inc)
        if math.isfinite(low):
            cases.append((name, low if not lo_inc else (low - step if typ is float else low - 1), where))
        if math.isfinite(high):
            cases.append((name, high if not hi_inc else (high + step if typ is float else high + 1), where))
        cases.append((name, "5", where))
        cases.append((name, True, where))
        if typ is int:
            cases.append((name, 2.5, where))
            cases.append((name, float(max(low, 1)) if math.isfinite(low) else 1.0, where))  # 1.0 is not an int
        else:
            cases.append((name, float("nan"), "nan"))
            cases.append((name, float("inf"), "inf"))
            cases.append((name, float("-inf"), "-inf"))
        if not none_ok:
            cases.append((name, None, "None"))
    return cases


EDGE_CASES = _edge_cases()


@pytest.mark.parametrize("name, value, fragment", EDGE_CASES,
                         ids=[f"{n}={v!r}" for n, v, _ in EDGE_CASES])
def test_every_setting_out_of_range_or_of_the_wrong_type(name, value, fragment):
    with pytest.raises(ConfigError) as err:
        Config(**{name: value})
    message = str(err.value)
    assert f"'{name}'" in message and fragment in message and repr(value) in message


def _valid_edges() -> list[tuple[str, object]]:
    out = []
    for name, (typ, low, high, lo_inc, hi_inc, none_ok) in config_mod._RULES.items():
        if lo_inc and math.isfinite(low):
            out.append((name, low))
        if hi_inc and math.isfinite(high):
            out.append((name, high))
        if none_ok:
            out.append((name, None))
    return out


@pytest.mark.parametrize("name, value", _valid_edges())
def test_every_inclusive_edge_is_accepted(name, value):
    extra = {"alpha": 1.0} if name == "min_alpha" else {}
    if name == "alpha" and value is not None:
        extra["min_alpha"] = 0.0
    assert getattr(Config(**{name: value}, **extra), name) == value


@pytest.mark.parametrize("settings, fragments", [
    ({"model": "glove"}, ["'model'", "'sg', 'cbow'", "'glove'"]),
    ({"model": None}, ["'model'", "None"]),
    ({"min_alpha": 0.5}, ["'min_alpha' (0.5)", "'alpha' (0.025)"]),
    ({"alpha": 0.01, "min_alpha": 0.02}, ["'min_alpha' (0.02)", "'alpha' (0.01)"]),
    ({"model": "cbow", "min_alpha": 0.06}, ["'min_alpha' (0.06)", "'alpha' (0.05)"]),
    ({"model": "cbow", "hogbatch": True}, ["'hogbatch'", "skip-gram only"]),
    ({"max_vocab": 10, "max_final_vocab": 11}, ["'max_final_vocab' (11)", "'max_vocab' (10)"]),
] + [({name: value}, [f"'{name}'", "bool", repr(value)]) for name in config_mod._BOOLS
     for value in (1, "yes", None)])
def test_inconsistent_or_malformed_settings(settings, fragments):
    with pytest.raises(ConfigError) as err:
        Config(**settings)
    for fragment in fragments:
        assert fragment in str(err.value)


def test_unknown_setting_names_it():
    with pytest.raises(ConfigError, match="unknown setting.*dimension"):
        Config.from_dict({"dimension": 3})
    with pytest.raises(ConfigError, match="unknown setting 'dimension'"):  # as Word2Vec() says it
        Config(dimension=3)


def _cli_cases() -> list[tuple[str, str, list[str]]]:
    """(flag, value text, fragments) for the command line: every rule with a value argparse accepts."""
    cases = []
    for name, (typ, low, high, lo_inc, hi_inc, _) in config_mod._RULES.items():
        flag = cli.flag_name(name)
        if math.isfinite(low):
            bad = low if not lo_inc else low - 1
            cases.append((flag, str(bad), [flag, f"got {bad!r}"]))
        if math.isfinite(high):
            bad = high if not hi_inc else high + 1
            cases.append((flag, str(bad), [flag, f"got {bad!r}"]))
        if typ is int:
            cases.append((flag, "2.5", [flag, "invalid int value: '2.5'"]))
        else:
            cases.append((flag, "nan", [flag, "got nan"]))
            cases.append((flag, "abc", [flag, "invalid float value: 'abc'"]))
    cases.append(("--model", "glove", ["--model", "'glove'"]))
    return cases


CLI_CASES = _cli_cases()


@pytest.mark.parametrize("flag, value, fragments", CLI_CASES, ids=[f"{f}={v}" for f, v, _ in CLI_CASES])
def test_every_setting_on_the_command_line(flag, value, fragments, tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c\n")
    rc = cli.main(["train", str(corpus), "-o", str(tmp_path / "m.w2v"), "--quiet", flag, value])
    line = assert_one_line_error(rc, capsys.readouterr().err, *fragments)
    name = flag[2:].replace("-", "_")
    assert f"'{name}'" not in line  # the flag the user typed, not the Python name
    assert sorted(os.listdir(tmp_path)) == ["c.txt"]


@pytest.mark.parametrize("args, fragments", [
    (["--min-alpha", "0.5"], ["--min-alpha (0.5)", "--alpha (0.025)"]),
    (["--model", "cbow", "--hogbatch"], ["--hogbatch", "skip-gram only"]),
    (["--max-vocab", "10", "--max-final-vocab", "11"], ["--max-final-vocab (11)", "--max-vocab (10)"]),
    (["--dim", ""], ["--dim", "invalid int value"]),
    (["--dim"], ["--dim", "expected one argument"]),
])
def test_inconsistent_settings_on_the_command_line(args, fragments, tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c\n")
    rc = cli.main(["train", str(corpus), "-o", str(tmp_path / "m.w2v"), "--quiet", *args])
    assert_one_line_error(rc, capsys.readouterr().err, *fragments)
    assert sorted(os.listdir(tmp_path)) == ["c.txt"]


# == 3. model files ==========================================================================================

WORDS = [f"w{i}" for i in range(40)]


def _vectors(n: int = 40, d: int = 16) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((n, d)).astype(np.float32)


def _kv() -> KeyedVectors:
    return KeyedVectors(WORDS, _vectors(), np.arange(40, 0, -1))


def _model_file(tmp: Path) -> Path:
    """A native model file as Word2Vec.save writes it, without training."""
    path = tmp / "model.w2v"
    vec = _vectors()
    formats.save_native(path, words=WORDS, arrays={"vectors": vec, "output": vec * 0.5,
                                                   "counts": np.arange(40, 0, -1)},
                        header={"kind": "model", "config": Config(dim=16).to_dict(), "training_log": [],
                                "stats": {}})
    return path


def _files(tmp: Path) -> dict[str, Path]:
    kv = _kv()
    out = {"native": tmp / "v.w2v", "text": tmp / "v.txt", "binary": tmp / "v.bin"}
    kv.save(out["native"])
    kv.save_word2vec_format(out["text"], binary=False)
    kv.save_word2vec_format(out["binary"], binary=True)
    for name in ("text", "binary"):
        out[name + ".gz"] = tmp / f"v.{name}.gz"
        out[name + ".gz"].write_bytes(gzip.compress(out[name].read_bytes()))
    out["model"] = _model_file(tmp)
    return out


CUTS = [i / 100 for i in range(0, 100, 7)]  # every 7% of the file


@pytest.mark.parametrize("kind", ["native", "model", "text", "binary", "text.gz", "binary.gz"])
def test_truncated_model_files_at_many_cut_points(kind, tmp_path):
    original = _files(tmp_path)[kind]
    raw = original.read_bytes()
    path = tmp_path / f"cut-{kind}"
    faults = 0
    # plus a cut into the last record (a word2vec file may lack its last newline, and a text file cut in
    # its last number cannot be told from a whole one: the format has no length or checksum)
    last = {"native": 1, "model": 1, "binary": 2, "binary.gz": 2}.get(kind)
    for cut in [int(len(raw) * fraction) for fraction in CUTS] + ([len(raw) - last] if last else []):
        path.write_bytes(raw[:cut])
        loaders = [lambda: KeyedVectors.load(path), lambda: KeyedVectors.load(path, mmap=True)]
        if kind in ("native", "model"):
            loaders.append(lambda: formats.load_native(path))
        else:
            loaders.append(lambda: formats.load_word2vec(path))
        for load in loaders:
            with pytest.raises(ModelFileError) as err:
                load()
            assert str(path) in str(err.value)
            if cut:
                assert re.search("truncated|cannot hold|header", str(err.value)), str(err.value)
            faults += 1
    assert faults >= 3 * len(CUTS)


def test_truncated_model_for_word2vec_load(tmp_path):
    from w2v.train import Word2Vec

    raw = _model_file(tmp_path).read_bytes()
    path = tmp_path / "cut.w2v"
    for fraction in CUTS:
        path.write_bytes(raw[:int(len(raw) * fraction)])
        with pytest.raises(ModelFileError, match="cut.w2v"):
            Word2Vec.load(path)


def _rewrite_meta(path: Path, change) -> None:
    raw = path.read_bytes()
    json_len = struct.unpack_from("<Q", raw, 16)[0]
    meta = json.loads(raw[24:24 + json_len])
    for spec in [*meta["arrays"].values(), meta["vocab"]]:  # as files written before checksums: the changes
        spec.pop("crc32", None)                              # below are the test
    change(meta)
    text = json.dumps(meta).encode()
    text += b" " * (json_len - len(text))
    assert len(text) == json_len, "the new header must fit in the old one's space"
    path.write_bytes(raw[:12] + struct.pack("<I", 0) + raw[16:24] + text + raw[24 + json_len:])  # (nor the JSON's)


@pytest.mark.parametrize("change, match", [
    (lambda m: m["arrays"]["vectors"].update(shape=[0, 10**30], nbytes=0), "bad shape"),
    (lambda m: m["arrays"]["vectors"].update(shape=[40, 16, 1], nbytes=2560), "'vectors' has shape"),
    (lambda m: m["arrays"]["vectors"].update(dtype="<i4"), "expected floats"),
    (lambda m: m["arrays"]["counts"].update(dtype="<f8", nbytes=320, shape=[40]), "'counts' has dtype"),
    (lambda m: m["arrays"]["counts"].update(shape=[20], nbytes=160), "counts must have shape"),
    (lambda m: m["vocab"].update(count=39), "the header says 39 words"),
    (lambda m: m.update(arrays=[]), "'arrays' is not an object"),
    (lambda m: m.update(header=[1]), "'header' is not an object"),
    (lambda m: m["header"].update(kind="phrases"), "kind 'phrases'"),
])
def test_native_header_inconsistencies(change, match, tmp_path):
    path = tmp_path / "v.w2v"
    _kv().save(path)
    _rewrite_meta(path, change)
    with pytest.raises(ModelFileError, match=match):
        KeyedVectors.load(path)


def test_a_flipped_bit_in_an_array_is_caught_by_its_checksum(tmp_path):
    path = tmp_path / "v.w2v"
    _kv().save(path)
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 0x01  # inside the last array: still a number, a slightly different one
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="do not match their checksum"):
        KeyedVectors.load(path)
    _rewrite_meta(path, lambda meta: None)  # without checksums (an older file): read as it is
    KeyedVectors.load(path)


@pytest.mark.parametrize("json_text", [b"[" * 100_000 + b"]" * 100_000, b'{"format": ' + b"9" * 5000 + b"}",
                                       b"\xff\xfe{}", b"{}", b"null"])
def test_native_malicious_json_header(json_text, tmp_path):
    path = tmp_path / "v.w2v"
    path.write_bytes(struct.pack("<8sIIQ", formats.MAGIC, 1, 0, len(json_text)) + json_text)
    with pytest.raises(ModelFileError, match="malformed"):
        KeyedVectors.load(path)


def test_native_array_of_too_many_dimensions(tmp_path):
    path = tmp_path / "v.w2v"
    formats.save_native(path, words=["a"], arrays={"vectors": np.zeros([1] * 33, np.float32)},
                        header={"kind": "vectors"})
    with pytest.raises(ModelFileError, match="'vectors' has a bad shape"):
        KeyedVectors.load(path)


def test_native_duplicate_words_name_the_word(tmp_path):
    path = tmp_path / "v.w2v"
    words = list(WORDS)
    words[7] = "w3"
    formats.save_native(path, words=words, arrays={"vectors": _vectors()}, header={"kind": "vectors"})
    with pytest.raises(ModelFileError, match=r"duplicate word 'w3' \(at 3 and 7\)"):
        KeyedVectors.load(path)


def test_newer_format_version_on_the_command_line(tmp_path, capsys):
    path = _files(tmp_path)["native"]
    raw = bytearray(path.read_bytes())
    struct.pack_into("<I", raw, 8, formats.FORMAT_VERSION + 1)
    path.write_bytes(bytes(raw))
    rc = cli.main(["similar", str(path), "w1"])
    assert_one_line_error(rc, capsys.readouterr().err, str(path), "newer w2v", "upgrade")


FOREIGN = {
    "pickle": (b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94.", "pickle"),
    "npy": (b"\x93NUMPY\x01\x00v\x00{'descr': '<f4'}", "NumPy"),
    "zip": (b"PK\x03\x04" + b"\x00" * 40, "zip"),
    "png": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not a w2v model"),
    "empty": (b"", "empty"),
    "text corpus": (b"the quick brown fox\njumps\n", "not a w2v model"),
    "random": (np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes(), "not a w2v model"),
    "gzip of text": (gzip.compress(b"hello world\n"), "first line should be 'vocab_size dims'"),
    "xz junk": (lzma.compress(b"\x00" * 100), "first line"),
}


@pytest.mark.parametrize("name", list(FOREIGN))
def test_foreign_files(name, tmp_path, capsys):
    content, match = FOREIGN[name]
    path = tmp_path / "foreign.bin"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=match):
        KeyedVectors.load(path)
    with pytest.raises(ModelFileError):
        formats.load_native(path)
    rc = cli.main(["similar", str(path), "w1"])
    assert_one_line_error(rc, capsys.readouterr().err, "foreign.bin")


@pytest.mark.parametrize("target", ["missing", "directory"])
def test_missing_model_path_or_directory(target, tmp_path, capsys):
    path = tmp_path / "nope.w2v" if target == "missing" else tmp_path
    for load in (KeyedVectors.load, formats.load_native, formats.load_word2vec, formats.native_info):
        with pytest.raises(ModelFileNotFoundError, match=re.escape(str(path))) as err:
            load(path)
        assert isinstance(err.value, FileNotFoundError) and isinstance(err.value, W2VError)
    rc = cli.main(["similar", str(path), "w1"])
    assert_one_line_error(rc, capsys.readouterr().err, str(path))


@pytest.mark.parametrize("header", [b"1000000000000 300", b"3 1000000000000", b"0 1000000000000",
                                    b"1000000000000 1000000000000"])
@pytest.mark.parametrize("compress", [None, "gzip", "bzip2", "xz"])
@pytest.mark.parametrize("binary", [True, False])
def test_word2vec_header_claims_more_than_the_file_holds(header, compress, binary, tmp_path):
    """Refused before allocating for the claim: memory stays bounded by the bytes actually present."""
    rows = b"".join(w.encode() + b" " + (v.tobytes() if binary else " ".join(map(str, v)).encode()) + b"\n"
                    for w, v in zip(WORDS[:3], _vectors(3, 300)))
    content = header + b"\n" + rows
    path = tmp_path / "claim.bin"
    path.write_bytes(COMPRESS[compress](content) if compress else content)
    start = time.perf_counter()
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match="claim.bin") as err:
            KeyedVectors.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert re.search("cannot hold what its header claims|truncated|dimension must be|expected a word and",
                     str(err.value)), str(err.value)
    assert peak < 20 << 20 and time.perf_counter() - start < 2.0


@pytest.mark.parametrize("kind", ["native", "text", "binary", "binary.gz"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nonfinite_vectors(kind, value, tmp_path, capsys):
    vec = _vectors()
    vec[5, 3] = value
    vec[9, 0] = value
    kv = KeyedVectors(WORDS, vec)
    path = tmp_path / f"nan.{kind}"
    if kind == "native":
        kv.save(path)
    else:
        kv.save_word2vec_format(path, binary=kind != "text")  # gzipped, as the name says, for .gz
        assert path.read_bytes().startswith(b"\x1f\x8b") == kind.endswith(".gz")
    with pytest.raises(ModelFileError, match=r"2 vector\(s\) hold NaN or infinite values, the first for 'w5' "
                                             r"\(vector 6\).*allow_nonfinite=True"):
        KeyedVectors.load(path)
    loaded = KeyedVectors.load(path, allow_nonfinite=True)
    assert np.array_equal(loaded.vectors, vec, equal_nan=True)
    for command in (["similar", str(path), "w1"], ["analogy", str(path), "w1", "w2", "w3"],
                    ["evaluate", str(path)], ["export", str(path), str(tmp_path / "out.txt"),
                                              "--format", "word2vec-text"]):
        rc = cli.main(command)
        assert_one_line_error(rc, capsys.readouterr().err, str(path), "NaN", "--allow-nonfinite")
        assert not (tmp_path / "out.txt").exists()
    assert cli.main(["similar", str(path), "w1", "--allow-nonfinite"]) == 0
    assert cli.main(["export", str(path), str(tmp_path / "out.txt"), "--format", "word2vec-text",
                     "--allow-nonfinite"]) == 0
    capsys.readouterr()
    assert np.array_equal(KeyedVectors.load(tmp_path / "out.txt", allow_nonfinite=True).vectors, vec,
                          equal_nan=True)


@pytest.mark.parametrize("content, match", [
    (b"3 2\na 1.5 2.5\nb 3.5\nc 4.5 5.5\n", "line 3: expected a word and 2 values, found 1"),
    (b"3 2\na 1 2\nb 3 4 5\nc 4 5\n", "line 3: expected a word and 2 values, found 3"),
    (b"3 2\na 1 2\nb 3 4\na 5 6\n", "duplicate word 'a' at line 4"),
    (b"2 2\na 1 2\nb 3 zz\n", "line 3"),
    (b"2 2\na 1 2\nb 3 4e99999\n", "NaN or infinite"),
])
def test_word2vec_text_through_keyedvectors_load(content, match, tmp_path, capsys):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=match):
        KeyedVectors.load(path)
    rc = cli.main(["similar", str(path), "a"])
    assert_one_line_error(rc, capsys.readouterr().err, "bad.txt")


@pytest.mark.parametrize("change", [
    lambda m: m["header"].pop("config"),
    lambda m: m["header"].update(config=[1]),
    lambda m: m["arrays"].pop("counts"),
    lambda m: m["arrays"]["output"].update(shape=[20, 16], nbytes=1280),
])
def test_corrupt_model_for_word2vec_load(change, tmp_path):
    from w2v.train import Word2Vec

    path = _model_file(tmp_path)
    _rewrite_meta(path, change)
    with pytest.raises(W2VError):
        Word2Vec.load(path)


# == 4. untrusted files: nothing executes code ===============================================================

def test_no_pickle_and_no_pickled_numpy_anywhere():
    sources = sorted(SRC.rglob("*.py"))
    assert len(sources) >= 10
    for source in sources:
        text = source.read_text(encoding="utf-8")
        code = "\n".join(line.split("#")[0] for line in text.splitlines())
        for forbidden in (r"\bimport\s+(c?pickle|dill|shelve|marshal|joblib)\b",
                          r"\bfrom\s+(c?pickle|dill|shelve|marshal|joblib)\b", r"\bpickle\.",
                          r"torch\.load\(", r"\beval\(", r"\bexec\("):
            assert not re.search(forbidden, code), f"{source.name}: {forbidden}"
        for call in re.finditer(r"np\.load\(|numpy\.load\(", code):
            args = code[call.end():code.index(")", call.end())]
            assert "allow_pickle=False" in args, f"{source.name}: np.load without allow_pickle=False"


# == 5. memory ==============================================================================================

def test_estimate_training_memory():
    assert memory.estimate_training_memory(1000, 100) == 2 * 4 * 1000 * 100 + memory.BYTES_PER_WORD * 1000
    assert memory.estimate_training_memory(0, 300) == 0
    with pytest.raises(ConfigError, match="'dim'"):
        memory.estimate_training_memory(10, -1)


def test_check_memory_says_what_would_fit(monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 1_000_000_000)  # 1 GB
    with pytest.raises(ResourceError) as err:
        memory.check_memory(3_000_000, 300)
    e = err.value
    assert isinstance(e, MemoryError) and isinstance(e, W2VError)
    message = str(e)
    max_dim = (1_000_000_000 - memory.BYTES_PER_WORD * 3_000_000) // (8 * 3_000_000)
    max_vocab = 1_000_000_000 // (8 * 300 + memory.BYTES_PER_WORD)
    assert "7.8 GB" in message and "1.0 GB is available" in message and "3,000,000 words x 300" in message
    assert f"dim (--dim) to at most {max_dim:,}" in message
    assert f"max_final_vocab (--max-final-vocab) to at most {max_vocab:,}" in message
    assert memory.estimate_training_memory(3_000_000, max_dim) <= 1_000_000_000
    assert memory.estimate_training_memory(max_vocab, 300) <= 1_000_000_000
    assert memory.check_memory(max_vocab, 300) == memory.estimate_training_memory(max_vocab, 300)


def test_check_memory_when_even_one_dimension_does_not_fit():
    with pytest.raises(ResourceError, match=r"max_final_vocab \(--max-final-vocab\) to at most 24 ") as err:
        memory.check_memory(10**9, 1, available=5000)
    assert "--dim" not in str(err.value)
    with pytest.raises(ResourceError, match="use a machine with more memory"):
        memory.check_memory(10, 10, available=10)


def test_check_memory_warns_close_to_the_limit_and_skips_when_unknown(monkeypatch, caplog):
    need = memory.estimate_training_memory(1000, 100)
    with caplog.at_level(logging.WARNING, logger="w2v"):
        memory.check_memory(1000, 100, available=int(need / 0.9))
    assert "of memory" in caplog.text and "90%" in caplog.text
    monkeypatch.setattr(memory, "available_memory", lambda: None)
    assert memory.check_memory(10**12, 10**4) == memory.estimate_training_memory(10**12, 10**4)


def test_available_memory_reads_meminfo(tmp_path, monkeypatch):
    info = tmp_path / "meminfo"
    info.write_text("MemTotal:       16000000 kB\nMemFree:  100 kB\nMemAvailable:    8000000 kB\n")
    assert memory._meminfo_available(str(info)) == 8_000_000 * 1024
    info.write_text("garbage\n")
    assert memory._meminfo_available(str(info)) is None
    assert memory._meminfo_available(str(tmp_path / "none")) is None
    monkeypatch.setattr(memory, "_meminfo_available", lambda: 8 << 30)
    monkeypatch.setattr(memory, "_cgroup_room", lambda: 1 << 30)
    assert memory.available_memory() == 1 << 30
    monkeypatch.setattr(memory, "_cgroup_room", lambda: None)
    assert memory.available_memory() == 8 << 30


def test_real_available_memory_is_plausible():
    found = memory.available_memory()
    assert found is None or 0 <= found < 1 << 50


def test_training_too_big_for_memory_is_refused_before_allocating(monkeypatch, tmp_path, capsys):
    from w2v.train import Word2Vec

    monkeypatch.setattr(memory, "available_memory", lambda: 10_000)
    corpus = tmp_path / "c.txt"
    corpus.write_text(TEXT)
    with pytest.raises(ResourceError, match="words x 300 dimensions"):
        Word2Vec(dim=300, min_count=1, threads=1).train(str(corpus), progress=False)
    rc = cli.main(["train", str(corpus), "-o", str(tmp_path / "m.w2v"), "--dim", "300", "--min-count", "1",
                   "--quiet"])
    assert_one_line_error(rc, capsys.readouterr().err, "is available", "--dim", "--max-final-vocab")
    assert sorted(os.listdir(tmp_path)) == ["c.txt"]
