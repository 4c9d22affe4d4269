"""Data-parallel training across processes with ``torch.distributed`` (launched by ``torchrun``).

Each rank trains its own contiguous share of the corpus (:meth:`w2v.corpus.Corpus.shares`) with the
single-machine trainer and engine; the ranks agree on everything else through collectives:

- **vocabulary**: each rank counts its share (:func:`w2v.vocab.count_words`); the counts are gathered and
  merged in rank order (:func:`w2v.vocab.merge_counts`), so every rank selects the same words with the same
  ids and ties, whatever the timing (with ``max_vocab`` pruning the counts depend on how the text was split);
- **weights**: replicas start equal (same seed); at sync points (``K`` per pass at the same fractions of
  every rank's share, the last at the end of the pass) every rank's updates since the last sync are added
  up with all-reduce, so that each row moves as far as all the ranks moved it (averaging the replicas
  instead divides the learning rate by the number of ranks: measured 5 points of analogy lost with 2 ranks,
  benchmarks/NOTES.md section 14).  ``full`` merges both matrices each time; ``hot`` merges the rows of the
  most frequent words (the first rows: the vocabulary is sorted by frequency) at every sync point and the
  whole matrices every ``full_every`` points and at the end of a pass (Ji et al.'s pWord2Vec: most updates
  touch few rows); the input rows of the ``averaged_rows`` most frequent words take the ranks' mean update
  instead (each rank's replica gets them where one process would: measured, the sum lost WS-353);
- **control**: each sync starts with a small all-reduce of flags (a rank stops, a checkpoint is due), so a
  Ctrl-C or SIGTERM on any rank stops them all at their next sync point with one consistent checkpoint.

Faults: every rank beats a heartbeat into the rendezvous store (:data:`HEARTBEAT` seconds); a collective that
fails (a peer died) or times out (a peer froze: ``timeout``) ends the training with a
:class:`DistributedError` naming the ranks whose heartbeat stopped and the checkpoint to resume from.
"""

from __future__ import annotations

import datetime
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ConfigError, DistributedError

log = logging.getLogger("w2v")

DEFAULT_TIMEOUT = 300.0
"""Seconds a collective may wait for the other ranks before the training is declared failed."""

HEARTBEAT = 1.0
"""Seconds between two heartbeats of a rank in the rendezvous store."""

SYNC_MODES = ("auto", "full", "hot")
DEFAULT_SYNC_WORDS = 250_000
"""Tokens of a rank's share between two sync points (about 0.3 s of one thread's skip-gram training):
benchmarks/NOTES.md, section 14, measured the interval against the quality."""

HOT_ROWS = 4096
"""Rows (the most frequent words) merged at every sync point in the ``hot`` mode."""

AVERAGED_ROWS = 1024
"""Input rows (the most frequent words) whose ranks' updates are averaged at a merge, not added
(:meth:`Context.merge`; benchmarks/NOTES.md, section 14)."""


@dataclass(frozen=True)
class Options:
    """How ranks cooperate (run-time choices, not part of the model)."""

    timeout: float = DEFAULT_TIMEOUT   # seconds a collective may wait
    sync_words: int = DEFAULT_SYNC_WORDS  # tokens of a share between two sync points
    sync: str = "auto"                 # "full", "hot", or "auto": hot for negative sampling, else full
    hot_rows: int = HOT_ROWS           # rows merged at every sync point in "hot" mode
    full_every: int = 8                # "hot": the whole matrices every this many sync points (and at a
    #                                    pass's end)
    averaged_rows: int = AVERAGED_ROWS  # input rows (most frequent words) whose ranks' updates are averaged

    def __post_init__(self) -> None:
        if not (isinstance(self.timeout, (int, float)) and self.timeout > 0):
            raise ConfigError(f"'dist_timeout' must be a number of seconds in (0, inf); got {self.timeout!r}")
        if not (isinstance(self.sync_words, int) and self.sync_words >= 1):
            raise ConfigError(f"'sync_words' must be an int in [1, inf); got {self.sync_words!r}")
        if not (isinstance(self.averaged_rows, int) and self.averaged_rows >= 0):
            raise ConfigError(f"'averaged_rows' must be an int in [0, inf); got {self.averaged_rows!r}")
        if self.sync not in SYNC_MODES:
            raise ConfigError(f"'sync' must be one of {', '.join(map(repr, SYNC_MODES))}; got {self.sync!r}")

    def mode(self, loss: str) -> str:
        """The sync mode for ``loss``: ``auto`` is ``hot`` for negative sampling (rows sorted by frequency),
        ``full`` for the others."""
        if self.sync != "auto":
            return self.sync
        return "hot" if loss == "ns" else "full"


def launched() -> bool:
    """Whether this process was started by torchrun (or another launcher setting RANK and WORLD_SIZE)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def rank() -> int | None:
    """This process's rank under torchrun, None outside it.  Rank 0 (or a process on its own) speaks for all:
    it writes the outputs and shows the log; the others say only what goes wrong, as ``w2v[rank N]``."""
    return int(os.environ["RANK"]) if launched() else None


def local_threads(threads: int) -> int:
    """``threads`` for this process: 0 means the node's cores divided among its local ranks."""
    if threads > 0:
        return threads
    local = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    return max(1, (os.cpu_count() or 1) // local)


def local_device(device: str) -> str:
    """``cuda`` means this rank's own GPU (``cuda:LOCAL_RANK``) under torchrun."""
    if device == "cuda" and "LOCAL_RANK" in os.environ:
        return f"cuda:{int(os.environ['LOCAL_RANK'])}"
    return device


class Context:
    """This process's place among the ranks, and the collectives the trainer needs."""

    def __init__(self, options: Options, device: str = "cpu"):
        import torch.distributed as dist

        self.dist = dist
        self.options = options
        self.owned = False
        timeout = datetime.timedelta(seconds=options.timeout)
        if not dist.is_initialized():
            if not launched():
                raise DistributedError("no process group: start w2v with torchrun (RANK and WORLD_SIZE unset)")
            backend = "nccl" if device.startswith("cuda") else "gloo"
            try:
                dist.init_process_group(backend, timeout=timeout)
            except Exception as e:  # the rendezvous failed: name it, no traceback
                raise DistributedError(f"the ranks could not meet ({type(e).__name__}: {e}); check torchrun's "
                                       "--rdzv-endpoint and that every node can reach it") from None
            self.owned = True
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        self.backend = dist.get_backend()
        # object and CPU collectives (counts, positions, flags) go over gloo whatever the weights' backend
        self.cpu_group = dist.new_group(backend="gloo", timeout=timeout) if self.backend != "gloo" else None
        self.checkpoint: str | None = None  # the last checkpoint written (by rank 0), for the error message
        self._store = None
        self._beating = threading.Event()
        try:
            self._store = dist.distributed_c10d._get_default_store()
        except Exception:  # a process group without a store: no heartbeats, errors name no rank
            self._store = None
        if self._store is not None:
            self._beat()
            threading.Thread(target=self._heartbeats, name="w2v-heartbeat", daemon=True).start()

    # -- heartbeats and failures ----------------------------------------------------------------------
    def _beat(self) -> None:
        self._store.set(f"w2v/heartbeat/{self.rank}", repr(time.time()))

    def _heartbeats(self) -> None:
        while not self._beating.wait(HEARTBEAT):
            try:
                self._beat()
            except Exception:  # the store is gone (the launcher ended): nothing left to tell
                return

    def silent_ranks(self, wait: float = 2.5 * HEARTBEAT) -> list[tuple[int, float]]:
        """The ranks whose heartbeat is older than ``wait`` seconds, with its age (waits ``wait`` first, so
        that a rank that just died is seen as silent)."""
        if self._store is None:
            return []
        time.sleep(wait)
        now, silent = time.time(), []
        for r in range(self.world):
            try:
                age = now - float(self._store.get(f"w2v/heartbeat/{r}").decode())
            except Exception:
                age = float("inf")
            if age > wait:
                silent.append((r, age))
        return silent

    def failed(self, what: str, error: BaseException) -> DistributedError:
        """The error to end the training with after a collective failed."""
        silent = [r for r in self.silent_ranks() if r[0] != self.rank]
        if silent:
            who = ", ".join(f"rank {r} (silent for {age:.0f} s)" if age != float("inf") else f"rank {r}"
                            for r, age in silent)
            why = f"{who} stopped responding"
        else:
            why = f"another rank failed ({type(error).__name__}: {str(error).splitlines()[0][:200]})"
        resume = (f"resume every rank from the last checkpoint, {self.checkpoint} (--resume)"
                  if self.checkpoint else "no checkpoint was written yet (use --checkpoint-every)")
        return DistributedError(f"rank {self.rank}: {why} during {what}; {resume}")

    def _guard(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DistributedError:
            raise
        except Exception as e:  # gloo and NCCL raise RuntimeError (or DistBackendError) on a lost peer
            raise self.failed(what, e) from None

    # -- collectives --------------------------------------------------------------------------------------
    def _cpu(self):
        return self.cpu_group

    def all_sum(self, values: np.ndarray, what: str) -> np.ndarray:
        """The element-wise sum of ``values`` (int64 or float64, same shape on every rank) over the ranks."""
        import torch

        t = torch.from_numpy(np.ascontiguousarray(values).copy())
        self._guard(what, self.dist.all_reduce, t, group=self._cpu())
        return t.numpy()

    def all_max(self, values: np.ndarray, what: str) -> np.ndarray:
        import torch

        t = torch.from_numpy(np.ascontiguousarray(values, dtype=np.int64).copy())
        self._guard(what, self.dist.all_reduce, t, op=self.dist.ReduceOp.MAX, group=self._cpu())
        return t.numpy()

    def all_gather_bytes(self, blob: bytes, what: str) -> list[bytes]:
        """Every rank's ``blob``, in rank order."""
        import torch

        size = torch.tensor([len(blob)], dtype=torch.int64)
        sizes = [torch.zeros(1, dtype=torch.int64) for _ in range(self.world)]
        self._guard(what, self.dist.all_gather, sizes, size, group=self._cpu())
        longest = max(int(s.item()) for s in sizes)
        mine = torch.zeros(max(longest, 1), dtype=torch.uint8)
        if blob:
            mine[:len(blob)] = torch.frombuffer(bytearray(blob), dtype=torch.uint8)
        got = [torch.zeros(max(longest, 1), dtype=torch.uint8) for _ in range(self.world)]
        self._guard(what, self.dist.all_gather, got, mine, group=self._cpu())
        return [bytes(g[:int(s.item())].numpy()) for g, s in zip(got, sizes)]

    def agree(self, what: dict, name: str) -> None:
        """Raise :class:`DistributedError` on every rank alike when the ranks' ``what`` (a flat dict of JSON
        values) differ, naming each key that differs and its value on each rank that differs from rank 0."""
        import json

        mine = json.dumps(what, sort_keys=True).encode()
        every = [json.loads(blob) for blob in self.all_gather_bytes(mine, name)]
        differ = [f"{key} {every[0].get(key)!r} on rank 0, {e.get(key)!r} on rank {r}"
                  for key in sorted(set().union(*every)) for r, e in enumerate(every[1:], 1)
                  if e.get(key) != every[0].get(key)]
        if differ:
            raise DistributedError(f"the ranks were not started alike ({name} must be the same on every rank): "
                                   + "; ".join(differ[:6]) + ("; ..." if len(differ) > 6 else ""))

    def merge_counts(self, local):
        """The ranks' :class:`w2v.vocab.WordCounts`, merged in rank order (the corpus order of the shares)."""
        from .vocab import WordCounts, merge_counts

        parts = []
        for blob in self.all_gather_bytes(_pack_counts(local), "the vocabulary's merge"):
            parts.append(_unpack_counts(blob, WordCounts))
        return merge_counts(parts)

    def merge(self, tensors, bases, rows: int | None = None, what: str = "a weight sync",
              averaged: int = 0) -> None:
        """Add up every rank's updates since the last sync: ``t = base + sum over ranks of (t_r - base)`` for
        the first ``rows`` rows (all: None) of each tensor, in place, and ``base`` becomes ``t``.  Summed,
        not averaged: a word's row moves as far as every rank's updates of it together, as one process
        would move it (an average would divide each rank's learning by the number of ranks).  Except the
        first ``averaged`` rows of the first tensor (the input vectors of the most frequent words), which
        take the ranks' mean update: each rank trains them on thousands of their occurrences between two
        syncs, its replica takes them about where one process would, and the sum moved them too far
        (WS-353 0.015 under one process; averaged, level: benchmarks/NOTES.md, section 14)."""
        for i, (t, base) in enumerate(zip(tensors, bases)):
            part, start = (t, base) if rows is None else (t[:rows], base[:rows])
            part -= start
            self._guard(what, self.dist.all_reduce, part)
            if i == 0 and averaged:  # the input rows of the most frequent words: the ranks' mean update
                part[:averaged] /= self.world
            part += start
            start.copy_(part)

    def close(self) -> None:
        self._beating.set()
        if self.owned and self.dist.is_initialized():
            try:
                self.dist.destroy_process_group()
            except Exception:
                pass


def _pack_counts(counts) -> bytes:
    """A rank's word counts as bytes: [n, raw_tokens, pruned, min_reduce] int64, n word lengths int64, n counts
    int64, the words in UTF-8 (any word, newlines included, survives)."""
    encoded = [w.encode("utf-8", "surrogatepass") for w in counts.words]
    head = np.array([len(encoded), counts.raw_tokens, counts.pruned_words, counts.min_reduce], dtype=np.int64)
    lengths = np.array([len(e) for e in encoded], dtype=np.int64)
    return head.tobytes() + lengths.tobytes() + np.asarray(counts.counts, dtype=np.int64).tobytes() + \
        b"".join(encoded)


def _unpack_counts(blob: bytes, cls):
    n, raw, pruned, min_reduce = (int(x) for x in np.frombuffer(blob, dtype=np.int64, count=4))
    lengths = np.frombuffer(blob, dtype=np.int64, count=n, offset=32)
    values = np.frombuffer(blob, dtype=np.int64, count=n, offset=32 + 8 * n).copy()
    at = 32 + 16 * n
    words = []
    for length in lengths:
        words.append(blob[at:at + int(length)].decode("utf-8", "surrogatepass"))
        at += int(length)
    return cls(words, values, raw, pruned, min_reduce)


def context(options: Options | None, device: str) -> Context | None:
    """The distributed context when this process is one of several ranks (a process group is initialised,
    or torchrun's environment is set), else None."""
    if not launched():  # a process group can only exist if the program imported torch.distributed already
        loaded = sys.modules.get("torch.distributed")
        if loaded is None or not (loaded.is_available() and loaded.is_initialized()):
            return None  # (and importing torch, ~1-6 s, is not paid by a training in one process)
    try:
        import torch.distributed as dist
    except ImportError:
        raise DistributedError("distributed training needs PyTorch: pip install 'w2v[torch]'") from None
    if not dist.is_available():
        raise DistributedError("this PyTorch has no torch.distributed; install a build with it")
    return Context(options or Options(), device)


def check_supported(config, backend: str, options: Options | None = None) -> None:
    """Refuse what distributed training does not do: the ``hot`` sync needs the rows sorted by frequency,
    which hierarchical softmax's and the softmax's output rows are not (``full`` merges any loss)."""
    options = options or Options()
    loss = getattr(config, "loss", "ns")
    if options.sync == "hot" and loss != "ns":
        raise ConfigError(f"'sync' 'hot' merges the rows of the most frequent words, which needs 'loss' 'ns'; "
                          f"with 'loss' {loss!r} use 'sync' 'full' (or 'auto', the default)")


def describe(ctx: Any) -> str:
    return f"rank {ctx.rank} of {ctx.world} ({ctx.backend})"


class PeerStopped(KeyboardInterrupt):
    """Another rank was stopped (Ctrl-C, SIGTERM, SIGHUP): this one stops with it (``signum`` is theirs)."""

    def __init__(self, signum: int):
        super().__init__(f"stopped with the other ranks (signal {signum} on one of them)")
        self.signum = signum


class Sync:
    """The sync points of a distributed training: ``points`` per pass at the same fractions of every rank's
    share, the last at the end of the pass.  Each point: a control all-reduce (stop? checkpoint due?), then
    the ranks' updates merged (all or the hot rows), then, when due, a checkpoint by rank 0 with every rank's
    position.  Stop signals are held while a point runs, so a collective is never cut in the middle."""

    def __init__(self, ctx: Context, engine, n_tokens: int, vocab_size: int, loss: str = "ns"):
        self.ctx, self.engine, self.options = ctx, engine, ctx.options
        self.mode = self.options.mode(loss)
        longest = int(ctx.all_max(np.array([n_tokens]), "the sync plan")[0])
        self.points = max(1, -(-longest // self.options.sync_words))
        self.hot = min(self.options.hot_rows, vocab_size)
        self.averaged = min(self.options.averaged_rows, vocab_size)
        self.next = 1          # the next sync point of the current pass (1 .. points)
        self.done = 0          # points done in this pass
        self.stop_agreed = False  # every rank knows of a stop (a point saw it, or stop_all told it)
        self.bases = [t.clone() for t in engine.tensors()]  # the weights at the last sync (equal on every rank)

    def start_pass(self, sync_point: int) -> None:
        self.done = sync_point
        self.next = sync_point + 1

    def floor(self, n_chunks: int) -> int | None:
        """The chunks left at the next in-pass point (the pass's gate: :meth:`w2v.passes.Pass.set_gate`),
        or None when only the pass's end is left (:meth:`end_pass`): the workers stop there, and the point is
        due once they wait at the gate (:meth:`w2v.passes.Pass.at_gate`), so that the ranks merge their
        updates at the fractions planned, not whenever the trainer's loop next looks."""
        if self.next >= self.points:
            return None
        return n_chunks * (self.points - self.next) // self.points

    def _tensors(self):
        return self.engine.tensors()

    def point(self, *, checkpoint_due: bool, stopping: int = 0) -> tuple[int, bool]:
        """One sync point: returns (the signal a rank stopped with, or 0; whether a checkpoint is due)."""
        from .signals import deferred

        with deferred():
            flags = self.ctx.all_max(np.array([stopping, int(checkpoint_due and self.ctx.rank == 0)]),
                                     "a sync point")
            stop, save = int(flags[0]), bool(flags[1])
            if stop:
                self.stop_agreed = True
                return stop, False
            full = self.next >= self.points or self.mode == "full" \
                or self.next % max(1, self.options.full_every) == 0
            self.ctx.merge(self._tensors(), self.bases, None if full else self.hot, "a weight sync",
                           self.averaged)
            self.done = self.next
            self.next += 1
        return 0, save

    def end_pass(self, sums: np.ndarray, checkpoint_due: bool) -> tuple[int, bool, np.ndarray]:
        """The points this rank has not reached yet, then the last one of the pass (the whole matrices) and
        the pass's sums over every rank: (stop signal or 0, checkpoint due, global sums)."""
        from .signals import deferred

        save = False
        with deferred():  # one block: a stop signal must not land between two of its collectives
            while self.next <= self.points:
                stop, due = self.point(checkpoint_due=checkpoint_due)
                if stop:
                    return stop, False, sums
                save = save or due
            return 0, save, self.ctx.all_sum(np.asarray(sums, dtype=np.float64), "the pass's sums")

    def stop_all(self, signum: int) -> None:
        """This rank was stopped: tell the others at their next point (they stop too).  Not when a point has
        already agreed on a stop: a signal of this rank's own, held through that point, must not start a
        second exchange that the other ranks, gone on to the last weight sync, would never match."""
        from .signals import deferred

        if self.stop_agreed:
            return
        with deferred():
            self.ctx.all_max(np.array([signum, 0]), "a stop")
        self.stop_agreed = True

    def gather(self, blob: bytes) -> list[bytes]:
        from .signals import deferred

        with deferred():
            return self.ctx.all_gather_bytes(blob, "a checkpoint")

    def merge_all(self) -> None:
        from .signals import deferred

        with deferred():
            self.ctx.merge(self._tensors(), self.bases, None, "the last weight sync", self.averaged)
