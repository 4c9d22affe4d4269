"""Evaluation: analogy accuracy and word-pair correlation agree with gensim; speed of the full Google set."""

from __future__ import annotations

import json
import time
from importlib import resources

import numpy as np
import pytest

from w2v.evaluate import _average_ranks, evaluate_analogies, evaluate_word_pairs, format_report
from w2v.vectors import KeyedVectors

QUESTIONS = resources.files("w2v").joinpath("data", "questions-words.txt").read_text(encoding="utf-8")
PAIRS = resources.files("w2v").joinpath("data", "wordsim353.tsv").read_text(encoding="utf-8")


def _sections(text=QUESTIONS):
    out = []
    for line in text.splitlines():
        if line.startswith(":"):
            out.append((line[1:].strip(), []))
        elif line.strip():
            out[-1][1].append(line.split())
    return out


def _subset(tmp_path, every=8):
    """Every ``every``-th question of each section, as a file (keeps gensim's per-question loop short)."""
    lines = []
    for name, qs in _sections():
        lines.append(f": {name}")
        lines += [" ".join(q) for q in qs[::every]]
    path = tmp_path / "questions.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _structured(case=str, extra=300, d=48, seed=0, variants=False):
    """Vectors in which many analogies hold: b = a + (section offset) + noise, in a shuffled vocabulary."""
    rng = np.random.default_rng(seed)
    vec: dict[str, np.ndarray] = {}
    for _, qs in _sections():
        offset = rng.standard_normal(d)
        for q in qs:
            for x, y in ((case(q[0]), case(q[1])), (case(q[2]), case(q[3]))):
                if x not in vec:
                    vec[x] = rng.standard_normal(d)
                if y not in vec:
                    vec[y] = vec[x] + offset + 1.5 * rng.standard_normal(d)
    words = list(vec) + [f"filler{i}" for i in range(extra)]
    if variants:  # lowercase twins of some words, less frequent (later), near them
        words += [w.lower() for w in list(vec)[::3] if w.lower() not in vec]
    rng.shuffle(words)
    vectors = np.array([vec[w] if w in vec else
                        (vec[next(v for v in vec if v.lower() == w)] + 0.3 * rng.standard_normal(d)
                         if not w.startswith("filler") else rng.standard_normal(d)) for w in words])
    return KeyedVectors(words, vectors.astype(np.float32))


def _gensim(kv):
    gensim_models = pytest.importorskip("gensim.models")
    g = gensim_models.KeyedVectors(vector_size=kv.vector_size)
    g.add_vectors(kv.index_to_key, kv.vectors)
    return g


@pytest.mark.parametrize("case, variants, lowercase, restrict_vocab", [
    (str.lower, False, None, 30000),   # lowercase vocabulary: lowercased automatically
    (str.lower, False, None, 600),     # some questions out of the searched words
    (str, False, None, 30000),         # cased vocabulary: exact comparison
    (str, True, True, 30000),          # forced case-insensitive with case twins in the vocabulary
])
def test_analogies_agree_with_gensim(tmp_path, case, variants, lowercase, restrict_vocab):
    kv = _structured(case, variants=variants)
    path = _subset(tmp_path)
    ours = evaluate_analogies(kv, path, restrict_vocab=restrict_vocab, lowercase=lowercase)
    case_insensitive = bool(lowercase) or case is str.lower
    assert ours["lowercased"] == case_insensitive
    score, sections = _gensim(kv).evaluate_word_analogies(str(path), restrict_vocab=restrict_vocab,
                                                          case_insensitive=case_insensitive)
    total = sections[-1]
    answered = len(total["correct"]) + len(total["incorrect"])
    assert ours["answered"] == answered
    assert ours["oov"] == ours["total"] - answered
    assert 0.05 < ours["accuracy"] < 0.95  # structured: neither trivial nor hopeless
    assert abs(ours["accuracy"] - score) <= 0.001
    for mine, theirs in zip(ours["sections"], sections[:-1]):
        assert mine["section"] == theirs["section"]
        assert abs(mine["correct"] - len(theirs["correct"])) <= 1
    if restrict_vocab == 600:
        assert ours["oov"] > 0


def test_analogy_result_shape(tmp_path):
    kv = _structured(str.lower)
    res = evaluate_analogies(kv, _subset(tmp_path), method="3cosmul")
    assert res["method"] == "3cosmul" and res["restrict_vocab"] == 30000
    assert res["total"] == res["answered"] + res["oov"]
    assert res["correct"] == res["semantic"]["correct"] + res["syntactic"]["correct"]
    assert res["syntactic"]["answered"] == sum(s["answered"] for s in res["sections"]
                                               if s["section"].startswith("gram"))
    assert len(res["sections"]) == 14
    report = format_report([res, evaluate_word_pairs(kv)])
    assert "capital-common-countries" in report and "syntactic" in report and "Spearman" in report
    assert f"all {len(kv):,} words searched" in report and res["searched"] == len(kv) < 30000
    every = evaluate_analogies(kv, _subset(tmp_path), restrict_vocab=None)
    assert f"3cosadd, all {len(kv):,} words searched" in format_report(every)
    few = evaluate_analogies(kv, _subset(tmp_path), restrict_vocab=5)
    assert "3cosadd, the 5 most frequent words searched" in format_report(few)


def test_evaluation_files_that_hold_nothing_or_no_number_are_errors(tmp_path):
    from w2v.errors import DataFileError

    kv = _structured(str.lower)
    for text in ("", "\n# a comment\n"):
        (tmp_path / "p.tsv").write_text(text)
        with pytest.raises(DataFileError, match="no word pair in it"):
            evaluate_word_pairs(kv, tmp_path / "p.tsv")
    for text in ("", ": section only\n"):
        (tmp_path / "q.txt").write_text(text)
        with pytest.raises(DataFileError, match="no analogy question in it"):
            evaluate_analogies(kv, tmp_path / "q.txt")
    for score in ("nan", "inf"):
        (tmp_path / "p.tsv").write_text(f"a\tb\t{score}\n")
        with pytest.raises(DataFileError, match=f"line 1: the score '{score}' is not a finite number"):
            evaluate_word_pairs(kv, tmp_path / "p.tsv")


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_a_model_passed_for_its_vectors():
    from w2v import Word2Vec

    model = Word2Vec(min_count=1, dim=8, sample=0, threads=1).train([["a", "b", "c"], ["b", "c", "a"]] * 5,
                                                                     progress=False)
    assert evaluate_word_pairs(model) == evaluate_word_pairs(model.wv)
    assert evaluate_analogies(model) == evaluate_analogies(model.wv)
    with pytest.raises(TypeError, match="takes word vectors .*; got builtins.object"):
        evaluate_word_pairs(object())
    gensim_models = pytest.importorskip("gensim.models")
    theirs = gensim_models.KeyedVectors(vector_size=8)
    theirs.add_vectors(model.wv.index_to_key, model.wv.vectors)
    assert evaluate_word_pairs(theirs) == evaluate_word_pairs(model.wv)  # gensim's vectors: the same rows
    assert evaluate_analogies(theirs) == evaluate_analogies(model.wv)


def test_evaluation_files_with_a_bom_or_compressed(tmp_path):
    import gzip

    kv = _structured(str.lower)
    pairs = "a0\ta1\t9\na0\tb1\t1\nb0\tb1\t8\n"
    plain = evaluate_word_pairs(kv, _write(tmp_path / "p.tsv", pairs))
    (tmp_path / "bom.tsv").write_bytes(b"\xef\xbb\xbf" + pairs.encode())  # as Windows editors save
    (tmp_path / "p.tsv.gz").write_bytes(gzip.compress(pairs.encode()))
    for name in ("bom.tsv", "p.tsv.gz"):
        got = evaluate_word_pairs(kv, tmp_path / name)
        assert (got["spearman"], got["pairs"], got["oov"]) == (plain["spearman"], plain["pairs"], plain["oov"])


def test_analogy_answers_match_the_query_method():
    kv = _structured(str.lower, d=32)
    sections = _sections()
    questions = [tuple(w.lower() for w in q[:3]) for _, qs in sections for q in qs[::97]]
    batched = kv.analogies(questions, restrict_vocab=500)
    assert batched == [kv.analogy(*q, topn=1, restrict_vocab=500)[0][0] for q in questions]


@pytest.mark.parametrize("case, lowercase", [(str.lower, None), (str, None), (str.title, True)])
def test_word_pairs_agree_with_gensim(case, lowercase):
    rng = np.random.default_rng(1)
    pair_words = sorted({w for line in PAIRS.splitlines() if line and not line.startswith("#")
                         for w in line.split("\t")[:2]})
    words = [case(w) for w in pair_words[::7]] + [case(w) for i, w in enumerate(pair_words) if i % 7 and i % 5]
    words = list(dict.fromkeys(words))  # some words left out: OOV pairs
    kv = KeyedVectors(words, rng.standard_normal((len(words), 20)).astype(np.float32))
    ours = evaluate_word_pairs(kv, lowercase=lowercase)
    case_insensitive = ours["lowercased"]
    assert case_insensitive == (case is not str)
    g = _gensim(kv)
    path = str(resources.files("w2v").joinpath("data", "wordsim353.tsv"))
    pearson, spearman, oov_ratio = g.evaluate_word_pairs(path, case_insensitive=case_insensitive)
    assert ours["oov"] > 0
    assert ours["oov"] / (ours["oov"] + ours["pairs"]) * 100 == pytest.approx(oov_ratio)
    assert ours["spearman"] == pytest.approx(spearman.statistic, abs=1e-6)
    assert ours["pearson"] == pytest.approx(pearson.statistic, abs=1e-6)
    limited = evaluate_word_pairs(kv, lowercase=lowercase, restrict_vocab=60)  # gensim's restrict_vocab
    pearson, spearman, oov_ratio = g.evaluate_word_pairs(path, case_insensitive=case_insensitive, restrict_vocab=60)
    assert limited["oov"] > ours["oov"] and limited["restrict_vocab"] == 60
    assert limited["oov"] / (limited["oov"] + limited["pairs"]) * 100 == pytest.approx(oov_ratio)
    assert limited["spearman"] == pytest.approx(spearman.statistic, abs=1e-6)


def test_case_folding_from_the_command_line(tmp_path, capsys):
    """evaluate --lowercase folds case on a vocabulary with capitals (as gensim and the C tool do), --no-lowercase
    does not on a lower-case one; the default decides by the vocabulary."""
    from w2v import cli

    kv = KeyedVectors(["Love", "sex", "tiger", "cat"], np.array([[1, 0], [1, .2], [0, 1], [.1, 1]], np.float32))
    kv.save(tmp_path / "v.w2v")
    pairs = tmp_path / "p.tsv"
    pairs.write_text("love\tsex\t6.8\ntiger\tcat\t7.4\nlove\tcat\t1.0\n")
    runs = {}
    for flag in ([], ["--lowercase"], ["--no-lowercase"]):
        assert cli.main(["evaluate", str(tmp_path / "v.w2v"), "--similarity", str(pairs), "--json", *flag]) == 0
        runs[tuple(flag)] = json.loads(capsys.readouterr().out)["word_pairs"][0]
    assert (runs[()]["pairs"], runs[()]["lowercased"]) == (1, False)  # "love" is not "Love"
    assert (runs[("--lowercase",)]["pairs"], runs[("--lowercase",)]["lowercased"]) == (3, True)
    assert runs[("--no-lowercase",)] == runs[()]


def test_average_ranks_and_spearman_with_ties(tmp_path):
    stats = pytest.importorskip("scipy.stats")
    x = np.array([3.0, 1.0, 3.0, 2.0, 1.0, 3.0, 5.0])
    np.testing.assert_allclose(_average_ranks(x), stats.rankdata(x))
    kv = KeyedVectors(["a", "b", "c", "d"], np.array([[1, 0], [1, 1], [0, 1], [-1, 1]], np.float32))
    path = tmp_path / "pairs.tsv"
    path.write_text("# comment\na\tb\t5\na\tc\t2\nb\tc\t5\nb\td\t1\nc\td\t7\na\tzz\t3\n")
    res = evaluate_word_pairs(kv, path)
    sims = [kv.similarity(*p) for p in [("a", "b"), ("a", "c"), ("b", "c"), ("b", "d"), ("c", "d")]]
    human = [5, 2, 5, 1, 7]
    assert res["pairs"] == 5 and res["oov"] == 1
    assert res["spearman"] == pytest.approx(stats.spearmanr(human, sims).statistic)
    assert res["pearson"] == pytest.approx(stats.pearsonr(human, sims).statistic)


def test_nothing_answered(tmp_path):
    kv = KeyedVectors(["a", "b"], np.eye(2, dtype=np.float32))
    res = evaluate_analogies(kv)
    assert res["answered"] == 0 and res["oov"] == res["total"] == 19544 and res["accuracy"] is None
    pairs = evaluate_word_pairs(kv)
    assert pairs["pairs"] == 0 and pairs["spearman"] is None
    assert "-" in format_report([res, pairs])


def test_bad_data_files(tmp_path):
    kv = KeyedVectors(["a", "b"], np.eye(2, dtype=np.float32))
    path = tmp_path / "q.txt"
    path.write_text(": s\na b a\n")
    with pytest.raises(ValueError, match="line 2: expected four words"):
        evaluate_analogies(kv, path)
    path.write_text("a b a b\nb a b a\n")  # no ': section' line (MSR's set): one section, the file's name
    res = evaluate_analogies(kv, path, restrict_vocab=2)
    assert [s["section"] for s in res["sections"]] == ["q"] and res["total"] == 2
    path.write_text("a\tb\t1\na\tb\tlots\n")
    with pytest.raises(ValueError, match=r"line 2: the score 'lots' \(field 3, as on the first line\) is not a number"):
        evaluate_word_pairs(kv, path)
    path.write_text("a\tb\tlots\n")  # a header alone
    with pytest.raises(ValueError, match="no word pair in it .*line 1 has no number after its two words"):
        evaluate_word_pairs(kv, path)


def test_word_pair_files_as_the_standard_sets_come(tmp_path):
    """SimLex-999 (a header, the score in field 4 after the part of speech), MTurk-771 (commas), MEN's
    tagged form (whitespace, words with part-of-speech tags the vocabulary lacks)."""
    kv = KeyedVectors(["a", "b", "c", "d"], np.array([[1, 0], [1, 1], [0, 1], [-1, 1]], np.float32))
    plain = evaluate_word_pairs(kv, _write(tmp_path / "p.tsv", "a\tb\t5\na\tc\t2\nb\td\t1\nc\td\t7\n"))
    simlex = _write(tmp_path / "SimLex-999.txt", "word1\tword2\tPOS\tSimLex999\tconc(w1)\n"
                    "a\tb\tA\t5\t2.5\na\tc\tA\t2\t1\nb\td\tN\t1\t4\nc\td\tV\t7\t3\n")
    mturk = _write(tmp_path / "MTurk-771.csv", "a,b,5\na,c,2\nb,d,1\nc,d,7\n")
    raters = _write(tmp_path / "combined.csv", "Word1,Word2,Human(mean),1,2\n"  # the raters' columns: numbers
                    "a,b,5,9,1\na,c,2,1,9\nb,d,1,9,1\nc,d,7,1,9\n")
    for path, column in ((simlex, 4), (mturk, 3), (raters, 3)):
        res = evaluate_word_pairs(kv, path)
        assert (res["spearman"], res["pairs"], res["score_column"]) == (plain["spearman"], 4, column)
    assert "scores from field 4" in format_report(evaluate_word_pairs(kv, simlex))
    men = evaluate_word_pairs(kv, _write(tmp_path / "MEN.txt", "a-n b-n 50.0\nc-v d-n 12.0\n"))
    assert men["pairs"] == 0 and "part-of-speech tags (a-n)" in men["note"] and men["note"] in format_report(men)


def test_full_google_set_speed():
    """The whole bundled set on random 30000 x 100 vectors whose vocabulary holds every analogy word."""
    rng = np.random.default_rng(0)
    analogy_words = sorted({w for _, qs in _sections() for q in qs for w in q})
    words = analogy_words + [f"w{i}" for i in range(30000 - len(analogy_words))]
    rng.shuffle(words)
    kv = KeyedVectors(words, rng.standard_normal((30000, 100)).astype(np.float32))
    kv.get_normed_vectors()
    start = time.perf_counter()
    res = evaluate_analogies(kv)
    elapsed = time.perf_counter() - start
    print(f"\nfull Google analogy set, V=30000, d=100, 3cosadd: {elapsed:.2f} s "
          f"({res['answered']} questions answered)")
    assert res["answered"] == 19544 and res["oov"] == 0 and not res["lowercased"]
    assert elapsed < 30


def test_a_bad_line_of_a_megabyte_is_quoted_cut_short(tmp_path):
    """A corpus given as the analogy or word-pair file: its first line (megabytes) is quoted in the error cut
    to 80 characters with its length, not whole."""
    from w2v.errors import DataFileError
    from w2v.evaluate import evaluate_analogies, evaluate_word_pairs

    kv = KeyedVectors(["a", "b", "c", "d"], np.eye(4, dtype=np.float32))
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(" ".join(["word"] * 50_000) + "\n")
    with pytest.raises(DataFileError) as refused:
        evaluate_analogies(kv, corpus)
    assert "found 50,000" in str(refused.value) and "(249,999 characters)" in str(refused.value)
    assert len(str(refused.value)) < 300
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("a\tb\t1.0\nc\td\t" + "x" * 100_000 + "\n")
    with pytest.raises(DataFileError) as refused:
        evaluate_word_pairs(kv, pairs)
    assert "(100,000 characters)" in str(refused.value) and len(str(refused.value)) < 300
