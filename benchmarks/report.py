"""Turn the runs of a benchmark into summary rows, speed ratios, a Markdown report and a JSON file."""

from __future__ import annotations

import os
import platform
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from runners import LOSSES, TOOLS, TRAINED_WORDS_FLAG, RunResult


def cpu_name() -> str:
    """The CPU's model name (the machine's architecture when /proc/cpuinfo does not say)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    """The CPU model and core count, for the reports."""
    return f"{cpu_name()}, {os.cpu_count()} cores"

TOOL_LABELS = {"w2v": "w2v", "w2v-no-hogbatch": "w2v --no-hogbatch", "gensim": "gensim (iterable)", "gensim-corpus-file": "gensim (corpus_file)",
               "fasttext": "fastText (no subwords)", "word2vec-c": "word2vec.c (the C tool)"}
METRICS = ("words_per_second_train", "words_per_second_end_to_end", "train_seconds", "peak_rss_mb",
           "trained_percent", "analogy", "ws353")


@dataclass(frozen=True)
class Spread:
    """Mean, minimum and maximum of one figure over repeats (``n`` values)."""

    mean: float
    low: float
    high: float
    n: int

    @staticmethod
    def of(values: Iterable[float | None]) -> "Spread | None":
        """The spread of the values that are not None; None when there are none."""
        present = [v for v in values if v is not None]
        if not present:
            return None
        return Spread(statistics.fmean(present), min(present), max(present), len(present))


def _key(run: RunResult) -> tuple:
    """Runs with the same key are repeats of one configuration."""
    return run.tool, run.model, run.threads, run.tokens, run.loss


def _order(key: tuple) -> tuple:
    """Table order: corpus size, model (sg first), loss (ns first), threads, then the tools in their fixed
    order."""
    tool, model, threads, tokens, loss = key
    return (tokens, model != "sg", LOSSES.index(loss) if loss in LOSSES else len(LOSSES), threads,
            TOOLS.index(tool) if tool in TOOLS else len(TOOLS))


def summarize(runs: list[RunResult]) -> list[dict]:
    """One row per tool x model x threads x corpus size: each metric's spread, the errors of failed runs."""
    groups: dict[tuple, list[RunResult]] = {}
    for run in runs:
        groups.setdefault(_key(run), []).append(run)
    rows = []
    for key in sorted(groups, key=_order):
        group = groups[key]
        ok = [r for r in group if r.error is None]
        row = dict(zip(("tool", "model", "threads", "tokens", "loss"), key), runs=len(group), ok=len(ok),
                   errors=sorted({r.error for r in group if r.error}),
                   evaluator=next((r.evaluator for r in ok if r.evaluator), None),
                   eval_errors=sorted({r.extra["eval_error"] for r in ok if "eval_error" in r.extra}),
                   warnings=sorted({r.extra["warning"] for r in ok if "warning" in r.extra}),
                   version=next((r.version for r in ok if r.version), None))
        for metric in METRICS:
            spread = Spread.of(getattr(r, metric) for r in ok)
            row[metric] = None if spread is None else vars(spread)
        rows.append(row)
    return rows


def speed_ratios(runs: list[RunResult], baseline: str = "w2v") -> list[dict]:
    """The training speed of ``baseline`` over each peer's, per pair of runs of the same repeat.

    Pairing by repeat cancels most of the machine's drift, which hits both runs of a repeat alike.
    """
    speed = {(r.tool, r.model, r.threads, r.tokens, r.loss, r.repeat): r.words_per_second_train for r in runs
             if r.error is None and r.words_per_second_train}
    repeats = sorted({key[5] for key in speed})
    rows = []
    configs = sorted({key[1:5] for key in speed}, key=lambda c: (c[2], c[0] != "sg", c[3] != "ns", c[1]))
    for model, threads, tokens, loss in configs:
        for peer in (tool for tool in TOOLS if not tool.startswith("w2v")):
            pairs = [((baseline, model, threads, tokens, loss, rep), (peer, model, threads, tokens, loss, rep))
                     for rep in repeats]
            spread = Spread.of(speed[mine] / speed[theirs] for mine, theirs in pairs
                               if mine in speed and theirs in speed)
            if spread:
                rows.append({"baseline": baseline, "peer": peer, "model": model, "threads": threads,
                             "tokens": tokens, "loss": loss, "ratio": vars(spread)})
    return rows


def scaling_rows(runs: list[RunResult]) -> list[dict]:
    """Per tool x model x threads: training time and peak RSS at each corpus size, and the growth of time."""
    rows = sorted(summarize(runs), key=lambda r: (r["model"] != "sg", r["threads"], TOOLS.index(r["tool"]),
                                                  r["tokens"]))
    for row in rows:
        smaller = [r for r in rows if (r["tool"], r["model"], r["threads"]) == (row["tool"], row["model"],
                                                                                row["threads"])
                   and r["tokens"] < row["tokens"] and r["train_seconds"]]
        if smaller and row["train_seconds"]:
            base = max(smaller, key=lambda r: r["tokens"])
            row["time_growth"] = row["train_seconds"]["mean"] / base["train_seconds"]["mean"]
            row["size_growth"] = row["tokens"] / base["tokens"]
    return rows


GENSIM_MODES = ("gensim", "gensim-corpus-file")


def whole_seconds(run: RunResult) -> float | None:
    """Seconds from launching the process to its end, the vectors written (end to end plus the export)."""
    if run.error is not None or run.end_to_end_seconds is None:
        return None
    return run.end_to_end_seconds + float(run.extra.get("save_seconds", 0.0))


def end_to_end_ratios(runs: list[RunResult], epochs: int) -> list[dict]:
    """The whole process of w2v against gensim's faster mode (the one with the shorter mean whole-process
    time, per model), paired by repeat: gensim's seconds over w2v's.  Also w2v's reading (pass 1 and
    pass 2, from its stats) and its rate."""
    times = {(r.tool, r.model, r.threads, r.tokens, r.loss, r.repeat): whole_seconds(r) for r in runs}
    times = {k: v for k, v in times.items() if v}
    reading = {(r.model, r.threads, r.tokens, r.loss, r.repeat): r.extra["stats"] for r in runs
               if r.tool == "w2v" and r.error is None and "stats" in r.extra}
    rows = []
    for model, threads, tokens, loss in sorted({k[1:5] for k in times if k[0] == "w2v"},
                                               key=lambda c: (c[2], c[0] != "sg", c[1])):
        reps = sorted(k[5] for k in times if k[:5] == ("w2v", model, threads, tokens, loss))
        modes = {m: Spread.of(times.get((m, model, threads, tokens, loss, rep)) for rep in reps)
                 for m in GENSIM_MODES}
        modes = {m: s for m, s in modes.items() if s}
        if not modes:
            continue
        peer = min(modes, key=lambda m: modes[m].mean)
        pairs = [(times[("w2v", model, threads, tokens, loss, rep)], times.get((peer, model, threads, tokens, loss, rep)))
                 for rep in reps]
        stats = [reading.get((model, threads, tokens, loss, rep)) for rep in reps]
        read = [st["vocab_seconds"] + st["encode_seconds"] for st in stats if st]
        rows.append({"model": model, "threads": threads, "tokens": tokens, "loss": loss, "epochs": epochs,
                     "peer": peer, "w2v_seconds": vars(Spread.of(p[0] for p in pairs)),
                     "peer_seconds": vars(modes[peer]),
                     "ratio": vars(Spread.of(theirs / mine for mine, theirs in pairs if theirs) or Spread(0, 0, 0, 0)),
                     "reading_seconds": vars(Spread.of(read)) if read else None,
                     "reading_rate": vars(Spread.of(tokens / x for x in read)) if read else None})
    return rows


def end_to_end_table(rows: list[dict]) -> str:
    """w2v's whole process against gensim's faster mode, and w2v's reading."""
    lines = ["| model | loss | epochs | threads | w2v s | gensim's faster mode | its s | ratio | w2v reading s "
             "| reading tokens/s |", "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['loss']} | {r['epochs']} | {r['threads']} | {_fmt(r['w2v_seconds'], 1)} | "
                     f"{TOOL_LABELS.get(r['peer'], r['peer'])} | {_fmt(r['peer_seconds'], 1)} | "
                     f"{_fmt(r['ratio'], 2)} | {_fmt(r['reading_seconds'], 2)} | {_fmt(r['reading_rate'])} |")
    return "\n".join(lines)


# ---- Markdown ---------------------------------------------------------------------------------------------

def _fmt(spread: dict | None, digits: int = 0, scale: float = 1.0, show_range: bool = True) -> str:
    """``mean (min-max)`` of a spread, or ``-`` when absent; the range only when there are 2+ values."""
    if not spread:
        return "-"
    mean, low, high = (spread[k] * scale for k in ("mean", "low", "high"))
    text = f"{mean:,.{digits}f}"
    if show_range and spread["n"] > 1:
        text += f" ({low:,.{digits}f}-{high:,.{digits}f})"
    return text


def _trained_cell(row: dict) -> str:
    """The trained-words share, flagged when a run trained less than it should have."""
    spread = row["trained_percent"]
    if not spread:
        return "n/a" if row["tool"] == "fasttext" else "-"
    text = _fmt(spread, 1, show_range=False)
    return f"**{text} LOW**" if spread["low"] < TRAINED_WORDS_FLAG else text


def results_table(rows: list[dict]) -> str:
    """The main table: one line per tool x model x threads, mean (min-max) over repeats."""
    lines = ["| tool | model | loss | threads | words/s (train) | words/s (end to end) | train s | peak RSS MB "
             "| trained words % | analogy % | WS-353 |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        head = (f"| {TOOL_LABELS.get(row['tool'], row['tool'])} | {row['model']} | {row.get('loss', 'ns')} | "
                f"{row['threads']} |")
        if not row["ok"]:
            lines.append(head + f" {'; '.join(row['errors'])} | | | | | | |")
            continue
        cells = [_fmt(row["words_per_second_train"]), _fmt(row["words_per_second_end_to_end"]),
                 _fmt(row["train_seconds"], 1), _fmt(row["peak_rss_mb"], show_range=False), _trained_cell(row),
                 _fmt(row["analogy"], 1, scale=100.0), _fmt(row["ws353"], 3)]
        lines.append(f"{head} {' | '.join(cells)} |")
    return "\n".join(lines)


def ratio_table(ratios: list[dict]) -> str:
    """Speed ratios w2v / peer (training words per second), mean (min-max) over paired repeats."""
    lines = ["| model | loss | threads | w2v variant / peer | speed ratio (train) | pairs |",
             "| --- | --- | ---: | --- | ---: | ---: |"]
    for r in ratios:
        mine = TOOL_LABELS.get(r["baseline"], r["baseline"])
        lines.append(f"| {r['model']} | {r.get('loss', 'ns')} | {r['threads']} | {mine} / "
                     f"{TOOL_LABELS.get(r['peer'], r['peer'])} | "
                     f"{_fmt(r['ratio'], 2)} | {r['ratio']['n']} |")
    return "\n".join(lines)


def scaling_table(rows: list[dict]) -> str:
    """How training time and memory grow with the corpus (w2v and gensim iterable)."""
    lines = ["| tool | model | threads | tokens | train s | words/s (train) | peak RSS MB | time growth |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        growth = (f"x{row['time_growth']:.2f} for x{row['size_growth']:.0f} words" if "time_growth" in row
                  else "-")
        if not row["ok"]:
            growth = "; ".join(row["errors"])
        lines.append(f"| {TOOL_LABELS.get(row['tool'], row['tool'])} | {row['model']} | {row['threads']} | "
                     f"{row['tokens']:,} | {_fmt(row['train_seconds'], 1)} | {_fmt(row['words_per_second_train'])} | "
                     f"{_fmt(row['peak_rss_mb'], show_range=False)} | {growth} |")
    return "\n".join(lines)


def markdown(meta: dict, rows: list[dict], ratios: list[dict], scaling: list[dict] | None,
             end_to_end: list[dict] | None = None) -> str:
    """The whole report: setup, the results table, the ratios, optional scaling, and the definitions."""
    s = meta["settings"]
    corpus = meta["corpus"]
    evaluators = sorted({r["evaluator"] for r in rows if r["evaluator"]}) or ["none"]
    parts = [
        f"Run {meta['date']} on {meta['machine']}; corpus `{corpus['source_name']}`, first "
        f"{corpus['tokens']:,} tokens in {corpus['lines']:,} lines of {corpus['line_tokens']:,} tokens "
        f"({corpus['in_vocab_tokens']:,} in-vocabulary tokens per epoch); dim {s['dim']}, window {s['window']}, "
        f"negative {s['negative']} (loss ns; hs: hierarchical softmax alone, gensim hs=1 negative=0), sample {s['sample']:g}, min_count {s['min_count']}, {s['epochs']} epochs, "
        f"alpha 0.025 sg / 0.05 cbow; {meta['repeats']} repeat(s), interleaved, repeat r with seed r for every "
        f"tool; evaluator: "
        f"{', '.join(evaluators)}.",
        "",
        results_table(rows),
        "",
        "Speed ratio of w2v to each peer, training words per second, paired by repeat:",
        "",
        ratio_table(ratios) if ratios else "(no pairs: w2v or every peer missing)",
    ]
    if end_to_end:
        parts += ["", "Whole process, launch to the vectors written (interpreter, imports, reading, training, "
                  "export), w2v against gensim's faster mode for that model in this run; ratio = gensim's "
                  "seconds / w2v's, paired by repeat; w2v's reading = its pass 1 and pass 2 from its stats "
                  "(Numba's cache load included):", "", end_to_end_table(end_to_end)]
    if scaling:
        parts += ["", "Scaling with corpus size (one run per size):", "", scaling_table(scaling)]
    notes = [f"- {TOOL_LABELS.get(r['tool'], r['tool'])} {r['model']} t{r['threads']}: evaluation failed: "
             f"{'; '.join(r['eval_errors'])}" for r in rows if r["eval_errors"]]
    notes += [f"- {TOOL_LABELS.get(r['tool'], r['tool'])} {r['model']} t{r['threads']}: warning: "
              f"{'; '.join(r['warnings'])}" for r in rows if r["warnings"]]
    notes += [f"- {line}" for line in meta.get("notes", [])]
    parts += ["", "Columns: words/s counts raw corpus tokens (slice tokens x epochs, the same for every tool) "
              "per wall second; *train* is training only (vocabulary excluded where the tool separates it), "
              "*end to end* is from process launch to the end of training (vectors' export excluded); "
              "values are mean (min-max) over repeats.  *trained words %*: the words the tool reports it "
              f"trained over the expected ones (flagged LOW under {TRAINED_WORDS_FLAG:g}%).  analogy: Google "
              "analogies with all four words among the 30,000 most frequent; WS-353: Spearman correlation."]
    if notes:
        parts += ["", "Notes:", "", *notes]
    return "\n".join(parts) + "\n"
