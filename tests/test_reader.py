"""The fast reader (w2v.reader, w2v.scan) against the Python reader: the same tokens, vocabulary (ids and
ties), encoded ids, sentence ends and repair counts, for any thread count, block size and text."""

from __future__ import annotations

import bz2
import gzip
import logging
import lzma
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from w2v import corpus as corpus_mod
from w2v import prepare, reader, scan, sources
from w2v.corpus import PUNCTUATION, Corpus, encode_corpus, finalize
from w2v.errors import CorpusError
from w2v.vocab import build_vocab, count_words, merge_counts, select_vocab

COMPRESS = {"plain": lambda b: b, "gzip": gzip.compress, "bzip2": bz2.compress, "xz": lzma.compress}
SPACES = [chr(c) for c in range(0x110000) if chr(c).isspace()]  # \x1c-\x1f, \x85, \xa0, \u2000..., \u3000
PIECES = ([b"a", b"bc", b"Def", b"GHI", b"x.", b"(y)", b"--", b"'", b"don't", b"\x00", b"\r", b"\n", b"\r\n",
           b"\xef\xbb\xbf", b"\xff", b"\xe2\x82", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf0\x9f\x98", b"\x80"]
          + [c.encode() for c in SPACES]
          + [t.encode() for t in ("é", "É", "ΣΑΣ", "Σ", "İ", "ß", "\u201c", "\u2014", "…", "\U0001f600", "ǅ", "ﬃ",
                                  "Ⅻ", "\u0345", "A\u0300", "\ufeff")])


def write(path, data: bytes, kind: str = "plain"):
    path.write_bytes(COMPRESS[kind](data))
    return str(path)


def python_reader(paths, min_count=1, max_vocab=None, **kw):
    """What the Python reader gives: (vocab after finalize, encoded corpus, the Corpus), or the error."""
    c = Corpus(paths, **kw)
    try:
        vocab = build_vocab(c, min_count=min_count, max_vocab=max_vocab)
        enc = encode_corpus(c, vocab)
    except CorpusError as e:
        return e, None, c
    return finalize(enc, vocab), enc, c


def fast_reader(paths, threads, min_count=1, max_vocab=None, **kw):
    c = Corpus(paths, **kw)
    reading = prepare.Reading(c, threads=threads, max_vocab=max_vocab)
    try:
        vocab = select_vocab(reading.counts(), min_count=min_count, describe=c.describe())
        enc = reading.encode(vocab)
    except CorpusError as e:
        reading.close()
        return e, None, c
    return finalize(enc, vocab), enc, c


def assert_same(paths, threads, **kw):
    v1, e1, c1 = python_reader(paths, **kw)
    v2, e2, c2 = fast_reader(paths, threads, **kw)
    if e1 is None or e2 is None:
        assert (type(v1), str(v1)) == (type(v2), str(v2))
        return
    with e1, e2:
        assert v2.words == v1.words  # the same ids, ties in the same order
        np.testing.assert_array_equal(v2.counts, v1.counts)
        np.testing.assert_array_equal(np.asarray(e2.ids), np.asarray(e1.ids))
        np.testing.assert_array_equal(e2.sentence_ends, e1.sentence_ends)
        np.testing.assert_array_equal(e2.counts, e1.counts)
        assert e2.raw_tokens == e1.raw_tokens
    assert (c2.decode_errors, c2.nul_bytes, c2.raw_tokens) == (c1.decode_errors, c1.nul_bytes, c1.raw_tokens)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.lists(st.lists(st.sampled_from(PIECES), max_size=50).map(b"".join), min_size=1, max_size=3),
       kinds=st.lists(st.sampled_from(list(COMPRESS)), min_size=3, max_size=3),
       threads=st.integers(1, 3), lowercase=st.booleans(), normalize=st.booleans(),
       max_len=st.integers(1, 5), block=st.sampled_from([1, 2, 3, 7, 64, 1 << 20]),
       max_token=st.sampled_from([3, 10, 1 << 20]), min_count=st.sampled_from([1, 2]))
def test_same_as_the_python_reader(tmp_path_factory, monkeypatch, files, kinds, threads, lowercase, normalize,
                                   max_len, block, max_token, min_count):
    """Random Unicode text with every whitespace character str.split knows, invalid UTF-8, NULs, CR, LF,
    CRLF and byte-order marks, plain or compressed, cut into blocks of any size (so tokens, characters and
    CRLFs straddle them), runs longer than MAX_TOKEN_CHARS, 1 to 3 threads."""
    d = tmp_path_factory.mktemp("r")
    paths = [write(d / f"f{i}.txt", data, kinds[i]) for i, data in enumerate(files)]
    monkeypatch.setattr(corpus_mod, "BLOCK_SIZE", block)
    monkeypatch.setattr(corpus_mod, "MAX_TOKEN_CHARS", max_token)
    assert_same(paths, threads, min_count=min_count, lowercase=lowercase, normalize=normalize,
                max_sentence_length=max_len, allow_binary=True)


def zipf_lines(n_lines, seed=0, vocab=400, per_line=(1, 40)):
    rng = np.random.default_rng(seed)
    return [" ".join(f"w{int(x) % vocab}" for x in rng.zipf(1.3, rng.integers(*per_line)))
            for _ in range(n_lines)]


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_max_vocab_pruning_as_the_c_tool_in_corpus_order(tmp_path, threads):
    """With max_vocab the counting prunes exactly where the Python reader does (one thread, corpus order),
    and pass 2 reads the text again with the chosen words: the same vocabulary, counts and ids."""
    path = write(tmp_path / "c.txt", "\n".join(zipf_lines(3000)).encode())
    for max_vocab in (30, 100, 10_000):
        assert_same([path], threads, min_count=2, max_vocab=max_vocab, max_sentence_length=7)


@pytest.mark.parametrize("threads", [2, 3])
def test_a_line_cut_between_shares_is_one_line_again(tmp_path, monkeypatch, threads):
    """A line longer than the cut search is cut between two words; its sentences are still counted from the
    line's start, as one reader of the whole file counts them."""
    monkeypatch.setattr(sources, "CUT_SEARCH", 1 << 10)
    words = [f"t{i % 97}" for i in range(40_000)]
    path = write(tmp_path / "long.txt", (" ".join(words) + "\nshort line\n" + " ".join(words[:5000])).encode())
    assert len(Corpus(path).shares(threads)[1].pieces) and Corpus(path).shares(threads)[1].pieces[0].mid_line
    assert_same([path], threads, max_sentence_length=999)


def test_the_shares_of_a_share(tmp_path):
    """A distributed rank's share read by several threads: the shares of a share hold its tokens."""
    path = write(tmp_path / "c.txt", "\n".join(zipf_lines(4000, seed=1)).encode())
    share = Corpus(path).shares(2)[1]
    want = list(share)
    got = [s for sub in share.shares(3) for s in sub]
    assert got == want and sub_pieces_inside(share)
    r = prepare.Reading(share, threads=3)
    found = r.counts()
    one = count_words(Corpus(path).shares(2)[1])
    assert found.words == one.words and found.counts.tolist() == one.counts.tolist()
    r.close()


def sub_pieces_inside(share):
    start, end = share.pieces[0].start, share.pieces[-1].end
    return all(p.start >= start and (end is None or (p.end or 0) <= end) for sub in share.shares(3)
               for p in sub.pieces)


def test_share_counts_merge_like_merge_counts(tmp_path):
    """merge_shares is merge_counts over the shares' word_counts (what a distributed rank exchanges)."""
    path = write(tmp_path / "c.txt", "\n".join(zipf_lines(3000, seed=2)).encode())
    shares = reader.read_shares(reader.plan(Corpus(path), 3))
    fast = prepare.merge_shares(shares)
    slow = merge_counts([s.word_counts() for s in shares])
    assert fast.words == slow.words and fast.counts.tolist() == slow.counts.tolist()
    assert fast.raw_tokens == slow.raw_tokens
    reader._close(shares)


def test_compressed_file_in_two_threads_with_decompression_threads(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_mod, "BLOCK_SIZE", 1 << 12)
    data = ("\r\n".join(zipf_lines(5000, seed=3)) + "\n").encode()
    for kind in ("gzip", "bzip2", "xz"):
        assert_same([write(tmp_path / f"c.{kind}", data, kind)], 2, min_count=3)


def test_scan_kernel_on_its_own():
    """One block by hand: whitespace of every kind, a CR LF, the ids in order of first appearance."""
    text = "b a\u3000b\u00a0c\r\nd\x1fa\x85b\x00c  \n".encode()
    buf = np.frombuffer(text, np.uint8).copy()
    table = reader.WordTable()
    ids, ends = np.empty(64, np.int32), np.empty(64, np.int64)
    state = np.zeros(10, np.int64)
    state[scan.FIRST_LINE_END] = state[scan.LAST_LINE_END] = -1
    params = np.array([3, 0, 1, 0, 1], np.int64)
    status = scan.scan_block(buf, len(buf), np.zeros((0, 2), np.int64), (np.zeros(0, np.uint8), np.zeros(1, np.int64)),
                             table.table, (ids, ends), state, params, reader._CLASSES, reader._SPACES)
    assert status == scan.DONE
    assert table.words() == ["b", "a", "c", "d"]
    assert ids[:state[scan.N_IDS]].tolist() == [0, 1, 0, 2, 3, 1, 0, 2]
    assert ends[:state[scan.N_ENDS]].tolist() == [3, 4, 7, 8]  # cut at 3 tokens, the line end, 3, the rest
    assert table.counts[:4].tolist() == [3, 2, 2, 1]


def test_whitespace_table_is_pythons():
    assert reader._SPACES.sum() == sum(1 for c in range(0x80, 0x10000) if chr(c).isspace())
    assert not any(chr(c).isspace() for c in range(0x10000, 0x110000, 7))
    assert set(PUNCTUATION[:32]) == {chr(b) for b in range(128) if reader._CLASSES[b] == scan.PUNCT}


# -- the Python reader's checks, through the fast reader --------------------------------------------------

@pytest.mark.parametrize("threads", [1, 2])
def test_truncated_archive_is_the_same_error(tmp_path, threads, caplog):
    data = gzip.compress(("\n".join(zipf_lines(4000)) + "\n").encode())
    path = write(tmp_path / "cut.gz", data[:len(data) // 2])
    with pytest.raises(CorpusError, match=r"cut.gz.*\(gzip\) is truncated.*allow_truncated"):
        prepare.Reading(Corpus(path), threads=threads).counts()
    with caplog.at_level(logging.WARNING, logger="w2v"):
        if threads == 1:
            assert_same([path], 1, allow_truncated=True)
        else:
            prepare.Reading(Corpus(path, allow_truncated=True), threads=threads).counts()
    assert "is truncated" in caplog.text and "allow_truncated" in caplog.text


def test_repairs_are_warned_once_per_file_with_the_total(tmp_path, caplog):
    lines = [b"alpha beta\x00gamma\r\n", b"beta \xff\xfe gamma\r", b"alpha \xc0\xaf beta\n"] * 500
    path = write(tmp_path / "junk.txt", b"".join(lines))
    c = Corpus(path, allow_binary=True)
    with caplog.at_level(logging.WARNING, logger="w2v"):
        prepare.Reading(c, threads=2).counts()
    assert caplog.text.count("junk.txt") == 1
    assert "500 NUL bytes read as spaces" in caplog.text and "2000 bytes of invalid UTF-8" in caplog.text
    assert (c.nul_bytes, c.decode_errors) == (500, 2000)


def test_a_file_changed_between_the_passes(tmp_path):
    path = write(tmp_path / "c.txt", "\n".join(zipf_lines(2000)).encode())
    c = Corpus(path)
    r = prepare.Reading(c, threads=2, max_vocab=20)  # pruning: pass 2 reads the text again
    vocab = select_vocab(r.counts(), min_count=1)
    with open(path, "a") as f:
        f.write("late words\n")
    with pytest.raises(CorpusError, match="changed during training"):
        r.encode(vocab)


def test_disk_full_while_writing_the_ids(tmp_path, monkeypatch):
    class Full:
        def write(self, data):
            raise OSError(28, "No space left on device")

        def close(self):
            pass

    monkeypatch.setattr(corpus_mod, "_cache_file", lambda directory: Full())
    path = write(tmp_path / "c.txt", "\n".join(zipf_lines(2000)).encode())
    with pytest.raises(CorpusError, match=f"disk full.*{tmp_path}"):
        prepare.Reading(Corpus(path), threads=2, directory=tmp_path).counts()


def test_memory_does_not_grow_with_the_corpus(tmp_path, monkeypatch):
    """Blocks, tables and buffers: a one-line file four times longer takes no more memory to read."""
    monkeypatch.setattr(corpus_mod, "BLOCK_SIZE", 1 << 16)
    peaks = []
    for n in (1, 4):
        path = write(tmp_path / f"l{n}.txt", b"abcd efgh ijkl " * (150_000 * n))  # one line, no newline
        tracemalloc.start()
        try:
            r = prepare.Reading(Corpus(path, max_sentence_length=1000), threads=2)
            enc = r.encode(select_vocab(r.counts(), min_count=1))
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert enc.n_tokens == 450_000 * n
        enc.close()
    assert peaks[1] < peaks[0] + (1 << 20), peaks  # not the 7 MB of ids the longer file adds


def test_threads_never_cut_a_compressed_file(tmp_path):
    """Each thread would inflate all of a compressed file before its part: the threads' shares keep every
    compressed file whole (a distributed rank's shares may still cut one)."""
    a = write(tmp_path / "a.gz", ("\n".join(zipf_lines(3000)) + "\n").encode(), "gzip")
    b = write(tmp_path / "b.txt", ("\n".join(zipf_lines(500, seed=4)) + "\n").encode())
    shares = reader.plan(Corpus([a, b]), 3)
    pieces = [p for s in shares for p in s.pieces if p.path == a]
    assert len(pieces) == 1 and pieces[0].start == 0 and pieces[0].end is None
    assert len(reader.plan(Corpus(a), 2)) == 1
    assert any(p.start > 0 for s in Corpus(a).shares(2) for p in s.pieces)  # the ranks' plan cuts it
    assert_same([a, b], 3, min_count=2)
