"""w2v's Phrases against gensim's on the same file, with the same counts, thresholds and scorer.

    .venv/bin/python benchmarks/phrases.py                    # the whole benchmark corpus, 2 repeats
    .venv/bin/python benchmarks/phrases.py --tokens 2000000 --repeats 1 --write-results

Both tools learn one pass of phrases from the benchmark file (1,000 tokens a line, as compare.py writes it)
and write it back with the phrases joined, uncompressed.  gensim gets the C tool's score through a custom
scorer with N, the number of tokens (its own default multiplies by its vocabulary size instead), so both
score every pair the same way.  Each tool runs in a fresh process (after an unmeasured warm-up run on a tiny
slice that fills Numba's cache), the tools alternating; the clock starts after the imports, and for w2v
after Numba's one-time start in the process (a first tiny call), and reports:

- w2v: ``Phrases(...).learn(FILE, output=OUT)``: learning, then writing OUT from the text kept by the first
  pass (what ``w2v phrases FILE -o OUT`` does); also, apart, ``Phrases.write(FILE, OUT)``, which reads the
  file again (what ``w2v phrases --apply`` does);
- gensim: ``Phrases(LineSentence(FILE), ...)`` for learning; applying as ``phrases[LineSentence(FILE)]``
  written line by line, and, apart, ``freeze()`` then the frozen model's ``[...]``; its faster way counts.

Then: the speed ratio (gensim's learn + apply over w2v's), the share of gensim's 1,000 best phrases (by
score) that w2v finds too, whether both found the same phrases with the same scores, and whether both
output files are byte for byte the same.  Needs gensim in the running interpreter (the test extras have it).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from report import machine  # noqa: E402  (a sibling module of the benchmarks)

REPO = HERE.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "enwiki-100m.txt.gz"
WARMUP_TOKENS = 50_000
TOP = 1000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the jobs (each in its own process) ------------------------------------------------------------------------
def scorer_with_n(worda_count, wordb_count, bigram_count, len_vocab, min_count, corpus_word_count):
    """gensim's original_scorer with N = corpus_word_count (the C tool's score, and w2v's)."""
    return (bigram_count - min_count) / (worda_count * wordb_count) * corpus_word_count


def job_w2v(corpus: str, out: Path, min_count: int, threshold: float) -> dict:
    from w2v.phrases import Phrases

    # Numba's one-time start in a process (0.25-0.45 s here: it loads its registries, and imports
    # scipy.linalg to look for BLAS) happens before the clock, as gensim's imports do
    Phrases(min_count=1, threshold=1).learn([["a", "b"]] * 2, output=out / "w2v-start.txt")
    t0, c0 = time.perf_counter(), time.process_time()
    ph = Phrases(min_count=min_count, threshold=threshold).learn(corpus, output=out / "w2v.txt")
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    learn, write = ph.stats["learn_seconds"], ph.stats["write_seconds"]
    t1 = time.perf_counter()
    ph.write(corpus, out / "w2v-reread.txt")
    reread = time.perf_counter() - t1
    phrases = ph.phrases
    return {"learn_s": learn, "apply_s": total - learn, "write_s": write, "total_s": total, "cpu_s": cpu,
            "apply_reread_s": reread, "phrases": len(phrases), "tokens": ph.stats["passes"][0]["tokens"],
            "table": sorted(phrases.items(), key=lambda kv: -kv[1])}


def job_gensim(corpus: str, out: Path, min_count: int, threshold: float) -> dict:
    from gensim.models.phrases import Phrases
    from gensim.models.word2vec import LineSentence

    t0, c0 = time.perf_counter(), time.process_time()
    ph = Phrases(LineSentence(corpus), min_count=min_count, threshold=threshold, scoring=scorer_with_n)
    learn, learn_cpu = time.perf_counter() - t0, time.process_time() - c0
    t1, c1 = time.perf_counter(), time.process_time()
    with open(out / "gensim.txt", "w", encoding="utf-8") as f:
        for sentence in ph[LineSentence(corpus)]:
            f.write(" ".join(sentence) + "\n")
    apply_direct, direct_cpu = time.perf_counter() - t1, time.process_time() - c1
    t2, c2 = time.perf_counter(), time.process_time()
    frozen = ph.freeze()
    with open(out / "gensim-frozen.txt", "w", encoding="utf-8") as f:
        freeze = time.perf_counter() - t2
        for sentence in frozen[LineSentence(corpus)]:
            f.write(" ".join(sentence) + "\n")
    apply_frozen, frozen_cpu = time.perf_counter() - t2 - freeze, time.process_time() - c2
    best = min(apply_direct, freeze + apply_frozen)
    best_cpu = direct_cpu if best == apply_direct else frozen_cpu
    return {"learn_s": learn, "apply_s": best, "apply_direct_s": apply_direct, "freeze_s": freeze,
            "apply_frozen_s": apply_frozen, "total_s": learn + best, "cpu_s": learn_cpu + best_cpu,
            "phrases": len(frozen.phrasegrams),
            "tokens": ph.corpus_word_count, "table": sorted(frozen.phrasegrams.items(), key=lambda kv: -kv[1])}


def run_job(tool: str, corpus: str, out: Path, min_count: int, threshold: float) -> dict:
    """Run one job in a fresh interpreter; its result, with the peak RSS and wall time of the process."""
    out.mkdir(parents=True, exist_ok=True)
    result_path = out / f"{tool}.json"
    cmd = [sys.executable, __file__, "--job", tool, "--corpus", corpus, "--out", str(out),
           "--min-count", str(min_count), "--threshold", str(threshold)]
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    stderr = proc.stderr.read()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{tool} failed:\n{stderr}")
    result = json.loads(result_path.read_text())
    result.update(process_s=wall, peak_rss_mb=usage.ru_maxrss / 1024, load=load)
    return result


# -- comparing ---------------------------------------------------------------------------------------------
def same_bytes(a: Path, b: Path) -> bool:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def compare_tables(w2v: list, gensim: list) -> dict:
    ours, theirs = dict(w2v), dict(gensim)
    top = [p for p, _ in gensim[:TOP]]
    common = set(ours) & set(theirs)
    diffs = [abs(ours[p] - theirs[p]) / abs(theirs[p]) for p in common]
    return {"top_share": sum(p in ours for p in top) / max(1, len(top)), "top_n": len(top),
            "only_w2v": len(set(ours) - set(theirs)), "only_gensim": len(set(theirs) - set(ours)),
            "common": len(common), "max_rel_score_diff": max(diffs, default=0.0)}


def report(corpus, runs: list[dict], cmp: dict, identical: bool, args) -> str:
    def mean(key, tool):
        values = [r[tool][key] for r in runs]
        return sum(values) / len(values), min(values), max(values)

    def fmt(key, tool):
        m, lo, hi = mean(key, tool)
        return f"{m:.2f}" if len(runs) == 1 else f"{m:.2f} ({lo:.2f}-{hi:.2f})"

    ratios = [r["gensim"]["total_s"] / r["w2v"]["total_s"] for r in runs]
    cpu_ratios = [r["gensim"]["cpu_s"] / r["w2v"]["cpu_s"] for r in runs]
    loads = ", ".join(f"{r['w2v']['load']:.1f} / {r['gensim']['load']:.1f}" for r in runs)
    ratio = sum(ratios) / len(ratios)
    w, g = runs[-1]["w2v"], runs[-1]["gensim"]
    lines = [
        f"`benchmarks/phrases.py --tokens {args.tokens or 'all'} --repeats {args.repeats}`: {corpus.tokens:,} "
        f"tokens in lines of 1,000, min_count {args.min_count}, threshold {args.threshold:g}, the C tool's "
        f"score with N = {w['tokens']:,} on both sides; {machine()}; seconds, mean (min-max) over "
        f"{len(runs)} interleaved run(s), each tool in a fresh process.",
        "",
        "| tool | learn s | apply s | learn + apply s | CPU s | phrases | peak RSS MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| w2v (`learn(FILE, output=OUT)`) | {fmt('learn_s', 'w2v')} | {fmt('apply_s', 'w2v')} | "
        f"**{fmt('total_s', 'w2v')}** | {fmt('cpu_s', 'w2v')} | {w['phrases']:,} | "
        f"{mean('peak_rss_mb', 'w2v')[0]:.0f} |",
        f"| gensim 4.4 (`Phrases`, best apply) | {fmt('learn_s', 'gensim')} | {fmt('apply_s', 'gensim')} | "
        f"**{fmt('total_s', 'gensim')}** | {fmt('cpu_s', 'gensim')} | {g['phrases']:,} | "
        f"{mean('peak_rss_mb', 'gensim')[0]:.0f} |",
        "",
        f"- **Speed ratio** (gensim / w2v, learn + apply, paired by run): **{ratio:.1f}x** "
        f"({', '.join(f'{r:.1f}' for r in ratios)}); median {sorted(ratios)[len(ratios) // 2]:.1f}x.",
        f"- Ratio of CPU seconds (all threads, the same spans): {sum(cpu_ratios) / len(cpu_ratios):.1f}x "
        f"({', '.join(f'{r:.1f}' for r in cpu_ratios)}): less sensitive to the other sessions' load than wall "
        "time.",
        f"- w2v applying by reading the file again (`Phrases.write`, as `--apply` does): "
        f"{fmt('apply_reread_s', 'w2v')} s.",
        f"- gensim applying: `phrases[sentences]` {fmt('apply_direct_s', 'gensim')} s; `freeze()` "
        f"{fmt('freeze_s', 'gensim')} s then the frozen model {fmt('apply_frozen_s', 'gensim')} s.",
        f"- **gensim's {cmp['top_n']:,} best phrases found by w2v: {100 * cmp['top_share']:.1f}%**; phrases in "
        f"common {cmp['common']:,}, only w2v {cmp['only_w2v']:,}, only gensim {cmp['only_gensim']:,}; largest "
        f"relative score difference {cmp['max_rel_score_diff']:.1e}.",
        f"- Output files byte for byte identical: {'yes' if identical else 'no'}.",
        f"- Load average (1 min) when each run started, w2v / gensim: {loads} (other sessions may share the "
        "machine).",
        "- The clock starts after the imports, and for w2v after Numba's one-time start in the process, as "
        "gensim's imports are left out.  w2v's output is written atomically and fsynced; gensim's is not.",
        ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="text corpus (.txt or .gz), any lines")
    p.add_argument("--tokens", type=int, default=None, help="only the first N tokens (default: all)")
    p.add_argument("--repeats", type=int, default=2, help="runs of each tool, interleaved")
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument("--threshold", type=float, default=100.0)
    p.add_argument("--out", type=Path, default=HERE / "out", help="the corpus slice and the outputs")
    p.add_argument("--write-results", action="store_true", help="append the report to RESULTS.md")
    p.add_argument("--results-md", type=Path, default=HERE / "RESULTS.md")
    p.add_argument("--job", choices=("w2v", "gensim"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.job:  # a child process: one tool, one run
        jobs = {"w2v": job_w2v, "gensim": job_gensim}
        result = jobs[args.job](str(args.corpus), args.out, args.min_count, args.threshold)
        result["child_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        (args.out / f"{args.job}.json").write_text(json.dumps(result))
        return 0

    if not args.corpus.exists():
        log(f"error: corpus {args.corpus} not found (the benchmark corpus lives in ../shared/data)")
        return 2
    from corpus_slice import prepare_slice

    corpus = prepare_slice(args.corpus, args.out, args.tokens, args.min_count, log=log)
    warm = prepare_slice(args.corpus, args.out, WARMUP_TOKENS, args.min_count, log=log)
    run_job("w2v", warm.path, args.out / "phrases-warmup", args.min_count, args.threshold)
    runs = []
    for r in range(args.repeats):
        run = {}
        for tool in (("w2v", "gensim") if r % 2 == 0 else ("gensim", "w2v")):
            log(f"run {r + 1}/{args.repeats}: {tool} ...")
            run[tool] = run_job(tool, corpus.path, args.out / "phrases", args.min_count, args.threshold)
            log(f"  learn {run[tool]['learn_s']:.2f} s, apply {run[tool]['apply_s']:.2f} s, "
                f"{run[tool]['phrases']:,} phrases, peak RSS {run[tool]['peak_rss_mb']:.0f} MB")
        runs.append(run)
    cmp = compare_tables(runs[-1]["w2v"]["table"], runs[-1]["gensim"]["table"])
    identical = same_bytes(args.out / "phrases" / "w2v.txt", args.out / "phrases" / "gensim.txt")
    text = report(corpus, runs, cmp, identical, args)
    print(text)
    (args.out / "phrases" / "results.json").write_text(json.dumps(
        {"runs": [{t: {k: v for k, v in r[t].items() if k != "table"} for t in r} for r in runs], "compare": cmp,
         "identical_output": identical}, indent=1))
    if args.write_results:
        title = f"Phrases: w2v against gensim ({datetime.date.today().isoformat()}, " \
                f"{'full corpus' if args.tokens is None else f'{corpus.tokens:,} tokens'}, {len(runs)} run(s))"
        with open(args.results_md, "a", encoding="utf-8") as f:
            f.write(f"\n## {title}\n\n{text}")
        log(f"appended a section to {args.results_md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
