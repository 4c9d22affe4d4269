"""Corpus preparation speed: counting, vocabulary and encoding, the Python reader against the fast one.

    .venv/bin/python benchmarks/reading.py                  # the benchmark file (16.9M tokens), best of 3
    .venv/bin/python benchmarks/reading.py --levers --gzip  # each lever of NOTES.md section 11 alone, and .gz

Each variant runs in this process, after a warm-up on a small slice (Numba's cache), the variants alternated
and repeated, the best run kept (the machine is shared: the other runs are printed too).  The rate is raw
tokens per wall second from the file to the encoded corpus (vocabulary min_count 5).  ``--memory`` runs each
reader once more in a fresh process and prints its peak RSS.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from corpus_slice import prepare_slice  # noqa: E402

DEFAULT_CORPUS = HERE.parent.parent / "shared" / "data" / "enwiki-100m.txt.gz"


def python_two_passes(path: str, threads: int) -> int:
    """Today's reader: build_vocab (pass 1), encode_corpus (pass 2), finalize."""
    from w2v.corpus import Corpus, encode_corpus, finalize
    from w2v.vocab import build_vocab

    c = Corpus(path)
    vocab = build_vocab(c, min_count=5)
    with encode_corpus(c, vocab) as enc:
        finalize(enc, vocab)
        return enc.raw_tokens


def python_one_pass(path: str, threads: int) -> int:
    """Lever 1 alone: the Python tokenizer, each token's provisional id from a dict in one pass, written to
    a file; after the vocabulary, the ids remapped (no second read of the text)."""
    import numpy as np

    from w2v.corpus import Corpus
    from w2v.vocab import WordCounts, select_vocab

    class Ids(dict):
        def __missing__(self, word):
            v = self[word] = len(self)
            return v

    ids, lens, buf = Ids(), [], []
    get = ids.__getitem__
    with tempfile.TemporaryFile() as f:
        for sentence in Corpus(path):
            buf += map(get, sentence)
            lens.append(len(sentence))
            if len(buf) >= 1 << 20:
                f.write(np.array(buf, np.int32).tobytes())
                buf.clear()
        f.write(np.array(buf, np.int32).tobytes())
        f.seek(0)
        provisional = np.frombuffer(f.read(), np.int32)
    counts = np.bincount(provisional, minlength=len(ids)).astype(np.int64)
    vocab = select_vocab(WordCounts(list(ids), counts, len(provisional)), min_count=5)
    perm = np.full(len(ids), -1, np.int32)
    for j, w in enumerate(vocab.words):
        perm[ids[w]] = j
    mapped = perm[provisional]
    keep = mapped >= 0
    ends = np.cumsum(keep)[np.cumsum(lens) - 1]
    ends = ends[(ends > 0) & np.concatenate(([True], np.diff(ends) > 0))]
    with tempfile.TemporaryFile() as out:
        out.write(mapped[keep].tobytes())
    return len(provisional)


def numba_two_passes(path: str, threads: int) -> int:
    """Lever 2 alone: the Numba scan, counting in pass 1 (no ids kept), encoding in pass 2 with a frozen
    table of the vocabulary."""
    from w2v import reader
    from w2v.corpus import Corpus
    from w2v.prepare import encode_shares, merge_shares
    from w2v.vocab import select_vocab

    c = Corpus(path)
    shares = reader.plan(c, threads)
    counted = reader.read_shares(shares, write_ids=False)
    reader._finish(c, counted)
    vocab = select_vocab(merge_shares(counted), min_count=5)
    read = reader.read_shares(shares, table_of=lambda: reader.WordTable.of_words(vocab.words))
    with encode_shares(read, vocab, frozen=True) as enc:
        return enc.raw_tokens


def fast_reader(path: str, threads: int) -> int:
    """What training does (w2v.prepare.Reading): one Numba pass, the ids remapped."""
    from w2v.corpus import Corpus, finalize
    from w2v.prepare import Reading
    from w2v.vocab import select_vocab

    reading = Reading(Corpus(path), threads=threads)
    vocab = select_vocab(reading.counts(), min_count=5)
    with reading.encode(vocab) as enc:
        finalize(enc, vocab)
        return enc.raw_tokens


def inflating(own_thread: bool):
    def run(path: str, threads: int) -> int:
        from w2v import reader

        reader.DECOMPRESS_THREAD = own_thread
        try:
            return fast_reader(path, threads)
        finally:
            reader.DECOMPRESS_THREAD = True
    return run


VARIANTS = {  # name -> (function, file kind, threads, a lever)
    "python reader, two passes (before)": (python_two_passes, "plain", 1, False),
    "python tokenizer, one pass + remap": (python_one_pass, "plain", 1, True),
    "numba scan, two passes, 1 thread": (numba_two_passes, "plain", 1, True),
    "numba scan, two passes, 2 threads": (numba_two_passes, "plain", 2, True),
    "fast reader (numba, one pass), 1 thread": (fast_reader, "plain", 1, False),
    "fast reader (numba, one pass), 2 threads": (fast_reader, "plain", 2, False),
    ".gz, 1 thread, inflating in the same thread": (inflating(False), "gzip", 1, True),
    ".gz, 1 thread, inflating in its own thread": (inflating(True), "gzip", 1, False),
    ".gz, 2 threads, inflating in the same threads": (inflating(False), "gzip", 2, True),
    ".gz, 2 threads, inflating in their own threads": (inflating(True), "gzip", 2, False),
}


def _peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM (getrusage's ru_maxrss keeps the parent's peak across
    fork and exec on Linux, so a child started by a big parent would report the parent's)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    p.add_argument("--tokens", type=int, default=None, help="the first N tokens (default: all)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--levers", action="store_true", help="also each lever alone (NOTES.md section 11)")
    p.add_argument("--gzip", action="store_true", help="also the file gzipped (-6)")
    p.add_argument("--memory", action="store_true", help="peak RSS of each reader in a fresh process")
    p.add_argument("--out", type=Path, default=HERE / "out")
    p.add_argument("--only", help=argparse.SUPPRESS)  # one variant, in a fresh process (--memory)
    args = p.parse_args(argv)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    files = {"plain": prepare_slice(args.corpus, args.out, args.tokens, 5, log).path}
    if args.only:
        fn, kind, threads, _ = VARIANTS[args.only]
        n = fn(files[kind] if kind == "plain" else files["plain"] + ".gz", threads)
        print(json.dumps({"tokens": n, "peak_rss_mb": _peak_rss_mb()}))
        return 0
    if args.gzip:
        files["gzip"] = files["plain"] + ".gz"
        if not os.path.exists(files["gzip"]) or os.path.getmtime(files["gzip"]) < os.path.getmtime(files["plain"]):
            with open(files["plain"], "rb") as f, gzip.open(files["gzip"] + ".part", "wb", compresslevel=6) as g:
                shutil.copyfileobj(f, g, 1 << 22)
            os.replace(files["gzip"] + ".part", files["gzip"])
    variants = {name: v for name, v in VARIANTS.items() if (args.levers or not v[3]) and v[1] in files}
    small = prepare_slice(args.corpus, args.out, 50_000, 5, log).path
    for fn, kind, threads, _ in variants.values():
        fn(small, threads)  # Numba's cache, imports
    times: dict[str, list[float]] = {name: [] for name in variants}
    tokens = 0
    for rep in range(args.repeats):
        for name, (fn, kind, threads, _) in variants.items():
            gc.collect()
            t0 = time.perf_counter()
            tokens = fn(files[kind], threads)
            times[name].append(time.perf_counter() - t0)
        log(f"repeat {rep + 1} of {args.repeats} done (load average {os.getloadavg()[0]:.1f})")
    print(f"{tokens:,} tokens; best of {args.repeats}, variants alternated; load average at the end "
          f"{os.getloadavg()[0]:.1f}\n")
    print("| variant | tokens/s | seconds | every run (s) |" + (" peak RSS MB |" if args.memory else ""))
    print("| --- | ---: | ---: | --- |" + (" ---: |" if args.memory else ""))
    for name, runs in times.items():
        row = f"| {name} | {tokens / min(runs) / 1e6:.1f}M | {min(runs):.2f} | {', '.join(f'{t:.2f}' for t in runs)} |"
        if args.memory:
            cmd = [sys.executable, __file__, "--corpus", str(args.corpus), "--out", str(args.out), "--only", name]
            if args.tokens:
                cmd += ["--tokens", str(args.tokens)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            row += f" {json.loads(out.splitlines()[-1])['peak_rss_mb']:.0f} |"
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
