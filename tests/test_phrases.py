"""Phrases (w2v.phrases): each kernel against a plain Python reference, the scores by hand, equality with
gensim's Phrases, connector words, passes, the phrase file, the command line, bounded memory, and the
benchmark corpus."""

from __future__ import annotations

import gzip
import lzma
import json
import logging
import math
import os
import random
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import w2v
from w2v import cli
from w2v import phrase_counting as C, phrase_kernels as K, phrases as P
from w2v.errors import ConfigError, CorpusError, ModelFileError, ModelFileNotFoundError, OutputConflictError, OutputError
from w2v.phrases import Phrases, PhraseSettings

ENWIKI = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "enwiki-100m.txt.gz"


# -- data ----------------------------------------------------------------------------------------------------
PLANTED = (("new", "york"), ("united", "states"), ("los", "angeles"), ("bank", "of", "america"),
           ("new", "york", "city", "hall"), ("eye", "of", "the", "beholder"))


def synthetic(seed: int = 0, n: int = 3000) -> list[list[str]]:
    """Zipf-distributed filler words, some connectors, and planted collocations of 2 to 4 words."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(400)]
    weights = [1 / (i + 1) for i in range(400)]
    out = []
    for _ in range(n):
        s = rng.choices(words, weights, k=rng.randint(2, 14))
        for c in ("the", "of", "and", "in"):
            if rng.random() < 0.3:
                s.insert(rng.randrange(len(s) + 1), c)
        if rng.random() < 0.5:
            pos = rng.randrange(len(s) + 1)
            s[pos:pos] = rng.choice(PLANTED)
        out.append(s)
    return out


def write_text(path: Path, sentences) -> str:
    path.write_text("".join(" ".join(s) + "\n" for s in sentences), encoding="utf-8")
    return str(path)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of ~50 tokens and merges every ~100 candidates, so that a small corpus takes every path."""
    monkeypatch.setattr(C, "BLOCK_TOKENS", 50)
    monkeypatch.setattr(C, "MERGE_KEYS", 100)


def gensim_default_scorer_n(worda_count, wordb_count, bigram_count, len_vocab, min_count, corpus_word_count):
    """gensim's original_scorer with N (the tokens) instead of its vocabulary size: the C tool's score."""
    return (bigram_count - min_count) / (worda_count * wordb_count) * corpus_word_count


# -- plain references ----------------------------------------------------------------------------------------
def ref_candidates(sentences, n_conn, max_run):
    """gensim's _learn_vocab over unit ids: Counter of (a, connector run, b)."""
    out: Counter = Counter()
    for sent in sentences:
        start, run = None, []
        for u in sent:
            if 0 <= u < n_conn:
                if start is not None:
                    run.append(u)
            elif u < 0:
                start, run = None, []
            else:
                if start is not None and len(run) <= max_run:
                    out[(start, tuple(run), u)] += 1
                start, run = u, []
    return out


def ref_apply(sent, phrases, n_conn, max_run):
    """gensim's analyze_sentence over unit ids: (units after joining, indices joined to the unit before)."""
    out, joined = [], set()
    start, run = None, []
    for i, u in enumerate(sent):
        if 0 <= u < n_conn:
            if start is not None:
                run.append(i)
            else:
                out.append(u)
            continue
        if start is not None:
            key = (sent[start], tuple(sent[j] for j in run), u)
            if u >= 0 and sent[start] >= 0 and len(run) <= max_run and key in phrases:
                out.append(phrases[key])
                joined.update(range(start + 1, i + 1))
                start, run = None, []
                continue
            out.append(sent[start])
            out.extend(sent[j] for j in run)
        start, run = i, []
    if start is not None:
        out.append(sent[start])
        out.extend(sent[j] for j in run)
    return out, joined


def random_units(rng, n_sent, n_units, n_conn, p_unknown=0.05):
    sents = []
    for _ in range(n_sent):
        s = []
        for _ in range(rng.integers(0, 12)):
            r = rng.random()
            s.append(-1 if r < p_unknown else int(rng.integers(0, n_conn)) if r < 0.35 and n_conn
                     else int(rng.integers(n_conn, n_units)))
        sents.append(s)
    units = np.array([u for s in sents for u in s], dtype=np.int32)
    ends = np.cumsum([len(s) for s in sents]).astype(np.int64)
    return sents, units, ends


# -- kernels against the references ---------------------------------------------------------------------------
def test_scan_tokens_matches_str_split_and_a_dict():
    rng = random.Random(3)
    alphabet = ["a", "b", "é", "日本", "x_y", "z"]
    sentences = [[("".join(rng.choices(alphabet, k=rng.randint(1, 4)))) for _ in range(rng.randint(1, 9))]
                 for _ in range(300)]
    n = sum(map(len, sentences))
    block = C._block_of([" ".join(s) for s in sentences], n)
    table = C._WordTable((), capacity=16)  # tiny: the kernel stops for room many times
    ids, ends = table.scan(block, insert=True)
    flat = [t for s in sentences for t in s]
    first: dict[str, int] = {}
    assert ids.tolist() == [first.setdefault(t, len(first)) for t in flat]
    assert ends.tolist() == np.cumsum([len(s) for s in sentences]).tolist()
    assert [table.word(i) for i in range(len(table))] == list(first)
    # lookup only: known words keep their ids, unknown ones are -1, nothing is added
    other = C._block_of(["a zz b", "日本 q"], 5)
    ids2, _ = table.scan(other, insert=False)
    assert ids2.tolist() == [first.get(t, -1) for t in "a zz b 日本 q".split()]
    assert len(table) == len(first)


@pytest.mark.parametrize("lines, n", [(["a  b"], 2), (["a b"], 3), (["a b c"], 2), ([""], 1)])
def test_scan_tokens_refuses_a_block_that_does_not_hold_n_tokens(lines, n):
    with pytest.raises(CorpusError, match="empty or holds whitespace"):
        C._WordTable().scan(C._block_of(lines, n, check=False), insert=True)


def test_compact_words_keeps_order_and_lookups():
    words = [f"w{i}" for i in range(50)]
    table = C._WordTable(words, capacity=16)
    keep = np.array([i % 3 != 0 for i in range(50)])
    new_id = table.compact(keep)
    kept = [w for w, k in zip(words, keep) if k]
    assert new_id.tolist() == [kept.index(w) if k else -1 for w, k in zip(words, keep)]
    assert table.encode_strings(words).tolist() == new_id.tolist()
    assert table.encode_strings(["new"], insert=True).tolist() == [len(kept)]


@pytest.mark.parametrize("n_conn", [0, 3])
def test_count_block_matches_the_reference(n_conn):
    rng = np.random.default_rng(n_conn)
    conn = C._conn(n_conn)
    sents, units, ends = random_units(rng, 400, 30, n_conn)
    keys, codes = np.full(len(units) + 5, -7, np.int64), np.full(len(units) + 5 if n_conn else 0, -7, np.int64)
    unit_counts = np.full(40, 2, np.int64)  # room beyond the 30 units; counts add to what is there
    m = K.count_block(units, ends, conn, unit_counts, keys, codes, 5)  # after 5 entries already there
    assert (keys[:5] == -7).all() and (codes[:5] == -7).all()
    assert (unit_counts - 2).tolist() == np.bincount(units[units >= 0], minlength=40).tolist()
    keys, codes = keys[5:m], codes[5:m]
    got = Counter()
    for k, c in zip(keys.tolist(), codes.tolist() if n_conn else [0] * len(keys)):
        got[(k >> 32, tuple(C._decode_code(c, conn[1])), k & 0xFFFFFFFF)] += 1
    assert got == ref_candidates(sents, n_conn, conn[2])


def test_count_block_skips_a_run_longer_than_max_run():
    conn = (1, 1, 2)  # one connector, runs of at most 2
    units = np.array([5, 0, 0, 6, 5, 0, 0, 0, 6], dtype=np.int32)
    keys, codes = np.empty(9, np.int64), np.empty(9, np.int64)
    m = K.count_block(units, np.array([4, 9]), conn, np.zeros(7, np.int64), keys, codes, 0)
    assert [(k >> 32, c, k & 0xFFFFFFFF) for k, c in zip(keys[:m].tolist(), codes[:m].tolist())] == [(5, 0b11, 6)]


@pytest.mark.parametrize("with_codes", [False, True])
def test_count_sorted_and_merge_counts_match_a_counter(with_codes):
    rng = np.random.default_rng(1)
    tables, expected = [], Counter()
    for _ in range(4):
        keys = rng.integers(0, 40, 300).astype(np.int64) << 32 | rng.integers(0, 5, 300)
        codes = rng.integers(0, 3, 300).astype(np.int64) if with_codes else np.empty(0, np.int64)
        expected.update(zip(keys.tolist(), codes.tolist() if with_codes else [0] * 300))
        order = np.lexsort((codes, keys)) if with_codes else np.argsort(keys, kind="stable")
        k, c, n = keys[order], codes[order] if with_codes else codes, np.empty(300, np.int64)
        m = K.count_sorted(k, c, n)  # in place
        k, c, n = k[:m], c[:m], n[:m]
        assert Counter(dict(zip(zip(k.tolist(), c.tolist() if with_codes else [0] * len(k)), n.tolist()))) \
            == Counter(zip(keys.tolist(), codes.tolist() if with_codes else [0] * 300))
        tables.append((k, c, n))
    room = sum(len(t[0]) for t in tables)
    merged = (np.empty(room, np.int64), np.empty(room if with_codes else 0, np.int64), np.empty(room, np.int64))
    size = 0
    for t in tables:
        size = K.merge_counts(merged, size, t)
    merged = (merged[0][:size], merged[1][:size], merged[2][:size])
    pairs = list(zip(merged[0].tolist(), merged[1].tolist() if with_codes else [0] * len(merged[0])))
    assert pairs == sorted(pairs) and len(set(pairs)) == len(pairs)  # sorted, distinct
    assert dict(zip(pairs, merged[2].tolist())) == dict(expected)


@pytest.mark.parametrize("n_conn", [0, 3])
def test_apply_pass_matches_the_reference(n_conn):
    rng = np.random.default_rng(10 + n_conn)
    conn = C._conn(n_conn)
    n_units = 12
    sents, units, ends = random_units(rng, 500, n_units, n_conn)
    candidates = sorted(ref_candidates(sents, n_conn, conn[2]))
    chosen = [candidates[i] for i in rng.choice(len(candidates), len(candidates) // 3, replace=False)]
    phrases = {key: n_units + i for i, key in enumerate(chosen)}
    table = C._pair_table(np.array([(a << 32) | b for a, _, b in chosen], np.int64),
                          np.array([C._code(run, conn[1]) for _, run, _ in chosen], np.int64),
                          np.array(list(phrases.values()), np.int32), n_units)
    joined = np.zeros(len(units) + 1, np.bool_)
    out, out_tok, out_ends = K.apply_pass(units, np.arange(len(units), dtype=np.int64), ends, table, conn, joined,
                                          True)
    expected, expected_joined, offset, lengths = [], set(), 0, []
    for s in sents:
        e, j = ref_apply(s, phrases, n_conn, conn[2])
        expected += e
        expected_joined |= {offset + i for i in j}
        lengths.append(len(e))
        offset += len(s)
    assert out.tolist() == expected
    assert set(np.flatnonzero(joined).tolist()) == expected_joined
    assert out_ends.tolist() == np.cumsum(lengths).tolist()
    assert np.all(np.diff(out_tok) > 0)  # each unit starts at its first token
    only = np.zeros(len(units) + 1, np.bool_)  # without the units: the same joins
    assert [len(a) for a in K.apply_pass(units, np.arange(len(units), dtype=np.int64), ends, table, conn, only,
                                         False)] == [0, 0, 0]
    assert (only == joined).all()


def test_patch_separators_turns_only_the_joined_spaces():
    block = C._block_of(["a b c", "d e"], 5)
    K.patch_separators(block.buf, np.array([0, 1, 0, 1, 1, 0], np.bool_))
    assert block.buf.tobytes() == b"a_b c\nd_e\n"


# -- scores ------------------------------------------------------------------------------------------------------
def test_scores_by_hand():
    # count(a) = 10, count(b) = 8, count(ab) = 6, N = 100, min_count 5
    assert K.score_pairs([10], [8], [6], 100, 5, "default")[0] == pytest.approx((6 - 5) / (10 * 8) * 100)
    npmi = math.log(0.06 / (0.1 * 0.08)) / -math.log(0.06)
    assert K.score_pairs([10], [8], [6], 100, 5, "npmi")[0] == pytest.approx(npmi, rel=1e-12)
    # under min_count anywhere: -inf
    assert K.score_pairs([4, 10, 10], [8, 4, 8], [4, 4, 4], 100, 5, "default").tolist() == [-math.inf] * 3


def test_learned_scores_by_hand():
    # N = 40 tokens; count(x) = count(y) = count(x y) = count(y z) = count(z z) = 8; count(z) = 18;
    # q r s and their pairs 2 each.  Scores (min_count 2): x_y 6/64*40 = 3.75, y_z 6/144*40 = 1.67,
    # z_z 6/324*40 = 0.74, z_q = q_r = r_s = 0: above threshold 1, x_y and y_z.
    sentences = [["x", "y", "z", "z"]] * 8 + [["z", "q", "r", "s"]] * 2
    ph = Phrases(min_count=2, threshold=1).learn(sentences)
    assert ph.phrases == pytest.approx({"x_y": 3.75, "y_z": 240 / 144})
    assert ph.stats["passes"][0]["tokens"] == 40
    ph = Phrases(min_count=2, threshold=0.1, scoring="npmi").learn(sentences)
    npmi = math.log((8 / 40) / ((8 / 40) * (8 / 40))) / -math.log(8 / 40)
    assert ph.phrases["x_y"] == pytest.approx(npmi) and npmi == pytest.approx(1.0)


# -- equality with gensim ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scoring, threshold, connectors", [("default", 1.0, None), ("npmi", 0.1, None),
                                                            ("default", 1.0, "english")])
def test_same_phrases_scores_and_joins_as_gensim(scoring, threshold, connectors):
    gensim_phrases = pytest.importorskip("gensim.models.phrases")
    sentences = synthetic()
    ours = Phrases(min_count=5, threshold=threshold, scoring=scoring, connectors=connectors).learn(sentences)
    theirs = gensim_phrases.Phrases(
        sentences, min_count=5, threshold=threshold,
        scoring=gensim_default_scorer_n if scoring == "default" else "npmi",
        connector_words=gensim_phrases.ENGLISH_CONNECTOR_WORDS if connectors else frozenset()).freeze()
    assert len(ours) > 10
    assert set(ours.phrases) == set(theirs.phrasegrams)
    for phrase, score in theirs.phrasegrams.items():
        assert ours.phrases[phrase] == pytest.approx(score, rel=1e-12)
    assert list(ours.apply(sentences)) == [theirs[s] for s in sentences]


# -- connectors and passes -----------------------------------------------------------------------------------------
def test_connectors_let_bank_of_america_form():
    sentences = synthetic(1)
    plain = Phrases(min_count=5, threshold=20).learn(sentences)
    ph = Phrases(min_count=5, threshold=20, connectors="english").learn(sentences)
    assert "bank_of_america" in ph.phrases and "bank_of_america" not in plain.phrases
    assert "eye_of_the_beholder" in ph.phrases
    assert ph[["my", "bank", "of", "america", "account"]] == ["my", "bank_of_america", "account"]
    assert ph[["of", "the", "bank"]] == ["of", "the", "bank"]
    english = set(P.ENGLISH_CONNECTORS)
    assert all(e.parts[0] not in english and e.parts[-1] not in english for e in ph.entries)


def test_connectors_from_a_file_and_bad_ones(tmp_path):
    f = tmp_path / "conn.txt"
    f.write_text("# connector words\nof the\nand\n")
    assert P.read_connectors(str(f)) == ("and", "of", "the")
    assert Phrases(connectors=["of", "of"]).settings.connectors == ("of",)
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(CorpusError, match="holds no word"):
        Phrases(connectors=str(tmp_path / "empty.txt"))
    with pytest.raises(CorpusError, match="connector file not found"):
        Phrases(connectors=str(tmp_path / "missing.txt"))
    with pytest.raises(ConfigError, match="'max_vocab' must exceed"):
        Phrases(connectors="english", max_vocab=10)


def test_two_passes_make_phrases_of_three_and_four_words():
    sentences = synthetic(2)
    ph = Phrases(min_count=5, threshold=10, passes=2).learn(sentences)
    second = {e.phrase: e.parts for e in ph.entries if e.pass_number == 2}
    assert second["new_york_city_hall"] == ("new_york", "city_hall")  # four words
    assert second["bank_of_america"] == ("bank_of", "america")  # three
    assert ph[["at", "new", "york", "city", "hall", "today"]] == ["at", "new_york_city_hall", "today"]
    one = Phrases(min_count=5, threshold=10).learn(sentences)
    assert [e for e in ph.entries if e.pass_number == 1] == one.entries
    # with connectors, a pass-2 phrase may join two phrases across connectors
    ph = Phrases(min_count=5, threshold=10, passes=2, connectors="english").learn(sentences)
    assert ph[["new", "york", "city", "hall"]] == ["new_york_city_hall"]


def test_a_phrase_and_the_same_token_in_the_text_are_one_unit():
    # "a_b" in the text and "a b" joined by pass 1 are one unit in pass 2, as in both peers (strings):
    # pass 2 sees N = 70 - 26 joins = 44 tokens, count(a_b) = 12, count(c) = 6, count(a_b c) = 6
    sentences = [["a", "b", "c"]] * 6 + [["a_b", f"u{i}"] for i in range(6)] + [["x", "y"]] * 20
    ph = Phrases(min_count=3, threshold=1, passes=2).learn(sentences)
    assert ph.stats["passes"][1]["tokens"] == 44
    second = [e for e in ph.entries if e.pass_number == 2]
    assert [e.phrase for e in second] == ["a_b_c"] and second[0].score == pytest.approx(3 / 72 * 44)


# -- learning and writing --------------------------------------------------------------------------------------------
def test_learn_with_output_equals_learn_then_write(tmp_path, small_blocks):
    corpus = write_text(tmp_path / "c.txt", synthetic(4, 800))
    ph = Phrases(min_count=5, threshold=10, passes=2, connectors="english")
    ph.learn(corpus, output=tmp_path / "a.txt.gz")
    again = Phrases(min_count=5, threshold=10, passes=2, connectors="english").learn(corpus)
    assert again.entries == ph.entries
    again.write(corpus, tmp_path / "b.txt")
    text = (tmp_path / "b.txt").read_text()
    assert gzip.decompress((tmp_path / "a.txt.gz").read_bytes()).decode() == text
    again.write(corpus, tmp_path / "c.txt.xz")  # compressed as the name says
    assert lzma.decompress((tmp_path / "c.txt.xz").read_bytes()).decode() == text
    expected = [" ".join(s) for s in ph.apply(line.split() for line in Path(corpus).read_text().splitlines())]
    assert text.splitlines() == expected
    assert ph.stats["joins"] == len(Path(corpus).read_text().split()) - len(text.split())


def test_blocks_and_merges_do_not_change_the_result(tmp_path, monkeypatch):
    sentences = synthetic(5, 600)
    whole = Phrases(min_count=5, threshold=10, passes=2, connectors="english").learn(sentences)
    monkeypatch.setattr(C, "BLOCK_TOKENS", 7)
    monkeypatch.setattr(C, "MERGE_KEYS", 3)
    assert Phrases(min_count=5, threshold=10, passes=2, connectors="english").learn(sentences).entries \
        == whole.entries


def test_reads_text_as_train_does(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("New York, said the NEW YORK man.\n" * 6)
    (tmp_path / "d" / ".hidden").write_text("ignored ignored\n" * 50)
    # N = 42; new york: (12 - 5) / 144 * 42 = 2.04; said the: (6 - 5) / 36 * 42 = 1.17
    ph = Phrases(min_count=5, threshold=1.5, lowercase=True, normalize=True).learn(str(tmp_path / "d"),
                                                                                  output=tmp_path / "out.txt")
    assert "new_york" in ph.phrases and "ignored_ignored" not in ph.phrases
    assert (tmp_path / "out.txt").read_text().splitlines()[0].startswith("new_york said the new_york man")


def test_max_sentence_length_cuts_lines_as_train_does(tmp_path):
    corpus = write_text(tmp_path / "c.txt", [["a", "b"] * 10])
    ph = Phrases(min_count=1, threshold=0.01, max_sentence_length=3).learn(corpus, output=tmp_path / "o.txt")
    lines = (tmp_path / "o.txt").read_text().splitlines()
    assert len(lines) == 7 and lines[0] == "a_b a" and ph.stats["passes"][0]["tokens"] == 20


def test_bounded_memory_prunes_and_says_so(small_blocks, caplog):
    sentences = synthetic(6, 1500)
    full = Phrases(min_count=5, threshold=10).learn(sentences)
    with caplog.at_level(logging.WARNING, logger="w2v"):
        ph = Phrases(min_count=5, threshold=10, max_vocab=500).learn(sentences)
    st = ph.stats["passes"][0]
    assert st["pruned_words"] > 0 and st["pruned_pairs"] > 0 and st["min_reduce"] >= 1
    assert st["units"] + st["pairs"] <= 500 < full.stats["passes"][0]["units"] + full.stats["passes"][0]["pairs"]
    assert "max_vocab=500" in caplog.text and f"{st['pruned_pairs']} candidate pairs" in caplog.text
    assert set(ph.phrases) == set(full.phrases)  # the frequent pairs survive the pruning
    assert ph[["new", "york"]] == ["new_york"]


def test_a_corpus_in_brackets_is_phrased_lazily_and_trains(tmp_path):
    sentences = [["i", "love", "new", "york"], ["new", "york", "is", "big"]] * 50
    ph = Phrases(min_count=2, threshold=0.1).learn(sentences)
    phrased = ph[sentences]  # gensim's bigram[sentences]
    assert list(phrased) == list(ph.apply(sentences)) == list(phrased)  # re-iterable
    assert ph[[]] == [] and ph[("new", "york")] == ["new_york"]
    from w2v import Word2Vec
    model = Word2Vec(min_count=1, sample=0, dim=4, threads=1).train(phrased, progress=False)
    assert "new_york" in model.wv
    with pytest.raises(CorpusError, match="one-shot iterator: use ph.apply"):
        ph[iter(sentences)]


# -- the phrase file -------------------------------------------------------------------------------------------------
def test_phrase_file_round_trip(tmp_path):
    ph = Phrases(min_count=5, threshold=10, passes=2, connectors="english", lowercase=True).learn(synthetic(7))
    path = tmp_path / "p.tsv"
    ph.save(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    magic, version, header = lines[0].split("\t")
    assert (magic, version) == ("#w2v-phrases", "1") and lines[1] == "phrase\tscore\tpass\tparts"
    assert json.loads(header)["settings"]["connectors"] == list(P.ENGLISH_CONNECTORS)
    assert "bank_of_america\t" in path.read_text()
    back = Phrases.load(path)
    assert back.entries == ph.entries and back.settings == ph.settings and back.stats == ph.stats
    sentences = synthetic(8, 200)
    assert list(back.apply(sentences)) == list(ph.apply(sentences))


def test_phrase_files_compressed_as_named_and_as_editors_save_them(tmp_path):
    ph = Phrases(min_count=5, threshold=10, connectors="english").learn(synthetic(7))
    for name, magic in (("p.tsv.gz", b"\x1f\x8b"), ("p.tsv.bz2", b"BZh"), ("p.tsv.xz", b"\xfd7zXZ")):
        ph.save(tmp_path / name)
        assert (tmp_path / name).read_bytes().startswith(magic)
        assert Phrases.load(tmp_path / name).entries == ph.entries
    ph.save(tmp_path / "p.tsv")
    edited = b"\xef\xbb\xbf" + (tmp_path / "p.tsv").read_bytes().replace(b"\n", b"\r\n") + b"\r\n\n"
    (tmp_path / "e.tsv").write_bytes(edited)  # a BOM, CRLF and blank lines at the end, as editors leave them
    assert Phrases.load(tmp_path / "e.tsv").entries == ph.entries


def test_the_connector_file_is_an_input(tmp_path, capsys):
    corpus = write_text(tmp_path / "c.txt", synthetic(4, 300))
    (tmp_path / "conn.txt").write_text("of the\n")
    conn, out = str(tmp_path / "conn.txt"), str(tmp_path / "out.txt")
    for argv in (["phrases", corpus, "-o", conn, "--connectors", conn],
                 ["phrases", corpus, "-o", out, "--save-phrases", conn, "--connectors", conn]):
        assert cli.main(argv) == 2
        assert "is the connector file (--connectors)" in capsys.readouterr().err
    assert (tmp_path / "conn.txt").read_text() == "of the\n"


def _table_with(tmp_path, edit) -> Path:
    ph = Phrases(min_count=5, threshold=20, connectors="english").learn(synthetic(9, 1000))
    path = tmp_path / "p.tsv"
    ph.save(path)
    lines = path.read_text().split("\n")
    path.write_bytes(edit(lines))
    return path


def _row(lines, i, fields):
    lines[i] = "\t".join(fields)
    return "\n".join(lines).encode()


@pytest.mark.parametrize("edit, message", [
    (lambda lines: b"phrase\tscore\n", "not a w2v phrase file"),
    (lambda lines: "\n".join(["#w2v-phrases\t2\t{}"] + lines[1:]).encode(), "newer w2v"),
    (lambda lines: "\n".join(["#w2v-phrases\t1\t{oops"] + lines[1:]).encode(), "line 1: the JSON header"),
    (lambda lines: "\n".join([lines[0].replace('"min_count": 5', '"min_count": 0')] + lines[1:]).encode(),
     "line 1: the JSON header"),
    (lambda lines: "\n".join(lines[:1] + ["phrase\tscore"] + lines[2:]).encode(), "line 2"),
    (lambda lines: _row(lines, 2, ["new_york", "1.0", "1"]), "line 3: expected 4"),
    (lambda lines: _row(lines, 3, ["new_york", "x", "1", "new york"]), "line 4: the score 'x'"),
    (lambda lines: _row(lines, 2, ["new_york", "nan", "1", "new york"]), "not finite"),
    (lambda lines: _row(lines, 2, ["new_york", "1.0", "2", "new york"]), "the pass 2 is not in"),
    (lambda lines: _row(lines, 2, ["new_york", "1.0", "1", "new  york"]), "not two or more tokens"),
    (lambda lines: _row(lines, 2, ["new_yorks", "1.0", "1", "new york"]), "not its parts"),
    (lambda lines: _row(lines, 2, ["new_of", "1.0", "1", "new of"]), "non-connector"),
    (lambda lines: "\n".join(lines[:3] + lines[2:]).encode(), "line 4: the phrase .* is there twice"),
    (lambda lines: "\n".join(lines[:3] + [""] + lines[3:]).encode(), "line 4: an empty line"),
    (lambda lines: b"#w2v-phrases\t1\t\xff\n", "not UTF-8"),
])
def test_malformed_phrase_files_are_refused(tmp_path, edit, message):
    path = _table_with(tmp_path, edit)
    with pytest.raises(ModelFileError, match=message):
        Phrases.load(path)


def test_missing_phrase_file(tmp_path):
    with pytest.raises(ModelFileNotFoundError, match="phrase file not found"):
        Phrases.load(tmp_path / "nope.tsv")


# -- the Python API's checks -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, message", [
    ({"min_count": 0}, r"'min_count' must be an int in \[1, inf\)"),
    ({"threshold": 0}, r"'threshold' must be a number in \(0, inf\) for the default score"),
    ({"threshold": -2, "scoring": "npmi"}, r"'threshold' must be a number in \[-1, 1\] for the npmi score"),
    ({"threshold": float("nan")}, "'threshold' must be a finite number"),
    ({"scoring": "pmi"}, "'scoring' must be one of default, npmi"),
    ({"passes": 11}, r"'passes' must be an int in \[1, 10\]"),
    ({"max_vocab": 0}, r"'max_vocab' must be an int in \[1, inf\) or None"),
    ({"vector_size": 3}, "unknown setting"),
    ({"lowercase": "yes"}, "'lowercase' must be True or False"),
])
def test_bad_settings(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        Phrases(**kwargs)


def test_api_misuse_is_explained():
    with pytest.raises(P.NotLearnedError, match="learned nothing yet"):
        Phrases()[["a", "b"]]
    ph = Phrases(min_count=1, threshold=0.1).learn([["a", "b"]] * 3)
    with pytest.raises(CorpusError, match="not a string"):
        ph["a b"]
    with pytest.raises(CorpusError, match="holds whitespace"):
        ph[["a\tb", "c"]]
    with pytest.raises(CorpusError, match="empty or holds whitespace"):
        ph[["a", "", "b"]]
    with pytest.raises(CorpusError, match="corpus is empty"):
        Phrases().learn([[], []])
    with pytest.raises(ConfigError, match="either a PhraseSettings or keyword settings"):
        Phrases(PhraseSettings(), min_count=3)
    assert list(ph.apply([[], ["a", "b"], []])) == [[], ["a_b"], []]
    assert w2v.Phrases is Phrases and "nothing learned" in repr(Phrases())


class _Failing:
    """A re-iterable corpus that fails after ``after`` sentences."""

    def __init__(self, after: int, error: Exception) -> None:
        self.after, self.error = after, error

    def __iter__(self):
        for i, s in enumerate(synthetic(3, 10_000)):
            if i == self.after:
                raise self.error
            yield s


@pytest.mark.parametrize("corpus, error", [
    (_Failing(500, OSError("disk gone")), OSError),
    ([["a", "b"]] * 200 + [["a", "\t"]] + [["a", "b"]] * 5000, CorpusError),    # found joining the block
    ([["a", "b"]] * 200 + [["a", "", "b"]] + [["a", "b"]] * 5000, CorpusError),  # found scanning it
])
def test_an_error_while_reading_writes_nothing(small_blocks, corpus, error, tmp_path):
    with pytest.raises(error):
        Phrases(min_count=2, threshold=1).learn(corpus, output=tmp_path / "o.txt")
    assert os.listdir(tmp_path) == []  # no output, no temporary file left


def test_output_may_not_be_the_input(tmp_path):
    corpus = write_text(tmp_path / "c.txt", synthetic(1, 100))
    with pytest.raises(OutputConflictError):
        Phrases().learn(corpus, output=corpus)


# -- the command line ------------------------------------------------------------------------------------------------
def run_cli(args, capsys):
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_learn_save_and_apply(tmp_path, capsys):
    corpus = write_text(tmp_path / "c.txt", synthetic(11, 1500))
    code, out, err = run_cli(["phrases", corpus, "-o", tmp_path / "o.txt.gz", "--min-count", 5, "--threshold", 10,
                              "--passes", 2, "--connectors", "english", "--save-phrases", tmp_path / "p.tsv"], capsys)
    assert code == 0, err
    assert "phrases:" in out and "pass 2:" in out and "phrase table:" in out
    learned = Phrases.load(tmp_path / "p.tsv")
    assert learned.settings.passes == 2 and "new_york_city_hall" in learned.phrases
    other = write_text(tmp_path / "other.txt", [["at", "new", "york", "city", "hall"], ["bank", "of", "america"]])
    code, out, err = run_cli(["phrases", "--apply", tmp_path / "p.tsv", other, "-o", tmp_path / "o2.txt", "-q"],
                             capsys)
    assert code == 0 and out == "", err
    assert (tmp_path / "o2.txt").read_text() == "at new_york_city_hall\nbank_of_america\n"
    text = gzip.decompress((tmp_path / "o.txt.gz").read_bytes()).decode()
    assert text.splitlines() == [" ".join(s) for s in learned.apply(synthetic(11, 1500))]


def test_cli_text_and_table_appear_together_or_neither(tmp_path, capsys, monkeypatch):
    corpus = write_text(tmp_path / "c.txt", synthetic(11, 1500))

    def no_room(self, path):  # as atomic_write says it
        raise OutputError.wrap(OSError(28, "No space left on device"), str(path))
    monkeypatch.setattr(Phrases, "save", no_room)
    code, out, err = run_cli(["phrases", corpus, "-o", tmp_path / "o.txt.gz", "--save-phrases", tmp_path / "p.tsv"],
                             capsys)
    assert code == 2 and "No space left on device" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.txt"]  # no text without its table, no temporaries


@pytest.mark.parametrize("args, message", [
    (["missing.txt", "-o", "o.txt"], "corpus file not found: 'missing.txt'"),
    (["empty.txt", "-o", "o.txt"], "corpus is empty"),
    (["c.txt", "-o", "o.txt", "--threshold", "0"], r"--threshold must be a number in \(0, inf\)"),
    (["c.txt", "-o", "o.txt", "--scoring", "npmi", "--threshold", "1.5"], r"--threshold must be a number in \[-1, 1\]"),
    (["c.txt", "-o", "o.txt", "--passes", "0"], "--passes: must be at least 1"),
    (["c.txt", "-o", "c.txt"], "-o/--output 'c.txt' is the corpus file 'c.txt'"),
    (["c.txt", "-o", "o.txt", "--save-phrases", "c.txt"], "--save-phrases 'c.txt' is the corpus file"),
    (["c.txt", "-o", "o.txt", "--save-phrases", "o.txt"], "are the same file"),
    (["c.txt", "-o", "o.txt", "--connectors", "nope.txt"], "connector file not found"),
    (["--apply", "bad.tsv", "c.txt", "-o", "o.txt"], "bad.tsv: not a w2v phrase file"),
    (["--apply", "nope.tsv", "c.txt", "-o", "o.txt"], "phrase file not found: 'nope.tsv'"),
    (["--apply", "p.tsv", "c.txt", "-o", "p.tsv"], r"is the phrase file \(--apply\)"),
    (["--apply", "p.tsv", "p.tsv", "-o", "o.txt"], r"'p.tsv' is the phrase file \(--apply\), given as text to phrase"),
    (["--apply", "p.tsv", "c.txt", "-o", "o.txt", "--min-count", "3"], "--min-count: cannot be used with --apply"),
    (["c.txt", "-o", "nodir/o.txt"], "does not exist"),
])
def test_cli_errors(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    write_text(tmp_path / "c.txt", synthetic(12, 300))
    (tmp_path / "empty.txt").write_text("\n \n")
    (tmp_path / "bad.tsv").write_text("phrase\tscore\nnew_york\t1\n")
    Phrases(min_count=5, threshold=10).learn("c.txt").save("p.tsv")
    code, out, err = run_cli(["phrases", *args], capsys)
    assert code == 2 and out == ""
    assert err.startswith("w2v: error: ") and err.count("\n") == 1, err
    assert re.search(message, err), err
    assert not (tmp_path / "o.txt").exists()


def test_cli_help_shows_the_settings_defaults():
    res = subprocess.run([sys.executable, "-m", "w2v", "phrases", "--help"], capture_output=True, text=True)
    assert res.returncode == 0
    text = " ".join(res.stdout.split())
    for default in ("(default: 5)", "(default: 1)", "(default: default)", "(default: 40000000)",
                    "(default: 100 for the default score", "(default: 10000)"):
        assert default in text


# -- the benchmark corpus ----------------------------------------------------------------------------------------------
def enwiki_slice(path: Path, tokens: int) -> None:
    """The first ``tokens`` tokens of the one-line benchmark corpus, 1,000 a line (as benchmarks/ cut it)."""
    with gzip.open(ENWIKI, "rt", encoding="utf-8") as f:
        words = f.read(tokens * 9).split()[:tokens]
    with open(path, "w", encoding="utf-8") as out:
        for i in range(0, len(words), 1000):
            out.write(" ".join(words[i:i + 1000]) + "\n")


@pytest.mark.skipif(not ENWIKI.is_file(), reason=f"benchmark corpus not found: {ENWIKI} (../shared/data)")
def test_benchmark_corpus_joins_new_york_united_states_los_angeles(tmp_path):
    corpus = tmp_path / "enwiki.txt"
    enwiki_slice(corpus, 2_000_000)
    ph = Phrases(min_count=5, threshold=100).learn(corpus, output=tmp_path / "out.txt")
    assert {"new_york", "united_states", "los_angeles"} <= set(ph.phrases)
    text = (tmp_path / "out.txt").read_text()
    for phrase in ("new_york", "united_states", "los_angeles"):
        assert f" {phrase} " in text
    assert " new york " not in text and " los angeles " not in text


def test_a_corpus_given_brings_its_reading_settings(tmp_path):
    from w2v.corpus import Corpus

    corpus = write_text(tmp_path / "c.txt", [["New", "York,"]] * 8)
    ph = Phrases(min_count=5, threshold=0.1).learn(Corpus(corpus, lowercase=True, normalize=True))
    assert ph.settings.lowercase and ph.settings.normalize and "new_york" in ph.phrases
