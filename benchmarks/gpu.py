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
   run (speed and quality), since it trades the one against the other;
5. ``--access``: the hogwild kernel's ways of reading and writing the shared rows
   (``torch_engine.HOGWILD_ACCESS``: plain loads and stores, atomic adds, atomic adds with the rows read past
   the L1 cache) compared at the first dimension, since the races of thousands of warps on the frequent rows
   are where GPU word2vec loses quality (by default the two other than the default, beside its rows);
6. ``--distributed``: ``torchrun -m w2v train --device cuda`` with one rank per visible GPU (world size 1 on
   one GPU: the NCCL path of issue 10), on the corpus, the same epochs; its exit status, seconds and log lines.

Only the standard library, NumPy and w2v (installed in the running Python) are needed; the device needs
PyTorch with CUDA.
"""

from __future__ import annotations

import argparse
import json
import os
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
    from report import machine

    return f"CPU ({machine()})"


def correctness(device: str, dims: list[int]) -> list[str]:
    """The torch engine on ``device`` against the NumPy reference for each kernel, the hogwild kernel at dim 8
    and at each of ``dims`` (each width its own compiled kernel); returns the failures."""
    import numpy as np
    from reference import VARIANTS, reference_hogwild, reference_torch_batch, tiny_batch

    from w2v import Config, cuda_kernels
    from w2v.torch_engine import TorchEngine

    kernels = {"steps": (lambda *a: reference_torch_batch(*a, 5), dict(step_centres=5, kernel="steps"), [8])}
    if device.startswith("cuda") and cuda_kernels.available():  # one block: exactly the sequential reference
        for access in cuda_kernels.ACCESS:
            kernels[f"hogwild {access}"] = (reference_hogwild, dict(kernel="hogwild", blocks=1, access=access),
                                            [8] + dims)
    failures = []
    for name, (reference, settings, widths) in kernels.items():
        for dim in widths:
            for variant, cbow_mean in [("sg", True), ("sg-hogbatch", True), ("cbow", True), ("cbow", False)]:
                weights, tables, batch = tiny_batch(dim=dim)
                config = Config(window=3, negative=4, cbow_mean=cbow_mean, threads=1, dim=dim, **VARIANTS[variant])
                ref_in, ref_out, ref_stats = reference(variant, weights, tables, batch.ids, batch.sentence_ends,
                                                       batch.chunk_sentences, batch.lrs, batch.seeds,
                                                       (3, 4, int(cbow_mean)))
                w = (weights[0].copy(), weights[1].copy())
                what = f"{name} {variant}{'' if cbow_mean else ' (sum)'} dim {dim}"
                try:
                    engine = TorchEngine(config, w, tables, device, **settings)
                    stats = engine.train(batch)
                    engine.pull()
                    engine.close()
                except Exception as e:  # a kernel that does not compile here
                    log(f"  check {what}: {type(e).__name__}: {e}")
                    failures.append(f"{name} {variant} dim {dim}")
                    continue
                error = max(float(np.abs(w[0] - ref_in).max()), float(np.abs(w[1] - ref_out).max()))
                ok = error < 5e-5 and stats[1:] == ref_stats[1:]
                log(f"  check {what}: max error {error:.1e}, stats {stats[1:]} vs {ref_stats[1:]}: "
                    f"{'ok' if ok else 'FAILED'}")
                if not ok:
                    failures.append(f"{name} {variant} dim {dim}")
    return failures


def set_build(build: tuple[bool, bool]) -> tuple[bool, bool]:
    """Set ``w2v.cuda_kernels``' build, ``(SPECIALISE, SHUFFLE)``; returns the old one."""
    from w2v import cuda_kernels

    old = cuda_kernels.SPECIALISE, cuda_kernels.SHUFFLE
    cuda_kernels.SPECIALISE, cuda_kernels.SHUFFLE = build
    return old


def kernel_build(generic: bool) -> tuple[bool, bool]:
    """Set the build: the kernel for each width with shuffles (the default), or ``generic``, one kernel for
    every width with shared-memory sums (the kernel of NOTES sections 13-19, but for reading each target row
    once); returns the old."""
    return set_build((not generic, not generic))


def evaluate(model) -> dict:
    from w2v.evaluate import evaluate_analogies, evaluate_word_pairs

    analogies = evaluate_analogies(model.wv, restrict_vocab=RESTRICT_VOCAB)
    pairs = evaluate_word_pairs(model.wv)
    return {"analogy": analogies["accuracy"], "ws353": pairs["spearman"]}


def train_once(corpus: str, model: str, dim: int, epochs: int, device: str, backend: str, threads: int,
               step: int | None = None, kernel: str = "auto", blocks_per_sm: int | None = None,
               access: str | None = None, generic: bool = False, seed: int = 1) -> dict:
    import w2v.torch_engine as torch_engine
    from w2v import Word2Vec

    defaults = (torch_engine.STEP_CENTRES, torch_engine.KERNEL, torch_engine.BLOCKS_PER_SM,
                torch_engine.HOGWILD_ACCESS)
    if step is not None:
        torch_engine.STEP_CENTRES = step  # read by each new engine
    torch_engine.KERNEL = kernel
    if blocks_per_sm:
        torch_engine.BLOCKS_PER_SM = blocks_per_sm
    if access:
        torch_engine.HOGWILD_ACCESS = access
    on_gpu = backend == "torch" and device.startswith("cuda")
    access = torch_engine.HOGWILD_ACCESS if on_gpu else None
    build = None
    try:
        build = kernel_build(generic) if generic else None
        if on_gpu and kernel in ("auto", "hogwild") and dim <= torch_engine.MAX_HOGWILD_DIM:  # the build this
            from w2v import cuda_kernels  # row's kernel is (a fallback may have set the generic one for the run)

            generic = not cuda_kernels.SPECIALISE
        w = Word2Vec(model=model, dim=dim, epochs=epochs, threads=threads, seed=seed, device=device,
                     backend=backend)
        t0 = time.perf_counter()
        w.train(corpus, progress=False)
    finally:
        (torch_engine.STEP_CENTRES, torch_engine.KERNEL, torch_engine.BLOCKS_PER_SM,
         torch_engine.HOGWILD_ACCESS) = defaults
        if build:
            set_build(build)
    total = time.perf_counter() - t0
    st = w.stats
    result = {"model": model, "dim": dim, "device": device, "backend": backend, "threads": threads,
              "kernel": kernel if backend == "torch" else None, "blocks_per_sm": blocks_per_sm, "access": access,
              "generic": generic or None, "seed": seed, "step_centres": step, "train_seconds": st["train_seconds"],
              "total_seconds": total, "words_per_sec_train": st["words_per_sec_train"],
              "words_per_sec_total": st["raw_tokens"] * epochs / total, "loss": [e["loss"] for e in w.training_log]}
    result.update(evaluate(w))
    return result


def profile(corpus: str, model: str, dim: int, device: str, step: int, out: Path, calls: int = 3) -> str:
    """Where a step's time goes: ``calls`` calls of the torch engine (one group of chunks each) under
    torch.profiler, in this thread; the operations by device time, and the device's busy time against the
    wall time (a device idle most of the time waits on the host: launches, Python)."""
    import numpy as np
    import torch
    from torch.profiler import ProfilerActivity, profile as torch_profile

    from w2v import Word2Vec
    from w2v.corpus import Corpus, encode_corpus
    from w2v.engine import Batch
    from w2v.passes import plan_chunks
    from w2v.torch_engine import TorchEngine

    w = Word2Vec(model=model, dim=dim, epochs=1, threads=1, seed=1, device=device, backend="torch")
    w.train(corpus, progress=False)
    enc = encode_corpus(Corpus(corpus), w.vocab)
    ends = np.asarray(enc.sentence_ends)
    engine = TorchEngine(w.config, (w.weights[0].copy(), w.weights[1].copy()), w._tables(), device, step)
    bounds = plan_chunks(ends)
    groups = min(calls, (len(bounds) - 1) // engine.chunks_per_call)
    batches = []
    for g in range(groups):
        c0, c1 = g * engine.chunks_per_call, (g + 1) * engine.chunks_per_call
        s0, s1 = int(bounds[c0]), int(bounds[c1])
        first = 0 if s0 == 0 else int(ends[s0 - 1])
        batches.append(Batch(np.array(enc.ids[first:int(ends[s1 - 1])]), ends[s0:s1] - first,
                             bounds[c0:c1 + 1] - s0, np.full(c1 - c0, 0.02), np.arange(c0, c1, dtype=np.uint64)))
    cuda = device.startswith("cuda")
    engine.train(batches[0])  # warm
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    words = sum(len(b.ids) for b in batches)
    with torch_profile(activities=activities) as prof:
        t0 = time.perf_counter()
        for b in batches:
            engine.train(b)
        if cuda:
            torch.cuda.synchronize()
        wall = time.perf_counter() - t0
    engine.close()
    events = prof.key_averages()
    kernels = [e for e in events if str(getattr(e, "device_type", "")).endswith("CUDA")]
    busy = sum(getattr(e, "self_device_time_total", getattr(e, "self_cuda_time_total", 0)) for e in kernels) / 1e6
    key = "self_cuda_time_total" if cuda else "self_cpu_time_total"
    table = events.table(sort_by=key, row_limit=25)
    text = (f"## {model}, dim {dim}, step {step}: {words:,} words in {wall:.3f} s under the profiler "
            f"({words / wall:,.0f} words/s); device busy {busy:.3f} s ({busy / wall:.0%} of the wall time)\n\n"
            f"{table}\n")
    with open(out / "profile.txt", "a") as f:
        f.write(text)
    return text


def main() -> int:
    import w2v.torch_engine as torch_engine

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", required=True, help="the benchmark corpus (.txt or .txt.gz)")
    parser.add_argument("--out", default=os.environ.get("OUT", str(HERE / "out")), help="where results go")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--models", nargs="+", default=["sg", "cbow"])
    parser.add_argument("--dims", nargs="+", type=int, default=[100, 300])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--tokens", type=int, help="only the first N tokens (default: all)")
    parser.add_argument("--steps", nargs="+", type=int, default=[None],
                        help="values of torch_engine.STEP_CENTRES to compare at the first dimension (default: "
                             "the module's)")
    parser.add_argument("--steps-other", nargs="+", type=int,
                        help="the values compared at the other dimensions (default: those of --steps)")
    parser.add_argument("--kernels", nargs="+", default=["auto"], choices=["auto", "steps", "hogwild"],
                        help="the torch engine's kernels to compare (torch_engine.KERNEL; default: auto)")
    parser.add_argument("--blocks-per-sm", nargs="*", type=int, default=[],
                        help="more hogwild rows at the first dimension with these torch_engine.BLOCKS_PER_SM")
    parser.add_argument("--access", nargs="*", choices=torch_engine.ACCESS_SETTINGS,
                        help="more hogwild rows at the first dimension with these torch_engine.HOGWILD_ACCESS "
                             "(default on a GPU: those other than the default; none: --access with no value)")
    parser.add_argument("--generic", action="store_true",
                        help="more hogwild rows at the first dimension with one kernel for every width and "
                             "shared-memory sums (cuda_kernels.SPECIALISE and SHUFFLE off; at most 512 dimensions)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1],
                        help="train every row with each of these seeds (the plan once per seed, in this order)")
    parser.add_argument("--no-numba", action="store_true", help="skip the CPU rows")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for Numba (default: all cores)")
    parser.add_argument("--profile", nargs="*", type=int, default=[],
                        help="step sizes to profile on the warm-up slice (torch.profiler), into OUT/profile.txt")
    parser.add_argument("--distributed", action="store_true",
                        help="also train under torchrun, one rank per GPU (NCCL; gloo with --device cpu)")
    parser.add_argument("--budget", type=float, default=0,
                        help="seconds: start no new row after this long (0: no limit); the rows done are kept")
    args = parser.parse_args()

    from corpus_slice import prepare_slice

    began = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sl = prepare_slice(Path(args.corpus), out, args.tokens, 5)
    name = device_name(args.device)
    log(f"corpus: {sl.path}, {sl.tokens:,} tokens; device: {name}")
    failures = correctness(args.device, args.dims)
    fell_back = False
    if any(f.split()[:2] == ["hogwild", torch_engine.HOGWILD_ACCESS] for f in failures):  # the default rows' kernel
        log(f"the hogwild kernel disagrees with the reference: {failures}; checking the generic build instead")
        old = kernel_build(generic=True)
        generic_failures = correctness(args.device, args.dims)
        if len(generic_failures) < len(failures):  # its rows are the default rows now, labelled so
            failures, fell_back, args.generic = generic_failures, True, False
            log("the generic build is used for every row")
        else:
            set_build(old)
    broken = {f.split()[1] for f in failures if f.startswith("hogwild ") and not f.startswith("hogwild plain")}
    if broken:  # a way of accessing the rows that does not work here loses its rows, not the run
        log(f"hogwild access settings that disagree with the reference, left out: {sorted(broken)}")
        failures = [f for f in failures if f.split()[:2] not in [["hogwild", a] for a in broken]]
        if torch_engine.HOGWILD_ACCESS in broken:
            log(f"the default access ({torch_engine.HOGWILD_ACCESS}) is among them: the default rows use plain")
            torch_engine.HOGWILD_ACCESS = "plain"
    if failures:
        log(f"the torch engine disagrees with the reference on {args.device}: {failures}; stopping")
        return 1
    if args.device.startswith("cuda"):
        from w2v import cuda_kernels

        log(f"hogwild access 'coherent' reads past L1 (cuda.ldcg): {cuda_kernels._L2_LOADS}")
    warm = prepare_slice(Path(args.corpus), out, 200_000, 5)
    for step in args.profile:
        for model in args.models:
            try:
                log(profile(warm.path, model, args.dims[0], args.device, step, out))
            except Exception as e:  # the profile is a help, not a result
                log(f"profile of {model} at step {step} failed: {type(e).__name__}: {e}")
    plan = []  # (model, dim, backend, kernel, step, blocks per SM, access, generic)
    for dim in args.dims:
        steps = args.steps if dim == args.dims[0] or not args.steps_other else args.steps_other
        for model in args.models:
            for kernel in args.kernels:
                if kernel == "steps":
                    plan += [(model, dim, "torch", "steps", step, None, None, False) for step in steps]
                else:
                    plan.append((model, dim, "torch", kernel, None, None, None, False))
            if not args.no_numba:
                plan.append((model, dim, "numba", None, None, None, None, False))
    if args.access is None:
        others = [a for a in torch_engine.ACCESS_SETTINGS if a != torch_engine.HOGWILD_ACCESS]
        args.access = others if args.device.startswith("cuda") else []
    for access in args.access:  # the hogwild kernel's reads and writes of the shared rows, at the first dimension
        if access not in broken:
            plan += [(model, args.dims[0], "torch", "hogwild", None, None, access, False) for model in args.models]
    if args.generic:  # the kernel before the widths' own and the shuffles, at the first dimension
        plan += [(model, args.dims[0], "torch", "hogwild", None, None, None, True) for model in args.models]
    for blocks in args.blocks_per_sm:  # the hogwild kernel's concurrency, at the first dimension
        plan += [(model, args.dims[0], "torch", "hogwild", None, blocks, None, False) for model in args.models]
    rows = []
    for seed, (model, dim, backend, kernel, step, blocks, access, generic) in [(s, p) for s in args.seeds
                                                                                for p in plan]:
        what = (f"{model} dim {dim} {backend} {kernel or ''} step {step} blocks/SM {blocks} access {access}"
                f"{' generic' if generic else ''} seed {seed}")
        if args.budget and time.perf_counter() - began > args.budget:
            log(f"budget of {args.budget:.0f} s spent: {what} not run")
            continue
        device, threads = (args.device, 1) if backend == "torch" else ("cpu", args.threads)
        try:
            t0 = time.perf_counter()
            train_once(warm.path, model, dim, 1, device, backend, threads, step, kernel or "auto", blocks, access,
                       generic, seed)
            warmup = time.perf_counter() - t0
            row = train_once(sl.path, model, dim, args.epochs, device, backend, threads, step, kernel or "auto",
                             blocks, access, generic, seed)
        except Exception as e:  # one failed row must not lose the others
            log(f"{what}: FAILED {type(e).__name__}: {e}")
            continue
        row["warmup_seconds"] = warmup
        rows.append(row)
        log(json.dumps(row))
        (out / "gpu.json").write_text(json.dumps({"device": name, "corpus": sl.path, "tokens": sl.tokens,
                                                  "cpu_cores": os.cpu_count(), "rows": rows}, indent=1))
    lines = [f"GPU benchmark: {name}; {sl.tokens:,} tokens, {args.epochs} epochs, {os.cpu_count()} CPU cores "
             f"({time.strftime('%Y-%m-%d')})", "",
             "| model | dim | engine | step, blocks/SM or access | train words/s | end-to-end words/s | analogy | WS-353 | "
             "warm-up s |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        engine = (f"torch {r['device']} ({r['kernel']})" if r["backend"] == "torch"
                  else f"numba, {r['threads'] or 'all'} threads")
        detail = r["step_centres"] or r["blocks_per_sm"] or r.get("access") or "default"
        detail = f"{detail}, generic kernel" if r.get("generic") else detail
        detail = f"{detail}, seed {r['seed']}" if len(args.seeds) > 1 else detail
        lines.append(f"| {r['model']} | {r['dim']} | {engine} | {detail} | "
                     f"{r['words_per_sec_train']:,.0f} | {r['words_per_sec_total']:,.0f} | {r['analogy']:.1%} | "
                     f"{r['ws353']:.3f} | {r.get('warmup_seconds', 0):.1f} |")
    if args.distributed and fell_back:  # a fresh process would train with the build that failed the check
        lines += ["", "Distributed: not run (the kernel compiled for the widths disagreed with the reference)."]
    elif args.distributed:
        lines += ["", distributed(sl.path, args.device, out, args.epochs)]
    (out / "gpu.md").write_text("\n".join(lines) + "\n")
    log("\n".join(lines))
    return 0


def distributed(corpus: str, device: str, out: Path, epochs: int) -> str:
    """``torchrun --nproc-per-node G -m w2v train CORPUS --device DEVICE --epochs E`` with G the visible GPUs
    (1 on the CPU): the distributed path on this device's backend.  Returns a Markdown paragraph."""
    import subprocess

    import torch
    from distributed import free_port  # benchmarks/distributed.py

    ranks = max(1, torch.cuda.device_count()) if device.startswith("cuda") else 1
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(ranks), "--rdzv-backend",
               "c10d", "--rdzv-endpoint", f"127.0.0.1:{free_port()}", "-m", "w2v", "train", corpus,
               "-o", str(out / "distributed.w2v"), "--device", device, "--epochs", str(epochs)]
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    tail = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()][-8:]
    backend = "NCCL" if device.startswith("cuda") else "gloo"
    text = (f"Distributed ({backend}): `torchrun --nproc-per-node {ranks} -m w2v train ... --device {device} "
            f"--epochs {epochs}`: exit status {done.returncode}, {seconds:.1f} s in all.\n\n```\n" + "\n".join(tail)
            + "\n```")
    (out / "distributed.txt").write_text(done.stdout + done.stderr)
    log(text)
    return text


if __name__ == "__main__":
    sys.exit(main())
