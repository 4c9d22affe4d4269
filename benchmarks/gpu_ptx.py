"""The GPU kernel compiled ahead of time, without a GPU: its PTX and ptxas's report for each target.

    pip install 'numba-cuda[cu12]'                    # numba-cuda with the CUDA 12 compilers (NVVM, ptxas) as wheels
    python benchmarks/gpu_ptx.py                      # compute capabilities 9.0 (H100) and 8.0 (A100)
    python benchmarks/gpu_ptx.py --cc 9.0 --out benchmarks/out/ptx

What a GPU run would otherwise be the first to tell: that the kernel of :mod:`w2v.cuda_kernels` compiles, in
each of its builds (:data:`BUILDS`: for a width, with warp shuffles, or generic), for each target with the
argument types of every launch (``cuda_kernels.SIGNATURE``); that the coherent access reads the shared rows
past the L1 cache (``ld.global.cg``) and adds to them with atomics (``atom``/``red.global.add.f32``) where the
plain access loads and stores them; and ptxas's registers, stack and spills per thread, which bound how many
blocks a multiprocessor holds at once.  Writes ``OUT/hogwild-TAG-sm_XY.ptx`` and ``OUT/ptx.md``.  On a
machine with a GPU the same script compiles for that GPU's own target too.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
KERNELS = HERE.parent / "src" / "w2v" / "cuda_kernels.py"
REGISTERS_PER_SM = 65_536  # compute capability 7.0 to 9.0
MAX_BLOCKS_PER_SM = 32     # the same
INSTRUCTIONS = {
    "rows read past L1 (ld.global.cg)": r"ld\.global\.cg\.[bf]32",
    "plain float loads (ld.global.f32)": r"ld\.global\.f32",
    "atomic adds (atom/red.global.add.f32)": r"(?:atom|red)\.global\.add\.f32",
    "plain float stores (st.global.f32)": r"st\.global\.f32",
    "warp shuffles (shfl.sync)": r"shfl\.sync",
    "barriers (bar.sync)": r"(?:bar|barrier)\.sync",
}
BUILDS = [  # (file name's tag, name, a dimension it is for, cuda_kernels.SPECIALISE, cuda_kernels.SHUFFLE)
    ("lane4", "dim 97-128 (4 a lane), shuffles", 100, True, True),
    ("lane10", "dim 289-320 (10 a lane), shuffles", 300, True, True),
    ("lane32", "dim 993-1024 (32 a lane), shuffles", 1024, True, True),
    ("generic", "any dim, shared-memory sums", 100, False, False),
]


def fail(message: str) -> None:
    print(f"gpu_ptx.py: {message}", file=sys.stderr)
    raise SystemExit(2)


def kernels_module(cc: tuple[int, int]):
    """A fresh copy of w2v/cuda_kernels.py (so that nothing compiled for another target is reused), its rows read
    with ``cuda.ldcg`` as on a GPU; device functions compiled for ``cc`` when no GPU is there to ask."""
    from numba import cuda
    import numba.cuda.dispatcher as dispatcher

    if not cuda.is_available():  # a device function asks the current GPU for its target
        dispatcher.get_current_device = lambda: types.SimpleNamespace(compute_capability=cc)
    spec = importlib.util.spec_from_file_location(f"cuda_kernels_sm{cc[0]}{cc[1]}", KERNELS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if hasattr(cuda, "ldcg"):
        module._load = module._load_l2  # what _l2_loads_compile finds on a GPU
    return module


def ptxas() -> str | None:
    found = shutil.which("ptxas")
    if found:
        return found
    spec = importlib.util.find_spec("nvidia.cuda_nvcc")
    if spec and spec.submodule_search_locations:
        candidate = Path(list(spec.submodule_search_locations)[0]) / "bin" / "ptxas"
        if candidate.exists():
            return str(candidate)
    return None


def resources(tool: str, ptx_path: Path, cc: tuple[int, int]) -> dict:
    done = subprocess.run([tool, f"-arch=sm_{cc[0]}{cc[1]}", "-v", str(ptx_path), "-o", "/dev/null"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": done.stderr.strip()[-500:]}
    text = done.stderr + done.stdout

    def number(pattern: str) -> int:
        found = re.search(pattern, text)
        return int(found.group(1)) if found else 0

    registers = number(r"Used (\d+) registers")
    per_warp = -(-registers * 32 // 256) * 256  # registers are allocated per warp, 256 at a time
    return {"registers": registers, "stack bytes": number(r"(\d+) bytes stack frame"),
            "spill stores": number(r"(\d+) bytes spill stores"), "spill loads": number(r"(\d+) bytes spill loads"),
            "blocks a multiprocessor's registers hold": min(MAX_BLOCKS_PER_SM, REGISTERS_PER_SM // max(per_warp, 1))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cc", nargs="+", default=["9.0", "8.0"], help="compute capabilities (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "ptx", help="folder for the PTX and ptx.md")
    args = parser.parse_args(argv)
    try:
        targets = [tuple(int(part) for part in cc.split(".")) for cc in args.cc]
    except ValueError:
        fail(f"--cc takes compute capabilities such as 9.0, not {' '.join(args.cc)}")
    if importlib.util.find_spec("numba_cuda") is None:  # numba's own numba.cuda is the deprecated one
        fail("needs numba-cuda and the CUDA compilers: pip install 'numba-cuda[cu12]'")
    from numba import config as numba_config, cuda
    from numba.cuda import compile_ptx
    if numba_config.ENABLE_CUDASIM:
        fail("NUMBA_ENABLE_CUDASIM is set: the simulator compiles nothing; unset it")
    if cuda.is_available():
        own = cuda.get_current_device().compute_capability
        targets += [own] if own not in targets else []
    tool = ptxas()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for cc, (tag, build, dim, specialise, shuffle) in [(cc, b) for cc in targets for b in BUILDS]:
        module = kernels_module(cc)
        module.SPECIALISE, module.SHUFFLE = specialise, shuffle
        try:
            ptx, _ = compile_ptx(module.kernel(dim).py_func, module.SIGNATURE, cc=cc)
        except Exception as error:  # noqa: BLE001 - the report is the point
            message = str(error).strip().splitlines()
            fail(f"hogwild ({build}) does not compile for sm_{cc[0]}{cc[1]}: "
                 f"{message[-1] if message else error!r} (no CUDA compiler? pip install 'numba-cuda[cu12]')")
        path = args.out / f"hogwild-{tag}-sm_{cc[0]}{cc[1]}.ptx"
        path.write_text(ptx)
        row = {"target": f"sm_{cc[0]}{cc[1]}", "kernel": build, "ldcg": hasattr(cuda, "ldcg")}
        row.update({name: len(re.findall(pattern, ptx)) for name, pattern in INSTRUCTIONS.items()})
        row.update(resources(tool, path, cc) if tool else {"error": "no ptxas (pip install 'numba-cuda[cu12]')"})
        rows.append(row)
        print(row, flush=True)
    columns = list(rows[0])
    for row in rows[1:]:
        columns += [c for c in row if c not in columns]
    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    lines += ["| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in rows]
    import numba
    versions = f"numba {numba.__version__}, numba-cuda {getattr(sys.modules.get('numba_cuda'), '__version__', '?')}"
    (args.out / "ptx.md").write_text(f"hogwild ({KERNELS.name}), {versions}\n\n" + "\n".join(lines) + "\n")
    print(f"written: {args.out / 'ptx.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
