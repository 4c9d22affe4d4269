"""Coverage-guided fuzzing of the model-file readers with atheris (not run by pytest).

    .venv/bin/pip install atheris
    .venv/bin/python tests/fuzz/fuzz_loaders.py -runs=200000            # or -max_total_time=300

The first byte of each input picks a valid base file (native vectors or model, word2vec text or binary,
plain or gzip) that the rest of the input is spliced into, so the fuzzer starts from real structure; or, for
values >= 0xF0, the rest is used as the whole file.  Every reader must load it or raise a W2VError: any
other exception (or a NumPy warning) is a crash that atheris reports with the input that caused it.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings

import atheris

with atheris.instrument_imports():
    from w2v import formats
    from w2v.errors import W2VError
    from w2v.vectors import KeyedVectors

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from test_fuzz import BASE  # noqa: E402  (the valid files of the hypothesis test)

NAMES = sorted(BASE)
DIRECTORY = tempfile.mkdtemp(prefix="w2v-fuzz-")
PATH = os.path.join(DIRECTORY, "fuzzed")
MAX_SIZE = 1 << 16


def build(data: bytes) -> bytes:
    if not data:
        return b""
    selector, rest = data[0], data[1:]
    if selector >= 0xF0:
        return rest
    base = BASE[NAMES[selector % len(NAMES)]]
    fdp = atheris.FuzzedDataProvider(rest)
    start = fdp.ConsumeIntInRange(0, len(base))
    cut = fdp.ConsumeIntInRange(0, 64)
    insert = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 64))
    tail_cut = fdp.ConsumeIntInRange(0, len(base))
    out = base[:start] + insert + base[start + cut:]
    return out[:len(out) - tail_cut] if fdp.ConsumeBool() else out


def test_one_input(data: bytes) -> None:
    content = build(data)[:MAX_SIZE]
    with open(PATH, "wb") as f:
        f.write(content)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for read in (lambda: KeyedVectors.load(PATH), lambda: KeyedVectors.load(PATH, mmap=True),
                     lambda: formats.load_native(PATH), lambda: formats.load_word2vec(PATH),
                     lambda: formats.load_word2vec(PATH, binary=True),
                     lambda: formats.load_word2vec(PATH, binary=False, limit=2)):
            try:
                read()
            except W2VError:
                pass


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
