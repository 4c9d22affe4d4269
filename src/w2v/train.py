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

import logging
import os
import threading
import time
from typing import Any, Callable, Iterable

import numpy as np

from . import sampling
from .config import Config
from .errors import ConfigError
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
              callbacks: Iterable[Callable[[dict[str, Any]], None]] = ()) -> "Word2Vec":
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

        A model that is already trained (or loaded) continues training with its vocabulary and weights;
        words of the new text that are not in the vocabulary are skipped.
        """
        from .corpus import Corpus, encode_corpus, finalize
        from .vocab import build_vocab

        cfg = self.config
        n_epochs = cfg.epochs if epochs is None else epochs
        if not isinstance(n_epochs, int) or isinstance(n_epochs, bool) or n_epochs < 1:
            raise ConfigError(f"'epochs' must be an int in [1, inf); got {n_epochs!r}")
        t_start = time.perf_counter()
        source = corpus if isinstance(corpus, Corpus) else Corpus(
            corpus, lowercase=cfg.lowercase, normalize=cfg.normalize,
            max_sentence_length=cfg.max_sentence_length)
        fresh = self.vocab is None
        if fresh:
            vocab = build_vocab(source, min_count=cfg.min_count, max_vocab=cfg.max_vocab,
                                max_final_vocab=cfg.max_final_vocab)
            log.info("vocabulary: %d words (of %d distinct), %d tokens", len(vocab), vocab.distinct_words,
                     vocab.total)
        else:
            vocab = self.vocab
        t_vocab = time.perf_counter()
        with encode_corpus(source, vocab, directory=cache_dir) as enc:
            if fresh:
                # exact counts, re-sorted, when max_vocab pruning made pass 1's counts lower bounds
                vocab = finalize(enc, vocab)
            t_encoded = time.perf_counter()
            if enc.n_tokens == 0:
                from .errors import CorpusError
                raise CorpusError(f"no word of {source.describe()} is in the model's vocabulary")
            if fresh:
                self.vocab = vocab
                self.weights = init_weights(len(vocab), cfg.dim, cfg.seed)
                self.training_log = []
            self._wv = None
            train_seconds = self._train_encoded(enc, n_epochs, progress, callbacks)
            n_tokens, raw = int(enc.n_tokens), int(enc.raw_tokens)
        total_seconds = time.perf_counter() - t_start
        self.stats = {
            "raw_tokens": raw,
            "tokens": n_tokens,
            "vocab_size": len(self.vocab),
            "epochs": n_epochs,
            "threads": cfg.n_threads,
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
        return self

    def _tables(self) -> tuple[np.ndarray, np.ndarray]:
        counts = self.vocab.counts
        keep = sampling.keep_thresholds(sampling.keep_probabilities(counts, self.config.sample))
        noise = sampling.alias_table(sampling.noise_distribution(counts, self.config.ns_exponent))
        return keep, noise

    def _train_encoded(self, enc, n_epochs: int, show_progress: bool, callbacks) -> float:
        """Run the epochs over an encoded corpus; returns the training wall seconds (kernels only)."""
        from . import kernels

        cfg = self.config
        kernel = kernels.KERNELS[(cfg.model, cfg.hogbatch)]
        tables = self._tables()
        params = (np.int64(cfg.window), np.int64(cfg.negative), np.int64(cfg.cbow_mean))
        bounds = plan_chunks(enc.sentence_ends)
        n_chunks = len(bounds) - 1
        ends = np.asarray(enc.sentence_ends)
        chunk_start = np.concatenate([[0], ends[bounds[1:-1] - 1]]).astype(np.int64)  # token offsets
        n_tokens = int(enc.n_tokens)
        total = n_tokens * n_epochs
        alpha, min_alpha = cfg.start_alpha, cfg.min_alpha
        # compile (first use on this machine only; cached after) before the clock and the threads start
        kernel(self.weights, tables, enc.ids, enc.sentence_ends, bounds[0], bounds[0], params, alpha,
               np.uint64(0))

        n_threads = max(1, min(cfg.n_threads, n_chunks))
        bar = Progress(total, enabled=show_progress)
        train_seconds = 0.0
        try:
            for e in range(n_epochs):
                epoch_no = len(self.training_log) + 1
                done = np.zeros(n_threads, dtype=np.int64)  # words visited, one slot per thread
                sums = np.zeros((n_threads, 4), dtype=np.float64)  # loss, examples, seen, kept
                lr_now = [alpha]
                failure: list[BaseException] = []
                counter = iter(range(n_chunks))
                claim = threading.Lock()

                def worker(tid: int, e=e, done=done, sums=sums, lr_now=lr_now, failure=failure,
                           counter=counter, claim=claim) -> None:
                    try:
                        while not failure:
                            with claim:
                                c = next(counter, None)
                            if c is None:
                                return
                            progress = (e * n_tokens + chunk_start[c]) / total
                            lr = learning_rate(alpha, min_alpha, progress)
                            lr_now[0] = lr
                            res = kernel(self.weights, tables, enc.ids, enc.sentence_ends, bounds[c],
                                         bounds[c + 1], params, lr, np.uint64(chunk_seed(cfg.seed, epoch_no, c)))
                            sums[tid] += res
                            done[tid] += res[2]
                    except BaseException as exc:  # surfaced in the main thread
                        failure.append(exc)

                t0 = time.perf_counter()
                threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n_threads)]
                for t in threads:
                    t.start()
                try:
                    while any(t.is_alive() for t in threads):
                        threads[0].join(0.25)
                        s = sums.sum(axis=0)
                        bar.update(e * n_tokens + int(done.sum()), epoch_no, len(self.training_log) + 1
                                   + n_epochs - e - 1, lr_now[0], s[0] / max(s[1], 1.0))
                except KeyboardInterrupt:
                    failure.append(KeyboardInterrupt())
                    for t in threads:
                        t.join()
                    raise
                seconds = time.perf_counter() - t0
                train_seconds += seconds
                if failure:
                    raise failure[0]
                loss, examples, seen, kept = sums.sum(axis=0)
                entry = {
                    "epoch": epoch_no,
                    "loss": float(loss / max(examples, 1.0)),  # mean loss per training example
                    "examples": int(examples),
                    "words": int(seen),       # in-vocabulary tokens visited (before subsampling)
                    "kept_words": int(kept),  # after subsampling
                    "seconds": seconds,
                    "words_per_sec": float(enc.raw_tokens) / max(seconds, 1e-9),
                    "alpha_start": learning_rate(alpha, min_alpha, e / n_epochs),
                    "alpha_end": learning_rate(alpha, min_alpha, (e + 1) / n_epochs),
                }
                self.training_log.append(entry)
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
        from .vocab import Vocab

        native = load_native(path)
        header = native.header
        if header.get("kind") != "model" or "output" not in native.arrays:
            raise ModelFileError(f"{os.fspath(path)}: holds vectors only, not a trainable model; load it "
                                 "with w2v.KeyedVectors.load")
        model = cls(Config.from_dict(header["config"]))
        counts = np.asarray(native.arrays["counts"], dtype=np.int64)
        model.vocab = Vocab(words=list(native.words), counts=counts)
        model.weights = (np.array(native.arrays["vectors"], dtype=np.float32, order="C", copy=True),
                         np.array(native.arrays["output"], dtype=np.float32, order="C", copy=True))
        model.training_log = list(header.get("training_log", []))
        model.stats = dict(header.get("stats", {}))
        return model
