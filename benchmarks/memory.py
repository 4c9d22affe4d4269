"""Peak memory against corpus length: w2v trained on the benchmark corpus once and repeated 4 times.

    python benchmarks/memory.py [--corpus ../shared/data/enwiki-100m.txt.gz] [--times 4] [--epochs 1]

Writes the corpus and its 4x concatenation as plain text into a temporary directory (removed afterwards;
never committed), trains each with ``w2v train`` in a subprocess (same settings; the larger corpus gets
``--max-final-vocab`` of the first's vocabulary size, since four copies put more words over min_count) and reports peak RSS from ``os.wait4`` (the child's own ``ru_maxrss``), the size
of the encoded-corpus cache and the training speed.  The claim checked: memory is bounded by the
vocabulary and the weights, not by the corpus (the ids live in a memory-mapped file, read in 1 MiB blocks).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def write_repeated(source: Path, target: Path, times: int) -> int:
    """``source`` (gz or plain) written ``times`` times into ``target`` as plain text; returns bytes.
    A one-line source (enwiki-100m is text8-style) gives ``times`` lines of 17M tokens."""
    opener = gzip.open if source.suffix == ".gz" else open
    with open(target, "wb") as out:
        for _ in range(times):
            with opener(source, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 22)
            out.write(b"\n")
    return target.stat().st_size


def train_measured(python: str, corpus: Path, out: Path, args, max_vocab: int | None = None) -> dict:
    """Run ``w2v train`` on ``corpus``; returns peak RSS (MB), wall seconds and w2v's own stats."""
    cmd = [python, "-m", "w2v", "train", str(corpus), "-o", str(out), "--epochs", str(args.epochs),
           "--threads", str(args.threads), "--model", args.model, "--quiet"]
    if max_vocab is not None:  # the same vocabulary size, so that only the corpus length differs
        cmd += ["--max-final-vocab", str(max_vocab)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"w2v train failed on {corpus}")
    check = subprocess.run([python, "-c", "import json, sys; from w2v import Word2Vec; "
                            "m = Word2Vec.load(sys.argv[1]); "
                            "print(json.dumps(dict(m.stats, visited=[e['words'] for e in m.training_log])))",
                            str(out)], capture_output=True, text=True, check=True)
    stats = json.loads(check.stdout)
    return {"corpus_bytes": corpus.stat().st_size, "peak_rss_mb": usage.ru_maxrss / 1024,
            "wall_seconds": wall, "raw_tokens": stats["raw_tokens"], "vocab_size": stats["vocab_size"],
            "cache_bytes": stats["tokens"] * 4, "train_seconds": stats["train_seconds"],
            "words_per_sec_train": stats["words_per_sec_train"],
            # the corpus is one line (text8-style): every epoch must still visit every in-vocabulary token
            "every_epoch_visits_every_token": all(v == stats["tokens"] for v in stats["visited"])}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "data" / "enwiki-100m.txt.gz")
    p.add_argument("--times", type=int, default=4)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--model", default="sg")
    p.add_argument("--python", default=str(REPO / ".venv" / "bin" / "python"))
    p.add_argument("--out", type=Path, default=HERE / "out" / "memory.json")
    args = p.parse_args()
    if not args.corpus.exists():
        print(f"error: corpus {args.corpus} not found", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory(prefix="w2v-memory-") as tmp:
        for times in (1, args.times):
            corpus = Path(tmp) / f"corpus-x{times}.txt"
            write_repeated(args.corpus, corpus, times)
            first = rows[0]["vocab_size"] if rows else None
            row = train_measured(args.python, corpus, Path(tmp) / "model.w2v", args, max_vocab=first)
            row["times"] = times
            rows.append(row)
            corpus.unlink()
            print(f"x{times}: {row['raw_tokens']:,} tokens, vocabulary {row['vocab_size']:,}, peak RSS "
                  f"{row['peak_rss_mb']:.0f} MB, encoded cache {row['cache_bytes'] / 1e6:.0f} MB (on disk, "
                  f"mapped), training {row['train_seconds']:.1f} s ({row['words_per_sec_train']:,.0f} words/s), "
                  f"every epoch visited every in-vocabulary token: {row['every_epoch_visits_every_token']}",
                  flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"settings": vars(args) | {"corpus": str(args.corpus), "out": str(args.out)},
                                    "rows": rows}, indent=2))
    growth = rows[-1]["peak_rss_mb"] / rows[0]["peak_rss_mb"]
    print(f"peak RSS grows {growth:.2f}x for {args.times}x the corpus")
    return 0


if __name__ == "__main__":
    sys.exit(main())
