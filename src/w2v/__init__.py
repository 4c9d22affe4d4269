"""w2v: word2vec (skip-gram and CBOW with negative sampling), fast, in Python."""

from ._version import __version__
from .config import Config
from .errors import (ConfigError, CorpusError, CorpusNotFoundError, DataFileError, ModelFileError,
                     OutputConflictError, OutputError, UnknownWordError, W2VError)

__all__ = ["__version__", "Config", "Word2Vec", "KeyedVectors", "Phrases", "W2VError", "ConfigError",
           "CorpusError", "CorpusNotFoundError", "DataFileError", "ModelFileError", "OutputError",
           "OutputConflictError", "UnknownWordError"]


def __getattr__(name):
    # Lazy: `import w2v` and queries must not pay for Numba (the trainer) unless it is used.
    if name == "Word2Vec":
        from .train import Word2Vec
        return Word2Vec
    if name == "KeyedVectors":
        from .vectors import KeyedVectors
        return KeyedVectors
    if name == "Phrases":  # collocations (word2phrase); Numba kernels too, so lazy as well
        from .phrases import Phrases
        return Phrases
    raise AttributeError(f"module 'w2v' has no attribute {name!r}")
