"""Checkpoints: everything needed to continue an interrupted training to the same final schedule.

A checkpoint is a native w2v file (``formats.save_native``) of kind ``"checkpoint"``: the config, the
vocabulary and counts, both weight matrices (under hierarchical softmax with the CRC of the Huffman tree the
counts rebuild, :func:`w2v.losses.file_header`), the training log of the finished epochs, the position
(pass of this call, chunks of that pass still to train, the pass's partial sums) and a fingerprint of the
encoded corpus.  The random stream and learning rate of every chunk are functions of (seed, epoch, chunk,
and the rank under distributed training) only (:func:`w2v.train.chunk_seed`, :func:`w2v.train.learning_rate`),
so nothing else is needed: with one thread a resumed training ends bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .errors import CorpusError, ModelFileError

FINGERPRINT_SAMPLES = 1 << 20  # sentence ends checksummed (strided)
FINGERPRINT_BLOCKS = 1024       # blocks of ids checksummed, evenly spaced over the corpus
FINGERPRINT_BLOCK_IDS = 1024    # ids per block: 4 MB read at most, whatever the corpus size


@dataclass
class Position:
    """Where one ``train()`` call stands: in pass ``epoch`` (0-based), every chunk outside ``spans`` is done."""

    epochs: int                 # passes of this call
    epoch: int = 0              # passes of this call already finished
    spans: list[list[int]] | None = None  # [next, end) chunks left in each thread's share; None: a new pass
    sums: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])  # loss, examples, seen, kept
    seconds: float = 0.0        # training seconds of the current pass so far
    partitions: int = 0         # shares of the corpus (the thread count of the first run; 0: not yet set)
    sync_point: int = 0         # distributed: sync points of the current pass already done
    ranks: list[dict] | None = None  # distributed: every rank's own position (rank 0's checkpoint holds all)


def fingerprint(enc) -> dict[str, int]:
    """A cheap identity of an encoded corpus: its sizes and a CRC of evenly spaced blocks of ids and of the
    sentence ends.  The ids are read through ``enc.read_ids`` (not a strided view of the memory map, which
    would make every page of the cache resident: +200 MB measured at 68M tokens)."""
    n = int(enc.sentence_ends[-1]) if len(enc.sentence_ends) else 0
    ends = np.asarray(enc.sentence_ends)
    crc = zlib.crc32(np.ascontiguousarray(ends[::max(1, len(ends) // FINGERPRINT_SAMPLES)]).tobytes())
    blocks = max(1, min(FINGERPRINT_BLOCKS, n // FINGERPRINT_BLOCK_IDS))
    for b in range(blocks):
        start = n * b // blocks
        crc = zlib.crc32(enc.read_ids(start, min(n, start + FINGERPRINT_BLOCK_IDS)).tobytes(), crc)
    return {"raw_tokens": int(enc.raw_tokens), "tokens": n, "sentences": int(len(ends)), "crc32": int(crc)}


def check_fingerprint(saved: dict[str, Any], enc, path: str | os.PathLike) -> None:
    """Refuse to resume on a different corpus (or the same one read with other settings)."""
    now = fingerprint(enc)
    if now != saved:
        diffs = ", ".join(f"{k} {saved.get(k)} then, {v} now" for k, v in now.items() if saved.get(k) != v)
        raise CorpusError(f"{os.fspath(path)}: this checkpoint was made on a different corpus ({diffs}); "
                          "resume with the same files in the same order")


def save_checkpoint(path: str | os.PathLike, model, position: Position, print_: dict[str, int]) -> None:
    """Write a checkpoint atomically (an interrupted write leaves the previous checkpoint intact)."""
    from .formats import save_native
    from .losses import file_header

    header = {"kind": "checkpoint", "config": model.config.to_dict(), "training_log": model.training_log,
              "position": asdict(position), "fingerprint": print_,
              **file_header(model.config, model.vocab.counts)}
    arrays = {"vectors": model.weights[0], "output": model.weights[1], "counts": model.vocab.counts}
    save_native(path, words=list(model.vocab.words), arrays=arrays, header=header)


def _check_kind(header: dict, path: str | os.PathLike) -> None:
    if header.get("kind") != "checkpoint":
        raise ModelFileError(f"{os.fspath(path)}: not a checkpoint (a {header.get('kind', 'w2v')} file); "
                             "checkpoints are written by `w2v train`, on Ctrl-C or --checkpoint-every")


def checkpoint_header(path: str | os.PathLike) -> dict:
    """A checkpoint's header (its weights are not read); :class:`ModelFileError` when the file is none."""
    from .formats import native_info

    header = native_info(path)["header"]
    _check_kind(header, path)
    return header


def checkpoint_config(path: str | os.PathLike) -> dict:
    """The settings a checkpoint was trained with (its header only: the weights are not read)."""
    config = checkpoint_header(path).get("config")
    if not isinstance(config, dict):
        raise ModelFileError(f"{os.fspath(path)}: checkpoint header incomplete (no config)")
    return config


def load_checkpoint(path: str | os.PathLike):
    """Read a checkpoint; returns ``(native, position, fingerprint)``: the file as
    :func:`w2v.formats.load_native` reads it (``Word2Vec._from_native`` makes the model of it: this module
    does not import the trainer, which imports it), the :class:`Position` and the corpus fingerprint."""
    from .formats import load_native

    native = load_native(path)
    header = native.header
    _check_kind(header, path)
    try:
        position = Position(**header["position"])
        print_ = dict(header["fingerprint"])
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{os.fspath(path)}: checkpoint header incomplete ({e})") from None
    return native, position, print_
