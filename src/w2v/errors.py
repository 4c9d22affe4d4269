"""The project's exceptions.

Each subclasses the built-in exception a caller would expect (``ValueError`` for bad settings or data,
``FileNotFoundError`` for a missing path, ``KeyError`` for an unknown word), so ``except ValueError``
keeps working, and ``except W2VError`` catches everything w2v raises on purpose.  The command line turns
any ``W2VError`` into one line on stderr and exit code 2.
"""

from __future__ import annotations


class W2VError(Exception):
    """Base class of every error w2v raises on purpose (a user or data mistake, not a bug)."""


class ConfigError(W2VError, ValueError):
    """A hyperparameter out of range, of the wrong type, or inconsistent with another."""


class CorpusError(W2VError, ValueError):
    """A corpus that cannot be trained on: empty, every word under ``min_count``, a one-shot iterator."""


class CorpusNotFoundError(W2VError, FileNotFoundError):
    """A corpus path that does not exist or cannot be read (``.filename`` holds the path)."""

    def __str__(self) -> str:  # OSError would print "[Errno None] None: ..." once filename is set
        return str(self.args[0]) if self.args else "corpus file not found"


class ModelFileError(W2VError, ValueError):
    """A model or vector file that is corrupt, truncated, foreign, or of a newer format version; or a word
    that the file to be written cannot hold."""


class ModelFileNotFoundError(W2VError, FileNotFoundError):
    """A model or vector file path that does not exist, is a directory, or cannot be read."""

    def __str__(self) -> str:  # as CorpusNotFoundError: the message alone, not "[Errno None] None: ..."
        return str(self.args[0]) if self.args else "model file not found"


class OutputError(W2VError, OSError):
    """A file that cannot be written: no room, a read-only or missing directory, a failed disk.

    ``errno``, ``strerror`` and ``filename`` are those of the underlying OS error, so ``except OSError``
    and ``e.errno == errno.ENOSPC`` keep working; the message names the file and the reason.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "cannot write the file"

    @classmethod
    def wrap(cls, err: OSError, path: str, what: str = "") -> "OutputError":
        """The OS error ``err`` met while writing ``path``, as one readable line."""
        reason = err.strerror or str(err)
        new = cls(f"cannot write {what + ' ' if what else ''}{path!r}: {reason}")
        new.errno, new.strerror, new.filename = err.errno, err.strerror, path
        return new


class OutputConflictError(W2VError, ValueError):
    """An output path that names an input (or another output) of the same command: refused before any work."""


class DeviceError(W2VError, RuntimeError):
    """A device or backend that cannot run here: PyTorch not installed, no visible GPU; says what to do."""


class DistributedError(W2VError, RuntimeError):
    """A distributed training that cannot go on: a rank died or froze, the ranks could not meet; the message
    names the rank and the checkpoint to resume from."""


class ResourceError(W2VError, MemoryError):
    """Training would need more memory than the machine has available; the message says what would fit."""


class TrainingDiverged(W2VError, ArithmeticError):
    """The loss or the weights became NaN or infinite (a learning rate too high for the data): training stops
    at once; the message gives the pass and the settings to change.  Nothing of the diverged run is saved."""


class DataFileError(W2VError, ValueError):
    """An evaluation data set (analogies, word pairs) that cannot be parsed; names the file and line."""


class UnknownWordError(W2VError, KeyError):
    """A word that is not in the vocabulary; the message suggests the nearest spellings."""

    def __init__(self, word: str, suggestions: list[str] | tuple[str, ...] = ()):
        self.word = word
        self.suggestions = list(suggestions)
        super().__init__(word)

    def __str__(self) -> str:
        msg = f"word {self.word!r} is not in the vocabulary"
        if self.suggestions:
            msg += "; did you mean " + ", ".join(repr(s) for s in self.suggestions) + "?"
        return msg
