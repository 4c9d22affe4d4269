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
import math
import numbers
import os
import signal
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from . import formats, losses, outputs
from .config import Config
from .errors import ConfigError, OutputConflictError, TrainingDiverged, W2VError
from .memory import check_memory
from .checkpoint import Position
from .engine import Batch, check_available
from .passes import CHUNK_WORDS, Pass, Partitions, plan_chunks, remaining  # noqa: F401 (re-exported)
from .progress import Progress
from .signals import StopSignals, Stopped, hold_active, raise_lost, shielded, signal_name

log = logging.getLogger("w2v")



def learning_rate(start: float, end: float, progress: float) -> float:
    """The one learning-rate formula: linear decay from ``start`` to ``end`` as progress goes 0 -> 1."""
    return start - (start - end) * min(max(progress, 0.0), 1.0)


def chunk_seed(seed: int, epoch: int, chunk: int, rank: int = 0) -> int:
    """A 64-bit seed for one chunk's random stream, mixed from (seed, epoch, chunk, rank) with SplitMix64.

    ``chunk`` counts the chunks of the corpus being trained, which under distributed training is one rank's
    share: ``rank`` keeps the ranks' streams apart (with the same streams every rank drew the same noise
    words, windows and subsampling draws at the same positions of its share).  Rank 0, and one process,
    have the streams they always had."""
    mask = (1 << 64) - 1
    z = (seed * 0x9E3779B97F4A7C15 + (epoch << 40) + chunk + 1 + (rank << 56)) & mask
    for _ in range(2):
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        z ^= z >> 31
    return z


def init_weights(vocab_size: int, dim: int, seed: int, output_rows: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """W_in uniform in [-0.5/dim, 0.5/dim), W_out zeros: the C tool's initialisation (float32[V, d], and
    float32[output_rows, d] for W_out: ``V`` by default, ``V - 1`` for hierarchical softmax)."""
    rng = np.random.default_rng(seed)
    w_in = (rng.random((vocab_size, dim), dtype=np.float32) - np.float32(0.5)) / np.float32(dim)
    rows = vocab_size if output_rows is None else output_rows
    return np.ascontiguousarray(w_in), np.zeros((rows, dim), dtype=np.float32)


def _rank_position(position, saved, ctx, path):
    """This process's (position, fingerprint) in a checkpoint: its own rank's in a distributed one."""
    from .errors import DistributedError

    world = len(position.ranks) if position.ranks else 1
    if ctx is None and position.ranks:
        raise DistributedError(f"{os.fspath(path)}: a checkpoint of a distributed training on {world} ranks; "
                               f"resume it with torchrun and {world} ranks")
    if ctx is None:
        return position, saved
    if not position.ranks:
        raise DistributedError(f"{os.fspath(path)}: a checkpoint of a training in one process; resume it "
                               "without torchrun (or start the distributed training afresh)")
    if ctx.world != world:
        raise DistributedError(f"{os.fspath(path)}: a checkpoint of {world} ranks, resumed on {ctx.world}; "
                               f"resume with {world} ranks (torchrun --nproc-per-node/--nnodes)")
    own = Position(**position.ranks[ctx.rank])
    own.ranks = None
    return own, saved["ranks"][ctx.rank]


DIVERGED_LOSS = 1e3
"""A pass's mean loss per example beyond which training has diverged, though its numbers are still finite: at
initialisation it is log 2 a logistic term (4.2 with 5 noise words, 28 for a Huffman path of 40 nodes; the
softmax's log V is under 10), and training lowers it."""


@contextlib.contextmanager
def _keeping_the_model(model: Any) -> Iterator[list]:
    """Under torchrun a stop after the last pass is held until ``train`` returns (``StopSignals``'s final hold)
    and raised there: as :class:`TrainingInterrupted` carrying the complete model, not a bare ``Stopped``.  The
    block appends to the list it is given once the training is done."""
    trained: list = []
    try:
        yield trained
    except Stopped as stop:
        if not trained or isinstance(stop, TrainingInterrupted):
            raise
        interrupted = TrainingInterrupted(stop.signum, f"training interrupted ({signal_name(stop.signum)}) after its "
                                                       "last pass: every pass trained, the exception's .model is "
                                                       "complete (no checkpoint written: the ranks had finished)")
        interrupted.model = model
        raise interrupted from None


def _interrupted_message(where: str, checkpoint: str | None) -> str:
    """Why a model whose training was interrupted is not trained further by ``train``, and what to do."""
    if checkpoint is not None:
        how = f"continue that training with Word2Vec.resume({checkpoint!r}, corpus)"
    else:
        how = ("no checkpoint was written, so it cannot be continued where it stopped: to train these weights "
               "further anyway, save the model and train the one loaded (Word2Vec.load(path).train(...)), or "
               "start again with a new Word2Vec")
    return f"this model's training was interrupted {where}, its weights partly trained: {how}"


class TrainingInterrupted(Stopped):
    """Training stopped by Ctrl-C (or SIGTERM, SIGHUP: ``signum``) after the chunks in flight; the message
    says where the checkpoint is, ``model`` is the model stopped (its weights those of every finished chunk)."""

    checkpointed = True  # (the message says what became of the checkpoint)
    model: Any = None


@dataclass
class _Checkpoints:
    """Where and how often checkpoints are written, and where to turn when that path fails."""

    path: str
    every: float | None
    fallbacks: list[str]


def native_file_bytes(vocab, dim: int) -> int:
    """Bytes of a model or checkpoint file of ``vocab`` x ``dim`` (two float32 matrices, the counts)."""
    words_nbytes = sum(len(w.encode("utf-8")) + 1 for w in vocab.words)
    matrix = 4 * len(vocab) * dim
    return formats.native_size(words_nbytes, [matrix, matrix, 8 * len(vocab)])


def _checkpoints(checkpoint, checkpoint_every, cache_dir, own=()) -> _Checkpoints | None:
    """The checkpoint settings of a ``train`` or ``resume`` call, checked: an existing file at the checkpoint
    path is never replaced, unless it is one of ``own``, the checkpoints the same model object wrote or was
    resumed from."""
    if checkpoint_every is not None:
        if checkpoint is None:
            raise ConfigError("'checkpoint_every' needs a 'checkpoint' path to write to")
        if not isinstance(checkpoint_every, numbers.Real) or isinstance(checkpoint_every, bool) \
                or not checkpoint_every > 0:
            raise ConfigError(f"'checkpoint_every' must be a number of seconds in (0, inf); "
                              f"got {checkpoint_every!r}")
    if checkpoint is None:
        return None
    path = os.fspath(checkpoint)
    from .formats import check_native_name
    check_native_name(path, "checkpoint")
    from .distributed import rank

    if rank() in (None, 0):  # (under torchrun rank 0 writes the checkpoints, maybe on a disk of its own)
        outputs.check_writable(path, "checkpoint", hint="name another path for the checkpoints (--checkpoint "
                                                        "PATH; in Python checkpoint=, or checkpoint_to= when resuming)")
    if os.path.lexists(path) and not any(outputs.same_file(path, mine) for mine in own):
        raise OutputConflictError(_existing_checkpoint(path))
    return _Checkpoints(path, checkpoint_every, outputs.fallback_directories(cache_dir))


def _existing_checkpoint(path: str) -> str:
    """Why a training does not write its checkpoint over the file at ``path``, and what to do."""
    from .checkpoint import checkpoint_header

    try:
        position = checkpoint_header(path)["position"]
        where = (f"after {position['epoch']} of {position['epochs']} passes" if position.get("spans") is None
                 else f"in pass {position['epoch'] + 1} of {position['epochs']}")
    except (W2VError, OSError, ValueError, KeyError, TypeError):
        return (f"checkpoint path {path!r}: a file that is not a w2v checkpoint is there, and a checkpoint "
                "would replace it; name another path for the checkpoint")
    return (f"checkpoint path {path!r}: an earlier training's checkpoint is there ({where}), and this "
            f"training would replace it: continue that training with --resume {path} (Python: "
            "Word2Vec.resume), or delete the file to start over")


def _callbacks(callbacks) -> list:
    """The ``callbacks`` of a training call as a list, checked before anything is read or trained."""
    if callable(callbacks):  # callbacks=print: one callable
        return [callbacks]
    try:
        found = list(callbacks)
    except TypeError:
        raise ConfigError(f"'callbacks' must be a callable or a list of callables; got {callbacks!r}") from None
    for c in found:
        if not callable(c):
            raise ConfigError(f"'callbacks' must be a callable or a list of callables; {c!r} is not callable")
    return found


SMALL_KEEP = 0.1
"""A warning when subsampling is expected to keep less than this share of the tokens (a corpus of a few
hundred tokens keeps a few percent at sample=1e-3, while real corpora keep 20-75% at 1e-5 to 1e-3)."""


def _warn_if_subsampling_keeps_little(counts: np.ndarray, sample: float) -> None:
    from .sampling import keep_probabilities

    total = int(counts.sum())
    kept = float(keep_probabilities(counts, sample) @ counts)
    if total and kept < SMALL_KEEP * total:
        log.warning("subsampling (sample=%g) keeps about %.3g of the %d tokens an epoch (%.1f%%): on a corpus "
                    "this small it drops most of every word, so little is learnt; set sample=0 (--sample 0) "
                    "to keep every token", sample, kept, total, 100 * kept / total)


def _warn_if_noise_is_one_word(vocab, cfg: Config) -> None:
    """A warning when the noise distribution draws one word half the time or more (an exponent far from
    0.75: ``counts ** 100`` puts all of it on the most frequent word, and the model learns little)."""
    if cfg.loss != "ns" or len(vocab) < 2 or cfg.noise_exponent == 0.75:  # (0.75 skewed: the corpus is)
        return
    from .sampling import noise_distribution

    p = noise_distribution(vocab.counts, cfg.noise_exponent)
    top = int(np.argmax(p))
    if p[top] >= 0.5:
        log.warning("ns_exponent=%g: the noise distribution draws %r %.1f%% of the time, so negative sampling "
                    "contrasts with little else; the papers' exponent is 0.75", cfg.noise_exponent,
                    vocab.words[top], 100 * p[top])


class Word2Vec:
    """Skip-gram or CBOW word vectors trained with negative sampling (or hierarchical or full softmax,
    ``loss``) and subsampling of frequent words.

    ``Word2Vec(**settings)`` only stores the settings (see :class:`w2v.Config` for each, with its default);
    :meth:`train` reads the corpus and learns.  After training, ``model.wv`` holds the vectors
    (a :class:`w2v.KeyedVectors`) and ``model.training_log`` one entry per epoch.

    Examples
    --------
    >>> model = Word2Vec(model="sg", dim=100, epochs=5).train("corpus.txt.gz")   # doctest: +SKIP
    >>> model.wv.most_similar("france", topn=5)                                 # doctest: +SKIP
    """

    def __init__(self, config: Config | None = None, *, device: str = "cpu", backend: str | None = None,
                 **settings: Any):
        import dataclasses

        from .compat import check_constructor
        from .engine import resolve

        check_constructor(config, settings, {f.name for f in dataclasses.fields(Config)})
        if config is not None and settings:
            raise ConfigError("give either a Config or keyword settings, not both")
        self.config = config if config is not None else Config(**settings)
        # where and with what to train: run-time choices, not part of the model (see w2v.engine)
        self.device, self.backend = resolve(device, backend)
        self.vocab = None  # w2v.vocab.Vocab after training or loading
        self.weights: tuple[np.ndarray, np.ndarray] | None = None  # (W_in, W_out), float32[V, d]
        self.training_log: list[dict[str, Any]] = []
        self.stats: dict[str, Any] = {}
        self._wv = None
        self._dist = None  # w2v.distributed.Context while a distributed training runs
        self._checkpoints_written: set[str] = set()  # by this object's trainings: a later one may replace them
        self._interrupted: tuple[str, str | None] | None = None  # (where, its checkpoint): a training cut short
        self._diverged_in: str | None = None  # the pass whose training diverged: the weights are NaN or infinite

    def __repr__(self) -> str:
        cfg = self.config
        n = len(self.training_log)
        trained = (f"{len(self.vocab)} words, {n} epoch{'s' if n != 1 else ''} trained" if self.vocab is not None
                   else "not trained")
        return (f"Word2Vec(model={cfg.model!r}, loss={cfg.loss!r}, dim={cfg.dim}, window={cfg.window}; "
                f"{trained}; device={self.device!r})")

    def to(self, device: str = "cpu", backend: str | None = None) -> "Word2Vec":
        """Train on ``device`` ('cpu', 'cuda', 'cuda:N') with ``backend`` ('numba', the default on the CPU,
        or 'torch', the default on CUDA) from now on; returns ``self``.  Not part of the model: nothing of it
        is saved.  ``Word2Vec.load(path).to("cuda").train(more_text)``."""
        from .engine import resolve

        self.device, self.backend = resolve(device, backend)
        return self

    def __getattr__(self, name: str) -> Any:  # only for names not found: gensim's, answered with the w2v way
        from .compat import gensim_attribute

        raise gensim_attribute(type(self).__name__, name)

    # -- results -------------------------------------------------------------------------------------
    @property
    def wv(self):
        """The trained vectors as :class:`w2v.KeyedVectors` (input vectors, the C tool's output)."""
        if self.weights is None:
            raise RuntimeError("the model is not trained yet: call train(corpus) first")
        self._check_usable("query the vectors")
        if self._wv is None:
            from .vectors import KeyedVectors
            self._wv = KeyedVectors(list(self.vocab.words), self.weights[0], self.vocab.counts)
        return self._wv

    # -- training ------------------------------------------------------------------------------------
    def train(self, corpus: Any = None, *, epochs: int | None = None, progress: bool = True,
              cache_dir: str | os.PathLike | None = None,
              callbacks: Iterable[Callable[[dict[str, Any]], None]] = (),
              checkpoint: str | os.PathLike | None = None, checkpoint_every: float | None = None,
              update_vocab: bool = False,
              preflight: Callable[[Any, Config], None] | None = None,
              distributed: Any = None, **unexpected: Any) -> "Word2Vec":
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
        callbacks : callable or list of callables
            Each is called with the epoch's log entry after every epoch (the model's weights, ``wv`` included,
            are then those of the epoch's end).
        checkpoint : path, optional
            Where checkpoints are written (atomically): every ``checkpoint_every`` seconds, and when
            training is interrupted (Ctrl-C, or SIGTERM and SIGHUP when called from the main thread of a
            program that has no handler of its own for them), after the chunks in flight finish.
            Continue with :meth:`resume`.  A file of the corpus directories that is the checkpoint is
            left out of the corpus; its file system must have room for it (checked before training).
            A path in a missing or read-only directory is refused before training; when a write fails
            later (a disk that filled), the checkpoint goes to ``cache_dir``, the temp directory or the home
            directory, and the log says where.  A file already at the path is never replaced
            (:class:`~w2v.OutputConflictError`, saying whether it is an earlier training's checkpoint to
            resume), unless this model wrote it (or was resumed from it): delete it, or name another path.
            It is kept when training ends (the model is not saved yet); ``w2v train`` deletes it once the
            model is written.
        checkpoint_every : float, optional
            Seconds between checkpoints (needs ``checkpoint``); None: only on interruption.
        update_vocab : bool
            For a model already trained (or loaded): add the words of the new text that reach
            ``min_count`` in it to the vocabulary (new input rows drawn like at initialisation, output
            rows zero).  Every count becomes the sum over all the text trained on, so subsampling and the
            noise distribution follow the whole history; the vocabulary is sorted again by these counts.
        preflight : callable, optional
            ``preflight(vocab, config)`` is called once the vocabulary is known, before the weights are
            allocated and any training: raise there to stop early (the command line checks that its
            output files will fit).  In a distributed training only rank 0 calls it (it writes the files).
        distributed : w2v.distributed.Options, optional
            How the ranks cooperate when this process is one of several (torchrun's environment is set, or a
            ``torch.distributed`` process group is initialised): each rank trains its share of the corpus and
            the ranks add up their updates at sync points (see :mod:`w2v.distributed`).  Ignored otherwise.

        A model that is already trained (or loaded) continues with its vocabulary and weights; words of the
        new text that are not in the vocabulary are skipped unless ``update_vocab``.

        Raises
        ------
        TrainingInterrupted
            On Ctrl-C, SIGTERM or SIGHUP (a ``KeyboardInterrupt``; ``signum`` says which): the model holds
            the weights of every finished chunk, and the checkpoint, when one was asked for, is written.
        """
        from .compat import check_train_arguments

        check_train_arguments(corpus, unexpected)  # gensim's arguments, answered with the w2v way
        self._check_usable("train it further")
        if self._interrupted is not None:
            raise ConfigError(_interrupted_message(*self._interrupted))
        cfg = self.config
        n_epochs = cfg.epochs if epochs is None else epochs
        if not isinstance(n_epochs, numbers.Integral) or isinstance(n_epochs, bool) or n_epochs < 1:
            raise ConfigError(f"'epochs' must be an int in [1, inf); got {n_epochs!r}")
        n_epochs = int(n_epochs)
        ckpt = _checkpoints(checkpoint, checkpoint_every, cache_dir, own=self._checkpoints_written)
        callbacks = _callbacks(callbacks)
        check_available(self.device, self.backend, self.config.loss)  # before reading anything
        from .distributed import launched

        # under torchrun a stop after the last pass waits (held) until train returns: stopping then would start
        # collectives that the other ranks, done, never answer
        with _keeping_the_model(self) as trained:
            with StopSignals(only_if_default=True, final_hold=launched()), self._distributed(distributed):
                self._train(corpus, n_epochs, progress, cache_dir, callbacks, ckpt, update_vocab, preflight)
                trained.append(True)
        return self

    @contextlib.contextmanager
    def _distributed(self, options):
        """This process's :class:`w2v.distributed.Context` in ``self._dist`` while training (None when it is
        not one of several ranks); a GPU named 'cuda' becomes this rank's own."""
        from . import distributed as dist_mod

        ctx = dist_mod.context(options, self.device)
        if ctx is not None:
            dist_mod.check_supported(self.config, self.backend, ctx.options)
            self.device = dist_mod.local_device(self.device)
            log.info("distributed: %s", dist_mod.describe(ctx))
        self._dist = ctx
        try:
            yield ctx
        finally:
            self._dist = None
            if ctx is not None:
                ctx.close()

    def _threads(self) -> int:
        """This process's threads: ``config.n_threads``, or under torchrun the node's cores shared among its
        ranks (when ``threads`` is 0)."""
        if self._dist is None:
            return self.config.n_threads
        from .distributed import local_threads

        return local_threads(self.config.threads)

    def _started_alike(self, source, n_epochs: int, update_vocab: bool) -> None:
        """Under torchrun, refuse ranks started with other settings or another corpus (by the files' names and
        sizes: the paths may differ between machines): each would train its own model, or a collective would
        abort on sizes that differ."""
        settings = {k: v for k, v in self.config.to_dict().items() if k != "threads"}
        corpus = ([[os.path.basename(f), os.path.getsize(f)] for f in source.files] if source.files is not None
                  else f"sentences ({type(source.source).__name__})")
        self._dist.agree({**settings, "passes": n_epochs, "update_vocab": update_vocab, "corpus": corpus},
                         "the settings and the corpus")

    def _train(self, corpus, n_epochs: int, progress: bool, cache_dir, callbacks, ckpt: _Checkpoints | None,
               update_vocab: bool, preflight) -> "Word2Vec":
        from .corpus import finalize
        from .prepare import Reading
        from .vocab import select_vocab

        cfg = self.config
        ctx = self._dist
        t_start = time.perf_counter()
        source = self._corpus(corpus, ckpt)
        if ctx is not None:  # this rank's own contiguous share of the corpus
            self._started_alike(source, n_epochs, update_vocab)
            source = source.shares(ctx.world)[ctx.rank]
        fresh = self.vocab is None
        # -- reading (w2v.prepare): pass 1 counts the words in every thread and keeps each token's provisional
        # id; pass 2 (reading.encode) maps those ids to the vocabulary's, without reading the text again
        # unless max_vocab pruning or the model's own vocabulary needs it --
        reading = Reading(source, threads=self._threads(), directory=cache_dir, max_vocab=cfg.max_vocab)
        if fresh or update_vocab:
            if ctx is None:  # (a trained model's words take the new text's counts, however few)
                found = select_vocab(reading.counts(), min_count=cfg.min_count, max_final_vocab=cfg.max_final_vocab,
                                     describe=source.describe(), known=() if fresh else self.vocab.index)
            else:
                found = self._merged_vocab(reading, ctx)
            log.info("vocabulary: %d words (of %d distinct), %d tokens", len(found), found.distinct_words,
                     found.total)
        t_vocab = time.perf_counter()
        cache_tokens = found.total if (fresh or update_vocab) and reading.rewrites_cache else None
        if fresh:
            self._preflight(found, ckpt, preflight, cache_tokens, cache_dir)
            check_memory(len(found), cfg.dim)
        elif update_vocab:
            self._grow_vocab(found, lambda vocab: self._preflight(vocab, ckpt, preflight, cache_tokens, cache_dir))
        else:
            self._preflight(self.vocab, ckpt, preflight, None, cache_dir)
        with reading.encode(found if fresh else self.vocab) as enc:  # -- end of the reading --
            if ctx is not None:  # the exact counts of the whole corpus, the same on every rank
                enc.counts = ctx.all_sum(enc.counts, "the exact counts")
            if fresh:
                # exact counts, re-sorted, when max_vocab pruning made pass 1's counts lower bounds
                self.vocab = finalize(enc, found)
                self.weights = init_weights(len(self.vocab), cfg.dim, cfg.seed,
                                            losses.output_rows(cfg.loss, len(self.vocab)))
                self.training_log = []
                self._wv = None
            t_encoded = time.perf_counter()
            train_seconds = self._run(enc, Position(n_epochs), progress, callbacks, ckpt)
        self._record_stats(enc, n_epochs, t_start, t_vocab, t_encoded, train_seconds)
        return self

    def _merged_vocab(self, reading, ctx):
        """The vocabulary of the whole corpus from the ``reading`` of this rank's share: the ranks' counts
        merged in corpus order, so that every rank selects the same words, ids and ties."""
        from .errors import CorpusError
        from .vocab import select_vocab

        cfg = self.config
        share = reading.corpus
        local = failure = None
        try:
            local = reading.counts()  # pass 1 (w2v.reader)
        except W2VError as e:  # bad text in this rank's share: every rank must stop here, not only this one
            failure = e
        state = 2 if failure is not None else int(local.raw_tokens == 0)
        agreed = ctx.all_max(np.array([state]), "the vocabulary's merge")[0]
        if failure is not None:
            raise failure
        if agreed == 2:
            from .errors import DistributedError

            raise DistributedError(f"rank {ctx.rank}: another rank could not count its share of the corpus "
                                   "(its message says why)")
        if agreed:
            raise CorpusError(f"the corpus is too small to share among {ctx.world} ranks: a rank's share holds no "
                              "token (it needs at least a line per rank)")
        return select_vocab(ctx.merge_counts(local), min_count=cfg.min_count, max_final_vocab=cfg.max_final_vocab,
                            describe=share.describe(), known=() if self.vocab is None else self.vocab.index)

    def _preflight(self, vocab, ckpt: _Checkpoints | None, preflight, tokens: int | None, cache_dir) -> None:
        """Before any training: the caller's own checks, then room for what training writes: the encoded
        corpus (4 bytes a token, when the count is known) and the checkpoint (a new one is written beside
        the previous one, which exists already when resuming; twice when periodic)."""
        ctx = self._dist
        writer = ctx is None or ctx.rank == 0  # in a distributed training, rank 0 writes every file
        failure: BaseException | None = None
        try:
            losses.check_vocab(self.config, vocab.counts)  # the softmax over a large vocabulary: refused
            if preflight is not None and writer:
                preflight(vocab, self.config)
            needs = []
            if tokens is not None:
                import tempfile

                where = os.path.join(os.fspath(cache_dir) if cache_dir is not None else tempfile.gettempdir(),
                                     "x")
                needs.append(("the encoded corpus", where, 4 * int(tokens)))
            if ckpt is not None and writer:
                size = native_file_bytes(vocab, self.config.dim)
                copies = 2 if ckpt.every and not os.path.exists(ckpt.path) else 1
                needs.append(("the checkpoint", ckpt.path, size * copies))
            outputs.check_room(needs)
        except Exception as e:
            failure = e
        if ctx is not None and ctx.all_max(np.array([int(failure is not None)]), "the checks before training")[0] \
                and failure is None:  # another rank refused: every rank stops before training
            from .errors import DistributedError

            raise DistributedError(f"rank {ctx.rank}: another rank refused to train (its message says why)")
        if failure is not None:
            raise failure

    @classmethod
    def resume(cls, checkpoint: str | os.PathLike, corpus: Any, *, progress: bool = True,
               cache_dir: str | os.PathLike | None = None,
               callbacks: Iterable[Callable[[dict[str, Any]], None]] = (),
               checkpoint_every: float | None = None,
               preflight: Callable[[Any, Config], None] | None = None,
               device: str = "cpu", backend: str | None = None,
               checkpoint_to: str | os.PathLike | None = None, distributed: Any = None,
               threads: int | None = None) -> "Word2Vec":
        """Continue a training from its checkpoint, on the same corpus, to the same final schedule.

        The corpus is read once (pass 2 only: the vocabulary comes from the checkpoint) and checked against
        the checkpoint's fingerprint; a different corpus is refused.  New checkpoints go to the same path,
        or to ``checkpoint_to``.
        With ``threads=1`` the result is bit-identical to a training that was never interrupted.
        ``preflight`` is as in :meth:`train` (called before the corpus is read).  ``device`` and
        ``backend`` need not be those of the interrupted run (a training checkpointed on a GPU may resume on
        the CPU and back).  A distributed training resumes with as many ranks as it had (``distributed``
        as in :meth:`train`), each rank from its own position.  ``threads`` (None: the checkpoint's) may
        change too: the corpus stays cut into the first run's shares, a thread taking them in turn.
        """
        from .checkpoint import check_fingerprint, checkpoint_config, load_checkpoint
        from .engine import check_loss
        from .prepare import Reading

        callbacks = _callbacks(callbacks)
        try:  # the loss cannot change: refused before the weights are read (a bad file: load_checkpoint says so)
            loss = Config.from_dict(checkpoint_config(checkpoint)).loss
        except (ConfigError, OSError, ValueError):
            loss = None
        if loss is not None:
            check_loss(loss, device, backend, resumed=os.fspath(checkpoint))
        native, position, saved = load_checkpoint(checkpoint)
        model = cls._from_native(native, checkpoint)
        if threads is not None:
            model.config = model.config.replace(threads=threads)
        model._checkpoints_written.add(os.fspath(checkpoint))  # its own: training it more may replace it
        model.to(device, backend)
        check_available(model.device, model.backend, model.config.loss)
        ckpt = _checkpoints(checkpoint_to if checkpoint_to is not None else checkpoint, checkpoint_every,
                            cache_dir, own=model._checkpoints_written)
        from .distributed import launched

        stops = StopSignals(only_if_default=True, final_hold=launched())  # (held after the last pass: see train)
        with _keeping_the_model(model) as trained, stops, model._distributed(distributed) as ctx:
            position, saved = _rank_position(position, saved, ctx, checkpoint)
            model._preflight(model.vocab, ckpt, preflight, saved.get("tokens"), cache_dir)
            t_start = time.perf_counter()
            source = model._corpus(corpus, ckpt, resumed=checkpoint)
            if ctx is not None:
                source = source.shares(ctx.world)[ctx.rank]
            reading = Reading(source, threads=model._threads(), directory=cache_dir)  # w2v.prepare
            with reading.encode(model.vocab) as enc:
                check_fingerprint(saved, enc, checkpoint)
                t_encoded = time.perf_counter()
                log.info("resuming in pass %d of %d", position.epoch + 1, position.epochs)
                # the training seconds before the interruption: this call's finished passes, the current one's
                earlier = position.seconds + sum(entry["seconds"] for entry in
                                                 model.training_log[len(model.training_log) - position.epoch:])
                train_seconds = model._run(enc, position, progress, callbacks, ckpt)
            model._record_stats(enc, position.epochs, t_start, t_start, t_encoded, train_seconds + earlier,
                                resumed_seconds=earlier)
            trained.append(True)
        return model

    def _corpus(self, corpus: Any, ckpt: _Checkpoints | None = None, resumed=None):
        """``corpus`` as a :class:`w2v.corpus.Corpus` read with this model's settings; the checkpoint (and
        the one resumed) is never one of its files."""
        from .corpus import Corpus

        exclude = {}
        if ckpt is not None:
            exclude[ckpt.path] = "the checkpoint"
        if resumed is not None:
            exclude[os.fspath(resumed)] = "the checkpoint resumed"
        if isinstance(corpus, Corpus):
            outputs.check_outputs(list((w, p) for p, w in exclude.items()),
                                  [("the corpus file", f) for f in corpus.files or ()])
            return corpus.fresh()  # (one given again: its earlier training's reads are not this one's)
        cfg = self.config
        return Corpus(corpus, lowercase=cfg.lowercase, normalize=cfg.normalize,
                      max_sentence_length=cfg.max_sentence_length, allow_truncated=cfg.allow_truncated,
                      allow_binary=cfg.allow_binary, exclude=exclude or None)

    def _grow_vocab(self, found, preflight: Callable[[Any], None]) -> None:
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
        preflight(merged)
        check_memory(len(merged), self.config.dim)
        new_in, _ = init_weights(len(added), self.config.dim, self.config.seed + len(old))
        w_in = np.concatenate([self.weights[0], new_in])
        self.vocab, perm = merged.with_counts(merged.counts)  # perm: old id -> new id
        order = np.argsort(perm)                                # new id -> old id
        if self.config.loss == "hs":  # W_out's rows are the inner nodes of the counts' Huffman tree: a new tree
            w_out = np.zeros((losses.output_rows("hs", len(self.vocab)), self.config.dim), dtype=np.float32)
            log.warning("hierarchical softmax: the Huffman tree is rebuilt from the new counts (%d words); its "
                        "%d output rows start again from zero (the input vectors are kept)", len(self.vocab),
                        len(w_out))
        else:
            w_out = np.concatenate([self.weights[1], np.zeros_like(new_in)])[order]
        self.weights = (np.ascontiguousarray(w_in[order]), np.ascontiguousarray(w_out))
        self._wv = None
        log.info("vocabulary grown by %d words to %d", len(added), len(self.vocab))

    def _record_stats(self, enc, n_epochs: int, t_start: float, t_vocab: float, t_encoded: float,
                      train_seconds: float, resumed_seconds: float = 0.0) -> None:
        """``stats`` of this call's passes; after a resume, ``resumed_seconds`` of them were trained before the
        interruption (counted in the training and end-to-end seconds, so that words/s cover all the passes)."""
        total_seconds = time.perf_counter() - t_start + resumed_seconds
        raw, tokens = int(enc.raw_tokens), int(enc.sentence_ends[-1])  # (``enc`` may be closed by now)
        if self._dist is not None:  # the whole corpus's, over the ranks
            raw, tokens = (int(x) for x in self._dist.all_sum(np.array([raw, tokens], dtype=np.int64),
                                                               "the statistics"))
        self.stats = {
            "raw_tokens": raw,
            "tokens": tokens,  # in-vocabulary tokens
            "vocab_size": len(self.vocab),
            "epochs": n_epochs,
            "threads": self._threads(),  # (a rank's own, under torchrun)
            "ranks": 1 if self._dist is None else self._dist.world,
            "vocab_seconds": t_vocab - t_start,
            "encode_seconds": t_encoded - t_vocab,
            "train_seconds": train_seconds,
            "total_seconds": total_seconds,
            # raw corpus words (out-of-vocabulary ones included) per wall second: the C tool's measure
            "words_per_sec_train": raw * n_epochs / max(train_seconds, 1e-9),
            "words_per_sec_total": raw * n_epochs / max(total_seconds, 1e-9),
        }
        if resumed_seconds:
            self.stats["resumed_seconds"] = resumed_seconds
        log.info("trained %d epoch%s in %.1f s (%.1f s end to end): %s raw words/s", n_epochs,
                 "s" if n_epochs > 1 else "", train_seconds, total_seconds,
                 f"{self.stats['words_per_sec_train']:,.0f}")

    def _tables(self) -> tuple[np.ndarray, ...]:
        """The kernels' read-only tables: subsampling thresholds, then what the loss needs (w2v.losses)."""
        return losses.kernel_tables(self.config, self.vocab.counts)

    def _run(self, enc, pos: "Position", show_progress: bool, callbacks, ckpt: _Checkpoints | None) -> float:
        """Train the passes of ``pos`` from where it stands; returns the training wall seconds."""
        from .engine import make_engine

        threads = self._threads() if self._dist is not None else None
        _warn_if_subsampling_keeps_little(self.vocab.counts, self.config.sample)
        _warn_if_noise_is_one_word(self.vocab, self.config)
        engine = make_engine(self.device, self.backend, self.config, self.weights, self._tables(), threads)
        try:
            return self._passes(engine, enc, pos, show_progress, callbacks, ckpt)
        finally:
            engine.pull()
            engine.close()
            self._weights_changed()

    def _diverged(self, epoch_no: int, what: str) -> "TrainingDiverged":
        cfg = self.config
        self._diverged_in = f"pass {epoch_no}"  # from now on nothing uses these weights (_check_usable)
        default = Config(model=cfg.model).start_alpha
        return TrainingDiverged(
            f"training diverged in pass {epoch_no}: {what}; the learning rate (alpha={cfg.start_alpha:g}) is too "
            f"high for this data: train again with a lower one (--alpha, alpha=; the default for {cfg.model} is "
            f"{default:g}).  The diverged weights are not saved (the last checkpoint, if any, is from before, but "
            "resuming it keeps its alpha)")

    def _check_usable(self, doing: str) -> None:
        """Refuse to query, save or train a model whose training diverged (its weights are NaN or infinite)."""
        if self._diverged_in is not None:
            raise TrainingDiverged(f"cannot {doing}: this model's training diverged in {self._diverged_in}, its "
                                   "weights are NaN or infinite; start again from a new Word2Vec, or from the saved "
                                   "model (Word2Vec.load), with a lower alpha")

    def _weights_changed(self) -> None:
        """The weights were trained in place: queries of ``wv`` must not use unit rows cached before."""
        if self._wv is not None:
            self._wv.fill_norms(force=True)

    def _passes(self, engine, enc, pos: "Position", show_progress: bool, callbacks,
                ckpt: _Checkpoints | None) -> float:
        from .checkpoint import fingerprint, save_checkpoint

        cfg = self.config
        ends = np.asarray(enc.sentence_ends, dtype=np.int64)
        bounds = plan_chunks(ends)
        n_chunks = len(bounds) - 1
        chunk_start = np.concatenate([[0], ends[bounds[1:-1] - 1]]).astype(np.int64)  # token offsets
        n_tokens = int(len(enc.ids))
        total = n_tokens * pos.epochs
        if not pos.partitions:
            pos.partitions = max(1, min(engine.threads, n_chunks))
        plan = Partitions(chunk_start, n_tokens, pos.partitions)
        alpha, min_alpha = cfg.start_alpha, cfg.min_alpha
        print_ = fingerprint(enc) if ckpt is not None else None
        checkpoint_every = ckpt.every if ckpt is not None else None
        ctx, sync, raw_tokens, scale = self._dist, None, int(enc.raw_tokens), 1.0
        rank = ctx.rank if ctx is not None else 0   # the chunks are counted in this rank's share
        if ctx is not None:  # one rank of several: sync points, global figures
            from .distributed import PeerStopped, Sync

            sync = Sync(ctx, engine, n_tokens, len(self.vocab), cfg.loss)
            totals = ctx.all_sum(np.array([raw_tokens, n_tokens], dtype=np.int64), "the corpus size")
            raw_tokens, scale = int(totals[0]), float(totals[1]) / max(n_tokens, 1)
            show_progress = show_progress and ctx.rank == 0

        def run_chunks(c0: int, c1: int, e: int, epoch_no: int) -> tuple:
            """Train chunks c0 .. c1-1 (consecutive); returns (sums, the last learning rate)."""
            lrs = np.array([learning_rate(alpha, min_alpha, (e + plan.fraction(c)) / pos.epochs)
                            for c in range(c0, c1)])
            seeds = np.array([chunk_seed(cfg.seed, epoch_no, c, rank) for c in range(c0, c1)], dtype=np.uint64)
            s0, s1 = bounds[c0], bounds[c1]
            first = 0 if s0 == 0 else int(ends[s0 - 1])
            ids = enc.read_ids(first, int(ends[s1 - 1]))  # a copy of the chunks: memory stays bounded
            batch = Batch(ids, ends[s0:s1] - first, bounds[c0:c1 + 1] - s0, lrs, seeds)
            return engine.train(batch), float(lrs[-1])

        def save(snapshot: "Position", fallback: bool) -> str:
            """Write a checkpoint; returns where.  ``fallback``: try other directories when the path fails.
            Distributed: every rank's position goes to rank 0, which writes it (the weights are merged)."""
            fingerprint_ = print_
            self._checkpoints_written.add(ckpt.path)  # (every rank: each checks the path when trained again)
            if ctx is not None:
                import json
                from dataclasses import asdict

                mine = json.dumps({"position": asdict(snapshot), "fingerprint": print_}).encode()
                parts = [json.loads(b) for b in sync.gather(mine)]
                ctx.checkpoint = ckpt.path
                if ctx.rank != 0:
                    return ckpt.path
                snapshot = Position(**{**asdict(snapshot), "ranks": [p["position"] for p in parts]})
                fingerprint_ = {"world": ctx.world, "ranks": [p["fingerprint"] for p in parts]}

            def write(path: str) -> None:
                save_checkpoint(path, self, snapshot, fingerprint_)

            engine.pull()  # the device's weights to the host arrays (nothing in flight now)
            if ctx is None and not engine.finite():  # never a checkpoint of a diverged training
                raise self._diverged(len(self.training_log) + 1, "the weights hold NaN or infinite values")
            if fallback:
                where, failure = outputs.save_with_fallback(write, ckpt.path, ckpt.fallbacks)
                if failure is not None:
                    log.warning("%s; the checkpoint was written to %s instead", failure, where)
            else:
                where = ckpt.path
                write(where)
            done = 0 if snapshot.spans is None else n_chunks - remaining(snapshot.spans)
            log.info("checkpoint written: %s (pass %d, %d of %d chunks done)", where, snapshot.epoch + 1, done,
                     n_chunks)
            self._checkpoints_written.add(where)  # (a fallback directory's)
            if ctx is not None:
                ctx.checkpoint = where
            return where

        def checkpoint_due() -> bool:
            return checkpoint_every is not None and time.monotonic() - last_save >= checkpoint_every

        bar = Progress(int(total * scale), enabled=show_progress)
        tick = 0.25 if checkpoint_every is None else min(0.25, checkpoint_every)  # progress/checkpoint checks
        train_seconds = 0.0
        last_save = time.monotonic()
        logged_before = len(self.training_log) - pos.epoch  # log entries older than this call's passes
        work: Pass | None = None
        t0 = time.perf_counter()
        try:
            while pos.epoch < pos.epochs:
                e = pos.epoch
                epoch_no = len(self.training_log) + 1
                spans = pos.spans if pos.spans is not None else plan.spans()
                work = Pass(run_chunks, e, epoch_no, spans, pos.sums, group=engine.chunks_per_call)
                if sync is not None:
                    sync.start_pass(pos.sync_point)
                    work.set_gate(sync.floor(n_chunks))
                t0 = time.perf_counter()
                work.start(max(1, min(engine.threads, remaining(spans))))
                while work.running(tick):
                    raise_lost()  # a stop signal whose exception Python dropped is raised here
                    s = work.sums
                    if sync is None and not math.isfinite(s[0]):  # (ranks: at the pass's end, all at once)
                        raise self._diverged(epoch_no, f"the loss became {s[0]} after {int(s[2]):,} words")
                    bar.update(int((e * n_tokens + int(s[2])) * scale), epoch_no, epoch_no + pos.epochs - e - 1,
                               work.lr, s[0] / max(s[1], 1.0))
                    if sync is not None:
                        if work.at_gate():
                            with work.paused() as (spans, sums):
                                stopped, save_now = sync.point(checkpoint_due=checkpoint_due())
                                if stopped:
                                    raise PeerStopped(stopped)
                                if save_now:
                                    save(Position(pos.epochs, e, spans, sums, pos.seconds + time.perf_counter() - t0,
                                                  pos.partitions, sync.done), fallback=False)
                                    last_save = time.monotonic()
                            work.set_gate(sync.floor(n_chunks))
                    elif checkpoint_every is not None and time.monotonic() - last_save >= checkpoint_every:
                        with work.paused() as (spans, sums):
                            try:
                                save(Position(pos.epochs, e, spans, sums, pos.seconds + time.perf_counter() - t0,
                                              pos.partitions), fallback=False)
                            except OSError as failed:  # the previous checkpoint is intact: go on
                                log.warning("%s; training goes on (the previous checkpoint, if any, is intact)",
                                            failed)
                        last_save = time.monotonic()
                work.raise_failure()
                sums, save_now = work.sums, False
                if sync is not None:  # the pass's last sync point: the whole matrices, the global sums
                    stopped, save_now, sums = sync.end_pass(work.sums, checkpoint_due())
                    if stopped:
                        raise PeerStopped(stopped)
                seconds = pos.seconds + time.perf_counter() - t0
                train_seconds += time.perf_counter() - t0
                loss, examples, seen, kept = sums
                mean_loss = loss / max(examples, 1.0)
                if not math.isfinite(loss) or mean_loss > DIVERGED_LOSS:
                    raise self._diverged(epoch_no, f"the loss per example is {mean_loss:.3g}")
                if not engine.finite():
                    raise self._diverged(epoch_no, "the weights hold NaN or infinite values")
                entry = {
                    "epoch": epoch_no,
                    "loss": float(mean_loss),  # mean loss per training example
                    "examples": int(examples),
                    "words": int(seen),       # in-vocabulary tokens visited (before subsampling)
                    "kept_words": int(kept),  # after subsampling
                    "seconds": seconds,
                    "words_per_sec": float(raw_tokens) / max(seconds, 1e-9),
                    "alpha_start": learning_rate(alpha, min_alpha, e / pos.epochs),
                    "alpha_end": learning_rate(alpha, min_alpha, (e + 1) / pos.epochs),
                }
                self.training_log.append(entry)  # one step: from here on the pass counts as done
                if not examples:
                    log.warning("pass %d trained no example (%d of %d words kept after subsampling, none with "
                                "a context): the vectors did not change", epoch_no, kept, seen)
                pos.epoch, pos.spans, pos.sums, pos.seconds = e + 1, None, [0.0, 0.0, 0.0, 0.0], 0.0
                pos.sync_point = 0
                if save_now:
                    save(Position(pos.epochs, pos.epoch, None, [0.0] * 4, 0.0, pos.partitions), fallback=False)
                    last_save = time.monotonic()
                if pos.epoch == pos.epochs:  # all trained: a stop signal now waits for the model's save
                    hold_active()
                bar.epoch_done(entry)
                if callbacks:  # they may query the model: its host weights current, its wv's norms recomputed
                    engine.pull()
                    self._weights_changed()
                for callback in callbacks:
                    callback(entry)
        except KeyboardInterrupt as stop:
            with shielded():  # a second Ctrl-C or SIGTERM must not cut this stop or its checkpoint
                # Ctrl-C, SIGTERM or SIGHUP, in a pass or between two: the position is exact either way
                passes_done = len(self.training_log) - logged_before
                if work is not None and passes_done == work.epoch:  # in a pass: stop after the chunks in flight
                    spans, sums = work.stop()
                    snapshot = Position(pos.epochs, work.epoch, spans, sums, pos.seconds + time.perf_counter() - t0,
                                        pos.partitions)
                    where = (f"in pass {work.epoch + 1} of {pos.epochs} with {n_chunks - remaining(spans)} of "
                             f"{n_chunks} chunks done")
                else:
                    if work is not None:
                        work.stop()
                    snapshot = Position(pos.epochs, passes_done, None, [0.0, 0.0, 0.0, 0.0], 0.0, pos.partitions)
                    where = f"after pass {passes_done} of {pos.epochs}"
                    if passes_done == pos.epochs:
                        where += " (every pass trained: the exception's .model is complete)"
                signum = getattr(stop, "signum", signal.SIGINT)
                why = "" if signum == signal.SIGINT else f" ({signal_name(signum)})"
                if sync is not None:  # every rank stops at the same point: one checkpoint for all
                    if not isinstance(stop, PeerStopped):
                        sync.stop_all(signum)
                    else:
                        why = f" ({signal_name(signum)} on another rank)"
                    sync.merge_all()
                    snapshot.sync_point = sync.done if snapshot.spans is not None else 0
                stopped_at, path = where, None
                if ckpt is not None:
                    try:
                        path = save(snapshot, fallback=True)
                        if ctx is not None and ctx.rank != 0:
                            where += f"; rank 0 writes the checkpoint ({path})"
                        else:
                            where += (f"; checkpoint written to {path}: continue with --resume {path} (in Python: "
                                      "Word2Vec.resume(path, corpus))")
                    except OSError as failed:
                        where += f"; the checkpoint could not be written ({failed})"
                if passes_done < pos.epochs:  # train() refuses it from now on, naming the checkpoint to resume
                    self._interrupted = (stopped_at, path)
                interrupted = TrainingInterrupted(signum, f"training interrupted{why} {where}")
                interrupted.model = self
                raise interrupted from None
        except Exception:
            if work is not None:  # a failed collective or kernel: no worker goes on behind the error
                work.stop()
            raise
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
        self._check_usable("save it")
        header = {"kind": "model", "config": self.config.to_dict(), "training_log": self.training_log,
                  "stats": self.stats, **losses.file_header(self.config, self.vocab.counts)}
        arrays = {"vectors": self.weights[0], "output": self.weights[1], "counts": self.vocab.counts}
        save_native(path, words=list(self.vocab.words), arrays=arrays, header=header)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Word2Vec":
        """Read a model written by :meth:`save`; it can be queried (``.wv``) or trained further."""
        from .errors import ModelFileError
        from .formats import load_native, native_info

        if native_info(path)["header"].get("kind") == "checkpoint":  # said before its weights are read
            raise ModelFileError(f"{os.fspath(path)}: a training checkpoint, not a model; continue its "
                                 "training with Word2Vec.resume(path, corpus) (w2v train ... --resume)")
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
        from .formats import nonfinite_rows
        from .vocab import Vocab

        where, n = os.fspath(path), len(native.words)
        header, arrays = native.header, native.arrays
        config, counts = header.get("config"), arrays.get("counts")
        vectors, output = arrays.get("vectors"), arrays.get("output")
        log_ = header.get("training_log", [])
        if (not isinstance(config, dict) or counts is None or vectors is None or output is None
                or counts.shape != (n,) or counts.dtype.kind not in "iu" or vectors.ndim != 2
                or vectors.shape[0] != n
                or output.shape != (losses.output_rows(config.get("loss", "ns"), n),) + vectors.shape[1:]
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
        losses.check_tree(model.config, model.vocab.counts, header, where)
        model.weights = (np.array(vectors, dtype=np.float32, order="C", copy=True),
                         np.array(output, dtype=np.float32, order="C", copy=True))
        for name, w in zip(("vectors", "output"), model.weights):
            bad, _ = nonfinite_rows(w)
            if bad:
                rows = f"{bad} row of its {name} holds" if bad == 1 else f"{bad} rows of its {name} hold"
                raise ModelFileError(f"{where}: {rows} NaN or infinite values (a training that diverged, or a "
                                     "damaged file): it cannot be trained further (its vectors load with "
                                     "KeyedVectors.load(path, allow_nonfinite=True))")
        model.training_log = list(log_)
        return model
