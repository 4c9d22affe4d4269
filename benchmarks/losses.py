"""Why negative sampling: the cost of the three losses against the vocabulary size, their quality, and the
noise distribution, measured with w2v itself.

    .venv/bin/python benchmarks/losses.py                 # the committed figures and numbers (about an hour)
    .venv/bin/python benchmarks/losses.py --quick         # a few minutes, to try it (written under --out only)

Runs in the project's environment (w2v and matplotlib).  Writes ``docs/losses.png`` (cost and quality),
``docs/noise.png`` (the noise distribution at exponents 0, 0.5, 0.75 and 1) and ``docs/losses.json`` (every
number behind them), which docs/NEGATIVE_SAMPLING.md quotes.  Three measurements:

1. **Cost**: seconds per million training examples (skip-gram: (context, centre) pairs; CBOW: windows) for
   each loss and model at each vocabulary size, the top V words of the whole corpus (``max_final_vocab`` V;
   the largest is the whole 67,873-word vocabulary), by calling the kernel directly, one thread, on 100-token
   sentences of a slice until ``--seconds`` have passed (the softmax at 70,000 words takes ~2 ms an
   example: a whole epoch would take some 45 hours).  Weights as at initialisation: the cost of an example does not
   depend on their values.  Skip-gram's negative sampling is timed per pair (``hogbatch=False``, the C tool's
   update), the fair comparison with the other two per-pair losses.
2. **Quality, all three losses**: CBOW (one example per window: the softmax at 10,000 words is then hours
   instead of days) on the first ``--slice-tokens`` tokens, ``--slice-epochs`` epochs, at the sizes the
   softmax accepts.
3. **Quality, ns and hs**: CBOW on the whole corpus, 5 epochs, at every size.

Quality: w2v's evaluator, the Google analogies among the 30,000 most frequent words (at a smaller vocabulary,
only the questions it covers: their number is recorded) and WS-353 (Spearman; pairs covered recorded).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from corpus_slice import prepare_slice  # a sibling module of the benchmarks (after the path is set)
from report import cpu_name  # noqa: E402

DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "enwiki-100m.txt.gz"
SIZES = (1_000, 10_000, 70_000)
LOSSES = ("ns", "hs", "softmax")
MODELS = ("sg", "cbow")
SENTENCE = 100  # tokens per sentence of the timing slice: one kernel call trains one or a few of them
COLOURS = {"ns": "#d62728", "hs": "#ff7f0e", "softmax": "#1f77b4"}
EXPONENTS = (0.0, 0.5, 0.75, 1.0)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    p.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="vocabulary sizes (max_final_vocab)")
    p.add_argument("--seconds", type=float, default=4.0, help="timing budget per loss, model and size")
    p.add_argument("--timing-tokens", type=int, default=400_000, help="slice the timing reads from")
    p.add_argument("--slice-tokens", type=int, default=2_000_000, help="quality of all three losses: slice")
    p.add_argument("--slice-epochs", type=int, default=3)
    p.add_argument("--epochs", type=int, default=5, help="quality of ns and hs on the whole corpus")
    p.add_argument("--model", choices=MODELS, default="cbow", help="the model of the quality runs")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--skip", nargs="*", default=[], choices=("timing", "slice", "full", "noise"),
                   help="parts not to run (their numbers are kept from an earlier --json)")
    p.add_argument("--quick", action="store_true", help="small slices and budgets; writes under --out only")
    p.add_argument("--out", type=Path, default=HERE / "out",
                   help="the cached corpus slices (shared with compare.py); a --quick run writes under OUT/losses-quick")
    p.add_argument("--json", type=Path, default=REPO / "docs" / "losses.json")
    p.add_argument("--figure", type=Path, default=REPO / "docs" / "losses.png")
    p.add_argument("--noise-figure", type=Path, default=REPO / "docs" / "noise.png")
    args = p.parse_args(argv)
    if args.quick:
        args.seconds, args.timing_tokens, args.slice_tokens, args.slice_epochs = 0.5, 100_000, 200_000, 1
        args.sizes = [s for s in args.sizes if s <= 10_000] or [1_000]
        args.epochs = 1
        quick = args.out / "losses-quick"
        quick.mkdir(parents=True, exist_ok=True)
        args.json, args.figure, args.noise_figure = quick / "losses.json", quick / "losses.png", quick / "noise.png"
    return args


# -- the whole corpus's vocabulary, and the timing slice encoded with its top V words ------------------------
def full_vocab(path: str):
    from w2v.corpus import Corpus
    from w2v.vocab import build_vocab

    t0 = time.perf_counter()
    vocab = build_vocab(Corpus(path), min_count=5)
    log(f"vocabulary of the whole corpus: {len(vocab):,} words ({time.perf_counter() - t0:.0f} s)")
    return vocab


def encode_top(path: str, vocab, size: int) -> np.ndarray:
    """The ids (< size) of the slice's tokens among the top ``size`` words, in order (others dropped)."""
    index = {w: i for i, w in enumerate(vocab.words[:size])}
    ids = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            ids.extend(index[t] for t in line.split() if t in index)
    return np.asarray(ids, dtype=np.int32)


def time_kernels(args, vocab, timing_path: str) -> list[dict]:
    """Seconds per million examples of every (model, loss, size), each kernel called directly."""
    from w2v import kernels, losses
    from w2v.config import Config
    from w2v.train import init_weights

    rows = []
    for size in args.sizes:
        v = min(size, len(vocab))
        counts = np.asarray(vocab.counts[:v], dtype=np.int64)
        ids = encode_top(timing_path, vocab, v)
        ends = np.arange(SENTENCE, len(ids) + 1, SENTENCE, dtype=np.int64)
        for model in MODELS:
            for loss in LOSSES:
                cfg = Config(model=model, loss=loss, dim=args.dim,
                             hogbatch=False if (model, loss) == ("sg", "ns") else None)
                tables = losses.kernel_tables(cfg, counts)
                weights = init_weights(v, args.dim, 1, losses.output_rows(loss, v))
                kernel = kernels.KERNELS[(model, loss, False)]
                params = (np.int64(cfg.window), np.int64(cfg.n_negative), np.int64(cfg.cbow_mean))
                kernel(weights, tables, ids, ends, 0, 1, params, 0.025, np.uint64(0))  # compile, warm caches
                examples, s, t0 = 0, 1, time.perf_counter()
                while s < len(ends) and (time.perf_counter() - t0 < args.seconds or examples < 100):
                    examples += kernel(weights, tables, ids, ends, s, s + 1, params, 0.025, np.uint64(s))[1]
                    s += 1
                seconds = time.perf_counter() - t0
                row = {"model": model, "loss": loss, "vocab": v, "examples": int(examples), "seconds": seconds,
                       "seconds_per_million": seconds / max(examples, 1) * 1e6,
                       "ns_per_row_dim": seconds / max(examples, 1) / (v * args.dim) * 1e9}
                rows.append(row)
                log(f"cost: {model:4} {loss:7} V={v:6,}: {row['seconds_per_million']:12,.1f} s per million "
                    f"examples ({examples:,} timed)")
    return rows


# -- quality ---------------------------------------------------------------------------------------------------
def train_and_evaluate(path: str, model: str, loss: str, size: int, epochs: int, args) -> dict:
    from w2v import Word2Vec
    from w2v.evaluate import evaluate_analogies, evaluate_word_pairs

    m = Word2Vec(model=model, loss=loss, dim=args.dim, max_final_vocab=size, epochs=epochs, threads=args.threads,
                 seed=1).train(path, progress=False)
    analogies = evaluate_analogies(m.wv, restrict_vocab=30000)
    pairs = evaluate_word_pairs(m.wv)
    row = {"model": model, "loss": loss, "max_final_vocab": size, "vocab": len(m.vocab), "epochs": epochs,
           "analogy": analogies["accuracy"], "analogy_questions": analogies["answered"],
           "ws353": pairs["spearman"], "ws353_pairs": pairs["pairs"],
           "train_seconds": m.stats["train_seconds"], "examples_per_epoch": m.training_log[-1]["examples"],
           "loss_per_epoch": [e["loss"] for e in m.training_log]}
    acc = "-" if row["analogy"] is None else f"{100 * row['analogy']:.1f}%"
    ws = "-" if row["ws353"] is None else f"{row['ws353']:.3f}"
    log(f"quality: {model} {loss:7} V={len(m.vocab):6,}: analogy {acc} of {row['analogy_questions']}, "
        f"WS-353 {ws} on {row['ws353_pairs']} pairs, {row['train_seconds']:.0f} s, loss {row['loss_per_epoch']}")
    return row


def quality(path: str, sizes, losses_, epochs: int, args) -> list[dict]:
    from w2v.losses import SOFTMAX_MAX_VOCAB

    return [train_and_evaluate(path, args.model, loss, size, epochs, args) for size in sizes for loss in losses_
            if loss != "softmax" or size <= SOFTMAX_MAX_VOCAB]


# -- the noise distribution ------------------------------------------------------------------------------------
def noise_numbers(vocab) -> dict:
    from w2v import sampling

    counts = np.asarray(vocab.counts, dtype=np.int64)
    out = {"vocab": len(counts), "exponents": {}}
    for a in EXPONENTS:
        p = sampling.noise_distribution(counts, a)
        out["exponents"][str(a)] = {"top1": float(p[0]), "top10": float(p[:10].sum()), "top100": float(p[:100].sum()),
                                    "top1000": float(p[:1000].sum()), "rarest": float(p[-1]),
                                    "below_rank_10000": float(p[10000:].sum())}
    bag = np.array([3, 10, 1])
    out["pens_notebooks_pencil"] = {"counts": bag.tolist(),
                                    "raw": sampling.noise_distribution(bag, 1.0).tolist(),
                                    "power_0.75": sampling.noise_distribution(bag, 0.75).tolist(),
                                    "unnormalised_0.71^0.75": 0.71 ** 0.75}
    return out


def draw_noise_figure(vocab, path: Path, words_shown=("the", "of", "city", "cathedral", "zygote")) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from w2v import sampling

    counts = np.asarray(vocab.counts, dtype=np.int64)
    rank = np.arange(1, len(counts) + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6))
    styles = {0.0: ":", 0.5: "--", 0.75: "-", 1.0: "-."}
    for a in EXPONENTS:
        p = sampling.noise_distribution(counts, a)
        label = {0.0: "0 (uniform)", 1.0: "1 (unigram)", 0.75: "0.75 (word2vec)"}.get(a, str(a))
        left.loglog(rank, p, styles[a], lw=2 if a == 0.75 else 1.3, label=f"a = {label}")
        right.semilogx(rank, np.cumsum(p), styles[a], lw=2 if a == 0.75 else 1.3, label=f"a = {label}")
    for word in words_shown:
        i = vocab.index.get(word)
        if i is not None:
            left.annotate(word, (i + 1, sampling.noise_distribution(counts, 0.75)[i]), xytext=(4, 6),
                          textcoords="offset points", fontsize=8)
    left.set_xlabel("rank of the word (by corpus frequency)")
    left.set_ylabel("probability of being drawn as a noise word")
    left.set_title(f"P(w) = count(w)^a / sum count^a, {len(counts):,} words")
    right.set_xlabel("rank of the word")
    right.set_ylabel("share of the draws, words up to this rank")
    right.set_title("cumulative: the 3/4 power moves draws from frequent to rare words")
    for ax in (left, right):
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("The noise distribution of negative sampling on enwiki-100m (min_count 5)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- the figure of cost and quality ----------------------------------------------------------------------------
def draw_losses_figure(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12.5, 4.8))
    for loss in LOSSES:
        for model, style in (("sg", "-o"), ("cbow", "--s")):
            rows = sorted((r for r in results["timing"] if r["loss"] == loss and r["model"] == model),
                          key=lambda r: r["vocab"])
            if rows:
                left.loglog([r["vocab"] for r in rows], [r["seconds_per_million"] for r in rows], style,
                            color=COLOURS[loss], label=f"{loss}, {model}")
    left.set_xlabel("vocabulary size V (max_final_vocab)")
    left.set_ylabel("seconds per million training examples (one core)")
    left.set_title("cost of one example: the softmax grows with V, hs and ns barely")
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8, ncol=3)
    # quality: WS-353 of every run, grouped by vocabulary size
    groups = [("slice", r) for r in results.get("quality_slice", [])] + \
             [("full", r) for r in results.get("quality_full", [])]
    labels, x = [], 0
    for where in ("slice", "full"):
        sizes = sorted({r["vocab"] for w, r in groups if w == where})
        for size in sizes:
            for i, loss in enumerate(LOSSES):
                row = next((r for w, r in groups if w == where and r["vocab"] == size and r["loss"] == loss), None)
                if row is None and loss == "softmax":  # refused (over the limit) or not run (days an epoch)
                    right.annotate("softmax: refused" if where == "slice" else "softmax: days an epoch",
                                   (x + i * 0.27, 0.01), rotation=90, ha="center", va="bottom", fontsize=7,
                                   color="grey")
                if row and row["ws353"] is not None:
                    bar = right.bar(x + i * 0.27, row["ws353"], 0.27, color=COLOURS[loss],
                                    label=loss if not labels else None)
                    acc = row["analogy"]
                    right.annotate("-" if acc is None else f"{100 * acc:.0f}%",
                                   (bar[0].get_x() + 0.135, row["ws353"]), xytext=(0, 2),
                                   textcoords="offset points", ha="center", fontsize=7)
            labels.append((x + 0.27, f"{'slice' if where == 'slice' else 'all'}\nV={size:,}"))
            x += 1
    right.set_xticks([p for p, _ in labels], [t for _, t in labels], fontsize=8)
    right.set_ylabel("WS-353 Spearman (analogy accuracy on the bars)")
    right.set_title(f"quality, {results['meta']['model']}: 'slice' = {results['meta']['slice_tokens']:,} tokens "
                    f"x {results['meta']['slice_epochs']}, 'all' = whole corpus x {results['meta']['epochs']}",
                    fontsize=9)
    handles = [plt.Rectangle((0, 0), 1, 1, color=COLOURS[loss]) for loss in LOSSES]
    right.legend(handles, LOSSES, fontsize=8)
    right.grid(True, axis="y", alpha=0.3)
    fig.suptitle(f"The three losses of w2v on {results['meta']['corpus']} (dim {results['meta']['dim']})",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not args.corpus.exists():
        log(f"error: corpus {args.corpus} not found (see ../shared/data/README.md); give one with --corpus")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    previous = json.loads(args.json.read_text()) if args.json.exists() else {}
    whole = prepare_slice(args.corpus, args.out, None if not args.quick else 2_000_000, 5, log)
    timing = prepare_slice(args.corpus, args.out, args.timing_tokens, 5, log)
    small = prepare_slice(args.corpus, args.out, args.slice_tokens, 5, log)
    vocab = full_vocab(whole.path)
    results = {"meta": {"date": time.strftime("%Y-%m-%d"), "machine": cpu_name(), "cores": os.cpu_count(), "corpus": args.corpus.name, "corpus_tokens": whole.tokens,
                        "vocab": len(vocab), "dim": args.dim, "model": args.model, "threads": args.threads,
                        "timing_tokens": timing.tokens, "slice_tokens": small.tokens,
                        "slice_epochs": args.slice_epochs, "epochs": args.epochs, "quick": args.quick}}
    results["noise"] = noise_numbers(vocab)
    parts = {"timing": lambda: time_kernels(args, vocab, timing.path),
             "quality_slice": lambda: quality(small.path, args.sizes, LOSSES, args.slice_epochs, args),
             "quality_full": lambda: quality(whole.path, args.sizes, ("ns", "hs"), args.epochs, args)}
    skipped = {"timing": "timing", "quality_slice": "slice", "quality_full": "full"}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    for key, run in parts.items():  # the JSON is written after each part: an interrupted run keeps the rest
        results[key] = previous.get(key, []) if skipped[key] in args.skip else run()
        args.json.write_text(json.dumps({**previous, **results}, indent=1) + "\n")
    draw_losses_figure(results, args.figure)
    if "noise" not in args.skip:
        draw_noise_figure(vocab, args.noise_figure)
    log(f"wrote {args.json}, {args.figure}, {args.noise_figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
