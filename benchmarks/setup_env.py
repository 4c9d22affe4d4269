"""The benchmark's own environment: a virtual environment with the Python peers, the fastText CLI, and the
word2vec C tool when its source or binary is given.

The peers are pinned here, not in the project's dependencies, so a benchmark never changes what the
package needs.  Every tool's training runs in a subprocess of ``benchmarks/.venv/bin/python`` (w2v is
installed there in editable mode, so it is the working tree that is measured).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BENCH_REQUIREMENTS = ("gensim==4.4.0", "matplotlib>=3.7")  # w2v itself is added as `-e <repo>`
FASTTEXT_PIP_FALLBACKS = ("fasttext-wheel", "fasttext")  # Python bindings, when the Debian CLI cannot be had


@dataclass(frozen=True)
class FastTextTool:
    """How fastText is run: ``kind`` is 'cli' (a ``fasttext`` executable at ``path``), 'python' (the pip
    bindings in the bench venv) or 'missing' (``reason`` says why)."""

    kind: str
    path: str = ""
    how: str = ""
    reason: str = ""

    @property
    def seeded(self) -> bool:
        """Whether the CLI takes -seed (fastText 0.9.2 and later; without it every run is the same seed)."""
        if self.kind != "cli":
            return self.kind == "python"
        usage = subprocess.run([self.path, "skipgram"], capture_output=True, text=True)
        return "-seed" in usage.stdout + usage.stderr


def _run(cmd: list[str], log, env: dict | None = None) -> bool:
    """Run an installation step, its output into the log only on failure; True when it succeeded."""
    log("setup: " + " ".join(cmd))
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    if proc.returncode != 0:
        log(f"setup: failed (exit {proc.returncode}):\n" + proc.stdout[-3000:])
    return proc.returncode == 0


def _stamp(repo: Path) -> str:
    """What the installed environment depends on: the pins and the project's pyproject.toml."""
    digest = hashlib.sha256("\n".join(BENCH_REQUIREMENTS).encode())
    digest.update((repo / "pyproject.toml").read_bytes())
    return digest.hexdigest()


def ensure_venv(repo: Path, venv: Path, log=print, install: bool = True) -> Path:
    """Create ``venv`` with gensim, matplotlib and w2v (editable) if it is absent or stale; return its python.

    Raises RuntimeError with the failing step when the environment cannot be made.
    """
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    stamp = _stamp(repo)
    if python.exists() and marker.exists() and marker.read_text() == stamp:
        return python
    if not install:
        raise RuntimeError(f"{venv} is missing or stale and --no-install was given")
    if not python.exists():
        # `-m venv` from inside another venv still bases the new one on the base interpreter.
        if not _run([sys.executable, "-m", "venv", str(venv)], log):
            raise RuntimeError(f"could not create the benchmark environment {venv}")
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    steps = [pip + ["--upgrade", "pip"], pip + list(BENCH_REQUIREMENTS), pip + ["-e", str(repo)]]
    for step in steps:
        if not _run(step, log):
            raise RuntimeError("could not install the benchmark environment: " + " ".join(step))
    marker.write_text(stamp)
    return python


def _package_version(package: str) -> str:
    """``Debian package <package> <version>`` when dpkg knows it, else ``<package> (version unknown)``."""
    if shutil.which("dpkg-query"):
        proc = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True)
        if proc.returncode == 0 and proc.stdout:
            return f"Debian package {package} {proc.stdout}"
    return f"{package} (version unknown)"


def _python_has_fasttext(python: Path) -> bool:
    """True when the bench venv can import the fastText Python bindings."""
    return subprocess.run([str(python), "-c", "import fasttext"], capture_output=True).returncode == 0


def ensure_fasttext(python: Path, log=print, install: bool = True) -> FastTextTool:
    """Find or install fastText: the Debian ``fasttext`` CLI first, else the pip bindings in the bench venv.

    Never raises: when nothing works the tool is reported as missing with the reason, and the benchmark
    goes on without it.
    """
    found = shutil.which("fasttext")
    if found:
        return FastTextTool("cli", found, how=f"{_package_version('fasttext')}, already installed")
    if _python_has_fasttext(python):
        return FastTextTool("python", how="Python bindings already in the bench venv")
    if not install:
        return FastTextTool("missing", reason="no fasttext CLI or bindings, and --no-install was given")

    apt = shutil.which("apt-get")
    if apt and os.geteuid() == 0:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        if _run([apt, "update", "-q"], log, env) and _run([apt, "install", "-y", "-q", "fasttext"], log, env):
            found = shutil.which("fasttext")
            if found:
                return FastTextTool("cli", found, how=f"{_package_version('fasttext')}, installed now with apt-get")
    else:
        log("setup: apt-get unavailable or not root; trying the pip bindings for fastText")

    for package in FASTTEXT_PIP_FALLBACKS:
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", package]
        if _run(pip, log) and _python_has_fasttext(python):
            return FastTextTool("python", how=f"pip install {package} in the bench venv")
    return FastTextTool("missing", reason="apt-get install fasttext and pip " + "/".join(FASTTEXT_PIP_FALLBACKS)
                        + " all failed (see the log)")


@dataclass(frozen=True)
class CTool:
    """The word2vec C tool: an executable at ``path`` (``how`` says where it came from), or ``reason`` why
    there is none."""

    path: str = ""
    how: str = ""
    reason: str = ""
    seeded: bool = False  # built here with -seed (a binary given as it is has none)


# The C tool's last commit never clears a thread's end-of-file flag between epochs: a thread that reaches the
# end of the file trains one epoch only (with one thread, -iter 5 trains one).  This is where the flag belongs.
C_EPOCH_RESET = "      sentence_length = 0;\n      fseek(fi, file_size / (long long)num_threads * (long long)id, SEEK_SET);\n"
C_FLAGS = ("-O3", "-march=native", "-funroll-loops", "-pthread")  # its makefile's, warnings aside

# The C tool has no seed: every run draws the same initial weights (next_random = 1) and the same training
# stream per thread (next_random = thread id), so its repeats differ by thread timing only, and one run is one
# seed of its spread (about 0.6 points of CBOW analogies, sd over 8 seeds; benchmarks/NOTES.md, section 20).
# These replacements add "-seed N" (0, the default, is the original stream), so that repeat r runs seed r.
C_SEED = (("clock_t start;\n", "clock_t start;\nlong long seed = 0;\n"),
          ("  unsigned long long next_random = 1;\n", "  unsigned long long next_random = 1 + seed * 7919ULL;\n"),
          ("  unsigned long long next_random = (long long)id;\n",
           "  unsigned long long next_random = (long long)id + seed * 1000003ULL;\n"),
          ("  if ((i = ArgPos((char *)\"-classes\", argc, argv)) > 0) classes = atoi(argv[i + 1]);\n",
           "  if ((i = ArgPos((char *)\"-classes\", argc, argv)) > 0) classes = atoi(argv[i + 1]);\n"
           "  if ((i = ArgPos((char *)\"-seed\", argc, argv)) > 0) seed = atoll(argv[i + 1]);\n"))


def ensure_word2vec_c(given: Path | None, out: Path, log=print) -> CTool:
    """The C tool from ``given``: its ``word2vec.c`` (built here into ``out`` with the makefile's flags, the
    end-of-file flag cleared between epochs) or a binary already built.  Never raises."""
    if given is None:
        return CTool(reason="give --word2vec-c with the C tool's word2vec.c (github.com/tmikolov/word2vec) or a "
                            "binary built from it")
    if not given.is_file():
        return CTool(reason=f"--word2vec-c {given}: no such file")
    if given.suffix != ".c":
        if not os.access(given, os.X_OK):
            return CTool(reason=f"--word2vec-c {given}: not executable (give word2vec.c to build it here)")
        return CTool(str(given.resolve()), how=f"the binary {given}, as given")
    source = given.read_text(errors="replace")
    if any(source.count(old) != 1 for old in (C_EPOCH_RESET, *(old for old, _ in C_SEED))):
        return CTool(reason=f"{given}: not the word2vec.c this benchmark knows (its epoch loop or random streams "
                            "differ), so the end-of-file fix and the seed cannot be applied; build it yourself and "
                            "give the binary")
    fixed = out / "word2vec-c" / "word2vec.c"
    fixed.parent.mkdir(parents=True, exist_ok=True)
    source = source.replace(C_EPOCH_RESET, C_EPOCH_RESET.replace("\n      fseek", "\n      eof = 0;\n      fseek"))
    for old, new in C_SEED:
        source = source.replace(old, new)
    fixed.write_text(source)
    binary = fixed.with_suffix("")
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None or not _run([compiler, str(fixed), "-o", str(binary), *C_FLAGS, "-lm"], log):
        return CTool(reason=f"could not build {given} (gcc missing or failed: see the log)")
    return CTool(str(binary), how=f"{given} built with {Path(compiler).name} {' '.join(C_FLAGS)}, the end-of-file "
                                  "flag cleared between epochs (see shared/data/README.md), -seed added",
                 seeded=True)
