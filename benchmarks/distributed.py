"""Distributed training on one machine: 1 process x N threads against N ranks x 1 thread (torchrun, gloo).

    python benchmarks/distributed.py --corpus ../shared/data/enwiki-100m.txt.gz            # the reference run
    python benchmarks/distributed.py --corpus c.txt --tokens 2000000 --seeds 1 --modes full  # a quick look
    python benchmarks/distributed.py --sync-cost                                            # the cost of a sync

For each seed, in one run and alternating: w2v in one process with N threads, then under torchrun with N
ranks of one thread for each sync mode and interval asked; each trained with the same settings (sg, dim 100,
window 5, negative 5, 5 epochs) on the 1,000-token-line file of ``corpus_slice.py``, each scored by the same
evaluator (analogies over the 30,000 most frequent words, WS-353).  Speed is raw words per second of
training, as everywhere in w2v.  ``--sync-cost`` times an all-reduce of the two weight matrices (and of the
hot rows) between 2 local ranks for several vocabulary sizes: the bytes and seconds of one sync.

Results: ``OUT/distributed.json`` and ``OUT/distributed.md`` (default ``benchmarks/out``).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

JOB = r'''
import json, os, sys, time
from w2v import Word2Vec
from w2v.distributed import Options
from w2v.evaluate import evaluate_analogies, evaluate_word_pairs
corpus, out, seed, threads, mode, words = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
m = Word2Vec(model="sg", dim=100, window=5, negative=5, epochs=5, threads=threads, seed=seed)
m.train(corpus, progress=False, distributed=Options(sync=mode, sync_words=words, timeout=600))
if int(os.environ.get("RANK", "0")) == 0:
    a = evaluate_analogies(m.wv, restrict_vocab=30000); p = evaluate_word_pairs(m.wv)
    json.dump({"train_seconds": m.stats["train_seconds"], "words_per_sec": m.stats["words_per_sec_train"],
               "analogy": a["accuracy"], "ws353": p["spearman"], "ranks": m.stats.get("ranks", 1)}, open(out, "w"))
'''

COST = r'''
import json, os, sys, time, torch, torch.distributed as dist
dist.init_process_group("gloo")
rows = []
for vocab in (10_000, 70_000, 300_000):
    for dim in (100, 300):
        w = torch.zeros(vocab, dim)
        for part, n in (("full", vocab), ("hot 4,096 rows", 4096)):
            t = w[:n]
            dist.all_reduce(t); dist.barrier()
            t0 = time.perf_counter()
            for _ in range(5):
                dist.all_reduce(t)
            dist.barrier()
            seconds = (time.perf_counter() - t0) / 5
            rows.append({"vocab": vocab, "dim": dim, "part": part, "bytes": 2 * t.numel() * 4,
                         "seconds": 2 * seconds})  # two matrices a sync
if dist.get_rank() == 0:
    json.dump(rows, open(sys.argv[1], "w"))
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(ranks: int, script: str, *args: str) -> None:
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(ranks), "--rdzv-backend",
               "c10d", "--rdzv-endpoint", f"127.0.0.1:{free_port()}", script, *args]
    subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                   stderr=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default=str(HERE.parent.parent / "shared" / "data" / "enwiki-100m.txt.gz"))
    parser.add_argument("--tokens", type=int)
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--modes", nargs="+", default=["auto:250000", "full:250000", "full:1000000"],
                        help="sync mode:tokens between sync points")
    parser.add_argument("--sync-cost", action="store_true", help="only time one sync for several sizes")
    parser.add_argument("--out", default=str(HERE / "out"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="w2v-dist-"))
    if args.sync_cost:
        (work / "cost.py").write_text(COST)
        torchrun(2, str(work / "cost.py"), str(work / "cost.json"))
        rows = json.loads((work / "cost.json").read_text())
        lines = ["| vocabulary | dim | averaged | bytes a sync | seconds a sync (2 ranks, gloo, localhost) |",
                 "| ---: | ---: | --- | ---: | ---: |"]
        lines += [f"| {r['vocab']:,} | {r['dim']} | {r['part']} | {r['bytes'] / 1e6:,.1f} MB | {r['seconds']:.3f} |"
                  for r in rows]
        (out / "sync-cost.md").write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
        return 0
    from corpus_slice import prepare_slice

    sl = prepare_slice(Path(args.corpus), out, args.tokens, 5)
    (work / "job.py").write_text(JOB)
    results = []
    for seed in args.seeds:
        runs = [("1 process", 1, args.ranks, "full", 1)] + [
            (f"{args.ranks} ranks, {m}", args.ranks, 1, m.split(":")[0], int(m.split(":")[1])) for m in args.modes]
        for name, ranks, threads, mode, words in runs:
            result_file = work / f"r-{len(results)}.json"
            job = [str(work / "job.py"), sl.path, str(result_file), str(seed), str(threads), mode, str(words)]
            t0 = time.perf_counter()
            if ranks == 1:
                subprocess.run([sys.executable, *job], check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
            else:
                torchrun(ranks, *job)
            row = {"name": name, "seed": seed, "wall": time.perf_counter() - t0,
                   **json.loads(result_file.read_text())}
            results.append(row)
            print(json.dumps(row), flush=True)
    (out / "distributed.json").write_text(json.dumps(results, indent=1))
    names = list(dict.fromkeys(r["name"] for r in results))
    lines = [f"Distributed on one machine ({os.cpu_count()} cores): {sl.tokens:,} tokens, sg, dim 100, 5 epochs, "
             f"seeds {args.seeds} ({time.strftime('%Y-%m-%d')})", "",
             "| run | train words/s | analogy | WS-353 | per seed (words/s; analogy; WS-353) |",
             "| --- | ---: | ---: | ---: | --- |"]
    for name in names:
        rows = [r for r in results if r["name"] == name]
        mean = {k: sum(r[k] for r in rows) / len(rows) for k in ("words_per_sec", "analogy", "ws353")}
        per = "; ".join(f"{r['words_per_sec']:,.0f}, {r['analogy']:.1%}, {r['ws353']:.3f}" for r in rows)
        lines.append(f"| {name} | {mean['words_per_sec']:,.0f} | {mean['analogy']:.1%} | {mean['ws353']:.3f} | {per} |")
    (out / "distributed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
