"""Formats: native model file and word2vec C text/binary round trips, gensim interchange, corrupt files."""

from __future__ import annotations

import bz2
import gzip
import json
import logging
import lzma
import os
import signal
import struct
import time
import tracemalloc

import numpy as np
import pytest

from w2v import formats
from w2v.errors import ConfigError, ModelFileError
from w2v.formats import atomic_write, load_native, load_word2vec, save_native, save_word2vec

WORDS = ["the", "of", "Ünïcödé", "日本", "x" * 60, "a-b", "end."]


def _vectors(n=len(WORDS), d=5, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def _native(tmp_path, **kw):
    path = tmp_path / "m.w2v"
    arrays = kw.pop("arrays", {"vectors": _vectors(), "counts": np.arange(7, 0, -1, dtype=np.int64)})
    save_native(path, words=kw.pop("words", WORDS), arrays=arrays, header=kw.pop("header", {"kind": "vectors"}))
    return path


# -- atomic writes -------------------------------------------------------------------------------------

def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    with atomic_write(path) as f:
        f.write(b"new")
    assert path.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["f.bin"]


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(path) as f:
            f.write(b"partial")
            raise RuntimeError("interrupted")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.bin"]


def test_failed_save_leaves_old_model(tmp_path):
    path = _native(tmp_path)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="newline"):
        save_native(path, words=["a\nb"], arrays={}, header={})
    with pytest.raises(TypeError):  # not JSON-serialisable: fails while writing
        save_native(path, words=["a"], arrays={}, header={"x": object()})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.w2v"]


# -- native file ---------------------------------------------------------------------------------------

def test_native_round_trip_exact(tmp_path):
    arrays = {"vectors": _vectors(), "output": _vectors(seed=1).astype(np.float64),
              "counts": np.arange(7, dtype=np.int64), "flags": np.array([True, False]),
              "empty": np.zeros((0, 3), np.float32), "scalar": np.array(3.5, np.float32),
              "big_endian": np.arange(4, dtype=">i4")}
    header = {"kind": "model", "config": {"dim": 5, "alpha": 0.025, "model": "sg", "max_vocab": None},
              "stats": {"loss": [1.5, 0.75]}, "n": np.int64(7)}
    path = _native(tmp_path, arrays=arrays, header=header)
    nf = load_native(path)
    assert nf.words == WORDS
    assert nf.header == {**header, "n": 7}
    assert nf.w2v_version
    assert list(nf.arrays) == list(arrays)
    for name, a in arrays.items():
        assert nf.arrays[name].dtype == a.dtype.newbyteorder("<")
        np.testing.assert_array_equal(nf.arrays[name], a)
    raw = path.read_bytes()
    meta = json.loads(raw[24:24 + struct.unpack_from("<Q", raw, 16)[0]])
    assert all(spec["offset"] % 64 == 0 for spec in meta["arrays"].values())


def test_native_empty_vocabulary_and_empty_word(tmp_path):
    nf = load_native(_native(tmp_path, words=[], arrays={"vectors": np.zeros((0, 4), np.float32)}))
    assert nf.words == [] and nf.arrays["vectors"].shape == (0, 4)
    nf = load_native(_native(tmp_path, words=[""], arrays={}))
    assert nf.words == [""]


def test_native_mmap_names_limit(tmp_path):
    path = _native(tmp_path)
    nf = load_native(path, mmap=True)
    assert isinstance(nf.arrays["vectors"], np.memmap)
    assert not nf.arrays["vectors"].flags.writeable
    np.testing.assert_array_equal(nf.arrays["vectors"], _vectors())
    nf = load_native(path, names=["counts"], limit=3)
    assert list(nf.arrays) == ["counts"] and nf.words == WORDS[:3]
    np.testing.assert_array_equal(nf.arrays["counts"], [7, 6, 5])
    nf = load_native(path, mmap=True, limit=2)
    assert nf.arrays["vectors"].shape == (2, 5)
    with pytest.raises(ModelFileError, match="no array named 'output'"):
        load_native(path, names=["output"])


def test_native_readable_with_numpy_alone(tmp_path):
    path = _native(tmp_path)
    raw = open(path, "rb").read()  # the recipe of the module docstring
    json_len = int(np.frombuffer(raw, "<u8", 1, 16)[0])
    meta = json.loads(raw[24:24 + json_len])
    v = meta["vocab"]
    words = raw[v["offset"]:v["offset"] + v["nbytes"]].decode().split("\n")
    a = meta["arrays"]["vectors"]
    vectors = np.frombuffer(raw, a["dtype"], int(np.prod(a["shape"])), a["offset"]).reshape(a["shape"])
    assert words == WORDS
    np.testing.assert_array_equal(vectors, _vectors())


def test_native_truncated(tmp_path):
    path = _native(tmp_path)
    raw = path.read_bytes()
    for cut in (10, 30, len(raw) - 1, len(raw) - 40):
        path.write_bytes(raw[:cut])
        with pytest.raises(ModelFileError, match="truncated"):
            load_native(path)
    path.write_bytes(raw[:len(raw) - 1])
    with pytest.raises(ModelFileError, match=f"describes {len(raw)} bytes, the file has {len(raw) - 1}"):
        load_native(path)


def test_native_wrong_magic(tmp_path):
    path = tmp_path / "vec.txt"
    path.write_bytes(b"2 3\na 1 2 3\nb 4 5 6\n")
    with pytest.raises(ModelFileError, match="word2vec C-format.*KeyedVectors.load"):
        load_native(path)
    path.write_bytes(b"\x80\x04\x95 some pickle")
    with pytest.raises(ModelFileError, match="pickle"):
        load_native(path)
    path.write_bytes(gzip.compress(b"2 3\n"))
    with pytest.raises(ModelFileError, match="gzip"):
        load_native(path)
    path.write_bytes(b"hello world")
    with pytest.raises(ModelFileError, match="not a w2v model"):
        load_native(path)


def test_native_newer_version_refused(tmp_path):
    path = _native(tmp_path)
    raw = bytearray(path.read_bytes())
    newer = formats.FORMAT_VERSION + 1
    struct.pack_into("<I", raw, 8, newer)
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match=rf"newer w2v \(format {newer}\).*reads format {newer - 1}: upgrade"):
        load_native(path)


def test_native_malformed_json(tmp_path):
    path = _native(tmp_path)
    raw = bytearray(path.read_bytes())
    raw[24] = ord("[")  # "{" -> "["
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="malformed"):
        load_native(path)


def test_native_huge_array_claim_refused_without_allocating(tmp_path):
    path = _native(tmp_path)
    raw = path.read_bytes()
    json_len = struct.unpack_from("<Q", raw, 16)[0]
    meta = json.loads(raw[24:24 + json_len])
    meta["arrays"]["vectors"]["shape"] = [10**12, 300]
    meta["arrays"]["vectors"]["nbytes"] = 4 * 300 * 10**12
    text = json.dumps(meta).encode()
    path.write_bytes(raw[:12] + struct.pack("<IQ", 0, len(text)) + text + raw[24 + json_len:])  # as unchecked
    with pytest.raises(ModelFileError, match="truncated"):
        load_native(path)
    meta["arrays"]["vectors"]["dtype"] = "|O"
    text = json.dumps(meta).encode()
    path.write_bytes(raw[:12] + struct.pack("<IQ", 0, len(text)) + text + raw[24 + json_len:])  # as unchecked
    with pytest.raises(ModelFileError, match="numeric dtype"):
        load_native(path)


def test_a_flipped_bit_in_the_json_or_the_words_is_refused_and_files_without_their_checksums_read(tmp_path):
    """The JSON header (settings, a checkpoint's position) and the vocabulary carry CRC-32s as the arrays do: one
    flipped bit in them is an error, not a silently different model; files written before them still read."""
    path = _native(tmp_path)
    raw = path.read_bytes()
    json_len = struct.unpack_from("<Q", raw, 16)[0]
    meta = json.loads(raw[24:24 + json_len])
    at_header = raw.index(b'"kind"')
    at_word = meta["vocab"]["offset"] + 1
    for at, what in ((at_header, "the JSON header"), (at_word, "the vocabulary")):
        flipped = bytearray(raw)
        flipped[at] ^= 0x04
        path.write_bytes(bytes(flipped))
        with pytest.raises(ModelFileError, match=f"{what} does not match its checksum"):
            load_native(path)
    del meta["vocab"]["crc32"]  # as written before the checksums: read, unchecked
    text = json.dumps(meta).encode().ljust(json_len)
    path.write_bytes(raw[:12] + struct.pack("<IQ", 0, json_len) + text + raw[24 + json_len:])
    assert load_native(path).words == WORDS


def test_native_refuses_object_arrays(tmp_path):
    with pytest.raises(ValueError, match="numeric"):
        save_native(tmp_path / "m", words=[], arrays={"x": np.array([object()])}, header={})


# -- word2vec C formats ----------------------------------------------------------------------------------

@pytest.mark.parametrize("binary", [True, False])
def test_word2vec_round_trip(tmp_path, binary):
    scale = 10.0 ** np.random.default_rng(1).integers(-9, 9, (7, 7))
    vectors = (_vectors(d=7) * scale).astype(np.float32)  # (7, 7), magnitudes 1e-9..1e9
    path = tmp_path / "v.bin"
    save_word2vec(path, WORDS, vectors, binary=binary)
    for guess in (binary, None):
        words, got, info = load_word2vec(path, binary=guess)
        assert words == WORDS and info["binary"] == binary
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, vectors)  # text too: float32 reads back exactly
    words, got, _ = load_word2vec(path, limit=3)
    assert words == WORDS[:3] and got.shape == (3, 7)


def test_word2vec_binary_bytes_are_the_c_tools(tmp_path):
    path = tmp_path / "v.bin"
    vec = np.array([[1.0, -2.5]], np.float32)
    save_word2vec(path, ["hé"], vec, binary=True)
    assert path.read_bytes() == b"1 2\nh\xc3\xa9 " + vec.astype("<f4").tobytes() + b"\n"
    save_word2vec(path, ["hé"], vec, binary=False)
    assert path.read_bytes() == "1 2\nhé 1.0 -2.5\n".encode()


def test_atomic_write_keeps_a_link_a_link_and_a_file_its_permissions(tmp_path):
    target = tmp_path / "models" / "current.w2v"
    target.parent.mkdir()
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    link = tmp_path / "m.w2v"
    link.symlink_to(target)
    with atomic_write(link) as f:
        f.write(b"new")
    assert link.is_symlink() and target.read_bytes() == b"new"
    assert oct(target.stat().st_mode & 0o777) == oct(0o640)
    assert sorted(p.name for p in target.parent.iterdir()) == ["current.w2v"]  # no temporary file left


def test_text_read_as_binary_is_named_and_a_truncated_archive_still_gives_its_first_vectors(tmp_path):
    words, vectors = [f"w{i}" for i in range(3000)], _vectors(3000, 16, seed=2)
    text = tmp_path / "v.txt"
    save_word2vec(text, words, vectors, binary=False)
    with pytest.raises(ModelFileError, match="this is the word2vec text format, read as binary"):
        load_word2vec(text, binary=True)
    whole = gzip.compress(text.read_bytes())
    cut = tmp_path / "cut.txt.gz"
    cut.write_bytes(whole[:len(whole) // 2])
    with pytest.raises(ModelFileError, match=r"truncated gzip-compressed file: .*\(after [1-9][0-9]+ decompressed"):
        load_word2vec(cut)
    got_words, got, _ = load_word2vec(cut, limit=10)  # within what the damaged archive holds
    assert got_words == words[:10]
    np.testing.assert_allclose(got, vectors[:10], rtol=1e-6)


def test_a_header_alone_is_a_truncated_file(tmp_path):
    (tmp_path / "h.txt").write_bytes(b"3 2\n")
    with pytest.raises(ModelFileError, match="truncated file: the header announces vectors, the file ends right"):
        load_word2vec(tmp_path / "h.txt")


def test_word2vec_refuses_unstorable_words(tmp_path):
    for bad in ("a b", "", "a\nb", "a\x0bb", "a\x0cb", "a\x00b"):  # what the readers split a word on or refuse
        with pytest.raises(ValueError, match="word2vec format cannot store"):
            save_word2vec(tmp_path / "v", [bad], np.zeros((1, 2)))
    save_word2vec(tmp_path / "v", ["a\xa0b"], np.zeros((1, 2)), binary=False)  # no split on non-ASCII space
    assert load_word2vec(tmp_path / "v")[0] == ["a\xa0b"]


@pytest.mark.parametrize("suffix, opener", [(".gz", gzip.open), (".bz2", bz2.open), (".xz", lzma.open),
                                             (".GZ", gzip.open)])
def test_word2vec_files_are_compressed_as_named_and_native_ones_refuse_such_names(tmp_path, suffix, opener):
    words, vectors = ["a", "b", "c"], _vectors(3, 4, seed=1)
    for binary in (True, False):
        path = tmp_path / ("v" + suffix)
        save_word2vec(path, words, vectors, binary=binary)
        with opener(path, "rb") as f:
            assert f.read().startswith(b"3 4\n")
        got_words, got, info = load_word2vec(path)
        assert got_words == words and info["binary"] == binary
        np.testing.assert_array_equal(got, vectors)
    with pytest.raises(ConfigError, match="native w2v files are not compressed"):
        save_native(tmp_path / ("m.w2v" + suffix), words=words, arrays={"vectors": vectors}, header={})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v" + suffix]


@pytest.mark.parametrize("binary", [True, False])
def test_gensim_interchange(tmp_path, binary):
    gensim_models = pytest.importorskip("gensim.models")
    words = [f"w{i}" for i in range(50)] + ["Ünïcödé", "日本"]
    vectors = _vectors(len(words), 16, seed=3)
    gkv = gensim_models.KeyedVectors(vector_size=16)
    gkv.add_vectors(words, vectors)
    theirs = tmp_path / "gensim.bin"
    gkv.save_word2vec_format(str(theirs), binary=binary)
    got_words, got, info = load_word2vec(theirs)
    assert got_words == words and info["binary"] == binary
    np.testing.assert_array_equal(got, vectors)

    ours = tmp_path / "ours.bin"
    save_word2vec(ours, words, vectors, binary=binary)
    back = gensim_models.KeyedVectors.load_word2vec_format(str(ours), binary=binary)
    assert back.index_to_key == words
    np.testing.assert_array_equal(back.vectors, vectors)
    if not binary:  # the text is byte for byte what gensim writes
        assert ours.read_bytes() == theirs.read_bytes()


def test_binary_without_trailing_newlines(tmp_path):
    vec = _vectors(3, 4)
    body = b"".join(w.encode() + b" " + v.astype("<f4").tobytes() for w, v in zip(["a", "bb", "c"], vec))
    path = tmp_path / "v.bin"
    path.write_bytes(b"3 4\n" + body)
    words, got, info = load_word2vec(path)
    assert words == ["a", "bb", "c"] and info["binary"]
    np.testing.assert_array_equal(got, vec)


def test_invalid_utf8_words_are_replaced_and_counted(tmp_path, caplog):
    vec = _vectors(3, 2)
    raw_words = [b"ok", b"caf\xc3", b"\xff\xfe"]  # the C tool can cut "café" mid-character
    path = tmp_path / "v.bin"
    path.write_bytes(b"3 2\n" + b"".join(w + b" " + v.tobytes() + b"\n" for w, v in zip(raw_words, vec)))
    with caplog.at_level(logging.WARNING, logger="w2v.formats"):
        words, got, info = load_word2vec(path)
    assert words == ["ok", "caf\ufffd", "\ufffd\ufffd"]
    assert info["invalid_utf8"] == 2
    assert "2 word(s) were not valid UTF-8" in caplog.text
    np.testing.assert_array_equal(got, vec)


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
@pytest.mark.parametrize("binary", [True, False])
def test_compressed(tmp_path, compress, binary):
    plain = tmp_path / "v"
    save_word2vec(plain, WORDS, _vectors(), binary=binary)
    packed = tmp_path / "v.any-name"
    packed.write_bytes(compress(plain.read_bytes()))
    words, got, info = load_word2vec(packed)
    assert words == WORDS and info["binary"] == binary and info["compression"]
    np.testing.assert_array_equal(got, _vectors())
    assert load_word2vec(packed, limit=2)[0] == WORDS[:2]


def test_many_rows_cross_buffer_chunks(tmp_path):
    words = [f"word{i}" for i in range(3000)]
    vectors = _vectors(3000, 100, seed=5)  # 1.2 MB: spans read chunks
    for binary in (True, False):
        path = tmp_path / f"v{binary}"
        save_word2vec(path, words, vectors, binary=binary)
        path.write_bytes(gzip.compress(path.read_bytes(), compresslevel=1))
        got_words, got, _ = load_word2vec(path)
        assert got_words == words
        np.testing.assert_array_equal(got, vectors)


def test_huge_header_refused_quickly(tmp_path):
    path = tmp_path / "v.txt"
    path.write_bytes(b"1000000000000 300\na " + b"0.5 " * 300 + b"\n")
    start = time.perf_counter()
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match="header claims: 1000000000000 vectors"):
            load_word2vec(path)
        path.write_bytes(gzip.compress(path.read_bytes()))  # compressed: grows with the data, then truncated
        with pytest.raises(ModelFileError, match="truncated"):
            load_word2vec(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 << 20  # NumPy reports its allocations to tracemalloc
    assert time.perf_counter() - start < 1.0


def test_duplicates_made_by_utf8_replacement_are_dropped(tmp_path, caplog):
    vec = _vectors(3, 2)
    raw_words = [b"caf\xc3", b"ok", b"caf\xe2\x82"]  # both decode to "caf\ufffd"
    path = tmp_path / "v.bin"
    path.write_bytes(b"3 2\n" + b"".join(w + b" " + v.tobytes() + b"\n" for w, v in zip(raw_words, vec)))
    with caplog.at_level(logging.WARNING, logger="w2v.formats"):
        words, got, info = load_word2vec(path)
    assert words == ["caf\ufffd", "ok"] and info["dropped_duplicates"] == 1
    np.testing.assert_array_equal(got, vec[:2])
    assert "were dropped" in caplog.text


@pytest.mark.parametrize("content, match", [
    (b"2 3\na 1.0 2.0 3.0\nb 4.0 5.0\n", "line 3: expected a word and 3 values, found 2"),
    (b"2 3\na 1.0 2.0 3.0\nb 4.0 5.0 6.0 7.0\n", "line 3: expected a word and 3 values, found 4"),
    (b"2 3\na 1 2 3\nb 4 5\n", "cannot hold what its header claims"),
    (b"2 3\na 1 2 3\na 4 5 6\n", "duplicate word 'a' at line 3"),
    (b"2 3\na 1 2 3\nb 4 nan 6\n", "NaN or infinite values, the first for 'b'"),
    (b"2 3\na 1 2 3\nb inf 5 6\n", "NaN or infinite"),
    (b"3 3\na 1 2 3\nb 4 5 6\n", "cannot hold what its header claims"),
    (b"3 3\na 1.0 2.0 3.0\nb 4.0 5.0 6.0\n", "truncated file: the header announces 3 vectors, the file ends "
                                           "after 2"),
    (b"2 3\na 1 2 3\nb 4 x 6\n", "line 3"),
    (b"two three\na 1 2 3\n", "first line should be 'vocab_size dims'"),
    (b"", "not a word2vec file: an empty file"),
])
def test_word2vec_text_errors(tmp_path, content, match):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=match) as err:
        load_word2vec(path, binary=False)
    assert "bad.txt" in str(err.value)


def test_word2vec_binary_errors(tmp_path):
    vec = _vectors(2, 3)
    good = b"2 3\n" + b"".join(w + b" " + v.tobytes() + b"\n" for w, v in zip([b"a", b"b"], vec))
    path = tmp_path / "bad.bin"
    path.write_bytes(good[:-5])
    with pytest.raises(ModelFileError, match="truncated"):
        load_word2vec(path, binary=True)
    path.write_bytes(gzip.compress(good[:-5]))
    with pytest.raises(ModelFileError, match="truncated.*record 2"):
        load_word2vec(path, binary=True)
    path.write_bytes(good.replace(b"\nb ", b"\na "))
    with pytest.raises(ModelFileError, match="duplicate word 'a' at record 2"):
        load_word2vec(path, binary=True)
    nan = vec.copy()
    nan[1, 1] = np.nan
    path.write_bytes(b"2 3\n" + b"".join(w + b" " + v.tobytes() + b"\n" for w, v in zip([b"a", b"b"], nan)))
    with pytest.raises(ModelFileError, match="NaN"):
        load_word2vec(path)
    words, got, _ = load_word2vec(path, allow_nonfinite=True)
    assert np.isnan(got[1, 1])


def test_sniff():
    assert formats.sniff(b"W2VMODEL\x01") == "native"
    assert formats.sniff(gzip.compress(b"x")) == "gzip"
    assert formats.sniff(bz2.compress(b"x")) == "bzip2" and formats.sniff(lzma.compress(b"x")) == "xz"
    assert formats.sniff(b"BZh9 is text") == "unknown"  # bzip2 by its whole signature
    assert "a bzip2-compressed file" in formats.describe_foreign(bz2.compress(b"x"))
    assert formats.sniff(b"10 300\n") == "word2vec"
    assert formats.sniff(b"") == "empty"
    assert formats.sniff(b"hello") == "unknown"


def test_written_together(tmp_path, monkeypatch):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("old a")
    with pytest.raises(RuntimeError, match="after both"):
        with formats.written_together():
            with formats.atomic_write(a, "w") as f:
                f.write("new a")
            assert a.read_text() == "old a"  # staged: renamed only when the block ends
            with formats.atomic_write(b, "w") as f:
                f.write("new b")
            raise RuntimeError("after both")
    assert a.read_text() == "old a" and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    with formats.written_together():
        with formats.atomic_write(a, "w") as f:
            f.write("new a")
        with formats.compressed_write(tmp_path / "b.txt.gz") as f:
            f.write(b"new b")
    assert a.read_text() == "new a" and gzip.decompress((tmp_path / "b.txt.gz").read_bytes()) == b"new b"
    # a stop during the renames waits for them, then says what was written
    from w2v.signals import StopSignals, Stopped

    real = os.replace

    def replace_then_stop(src, dst):
        real(src, dst)
        os.kill(os.getpid(), signal.SIGTERM)
    monkeypatch.setattr(os, "replace", replace_then_stop)
    with StopSignals(), pytest.raises(Stopped, match=r"stopped by SIGTERM after .*a\.txt, .*b\.txt were written") as stop:
        with formats.written_together():
            for path in (a, b):
                with formats.atomic_write(path, "w") as f:
                    f.write("newest")
    assert stop.value.saved and a.read_text() == b.read_text() == "newest"
    # outside the command line (no StopSignals), Ctrl-C between the renames waits for them too

    def replace_then_ctrl_c(src, dst):
        real(src, dst)
        os.kill(os.getpid(), signal.SIGINT)
    monkeypatch.setattr(os, "replace", replace_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        with formats.written_together():
            for path in (a, b):
                with formats.atomic_write(path, "w") as f:
                    f.write("last")
    assert a.read_text() == b.read_text() == "last" and sorted(p.name for p in tmp_path.iterdir()) == [
        "a.txt", "b.txt", "b.txt.gz"]


def test_a_text_file_whose_words_hold_spaces_is_read_as_text(tmp_path, caplog):
    """A first row "new york 0.15 ..." once made the guess say binary (the bytes after the first space are
    not a number) and loaded garbage; such words (written by tools that allow them) are read whole."""
    path = tmp_path / "v.vec"
    path.write_text("3 4\nnew york 0.15381375 0.4637451 0.37838337 0.58589506\ntab 0.99 0.19 0.58 0.05\n"
                    "los  angeles ca 0.64 0.87 0.56 0.54\n")
    with caplog.at_level(logging.WARNING, logger="w2v"):
        words, vectors, info = load_word2vec(path)
    assert words == ["new york", "tab", "los angeles ca"] and not info["binary"]
    np.testing.assert_allclose(vectors[0], [0.15381375, 0.4637451, 0.37838337, 0.58589506])
    assert "2 word(s) held spaces" in caplog.text
    # a binary file (dim 1, no line ends) whose bytes up to the first 0x0a split into numbers stays binary
    path.write_bytes(b"2 1\na " + struct.pack("<f", 0.00912856) + b"in " + struct.pack("<f", 0.00909667))
    words, vectors, info = load_word2vec(path)
    assert words == ["a", "in"] and info["binary"]
    path.write_text("2 4\nnew york 0.1 0.2 0.3\ntab 0.99 0.19 0.58 0.05\n")  # too few values: still an error
    with pytest.raises(ModelFileError, match="line 2: could not convert string to float"):
        load_word2vec(path, binary=False)


def test_binary_records_out_of_step_are_refused(tmp_path, caplog):
    """A word holding a space (gensim writes 'new york' to binary as it is) or a header whose dimension is not
    the vectors' puts the records out of step: refused, never read as other words and vectors."""
    vec = _vectors(4, 4)
    words = [b"the", b"new york", b"paris", b"london"]
    path = tmp_path / "spaced.bin"
    path.write_bytes(b"4 4\n" + b"".join(w + b" " + v.tobytes() for w, v in zip(words, vec)))  # gensim: no newlines
    with pytest.raises(ModelFileError, match="out of step.*'new york' cannot be read back"):
        load_word2vec(path)
    path.write_bytes(b"4 2\n" + b"".join(w + b" " + v.tobytes() + b"\n" for w, v in zip([b"a", b"b", b"c", b"d"],
                                                                                       vec)))
    with pytest.raises(ModelFileError, match=r"holds a newline, so the records are out of step.*dimension \(2\)"):
        load_word2vec(path, binary=True)
    caught = 0
    for seed in range(40):  # out of step wherever the misread word or the vector beside it shows it
        vec = (np.random.default_rng(seed).standard_normal((30, 50)) * 0.3).astype(np.float32)
        words = [f"w{i}".encode() for i in range(30)]
        words[10] = (b"new york", b"route 66", b"a b")[seed % 3]
        path.write_bytes(b"30 50\n" + b"".join(w + b" " + v.tobytes() for w, v in zip(words, vec)))
        with caplog.at_level(logging.WARNING, logger="w2v.formats"):
            caplog.clear()
            try:
                load_word2vec(path)
            except ModelFileError as e:
                caught += "out of step" in str(e)
                continue
        assert "hold values beyond 1e+15" in caplog.text and "out of step" in caplog.text
    assert caught >= 30  # the others warned (above)


def test_long_words_are_written_and_read_back(tmp_path):
    """Whatever token training keeps (up to corpus.MAX_TOKEN_CHARS characters) the word2vec readers read back,
    in both formats, also as the first word (where the format is guessed); longer words are refused."""
    from w2v import corpus

    assert formats.MAX_WORD_BYTES >= 4 * corpus.MAX_TOKEN_CHARS
    words = ["é" * 6000, "b", "ACGT" * 3000]  # 12,000 bytes, then 12,000 characters
    for name in ("v.bin", "v.txt"):
        save_word2vec(tmp_path / name, words, _vectors(3, 3), binary=name.endswith(".bin"))
        got, vectors, info = load_word2vec(tmp_path / name)
        assert got == words and info["binary"] == name.endswith(".bin")
        np.testing.assert_array_equal(vectors, _vectors(3, 3))
    huge = "x" * (formats.MAX_WORD_BYTES + 1)
    with pytest.raises(ModelFileError, match="longer than"):
        save_word2vec(tmp_path / "huge.bin", [huge], _vectors(1, 3))
    assert not (tmp_path / "huge.bin").exists()


def test_headerless_text_unicode_errors_and_their_checks(tmp_path):
    from w2v import KeyedVectors

    path = tmp_path / "glove.txt"
    path.write_text("alpha 0.5 1 2\nbeta 3 4 5\n\ngamma 6 7 8\n")
    words, vectors, info = load_word2vec(path, no_header=True)
    assert words == ["alpha", "beta", "gamma"] and vectors.shape == (3, 3) and info["header_count"] is None
    assert load_word2vec(path, no_header=True, limit=2)[0] == ["alpha", "beta"]
    gz = tmp_path / "glove.txt.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert load_word2vec(gz, no_header=True)[0] == words
    for source in (path, gz):  # a limit beyond the rows: all of them, as gensim reads min(rows, limit)
        assert load_word2vec(source, no_header=True, limit=10)[0] == words
    (tmp_path / "blank.txt").write_text("\n\nalpha 1 2\nbeta 3\n")  # blank lines first: skipped, and counted
    with pytest.raises(ModelFileError, match="line 4: expected a word and 2 values"):
        load_word2vec(tmp_path / "blank.txt", no_header=True, limit=5)
    with pytest.raises(ModelFileError, match="line 2: expected a word and 3 values, found 1"):
        path.write_text("alpha 0.5 1 2\nbeta 3\n")
        load_word2vec(path, no_header=True)
    with pytest.raises(ModelFileError, match="with no_header, the first line should be a word and its values"):
        path.write_text("3 3\nalpha x 1 2\n")
        load_word2vec(path, no_header=True)
    with pytest.raises(ValueError, match="no_header reads the text format only"):
        load_word2vec(path, binary=True, no_header=True)

    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"2 2\n\xffab 1 2\nab 3 4\n")
    with pytest.raises(ModelFileError, match="line 2 is not UTF-8"):
        load_word2vec(bad, unicode_errors="strict")
    assert load_word2vec(bad, unicode_errors="replace")[0] == ["\ufffdab", "ab"]
    assert load_word2vec(bad, unicode_errors="ignore")[0] == ["ab"]  # "ab" twice: the first kept, as with "replace"
    with pytest.raises(ValueError, match="unicode_errors must be one of replace, strict, ignore"):
        load_word2vec(bad, unicode_errors="backslashreplace")
    with pytest.raises(ValueError, match="float32 only"):
        KeyedVectors.load_word2vec_format(bad, datatype=np.float64)
    with pytest.raises(TypeError, match="the second argument is fvocab"):
        KeyedVectors.load_word2vec_format(bad, True)


def test_save_word2vec_format_follows_the_name_and_gensims_arguments(tmp_path):
    """binary=None decides by the name (text for .txt/.vec, as gensim writes by default; binary otherwise);
    fvocab writes the counts beside them, gensim's vocabulary-file format, read back by fvocab=."""
    from w2v import KeyedVectors

    kv = KeyedVectors(["a", "b", "c"], _vectors(3, 4), np.array([9, 5, 1]))
    for name, binary in (("v.txt", False), ("v.vec.gz", False), ("v.bin", True), ("v", True), ("v.TXT", False)):
        kv.save_word2vec_format(tmp_path / name)
        assert load_word2vec(tmp_path / name)[2]["binary"] == binary, name
    kv.save_word2vec_format(tmp_path / "w.txt", tmp_path / "w.vocab", binary=True)
    assert (tmp_path / "w.vocab").read_text() == "a 9\nb 5\nc 1\n"
    back = KeyedVectors.load_word2vec_format(tmp_path / "w.txt", fvocab=tmp_path / "w.vocab")
    np.testing.assert_array_equal(back.counts, [9, 5, 1])
    np.testing.assert_array_equal(back.vectors, kv.vectors)
    assert len(KeyedVectors.load_word2vec_format(tmp_path / "w.txt", limit=0)) == 3  # gensim's "no limit"
    with pytest.raises(ValueError, match="no counts to write"):
        KeyedVectors(["a"], _vectors(1, 4)).save_word2vec_format(tmp_path / "n.txt", tmp_path / "n.vocab")
    assert not (tmp_path / "n.txt").exists() and not (tmp_path / "n.vocab").exists()
    (tmp_path / "w.vocab").write_text("a 9\nb five\n")
    with pytest.raises(ModelFileError, match="line 2: expected 'word count'"):
        KeyedVectors.load_word2vec_format(tmp_path / "w.txt", fvocab=tmp_path / "w.vocab")
    with pytest.raises(TypeError, match="pass binary=... by name"):
        kv.save_word2vec_format(tmp_path / "x.bin", True)
    with pytest.raises(ValueError, match="are the same file"):
        kv.save_word2vec_format(tmp_path / "same.txt", tmp_path / "same.txt")
    assert not (tmp_path / "same.txt").exists()
    for count in ("inf", "nan", "1e400", "-3", "2.5", "9" * 23):  # a whole number, or a one-line error
        (tmp_path / "w.vocab").write_text(f"a 9\nb {count}\nc 1\n")
        with pytest.raises(ModelFileError, match="line 2: expected 'word count'"):
            KeyedVectors.load_word2vec_format(tmp_path / "w.txt", fvocab=tmp_path / "w.vocab")
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"2 2\ncaf\xe9 1 2\nb 3 4\n")
    (tmp_path / "latin.vocab").write_bytes(b"caf\xe9 7\nb 5\n")  # its words decoded as the vectors' are
    for errors in ("replace", "ignore"):
        kept = KeyedVectors.load_word2vec_format(latin, fvocab=tmp_path / "latin.vocab", unicode_errors=errors)
        np.testing.assert_array_equal(kept.counts, [7, 5])
    with pytest.raises(ValueError, match="encoding 'latin-1': w2v reads UTF-8 words"):
        KeyedVectors.load_word2vec_format(latin, encoding="latin-1")
    assert len(KeyedVectors.load_word2vec_format(latin, None, False, "UTF-8")) == 2  # gensim's positions


@pytest.mark.skipif(not os.path.isdir("/dev/fd"), reason="needs /dev/fd (Linux, macOS)")
def test_a_model_or_counts_file_given_as_a_pipe_is_refused_in_one_line(tmp_path):
    """``w2v import <(zcat v.txt.gz) ...``: the file is opened more than once (its first bytes tell its format),
    and a pipe gives its bytes to the first opening only, so the second read the middle of the file as if it
    were its start ("the first line should be 'vocab_size dims', found b'826 -0.22 ...'").  Refused, saying
    why; a missing counts file is named as such, not as a model file."""
    from w2v import KeyedVectors
    from w2v.errors import ModelFileError

    text = tmp_path / "v.txt"
    KeyedVectors(["a", "b"], np.eye(2, dtype=np.float32)).save_word2vec_format(str(text), binary=False)
    read, write = os.pipe()
    try:
        os.write(write, text.read_bytes())
        with pytest.raises(ModelFileError, match=r"model or vectors file '/dev/fd/\d+' is a pipe or a device, not a "
                                                 r"file: .*write it to a file first"):
            KeyedVectors.load(f"/dev/fd/{read}")
        with pytest.raises(ModelFileError, match=r"vocabulary \(counts\) file '/dev/fd/\d+' is a pipe"):
            KeyedVectors.load_word2vec_format(str(text), fvocab=f"/dev/fd/{read}")
    finally:
        os.close(read)
        os.close(write)
    with pytest.raises(FileNotFoundError, match=r"vocabulary \(counts\) file not found: '.*nofile'"):
        KeyedVectors.load_word2vec_format(str(text), fvocab=str(tmp_path / "nofile"))


def test_a_compressed_native_file_is_told_to_be_decompressed(tmp_path):
    """``gzip m.w2v; w2v similar m.w2v.gz king``: not "read it with KeyedVectors.load(path)", which is what
    failed, but that native files are read uncompressed."""
    from w2v import KeyedVectors
    from w2v.errors import ModelFileError

    native = tmp_path / "m.w2v"
    KeyedVectors(["a", "b"], np.eye(2, dtype=np.float32)).save(str(native))
    packed = tmp_path / "m.w2v.gz"
    packed.write_bytes(gzip.compress(native.read_bytes()))
    with pytest.raises(ModelFileError, match=r"m\.w2v\.gz: a gzip-compressed native w2v file: native files are read "
                                             r"uncompressed .* decompress it first"):
        KeyedVectors.load(str(packed))
