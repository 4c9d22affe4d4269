"""How much memory training needs, and a check against what the machine has, before allocating it.

The weights dominate: two ``float32[V, d]`` matrices (``W_in`` and ``W_out``).  Per word there are also the
sampling tables (``keep_threshold`` int64, ``noise_alias`` uint64), the counts (int64) and the vocabulary
itself (a Python str and its dict entry).  The encoded corpus is memory-mapped from a file and is not
counted: the operating system pages it in and out as needed.

Available memory is the smallest of ``MemAvailable`` in ``/proc/meminfo`` (else ``os.sysconf``) and the
room left under a cgroup limit (a container), when there is one.
"""

from __future__ import annotations

import logging
import os

from .errors import ConfigError, ResourceError

logger = logging.getLogger("w2v")

BYTES_PER_WORD = 200
"""Memory per vocabulary word besides the weights: three 8-byte tables plus a Python str (~60 bytes for a
short word) and its entries in the word list and the word -> id dict (~100 bytes)."""

WARN_FRACTION = 0.8
"""A warning (not an error) when training needs more than this fraction of the available memory."""


def estimate_training_memory(vocab_size: int, dim: int) -> int:
    """Bytes that training holds in memory for ``vocab_size`` words of ``dim`` dimensions.

    Two float32 matrices of ``vocab_size x dim`` plus :data:`BYTES_PER_WORD` per word.
    """
    for name, value in (("vocab_size", vocab_size), ("dim", dim)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"'{name}' must be an int >= 0; got {value!r}")
    return 2 * 4 * vocab_size * dim + BYTES_PER_WORD * vocab_size


def _meminfo_available(path: str = "/proc/meminfo") -> int | None:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room() -> int | None:
    """Bytes left under the cgroup's memory limit (v2, then v1), or None without a limit."""
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_file) as f:
                limit_text = f.read().strip()
            if limit_text == "max":
                return None
            limit = int(limit_text)
            with open(usage_file) as f:
                usage = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if limit >= 1 << 60:  # cgroup v1 writes "no limit" as a huge number
            return None
        return max(limit - usage, 0)
    return None


def available_memory() -> int | None:
    """Bytes of memory available to this process now, or None when the system does not say."""
    found = _meminfo_available()
    if found is None:
        try:
            found = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            found = None
    room = _cgroup_room()
    if room is not None:
        found = room if found is None else min(found, room)
    return found


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return ""  # unreachable


def fitting(vocab_size: int, dim: int, available: int, per_word_bytes: int = BYTES_PER_WORD) -> tuple[int, int]:
    """The largest dimension for ``vocab_size`` words, and the most words at ``dim``, whose two float32 weight
    matrices (and ``per_word_bytes`` a word besides) fit in ``available`` bytes (0 or less: none)."""
    max_dim = (available - per_word_bytes * vocab_size) // (2 * 4 * vocab_size) if vocab_size else 0
    return max_dim, available // (2 * 4 * dim + per_word_bytes)


def check_memory(vocab_size: int, dim: int, available: int | None = None, what: str = "memory",
                 per_word_bytes: int = BYTES_PER_WORD) -> int:
    """Raise :class:`ResourceError` when training ``vocab_size`` words x ``dim`` would not fit in memory.

    Call it after the vocabulary is known and before the weights are allocated.  ``available`` defaults to
    :func:`available_memory`; when the system cannot tell, nothing is checked.  Returns the estimate in
    bytes.  ``what`` names the memory in the message (a GPU's, say) and ``per_word_bytes`` what a word
    costs there besides its two rows of weights.  The error gives the figures and the settings that would
    fit: the largest ``dim`` for this vocabulary and the largest ``max_final_vocab`` for this ``dim``.
    """
    need = 2 * 4 * vocab_size * dim + per_word_bytes * vocab_size
    estimate_training_memory(vocab_size, dim)  # checks the arguments
    if available is None:
        available = available_memory()
    if available is None:
        return need
    if need > available:
        max_dim, max_vocab = fitting(vocab_size, dim, available, per_word_bytes)
        fixes = []
        if max_dim >= 1:
            fixes.append(f"dim (--dim) to at most {max_dim:,}")
        if max_vocab >= 1:
            fixes.append(f"max_final_vocab (--max-final-vocab) to at most {max_vocab:,} (or raise min_count)")
        advice = "lower " + " or ".join(fixes) if fixes else "use a machine with more memory"
        raise ResourceError(
            f"training needs about {_size(need)} of {what} for {vocab_size:,} words x {dim} dimensions (two "
            f"float32 matrices of {_size(4 * vocab_size * dim)} each, plus {_size(per_word_bytes * vocab_size)} "
            f"of vocabulary and tables), but only {_size(available)} is available; {advice}")
    if need > WARN_FRACTION * available:
        logger.warning("training needs about %s of %s for %d words x %d dimensions, %.0f%% of the %s "
                       "available", _size(need), what, vocab_size, dim, 100 * need / available, _size(available))
    return need
