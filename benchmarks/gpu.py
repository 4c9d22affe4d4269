"""The GPU benchmark: w2v's torch engine on a GPU against the Numba path on all of that machine's cores, in one run.

    python benchmarks/gpu.py --corpus enwiki-100m.txt.gz --out $OUT            # on the lent GPU machine
    python benchmarks/gpu.py --corpus c.txt --device cpu --tokens 200000 --dims 32 --epochs 1   # a dry run here

Steps (each result is printed as soon as it is known, and written to ``OUT/gpu.json`` and ``OUT/gpu.md``):

1. the corpus cut into lines of 1,000 tokens (``benchmarks/corpus_slice.py``), once;
2. a correctness check on the device: one batch of the torch engine against the NumPy reference of the
   tests (``tests/reference.py``), for every kernel; the script stops if it disagrees;
3. for each model (sg, cbow) and dimension (100, 300): a warm-up on a small slice (compilation, CUDA
   context, caches: timed apart), then the real training on the device and on the CPU (Numba, every core),
   each followed by the same evaluation (Google analogies over the 30,000 most frequent words, WS-353);
   speed in raw corpus words per wall second of training and end to end (corpus reading included; the
   warm-up excluded);
4. the step size (``--steps``): several values of ``torch_engine.STEP_CENTRES`` can be compared in the same
   run (speed and quality), since it trades the one against the other.

Only the standard library, NumPy and w2v (installed in the running Python) are needed; the device needs
PyTorch with CUDA.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

RESTRICT_VOCAB = 30_000


def log(*parts) -> None:
    print(*parts, flush=True)


def device_name(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def correctness(device: str) -> list[str]:
    """The torch engine on ``device`` against the NumPy reference for each kernel; returns the failures."""
    import numpy as np
    from reference import reference_torch_batch
    from test_torch_engine import VARIANTS, tiny_batch

    from w2v import Config
    from w2v.torch_engine import TorchEngine

    failures = []
    for variant, cbow_mean in [("sg", True), ("sg-hogbatch", True), ("cbow", True), ("cbow", False)]:
        weights, tables, batch = tiny_batch()
        config = Config(window=3, negative=4, cbow_mean=cbow_mean, threads=1, dim=8, **VARIANTS[variant])
        ref_in, ref_out, ref_stats = reference_torch_batch(variant, weights, tables, batch.ids,
                                                           batch.sentence_ends, batch.chunk_sentences, batch.lrs,
                                                           batch.seeds, (3, 4, int(cbow_mean)), 5)
        w = (weights[0].copy(), weights[1].copy())
        engine = TorchEngine(config, w, tables, device, step_centres=5)
        stats = engine.train(batch)
        engine.pull()
        engine.close()
        error = max(float(np.abs(w[0] - ref_in).max()), float(np.abs(w[1] - ref_out).max()))
        ok = error < 5e-5 and stats[1:] == ref_stats[1:]
        log(f"  check {variant}{'' if cbow_mean else ' (sum)'}: max error {error:.1e}, stats {stats[1:]} "
            f"vs {ref_stats[1:]}: {'ok' if ok else 'FAILED'}")
        if not ok:
            failures.append(variant)
    return failures


def evaluate(model) -> dict:
    from w2v.evaluate import evaluate_analogies, evaluate_word_pairs

    analogies = evaluate_analogies(model.wv, restrict_vocab=RESTRICT_VOCAB)
    pairs = evaluate_word_pairs(model.wv)
    return {"analogy": analogies["accuracy"], "ws353": pairs["spearman"]}


def train_once(corpus: str, model: str, dim: int, epochs: int, device: str, backend: str, threads: int,
               step: int | None = None) -> dict:
    import w2v.torch_engine as torch_engine
    from w2v import Word2Vec

    default_step = torch_engine.STEP_CENTRES
    if step is not None:
        torch_engine.STEP_CENTRES = step  # read by each new engine
    w = Word2Vec(model=model, dim=dim, epochs=epochs, threads=threads, seed=1, device=device, backend=backend)
    t0 = time.perf_counter()
    try:
        w.train(corpus, progress=False)
    finally:
        torch_engine.STEP_CENTRES = default_step
    total = time.perf_counter() - t0
    st = w.stats
    result = {"model": model, "dim": dim, "device": device, "backend": backend, "threads": threads,
              "step_centres": step, "train_seconds": st["train_seconds"], "total_seconds": total,
              "words_per_sec_train": st["words_per_sec_train"],
              "words_per_sec_total": st["raw_tokens"] * epochs / total, "loss": [e["loss"] for e in w.training_log]}
    result.update(evaluate(w))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", required=True, help="the benchmark corpus (.txt or .txt.gz)")
    parser.add_argument("--out", default=os.environ.get("OUT", str(HERE / "out")), help="where results go")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--models", nargs="+", default=["sg", "cbow"])
    parser.add_argument("--dims", nargs="+", type=int, default=[100, 300])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--tokens", type=int, help="only the first N tokens (default: all)")
    parser.add_argument("--steps", nargs="+", type=int, default=[None],
                        help="values of torch_engine.STEP_CENTRES to compare (default: the module's)")
    parser.add_argument("--no-numba", action="store_true", help="skip the CPU rows")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for Numba (default: all cores)")
    args = parser.parse_args()

    from corpus_slice import prepare_slice

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sl = prepare_slice(Path(args.corpus), out, args.tokens, 5)
    log(f"corpus: {sl.path}, {sl.tokens:,} tokens; device: {device_name(args.device)}")
    failures = correctness(args.device)
    if failures:
        log(f"the torch engine disagrees with the reference on {args.device}: {failures}; stopping")
        return 1
    warm = prepare_slice(Path(args.corpus), out, 200_000, 5)
    rows = []
    for model in args.models:
        for dim in args.dims:
            for step in args.steps:
                t0 = time.perf_counter()
                train_once(warm.path, model, dim, 1, args.device, "torch", 1, step)
                warmup = time.perf_counter() - t0
                row = train_once(sl.path, model, dim, args.epochs, args.device, "torch", 1, step)
                row["warmup_seconds"] = warmup
                rows.append(row)
                log(json.dumps(row))
            if not args.no_numba:
                train_once(warm.path, model, dim, 1, "cpu", "numba", args.threads)
                row = train_once(sl.path, model, dim, args.epochs, "cpu", "numba", args.threads)
                rows.append(row)
                log(json.dumps(row))
            (out / "gpu.json").write_text(json.dumps({"device": device_name(args.device), "corpus": sl.path,
                                                      "tokens": sl.tokens, "rows": rows}, indent=1))
    lines = [f"GPU benchmark: {device_name(args.device)}; {sl.tokens:,} tokens, {args.epochs} epochs "
             f"({time.strftime('%Y-%m-%d')})", "",
             "| model | dim | engine | step | train words/s | end-to-end words/s | analogy | WS-353 | warm-up s |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        engine = f"torch {r['device']}" if r["backend"] == "torch" else f"numba, {r['threads'] or 'all'} threads"
        lines.append(f"| {r['model']} | {r['dim']} | {engine} | {r['step_centres'] or 'default'} | "
                     f"{r['words_per_sec_train']:,.0f} | {r['words_per_sec_total']:,.0f} | {r['analogy']:.1%} | "
                     f"{r['ws353']:.3f} | {r.get('warmup_seconds', 0):.1f} |")
    (out / "gpu.md").write_text("\n".join(lines) + "\n")
    log("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
