"""Phrases: collocations such as ``new_york`` joined into one token before training (the C tool's word2phrase).

How it works
------------
A corpus is read exactly as ``train`` reads it (:class:`w2v.corpus.Corpus`, the same options), in blocks of
about :data:`BLOCK_TOKENS` tokens.  Each block becomes one UTF-8 buffer (tokens joined by ``" "``, every
sentence ended by ``"\\n"``) and everything after that is NumPy and Numba over arrays, no Python per token:

1. the tokens are hashed and looked up (or added) in a word table (one byte arena, open addressing), which
   gives each distinct token an ``int32`` id;
2. the candidates of the block (adjacent pairs, or ``a connector... b`` with connector words) become
   ``int64`` keys ``a << 32 | b`` (plus an exact code of the connectors between), which are sorted,
   run-length counted and merged into the pass's sorted table of counts;
3. at the end of a pass every candidate is scored at once, and those above the threshold become phrases;
4. applying joins, left to right, each candidate found in the phrase table (a hash table over the keys),
   and writes the block back with the joined separators turned from ``" "`` into ``"_"``.

Scores (``a``, ``b`` the two ends, ``N`` the tokens of the pass, all counts at least ``min_count``)::

    default  (count(ab) - min_count) / (count(a) * count(b)) * N     (word2phrase.c; phrase if > threshold)
    npmi     ln(p(ab) / (p(a) p(b))) / -ln(p(ab)),  p(x) = count(x) / N   (Bouma 2009, as gensim has it)

gensim's ``original_scorer`` multiplies by the number of distinct unigrams *and* bigrams it holds instead of
``N``, which makes its threshold depend on the corpus size in an odd way; we keep the C tool's ``N``.

Where we differ from the C tool (word2phrase.c) and gensim (``gensim.models.phrases``), and why
------------------------------------------------------------------------------------------------
- Pairs never cross a sentence end.  The C tool counts the pair (last word of a line, first word of the
  next) (its ``start`` flag is reset before it is tested) but never joins it; gensim counts none.  We
  follow gensim: a count for a pair that can never be joined only shifts the other scores.
- Joining is greedy left to right and a joined pair is never extended in the same pass: the C tool does
  exactly this (``pb = 0`` after a join), and so does gensim's ``analyze_sentence`` without connectors,
  so the two agree and so do we.  With connectors we follow gensim (the C tool has none): a phrase
  neither starts nor ends with a connector word, and may hold a run of them inside; a run longer than
  ``max_run`` connectors (12 with the English list, see :func:`_conn`; gensim has no limit) is never
  inside a phrase.
- Both ends of a phrase and the phrase itself must occur at least ``min_count`` times, for both scores (the
  C tool's rule; gensim checks only the pair's count, which implies the others unless counts are pruned).
- Scores are computed in float64 (the C tool uses float32, so a score within ~1e-7 of the threshold may
  fall on the other side there).
- The text is read as ``train`` reads it: split on any whitespace (the C tool: space, tab and newline
  only), words never truncated (the C tool cuts words and pair strings at 59 bytes, so long pairs can
  collide), and written one sentence a line (a line longer than ``max_sentence_length`` becomes several;
  the C tool keeps the lines it read).
- Bounded memory: with ``max_vocab``, the words and candidates held are pruned when their number exceeds
  it, as the C tool's ``ReduceVocab`` does (drop every entry seen at most ``min_reduce`` times, then raise
  ``min_reduce``), checked whenever pending candidates are merged into the table (every few million
  candidates) instead of after each token.  gensim's ``prune_vocab`` drops only counts *below*
  ``min_reduce``, starting at 1, so its first prune drops nothing.
- Tokens are identified by their strings, as in both peers: with ``passes=2`` a pass-1 phrase ``new_york``
  and a token ``new_york`` already in the text are one unit.

The phrase file (format 1)
--------------------------
UTF-8 text, tab-separated, no pickle::

    #w2v-phrases<TAB>1<TAB>{"settings": {...}, "stats": {...}}      magic, format version, JSON header
    phrase<TAB>score<TAB>pass<TAB>parts                             the column names
    new_york<TAB>676.4114146992285<TAB>1<TAB>new york               one phrase a line (score: repr)
    new_york_city<TAB>291.73791734529857<TAB>2<TAB>new_york city
    bank_of_america<TAB>105.23382291709189<TAB>2<TAB>bank of america

``parts`` are the units the phrase joins, separated by single spaces: the first and last are the two ends
(a word, or a phrase of an earlier pass), any between are connector words; ``phrase`` is ``parts`` joined by
``_``.  Rows are sorted by pass, then by decreasing score.  The settings (scoring, threshold, min_count,
passes, connectors, how the text was read) are those the phrases were learned with; applying the file reads
new text with the same reading settings.  A reader refuses a newer format version.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import math
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .config import Config
from .errors import ConfigError, CorpusError, ModelFileError
from . import phrase_counting
from .phrase_counting import (PhraseEntry, _Block, _Cache, _conn, _decode_code, _join, _Model, _pair_table,
                              _PassCounts, _text_blocks, _WordTable)
from .phrase_kernels import DELIMITER, SCORINGS, score_pairs

logger = logging.getLogger("w2v")

MAGIC = "#w2v-phrases"
FORMAT_VERSION = 1
COLUMNS = ("phrase", "score", "pass", "parts")
DEFAULT_THRESHOLDS = {"default": 100.0, "npmi": 0.5}  # the C tool's default; npmi is in [-1, 1]
MAX_PASSES = 10  # 2**10-word phrases: far beyond any use, and each pass reads the corpus cache once more
# gensim's ENGLISH_CONNECTOR_WORDS: articles, some prepositions and conjunctions ("incomplete on purpose")
ENGLISH_CONNECTORS = tuple(sorted("a an the for of with without at from to in on by and or".split()))

_READING = ("lowercase", "normalize", "max_sentence_length", "allow_truncated", "allow_binary")  # Corpus's


def _from_config(name: str, help: str | None = None) -> Any:
    """A setting of how the text is read, as ``train`` reads it: the default (and help) of :class:`Config`."""
    f = Config.__dataclass_fields__[name]
    return field(default=f.default, metadata={"help": help or f.metadata.get("help", "")})


@dataclass(frozen=True)
class PhraseSettings:
    """What decides which phrases are learned, and how the text is read.  Frozen; validated on creation."""

    min_count: int = field(default=5, metadata={"help": "the two ends and the pair must each occur at least "
                                                        "this many times"})  # the C tool's and gensim's 5
    threshold: float | None = field(default=None, metadata={
        "help": "a pair is joined when its score is above this (default: 100 for the default score, the C "
                "tool's, whose demo uses 200 then 100; 0.5 for npmi)"})
    scoring: str = field(default="default", metadata={
        "help": "default: (count(ab) - min_count) / (count(a) count(b)) * N, the C tool's score; npmi: "
                "normalized pointwise mutual information, in [-1, 1], as gensim has it", "choices": SCORINGS})
    passes: int = field(default=1, metadata={"help": "passes over the text; pass k joins pairs of the units of "
                                                     "pass k-1, so phrases hold up to 2**passes words (more "
                                                     "with connectors, which may stand between two units)"})
    connectors: tuple[str, ...] = field(default=(), metadata={
        "help": "connector words (gensim's connector_words): never the start or end of a phrase, but any run "
                "of them may be inside one (bank_of_america)"})
    max_vocab: int | None = field(default=40_000_000, metadata={  # gensim's bound; ~20 bytes a pair here
        "help": "bound on the words and candidate pairs held while counting; when exceeded the rarest are "
                "pruned as the C tool does (counts become lower bounds; a warning says how many)"})
    lowercase: bool = _from_config("lowercase")
    normalize: bool = _from_config("normalize")
    max_sentence_length: int = _from_config("max_sentence_length", "longer lines are cut into sentences of at "
                                                                   "most this many words, as 'train' cuts them "
                                                                   "(no phrase crosses a cut)")
    allow_truncated: bool = _from_config("allow_truncated", "read what can be read of a compressed file (.gz, "
                                                            ".bz2, .xz) that is truncated or corrupt (a warning "
                                                            "says how much); by default it is an error")
    allow_binary: bool = _from_config("allow_binary")

    def __post_init__(self) -> None:
        _validate(self)
        # None stands for the scoring's own default: resolved here, so that the settings say what is used
        threshold = DEFAULT_THRESHOLDS[self.scoring] if self.threshold is None else float(self.threshold)
        object.__setattr__(self, "threshold", threshold)
        object.__setattr__(self, "connectors", tuple(sorted(set(self.connectors))))  # their ids: 0..n-1

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["connectors"] = list(self.connectors)
        return d


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _validate(s: PhraseSettings) -> None:
    """The constraints, with messages that name the setting, its range and the value given."""
    for name, low, high, none_ok in (("min_count", 1, None, False), ("passes", 1, MAX_PASSES, False),
                                     ("max_vocab", 1, None, True), ("max_sentence_length", 1, None, False)):
        v = getattr(s, name)
        if v is None and none_ok:
            continue
        if not _is_int(v) or v < low or (high is not None and v > high):
            raise ConfigError(f"'{name}' must be an int in [{low}, {'inf)' if high is None else f'{high}]'}"
                              f"{' or None' if none_ok else ''}; got {v!r}")
    if s.scoring not in SCORINGS:
        raise ConfigError(f"'scoring' must be one of {', '.join(SCORINGS)}; got {s.scoring!r}")
    t = s.threshold
    if t is not None:
        if isinstance(t, bool) or not isinstance(t, (int, float, np.integer, np.floating)) or not math.isfinite(t):
            raise ConfigError(f"'threshold' must be a finite number; got {t!r}")
        if s.scoring == "default" and not t > 0:
            raise ConfigError(f"'threshold' must be a number in (0, inf) for the default score; got {t!r}")
        if s.scoring == "npmi" and not -1 <= t <= 1:
            raise ConfigError(f"'threshold' must be a number in [-1, 1] for the npmi score; got {t!r}")
    for name in ("lowercase", "normalize", "allow_truncated", "allow_binary"):
        if not isinstance(getattr(s, name), (bool, np.bool_)):
            raise ConfigError(f"'{name}' must be True or False; got {getattr(s, name)!r}")
    if not isinstance(s.connectors, tuple) or not all(isinstance(w, str) for w in s.connectors):
        raise ConfigError("'connectors' must be a tuple of words")
    bad = [w for w in s.connectors if not w or any(c.isspace() for c in w)]
    if bad:
        raise ConfigError(f"'connectors': a connector word must be a non-empty token without whitespace; got "
                          f"{bad[0]!r}")
    if s.max_vocab is not None and s.max_vocab <= len(s.connectors):
        raise ConfigError(f"'max_vocab' must exceed the number of connector words ({len(s.connectors)}), "
                          f"which are never pruned; got {s.max_vocab}")


def read_connectors(source: Any) -> tuple[str, ...]:
    """Connector words from ``"english"`` (:data:`ENGLISH_CONNECTORS`), a file (whitespace-separated words;
    lines starting with ``#`` are comments) or an iterable of words; sorted, without duplicates."""
    if source is None:
        return ()
    if isinstance(source, str) and source == "english":
        return ENGLISH_CONNECTORS
    if isinstance(source, (str, bytes, os.PathLike)):
        path = os.fsdecode(source)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            raise CorpusError(f"connector file not found: {path!r} (give a file of words, or 'english')") \
                from None
        except (OSError, UnicodeDecodeError) as e:
            raise CorpusError(f"connector file {path!r} cannot be read: {e}") from None
        words = [w for line in text.splitlines() if not line.lstrip().startswith("#") for w in line.split()]
        if not words:
            raise CorpusError(f"connector file {path!r} holds no word")
        return tuple(sorted(set(words)))
    words = list(source)
    if not all(isinstance(w, str) for w in words):
        raise ConfigError("'connectors' must be 'english', a file path, or an iterable of str")
    return tuple(sorted(set(words)))





# -- the Phrases class ---------------------------------------------------------------------------------------
class NotLearnedError(ConfigError):
    """A :class:`Phrases` asked to join text before it has learned or loaded phrases."""


class _Phrased:
    """A corpus with its phrases joined, lazily, each time it is iterated (``Phrases.__getitem__``)."""

    def __init__(self, phrases: "Phrases", corpus: Iterable[Sequence[str]]):
        self.phrases, self.corpus = phrases, corpus

    def __iter__(self) -> Iterator[list[str]]:
        return self.phrases.apply(self.corpus)

    def __repr__(self) -> str:
        return f"<phrased corpus of {self.corpus!r:.60}>"


class Phrases:
    """Learn collocations from a corpus and join them into single tokens (``new york`` -> ``new_york``).

    ``Phrases(**settings)`` (or ``Phrases(PhraseSettings(...))``) only validates and stores the settings (see
    :class:`PhraseSettings`; ``connectors`` may also be ``"english"``, a file of words or any iterable of
    words)::

        ph = Phrases(min_count=5, threshold=100, passes=2).learn("corpus.txt.gz", output="phrased.txt")
        ph[["the", "new", "york", "times"]]      # ['the', 'new_york_times'], if learned
        ph.save("phrases.tsv")
        Phrases.load("phrases.tsv").write("other.txt", "other-phrased.txt")

    Attributes
    ----------
    settings : PhraseSettings
    entries : list[PhraseEntry]
        The phrases, by pass, then by decreasing score.
    stats : dict
        ``passes``: per pass the tokens, units seen, candidate pairs, phrases, pruned words and pairs, the
        last ``min_reduce`` and seconds; ``learn_seconds``; and of the last output written, ``written_tokens``,
        ``joins`` and ``write_seconds``.
    """

    def __init__(self, settings: PhraseSettings | None = None, **kwargs: Any) -> None:
        if settings is not None and kwargs:
            raise ConfigError("give either a PhraseSettings or keyword settings, not both")
        if settings is None:
            known = [f.name for f in dataclasses.fields(PhraseSettings)]
            unknown = sorted(set(kwargs) - set(known))
            if unknown:
                raise ConfigError(f"unknown setting(s): {', '.join(unknown)} (the settings: {', '.join(known)})")
            if "connectors" in kwargs:
                kwargs["connectors"] = read_connectors(kwargs["connectors"])
            settings = PhraseSettings(**kwargs)
        elif not isinstance(settings, PhraseSettings):
            hint = ""
            if isinstance(settings, (str, os.PathLike, list, tuple)) or hasattr(settings, "__iter__"):
                hint = " (the text is read by learn: write Phrases(min_count=5, ...).learn(sentences))"
            raise ConfigError(f"Phrases()'s first argument is a PhraseSettings; got {type(settings).__name__}{hint}")
        self.settings = settings
        self.entries: list[PhraseEntry] = []
        self.stats: dict[str, Any] = {}
        self._learned = False
        self._model: _Model | None = None  # built from the entries when first needed

    def __repr__(self) -> str:
        s = self.settings
        state = f"{len(self.entries)} phrases" if self._learned else "nothing learned"
        return (f"Phrases({state}; scoring={s.scoring!r}, threshold={s.threshold}, "
                f"min_count={s.min_count}, passes={s.passes}, {len(s.connectors)} connectors)")

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def phrases(self) -> dict[str, float]:
        """``{phrase: score}`` of every phrase (the best score when a phrase forms in two ways)."""
        out: dict[str, float] = {}
        for e in self.entries:
            if e.score > out.get(e.phrase, -math.inf):
                out[e.phrase] = e.score
        return out

    def _corpus(self, corpus: Any, output: str | os.PathLike | None = None) -> Any:
        from . import outputs
        from .corpus import Corpus

        if isinstance(corpus, Corpus):
            source = corpus
        else:
            s = self.settings
            source = Corpus(corpus, lowercase=s.lowercase, normalize=s.normalize,
                            max_sentence_length=s.max_sentence_length, allow_truncated=s.allow_truncated,
                            allow_binary=s.allow_binary,
                            exclude=None if output is None else {os.fspath(output): "the output"})
        if output is not None and source.files:
            outputs.check_outputs([("the output", output)], [("the corpus file", f) for f in source.files])
        return source

    # -- learning ------------------------------------------------------------------------------------------
    def learn(self, corpus: Any, output: str | os.PathLike | None = None, *,
              cache_dir: str | os.PathLike | None = None) -> "Phrases":
        """Learn the phrases of ``corpus`` (files, directories, or a re-iterable of token lists, read as
        ``train`` reads them with this object's reading settings), replacing any learned before.

        With ``output``, also write the corpus with its phrases joined (see :meth:`write`) without reading
        it again: the first pass keeps the text (as its sentences, with the token ids) in an anonymous
        temporary file in ``cache_dir`` (default: the system's), as it does for ``passes > 1``.  A
        :class:`w2v.corpus.Corpus` given is read as it is, and its reading settings replace this object's.

        Raises
        ------
        CorpusError
            The corpus holds no token; a token given from Python holds whitespace.
        OutputConflictError
            ``output`` is one of the corpus files.
        """
        source = self._corpus(corpus, output)
        if source is corpus:  # a Corpus given: the reading settings recorded must be its own
            self.settings = dataclasses.replace(self.settings, **{name: getattr(source, name) for name in _READING})
        s = self.settings
        t_start = time.perf_counter()
        conn = _conn(len(s.connectors))
        words = _WordTable(s.connectors, capacity=1 << 16)
        tables: list[tuple] = []       # each pass's phrase table, over its units
        names: list[str] = []          # the phrase units that are not words: unit len(words) + i
        entries: list[PhraseEntry] = []
        self.stats = {"passes": []}
        with contextlib.ExitStack() as stack:
            cache = None
            if output is not None or s.passes > 1:
                cache = _Cache(cache_dir)
                stack.callback(cache.close)
            for p in range(1, s.passes + 1):
                t_pass = time.perf_counter()
                if p == 1:  # the text, its words added as they come
                    reader = stack.enter_context(contextlib.closing(_text_blocks(source, source.files is None)))
                    blocks: Iterable = ((block, *words.scan(block, insert=True)) for block in reader)
                else:  # the cached text, and the units of the passes before
                    blocks = ((block, *(words.scan(block, False) if ids is None else (ids, ends)))
                              for block, ids, ends in cache)
                counts = self._count_pass(p, blocks, words, len(words) + len(names), tables, cache)
                if counts.tokens == 0:
                    raise CorpusError(f"corpus is empty: no token was read from {source.describe()}")
                new, table = self._choose(p, counts, words, names)
                tables.append(table)
                entries.extend(new)
                self._record(p, counts, len(new), time.perf_counter() - t_pass)
            self.entries = entries
            self._learned, self._model = True, None
            self.stats["learn_seconds"] = round(time.perf_counter() - t_start, 3)
            if output is not None:
                def joined() -> Iterator[tuple[np.ndarray, int, int]]:
                    for block, ids, ends in cache:
                        ids = words.scan(block, insert=False)[0] if ids is None else ids
                        yield block.buf, block.n_tokens, _join(ids, ends, tables, conn, block.buf)[2]
                self._write(joined(), output)
        return self

    def _count_pass(self, p: int, blocks: Iterable[tuple[_Block, np.ndarray, np.ndarray]], words: _WordTable,
                    n_units: int, tables: list[tuple], cache: _Cache | None) -> _PassCounts:
        """Count the units and candidates of pass ``p`` over ``blocks`` (with their word ids and sentence
        ends), the phrase tables of the passes before applied; the first pass also fills the cache."""
        bound = self.settings.max_vocab
        conn = _conn(len(self.settings.connectors))
        counts = _PassCounts(n_units, conn)

        def prune() -> None:
            # a pruned word table gives new ids: those of the blocks cached so far are stale
            if counts.prune(bound, words if p == 1 else None) and cache is not None:
                cache.stale = len(cache.index)

        for block, ids, ends in blocks:
            if p == 1 and cache is not None:
                cache.append(block, ids, ends)
            units, unit_ends, _ = _join(ids, ends, tables, conn)
            if counts.add(units, unit_ends, max(n_units, len(words))) and bound is not None:
                prune()
        counts.flush()
        if bound is not None:
            prune()
        return counts

    def _choose(self, p: int, counts: _PassCounts, words: _WordTable, names: list[str]) \
            -> tuple[list[PhraseEntry], tuple]:
        """The phrases of pass ``p`` and its phrase table; new phrase units are appended to ``names``."""
        s = self.settings
        n_words, n_units = len(words), len(words) + len(names)
        # only pairs seen min_count times can score: a small share of them, and it spares big temporaries
        chosen = np.flatnonzero(counts.counts >= s.min_count)
        keys = counts.keys[chosen]
        score = score_pairs(counts.units[keys >> 32], counts.units[keys & 0xFFFFFFFF], counts.counts[chosen],
                            counts.tokens, s.min_count, s.scoring)
        above = np.flatnonzero(score > s.threshold)
        above = above[np.argsort(-score[above], kind="stable")]  # ties in key order
        chosen, keys, score = chosen[above], keys[above], score[above]
        codes = counts._table[1][chosen] if s.connectors else np.zeros(len(chosen), np.int64)

        spelled: dict[int, str] = {}

        def name(u: int) -> str:
            if u not in spelled:
                spelled[u] = words.word(u) if u < n_words else names[u - n_words]
            return spelled[u]

        new = []
        bits = _conn(len(s.connectors))[1]
        for key, code, value in zip(keys.tolist(), codes.tolist(), score.tolist()):
            middle = [s.connectors[c] for c in _decode_code(code, bits)] if code else []
            parts = (name(key >> 32), *middle, name(key & 0xFFFFFFFF))
            new.append(PhraseEntry(DELIMITER.join(parts), value, p, parts))
        # the unit of a phrase is the one its string names: a word of the text, an earlier phrase, or new
        ids = words.encode_strings([e.phrase for e in new]) if new else np.empty(0, np.int32)
        known = {w: n_words + i for i, w in enumerate(names)}
        for j, e in enumerate(new):
            if ids[j] < 0:
                if e.phrase not in known:
                    known[e.phrase] = n_words + len(names)
                    names.append(e.phrase)
                ids[j] = known[e.phrase]
        return new, _pair_table(keys, codes, ids, n_units)

    def _record(self, p: int, counts: _PassCounts, n_phrases: int, seconds: float) -> None:
        s = self.settings
        self.stats["passes"].append({
            "pass": p, "tokens": counts.tokens, "units": int(np.count_nonzero(counts.units)), "pairs": counts.size,
            "phrases": n_phrases, "pruned_words": counts.pruned_units, "pruned_pairs": counts.pruned_pairs,
            "min_reduce": counts.min_reduce, "seconds": round(seconds, 3)})
        if counts.pruned_units or counts.pruned_pairs:
            logger.warning("max_vocab=%d: pass %d pruned %d words and %d candidate pairs while counting (last "
                           "threshold: count <= %d); the counts of what remained are lower bounds", s.max_vocab, p,
                           counts.pruned_units, counts.pruned_pairs, counts.min_reduce)
        logger.info("phrases, pass %d: %d tokens, %d candidate pairs, %d phrases (score > %g), %.1f s", p,
                    counts.tokens, counts.size, n_phrases, s.threshold, seconds)

    # -- applying ------------------------------------------------------------------------------------------
    def _require_model(self) -> _Model:
        if not self._learned:
            raise NotLearnedError("this Phrases has learned nothing yet: call learn(corpus) first, or use "
                                  "Phrases.load(path)")
        if self._model is None:
            self._model = _Model(self.entries, self.settings.connectors, self.settings.passes)
        return self._model

    def _write(self, blocks: Iterable[tuple[np.ndarray, int, int]], output: str | os.PathLike) -> None:
        """Write joined blocks ``(buffer, tokens, joins)`` to ``output`` atomically (compressed for ``.gz``,
        ``.bz2``, ``.xz``)."""
        from .formats import compressed_write

        t0 = time.perf_counter()
        output = os.fspath(output)
        tokens = joins = 0
        with compressed_write(output) as f:
            for buf, n_tokens, n_joins in blocks:
                f.write(memoryview(buf))
                tokens += n_tokens
                joins += n_joins
        self.stats.update(written_tokens=tokens, joins=joins, write_seconds=round(time.perf_counter() - t0, 3))
        logger.info("wrote %s: %d tokens, %d pairs joined (%d tokens left), %.1f s", output, tokens, joins,
                    tokens - joins, self.stats["write_seconds"])

    def write(self, corpus: Any, output: str | os.PathLike) -> dict[str, Any]:
        """Write ``corpus`` (read as ``train`` reads it, with the reading settings the phrases were learned
        with) to ``output`` with its phrases joined: one sentence a line, tokens separated by single spaces
        (so a line longer than ``max_sentence_length`` becomes several).  Atomic; compressed when the name
        ends in ``.gz``, ``.bz2`` or ``.xz``.  Returns ``{"written_tokens", "joins", "write_seconds"}``."""
        model = self._require_model()
        source = self._corpus(corpus, output)
        blocks = _text_blocks(source, source.files is None)
        self._write(((b.buf, b.n_tokens, model.join(b)[1]) for b in blocks), output)
        return {k: self.stats[k] for k in ("written_tokens", "joins", "write_seconds")}

    def apply(self, sentences: Iterable[Sequence[str]]) -> Iterator[list[str]]:
        """Each sentence (a list of str) with its phrases joined, lazily and in order.  The tokens are taken
        as they are (not lowercased or normalised: :meth:`write` reads files as the phrases were learned)."""
        model = self._require_model()
        batch: list[Sequence[str]] = []
        n = 0
        for sentence in sentences:
            if isinstance(sentence, str):
                raise CorpusError("sentences must be lists of tokens, not strings (split them, e.g. line.split())")
            batch.append(sentence)
            n += len(sentence)
            if n >= phrase_counting.BLOCK_TOKENS:  # read there, so that tests can make it small
                yield from _apply_batch(model, batch)
                batch, n = [], 0
        if batch:
            yield from _apply_batch(model, batch)

    def __getitem__(self, sentence: Sequence[str] | Iterable[Sequence[str]]) -> Any:
        """One sentence (a list of str tokens) with its phrases joined; or, given a corpus (a re-iterable of
        such lists, as gensim's ``bigram[sentences]``), the corpus phrased lazily, re-iterable in turn (so
        that ``Word2Vec(...).train(ph[sentences])`` reads it twice as training does)."""
        if isinstance(sentence, str):
            raise CorpusError("a sentence is a list of tokens, not a string (split it, e.g. line.split())")
        if isinstance(sentence, (list, tuple)) and (not sentence or isinstance(sentence[0], str)):
            return next(self.apply([sentence]))
        self._require_model()  # not learned: said now, not when the corpus is first read
        if iter(sentence) is sentence:
            raise CorpusError("ph[corpus] phrases a re-iterable corpus (a list of token lists); this one is a "
                              "one-shot iterator: use ph.apply(it) to phrase it once")
        return _Phrased(self, sentence)

    # -- the phrase file -----------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the phrase table (the format is in the module docstring), atomically."""
        from ._version import __version__
        from .formats import compressed_write

        self._require_model()
        header = {"settings": self.settings.to_dict(), "stats": self.stats, "w2v_version": __version__}
        with compressed_write(path) as raw:
            f = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
            f.write(f"{MAGIC}\t{FORMAT_VERSION}\t{json.dumps(header, sort_keys=True)}\n")
            f.write("\t".join(COLUMNS) + "\n")
            f.writelines(f"{e.phrase}\t{e.score!r}\t{e.pass_number}\t{' '.join(e.parts)}\n" for e in self.entries)
            f.flush()
            f.detach()  # the compressed or atomic writer closes the file, after its own end

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Phrases":
        """Read a phrase file written by :meth:`save`.

        Raises
        ------
        ModelFileNotFoundError
            No such file, a directory, or an unreadable file.
        ModelFileError
            Not a phrase file, a newer format version, or a malformed line (the message gives its number).
        """
        from .errors import ModelFileNotFoundError
        from .formats import read_decompressed

        path = os.fspath(path)
        try:
            raw = read_decompressed(path, ModelFileError, "phrase file")  # (x.tsv.gz: saved compressed)
        except OSError as e:
            what = "is a directory" if isinstance(e, IsADirectoryError) else f"cannot be read ({e.strerror or e})"
            err = ModelFileNotFoundError(f"phrase file not found: {path!r}" if isinstance(e, FileNotFoundError)
                                         else f"phrase file {path!r} {what}")
            err.filename = path
            raise err from None
        settings, stats, entries = _parse_table(raw, path)
        ph = cls(settings)
        ph.entries, ph.stats = entries, stats
        ph._learned = True
        return ph


def _apply_batch(model: _Model, batch: list[Sequence[str]]) -> Iterator[list[str]]:
    block = next(_text_blocks(batch, check=True), None)
    lines = [] if block is None else model.join(block)[0].tobytes().decode("utf-8").split("\n")
    lines.reverse()
    for sentence in batch:
        yield lines.pop().split(" ") if sentence else []


def _parse_table(raw: bytes, path: str) -> tuple[PhraseSettings, dict[str, Any], list[PhraseEntry]]:
    """Settings, stats and entries of a phrase file's bytes; any defect is a :class:`ModelFileError`."""
    def bad(message: str, line: int | None = None) -> ModelFileError:
        return ModelFileError(f"{path}{f' line {line}' if line else ''}: {message}")

    raw = raw.removeprefix(b"\xef\xbb\xbf").replace(b"\r\n", b"\n")  # saved by an editor: a BOM, CRLF
    if not raw.startswith(MAGIC.encode() + b"\t"):
        raise bad(f"not a w2v phrase file (it does not start with {MAGIC!r} and a tab; see 'w2v phrases "
                  "--save-phrases')")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise bad(f"not UTF-8 text (byte {e.start})") from None
    lines = text.rstrip("\n").split("\n")  # blank lines at the end are no entries
    first = lines[0].split("\t", 2)
    if len(first) < 3 or not first[1].isdigit():
        raise bad("the first line must hold the magic, the format version and the JSON header, tab-separated", 1)
    if int(first[1]) > FORMAT_VERSION:
        raise bad(f"written in phrase-file format {first[1]} by a newer w2v; this version reads format "
                  f"{FORMAT_VERSION}: upgrade w2v")
    try:
        header = json.loads(first[2])
        given = dict(header["settings"])
        given["connectors"] = tuple(given.get("connectors", ()))
        settings = PhraseSettings(**given)
        stats = dict(header.get("stats", {}))
    except KeyError as e:
        raise bad(f"the JSON header has no {e.args[0]!r}", 1) from None
    except (ValueError, TypeError) as e:
        raise bad(f"the JSON header's settings are not valid ({type(e).__name__}: {e})", 1) from None
    if len(lines) < 2 or lines[1] != "\t".join(COLUMNS):
        raise bad(f"the second line must name the columns {', '.join(COLUMNS)} (tab-separated)", 2)
    connectors = set(settings.connectors)
    max_run = _conn(len(connectors))[2]
    seen: set[tuple[int, tuple[str, ...]]] = set()
    entries = []
    for n, line in enumerate(lines[2:], start=3):
        if not line:
            raise bad("an empty line", n)
        fields = line.split("\t")
        if len(fields) != 4:
            raise bad(f"expected 4 tab-separated fields (phrase, score, pass, parts), found {len(fields)}", n)
        phrase, score_text, pass_text, parts_text = fields
        try:
            score, pass_number = float(score_text), int(pass_text)
        except ValueError:
            raise bad(f"the score {score_text!r} or the pass {pass_text!r} is not a number", n) from None
        if not math.isfinite(score):
            raise bad(f"the score {score_text!r} is not finite", n)
        if not 1 <= pass_number <= settings.passes:
            raise bad(f"the pass {pass_number} is not in [1, {settings.passes}] (the passes of the header)", n)
        parts = tuple(parts_text.split(" "))
        if len(parts) < 2 or any(not w or any(c.isspace() for c in w) for w in parts):
            raise bad(f"the parts {parts_text!r} are not two or more tokens separated by single spaces", n)
        if DELIMITER.join(parts) != phrase:
            raise bad(f"the phrase {phrase!r} is not its parts {parts_text!r} joined by {DELIMITER!r}", n)
        if parts[0] in connectors or parts[-1] in connectors or not all(w in connectors for w in parts[1:-1]):
            raise bad(f"the parts {parts_text!r} must start and end with a non-connector and hold only connector "
                      "words between", n)
        if len(parts) - 2 > max_run:
            raise bad(f"more than {max_run} connector words in a row: {parts_text!r}", n)
        if (pass_number, parts) in seen:
            raise bad(f"the phrase {parts_text!r} of pass {pass_number} is there twice", n)
        seen.add((pass_number, parts))
        entries.append(PhraseEntry(phrase, score, pass_number, parts))
    return settings, stats, entries

