"""Draw ``results.png`` from ``results.json``, inside the benchmark venv (which has matplotlib).

    python plot_job.py results.json results.png

One panel per model (sg, cbow): a bar per tool and thread count, its height the mean training speed in raw
words per second, the whisker the min-max over repeats, and the analogy accuracy written on the bar.
"""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

COLOURS = {"w2v": "#d62728", "gensim": "#1f77b4", "gensim-corpus-file": "#6baed6", "fasttext": "#2ca02c"}


def plot(results: dict, path: str) -> None:
    """Write the bar chart of ``results['summary']`` (the main corpus size only) to ``path``."""
    tokens = results["corpus"]["tokens"]
    rows = [r for r in results["summary"] if r["tokens"] == tokens and r["words_per_second_train"]]
    models = [m for m in ("sg", "cbow") if any(r["model"] == m for r in rows)] or ["sg"]
    labels = results.get("tool_labels", {})
    fig, axes = plt.subplots(1, len(models), figsize=(6.5 * len(models), 4.8), squeeze=False)
    tools = list(dict.fromkeys((r["tool"], r.get("loss", "ns")) for r in rows))  # in table order
    threads = sorted({r["threads"] for r in rows})
    width = 0.8 / max(len(tools), 1)
    for ax, model in zip(axes[0], models):
        for i, (tool, loss) in enumerate(tools):
            mine = [r for r in rows if r["model"] == model and (r["tool"], r.get("loss", "ns")) == (tool, loss)]
            label = labels.get(tool, tool) + ("" if loss == "ns" else f" ({loss})")
            speed = [r["words_per_second_train"] for r in mine]
            x = [threads.index(r["threads"]) + (i - (len(tools) - 1) / 2) * width for r in mine]
            errors = [[(s["mean"] - s["low"]) / 1e3 for s in speed], [(s["high"] - s["mean"]) / 1e3 for s in speed]]
            bars = ax.bar(x, [s["mean"] / 1e3 for s in speed], width, yerr=errors, capsize=3,
                          color=COLOURS.get(tool, "grey"), label=label, hatch=None if loss == "ns" else "//")
            for bar, row in zip(bars, mine):
                analogy = row["analogy"]
                text = f"{100 * analogy['mean']:.1f}%" if analogy else "n/a"
                ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), xytext=(0, 3),
                            textcoords="offset points", ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(threads)), [f"{t} thread{'s' * (t > 1)}" for t in threads])
        ax.set_title(f"{model}: training speed (analogy accuracy on the bars)")
        ax.set_ylabel("thousand raw words / s (training)")
        ax.margins(y=0.15)
    fig.suptitle(f"{results['corpus']['source_name']}, {tokens:,} tokens x {results['settings']['epochs']} epochs",
                 fontsize=10)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=max(len(names), 1), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python plot_job.py results.json results.png")
    with open(sys.argv[1]) as f:
        plot(json.load(f), sys.argv[2])
