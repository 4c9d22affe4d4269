"""One place for how each tool is run: the command, the measurement, and what its output means.

Every training runs in its own subprocess, so that its peak RSS is its own (``os.wait4`` returns the
child's ``ru_maxrss``) and no tool inherits another's warm state.  Timings:

- ``train_seconds``: training only, as the tool separates it (w2v's ``stats``, gensim's ``train()``
  call); for the fastText CLI, the time between its "Number of labels" line (vocabulary done) and its
  final "Progress: 100.0%" line, both stamped as they arrive on its unbuffered stderr;
- ``end_to_end_seconds``: from launching the process to the end of training (interpreter start, imports,
  Numba's cache load, reading, vocabulary, training); the export of the vectors is not included.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from corpus_slice import CorpusSlice
from setup_env import CTool, FastTextTool

HERE = Path(__file__).resolve().parent
TOOLS = ("w2v", "w2v-no-hogbatch", "word2vec-c", "gensim", "gensim-corpus-file", "fasttext")
SG_ONLY = {"w2v-no-hogbatch"}  # the per-pair skip-gram update (HogBatch off): no CBOW variant
LOSSES = ("ns", "hs")  # negative sampling; hierarchical softmax (w2v --loss hs, gensim hs=1 negative=0, fastText -loss hs)
NS_ONLY = {"w2v-no-hogbatch"}  # HogBatch on or off is a choice of negative sampling only


def runs_loss(tool: str, model: str, loss: str) -> bool:
    """Whether ``tool`` has a run for ``model`` and ``loss``."""
    return (model == "sg" or tool not in SG_ONLY) and (loss == "ns" or tool not in NS_ONLY)
TRAINED_WORDS_FLAG = 99.0  # a tool that trained less than this % of the words it should have is flagged
FASTTEXT_TRAIN_START = re.compile(rb"Number of labels:[^\n]*\n")
FASTTEXT_TRAIN_END = re.compile(rb"Progress: 100\.0%[^\r\n]*\n")  # the final report ends in a newline
FASTTEXT_SPEED = re.compile(rb"words/sec/thread:\s*(\d+)")
C_TRAIN_START = re.compile(rb"Words in train file: \d+\n")  # the vocabulary is read; training starts
C_PROGRESS = re.compile(rb"Progress: ([\d.]+)%")  # printed every 10,000 words a thread


@dataclass(frozen=True)
class Settings:
    """The hyperparameters shared by every tool (alpha follows the model: 0.025 sg, 0.05 cbow)."""

    dim: int = 100
    window: int = 5
    negative: int = 5
    sample: float = 1e-3
    min_count: int = 5
    epochs: int = 5

    @staticmethod
    def alpha(model: str) -> float:
        """The initial learning rate of the original tool for ``model``."""
        return 0.025 if model == "sg" else 0.05


@dataclass(frozen=True)
class Job:
    """One training run to make."""

    tool: str
    model: str
    threads: int
    repeat: int
    corpus: CorpusSlice
    settings: Settings
    evaluate: bool = True
    loss: str = "ns"

    @property
    def name(self) -> str:
        """A file-name-friendly label, unique within a benchmark."""
        loss = "" if self.loss == "ns" else f"-{self.loss}"
        return f"{self.tool}-{self.model}{loss}-t{self.threads}-{self.corpus.tokens}-r{self.repeat}"

    @property
    def seed(self) -> int:
        """Each repeat its own seed (1, 2, ...), the same for every tool; the warm-up (repeat -1) seed 1."""
        return max(self.repeat, 0) + 1


@dataclass
class RunResult:
    """What one run measured; ``error`` is set (and the figures None) when it failed."""

    tool: str
    model: str
    threads: int
    repeat: int
    tokens: int
    loss: str = "ns"
    error: str | None = None
    version: str | None = None
    train_seconds: float | None = None
    vocab_seconds: float | None = None
    end_to_end_seconds: float | None = None
    peak_rss_mb: float | None = None
    words_per_second_train: float | None = None
    words_per_second_end_to_end: float | None = None
    words_trained: int | None = None
    words_kind: str | None = None
    words_expected: int | None = None
    trained_percent: float | None = None
    analogy: float | None = None
    ws353: float | None = None
    evaluator: str | None = None
    log: str | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The JSON form."""
        return asdict(self)


@dataclass(frozen=True)
class Measured:
    """A finished subprocess: exit status, wall seconds, peak RSS, and when its output markers appeared."""

    returncode: int
    wall_seconds: float
    peak_rss_mb: float
    marks: dict[str, float]
    output_tail: str


def run_measured(cmd: list[str], log_path: Path, marks: dict[str, re.Pattern] | None = None) -> Measured:
    """Run ``cmd``, copying its output to ``log_path``; stamp the first time each pattern of ``marks`` is seen.

    The output is read as it comes (unbuffered stderr is stamped to within a read), and the child is reaped
    with ``os.wait4`` so that its own peak RSS (``ru_maxrss``, KiB on Linux) is known, not the maximum
    over all children so far.
    """
    marks = marks or {}
    seen: dict[str, float] = {}
    window = b""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    with open(log_path, "wb") as log:
        while chunk := os.read(proc.stdout.fileno(), 1 << 16):
            now = time.perf_counter() - start
            log.write(chunk)
            window = (window + chunk)[-8192:]  # enough to hold any marker split across two reads
            for name, pattern in marks.items():
                if name not in seen and pattern.search(window):
                    seen[name] = now
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so tell Popen
    tail = log_path.read_bytes()[-2000:].decode("utf-8", "replace")
    return Measured(proc.returncode, wall, usage.ru_maxrss / 1024, seen, tail)


def _read_json(path: Path) -> dict:
    """A job's result file."""
    return json.loads(path.read_text())


@dataclass(frozen=True)
class Runner:
    """Runs jobs: the bench venv's python, how fastText is run, where files go, and which evaluator."""

    python: Path
    fasttext: FastTextTool
    out_dir: Path
    evaluator: str = "w2v"
    eval_dir: Path | None = None
    keep_vectors: bool = False
    word2vec_c: CTool = CTool(reason="not asked for")

    def _paths(self, job: Job) -> tuple[Path, Path, Path]:
        """(log, vectors, result JSON) paths of a job."""
        for sub in ("logs", "vectors"):
            (self.out_dir / sub).mkdir(parents=True, exist_ok=True)
        return (self.out_dir / "logs" / f"{job.name}.log", self.out_dir / "vectors" / f"{job.name}.bin",
                self.out_dir / "logs" / f"{job.name}.json")

    def _python_job(self, job: Job, tool: str) -> RunResult:
        """Train with ``train_job.py`` (w2v, gensim in both modes, fastText's Python bindings)."""
        log, vectors, result_path = self._paths(job)
        s = job.settings
        cmd = [str(self.python), str(HERE / "train_job.py"), tool, "--corpus", job.corpus.path,
               "--model", job.model, "--threads", str(job.threads), "--dim", str(s.dim),
               "--window", str(s.window), "--negative", str(s.negative), "--sample", str(s.sample),
               "--min-count", str(s.min_count), "--epochs", str(s.epochs), "--alpha", str(s.alpha(job.model)),
               "--loss", job.loss, "--seed", str(job.seed), "--vectors", str(vectors), "--result", str(result_path)]
        result_path.unlink(missing_ok=True)
        measured = run_measured(cmd, log)
        run = _blank(job, log)
        if measured.returncode != 0 or not result_path.exists():
            run.error = f"exit {measured.returncode}: " + _last_line(measured.output_tail)
            return run
        out = _read_json(result_path)
        run.version = out["version"]
        run.train_seconds, run.vocab_seconds = out["train_seconds"], out["vocab_seconds"]
        run.end_to_end_seconds = measured.wall_seconds - out["save_seconds"]
        run.peak_rss_mb = measured.peak_rss_mb
        run.words_trained, run.words_kind = out["words_trained"], out["words_kind"]
        run.extra = {k: v for k, v in out.items() if k not in asdict(run)}
        return run

    def _fasttext_cli(self, job: Job) -> RunResult:
        """Train with the fastText CLI, no subwords (-minn 0 -maxn 0), timed from its own progress output."""
        log, vectors, _ = self._paths(job)
        s = job.settings
        prefix = vectors.with_name(vectors.stem + ".fasttext")  # it writes <prefix>.bin and <prefix>.vec
        cmd = [self.fasttext.path, "skipgram" if job.model == "sg" else "cbow", "-input", job.corpus.path,
               "-output", str(prefix), "-minn", "0", "-maxn", "0", "-neg", str(s.negative),
               "-ws", str(s.window), "-dim", str(s.dim), "-epoch", str(s.epochs), "-minCount", str(s.min_count),
               "-t", str(s.sample), "-lr", str(s.alpha(job.model)), "-thread", str(job.threads),
               "-loss", job.loss]
        if self.fasttext.seeded:  # repeat r its own seed, as for every other tool (a usage check: milliseconds)
            cmd += ["-seed", str(job.seed)]
        measured = run_measured(cmd, log, {"start": FASTTEXT_TRAIN_START, "end": FASTTEXT_TRAIN_END})
        run = _blank(job, log)
        text_vectors, native_model = Path(f"{prefix}.vec"), Path(f"{prefix}.bin")
        if measured.returncode != 0 or "end" not in measured.marks or not text_vectors.exists():
            run.error = f"exit {measured.returncode}: " + _last_line(measured.output_tail)
            return run
        run.version = "fastText CLI: " + self.fasttext.how
        run.vocab_seconds = measured.marks.get("start", 0.0)
        run.train_seconds = measured.marks["end"] - run.vocab_seconds
        run.end_to_end_seconds = measured.marks["end"]
        run.peak_rss_mb = measured.peak_rss_mb
        run.words_kind = "n/a"  # fastText reports progress, not a count of trained words
        speeds = FASTTEXT_SPEED.findall(log.read_bytes())
        if speeds:
            run.extra["fasttext_words_per_sec_per_thread"] = int(speeds[-1])
        convert = subprocess.run([str(self.python), str(HERE / "w2v_format.py"), str(text_vectors), str(vectors)],
                                 capture_output=True, text=True)
        text_vectors.unlink(missing_ok=True)
        native_model.unlink(missing_ok=True)
        if convert.returncode != 0:
            run.error = "could not convert the fastText vectors: " + _last_line(convert.stderr)
        return run

    def _word2vec_c(self, job: Job) -> RunResult:
        """Train with the word2vec C tool (its own binary output), timed from the end of its vocabulary pass
        to its exit; trained words estimated from its last progress report."""
        log, vectors, _ = self._paths(job)
        s = job.settings
        loss = ["-negative", str(s.negative), "-hs", "0"] if job.loss == "ns" else ["-negative", "0", "-hs", "1"]
        cmd = [self.word2vec_c.path, "-train", job.corpus.path, "-output", str(vectors), "-binary", "1",
               "-cbow", "0" if job.model == "sg" else "1", "-size", str(s.dim), "-window", str(s.window),
               "-sample", str(s.sample), *loss, "-threads", str(job.threads), "-iter", str(s.epochs),
               "-min-count", str(s.min_count), "-alpha", str(s.alpha(job.model))]
        if self.word2vec_c.seeded:  # repeat r its own seed, as for every other tool
            cmd += ["-seed", str(job.seed)]
        measured = run_measured(cmd, log, {"start": C_TRAIN_START})
        run = _blank(job, log)
        if measured.returncode != 0 or "start" not in measured.marks or not vectors.exists():
            run.error = f"exit {measured.returncode}: " + _last_line(measured.output_tail)
            return run
        run.version = "word2vec C tool: " + self.word2vec_c.how
        run.vocab_seconds = measured.marks["start"]
        run.train_seconds = measured.wall_seconds - run.vocab_seconds
        run.end_to_end_seconds = measured.wall_seconds
        run.peak_rss_mb = measured.peak_rss_mb
        progress = C_PROGRESS.findall(log.read_bytes())
        in_vocab = job.corpus.in_vocab_tokens.get(str(s.min_count))
        if progress and in_vocab:
            run.words_kind = "in-vocab"
            run.words_trained = round(float(progress[-1]) / 100 * in_vocab * s.epochs)
        return run

    def train(self, job: Job) -> RunResult:
        """Train one job, fill in the derived figures, and evaluate its vectors (unless ``job.evaluate``
        is False); the vectors are deleted afterwards unless ``keep_vectors``."""
        if job.tool == "fasttext":
            if self.fasttext.kind == "cli":
                run = self._fasttext_cli(job)
            elif self.fasttext.kind == "python":
                run = self._python_job(job, "fasttext-python")
            else:
                run = _blank(job, None)
                run.error = "unavailable: " + self.fasttext.reason
        elif job.tool == "word2vec-c":
            run = self._word2vec_c(job)
        else:
            run = self._python_job(job, job.tool)
        if run.error is None:
            _derive(run, job)
            if job.evaluate:
                self._evaluate(run, self._paths(job)[1])
        vectors = self._paths(job)[1]
        if not self.keep_vectors:
            vectors.unlink(missing_ok=True)
        return run

    def _evaluate(self, run: RunResult, vectors: Path) -> None:
        """Fill in analogy accuracy and WS-353 with the one evaluator; on failure, note it in ``extra``."""
        result_path = vectors.with_suffix(".eval.json")
        cmd = [str(self.python), str(HERE / "eval_job.py"), str(vectors), "--result", str(result_path),
               "--evaluator", self.evaluator, "--eval-dir", str(self.eval_dir or "")]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not result_path.exists():
            run.extra["eval_error"] = _last_line(proc.stderr or proc.stdout)
            return
        out = _read_json(result_path)
        result_path.unlink()
        run.analogy, run.ws353, run.evaluator = out["analogy"], out["ws353"], out["evaluator"]
        run.extra["analogy_details"] = out.get("analogy_details", {})


def _blank(job: Job, log: Path | None) -> RunResult:
    """A result with only the job's identity filled in."""
    return RunResult(job.tool, job.model, job.threads, job.repeat, job.corpus.tokens, job.loss,
                     log=str(log) if log else None)


def _derive(run: RunResult, job: Job) -> None:
    """Speeds in raw corpus words per second, and the share of the expected words the tool trained."""
    raw_words = job.corpus.tokens * job.settings.epochs
    run.words_per_second_train = raw_words / run.train_seconds if run.train_seconds else None
    run.words_per_second_end_to_end = raw_words / run.end_to_end_seconds if run.end_to_end_seconds else None
    per_epoch = {"raw": job.corpus.tokens,
                 "in-vocab": job.corpus.in_vocab_tokens.get(str(job.settings.min_count))}.get(run.words_kind)
    seen = run.extra.get("raw_tokens_seen")
    if seen is not None and seen != job.corpus.tokens:
        run.extra["warning"] = f"the tool read {seen:,} raw tokens, the slice has {job.corpus.tokens:,}"
    if run.words_trained is not None and per_epoch:
        run.words_expected = per_epoch * job.settings.epochs
        run.trained_percent = 100.0 * run.words_trained / run.words_expected


def _last_line(text: str) -> str:
    """The last non-empty line of a process's output (its error, usually)."""
    lines = [line.strip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"


def tool_available(python: Path, tool: str, fasttext: FastTextTool, word2vec_c: CTool = CTool()) -> str | None:
    """None when ``tool`` can run in the bench venv, else the reason it cannot."""
    if tool == "fasttext":
        return None if fasttext.kind != "missing" else fasttext.reason
    if tool == "word2vec-c":
        return None if word2vec_c.path else word2vec_c.reason or "not built"
    module = "w2v.train" if tool.startswith("w2v") else "gensim.models.word2vec"
    proc = subprocess.run([str(python), "-c", f"import {module}"], capture_output=True, text=True)
    return None if proc.returncode == 0 else f"cannot import {module}: {_last_line(proc.stderr)}"
