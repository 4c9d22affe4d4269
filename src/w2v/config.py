"""Hyperparameters: one frozen dataclass, one table of constraints.

The Python API (``Word2Vec(**kwargs)``), the command line (``w2v train --help`` shows these defaults) and the
model file's JSON header are all derived from :class:`Config`.  Nothing else in the project defines a
default.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError

MODELS = ("sg", "cbow")
LOSSES = ("ns", "hs", "softmax")  # w2v.losses says what each needs


def _opt(default: Any, help: str, **extra: Any) -> Any:
    """A dataclass field whose help text the command line shows."""
    return field(default=default, metadata={"help": help, **extra})


@dataclass(frozen=True)
class Config:
    """Everything that decides what is trained.  Frozen: derive a variant with :meth:`replace`."""

    model: str = _opt("sg", "architecture: 'sg' (skip-gram) or 'cbow' (continuous bag of words)",
                      choices=MODELS)
    dim: int = _opt(100, "dimension of the word vectors")
    window: int = _opt(5, "maximum distance between the centre and a context word; the window actually "
                          "used for each centre word is drawn uniformly from 1..window (Mikolov 2013a)")
    loss: str = _opt("ns", "what the output layer predicts the target with: 'ns' negative sampling (Mikolov "
                           "2013b: k noise words per example, a cost independent of the vocabulary), 'hs' "
                           "hierarchical softmax over a Huffman tree of the counts (the C tool's -hs 1), "
                           "'softmax' the exact softmax over the whole vocabulary (small vocabularies only: "
                           "refused above 20,000 words). docs/NEGATIVE_SAMPLING.md compares them",
                     choices=LOSSES)
    negative: int | None = _opt(None, "noise words drawn per target (negative sampling, Mikolov 2013b); "
                                      "default 5 with loss 'ns', an error with 'hs' or 'softmax'")
    ns_exponent: float | None = _opt(None, "exponent of the noise distribution count^a (0.75 from Mikolov "
                                           "2013b; 0 is uniform, 1 the unigram distribution); default 0.75 "
                                           "with loss 'ns', an error with 'hs' or 'softmax'")
    sample: float = _opt(1e-3, "subsampling threshold t: a word of frequency f is kept with probability "
                               "(sqrt(f/t)+1)*t/f (the C tool's form); 0 turns subsampling off")
    min_count: int = _opt(5, "words seen fewer times than this are left out of the vocabulary")
    max_vocab: int | None = _opt(None, "bound on the distinct words held while counting; when exceeded the "
                                       "rarest are pruned as the C tool does (counts become lower bounds)")
    max_final_vocab: int | None = _opt(None, "keep at most this many of the most frequent words")
    epochs: int = _opt(5, "passes over the corpus")
    alpha: float | None = _opt(None, "initial learning rate; default 0.025 for sg, 0.05 for cbow")
    min_alpha: float = _opt(1e-4, "learning rate at the end of training (linear decay over all epochs)")
    cbow_mean: bool = _opt(True, "cbow: average the context vectors (True) or sum them (False)")
    hogbatch: bool | None = _opt(None, "sg: the context words of one centre word share one draw of negatives "
                                       "(HogBatch, Ji et al. 2016): updates as small matrix products, 1.5-2x "
                                       "faster at equal or better quality (benchmarks/RESULTS.md). Unset: on "
                                       "for sg with loss 'ns'; off (False, --no-hogbatch) gives the per-pair "
                                       "update of the C tool; an error with loss 'hs' or 'softmax'")
    threads: int = _opt(0, "worker threads sharing the weights lock-free (Hogwild); 0 uses every core. "
                           "Only threads=1 is bit-reproducible")
    seed: int = _opt(1, "seed of every random draw (initialisation, windows, subsampling, negatives)")
    lowercase: bool = _opt(False, "lowercase the text before splitting it into words")
    normalize: bool = _opt(False, "also strip punctuation at word edges, so raw text works "
                                  "('LORD,' and 'LORD' are one word); implies nothing about case")
    max_sentence_length: int = _opt(10_000, "longer lines are cut into sentences of at most this many words "
                                            "(no word is lost; windows do not cross a cut)")
    allow_truncated: bool = _opt(False, "train on what can be read of a compressed corpus file (.gz, .bz2, .xz) "
                                        "that is truncated or corrupt (a warning says how much was read); "
                                        "by default such a file is an error")
    allow_binary: bool = _opt(False, "read corpus files that do not look like text (a model file, a pickle, an "
                                     "image, an archive, mostly control bytes or invalid UTF-8: the rule is in "
                                     "w2v.filetypes) as text anyway; by default such a file is an error")

    def __post_init__(self) -> None:
        for name in _RULES:  # NumPy's scalars (a sweep over np.arange) stored as the Python numbers they are
            value = getattr(self, name)
            if type(value) not in (int, float, bool) and isinstance(value, numbers.Real):
                object.__setattr__(self, name, int(value) if isinstance(value, numbers.Integral) else float(value))
        validate(self)

    # -- derived values (each defined once, here) ------------------------------------------------------
    @property
    def start_alpha(self) -> float:
        """The initial learning rate: ``alpha`` if given, else the papers' default for the model."""
        if self.alpha is not None:
            return float(self.alpha)
        return 0.025 if self.model == "sg" else 0.05

    @property
    def use_hogbatch(self) -> bool:
        """Whether skip-gram shares negatives across the window: ``hogbatch``, by default on for sg with ns."""
        return self.model == "sg" and self.loss == "ns" and self.hogbatch is not False

    @property
    def n_negative(self) -> int:
        """Noise words per target: ``negative``, by default 5 under negative sampling; 0 under hs and softmax."""
        if self.loss != "ns":
            return 0
        return 5 if self.negative is None else int(self.negative)

    @property
    def noise_exponent(self) -> float:
        """The exponent of the noise distribution: ``ns_exponent``, by default 0.75 (used by negative sampling)."""
        return 0.75 if self.ns_exponent is None else float(self.ns_exponent)

    @property
    def n_threads(self) -> int:
        """Worker threads actually used: ``threads``, or every core when it is 0."""
        return self.threads if self.threads > 0 else (os.cpu_count() or 1)

    def replace(self, **changes: Any) -> "Config":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Config":
        """Build from a dict, e.g. a model file's header; unknown keys are an error naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
        return cls(**data)


_generated_init = Config.__init__


def _init(self: Config, *args: Any, **settings: Any) -> None:
    """The dataclass's ``__init__``, but a setting that does not exist (``Config(vector_size=...)``,
    ``replace(dimm=...)``) is a :class:`ConfigError` with the nearest names or gensim's translation."""
    known = {f.name for f in dataclasses.fields(Config)}
    if not set(settings) <= known:
        from .compat import check_constructor

        check_constructor(None, settings, known)
    _generated_init(self, *args, **settings)


Config.__init__ = _init  # type: ignore[method-assign]


# -- the constraints table -----------------------------------------------------------------------------
# name -> (type, low, high, low_inclusive, high_inclusive, may_be_none)
_INF = math.inf
_RULES: dict[str, tuple[type, float, float, bool, bool, bool]] = {
    "dim": (int, 1, 10_000, True, True, False),
    "window": (int, 1, 1_000, True, True, False),
    "negative": (int, 1, 1_000, True, True, True),
    "ns_exponent": (float, -_INF, _INF, False, False, True),
    "sample": (float, 0.0, 1.0, True, True, False),
    "min_count": (int, 1, _INF, True, False, False),
    "max_vocab": (int, 1, _INF, True, False, True),
    "max_final_vocab": (int, 1, _INF, True, False, True),
    "epochs": (int, 1, 100_000, True, True, False),
    "alpha": (float, 0.0, 1.0, False, True, True),
    "min_alpha": (float, 0.0, 1.0, True, True, False),
    "threads": (int, 0, 4096, True, True, False),
    "seed": (int, 0, 2**63 - 1, True, True, False),
    "max_sentence_length": (int, 1, _INF, True, False, False),
}
_BOOLS = ("cbow_mean", "lowercase", "normalize", "allow_truncated", "allow_binary")
_OPTIONAL_BOOLS = ("hogbatch",)  # None: the default for the model


def _range_text(low: float, high: float, lo_inc: bool, hi_inc: bool) -> str:
    lo = "-inf" if low == -_INF else repr(low)
    hi = "inf" if high == _INF else repr(high)
    return f"{'[' if lo_inc and low != -_INF else '('}{lo}, {hi}{']' if hi_inc and high != _INF else ')'}"


def validate(cfg: Config) -> None:
    """Check every field against the table; raise :class:`ConfigError` naming the first bad one."""
    if cfg.model not in MODELS:
        raise ConfigError(f"'model' must be one of {', '.join(map(repr, MODELS))}; got {cfg.model!r}")
    if cfg.loss not in LOSSES:
        raise ConfigError(f"'loss' must be one of {', '.join(map(repr, LOSSES))}; got {cfg.loss!r}")
    for name in _BOOLS + _OPTIONAL_BOOLS:
        value = getattr(cfg, name)
        if not isinstance(value, bool) and not (value is None and name in _OPTIONAL_BOOLS):
            raise ConfigError(f"'{name}' must be a bool{' or None' if name in _OPTIONAL_BOOLS else ''}; "
                              f"got {value!r}")
    for name, (typ, low, high, lo_inc, hi_inc, none_ok) in _RULES.items():
        value = getattr(cfg, name)
        if value is None and none_ok:
            continue
        kind = "an int" if typ is int else "a number"
        ok_type = isinstance(value, int) and not isinstance(value, bool) if typ is int else (
            isinstance(value, (int, float)) and not isinstance(value, bool))
        where = _range_text(low, high, lo_inc, hi_inc)
        if not ok_type or (typ is float and not math.isfinite(value)):
            raise ConfigError(f"'{name}' must be {kind} in {where}; got {value!r}")
        too_low = value < low or (value == low and not lo_inc)
        too_high = value > high or (value == high and not hi_inc)
        if too_low or too_high:
            raise ConfigError(f"'{name}' must be {kind} in {where}; got {value!r}")
    # inconsistent combinations
    if cfg.min_alpha > cfg.start_alpha:
        raise ConfigError(f"'min_alpha' ({cfg.min_alpha}) must not exceed the initial 'alpha' "
                          f"({cfg.start_alpha})")
    if cfg.loss != "ns":  # the settings of negative sampling, given explicitly, with another loss
        for name in ("negative", "ns_exponent", "hogbatch"):
            if getattr(cfg, name) is not None:
                raise ConfigError(f"'{name}' is a setting of negative sampling; it does not apply with 'loss' "
                                  f"{cfg.loss!r} (leave it unset, or use 'loss' 'ns')")
    if cfg.hogbatch and cfg.model != "sg":
        raise ConfigError("'hogbatch' applies to skip-gram only (CBOW already shares one set of negatives "
                          "per window); use 'model' 'sg', or leave 'hogbatch' unset")
    if cfg.max_vocab is not None and cfg.max_final_vocab is not None and cfg.max_final_vocab > cfg.max_vocab:
        raise ConfigError(f"'max_final_vocab' ({cfg.max_final_vocab}) must not exceed 'max_vocab' "
                          f"({cfg.max_vocab})")


def fields_with_help() -> list[dataclasses.Field]:
    """The fields of :class:`Config`, in order, each with ``metadata['help']`` (for the command line)."""
    return list(dataclasses.fields(Config))
