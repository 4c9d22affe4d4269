"""Evaluate one word2vec binary file, inside the benchmark venv; run as a subprocess by ``runners.py``.

    python eval_job.py VECTORS.bin --result OUT.json [--evaluator w2v|gensim] [--eval-dir DIR]

Every tool's vectors go through the same evaluator: w2v's (``w2v.evaluate`` on ``w2v.vectors.KeyedVectors``)
by default.  ``--evaluator gensim`` uses gensim's instead on the same files, to cross-check the two
evaluators; it needs the data sets in ``--eval-dir`` (questions-words.txt, wordsim353.tsv).
"""

from __future__ import annotations

import argparse
import json
import os

RESTRICT_VOCAB = 30_000  # analogies whose four words are all among the 30,000 most frequent (the usual cut)


def evaluate_w2v(path: str, eval_dir: str) -> dict:
    """Analogy accuracy and WS-353 Spearman with w2v's own evaluator and bundled data sets."""
    from w2v.evaluate import evaluate_analogies, evaluate_word_pairs
    from w2v.vectors import KeyedVectors

    kv = KeyedVectors.load_word2vec_format(path)
    analogies = evaluate_analogies(kv, restrict_vocab=RESTRICT_VOCAB)
    pairs = evaluate_word_pairs(kv)
    return {"evaluator": "w2v", "analogy": _float(analogies["accuracy"]), "ws353": _float(pairs["spearman"]),
            "analogy_details": _plain(analogies), "pairs_details": _plain(pairs)}


def evaluate_gensim(path: str, eval_dir: str) -> dict:
    """The same figures with gensim's evaluator, on the data sets in ``eval_dir``."""
    from gensim.models import KeyedVectors

    kv = KeyedVectors.load_word2vec_format(path, binary=True)
    accuracy, sections = kv.evaluate_word_analogies(os.path.join(eval_dir, "questions-words.txt"),
                                                    restrict_vocab=RESTRICT_VOCAB)
    _pearson, spearman, oov = kv.evaluate_word_pairs(os.path.join(eval_dir, "wordsim353.tsv"))
    total = sections[-1]
    return {"evaluator": "gensim", "analogy": float(accuracy), "ws353": float(spearman[0]),
            "analogy_details": {"questions": len(total["correct"]) + len(total["incorrect"])},
            "pairs_details": {"oov_percent": float(oov)}}


def _float(value) -> float | None:
    """A figure as a float; None stays None (no question or pair could be answered)."""
    return None if value is None else float(value)


def _plain(details) -> dict:
    """The JSON-friendly scalar entries of an evaluator's result dict (lists of questions dropped)."""
    plain = {}
    for key, value in (details.items() if isinstance(details, dict) else ()):
        if isinstance(value, (bool, int, str)):
            plain[key] = value
        elif hasattr(value, "__float__") and not hasattr(value, "__len__"):  # floats, NumPy scalars
            plain[key] = float(value)
    return plain


EVALUATORS = {"w2v": evaluate_w2v, "gensim": evaluate_gensim}


def main() -> None:
    """Parse the arguments, evaluate, and write the result JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("vectors")
    parser.add_argument("--result", required=True)
    parser.add_argument("--evaluator", choices=sorted(EVALUATORS), default="w2v")
    parser.add_argument("--eval-dir", default="", help="data sets for --evaluator gensim")
    args = parser.parse_args()
    result = EVALUATORS[args.evaluator](args.vectors, args.eval_dir)
    with open(args.result, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
