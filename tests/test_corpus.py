"""Tests of w2v.corpus: reading (compression, endings, bad bytes, long lines), iterables, encode_corpus."""

from __future__ import annotations

import bz2
import errno
import gzip
import itertools
import logging
import lzma
import os
import tracemalloc
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from w2v import Word2Vec
from w2v import corpus as corpus_mod
from w2v.corpus import Corpus, encode_corpus, finalize
from w2v.errors import ConfigError, CorpusError, CorpusNotFoundError
from w2v.vocab import build_vocab

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TEXT = "the quick brown fox\njumps over the lazy dog\n\nthe end\n"
SENTENCES = [["the", "quick", "brown", "fox"], ["jumps", "over", "the", "lazy", "dog"], ["the", "end"]]
COMPRESS = {"plain": lambda b: b, "gzip": gzip.compress, "bzip2": bz2.compress, "xz": lzma.compress}


def write(path: Path, data: bytes | str, kind: str = "plain") -> Path:
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(COMPRESS[kind](data))
    return path


def reference(data: bytes, max_len: int = 10_000) -> list[list[str]]:
    """What the streaming reader must produce, computed on the whole text at once."""
    text = data.replace(b"\x00", b" ").decode("utf-8-sig", errors="replace")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out = []
    for line in text.split("\n"):
        tokens = line.split()
        out.extend(tokens[i:i + max_len] for i in range(0, len(tokens), max_len))
    return out


# -- files ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(COMPRESS))
def test_each_compression(tmp_path, kind):
    ext = {"plain": ".txt", "gzip": ".txt.gz", "bzip2": ".txt.bz2", "xz": ".txt.xz"}[kind]
    path = write(tmp_path / f"c{ext}", TEXT, kind)
    c = Corpus(path)
    assert list(c) == SENTENCES
    assert list(c) == SENTENCES  # re-iterable
    assert c.raw_tokens == 11 and c.files == [str(path)]
    assert corpus_mod.compression_of(str(path)) == (None if kind == "plain" else kind)


def test_text_that_starts_like_bzip2_is_text(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("BZh is a word\nBZh9 too\n")  # bzip2's first 3 (or 4) bytes, not its signature
    assert list(Corpus(path)) == [["BZh", "is", "a", "word"], ["BZh9", "too"]]
    assert corpus_mod.compression_of(str(path)) is None


@pytest.mark.parametrize("kind, name", [("gzip", "misnamed.txt"), ("xz", "misnamed.bz2"),
                                        ("plain", "misnamed.gz"), ("bzip2", "noext")])
def test_compression_by_magic_bytes_not_name(tmp_path, kind, name):
    path = write(tmp_path / name, TEXT, kind)
    assert list(Corpus(str(path))) == SENTENCES


def test_several_files_in_order(tmp_path):
    a = write(tmp_path / "b.txt", "one two\n")
    b = write(tmp_path / "a.gz", "three\nfour", "gzip")  # no final newline
    assert list(Corpus([a, str(b)])) == [["one", "two"], ["three"], ["four"]]
    assert "2 files" in Corpus([a, b]).describe()


def test_directory_reads_sorted_visible_regular_files(tmp_path):
    write(tmp_path / "b.txt.gz", "beta\n", "gzip")
    write(tmp_path / "a.txt", "alpha\n")
    write(tmp_path / ".hidden", "hidden\n")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "c.txt", "nested\n")
    c = Corpus(tmp_path)
    assert list(c) == [["alpha"], ["beta"]]
    assert [os.path.basename(f) for f in c.files] == ["a.txt", "b.txt.gz"]


def test_empty_directory_is_an_error(tmp_path):
    write(tmp_path / ".only-hidden", "x\n")
    with pytest.raises(CorpusError, match="holds no file"):
        Corpus(tmp_path)


def test_missing_path_names_it(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(CorpusNotFoundError, match="nope.txt") as info:
        Corpus(missing)
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(CorpusNotFoundError, match="nope.txt"):
        Corpus([write(tmp_path / "ok.txt", "x"), missing])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX only")
def test_pipe_is_refused(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(CorpusError, match="read more than once .*write it to a file"):
        Corpus(tmp_path / "fifo")


def test_corrupt_compressed_file(tmp_path):
    data = gzip.compress(TEXT.encode() * 50)
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorpusError, match=r"cut.gz.*\(gzip\) is truncated"):
        list(Corpus(path))


# -- line endings, bytes ----------------------------------------------------------------------------------
def test_line_endings_crlf_cr_mixed(tmp_path):
    path = write(tmp_path / "e.txt", b"a b\r\nc\rd e\n\nf\r\r\ng\r")
    assert list(Corpus(path)) == [["a", "b"], ["c"], ["d", "e"], ["f"], ["g"]]


def test_invalid_utf8_is_replaced_and_counted(tmp_path, caplog):
    bad = {b"\x80": 1, b"\xff": 1, b"\xe2\x82": 2, b"\xc0\xaf": 2, b"\xed\xa0\x80": 3}
    data = b"ok " + b" x".join(bad) + b" caf\xc3\xa9 \xe2\x82"  # the last one truncated at the end of file
    path = write(tmp_path / "bad.txt", data)
    c = Corpus(path, allow_binary=True)  # a third of these bytes are invalid: past the text rule's limit
    with caplog.at_level(logging.WARNING, logger="w2v"):
        tokens = [t for s in c for t in s]
    assert tokens == reference(data)[0]
    assert "café" in tokens and tokens[0] == "ok"
    assert c.decode_errors == sum(bad.values()) + 2
    assert sum(t.count("\ufffd") for t in tokens) == 9
    assert "bad.txt" in caplog.text and "11 bytes of invalid UTF-8" in caplog.text


def test_binary_junk_never_crashes(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, 20_000, dtype=np.uint8).tobytes()
    c = Corpus(write(tmp_path / "junk.bin", data), allow_binary=True)  # the reader itself: never a crash
    assert list(c) == reference(data)
    assert c.decode_errors > 0 and c.nul_bytes == data.count(b"\x00")


def test_nul_bytes_are_whitespace(tmp_path, caplog):
    c = Corpus(write(tmp_path / "nul.txt", b"a\x00b\x00\x00c\nd\x00"), allow_binary=True)
    with caplog.at_level(logging.WARNING, logger="w2v"):
        assert list(c) == [["a", "b", "c"], ["d"]]
    assert c.nul_bytes == 4 and c.decode_errors == 0
    assert "4 NUL bytes" in caplog.text
    caplog.clear()
    list(c)  # warned once per file
    assert "NUL" not in caplog.text


def test_utf8_bom_is_dropped(tmp_path):
    assert list(Corpus(write(tmp_path / "bom.txt", b"\xef\xbb\xbfhello world\n"))) == [["hello", "world"]]


@pytest.mark.parametrize("content", [b"", b"  \n\r\n\t \n  "])
def test_empty_and_whitespace_only_files(tmp_path, content):
    c = Corpus(write(tmp_path / "empty.txt", content))
    assert list(c) == []
    with pytest.raises(CorpusError, match="corpus is empty"):
        build_vocab(c)


PIECES = [b"a", b"bc", b"def", b" ", b"\t", b"\r", b"\n", b"\r\n", "é".encode(), "€".encode(),
          "ΣΑΣ".encode(), "\U0001f600".encode(), b"\xff", b"\xe2\x82", b"\x00", b"\xef\xbb\xbf"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=60), st.integers(1, 9), st.integers(1, 4),
       st.booleans())
def test_streaming_equals_whole_text_for_any_block_size(tmp_path_factory, pieces, block, max_len, lower):
    """Tokens, multi-byte characters and CRLFs split across blocks are put back together."""
    data = b"".join(pieces)
    path = tmp_path_factory.mktemp("s") / "s.txt"
    path.write_bytes(data)
    old = corpus_mod.BLOCK_SIZE
    corpus_mod.BLOCK_SIZE = block
    try:
        got = list(Corpus(path, max_sentence_length=max_len, lowercase=lower, allow_binary=True))
    finally:
        corpus_mod.BLOCK_SIZE = old
    want = reference(data, max_len)
    if lower:
        want = [[t.lower() for t in s] for s in want]
    assert got == want


def test_long_line_streamed_in_small_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_mod, "BLOCK_SIZE", 4093)
    words = [f"w{i % 977}x{'y' * (i % 7)}" for i in range(250_000)]
    path = write(tmp_path / "long.txt.gz", " ".join(words) + "\r\nlast line\r\n", "gzip")
    sentences = list(Corpus(path, max_sentence_length=10_000))
    assert [len(s) for s in sentences] == [10_000] * 25 + [2]
    assert list(itertools.chain.from_iterable(sentences[:25])) == words


def test_long_line_memory_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_mod, "BLOCK_SIZE", 1 << 16)
    path = write(tmp_path / "big.txt", "abcd efgh " * 400_000)  # one 4 MB line, no newline
    tracemalloc.start()
    try:
        n = sum(len(s) for s in Corpus(path, max_sentence_length=1000))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == 800_000
    assert peak < 2_000_000  # a block and a sentence, not the 4 MB line and its 800,000 tokens


def test_run_without_whitespace_is_cut_and_reported(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(corpus_mod, "BLOCK_SIZE", 64)
    monkeypatch.setattr(corpus_mod, "MAX_TOKEN_CHARS", 100)
    data = "z" * 1000 + " end"
    c = Corpus(write(tmp_path / "run.txt", data))
    with caplog.at_level(logging.WARNING, logger="w2v"):
        tokens = [t for s in c for t in s]
    assert "".join(tokens[:-1]) == "z" * 1000 and tokens[-1] == "end"
    assert all(len(t) <= 200 for t in tokens)
    assert "without whitespace" in caplog.text


@pytest.mark.parametrize("n, sizes", [(25, [10, 10, 5]), (20, [10, 10]), (10, [10]), (3, [3])])
def test_cut_at_max_sentence_length_loses_nothing(tmp_path, n, sizes):
    words = [str(i) for i in range(n)]
    for source in (write(tmp_path / "l.txt", " ".join(words) + "\nnext\n"), [words, ["next"]]):
        got = list(Corpus(source, max_sentence_length=10))
        assert [len(s) for s in got] == sizes + [1]
        assert sum(got, []) == words + ["next"]


def test_lowercase_and_normalize(tmp_path):
    text = "And the LORD, said (unto) “Moses” don't —and ... 'tis end.\n-- ?!\n"
    path = write(tmp_path / "t.txt", text)
    assert list(Corpus(path, lowercase=True))[0][:3] == ["and", "the", "lord,"]
    assert list(Corpus(path, normalize=True)) == [
        ["And", "the", "LORD", "said", "unto", "Moses", "don't", "and", "tis", "end"]]
    both = list(Corpus(path, lowercase=True, normalize=True))
    assert both == [["and", "the", "lord", "said", "unto", "moses", "don't", "and", "tis", "end"]]


def test_bad_max_sentence_length():
    with pytest.raises(ConfigError, match="max_sentence_length"):
        Corpus([["a"]], max_sentence_length=0)


# -- iterables ---------------------------------------------------------------------------------------------
def test_list_of_token_lists():
    c = Corpus([["A", "b"], (), ("C", "d", "e"), []], lowercase=True, max_sentence_length=2)
    assert list(c) == [["a", "b"], ["c", "d"], ["e"]]
    assert c.files is None and c.raw_tokens == 5 and "iterable" in c.describe()


def test_reiterable_object():
    class Sentences:
        def __iter__(self):
            return iter([["x", "y"], ["z"]])

    c = Corpus(Sentences(), normalize=True)
    assert list(c) == list(c) == [["x", "y"], ["z"]]


@pytest.mark.parametrize("one_shot", [lambda: (s for s in SENTENCES), lambda: iter(SENTENCES),
                                      lambda: map(list, SENTENCES)])
def test_one_shot_iterator_is_refused(one_shot):
    with pytest.raises(CorpusError, match="read twice.*list"):
        Corpus(one_shot())


def test_an_iterable_that_does_not_start_over_is_named():
    class Stale:  # __iter__ hands out the same iterator: the second read finds it exhausted
        def __init__(self):
            self.it = iter([["a", "b", "a"]] * 3)

        def __iter__(self):
            return self.it

    with pytest.raises(CorpusError, match=r"gave 9 tokens when first read and none when read again: its "
                                          r"__iter__ \(Stale\) does not start over"):
        Word2Vec(min_count=1, dim=4, threads=1).train(Stale(), progress=False)
    empty = Corpus([[]])
    assert list(empty) == [] and list(empty) == []  # empty both times: no complaint here

    class Eager:  # __iter__ reads its whole file at once: used up by a first call
        def __init__(self):
            self.lines = iter(["a b a", "b a b"])

        def __iter__(self):
            return iter([line.split() for line in self.lines])

    with pytest.raises(CorpusError, match=r"gave 6 tokens when first read and none when read again"):
        Word2Vec(min_count=1, dim=4, threads=1).train(Eager(), progress=False)  # (not "corpus is empty")


def test_an_iterable_that_gives_other_sentences_each_time_is_refused():
    import random

    docs = [[f"w{i % 7}", f"w{i % 5}", f"w{i % 3}"] * (1 + i % 4) for i in range(200)]

    class Alternating:  # a different half each time: the vocabulary would not match the text trained on
        def __init__(self, size=100):
            self.calls, self.size = 0, size

        def __iter__(self):
            self.calls += 1
            return iter(random.Random(self.calls).sample(docs, self.size))

    class Shuffled(Alternating):  # the same sentences in another order each time: fine
        def __init__(self):
            super().__init__(len(docs))

    with pytest.raises(CorpusError, match=r"tokens when first read and .* when read again: its __iter__ "
                                          r"\(Alternating\) gives other sentences each time"):
        Word2Vec(min_count=1, dim=4, threads=1).train(Alternating(), progress=False)
    assert Word2Vec(min_count=1, dim=4, threads=1, sample=0).train(Shuffled(), progress=False).wv


def test_sentences_as_numpy_arrays_and_paths_as_bytes(tmp_path):
    rows = [np.array(["a", "b", "a"]), np.array(["b", "c"], dtype=object)]  # (pandas' lists read from parquet)
    assert list(Corpus(rows)) == [["a", "b", "a"], ["b", "c"]]
    (tmp_path / "c.txt").write_text("x y\n")
    assert list(Corpus([os.fsencode(tmp_path / "c.txt")])) == [["x", "y"]]


@pytest.mark.parametrize("path, hint", [("data/*.txt", "does not expand wildcards"),
                                        ("~/nope-corpus.txt", "does not expand ~"),
                                        ("https://example.com/c.txt", "reads files, not URLs")])
def test_paths_w2v_does_not_expand_say_so(path, hint):
    with pytest.raises(CorpusNotFoundError, match=hint):
        Corpus(path)


def test_subdirectories_and_files_named_twice_are_warned_about(tmp_path, caplog):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "a.txt").write_text("x y\n")
    (tmp_path / "d" / "sub" / "b.txt").write_text("z\n")
    with caplog.at_level("WARNING", logger="w2v"):
        c = Corpus([tmp_path / "d", tmp_path / "d" / "a.txt"])
    assert "its subdirectories are not read (1: sub)" in caplog.text
    assert "is given 2 times" in caplog.text and "it is read 2 times" in caplog.text
    assert sum(len(s) for s in c) == 4  # as asked: twice


def test_string_sentences_are_refused():
    with pytest.raises(CorpusError, match="lists of tokens, not strings"):
        list(Corpus([["ok"], "not split"]))
    with pytest.raises(CorpusError, match="lists of tokens, not strings"):
        Corpus(["a sentence", "another one"])
    with pytest.raises(CorpusError, match="tokens must be str"):
        list(Corpus([[1, 2]]))
    with pytest.raises(CorpusError, match=r"token 2 of the sentence \['a', 'b', 7\] is int"):
        list(Corpus([["a", "b"], ["a", "b", 7]]))  # not only a sentence's first token
    with pytest.raises(CorpusError):
        Corpus(42)


@pytest.mark.parametrize("bad, why", [(["a", 1, "b"], "token 1 of the sentence .* is int"),
                                      (["a", ["b"]], "token 1 of the sentence .* is list"),
                                      (["a", "new york"], "'new york' is empty or holds whitespace"),
                                      (["a", ""], "'' is empty or holds whitespace"),
                                      (["a", "b\x00c"], "'b\\\\x00c' is empty or holds whitespace or a NUL"),
                                      (["a", "x\ty"], "holds whitespace")])
def test_tokens_no_file_could_hold_are_refused_before_training(bad, why):
    with pytest.raises(CorpusError, match=why):
        Word2Vec(min_count=1, dim=4, threads=1).train([["a", "b"], bad] * 3, progress=False)


def test_odd_tokens_matter_only_in_the_vocabulary(tmp_path):
    sentences = [["a", "b", "x\u3000y"]] * 3 + [["a", "b", ""], ["a", "b", "new york"]]  # the last two: once
    m = Word2Vec(min_count=2, dim=4, threads=1, sample=0).train(sentences, progress=False)
    assert sorted(m.vocab.words) == ["a", "b", "x\u3000y"]  # storable (the word2vec text format keeps it)
    m.wv.save_word2vec_format(tmp_path / "v.txt", binary=False)
    m.save(tmp_path / "m.w2v")
    assert sorted(Word2Vec.load(tmp_path / "m.w2v").vocab.words) == ["a", "b", "x\u3000y"]


def test_str_subclass_tokens_are_stored_as_str():
    np_words = [[np.str_("a"), np.str_("b")], [np.str_("b"), np.str_("a")]] * 3
    m = Word2Vec(min_count=1, dim=4, threads=1, sample=0).train(np_words, progress=False)
    assert sorted(m.vocab.words) == ["a", "b"] and all(type(w) is str for w in m.vocab.words)


# -- encode_corpus -----------------------------------------------------------------------------------------
def reference_encoding(sentences, vocab):
    ids, ends = [], []
    for s in sentences:
        kept = [vocab.index[w] for w in s if w in vocab.index]
        if kept:
            ids.extend(kept)
            ends.append(len(ids))
    return ids, ends


@pytest.mark.parametrize("flush", [3, 7, 1 << 20])
def test_encode_matches_reference(tmp_path, monkeypatch, flush):
    monkeypatch.setattr(corpus_mod, "FLUSH_IDS", flush)
    rng = np.random.default_rng(1)
    words = [f"w{i}" for i in range(40)]
    sentences = [[words[min(int(rng.zipf(1.5)), 39)] for _ in range(rng.integers(1, 12))] for _ in range(200)]
    sentences.append(["rare-only-once"])  # a sentence that ends up empty
    c = Corpus(sentences)
    vocab = build_vocab(c, min_count=3)
    with encode_corpus(c, vocab, directory=tmp_path) as enc:
        ids, ends = reference_encoding(sentences, vocab)
        assert enc.ids.dtype == np.int32 and enc.sentence_ends.dtype == np.int64
        assert enc.ids.tolist() == ids and enc.sentence_ends.tolist() == ends
        assert enc.n_tokens == len(ids) == vocab.total
        assert enc.raw_tokens == sum(map(len, sentences)) == vocab.raw_tokens
        assert np.array_equal(enc.counts, vocab.counts)  # no pruning: pass 1 counts were exact
        assert np.all(np.diff(enc.sentence_ends) > 0) and enc.sentence_ends[-1] == enc.n_tokens
        assert not enc.ids.flags.writeable
        assert finalize(enc, vocab) is vocab
        if os.name == "posix":
            assert os.listdir(tmp_path) == []  # the cache file has no name on disk
    assert enc.n_tokens == 0


def test_encode_file_corpus_and_logs_cache_size(tmp_path, caplog):
    path = write(tmp_path / "c.txt.gz", TEXT * 3, "gzip")
    c = Corpus(path)
    vocab = build_vocab(c, min_count=3)
    with caplog.at_level(logging.INFO, logger="w2v"):
        enc = encode_corpus(c, vocab, directory=tmp_path)
    assert [vocab.words[i] for i in enc.ids] == [w for s in SENTENCES * 3 for w in s]
    assert f"cache of {enc.n_tokens * 4} bytes in {tmp_path}" in caplog.text
    enc.close()


def test_encode_with_nothing_in_vocabulary():
    vocab = build_vocab([["a"] * 5], min_count=1)
    with pytest.raises(CorpusError, match="no token of the corpus"):
        encode_corpus(Corpus([["b", "c"]]), vocab)


def test_encode_disk_full(tmp_path, monkeypatch):
    class Full:
        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def flush(self):
            pass

        def close(self):
            pass

    monkeypatch.setattr(corpus_mod, "_cache_file", lambda directory: Full())
    vocab = build_vocab([["a", "b"]], min_count=1)
    with pytest.raises(CorpusError, match=f"disk full.*{tmp_path}"):
        encode_corpus([["a", "b"]], vocab, directory=tmp_path)


def test_exact_counts_after_pruning_and_remap(caplog):
    sentences = [["a", "a", "a", "b"], ["c"], ["b", "b"], ["b"]]
    with caplog.at_level(logging.WARNING, logger="w2v"):
        vocab = build_vocab(sentences, min_count=1, max_vocab=2)
    assert "lower bounds" in caplog.text
    assert vocab.words == ["a", "b"] and vocab.counts.tolist() == [3, 3]  # b's first count was pruned
    assert vocab.pruned_words == 2 and vocab.min_reduce == 1
    enc = encode_corpus(Corpus(sentences), vocab)
    assert enc.counts.tolist() == [3, 4] and enc.ids.tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert enc.vocab is vocab
    exact = finalize(enc, vocab)
    assert exact.words == ["b", "a"] and exact.counts.tolist() == [4, 3] and enc.vocab is exact
    assert enc.ids.tolist() == [1, 1, 1, 0, 0, 0, 0] and enc.counts.tolist() == [4, 3]
    assert enc.sentence_ends.tolist() == [4, 6, 7] and exact.total == enc.n_tokens
    enc.close()


def test_exact_counts_after_heavy_pruning(monkeypatch):
    monkeypatch.setattr(corpus_mod, "FLUSH_IDS", 50)
    rng = np.random.default_rng(2)
    sentences = [[f"w{int(rng.zipf(1.3)) % 300}" for _ in range(8)] for _ in range(400)]
    true = Counter(w for s in sentences for w in s)
    vocab = build_vocab(sentences, min_count=2, max_vocab=40)
    assert vocab.pruned_words > 0
    assert all(c <= true[w] for w, c in zip(vocab.words, vocab.counts))  # lower bounds
    enc = encode_corpus(Corpus(sentences), vocab)
    assert enc.counts.tolist() == [true[w] for w in vocab.words]
    exact = finalize(enc, vocab)
    assert exact.counts.tolist() == sorted(exact.counts.tolist(), reverse=True)
    assert exact.counts.tolist() == [true[w] for w in exact.words]
    want, _ = reference_encoding(sentences, exact)
    assert enc.ids.tolist() == want
    enc.close()


@pytest.mark.skipif(not (DATA / "kjv.txt.gz").exists(), reason="../shared/data/kjv.txt.gz is absent")
def test_real_corpus_token_count():
    c = Corpus(DATA / "kjv.txt.gz")
    assert sum(len(s) for s in c) == 789_634 == c.raw_tokens
    assert c.decode_errors == 0 and c.nul_bytes == 0


# -- shares: contiguous parts for parallel readers and distributed ranks -----------------------------------

def _share_files(tmp_path):
    rng = np.random.default_rng(0)
    lines = [" ".join("abcdefghij"[k] * (1 + k % 3) for k in rng.integers(0, 10, rng.integers(0, 30)))
             for _ in range(5000)]
    a = write(tmp_path / "a.txt", ("\n".join(lines[:2000]) + "\n").encode())
    b = write(tmp_path / "b.txt", "\n".join(lines[2000:2100]).encode())  # no final newline
    c = tmp_path / "c.txt.gz"
    c.write_bytes(gzip.compress(("\r\n".join(lines[2100:]) + "\n").encode()))
    long = write(tmp_path / "long.txt", " ".join(f"tok{i % 97}" for i in range(300_000)).encode())
    return [str(a), str(b), str(c)], [str(long)]


@pytest.mark.parametrize("parts", [1, 2, 3, 7, 40])
def test_shares_hold_the_corpus_tokens_in_order(parts, tmp_path, monkeypatch):
    """Every token in exactly one share, in order; lines stay whole (sentences identical) except a line
    longer than the cut search, cut between two words."""
    import w2v.sources as sources_mod

    monkeypatch.setattr(sources_mod, "CUT_SEARCH", 1 << 12)  # so that the long line is cut mid-line
    several, one_line = _share_files(tmp_path)
    for files, whole_lines in ((several, True), (one_line, False), (several[2:], True)):
        whole = Corpus(files)
        reference = list(whole)
        shares = whole.shares(parts)
        assert len(shares) == parts
        got = [s for share in shares for s in share]
        assert [t for s in got for t in s] == [t for s in reference for t in s]
        if whole_lines:
            assert got == reference
        if parts > 1 and files is several:
            sizes = [sum(len(s) for s in share) for share in shares]
            assert max(sizes) < 2.5 * (sum(sizes) / parts) + 100  # balanced, the gzip file weighed by content


def test_shares_of_an_iterable_and_their_counts_merge_to_one_pass():
    from w2v.vocab import count_words, merge_counts, select_vocab

    rng = np.random.default_rng(1)
    sentences = [[f"w{int(x)}" for x in rng.zipf(1.3, rng.integers(1, 20))] for _ in range(3000)]
    whole = Corpus(sentences)
    one = build_vocab(whole, min_count=2)
    for parts in (2, 5):
        merged = merge_counts([count_words(share) for share in whole.shares(parts)])
        vocab = select_vocab(merged, min_count=2)
        assert vocab.words == one.words  # the same ids, ties in the same order
        np.testing.assert_array_equal(vocab.counts, one.counts)


def test_a_corpus_object_trained_on_again_is_read_afresh():
    """The same Corpus given to a second training (its list grown since) is that training's to check."""
    sentences = [["a", "b", "a"], ["b", "c"]] * 20
    corpus = Corpus(sentences)
    model = Word2Vec(min_count=1, dim=4, threads=1, sample=0).train(corpus, progress=False)
    sentences.extend([["d", "a", "d"]] * 20)
    model.train(corpus, progress=False, update_vocab=True)
    assert "d" in model.wv
