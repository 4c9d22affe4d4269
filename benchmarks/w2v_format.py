"""Write word vectors in the word2vec C binary format (numpy only), for tools that do not export it.

Used by the fastText runs: the CLI writes a text ``.vec`` file and the Python bindings write neither, so
their vectors are converted here and then read by the same evaluator as everyone else's.

As a script: ``python w2v_format.py IN.vec OUT.bin`` converts a word2vec text file to binary.
"""

from __future__ import annotations

import sys

import numpy as np


def write_word2vec_binary(path: str, words: list[str], vectors: np.ndarray) -> None:
    """Write ``vectors`` (float32[V, d], row i for ``words[i]``) as ``"V d\\n"`` then ``word<space><d floats>\\n``."""
    vectors = np.ascontiguousarray(vectors, dtype="<f4")
    if vectors.shape[0] != len(words):
        raise ValueError(f"{len(words)} words but {vectors.shape[0]} vectors")
    with open(path, "wb") as f:
        f.write(f"{vectors.shape[0]} {vectors.shape[1]}\n".encode())
        for word, row in zip(words, vectors):
            f.write(word.encode("utf-8") + b" " + row.tobytes() + b"\n")


def read_word2vec_text(path: str) -> tuple[list[str], np.ndarray]:
    """Read a word2vec text file (a ``"V d"`` header, then ``word x1 .. xd`` per line)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        n, dim = (int(x) for x in f.readline().split())
        words: list[str] = []
        vectors = np.empty((n, dim), dtype=np.float32)
        for i, line in enumerate(f):
            parts = line.rstrip("\n").rstrip(" ").split(" ")
            words.append(parts[0])
            vectors[i] = np.asarray(parts[1:], dtype=np.float32)
    if len(words) != n:
        raise ValueError(f"{path}: header says {n} words, file has {len(words)}")
    return words, vectors


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python w2v_format.py IN.vec OUT.bin")
    write_word2vec_binary(sys.argv[2], *read_word2vec_text(sys.argv[1]))
