"""Query time and memory of the explorer (``w2v serve``) on a large memory-mapped model.

    python benchmarks/serve_query.py [--words 1000000] [--dim 300] [--queries 50] [--model PATH] [--keep]

Writes a native vectors file of ``--words`` random float32 vectors (1M x 300: 1.2 GB; in a temporary
directory, removed afterwards unless ``--keep``; or uses ``--model``), then, each in a fresh process:

- **bounded** (what ``w2v serve`` does): ``KeyedVectors.load(path, mmap=True)``, the explorer's one-off
  warm-up (1/norm of every row, completion index), then ``--queries`` nearest-neighbour queries on random
  words straight through ``kv.most_similar`` and the same through the real server (uvicorn on 127.0.0.1,
  ``GET /api/neighbours?topn=10`` over a loopback socket), plus the map, analogy and completion endpoints;
- **copy** (what ``most_similar`` did before: the (V, d) unit-row copy): the same load, then
  ``get_normed_vectors()`` and the same direct queries.

Memory is read from ``/proc/self/status``: peak RSS (VmHWM), and the resident anonymous memory (RssAnon:
the process's own allocations) apart from the resident pages of the mapped file (RssFile: the page cache,
shared, dropped by the kernel under pressure).  The file was just written, so its pages are in the page
cache: these are warm-cache figures (a cold first pass reads 1.2 GB from disk once, at startup).
Random vectors cost the same as trained ones here: the work is one pass over the matrix and a partial sort.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def status() -> dict:
    """Peak and current resident memory of this process, in MB."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) / 1024
    return out


def percentiles(times: list[float]) -> dict:
    ms = sorted(t * 1000 for t in times)
    return {"median_ms": ms[len(ms) // 2], "p95_ms": ms[min(len(ms) - 1, int(len(ms) * 0.95))], "max_ms": ms[-1]}


def make_model(path: Path, words: int, dim: int) -> None:
    import numpy as np

    from w2v.vectors import KeyedVectors

    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((words, dim), dtype=np.float32)
    KeyedVectors([f"w{i:07d}" for i in range(words)], vecs, counts=np.arange(words, 0, -1)).save(path)


def child(path: str, mode: str, queries: int) -> dict:
    import numpy as np

    from w2v.vectors import KeyedVectors

    t0 = time.perf_counter()
    kv = KeyedVectors.load(path, mmap=True)
    res = {"mode": mode, "words": len(kv), "dim": kv.vector_size, "load_s": time.perf_counter() - t0,
           "after_load": status()}
    rng = np.random.default_rng(1)
    words = [kv.index_to_key[i] for i in rng.integers(0, len(kv), queries)]
    t0 = time.perf_counter()
    if mode == "copy":
        kv.get_normed_vectors()
        res["prepare_s"] = time.perf_counter() - t0
    else:
        from w2v.explore import Explorer
        explorer = Explorer(kv, os.path.basename(path))
        explorer.warm()
        res["prepare_s"] = time.perf_counter() - t0
    times = []
    for w in words:
        t = time.perf_counter()
        kv.most_similar(w, topn=10)
        times.append(time.perf_counter() - t)
    res["most_similar"] = percentiles(times)
    if mode == "bounded":
        more = [kv.index_to_key[i] for i in rng.integers(0, len(kv), 2 * queries)]
        res["http"] = http_queries(explorer, more)
    res["end"] = status()
    return res


def http_queries(explorer, words: list[str]) -> dict:
    """The endpoints through uvicorn on a loopback socket (one connection, kept alive), as the page calls them:
    a word's neighbours (a search), then its map (the same search, kept by the explorer); the map of a word
    not searched yet; analogies; completions."""
    from w2v import serve

    sock = serve.listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = serve.make_server(explorer, sock, "127.0.0.1")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def timed(url: str) -> float:
        t = time.perf_counter()
        conn.request("GET", url)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{url}: {resp.status} {body[:200]!r}")
        return time.perf_counter() - t

    half = len(words) // 2
    first, second = words[:half], words[half:]
    times: dict[str, list[float]] = {k: [] for k in ("neighbours", "map (after its neighbours)", "map (new word)",
                                                     "analogy (3cosadd)", "complete")}
    for w in first:
        times["neighbours"].append(timed(f"/api/neighbours?word={w}&topn=15"))
        times["map (after its neighbours)"].append(timed(f"/api/map?word={w}&n=25"))
    for i, w in enumerate(second):
        times["map (new word)"].append(timed(f"/api/map?word={w}&n=25"))
        times["analogy (3cosadd)"].append(timed(f"/api/analogy?a={first[i]}&b={second[i - 1]}&c={w}&topn=10"))
        times["complete"].append(timed(f"/api/complete?prefix={w[:4]}&limit=8"))
    conn.close()
    server.should_exit = True
    thread.join(10)
    sock.close()
    return {name: percentiles(t) for name, t in times.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--words", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--model", help="use this native vectors file instead of making one")
    ap.add_argument("--keep", action="store_true", help="keep the model made (its path is printed)")
    ap.add_argument("--child", nargs=2, metavar=("PATH", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.queries)))
        return 0
    tmp = None
    path = args.model
    if path is None:
        tmp = tempfile.mkdtemp(prefix="w2v-serve-bench-")
        path = os.path.join(tmp, "big.w2v")
        t0 = time.perf_counter()
        make_model(Path(path), args.words, args.dim)
        os.sync()  # the 1.2 GB just written is flushed now, not while the queries are timed
        print(f"made {path} ({os.path.getsize(path) / 1e9:.2f} GB) in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
    try:
        results = []
        for mode in ("bounded", "copy"):
            out = subprocess.run([sys.executable, __file__, "--child", path, mode, "--queries",
                                  str(args.queries)], capture_output=True, text=True, check=True)
            results.append(json.loads(out.stdout))
        print(json.dumps(results, indent=2))
        print(report(results))
    finally:
        if tmp and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp:
            print(f"kept {path}", file=sys.stderr)
    return 0


def report(results: list[dict]) -> str:
    r0 = results[0]
    lines = [f"{r0['words']:,} words x {r0['dim']}, native file memory-mapped, {os.cpu_count()} cores:", "",
             ("| path | load s | one-off s | most_similar median / p95 / max ms | peak RSS MB | RssAnon MB "
             "| RssFile MB |"), "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        q, end = r["most_similar"], r["end"]
        lines.append(f"| {r['mode']} | {r['load_s']:.2f} | {r['prepare_s']:.2f} | {q['median_ms']:.0f} / "
                     f"{q['p95_ms']:.0f} / {q['max_ms']:.0f} | {end['VmHWM']:.0f} | {end['RssAnon']:.0f} | "
                     f"{end['RssFile']:.0f} |")
    if "http" in r0:
        lines += ["", "| endpoint (bounded, through uvicorn) | median ms | p95 ms | max ms |",
                  "| --- | ---: | ---: | ---: |"]
        for name, q in r0["http"].items():
            lines.append(f"| {name} | {q['median_ms']:.0f} | {q['p95_ms']:.0f} | {q['max_ms']:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
