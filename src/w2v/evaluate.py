"""Evaluation: analogy accuracy (Google's questions-words) and word-pair correlation (WordSim-353).

Both follow the protocols of the C tool's ``compute-accuracy`` and of gensim, so figures compare:
only the ``restrict_vocab`` most frequent words are searched, a question with a word outside them is counted
as out of vocabulary (reported apart, not as wrong), and the three question words are never answers.
The bundled data sets live in ``w2v/data`` (see ``PROVENANCE.md`` there).
"""

from __future__ import annotations

import math
import os
import re
from importlib import resources
from typing import Any, Iterable

import numpy as np

from .errors import DataFileError
from .formats import number_or_none
from .vectors import KeyedVectors

ANALOGIES = "questions-words.txt"
WORD_PAIRS = "wordsim353.tsv"


def _shown(text: str, limit: int = 80) -> str:
    """``text`` quoted for a message, cut to ``limit`` characters (a corpus given as a dataset has lines of
    megabytes)."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text):,} characters)"


def _read_data(path: str | os.PathLike | None, default: str) -> tuple[str, list[str]]:
    """(name, lines) of a given file or a bundled one."""
    if path is None:
        text = resources.files("w2v").joinpath("data", default).read_text(encoding="utf-8")
        return default, text.splitlines()
    name = os.path.basename(os.fspath(path))
    from .formats import read_decompressed

    raw = read_decompressed(path, DataFileError, "evaluation file")
    try:
        return name, raw.decode("utf-8-sig").splitlines()  # (a byte-order mark is no part of a word)
    except UnicodeDecodeError as e:
        raise DataFileError(f"{os.fspath(path)}: not UTF-8 text (byte {e.start}); an evaluation file is "
                            "plain text (or gzip, bzip2 or xz-compressed text)") from None


def _vectors_of(kv: Any, what: str) -> Any:
    """``kv`` as w2v's KeyedVectors: itself, gensim's (any with ``index_to_key`` and ``vectors``) wrapped, or
    the vectors of a trained model passed instead (``model.wv``)."""
    if isinstance(kv, KeyedVectors):
        return kv
    if hasattr(kv, "index_to_key") and hasattr(kv, "vectors"):  # gensim's: the same rows, without a copy
        return KeyedVectors(list(kv.index_to_key), kv.vectors)
    if hasattr(kv, "wv"):
        return kv.wv
    raise TypeError(f"{what} takes word vectors (model.wv, or KeyedVectors.load(path)); got "
                    f"{type(kv).__module__}.{type(kv).__name__}")


def _is_lowercase(words: list[str]) -> bool:
    text = "".join(words)
    return text == text.lower()


def _fold_map(words: list[str], lowercase: bool) -> dict[str, int]:
    """Word (lowercased when ``lowercase``) -> its row; for case variants the most frequent row wins."""
    if not lowercase:
        return {w: i for i, w in enumerate(words)}
    mapping: dict[str, int] = {}
    for i, w in enumerate(words):
        mapping.setdefault(w.lower(), i)
    return mapping


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _summary(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    rows = list(rows)
    correct = sum(r["correct"] for r in rows)
    answered = sum(r["answered"] for r in rows)
    oov = sum(r["oov"] for r in rows)
    return {"correct": correct, "answered": answered, "oov": oov, "total": answered + oov,
            "accuracy": _ratio(correct, answered)}


def evaluate_analogies(kv: KeyedVectors, path: str | os.PathLike | None = None, *,
                       restrict_vocab: int | None = 30000, method: str = "3cosadd",
                       lowercase: bool | None = None) -> dict[str, Any]:
    """Accuracy on analogy questions "a b c d" (a is to b as c is to d), in ``: section`` blocks (a file
    without them is one section, named after the file).

    Parameters
    ----------
    path : a questions file; the bundled Google set (Mikolov et al. 2013, 19,544 questions) when None.
    restrict_vocab : only the first (most frequent) rows are searched and may answer; None: all.
    method : "3cosadd" or "3cosmul" (see :meth:`KeyedVectors.analogy`).
    lowercase : compare case-insensitively (the most frequent casing of a word stands for it, as the C tool
        and gensim, by default, always do); None: do so when the searched words hold no uppercase letter.

    Returns
    -------
    dict of plain data: "accuracy" (correct / answered, None when nothing was answered), "correct",
    "answered", "oov", "total", "lowercased", "method", "restrict_vocab", "searched" (the rows searched:
    restrict_vocab or the vocabulary's size, the smaller), "dataset", "sections" (a list of
    {"section", "correct", "answered", "oov", "accuracy"}), "semantic" and "syntactic" (the same sums over
    the sections not starting / starting with "gram").
    """
    kv = _vectors_of(kv, "evaluate_analogies")
    name, lines = _read_data(path, ANALOGIES)
    limit = kv._limit(restrict_vocab)
    searched = kv.index_to_key[:limit]
    if lowercase is None:
        lowercase = _is_lowercase(searched)
    rows = _fold_map(searched, lowercase)

    sections: list[dict[str, Any]] = []
    questions: list[tuple[int, int, int, int]] = []  # rows of a, b, c, expected
    owner: list[int] = []                              # the section of each question
    for line_no, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith(":"):
            sections.append({"section": line[1:].strip(), "correct": 0, "answered": 0, "oov": 0})
            continue
        words = line.split()
        if len(words) != 4:
            raise DataFileError(f"{name} line {line_no}: expected four words, found {len(words):,}: {_shown(line)}")
        if not sections:  # a set without sections (MSR's, say): one section named after the file
            sections.append({"section": os.path.splitext(name)[0], "correct": 0, "answered": 0, "oov": 0})
        if lowercase:
            words = [w.lower() for w in words]
        found = [rows.get(w) for w in words]
        if None in found:
            sections[-1]["oov"] += 1
            continue
        questions.append(tuple(found))
        owner.append(len(sections) - 1)

    if not questions and not sum(s["oov"] for s in sections):
        raise DataFileError(f"{name}: no analogy question in it (lines 'a b c d', in ': section' blocks or not)")
    if questions:
        q = np.array(questions, dtype=np.int64)                                      # (n, 4)
        fold = None
        if lowercase and not _is_lowercase(searched):
            folded = np.array([rows[w.lower()] for w in searched], dtype=np.int64)   # (limit,)
            fold = folded
        predicted = kv._analogy_indices(q[:, :3], method, limit, fold=fold)
        if fold is not None:
            predicted = fold[predicted]
        hits = predicted == q[:, 3]
        per_section_correct = np.bincount(owner, weights=hits, minlength=len(sections))
        per_section_answered = np.bincount(owner, minlength=len(sections))
        for s, sec in enumerate(sections):
            sec["correct"] = int(per_section_correct[s])
            sec["answered"] = int(per_section_answered[s])
    for sec in sections:
        sec["accuracy"] = _ratio(sec["correct"], sec["answered"])

    total = _summary(sections)
    return {**total, "lowercased": bool(lowercase), "method": method, "restrict_vocab": restrict_vocab,
            "searched": limit, "dataset": name, "sections": sections,
            "semantic": _summary(s for s in sections if not s["section"].startswith("gram")),
            "syntactic": _summary(s for s in sections if s["section"].startswith("gram"))}


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x``, ties given the mean of the ranks they span (as scipy.stats.rankdata)."""
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])   # first index of each tie group
    ends = np.r_[starts[1:], len(x)]
    mean_rank = (starts + ends + 1) / 2.0                                  # mean of ranks starts+1..ends
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def _pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    x = x - x.mean()
    y = y - y.mean()
    den = np.sqrt((x @ x) * (y @ y))
    return float(x @ y / den) if den > 0 else None


def evaluate_word_pairs(kv: KeyedVectors, path: str | os.PathLike | None = None, *,
                        lowercase: bool | None = None, restrict_vocab: int | None = None) -> dict[str, Any]:
    """Spearman and Pearson correlation between cosine similarity and human scores of word pairs.

    Parameters
    ----------
    path : lines "word1<TAB>word2<TAB>score" ('#' starts a comment line); WordSim-353 when None.  The
        fields may be separated by tabs, spaces or commas; the score is the first number after the two
        words on the first line (SimLex-999's fourth column, after its part of speech), the same column
        on every line; a first line without a number there (SimLex-999's), or with a name where the next
        line has its number (``Word1,Word2,Human(mean),1,2``), is a header, skipped.
    lowercase : compare case-insensitively (the most frequent casing stands for a word); None: do so when
        the vocabulary holds no uppercase letter.
    restrict_vocab : only the first (most frequent) words count as known, a pair with another is out of
        vocabulary (gensim's ``restrict_vocab``, 300,000 by default there); None (the default): every word.

    Returns
    -------
    {"spearman", "pearson" (None with fewer than two known pairs), "pairs" (pairs with both words known),
    "oov" (the others), "lowercased", "dataset", "score_column" (1-based)}, and "note" when no pair could
    be scored, saying why if it can tell.
    """
    kv = _vectors_of(kv, "evaluate_word_pairs")
    name, lines = _read_data(path, WORD_PAIRS)
    known = kv.index_to_key[:kv._limit(restrict_vocab)]
    if lowercase is None:
        lowercase = _is_lowercase(known)
    rows = _fold_map(known, lowercase)
    gold, pairs, unknown = [], [], []
    content = [(n, line, _pair_fields(line)) for n, line in enumerate(lines, 1)
               if line.strip() and not line.lstrip().startswith("#")]
    column = header = None  # the score's field, decided by the first line that is not a header
    if content and _is_header(*(fields for _, _, fields in content[:2])):
        header = content.pop(0)[0]
    for line_no, line, fields in content:
        if len(fields) < 3:
            raise DataFileError(f"{name} line {line_no}: expected 'word1<TAB>word2<TAB>score': {_shown(line)}")
        if column is None:
            column = _score_field(fields)
            if column is None:
                raise DataFileError(f"{name} line {line_no}: the score {_shown(fields[2])} is not a number")
        score = number_or_none(fields[column]) if column < len(fields) else None
        if score is None:
            shown = fields[column] if column < len(fields) else "nothing"
            raise DataFileError(f"{name} line {line_no}: the score {_shown(shown)} (field {column + 1}, as on the "
                                "first line) is not a number")
        if not math.isfinite(score):
            raise DataFileError(f"{name} line {line_no}: the score {_shown(fields[column])} is not a finite number")
        a, b = (fields[0].lower(), fields[1].lower()) if lowercase else (fields[0], fields[1])
        ia, ib = rows.get(a), rows.get(b)
        if ia is None or ib is None:
            unknown.append((a, b))
            continue
        gold.append(score)
        pairs.append((ia, ib))
    oov = len(unknown)
    if not gold and not oov:
        raise DataFileError(f"{name}: no word pair in it (lines 'word1<TAB>word2<TAB>score'"
                            + (f"; line {header} has no number after its two words)" if header else ")"))
    spearman = pearson = None
    if len(pairs) >= 2:
        normed = kv.get_normed_vectors()
        idx = np.array(pairs, dtype=np.int64)
        model = np.einsum("ij,ij->i", normed[idx[:, 0]], normed[idx[:, 1]]).astype(np.float64)
        human = np.array(gold, dtype=np.float64)
        pearson = _pearson(model, human)
        spearman = _pearson(_average_ranks(model), _average_ranks(human))
    result = {"spearman": spearman, "pearson": pearson, "pairs": len(pairs), "oov": oov,
              "lowercased": bool(lowercase), "dataset": name, "score_column": None if column is None else column + 1,
              "restrict_vocab": restrict_vocab}
    if not pairs:
        tagged = [w for pair in unknown for w in pair if re.fullmatch(r".+-[a-z]", w)]
        untagged = sum(w[:-2] in rows for w in tagged)
        result["note"] = ("no pair has both words in the vocabulary" + (
            f"; its words carry part-of-speech tags ({tagged[0]}) that the vocabulary's lack (MEN's "
            "natural-form file has none)" if tagged and untagged >= len(tagged) / 2 else ""))
    return result


def _score_field(fields: list[str]) -> int | None:
    """The index of the first number after a word-pair line's two words (None: none)."""
    return next((k for k in range(2, len(fields)) if number_or_none(fields[k]) is not None), None)


def _is_header(first: list[str], second: list[str] | None = None) -> bool:
    """Whether a word-pair file's first line is a header: no number after its two words (SimLex-999's), or a
    name where the next line has its score (``Word1,Word2,Human(mean),1,2,...``: the raters' numbers)."""
    if len(first) < 3:
        return False
    at = _score_field(first)
    after = _score_field(second) if second is not None and len(second) >= 3 else None
    return at is None or (after is not None and after < at)


def _pair_fields(line: str) -> list[str]:
    """The fields of a word-pair line: tab-separated, else by spaces, else by commas (MTurk-771's CSV)."""
    fields = [f.strip() for f in line.rstrip("\r\n").split("\t")]
    if len(fields) < 3:
        fields = line.split()
    if len(fields) < 3:
        fields = [f.strip() for f in line.split(",")]
    return fields



def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def format_report(results: dict[str, Any] | Iterable[dict[str, Any]]) -> str:
    """A readable table of one result of :func:`evaluate_analogies` or :func:`evaluate_word_pairs`, or of
    several (a list of them)."""
    if isinstance(results, dict):
        results = [results]
    parts = []
    for res in results:
        if "sections" in res:
            parts.append(_analogy_table(res))
        elif "spearman" in res:
            parts.append(_pairs_table(res))
        else:
            raise ValueError("format_report takes the dicts returned by evaluate_analogies or "
                             "evaluate_word_pairs")
    return "\n\n".join(parts)


def _analogy_table(res: dict[str, Any]) -> str:
    width = max([len(s["section"]) for s in res["sections"]] + [len("syntactic"), 7])
    head = f"{'section':<{width}}  {'correct':>7}  {'answered':>8}  {'oov':>6}  {'accuracy':>8}"
    limit = res.get("searched", res["restrict_vocab"])  # (results saved before "searched" existed)
    searched = f"the {limit} most frequent words" if res["restrict_vocab"] and limit == res["restrict_vocab"] \
        else f"all {limit:,} words" if limit else "all words"
    lines = [f"analogies: {res.get('dataset', '')}, {res['method']}, {searched} searched"
             f"{', lowercased' if res['lowercased'] else ''}", head, "-" * len(head)]

    def row(label: str, r: dict[str, Any]) -> str:
        return (f"{label:<{width}}  {r['correct']:>7}  {r['answered']:>8}  {r['oov']:>6}  "
                f"{_pct(r['accuracy']):>8}")

    lines += [row(s["section"], s) for s in res["sections"]]
    lines += ["-" * len(head), row("semantic", res["semantic"]), row("syntactic", res["syntactic"]),
              row("total", res)]
    return "\n".join(lines)


def _pairs_table(res: dict[str, Any]) -> str:
    column = res.get("score_column")
    return (f"word pairs: {res.get('dataset', '')}{', lowercased' if res['lowercased'] else ''}"
            f"{f', scores from field {column}' if column not in (None, 3) else ''}\n"
            f"  Spearman {_num(res['spearman'])}   Pearson {_num(res['pearson'])}   "
            f"pairs {res['pairs']}   oov {res['oov']}" + (f"\n  ({res['note']})" if res.get("note") else ""))
