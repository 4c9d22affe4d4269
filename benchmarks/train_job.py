"""Train one tool once, inside the benchmark venv; run as a subprocess by ``runners.py``.

    python train_job.py TOOL --corpus FILE --model sg --threads 2 ... --vectors OUT.bin --result OUT.json

Each trainer below times only what it can separate (vocabulary vs training), exports the vectors in
word2vec binary format and writes a JSON result:

- ``train_seconds``: wall seconds of training only, ``vocab_seconds``: of the vocabulary pass;
- ``words_trained`` and ``words_kind``: the words the tool itself says it trained over all epochs, and
  what they count ('raw' tokens, or 'in-vocab' tokens);
- ``save_seconds``: the export (subtracted from the end-to-end time by the parent);
- ``version`` of the tool.
"""

from __future__ import annotations

import argparse
import json
import logging
import time


def train_w2v(args, hogbatch: bool | None = None) -> dict:
    """w2v through its Python API; its own stats separate the vocabulary pass from training.  Under
    hierarchical softmax the negative-sampling settings are left unset (w2v refuses them there)."""
    import w2v
    from w2v import Word2Vec

    ns = args.loss == "ns"
    model = Word2Vec(model=args.model, dim=args.dim, window=args.window, loss=args.loss,
                     negative=args.negative if ns else None, sample=args.sample, min_count=args.min_count,
                     epochs=args.epochs, threads=args.threads, alpha=args.alpha, hogbatch=hogbatch, seed=args.seed)
    model.train(args.corpus)
    stats, log = model.stats, model.training_log
    t0 = time.perf_counter()
    model.wv.save_word2vec_format(args.vectors, binary=True)
    return {"version": w2v.__version__,
            "train_seconds": stats["train_seconds"],
            "vocab_seconds": stats["total_seconds"] - stats["train_seconds"],
            "words_trained": int(sum(epoch["words"] for epoch in log)), "words_kind": "in-vocab",
            "raw_tokens_seen": stats.get("raw_tokens"),
            "epoch_loss": [epoch.get("loss") for epoch in log], "stats": stats,
            "save_seconds": time.perf_counter() - t0}


def train_gensim(args, corpus_file: bool) -> dict:
    """gensim 4: ``build_vocab`` then ``train``, each timed; iterable mode streams ``LineSentence``."""
    import gensim
    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence

    hs = args.loss == "hs"  # gensim's hierarchical softmax alone: hs=1, negative=0
    model = Word2Vec(vector_size=args.dim, window=args.window, negative=0 if hs else args.negative, hs=int(hs),
                     sample=args.sample, min_count=args.min_count, epochs=args.epochs, workers=args.threads,
                     sg=int(args.model == "sg"), alpha=args.alpha, min_alpha=1e-4, seed=args.seed)
    source = {"corpus_file": args.corpus} if corpus_file else {"corpus_iterable": LineSentence(args.corpus)}
    t0 = time.perf_counter()
    model.build_vocab(**source)
    t1 = time.perf_counter()
    effective, raw = model.train(**source, total_examples=model.corpus_count,
                                 total_words=model.corpus_total_words, epochs=args.epochs)
    t2 = time.perf_counter()
    model.wv.save_word2vec_format(args.vectors, binary=True)
    return {"version": gensim.__version__, "train_seconds": t2 - t1, "vocab_seconds": t1 - t0,
            # gensim counts every token read (in and out of vocabulary) in both modes.
            "words_trained": int(raw), "words_kind": "raw", "effective_words": int(effective),
            "save_seconds": time.perf_counter() - t2}


def train_fasttext_python(args) -> dict:
    """fastText through its pip bindings (the fallback when the CLI is unavailable).

    ``train_unsupervised`` reads the vocabulary and trains in one call, so ``train_seconds`` includes the
    vocabulary pass here (``vocab_seconds`` is 0).
    """
    import fasttext

    from w2v_format import write_word2vec_binary

    t0 = time.perf_counter()
    model = fasttext.train_unsupervised(args.corpus, model="skipgram" if args.model == "sg" else "cbow",
                                        dim=args.dim, ws=args.window, neg=args.negative, t=args.sample,
                                        minCount=args.min_count, epoch=args.epochs, thread=args.threads,
                                        lr=args.alpha, minn=0, maxn=0, loss=args.loss, seed=args.seed,
                                        verbose=1)
    t1 = time.perf_counter()
    words = model.words
    write_word2vec_binary(args.vectors, words, [model.get_word_vector(w) for w in words])
    return {"version": getattr(fasttext, "__version__", "pip bindings"), "train_seconds": t1 - t0,
            "vocab_seconds": 0.0, "words_trained": None, "words_kind": "n/a",
            "save_seconds": time.perf_counter() - t1}


TRAINERS = {
    "w2v": train_w2v,
    "w2v-no-hogbatch": lambda args: train_w2v(args, hogbatch=False),
    "gensim": lambda args: train_gensim(args, corpus_file=False),
    "gensim-corpus-file": lambda args: train_gensim(args, corpus_file=True),
    "fasttext-python": train_fasttext_python,
}


def main() -> None:
    """Parse the arguments, train, and write the result JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tool", choices=sorted(TRAINERS))
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--model", choices=("sg", "cbow"), required=True)
    for name, kind in (("threads", int), ("dim", int), ("window", int), ("negative", int), ("sample", float),
                       ("min-count", int), ("epochs", int), ("alpha", float)):
        parser.add_argument("--" + name, type=kind, required=True)
    parser.add_argument("--loss", choices=("ns", "hs"), default="ns",
                        help="negative sampling, or hierarchical softmax (w2v loss='hs', gensim hs=1 negative=0)")
    parser.add_argument("--seed", type=int, default=1, help="the tool's random seed")
    parser.add_argument("--vectors", required=True, help="word2vec binary file to write")
    parser.add_argument("--result", required=True, help="JSON file to write")
    args = parser.parse_args()
    logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s", level=logging.WARNING)
    result = TRAINERS[args.tool](args)
    with open(args.result, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
