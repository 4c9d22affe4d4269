"""The one training file every tool reads: the first N tokens of the corpus, cut into lines of 1,000 tokens.

Why lines: gensim's ``corpus_file`` mode silently trains only a small part of a one-line (text8-style) file,
and each tool cuts long lines differently (gensim at 10,000 words, fastText at 1,024 tokens + ``</s>``, w2v
at ``max_sentence_length``).  Lines of 1,000 tokens are short enough for all of them, so every tool sees the
same sentences.  The file is written once per slice and reused while its description (``*.json`` beside it)
matches the source file and the slice.
"""

from __future__ import annotations

import collections
import gzip
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

LINE_TOKENS = 1000  # tokens per line of the benchmark file (see the module docstring)
_READ_BYTES = 1 << 22  # the one-line corpus is streamed in 4 MiB blocks, never held whole


@dataclass(frozen=True)
class CorpusSlice:
    """The benchmark file and what is known about it.

    ``tokens`` is the number of raw tokens in the file; ``in_vocab_tokens[str(min_count)]`` the number of
    those whose word occurs at least ``min_count`` times in the slice (what a tool trains per epoch).
    """

    path: str
    source: str
    source_bytes: int
    source_mtime: float
    requested_tokens: int | None
    tokens: int
    lines: int
    line_tokens: int
    vocab_size: dict[str, int]
    in_vocab_tokens: dict[str, int]


def _open_text(path: Path):
    """Open a plain or gzip-compressed text file for reading as UTF-8 (bad bytes replaced)."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _iter_tokens(path: Path):
    """Yield the whitespace-separated tokens of ``path`` in order, reading it in blocks."""
    tail = ""
    with _open_text(path) as f:
        while True:
            block = f.read(_READ_BYTES)
            if not block:
                break
            block = tail + block
            parts = block.split()
            # The last part may continue in the next block unless the block ends on whitespace.
            tail = "" if block[-1].isspace() else parts.pop() if parts else ""
            yield from parts
    if tail:
        yield tail


def _write_lines(source: Path, target: Path, max_tokens: int | None) -> tuple[int, int, collections.Counter]:
    """Write the first ``max_tokens`` tokens (all if None) of ``source`` to ``target``, 1,000 a line.

    Returns (tokens written, lines written, word counts).  Written to a temporary name and renamed, so an
    interrupted run never leaves a truncated file that looks complete.
    """
    counts: collections.Counter = collections.Counter()
    tmp = target.with_suffix(target.suffix + ".part")
    n_tokens = n_lines = 0
    line: list[str] = []
    with open(tmp, "w", encoding="utf-8") as out:
        for token in _iter_tokens(source):
            if max_tokens is not None and n_tokens >= max_tokens:
                break
            line.append(token)
            n_tokens += 1
            if len(line) == LINE_TOKENS:
                out.write(" ".join(line) + "\n")
                counts.update(line)
                n_lines += 1
                line = []
        if line:
            out.write(" ".join(line) + "\n")
            counts.update(line)
            n_lines += 1
    os.replace(tmp, target)
    return n_tokens, n_lines, counts


def _count_words(path: Path) -> collections.Counter:
    """Word counts of an already written slice file."""
    counts: collections.Counter = collections.Counter()
    with open(path, encoding="utf-8") as f:
        for line in f:
            counts.update(line.split())
    return counts


def _vocab_figures(counts: collections.Counter, min_count: int) -> tuple[int, int]:
    """(words kept, tokens of kept words) for a vocabulary with ``min_count``."""
    kept = [c for c in counts.values() if c >= min_count]
    return len(kept), sum(kept)


def prepare_slice(source: Path, out_dir: Path, max_tokens: int | None, min_count: int,
                  log=print) -> CorpusSlice:
    """Return the benchmark file for the first ``max_tokens`` tokens of ``source``, writing it if needed.

    Parameters
    ----------
    source : the corpus (plain text or ``.gz``), any line structure.
    out_dir : where the slice and its description are cached (``corpus-<stem>-<tokens>.txt`` + ``.json``).
    max_tokens : first N tokens only; None for the whole corpus.
    min_count : the vocabulary threshold of the benchmark, to count the in-vocabulary tokens per epoch.
    """
    source = source.resolve()
    stat = source.stat()
    stem = source.name.split(".")[0]
    label = "all" if max_tokens is None else str(max_tokens)
    target = out_dir / f"corpus-{stem}-{label}.txt"
    meta_path = target.with_suffix(".json")
    key = str(min_count)

    if target.exists() and meta_path.exists():
        cached = CorpusSlice(**json.loads(meta_path.read_text()))
        if (cached.source == str(source) and cached.source_bytes == stat.st_size
                and cached.source_mtime == stat.st_mtime and cached.line_tokens == LINE_TOKENS
                and cached.requested_tokens == max_tokens):
            if key not in cached.in_vocab_tokens:
                vocab, in_vocab = _vocab_figures(_count_words(target), min_count)
                cached.vocab_size[key], cached.in_vocab_tokens[key] = vocab, in_vocab
                meta_path.write_text(json.dumps(asdict(cached), indent=1))
            log(f"corpus: reusing {target} ({cached.tokens:,} tokens, {cached.lines:,} lines)")
            return cached

    log(f"corpus: writing {target} from {source} ({label} tokens, {LINE_TOKENS:,} a line) ...")
    out_dir.mkdir(parents=True, exist_ok=True)
    n_tokens, n_lines, counts = _write_lines(source, target, max_tokens)
    if max_tokens is not None and n_tokens < max_tokens:
        log(f"corpus: warning: the corpus has only {n_tokens:,} tokens, fewer than the {max_tokens:,} asked")
    vocab, in_vocab = _vocab_figures(counts, min_count)
    result = CorpusSlice(path=str(target), source=str(source), source_bytes=stat.st_size,
                         source_mtime=stat.st_mtime, requested_tokens=max_tokens, tokens=n_tokens,
                         lines=n_lines, line_tokens=LINE_TOKENS, vocab_size={key: vocab},
                         in_vocab_tokens={key: in_vocab})
    meta_path.write_text(json.dumps(asdict(result), indent=1))
    log(f"corpus: {n_tokens:,} tokens, {n_lines:,} lines, {vocab:,} words with count >= {min_count}")
    return result
