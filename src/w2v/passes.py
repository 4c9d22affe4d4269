"""The chunk plan of an epoch and one pass of worker threads over it (Hogwild).

A pass trains every chunk of the encoded corpus once.  The chunks are cut at sentence ends
(:func:`plan_chunks`) and shared out in contiguous parts, one per thread (:class:`Partitions`); the threads
of a :class:`Pass` claim chunks under a condition variable, so that the trainer can pause them between
chunks (a checkpoint) or stop them (Ctrl-C) with exactly the chunks outside ``spans`` trained.
"""

from __future__ import annotations

import contextlib
import signal
import threading

import numpy as np

from .signals import STOP_SIGNALS

CHUNK_WORDS = 10_000  # tokens per kernel call: the learning rate is updated this often (the C tool: 10k)


def plan_chunks(sentence_ends: np.ndarray, chunk_words: int = CHUNK_WORDS) -> np.ndarray:
    """Split the sentences into chunks of about ``chunk_words`` tokens, cut at sentence ends only.

    Returns int64[c + 1]: chunk ``i`` is sentences ``bounds[i] .. bounds[i+1]-1``.
    """
    ends = np.asarray(sentence_ends, dtype=np.int64)
    if len(ends) == 0:
        return np.zeros(1, dtype=np.int64)
    # the first sentence whose end reaches each multiple of chunk_words closes a chunk
    marks = np.arange(chunk_words, int(ends[-1]), chunk_words, dtype=np.int64)
    cuts = np.searchsorted(ends, marks, side="left") + 1
    bounds = np.unique(np.concatenate([[0], cuts, [len(ends)]]))
    return bounds.astype(np.int64)


@contextlib.contextmanager
def _stop_signals_blocked():
    """Block SIGINT, SIGTERM and SIGHUP in this thread (POSIX), so that no stop lands in ``Thread.start``
    (which would leave a thread started but not yet joinable); pending ones arrive on exit."""
    mask = {signal.SIGINT, *STOP_SIGNALS}
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, mask)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def remaining(spans) -> int:
    return sum(hi - lo for lo, hi in spans)


class Partitions:
    """The chunks cut into ``parts`` contiguous shares of the corpus, one per thread, as the C tool and
    gensim's corpus_file mode do: concurrent threads then read distant parts of the text and rarely write
    the same (topical) rows at once.  The learning rate of a chunk follows its position in its share, so
    that every share decays alike, whoever runs it."""

    def __init__(self, chunk_start: np.ndarray, n_tokens: int, parts: int):
        n_chunks = len(chunk_start)
        self.first = np.array([n_chunks * p // parts for p in range(parts + 1)], dtype=np.int64)
        starts = np.append(chunk_start, n_tokens)
        self.token_lo = starts[self.first[:-1]]
        self.token_len = np.maximum(starts[self.first[1:]] - self.token_lo, 1)
        self.chunk_start = chunk_start

    def spans(self) -> list[list[int]]:
        """A fresh pass: every share whole, as [next chunk, end) pairs."""
        return [[int(a), int(b)] for a, b in zip(self.first[:-1], self.first[1:])]

    def fraction(self, c: int) -> float:
        """How far into its share chunk ``c`` starts, in [0, 1)."""
        p = int(np.searchsorted(self.first, c, side="right")) - 1
        return float(self.chunk_start[c] - self.token_lo[p]) / float(self.token_len[p])


class Pass:
    """One pass over the chunks by worker threads sharing the weights (Hogwild).

    Thread ``i`` trains its own share from the front; once it is done it takes chunks from the back of the
    share with the most left (so no thread idles while another has work).  Claims happen under a condition
    variable, so that pausing (for a checkpoint) or stopping (Ctrl-C) waits for the chunks in flight and
    leaves exactly the chunks outside ``spans`` trained.
    """

    def __init__(self, run_chunks, epoch: int, epoch_no: int, spans, sums, group: int = 1):
        self.run_chunks, self.epoch, self.epoch_no = run_chunks, epoch, epoch_no
        self.group = max(1, int(group))  # consecutive chunks claimed at once (an engine's call)
        self.spans = [list(span) for span in spans]  # [next, end) of each share, still to train
        self.sums = np.asarray(sums, dtype=np.float64).copy()  # loss, examples, seen, kept
        self.lr = 0.0
        self.in_flight = 0
        self.halted = False   # paused or stopping: no new chunk is claimed
        self.stopping = False
        self.floor: int | None = None  # a gate: no chunk is claimed once no more than this many are left
        self.active = 0       # workers not yet finished
        self.failure: list[BaseException] = []
        self.cond = threading.Condition()
        self.threads: list[threading.Thread] = []

    def start(self, n_threads: int) -> None:
        self.threads = [threading.Thread(target=self._work, args=(i % len(self.spans),), daemon=True)
                        for i in range(n_threads)]
        self.active = len(self.threads)
        with _stop_signals_blocked():  # a Ctrl-C or SIGTERM now waits until every worker runs
            for t in self.threads:
                t.start()

    def _claim(self, own: int) -> tuple[int, int] | None:
        """Up to ``group`` consecutive chunks ``[c0, c1)``: from the front of the own share, else from the
        back of the share with the most left."""
        span = self.spans[own]
        if span[0] < span[1]:
            c0 = span[0]
            span[0] = min(span[1], c0 + self.group)
            return c0, span[0]
        span = max(self.spans, key=lambda s: s[1] - s[0])
        if span[0] < span[1]:
            c1 = span[1]
            span[1] = max(span[0], c1 - self.group)
            return span[1], c1
        return None

    def _gated(self) -> bool:
        return self.floor is not None and remaining(self.spans) <= self.floor

    def at_gate(self) -> bool:
        """Whether the workers wait at the gate with nothing in flight (a sync point is reached)."""
        with self.cond:
            return self._gated() and not self.in_flight

    def set_gate(self, floor: int | None) -> None:
        """Let the workers claim chunks until no more than ``floor`` are left (None: no gate)."""
        with self.cond:
            self.floor = floor
            self.cond.notify_all()

    def _work(self, own: int) -> None:
        try:
            while True:
                with self.cond:
                    while (self.halted or self._gated()) and not self.stopping:
                        self.cond.wait()
                    c = None if self.stopping or self.failure else self._claim(own)
                    if c is None:
                        self.active -= 1
                        self.cond.notify_all()
                        return
                    self.in_flight += 1
                res = None
                try:
                    res, lr = self.run_chunks(*c, self.epoch, self.epoch_no)  # the GIL is released in here
                finally:
                    with self.cond:  # sums and in_flight change together: a pause sees both or neither
                        if res is not None:
                            self.sums += res
                            self.lr = lr
                        self.in_flight -= 1
                        self.cond.notify_all()
        except BaseException as exc:  # surfaced in the main thread
            with self.cond:
                self.failure.append(exc)
                self.active -= 1
                self.cond.notify_all()

    def running(self, tick: float = 0.25) -> bool:
        """Wait up to ``tick`` seconds, less when the workers reach the gate or all finish; True while any
        worker is still at work."""
        with self.cond:
            self.cond.wait_for(lambda: self.active == 0 or (self._gated() and not self.in_flight), tick)
        return any(t.is_alive() for t in self.threads)

    def _quiesce(self) -> tuple[list[list[int]], list[float]]:
        while self.in_flight:
            self.cond.wait()
        return [list(span) for span in self.spans], self.sums.tolist()

    @contextlib.contextmanager
    def paused(self):
        """Hold the workers between chunks; yields (spans left, sums) while nothing is in flight."""
        with self.cond:
            self.halted = True
            state = self._quiesce()
        try:
            yield state
        finally:
            with self.cond:
                self.halted = False
                self.cond.notify_all()

    def stop(self) -> tuple[list[list[int]], list[float]]:
        with self.cond:
            self.halted = self.stopping = True
            state = self._quiesce()
            self.cond.notify_all()
        for t in self.threads:
            if t.ident is not None:  # a stop may come before start() began: those never ran
                t.join()
        return state

    def raise_failure(self) -> None:
        for t in self.threads:
            t.join()
        if self.failure:
            raise self.failure[0]
