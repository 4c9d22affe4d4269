"""w2v: word2vec (skip-gram and CBOW; negative sampling, hierarchical or full softmax), fast, in Python."""

from ._version import __version__
from .config import Config
from .errors import (ConfigError, CorpusError, CorpusNotFoundError, DataFileError, DeviceError, DistributedError,
                     ModelFileError, ModelFileNotFoundError, OutputConflictError, OutputError, ResourceError,
                     TrainingDiverged, UnknownWordError, W2VError)

__all__ = ["__version__", "Config", "Word2Vec", "KeyedVectors", "Phrases", "W2VError", "ConfigError",
           "CorpusError", "CorpusNotFoundError", "DataFileError", "DeviceError", "DistributedError",
           "ModelFileError", "ModelFileNotFoundError", "OutputError", "OutputConflictError", "ResourceError",
           "TrainingDiverged", "UnknownWordError", "TrainingInterrupted"]

_LAZY = {  # `import w2v` and queries must not pay for Numba (the trainer, phrases) unless they are used
    "Word2Vec": ("train", "Word2Vec"),
    "TrainingInterrupted": ("train", "TrainingInterrupted"),  # a KeyboardInterrupt: Ctrl-C, SIGTERM, SIGHUP
    "KeyedVectors": ("vectors", "KeyedVectors"),
    "Phrases": ("phrases", "Phrases"),  # collocations (word2phrase)
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module 'w2v' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
