"""Export for TensorFlow's Embedding Projector (projector.tensorflow.org): ``vectors.tsv`` and ``metadata.tsv``.

The projector's "Load" dialog takes two tab-separated files:

- ``vectors.tsv``: one row per word, its ``d`` components separated by tabs, no header;
- ``metadata.tsv``: one row per word in the same order.  With two columns (``word``, ``count``) the first
  row is a header, as the projector requires; vectors without counts (a word2vec C file) get the words
  alone, one a line, without a header (the projector's one-column form).

Both files are written atomically and together: each goes to a temporary file first, and both are renamed
into place only once both are complete, with stop signals waiting (:func:`w2v.formats.written_together`), so
a failure or a stop leaves the directory as it was.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np

from .formats import atomic_write, written_together

log = logging.getLogger(__name__)

VECTORS_FILE = "vectors.tsv"
METADATA_FILE = "metadata.tsv"
LARGE = 100_000      # the projector runs in a browser tab: beyond this many points it becomes slow
_FMT = "%.6g"        # six significant digits: ample for a picture, and half the file of float32's nine
_BLOCK_ROWS = 4096   # rows formatted per write


def projector_paths(directory: str | os.PathLike) -> tuple[str, str]:
    """The two files written into ``directory``: (vectors.tsv, metadata.tsv)."""
    directory = os.fspath(directory)
    return os.path.join(directory, VECTORS_FILE), os.path.join(directory, METADATA_FILE)


def _cell(word: str) -> str:
    """A word as one TSV cell: tabs and line breaks would split it, so they become spaces."""
    return word.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def save_projector(directory: str | os.PathLike, words: Sequence[str], vectors: np.ndarray,
                   counts: np.ndarray | None = None) -> tuple[str, str]:
    """Write ``vectors`` (V, d) and ``words`` (with ``counts`` (V,) when known) as the projector's two TSV files.

    ``directory`` must exist.  Returns the two paths.  A word holding a tab or a line break has it replaced
    by a space (with a warning giving how many), since the projector's TSV has no quoting.
    """
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise ValueError(f"{len(words)} words for vectors of shape {vectors.shape}")
    vectors_path, metadata_path = projector_paths(directory)
    cells = [_cell(w) for w in words]
    changed = sum(c != w for c, w in zip(cells, words))
    if changed:
        log.warning("%d word(s) held a tab or a line break, written as a space in %s", changed, metadata_path)
    if len(words) > LARGE:
        log.warning("%s words: the Embedding Projector becomes slow beyond about %s points (w2v export --limit N "
                    "keeps the N most frequent)", f"{len(words):,}", f"{LARGE:,}")
    with written_together(), atomic_write(vectors_path, "w", encoding="utf-8", newline="\n") as vf, \
            atomic_write(metadata_path, "w", encoding="utf-8", newline="\n") as mf:
        if counts is None:
            mf.writelines(c + "\n" for c in cells)
        else:
            mf.write("word\tcount\n")
            mf.writelines(f"{c}\t{int(n)}\n" for c, n in zip(cells, counts))
        for start in range(0, len(words), _BLOCK_ROWS):  # blocks: a memory-mapped matrix is read once
            np.savetxt(vf, vectors[start:start + _BLOCK_ROWS], fmt=_FMT, delimiter="\t")
    return vectors_path, metadata_path
