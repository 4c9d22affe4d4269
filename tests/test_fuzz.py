"""Fuzzing the model-file readers: damaged files raise the project's errors, never anything else.

Valid files (native vectors and models, word2vec text and binary, plain and gzip) are mutated (bits
flipped, bytes overwritten, inserted, deleted, the file truncated) and given to every reader.  Each must
either load or raise a :class:`w2v.errors.W2VError`; no other exception, no warning, and no allocation
much larger than the file (a header cannot make a reader allocate what the file does not hold).

The default run is bounded for ``make test``; ``-m slow`` runs many more examples.
"""

from __future__ import annotations

import gzip
import os
import tempfile
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from w2v import formats
from w2v.errors import W2VError
from w2v.vectors import KeyedVectors

ALLOCATION_BOUND = 8 << 20  # bytes a reader may allocate for a file of a few kB (buffers, small arrays)


def _base_files() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    words = ["the", "of", "caf\u00e9", "\u4e2d\u6587", "x" * 30, "a", "b1", "c2"]
    vectors = rng.standard_normal((len(words), 5)).astype(np.float32)
    out: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "f")
        KeyedVectors(words, vectors, np.arange(8, 0, -1)).save(path)
        out["native"] = Path(path).read_bytes()
        formats.save_native(path, words=words, arrays={"vectors": vectors, "output": vectors,
                                                       "counts": np.arange(8, 0, -1)},
                            header={"kind": "model", "config": {"dim": 5}, "training_log": []})
        out["model"] = Path(path).read_bytes()
        for binary in (True, False):
            formats.save_word2vec(path, words, vectors, binary=binary)
            raw = Path(path).read_bytes()
            name = "binary" if binary else "text"
            out[name] = raw
            out[name + ".gz"] = gzip.compress(raw, mtime=0)
    return out


BASE = _base_files()


@st.composite
def mutated(draw) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(BASE)))
    data = bytearray(BASE[name])
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "overwrite", "insert", "delete", "truncate", "digits"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "overwrite" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 64))]
        elif op == "truncate":
            del data[pos:]
        elif op == "digits":  # big numbers where headers hold sizes, counts and offsets
            data[pos:pos + draw(st.integers(0, 4))] = draw(st.sampled_from(
                [b"9", b"99999999999999999999", b"-1", b"1e309", b"0", b"nan", b"inf", b"18446744073709551616"]))
    return name, bytes(data)


def _readers(path: str):
    return [
        ("KeyedVectors.load", lambda: KeyedVectors.load(path)),
        ("KeyedVectors.load(mmap)", lambda: KeyedVectors.load(path, mmap=True, allow_nonfinite=True)),
        ("load_native", lambda: formats.load_native(path)),
        ("load_word2vec", lambda: formats.load_word2vec(path)),
        ("load_word2vec(binary)", lambda: formats.load_word2vec(path, binary=True, limit=3)),
        ("load_word2vec(text)", lambda: formats.load_word2vec(path, binary=False)),
    ]


def check_one(data: bytes, directory: str) -> int:
    """Feed ``data`` to every reader; returns how many readers ran.  Fails on anything but a W2VError."""
    path = os.path.join(directory, "fuzzed")
    with open(path, "wb") as f:
        f.write(data)
    bound = ALLOCATION_BOUND + 64 * len(data)
    for name, read in _readers(path):
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a NumPy warning on a damaged file is a bug too
            try:
                result = read()
            except W2VError:
                result = None
            except Exception as e:  # noqa: BLE001 - the point of the test
                raise AssertionError(f"{name} raised {type(e).__name__}: {e} on {data[:80]!r}...") from e
        peak = tracemalloc.get_traced_memory()[1] - before
        assert peak < bound, f"{name} allocated {peak} bytes for a {len(data)}-byte file"
        del result
    return len(_readers(path))


def _run(example, tmp_path_factory) -> None:
    name, data = example
    directory = str(tmp_path_factory.getbasetemp())
    tracemalloc.start()
    try:
        check_one(data, directory)
    finally:
        tracemalloc.stop()


def test_base_files_load():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "f")
        for name, data in BASE.items():
            with open(path, "wb") as f:
                f.write(data)
            assert len(KeyedVectors.load(path)) == 8, name


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutated())
def test_mutated_files_raise_only_w2v_errors(tmp_path_factory, example):
    _run(example, tmp_path_factory)


@pytest.mark.slow
@settings(max_examples=20_000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutated())
def test_mutated_files_raise_only_w2v_errors_many(tmp_path_factory, example):
    _run(example, tmp_path_factory)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300), st.sampled_from([b"", formats.MAGIC + b"\x01\x00\x00\x00", b"3 5\n",
                                                 b"\x1f\x8b\x08\x00"]))
def test_random_bytes_raise_only_w2v_errors(tmp_path_factory, tail, head):
    _run(("random", head + tail), tmp_path_factory)
