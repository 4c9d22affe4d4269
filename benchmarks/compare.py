"""Train w2v and its peers on the same file with the same settings, and compare speed, memory and quality.

    python benchmarks/compare.py --tokens 2000000 --repeats 1

Writes ``<out>/results.md`` (the tables), ``<out>/results.json`` (every run and the summary) and
``<out>/results.png`` (speed per tool, analogy accuracy on the bars).  See benchmarks/README.md for the
columns and the fairness rules.  Uses only the standard library itself: the tools train, and the plot is
drawn, in subprocesses of the benchmark's own venv (``benchmarks/.venv``, created on first use).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import platform
import subprocess
import sys
from pathlib import Path

from corpus_slice import CorpusSlice, prepare_slice
from report import (GENSIM_MODES, TOOL_LABELS, end_to_end_ratios, machine, markdown, scaling_rows, speed_ratios,
                    summarize)
from runners import LOSSES, TOOLS, Job, Runner, RunResult, Settings, runs_loss, tool_available
from setup_env import CTool, ensure_fasttext, ensure_venv, ensure_word2vec_c

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "enwiki-100m.txt.gz"
WARMUP_TOKENS = 50_000  # a first tiny run per tool and model: fills Numba's cache, and fails fast
SCALING_RATIO = 4  # --scaling trains at N/4 and N tokens


def log(message: str) -> None:
    """Progress on stderr, so stdout stays clean."""
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; every default is the reference setting of shared/data/README.md."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="text corpus (.txt or .gz), any lines")
    p.add_argument("--tokens", type=int, default=None, help="use only the first N tokens (default: all)")
    p.add_argument("--threads", type=int, nargs="+", default=[2], help="thread counts to measure")
    p.add_argument("--models", nargs="+", choices=("sg", "cbow"), default=["sg", "cbow"])
    p.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS))
    p.add_argument("--losses", nargs="+", choices=LOSSES, default=list(LOSSES),
                   help="ns: negative sampling; hs: hierarchical softmax alone (w2v --loss hs, gensim hs=1 "
                        "negative=0, fastText -loss hs)")
    p.add_argument("--repeats", type=int, default=2, help="runs of each configuration, interleaved")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--negative", type=int, default=5)
    p.add_argument("--sample", type=float, default=1e-3)
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument("--short-epochs", type=int, default=1,
                   help="also train w2v and both gensim modes with this many epochs (not evaluated), for the "
                        "end-to-end table; 0: not")
    p.add_argument("--scaling", action="store_true",
                   help=f"also train w2v and gensim (iterable) at N/{SCALING_RATIO} and N tokens, max threads")
    p.add_argument("--word2vec-c", type=Path, metavar="PATH",
                   help="the word2vec C tool for --tools word2vec-c: its word2vec.c (built here with the "
                        "makefile's flags, its end-of-file bug fixed) or a binary")
    p.add_argument("--evaluator", choices=("w2v", "gensim"), default="w2v",
                   help="whose evaluator scores every tool's vectors (gensim only to cross-check w2v's)")
    p.add_argument("--out", type=Path, default=HERE / "out", help="results, logs and the cached corpus slice")
    p.add_argument("--venv", type=Path, default=HERE / ".venv", help="the benchmark's own environment")
    p.add_argument("--no-install", action="store_true", help="never create the venv or install fastText")
    p.add_argument("--no-warmup", action="store_true", help="skip the tiny first run of each tool")
    p.add_argument("--keep-vectors", action="store_true", help="keep every run's vectors in <out>/vectors")
    p.add_argument("--write-results", action="store_true", help="append a dated section to --results-md")
    p.add_argument("--results-md", type=Path, default=HERE / "RESULTS.md")
    args = p.parse_args(argv)
    for name in ("tokens", "repeats", "epochs", "dim", "window", "negative", "min_count"):
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1; got {value}")
    if min(args.threads) < 1:
        p.error(f"--threads must be at least 1; got {args.threads}")
    if args.scaling and args.tokens is not None and args.tokens < SCALING_RATIO * WARMUP_TOKENS:
        p.error(f"--scaling needs --tokens of at least {SCALING_RATIO * WARMUP_TOKENS:,}")
    return args


def schedule(tools: list[str], models: list[str], threads: list[int], repeats: int, corpus: CorpusSlice,
             settings: Settings, losses: tuple[str, ...] = ("ns",)) -> list[Job]:
    """Every run in the order to make it: repeat > threads > model > loss > tool, the tool order rotated each
    repeat.

    Interleaving spreads the machine's drift (other load, heat) over all tools alike; rotating the order
    keeps any tool from always running right after the same neighbour.
    """
    jobs = []
    for rep in range(repeats):
        order = tools[rep % len(tools):] + tools[:rep % len(tools)]
        for n_threads in threads:
            for model in models:
                for loss in losses:
                    jobs += [Job(tool, model, n_threads, rep, corpus, settings, loss=loss) for tool in order
                             if runs_loss(tool, model, loss)]
    return jobs


def run_jobs(runner: Runner, jobs: list[Job], unavailable: dict[str, str]) -> list[RunResult]:
    """Run the jobs in order, printing one line per run; a tool in ``unavailable`` gets a failed result."""
    runs = []
    for i, job in enumerate(jobs, 1):
        if job.tool in unavailable:
            run = RunResult(job.tool, job.model, job.threads, job.repeat, job.corpus.tokens, job.loss,
                            error="unavailable: " + unavailable[job.tool])
        else:
            log(f"[{i}/{len(jobs)}] {job.name} ...")
            run = runner.train(job)
            log(f"    {describe(run)}")
        runs.append(run)
    return runs


def describe(run: RunResult) -> str:
    """One line about a finished run."""
    if run.error:
        return "FAILED: " + run.error
    parts = [f"train {run.train_seconds:.1f} s", f"{run.words_per_second_train:,.0f} words/s",
             f"peak RSS {run.peak_rss_mb:,.0f} MB"]
    if run.trained_percent is not None:
        parts.append(f"trained {run.trained_percent:.1f}% of {run.words_kind} words")
    if run.analogy is not None:
        parts.append(f"analogy {100 * run.analogy:.1f}%, WS-353 {run.ws353:.3f}")
    elif "eval_error" in run.extra:
        parts.append("evaluation failed: " + run.extra["eval_error"])
    if "warning" in run.extra:
        parts.append("WARNING: " + run.extra["warning"])
    return ", ".join(parts)


def warm_up(runner: Runner, tools: list[str], models: list[str], corpus: CorpusSlice, settings: Settings,
            unavailable: dict[str, str], losses: tuple[str, ...] = ("ns",)) -> None:
    """Train each tool once per model and loss on a tiny slice (not measured): loads Numba's cache and catches
    broken tools, which are added to ``unavailable`` with the reason."""
    for tool in (t for t in tools if t not in unavailable):
        configs = [(m, loss) for m in models for loss in losses if runs_loss(tool, m, loss)]
        for model, loss in configs:
            run = runner.train(Job(tool, model, 1, -1, corpus, settings, evaluate=False, loss=loss))
            if run.error:
                log(f"warm-up: {tool} {model} {loss} failed, leaving it out: {run.error}")
                unavailable[tool] = "failed its warm-up run: " + run.error
                break
        else:
            log(f"warm-up: {tool} ok")


def notes(runner: Runner, unavailable: dict[str, str], tools: list[str]) -> list[str]:
    """How each tool's figures were obtained (shown under the tables)."""
    lines = []
    if "w2v" in tools:
        lines.append("w2v: training time from its own stats; trained words = sum of its per-epoch `words` "
                     "(in-vocabulary tokens), expected = in-vocabulary tokens of the slice x epochs.")
    if {"gensim", "gensim-corpus-file"} & set(tools):
        lines.append("gensim: `build_vocab` and `train` timed apart; trained words = the raw word count "
                     "`train()` returns, expected = raw tokens x epochs.")
    fasttext = runner.fasttext.kind if "fasttext" in tools else None
    if fasttext == "cli":
        lines.append("fastText CLI (" + runner.fasttext.how + "): training time from its own output, "
                     "between 'Number of labels' (vocabulary read) and the final 'Progress: 100.0%' line; "
                     "it reports no count of trained words (n/a).")
    elif fasttext == "python":
        lines.append("fastText Python bindings (" + runner.fasttext.how + "): `train_unsupervised` reads the "
                     "vocabulary and trains in one call, so its training time includes the vocabulary pass.")
    if "word2vec-c" in tools and "word2vec-c" not in unavailable:
        lines.append("word2vec C tool (" + runner.word2vec_c.how + "): training time from the end of its "
                     "vocabulary pass ('Words in train file') to its exit, so it includes building its noise "
                     "table and writing its binary vectors (a fraction of a second each); " + (
                         "repeat r runs -seed r (added to it by this benchmark)" if runner.word2vec_c.seeded else
                         "a binary given as it is has no seed (its threads' generators start from their numbers: "
                         "its repeats differ by thread timing only)")
                     + "; trained words estimated from its last 'Progress' report (printed every 10,000 words a "
                     "thread).")
    lines += [f"{TOOL_LABELS.get(t, t)} left out: {reason}" for t, reason in unavailable.items() if t in tools]
    return lines


def write_outputs(out: Path, results: dict, text: str, python: Path) -> None:
    """results.json, results.md, and results.png (drawn in the bench venv; a failure is only logged)."""
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "results.md").write_text(text)
    proc = subprocess.run([str(python), str(HERE / "plot_job.py"), str(out / "results.json"),
                           str(out / "results.png")], capture_output=True, text=True)
    if proc.returncode != 0:
        log("plot: failed: " + (proc.stderr.strip().splitlines() or ["(no output)"])[-1])
    log(f"wrote {out / 'results.md'}, {out / 'results.json'}, {out / 'results.png'}")


def append_results(path: Path, title: str, text: str) -> None:
    """Append the report as a section of ``path`` titled ``title`` (the file is created if absent)."""
    head = "" if path.exists() else "# Benchmark results\n\nWritten by `benchmarks/compare.py --write-results`.\n"
    with open(path, "a") as f:
        f.write(f"{head}\n## {title}\n\n{text}")
    log(f"appended a section to {path}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when at least one run succeeded."""
    args = parse_args(argv)
    if not args.corpus.exists():
        log(f"error: corpus {args.corpus} not found. The benchmark corpus lives in ../shared/data "
            "(see its README.md); give another with --corpus FILE.")
        return 2
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    settings = Settings(args.dim, args.window, args.negative, args.sample, args.min_count, args.epochs)

    try:
        python = ensure_venv(REPO, args.venv.resolve(), log, install=not args.no_install)
    except RuntimeError as exc:
        log(f"error: {exc}")
        return 2
    fasttext = ensure_fasttext(python, log, install=not args.no_install and "fasttext" in args.tools)
    word2vec_c = ensure_word2vec_c(args.word2vec_c, out, log) if "word2vec-c" in args.tools else \
        CTool(reason="not asked for")
    runner = Runner(python, fasttext, out,
                    evaluator=args.evaluator, eval_dir=args.corpus.resolve().parent / "eval",
                    keep_vectors=args.keep_vectors, word2vec_c=word2vec_c)
    unavailable = {t: why for t in args.tools
                   if (why := tool_available(python, t, runner.fasttext, runner.word2vec_c))}
    for tool, why in unavailable.items():
        log(f"{tool}: unavailable: {why}")

    corpus = prepare_slice(args.corpus, out, args.tokens, args.min_count, log)
    if not args.no_warmup:
        tiny = prepare_slice(args.corpus, out, min(WARMUP_TOKENS, corpus.tokens), args.min_count, log)
        warm_up(runner, args.tools, args.models, tiny, settings, unavailable, tuple(args.losses))

    jobs = schedule(args.tools, args.models, args.threads, args.repeats, corpus, settings, tuple(args.losses))
    runs = run_jobs(runner, jobs, unavailable)

    short_runs: list[RunResult] = []  # the end-to-end table's short trainings, logs in <out>/epochs<E>
    short_tools = [t for t in ("w2v", *GENSIM_MODES) if t in args.tools]
    if args.short_epochs > 0 and "w2v" in short_tools and len(short_tools) > 1:
        short = dataclasses.replace(settings, epochs=args.short_epochs)
        short_jobs = [Job(tool, model, n, rep, corpus, short, evaluate=False)
                      for rep in range(args.repeats) for n in args.threads for model in args.models
                      for tool in short_tools[rep % len(short_tools):] + short_tools[:rep % len(short_tools)]]
        short_runs = run_jobs(dataclasses.replace(runner, out_dir=out / f"epochs{args.short_epochs}"), short_jobs,
                              unavailable)

    scaling_runs: list[RunResult] = []
    if args.scaling:
        small = prepare_slice(args.corpus, out, corpus.tokens // SCALING_RATIO, args.min_count, log)
        tools = [t for t in ("w2v", "gensim") if t not in unavailable]
        scaling_jobs = [Job(tool, model, max(args.threads), 0, size, settings, evaluate=False)
                        for model in args.models for size in (small, corpus) for tool in tools]
        scaling_runs = run_jobs(runner, scaling_jobs, unavailable)

    date = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    key = str(args.min_count)
    corpus_info = dict(vars(corpus), source_name=Path(corpus.source).name,
                       in_vocab_tokens=corpus.in_vocab_tokens[key], vocab_size=corpus.vocab_size[key])
    meta = {"date": date, "machine": machine(), "python": platform.python_version(), "repeats": args.repeats,
            "settings": vars(settings), "corpus": corpus_info, "notes": notes(runner, unavailable, args.tools)}
    rows = summarize(runs)
    ratios = speed_ratios(runs, "w2v") + speed_ratios(runs, "w2v-no-hogbatch")
    scaling = scaling_rows(scaling_runs) if scaling_runs else None
    e2e = end_to_end_ratios(runs, args.epochs) + end_to_end_ratios(short_runs, args.short_epochs)
    text = markdown(meta, rows, ratios, scaling, e2e)
    results = dict(meta, argv=sys.argv[1:], tool_labels=TOOL_LABELS, fasttext=vars(runner.fasttext),
                   unavailable=unavailable, summary=rows, ratios=ratios, scaling=scaling,
                   runs=[r.to_dict() for r in runs], scaling_runs=[r.to_dict() for r in scaling_runs],
                   end_to_end=e2e, short_runs=[r.to_dict() for r in short_runs])
    write_outputs(out, results, text, python)
    if args.write_results:
        threads = ", ".join(map(str, args.threads))
        losses = f", loss{'es' if len(args.losses) > 1 else ''} {', '.join(args.losses)}"
        append_results(args.results_md, f"{date[:10]}: {corpus.tokens:,} tokens, {args.epochs} epochs, "
                                        f"threads {threads}{losses}", text)
    print(text)
    return 0 if any(r.error is None for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
