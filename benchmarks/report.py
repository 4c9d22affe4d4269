"""Turn the runs of a benchmark into summary rows, speed ratios, a Markdown report and a JSON file."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Iterable

from runners import TOOLS, TRAINED_WORDS_FLAG, RunResult

TOOL_LABELS = {"w2v": "w2v", "w2v-no-hogbatch": "w2v --no-hogbatch", "gensim": "gensim (iterable)", "gensim-corpus-file": "gensim (corpus_file)",
               "fasttext": "fastText (no subwords)"}
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
    return run.tool, run.model, run.threads, run.tokens


def _order(key: tuple) -> tuple:
    """Table order: corpus size, model (sg first), threads, then the tools in their fixed order."""
    tool, model, threads, tokens = key
    return tokens, model != "sg", threads, TOOLS.index(tool) if tool in TOOLS else len(TOOLS)


def summarize(runs: list[RunResult]) -> list[dict]:
    """One row per tool x model x threads x corpus size: each metric's spread, the errors of failed runs."""
    groups: dict[tuple, list[RunResult]] = {}
    for run in runs:
        groups.setdefault(_key(run), []).append(run)
    rows = []
    for key in sorted(groups, key=_order):
        group = groups[key]
        ok = [r for r in group if r.error is None]
        row = dict(zip(("tool", "model", "threads", "tokens"), key), runs=len(group), ok=len(ok),
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
    speed = {(r.tool, r.model, r.threads, r.tokens, r.repeat): r.words_per_second_train for r in runs
             if r.error is None and r.words_per_second_train}
    repeats = sorted({key[4] for key in speed})
    rows = []
    configs = sorted({key[1:4] for key in speed}, key=lambda c: (c[2], c[0] != "sg", c[1]))
    for model, threads, tokens in configs:
        for peer in (tool for tool in TOOLS if not tool.startswith("w2v")):
            pairs = [((baseline, model, threads, tokens, rep), (peer, model, threads, tokens, rep))
                     for rep in repeats]
            spread = Spread.of(speed[mine] / speed[theirs] for mine, theirs in pairs
                               if mine in speed and theirs in speed)
            if spread:
                rows.append({"baseline": baseline, "peer": peer, "model": model, "threads": threads,
                             "tokens": tokens, "ratio": vars(spread)})
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
    lines = ["| tool | model | threads | words/s (train) | words/s (end to end) | train s | peak RSS MB "
             "| trained words % | analogy % | WS-353 |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        head = f"| {TOOL_LABELS.get(row['tool'], row['tool'])} | {row['model']} | {row['threads']} |"
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
    lines = ["| model | threads | w2v variant / peer | speed ratio (train) | pairs |", "| --- | ---: | --- | ---: | ---: |"]
    for r in ratios:
        mine = TOOL_LABELS.get(r["baseline"], r["baseline"])
        lines.append(f"| {r['model']} | {r['threads']} | {mine} / {TOOL_LABELS.get(r['peer'], r['peer'])} | "
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


def markdown(meta: dict, rows: list[dict], ratios: list[dict], scaling: list[dict] | None) -> str:
    """The whole report: setup, the results table, the ratios, optional scaling, and the definitions."""
    s = meta["settings"]
    corpus = meta["corpus"]
    evaluators = sorted({r["evaluator"] for r in rows if r["evaluator"]}) or ["none"]
    parts = [
        f"Run {meta['date']} on {meta['machine']}; corpus `{corpus['source_name']}`, first "
        f"{corpus['tokens']:,} tokens in {corpus['lines']:,} lines of {corpus['line_tokens']:,} tokens "
        f"({corpus['in_vocab_tokens']:,} in-vocabulary tokens per epoch); dim {s['dim']}, window {s['window']}, "
        f"negative {s['negative']}, sample {s['sample']:g}, min_count {s['min_count']}, {s['epochs']} epochs, "
        f"alpha 0.025 sg / 0.05 cbow; {meta['repeats']} repeat(s), interleaved; evaluator: "
        f"{', '.join(evaluators)}.",
        "",
        results_table(rows),
        "",
        "Speed ratio of w2v to each peer, training words per second, paired by repeat:",
        "",
        ratio_table(ratios) if ratios else "(no pairs: w2v or every peer missing)",
    ]
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
