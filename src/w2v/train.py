"""The trainer: ``Word2Vec`` runs epochs x chunks over an encoded corpus with worker threads.

Python owns everything but the arithmetic: reading (two passes over the text at most), the learning-rate
schedule, the chunk plan, threads, progress, the loss log and saving.  Each kernel call trains one chunk
of whole sentences (``CHUNK_WORDS`` tokens or a little more) and releases the GIL, so the threads run the
kernels truly in parallel on the shared weights (Hogwild: no locks, rare conflicting writes to the same
row are tolerated, as in the C tool and gensim).

The learning rate of a chunk and its random stream depend only on (epoch, chunk), never on which thread
runs it or when: with one thread and a seed, training is bit-reproducible.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from typing import Any, Callable, Iterable

import numpy as np

from . import sampling
from .config import Config
from .errors import ConfigError
from .memory import check_memory
from .checkpoint import Position
from .progress import Progress

log = logging.getLogger("w2v")

CHUNK_WORDS = 10_000  # tokens per kernel call: the learning rate is updated this often (the C tool: 10k)


def learning_rate(start: float, end: float, progress: float) -> float:
    """The one learning-rate formula: linear decay from ``start`` to ``end`` as progress goes 0 -> 1."""
    return start - (start - end) * min(max(progress, 0.0), 1.0)


def chunk_seed(seed: int, epoch: int, chunk: int) -> int:
    """A 64-bit seed for one chunk's random stream, mixed from (seed, epoch, chunk) with SplitMix64."""
    mask = (1 << 64) - 1
    z = (seed * 0x9E3779B97F4A7C15 + (epoch << 40) + chunk + 1) & mask
    for _ in range(2):
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        z ^= z >> 31
    return z


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


def init_weights(vocab_size: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """W_in uniform in [-0.5/dim, 0.5/dim), W_out zeros: the C tool's initialisation (float32[V, d] each)."""
    rng = np.random.default_rng(seed)
    w_in = (rng.random((vocab_size, dim), dtype=np.float32) - np.float32(0.5)) / np.float32(dim)
    return np.ascontiguousarray(w_in), np.zeros((vocab_size, dim), dtype=np.float32)


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by Ctrl-C after the chunks in flight; the message says where the checkpoint is."""


def _check_checkpointing(checkpoint, checkpoint_every) -> None:
    if checkpoint_every is not None:
        if checkpoint is None:
            raise ConfigError("'checkpoint_every' needs a 'checkpoint' path to write to")
        if not isinstance(checkpoint_every, (int, float)) or isinstance(checkpoint_every, bool) \
                or not checkpoint_every > 0:
            raise ConfigError(f"'checkpoint_every' must be a number of seconds in (0, inf); "
                              f"got {checkpoint_every!r}")


def _remaining(spans) -> int:
    return sum(hi - lo for lo, hi in spans)


class _Partitions:
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


class _Pass:
    """One pass over the chunks by worker threads sharing the weights (Hogwild).

    Thread ``i`` trains its own share from the front; once it is done it takes chunks from the back of the
    share with the most left (so no thread idles while another has work).  Claims happen under a condition
    variable, so that pausing (for a checkpoint) or stopping (Ctrl-C) waits for the chunks in flight and
    leaves exactly the chunks outside ``spans`` trained.
    """

    def __init__(self, run_chunk, epoch: int, epoch_no: int, spans, sums):
        self.run_chunk, self.epoch, self.epoch_no = run_chunk, epoch, epoch_no
        self.spans = [list(span) for span in spans]  # [next, end) of each share, still to train
        self.sums = np.asarray(sums, dtype=np.float64).copy()  # loss, examples, seen, kept
        self.lr = 0.0
        self.in_flight = 0
        self.halted = False   # paused or stopping: no new chunk is claimed
        self.stopping = False
        self.failure: list[BaseException] = []
        self.cond = threading.Condition()
        self.threads: list[threading.Thread] = []

    def start(self, n_threads: int) -> None:
        self.threads = [threading.Thread(target=self._work, args=(i % len(self.spans),), daemon=True)
                        for i in range(n_threads)]
        for t in self.threads:
            t.start()

    def _claim(self, own: int) -> int | None:
        span = self.spans[own]
        if span[0] < span[1]:
            span[0] += 1
            return span[0] - 1
        span = max(self.spans, key=lambda s: s[1] - s[0])
        if span[0] < span[1]:
            span[1] -= 1
            return span[1]
        return None

    def _work(self, own: int) -> None:
        try:
            while True:
                with self.cond:
                    while self.halted and not self.stopping:
                        self.cond.wait()
                    c = None if self.stopping or self.failure else self._claim(own)
                    if c is None:
                        return
                    self.in_flight += 1
                res = None
                try:
                    res, lr = self.run_chunk(c, self.epoch, self.epoch_no)  # the GIL is released in here
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
                self.cond.notify_all()

    def running(self, tick: float = 0.25) -> bool:
        """Wait up to ``tick`` seconds; True while any worker is still at work."""
        self.threads[0].join(tick)
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
            t.join()
        return state

    def raise_failure(self) -> None:
        for t in self.threads:
            t.join()
        if self.failure:
            raise self.failure[0]


class Word2Vec:
    """Skip-gram or CBOW word vectors trained with negative sampling and subsampling of frequent words.

    ``Word2Vec(**settings)`` only stores the settings (see :class:`w2v.Config` for each, with its default);
    :meth:`train` reads the corpus and learns.  After training, ``model.wv`` holds the vectors
    (a :class:`w2v.KeyedVectors`) and ``model.training_log`` one entry per epoch.

    Examples
    --------
    >>> model = Word2Vec(model="sg", dim=100, epochs=5).train("corpus.txt.gz")   # doctest: +SKIP
    >>> model.wv.most_similar("france", topn=5)                                 # doctest: +SKIP
    """

    def __init__(self, config: Config | None = None, **settings: Any):
        if config is not None and settings:
            raise ConfigError("give either a Config or keyword settings, not both")
        self.config = config if config is not None else Config(**settings)
        self.vocab = None  # w2v.vocab.Vocab after training or loading
        self.weights: tuple[np.ndarray, np.ndarray] | None = None  # (W_in, W_out), float32[V, d]
        self.training_log: list[dict[str, Any]] = []
        self.stats: dict[str, Any] = {}
        self._wv = None

    # -- results -------------------------------------------------------------------------------------
    @property
    def wv(self):
        """The trained vectors as :class:`w2v.KeyedVectors` (input vectors, the C tool's output)."""
        if self.weights is None:
            raise RuntimeError("the model is not trained yet: call train(corpus) first")
        if self._wv is None:
            from .vectors import KeyedVectors
            self._wv = KeyedVectors(list(self.vocab.words), self.weights[0], self.vocab.counts)
        return self._wv

    # -- training ------------------------------------------------------------------------------------
    def train(self, corpus: Any, *, epochs: int | None = None, progress: bool = True,
              cache_dir: str | os.PathLike | None = None,
              callbacks: Iterable[Callable[[dict[str, Any]], None]] = (),
              checkpoint: str | os.PathLike | None = None, checkpoint_every: float | None = None,
              update_vocab: bool = False) -> "Word2Vec":
        """Learn vectors from ``corpus``; returns ``self``.

        Parameters
        ----------
        corpus : path, list of paths, or re-iterable of token lists
            Text files (plain, .gz, .bz2, .xz; a line is a sentence) or sentences as lists of str.
        epochs : int, optional
            Passes over the corpus in this call (default: ``config.epochs``).  The learning rate decays
            from ``alpha`` to ``min_alpha`` over this call's passes.
        progress : bool
            Show a progress bar (or periodic lines when stderr is not a terminal).
        cache_dir : path, optional
            Where the encoded corpus is written (default: the system's temp directory).
        callbacks : callables
            Each is called with the epoch's log entry after every epoch.
        checkpoint : path, optional
            Where checkpoints are written (atomically): every ``checkpoint_every`` seconds, and when
            training is interrupted (Ctrl-C), after the chunks in flight finish.  Continue with
            :meth:`resume`.
        checkpoint_every : float, optional
            Seconds between checkpoints (needs ``checkpoint``); None: only on interruption.
        update_vocab : bool
            For a model already trained (or loaded): add the words of the new text that reach
            ``min_count`` in it to the vocabulary (new input rows drawn like at initialisation, output
            rows zero).  Every count becomes the sum over all the text trained on, so subsampling and the
            noise distribution follow the whole history; the vocabulary is sorted again by these counts.

        A model that is already trained (or loaded) continues with its vocabulary and weights; words of the
        new text that are not in the vocabulary are skipped unless ``update_vocab``.

        Raises
        ------
        TrainingInterrupted
            On Ctrl-C (a ``KeyboardInterrupt``): the model holds the weights of every finished chunk, and
            the checkpoint, when one was asked for, is written.
        """
        from .corpus import encode_corpus, finalize
        from .vocab import build_vocab

        cfg = self.config
        n_epochs = cfg.epochs if epochs is None else epochs
        if not isinstance(n_epochs, int) or isinstance(n_epochs, bool) or n_epochs < 1:
            raise ConfigError(f"'epochs' must be an int in [1, inf); got {n_epochs!r}")
        _check_checkpointing(checkpoint, checkpoint_every)
        t_start = time.perf_counter()
        source = self._corpus(corpus)
        fresh = self.vocab is None
        if fresh or update_vocab:
            found = build_vocab(source, min_count=cfg.min_count, max_vocab=cfg.max_vocab,
                                max_final_vocab=cfg.max_final_vocab)
            log.info("vocabulary: %d words (of %d distinct), %d tokens", len(found), found.distinct_words,
                     found.total)
        t_vocab = time.perf_counter()
        if fresh:
            check_memory(len(found), cfg.dim)
        elif update_vocab:
            self._grow_vocab(found)
        with encode_corpus(source, found if fresh else self.vocab, directory=cache_dir) as enc:
            if fresh:
                # exact counts, re-sorted, when max_vocab pruning made pass 1's counts lower bounds
                self.vocab = finalize(enc, found)
                self.weights = init_weights(len(self.vocab), cfg.dim, cfg.seed)
                self.training_log = []
                self._wv = None
            t_encoded = time.perf_counter()
            train_seconds = self._run(enc, Position(n_epochs), progress, callbacks, checkpoint,
                                      checkpoint_every)
        self._record_stats(enc, n_epochs, t_start, t_vocab, t_encoded, train_seconds)
        return self

    @classmethod
    def resume(cls, checkpoint: str | os.PathLike, corpus: Any, *, progress: bool = True,
               cache_dir: str | os.PathLike | None = None,
               callbacks: Iterable[Callable[[dict[str, Any]], None]] = (),
               checkpoint_every: float | None = None) -> "Word2Vec":
        """Continue a training from its checkpoint, on the same corpus, to the same final schedule.

        The corpus is read once (pass 2 only: the vocabulary comes from the checkpoint) and checked against
        the checkpoint's fingerprint; a different corpus is refused.  New checkpoints go to the same path.
        With ``threads=1`` the result is bit-identical to a training that was never interrupted.
        """
        from .checkpoint import check_fingerprint, load_checkpoint
        from .corpus import encode_corpus

        model, position, saved = load_checkpoint(checkpoint)
        _check_checkpointing(checkpoint, checkpoint_every)
        t_start = time.perf_counter()
        source = model._corpus(corpus)
        with encode_corpus(source, model.vocab, directory=cache_dir) as enc:
            check_fingerprint(saved, enc, checkpoint)
            t_encoded = time.perf_counter()
            log.info("resuming in pass %d of %d", position.epoch + 1, position.epochs)
            train_seconds = model._run(enc, position, progress, callbacks, checkpoint, checkpoint_every)
        model._record_stats(enc, position.epochs, t_start, t_start, t_encoded, train_seconds)
        return model

    def _corpus(self, corpus: Any):
        from .corpus import Corpus

        if isinstance(corpus, Corpus):
            return corpus
        cfg = self.config
        return Corpus(corpus, lowercase=cfg.lowercase, normalize=cfg.normalize,
                      max_sentence_length=cfg.max_sentence_length, allow_truncated=cfg.allow_truncated)

    def _grow_vocab(self, found) -> None:
        """Merge a new text's vocabulary into the model's (see ``update_vocab`` in :meth:`train`)."""
        from .vocab import Vocab

        old = self.vocab
        counts = old.counts.astype(np.int64).copy()
        added, added_counts = [], []
        for word, count in zip(found.words, found.counts):
            i = old.index.get(word)
            if i is None:
                added.append(word)
                added_counts.append(int(count))
            else:
                counts[i] += int(count)
        merged = Vocab(list(old.words) + added, np.concatenate([counts, np.asarray(added_counts, np.int64)]))
        check_memory(len(merged), self.config.dim)
        new_in, _ = init_weights(len(added), self.config.dim, self.config.seed + len(old))
        w_in = np.concatenate([self.weights[0], new_in])
        w_out = np.concatenate([self.weights[1], np.zeros_like(new_in)])
        self.vocab, perm = merged.with_counts(merged.counts)  # perm: old id -> new id
        order = np.argsort(perm)                                # new id -> old id
        self.weights = (np.ascontiguousarray(w_in[order]), np.ascontiguousarray(w_out[order]))
        self._wv = None
        log.info("vocabulary grown by %d words to %d", len(added), len(self.vocab))

    def _record_stats(self, enc, n_epochs: int, t_start: float, t_vocab: float, t_encoded: float,
                      train_seconds: float) -> None:
        total_seconds = time.perf_counter() - t_start
        raw = int(enc.raw_tokens)
        self.stats = {
            "raw_tokens": raw,
            "tokens": int(enc.sentence_ends[-1]),  # in-vocabulary tokens (``enc`` may be closed by now)
            "vocab_size": len(self.vocab),
            "epochs": n_epochs,
            "threads": self.config.n_threads,
            "vocab_seconds": t_vocab - t_start,
            "encode_seconds": t_encoded - t_vocab,
            "train_seconds": train_seconds,
            "total_seconds": total_seconds,
            # raw corpus words (out-of-vocabulary ones included) per wall second: the C tool's measure
            "words_per_sec_train": raw * n_epochs / max(train_seconds, 1e-9),
            "words_per_sec_total": raw * n_epochs / max(total_seconds, 1e-9),
        }
        log.info("trained %d epochs in %.1f s (%.1f s end to end): %.0f raw words/s", n_epochs,
                 train_seconds, total_seconds, self.stats["words_per_sec_train"])

    def _tables(self) -> tuple[np.ndarray, np.ndarray]:
        """The kernels' read-only tables: subsampling thresholds and the noise distribution's alias table."""
        counts = self.vocab.counts
        keep = sampling.keep_thresholds(sampling.keep_probabilities(counts, self.config.sample))
        noise = sampling.alias_table(sampling.noise_distribution(counts, self.config.ns_exponent))
        return keep, noise

    def _run(self, enc, pos: "Position", show_progress: bool, callbacks, checkpoint, checkpoint_every) -> float:
        """Train the passes of ``pos`` from where it stands; returns the training wall seconds."""
        from . import kernels
        from .checkpoint import fingerprint, save_checkpoint

        cfg = self.config
        kernel = kernels.KERNELS[(cfg.model, cfg.use_hogbatch)]
        tables = self._tables()
        params = (np.int64(cfg.window), np.int64(cfg.negative), np.int64(cfg.cbow_mean))
        ends = np.asarray(enc.sentence_ends, dtype=np.int64)
        bounds = plan_chunks(ends)
        n_chunks = len(bounds) - 1
        chunk_start = np.concatenate([[0], ends[bounds[1:-1] - 1]]).astype(np.int64)  # token offsets
        n_tokens = int(len(enc.ids))
        total = n_tokens * pos.epochs
        if not pos.partitions:
            pos.partitions = max(1, min(cfg.n_threads, n_chunks))
        plan = _Partitions(chunk_start, n_tokens, pos.partitions)
        alpha, min_alpha = cfg.start_alpha, cfg.min_alpha
        print_ = fingerprint(enc) if checkpoint is not None else None
        # compile (first use on this machine only; cached after) before the clock and the threads start
        kernel(self.weights, tables, np.zeros(1, np.int32), np.ones(1, np.int64), 0, 0, params, alpha,
               np.uint64(0))

        def run_chunk(c: int, e: int, epoch_no: int) -> tuple:
            lr = learning_rate(alpha, min_alpha, (e + plan.fraction(c)) / pos.epochs)
            s0, s1 = bounds[c], bounds[c + 1]
            first = 0 if s0 == 0 else int(ends[s0 - 1])
            ids = enc.read_ids(first, int(ends[s1 - 1]))  # a copy of the chunk: memory stays bounded
            return kernel(self.weights, tables, ids, ends[s0:s1] - first, 0, s1 - s0, params, lr,
                          np.uint64(chunk_seed(cfg.seed, epoch_no, c))), lr

        def save(snapshot: "Position") -> None:
            save_checkpoint(checkpoint, self, snapshot, print_)
            log.info("checkpoint written: %s (pass %d, %d of %d chunks done)", os.fspath(checkpoint),
                     snapshot.epoch + 1, n_chunks - _remaining(snapshot.spans), n_chunks)

        bar = Progress(total, enabled=show_progress)
        tick = 0.25 if checkpoint_every is None else min(0.25, checkpoint_every)  # progress/checkpoint checks
        train_seconds = 0.0
        last_save = time.monotonic()
        try:
            while pos.epoch < pos.epochs:
                e = pos.epoch
                epoch_no = len(self.training_log) + 1
                spans = pos.spans if pos.spans is not None else plan.spans()
                work = _Pass(run_chunk, e, epoch_no, spans, pos.sums)
                t0 = time.perf_counter()
                work.start(max(1, min(cfg.n_threads, _remaining(spans))))
                try:
                    while work.running(tick):
                        s = work.sums
                        bar.update(e * n_tokens + int(s[2]), epoch_no, epoch_no + pos.epochs - e - 1,
                                   work.lr, s[0] / max(s[1], 1.0))
                        if checkpoint_every is not None and time.monotonic() - last_save >= checkpoint_every:
                            with work.paused() as (spans, sums):
                                save(Position(pos.epochs, e, spans, sums,
                                              pos.seconds + time.perf_counter() - t0, pos.partitions))
                            last_save = time.monotonic()
                except KeyboardInterrupt:
                    spans, sums = work.stop()
                    train_seconds += time.perf_counter() - t0
                    where = ""
                    if checkpoint is not None:
                        save(Position(pos.epochs, e, spans, sums, pos.seconds + time.perf_counter() - t0,
                                      pos.partitions))
                        where = f"; checkpoint written to {os.fspath(checkpoint)}: continue with --resume"
                    raise TrainingInterrupted(f"training interrupted in pass {e + 1} of {pos.epochs} with "
                                              f"{n_chunks - _remaining(spans)} of {n_chunks} chunks done"
                                              f"{where}") from None
                work.raise_failure()
                seconds = pos.seconds + time.perf_counter() - t0
                train_seconds += time.perf_counter() - t0
                loss, examples, seen, kept = work.sums
                entry = {
                    "epoch": epoch_no,
                    "loss": float(loss / max(examples, 1.0)),  # mean loss per training example
                    "examples": int(examples),
                    "words": int(seen),       # in-vocabulary tokens visited (before subsampling)
                    "kept_words": int(kept),  # after subsampling
                    "seconds": seconds,
                    "words_per_sec": float(enc.raw_tokens) / max(seconds, 1e-9),
                    "alpha_start": learning_rate(alpha, min_alpha, e / pos.epochs),
                    "alpha_end": learning_rate(alpha, min_alpha, (e + 1) / pos.epochs),
                }
                self.training_log.append(entry)
                pos.epoch, pos.spans, pos.sums, pos.seconds = e + 1, None, [0.0, 0.0, 0.0, 0.0], 0.0
                bar.epoch_done(entry)
                for callback in callbacks:
                    callback(entry)
        finally:
            bar.close()
        return train_seconds

    # -- persistence ---------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the whole model (config, vocabulary, counts, input and output weights, training log) to
        one native file, atomically: an interrupted save leaves any existing file intact."""
        from .formats import save_native

        if self.weights is None:
            raise RuntimeError("nothing to save: the model is not trained yet")
        header = {"kind": "model", "config": self.config.to_dict(), "training_log": self.training_log,
                  "stats": self.stats}
        arrays = {"vectors": self.weights[0], "output": self.weights[1], "counts": self.vocab.counts}
        save_native(path, words=list(self.vocab.words), arrays=arrays, header=header)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Word2Vec":
        """Read a model written by :meth:`save`; it can be queried (``.wv``) or trained further."""
        from .errors import ModelFileError
        from .formats import load_native

        native = load_native(path)
        if native.header.get("kind") != "model" or "output" not in native.arrays:
            raise ModelFileError(f"{os.fspath(path)}: holds vectors only, not a trainable model; load it "
                                 "with w2v.KeyedVectors.load")
        model = cls._from_native(native, path)
        model.stats = dict(native.header.get("stats") or {})
        return model

    @classmethod
    def _from_native(cls, native, path: str | os.PathLike) -> "Word2Vec":
        """A model from a native model or checkpoint file, every part checked against the others."""
        from .errors import ModelFileError
        from .vocab import Vocab

        where, n = os.fspath(path), len(native.words)
        header, arrays = native.header, native.arrays
        config, counts = header.get("config"), arrays.get("counts")
        vectors, output = arrays.get("vectors"), arrays.get("output")
        log_ = header.get("training_log", [])
        if (not isinstance(config, dict) or counts is None or vectors is None or output is None
                or counts.shape != (n,) or counts.dtype.kind not in "iu" or vectors.ndim != 2
                or vectors.shape[0] != n or output.shape != vectors.shape
                or vectors.dtype.kind != "f" or output.dtype.kind != "f" or not isinstance(log_, list)):
            raise ModelFileError(f"{where}: corrupt model file: its config, counts, weights or training log "
                                 f"do not match its {n} words")
        try:
            model = cls(Config.from_dict(config))
            model.vocab = Vocab(words=list(native.words), counts=np.asarray(counts, dtype=np.int64))
        except (TypeError, ValueError) as e:
            raise ModelFileError(f"{where}: corrupt model file: {e}") from None
        if vectors.shape[1] != model.config.dim:
            raise ModelFileError(f"{where}: corrupt model file: vectors of {vectors.shape[1]} dimensions for "
                                 f"a config of dim {model.config.dim}")
        model.weights = (np.array(vectors, dtype=np.float32, order="C", copy=True),
                         np.array(output, dtype=np.float32, order="C", copy=True))
        model.training_log = list(log_)
        return model
