"""The command line: ``w2v train / similar / analogy / evaluate / export / import / plot / plot-loss / serve /
demo``.

Every ``train`` option is derived from :class:`w2v.config.Config` (name, type, help, default, choices), and
only the options the user gives are passed on, so each default lives in one place.  Errors a user can fix
(any :class:`w2v.errors.W2VError`, a missing or unreadable path, a bad flag) end the command with exit
code 2 and one line on stderr, ``w2v: error: <message>``; Ctrl-C ends it with exit code 130.

Only ``train`` and ``demo`` import the trainer (and so Numba): ``--help`` and the query commands start fast.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import re
import sys
import time
import typing
from importlib import resources
from typing import Any, Sequence

from ._version import __version__
from .config import Config
from .errors import ConfigError, OutputError, UnknownWordError, W2VError

PROG = "w2v"
DEMO_CORPUS = "kjv.txt.gz"
# The demo: skip-gram on the King James Bible (see w2v/data/PROVENANCE.md); words whose neighbours read well
DEMO_SETTINGS = dict(model="sg", dim=100, window=5, min_count=5, epochs=5, threads=0, normalize=True,
                     lowercase=True)
DEMO_WORDS = ("god", "jesus", "king", "egypt", "sword", "wine")
DEMO_ANALOGY = ("man", "woman", "king")  # man is to woman as king is to ? (queen)
EXPORT_FORMATS = ("word2vec-binary", "word2vec-text", "projector")

# Bool settings whose default is True are exposed as a flag that turns them off.
_NEGATED_FLAGS = {"cbow_mean": ("--cbow-sum", "cbow: sum the context vectors instead of averaging them")}


class UsageError(Exception):
    """A command-line mistake found by argparse (or by a check of ours before any work starts)."""


# the options of the C tool and gensim, as users type them out of habit: what w2v calls them
_FOREIGN_OPTIONS = {"size": "--dim", "vector-size": "--dim", "vector_size": "--dim", "iter": "--epochs",
                    "hs": "--loss hs", "cbow": "--model cbow", "sg": "--model sg", "workers": "--threads",
                    "min_count": "--min-count", "train": "the corpus as an argument",
                    "save-vocab": "(the vocabulary is in the model file)", "binary": "--vectors OUT"}


_ARGV: list[str] = []  # the arguments being parsed


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake raises :class:`UsageError` (one line, no usage block) instead of exiting, and
    an option is never taken from an abbreviation (``--cbow`` is not ``--cbow-sum``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> typing.NoReturn:  # noqa: D102
        if self.prog.endswith(" evaluate") and "required: MODEL" in message and "--similarity" in _ARGV:
            message += " (--similarity takes every file after it: write MODEL first)"
        raise UsageError(f"{message} (see '{self.prog} --help')")

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> argparse.Namespace:
        """As argparse's, but unknown arguments are named with the subcommand's help, and an option of the C
        tool or gensim with its w2v name."""
        _ARGV[:] = sys.argv[1:] if args is None else [str(a) for a in args]  # (for error's hints)
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            command = getattr(parsed, "command", None)
            where = f"{self.prog} {command}" if command else self.prog
            known = self._options_of(command)
            hints = []
            for extra in extras:
                name = extra.lstrip("-").split("=")[0]
                if not extra.startswith("-"):
                    continue
                if name in _FOREIGN_OPTIONS:
                    hints.append(f"{extra}: w2v's is {_FOREIGN_OPTIONS[name]}")
                elif not extra.startswith("--") and "--" + name in known:  # the C tool's -window, -sample
                    hints.append(f"{extra}: w2v's is --{name}")
            hint = f"; {'; '.join(hints)}" if hints else ""
            raise UsageError(f"unrecognized arguments: {' '.join(extras)}{hint} (see '{where} --help')")
        return parsed

    def _options_of(self, command: str | None) -> set[str]:
        """The option strings of ``command``'s parser (this parser's own when None)."""
        parser: argparse.ArgumentParser = self
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and command in action.choices:
                parser = action.choices[command]
        return set(parser._option_string_actions)


def demo_corpus_path() -> Any:
    """The bundled demo corpus (the King James Bible, one verse a line), as an importlib resource.

    Use it with ``importlib.resources.as_file`` to get a real path whatever the installation.
    """
    return resources.files("w2v").joinpath("data", DEMO_CORPUS)


# -- the parser ---------------------------------------------------------------------------------------
def _int_at_least(low: int):
    """An argparse type: an int >= ``low``, with a message naming the bound."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}; got {value}")
        return value
    return parse


_positive_int = _int_at_least(1)
_count = _int_at_least(0)


def _port(text: str) -> int:
    """An argparse type: a TCP port in [0, 65535] (0: any free port)."""
    value = _count(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be at most 65535; got {value}")
    return value


def _add_nonfinite_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--allow-nonfinite", action="store_true", help="load vectors holding NaN or infinite "
                        "values (by default they are an error)")


def _field_type(tp: Any) -> type:
    """The scalar type of a Config annotation (``int | None`` -> ``int``)."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return args[0] if args else tp


def flag_name(name: str) -> str:
    """The command-line flag of a Config field: ``min_count`` -> ``--min-count``."""
    return "--" + name.replace("_", "-")


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    """One option per Config field; absent options stay absent from the namespace (``SUPPRESS``)."""
    hints = typing.get_type_hints(Config)
    group = parser.add_argument_group("training settings (defaults from w2v.Config)")
    for f in dataclasses.fields(Config):
        help_text = f.metadata.get("help", "").replace("%", "%%")
        tp = _field_type(hints[f.name])
        if tp is bool and f.default is None:  # on, off, or the model's default
            group.add_argument(flag_name(f.name), dest=f.name, action=argparse.BooleanOptionalAction,
                               default=argparse.SUPPRESS, help=help_text)
            continue
        if tp is bool:
            if f.default:
                flag, negated_help = _NEGATED_FLAGS.get(
                    f.name, ("--no-" + f.name.replace("_", "-"), f"turn off: {help_text}"))
                group.add_argument(flag, dest=f.name, action="store_false", default=argparse.SUPPRESS,
                                   help=negated_help)
            else:
                group.add_argument(flag_name(f.name), dest=f.name, action="store_true",
                                   default=argparse.SUPPRESS, help=help_text)
            continue
        if "default" not in help_text.lower():
            help_text += " (default: none)" if f.default is None else f" (default: {f.default})"
        choices = f.metadata.get("choices")
        metavar = None if choices else ("N" if tp is int else "X")
        group.add_argument(flag_name(f.name), dest=f.name, type=tp, choices=choices, metavar=metavar,
                           default=argparse.SUPPRESS, help=help_text)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="word2vec: learn word vectors (skip-gram or CBOW with negative "
                                            "sampling) and query them.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("train", help="learn vectors from text files and save the model",
                       description="Learn word vectors from text files (plain, .gz, .bz2, .xz; a line is a "
                                   "sentence) and save the model in w2v's native format.")
    p.add_argument("corpus", nargs="+", metavar="CORPUS", help="text files or directories of text files")
    p.add_argument("-o", "--output", required=True, metavar="MODEL",
                   help="the model file to write (native format; written only once training succeeded)")
    p.add_argument("--vectors", metavar="OUT", help="also export the vectors in the word2vec C format: "
                   "binary, or text when OUT ends with .txt or .vec; compressed when it ends with .gz, .bz2 or .xz "
                   "(vectors.txt.gz: gzipped text)")
    p.add_argument("--cache-dir", metavar="DIR", help="where the encoded corpus is written while training "
                   "(default: the system's temp directory)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress, no log, no summary")
    p.add_argument("--checkpoint", metavar="PATH", help="where checkpoints are written (default: MODEL.ckpt); "
                   "one is always written on Ctrl-C, and removed once the model is saved")
    p.add_argument("--checkpoint-every", type=float, metavar="SECONDS",
                   help="also write a checkpoint every SECONDS of training")
    p.add_argument("--resume", metavar="CHECKPOINT", help="continue an interrupted training from its "
                   "checkpoint, on the same corpus; the checkpoint's settings are used")
    p.add_argument("--plot-loss", metavar="IMAGE", help="also draw the loss per epoch to IMAGE (.png, .svg, "
                   ".pdf; needs matplotlib: pip install 'w2v[plot]')")
    engine = p.add_argument_group("where to train (not part of the model: a resumed training may change them)")
    engine.add_argument("--device", default="cpu", metavar="DEVICE", help="cpu, cuda or cuda:N (a GPU needs "
                        "PyTorch: pip install 'w2v[torch]') (default: cpu)")
    engine.add_argument("--backend", choices=("numba", "torch"), help="numba (Numba kernels, CPU only) or torch "
                        "(PyTorch, CPU or GPU) (default: numba on cpu, torch on cuda)")
    dist = p.add_argument_group("distributed training (under torchrun: every rank trains its share of the corpus)")
    dist.add_argument("--dist-timeout", type=float, default=300.0, metavar="SECONDS",
                      help="a rank that stops answering for this long ends the training, naming it and the "
                           "checkpoint to resume from (default: 300)")
    dist.add_argument("--sync", choices=("auto", "full", "hot"), default="auto",
                      help="at each sync point add up the ranks' updates of the whole weights (full) or of the "
                           "rows of the most frequent words, the whole weights every 8th point and at the end of a "
                           "pass (hot); auto: hot for negative sampling, full for the other losses (default)")
    dist.add_argument("--sync-words", type=_positive_int, default=250_000, metavar="N",
                      help="tokens of a rank's share between two sync points (default: 250000)")
    _add_config_options(p)

    p = sub.add_parser("similar", help="nearest neighbours of words",
                       description="The nearest neighbours (cosine similarity) of each WORD, one list per word.")
    p.add_argument("model", metavar="MODEL", help="a model or vectors file (native, word2vec binary/text, "
                   "compressed)")
    _add_nonfinite_flag(p)
    p.add_argument("words", nargs="+", metavar="WORD")
    p.add_argument("-n", "--topn", type=_positive_int, default=10, metavar="N", help="neighbours to show "
                   "(default: 10)")

    p = sub.add_parser("analogy", help="A is to B as C is to ?",
                       description="Answer 'A is to B as C is to ?' (the three words are never answers).")
    p.add_argument("model", metavar="MODEL", help="a model or vectors file")
    _add_nonfinite_flag(p)
    p.add_argument("a", metavar="A")
    p.add_argument("b", metavar="B")
    p.add_argument("c", metavar="C")
    p.add_argument("-n", "--topn", type=_positive_int, default=10, metavar="N", help="answers to show "
                   "(default: 10)")
    p.add_argument("--method", choices=("3cosadd", "3cosmul"), default="3cosadd",
                   help="3cosadd (Mikolov 2013) or 3cosmul (Levy & Goldberg 2014) (default: 3cosadd)")

    p = sub.add_parser("evaluate", help="analogy accuracy and word-pair correlation",
                       description="Analogy accuracy and word-similarity correlation.  Without files, the "
                                   "bundled Google analogies and WordSim-353 are used.")
    p.add_argument("model", metavar="MODEL", help="a model or vectors file")
    _add_nonfinite_flag(p)
    p.add_argument("--analogies", metavar="FILE", help="analogy questions ('a b c d' lines, in ': section' "
                   "blocks or not; default: the bundled Google set)")
    p.add_argument("--similarity", nargs="+", action="extend", metavar="FILE",
                   help="word-pair files ('word1<TAB>word2<TAB>score', or as "
                        "SimLex-999 and MTurk-771 come; default: the bundled WordSim-353)")
    p.add_argument("--restrict-vocab", type=_positive_int, metavar="N",
                   help="analogies: search only the N most frequent words, and count questions with a word "
                        "outside them as out of vocabulary (default: 30000, the C tool's compute-accuracy as "
                        "its scripts run it; gensim's default is 300000)")
    p.add_argument("--lowercase", action=argparse.BooleanOptionalAction, default=None,
                   help="compare words case-insensitively, the most frequent casing standing for a word (as the "
                        "C tool and gensim do), or not (default: when the vocabulary has no uppercase letter)")
    p.add_argument("--method", choices=("3cosadd", "3cosmul"), default="3cosadd",
                   help="how analogies are answered: 3cosadd (Mikolov et al., the C tool's and gensim's) or "
                        "3cosmul (Levy and Goldberg) (default: 3cosadd)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")

    p = sub.add_parser("export", help="write the vectors in the word2vec C format (or for the Embedding "
                       "Projector)",
                       description="Write the vectors of a model or vectors file in the word2vec C format "
                                   "(readable by the C tool, gensim, fastText), or, with --format projector, "
                                   "as vectors.tsv and metadata.tsv in the directory OUT for TensorFlow's "
                                   "Embedding Projector.")
    p.add_argument("model", metavar="MODEL", help="a model or vectors file")
    p.add_argument("out", metavar="OUT", help="the file to write (atomically); for --format projector, the "
                   "directory to write the two files into (created if missing)")
    _add_nonfinite_flag(p)
    p.add_argument("--format", required=True, choices=EXPORT_FORMATS)
    p.add_argument("--limit", type=_positive_int, metavar="N", help="only the N most frequent words")
    p.add_argument("--vocab", metavar="FILE", help="word2vec formats: also write the words' counts to FILE, a line "
                   "'word count' each (gensim's fvocab, the C tool's -save-vocab; written together with OUT)")

    p = sub.add_parser("import", help="convert word2vec C vectors to a native w2v vectors file",
                       description="Read vectors in the word2vec C format (text or binary, plain or "
                                   "gzip/bz2/xz; the format is guessed unless forced) and write a native w2v "
                                   "vectors file, which loads fast and can be memory-mapped.")
    p.add_argument("input", metavar="IN", help="a word2vec C-format file (from the C tool, gensim, fastText)")
    p.add_argument("out", metavar="OUT", help="the native vectors file to write (atomically)")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--binary", dest="binary", action="store_const", const=True, default=None,
                      help="the input is the binary format (default: guessed from its bytes)")
    kind.add_argument("--text", dest="binary", action="store_const", const=False,
                      help="the input is the text format (default: guessed from its bytes)")
    p.add_argument("--limit", type=_positive_int, metavar="N", help="only the first N vectors (in a file "
                   "sorted by frequency, the N most frequent words)")
    p.add_argument("--no-header", action="store_true", help="the input is text without the first line "
                   "'vocab_size dims' (GloVe's format)")
    p.add_argument("--vocab", metavar="FILE", help="the words' counts, from a file of lines 'word count' "
                   "(gensim's fvocab, the C tool's -save-vocab)")
    _add_nonfinite_flag(p)

    p = sub.add_parser("plot", help="draw words and their nearest neighbours in 2-D",
                       description="Draw each WORD and its nearest neighbours in 2-D (one colour per word and "
                                   "its neighbours).  Without WORDS, eight frequent content words are picked.  "
                                   "Needs matplotlib: pip install 'w2v[plot]'.")
    p.add_argument("model", metavar="MODEL", help="a model or vectors file")
    p.add_argument("words", nargs="*", metavar="WORD")
    _add_nonfinite_flag(p)
    p.add_argument("-o", "--output", required=True, metavar="IMAGE", help="the picture to write (.png, .svg, "
                   ".pdf; atomically)")
    p.add_argument("-n", "--neighbours", type=_count, default=5, metavar="N", help="nearest neighbours drawn "
                   "with each word (default: 5)")
    p.add_argument("--method", choices=("pca", "tsne"), default="pca", help="pca: the first two principal "
                   "components of the unit vectors; tsne: t-SNE, needs scikit-learn (default: pca)")
    p.add_argument("--title", help="the picture's title (default: says what is drawn)")

    p = sub.add_parser("plot-loss", help="draw the training loss per epoch of a model",
                       description="Draw the loss per epoch (and the learning rate) stored in a model file "
                                   "written by 'w2v train'.  Needs matplotlib: pip install 'w2v[plot]'.")
    p.add_argument("model", metavar="MODEL", help="a native model file written by 'w2v train'")
    p.add_argument("-o", "--output", required=True, metavar="IMAGE", help="the picture to write (.png, .svg, "
                   ".pdf; atomically)")
    p.add_argument("--title", help="the picture's title (default: the model's file name)")

    # -- serve (the explorer: w2v.serve) --
    p = sub.add_parser("serve", help="explore a model in a local web page",
                       description="Serve a web page to explore MODEL: nearest neighbours with completion, a "
                                   "2-D map, analogies, similarity; and the JSON API behind it (see the README).  "
                                   "Loopback only unless --host says otherwise.  Needs the serve extra: "
                                   "pip install 'w2v[serve]'.")
    p.add_argument("model", metavar="MODEL", help="a model or vectors file (a native file is memory-mapped)")
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1, this "
                   "machine only)")
    p.add_argument("--port", type=_port, default=8000, help="the port (default: 8000; 0 picks a free one)")
    _add_nonfinite_flag(p)
    # -- end serve --

    # -- phrases (w2v.phrases; the defaults live in PhraseSettings, shown by _PhrasesHelp) --
    p = sub.add_parser("phrases", help="join collocations in text (new york -> new_york), as word2phrase",
                       formatter_class=_PhrasesHelp,
                       description="Learn collocations from text files and write the text with them joined by "
                                   "'_' (one sentence a line), ready for 'w2v train'; or, with --apply, join the "
                                   "phrases of a saved phrase file in other text.  The text is read as 'train' "
                                   "reads it.  Score of a pair: (count(ab) - min_count) / (count(a) count(b)) * "
                                   "N, N the tokens (the C tool's), or npmi.")
    p.add_argument("inputs", nargs="+", metavar="IN", help="text files or directories of text files")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="the text to write with its phrases "
                   "joined (atomically; compressed when OUT ends in .gz, .bz2 or .xz)")
    p.add_argument("--apply", metavar="P", help="join the phrases of the phrase file P (written by "
                   "--save-phrases) instead of learning them; the text is read with P's settings")
    p.add_argument("--save-phrases", metavar="P", help="also write the phrase table to P (tab-separated text: "
                   "phrase, score, pass, parts; see the README)")
    p.add_argument("--cache-dir", metavar="DIR", help="where the text is kept between passes, in an anonymous "
                   "temporary file about its size (default: the system's temp directory)")
    p.add_argument("-q", "--quiet", action="store_true", help="no log and no summary")
    group = p.add_argument_group("phrase settings (defaults from w2v.phrases.PhraseSettings)")
    group.add_argument("--min-count", dest="min_count", type=_positive_int, metavar="N",
                       default=argparse.SUPPRESS, help=_FROM_SETTINGS)
    group.add_argument("--threshold", dest="threshold", type=float, metavar="X", default=argparse.SUPPRESS,
                       help=_FROM_SETTINGS)
    group.add_argument("--scoring", dest="scoring", choices=("default", "npmi"), default=argparse.SUPPRESS,
                       help=_FROM_SETTINGS)
    group.add_argument("--passes", dest="passes", type=_positive_int, metavar="N", default=argparse.SUPPRESS,
                       help=_FROM_SETTINGS)
    group.add_argument("--connectors", dest="connectors", metavar="FILE|english", default=argparse.SUPPRESS,
                       help="a file of connector words (whitespace-separated; # starts a comment line) or "
                            "'english' (gensim's list: a an the for of with without at from to in on by and "
                            "or): such words never start or end a phrase but may be inside one "
                            "(bank_of_america)")
    group.add_argument("--max-vocab", dest="max_vocab", type=_positive_int, metavar="N",
                       default=argparse.SUPPRESS, help=_FROM_SETTINGS)
    for name in ("lowercase", "normalize", "allow_truncated", "allow_binary"):
        group.add_argument(flag_name(name), dest=name, action="store_true", default=argparse.SUPPRESS,
                           help=_FROM_SETTINGS)
    group.add_argument("--max-sentence-length", dest="max_sentence_length", type=_positive_int, metavar="N",
                       default=argparse.SUPPRESS, help=_FROM_SETTINGS)
    # -- end phrases --

    p = sub.add_parser("demo", help="train on the bundled King James Bible and show neighbours",
                       description="Train skip-gram on the bundled King James Bible (790,000 words) with every "
                                   "core, then show nearest neighbours and an analogy.  About a minute or less.")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress and no log")
    return parser


# -- helpers ------------------------------------------------------------------------------------------
def _setup_logging(quiet: bool) -> tuple[logging.Logger, logging.Handler, tuple[int, bool]]:
    logger = logging.getLogger("w2v")
    handler = logging.StreamHandler(sys.stderr)
    from .distributed import rank

    handler.setFormatter(logging.Formatter(f"{_prog()}: %(message)s"))
    saved = (logger.level, logger.propagate)
    # under torchrun the other ranks say only what goes wrong: rank 0 speaks for all
    logger.setLevel(logging.WARNING if quiet or rank() else logging.INFO)
    logger.propagate = False
    logger.addHandler(handler)
    return logger, handler, saved


def _config_error_for_cli(err: ConfigError) -> ConfigError:
    """The same error with setting names written as the flags the user typed ('dim' -> --dim)."""
    names = {f.name for f in dataclasses.fields(Config)} | {"device", "backend"}

    def flag(m: re.Match) -> str:
        name = m.group(1)
        if name not in names:
            return m.group(0)
        return _NEGATED_FLAGS[name][0] if name in _NEGATED_FLAGS else flag_name(name)

    return ConfigError(re.sub(r"'(\w+)'", flag, str(err)))


def _refuse_stdout(path: str, what: str) -> None:
    if path == "-":
        raise UsageError(f"{what} '-': w2v writes files, not standard output (its saves are atomic renames); "
                         "give a file name")


def _check_output(path: str, what: str) -> None:
    """Fail before any work when ``path`` cannot be written (a directory, or in a missing one)."""
    from . import outputs

    _refuse_stdout(path, what)
    outputs.check_writable(path, what)


def _check_not_input(output: tuple[str, str], *inputs: tuple[str, str]) -> None:
    """Refuse an output that is one of the command's inputs (the same file, by device and inode)."""
    from . import outputs

    outputs.check_outputs([output], inputs)


def _vectors_text(kv: Any) -> str:
    return f"{len(kv):,} vector{'s' if len(kv) != 1 else ''} of {kv.vector_size} dimensions"


def _size(path: str) -> str:
    from .outputs import size_text

    return size_text(os.path.getsize(path))


def _loss_table(log: Sequence[dict[str, Any]]) -> list[str]:
    lines = [f"{'epoch':>5}  {'loss':>7}  {'words/s':>10}  {'seconds':>7}  {'learning rate':>17}"]
    for e in log:
        lines.append(f"{e['epoch']:>5}  {e['loss']:>7.4f}  {e['words_per_sec']:>10,.0f}  {e['seconds']:>7.1f}  "
                     f"{e['alpha_start']:>8.5f}->{e['alpha_end']:.5f}")
    return lines


def _summary(model: Any) -> list[str]:
    st = model.stats
    # in-vocabulary tokens; the vocabulary's total when stats lacks them (train.py read them after closing
    # the encoded corpus, which gave 0)
    tokens = st.get("tokens") or int(model.vocab.total)
    lines = [f"vocabulary: {st['vocab_size']:,} words; corpus: {st['raw_tokens']:,} words, "
             f"{tokens:,} of them in the vocabulary; {st['threads']} thread{'s' if st['threads'] != 1 else ''}"]
    lines += _loss_table(model.training_log)
    lines.append(f"training: {st['train_seconds']:.1f} s, {st['words_per_sec_train']:,.0f} words/s; "
                 f"end to end: {st['total_seconds']:.1f} s, {st['words_per_sec_total']:,.0f} words/s "
                 "(raw corpus words per wall second)" + (f"; {st['resumed_seconds']:.1f} s of the training were before "
                                                         "it was resumed" if st.get("resumed_seconds") else ""))
    return lines


def _neighbours(kv: Any, word: str, topn: int) -> list[str]:
    return [f"  {w:<20} {s:.4f}" for w, s in kv.most_similar(word, topn=topn)]


def _load_vectors(path: str, limit: int | None = None, allow_nonfinite: bool = False) -> Any:
    from .vectors import KeyedVectors
    return KeyedVectors.load(path, limit=limit, allow_nonfinite=allow_nonfinite)


# -- commands -----------------------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> int:
    from .train_command import run

    return run(args)


def _check_known(kv, words: Sequence[str]) -> None:
    """Every word checked before anything is printed; every unknown one named, with its suggestions."""
    unknown = []
    for word in dict.fromkeys(words):
        try:
            kv.get_index(word)
        except UnknownWordError as err:
            unknown.append(err)
    if len(unknown) == 1:
        raise unknown[0]
    if unknown:
        raise UsageError(f"{len(unknown)} words are not in the vocabulary: " + "; ".join(
            f"{e.word!r}" + (f" (did you mean {', '.join(map(repr, e.suggestions))}?)" if e.suggestions else "")
            for e in unknown))


def cmd_similar(args: argparse.Namespace) -> int:
    kv = _load_vectors(args.model, allow_nonfinite=args.allow_nonfinite)
    _check_known(kv, args.words)
    blocks = [f"{word}:\n" + "\n".join(_neighbours(kv, word, args.topn)) for word in args.words]
    print("\n\n".join(blocks))
    return 0


def cmd_analogy(args: argparse.Namespace) -> int:
    kv = _load_vectors(args.model, allow_nonfinite=args.allow_nonfinite)
    _check_known(kv, (args.a, args.b, args.c))
    answers = kv.analogy(args.a, args.b, args.c, topn=args.topn, method=args.method)
    print(f"{args.a} is to {args.b} as {args.c} is to ?  ({args.method})")
    print("\n".join(f"  {w:<20} {s:.4f}" for w, s in answers))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    kv = _load_vectors(args.model, allow_nonfinite=args.allow_nonfinite)
    from . import evaluate

    options = {} if args.restrict_vocab is None else {"restrict_vocab": args.restrict_vocab}
    # a malformed evaluation file raises DataFileError, naming the file and the line
    results = [evaluate.evaluate_analogies(kv, args.analogies, method=args.method, lowercase=args.lowercase,
                                           **options)]
    results += [evaluate.evaluate_word_pairs(kv, path, lowercase=args.lowercase)
                for path in (args.similarity or [None])]
    if args.json:
        print(json.dumps({"model": args.model, "analogies": results[0], "word_pairs": results[1:]}, indent=2))
    else:
        print(evaluate.format_report(results))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    if args.format == "projector":
        if args.vocab:
            raise ConfigError("--vocab applies to the word2vec formats; --format projector writes the counts in "
                              "its metadata.tsv")
        _refuse_stdout(args.out, "output directory")
        return _export_projector(args)
    from . import outputs
    from .errors import ModelFileError

    _check_output(args.out, "output file")
    if args.vocab:
        _check_output(args.vocab, "vocabulary file")
    outputs.check_outputs([("OUT", args.out), ("--vocab", args.vocab)], [("the model read", args.model)])
    kv = _load_vectors(args.model, limit=args.limit, allow_nonfinite=args.allow_nonfinite)
    if args.vocab and kv.counts is None:
        raise ModelFileError(f"{args.model}: holds no counts to write to --vocab (a word2vec C file has none: "
                             "'w2v import --vocab' reads them in from a vocabulary file)")
    kv.save_word2vec_format(args.out, args.vocab, binary=args.format == "word2vec-binary")
    counts = f"; counts in {args.vocab} ({_size(args.vocab)})" if args.vocab else ""
    print(f"{args.out}: {_vectors_text(kv)}, {args.format} ({_size(args.out)}{counts})")
    return 0


# -- export --format projector, serve (the explorer) --------------------------------------------------
def _export_projector(args: argparse.Namespace) -> int:
    """``export --format projector``: vectors.tsv and metadata.tsv into the directory OUT."""
    from . import outputs
    from .projector import projector_paths, save_projector

    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise NotADirectoryError(f"OUT {args.out!r} is a file; --format projector writes two files into a "
                                 "directory: give a directory (it is created if missing)")
    vectors_path, metadata_path = projector_paths(args.out)
    _check_not_input(("OUT/" + os.path.basename(vectors_path), vectors_path), ("the model read", args.model))
    _check_not_input(("OUT/" + os.path.basename(metadata_path), metadata_path), ("the model read", args.model))
    for path in (vectors_path, metadata_path):  # a FIFO or a device there: refused before the model is read
        outputs.check_a_file(path, f"OUT/{os.path.basename(path)}", "give another OUT")
    kv = _load_vectors(args.model, limit=args.limit, allow_nonfinite=args.allow_nonfinite)
    created = []  # the directories made for it, deepest last
    head = os.path.abspath(args.out)
    while not os.path.isdir(head):
        created.insert(0, head)
        head = os.path.dirname(head)
    try:
        for directory in created:
            try:
                os.mkdir(directory)
            except FileExistsError:  # a file (or a dangling link) of that name: not a directory
                raise OutputError(f"cannot make the directory {directory!r} for the projector's files: a file (or "
                                  "a link to nothing) of that name is there; give another OUT") from None
            except OSError as e:
                raise OutputError.wrap(e, directory, "the directory") from None
        save_projector(args.out, kv.index_to_key, kv.vectors, kv.counts)
    except BaseException:
        for directory in reversed(created):  # nothing of a failed export is left, not even its new directories
            with contextlib.suppress(OSError):
                os.rmdir(directory)
        raise
    what = "words and counts" if kv.counts is not None else "words"
    print(f"{args.out}: {_vectors_text(kv)} for the Embedding Projector: "
          f"{vectors_path} ({_size(vectors_path)}), {metadata_path} ({what}, {_size(metadata_path)})")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from . import serve

    serve.check_installed()  # the extra, before loading a model
    kv = serve.load_model(args.model, allow_nonfinite=args.allow_nonfinite)
    serve.run(kv, args.model, host=args.host, port=args.port)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from . import formats
    from .errors import ModelFileError
    from .vectors import KeyedVectors

    _check_output(args.out, "output file")
    formats.check_native_name(args.out, "OUT")
    _check_not_input(("OUT", args.out), ("the input", args.input))
    with formats.open_file(args.input) as f:
        head = f.read(64)
    if formats.sniff(head) == "native":
        raise ModelFileError(f"{args.input}: already a native w2v file; nothing to import (use it as it is, "
                             f"or 'w2v export' it to the word2vec format)")
    if args.no_header and args.binary:
        raise ConfigError("--no-header reads the text format only (a binary file always has its header)")
    if args.vocab:
        _check_not_input(("OUT", args.out), ("--vocab", args.vocab))
    words, vectors, info = formats.load_word2vec(args.input, binary=args.binary, limit=args.limit,
                                                 allow_nonfinite=args.allow_nonfinite, no_header=args.no_header)
    if not words:
        announced = "" if info["header_count"] is None else f" (its header announces {info['header_count']})"
        raise ModelFileError(f"{args.input}: holds no vectors{announced}; nothing to import")
    counts = formats.load_counts(args.vocab, words) if args.vocab else None
    kv = KeyedVectors(words, vectors, counts)
    kv.save(args.out)
    kind = "word2vec " + ("binary" if info["binary"] else "text")
    if info["compression"]:
        kind += f", {info['compression']}"
    if args.no_header:
        kind += ", no header"
    if args.vocab:
        kind += f"; counts from {args.vocab}"
    print(f"{args.out}: {_vectors_text(kv)} from {args.input} ({kind}; "
          f"{_size(args.out)})")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from . import plot
    from .errors import ModelFileError

    plot.image_format(args.output)  # matplotlib installed and the extension known, before loading
    _check_output(args.output, "picture")
    _check_not_input(("-o/--output", args.output), ("the model read", args.model))
    kv = _load_vectors(args.model, allow_nonfinite=args.allow_nonfinite)
    if not len(kv):
        raise ModelFileError(f"{args.model}: holds no vectors; nothing to draw")
    words = list(dict.fromkeys(args.words)) or plot.default_words(kv)  # a word given twice is drawn once
    plotted = plot.plot_words(kv, words, args.output, neighbours=args.neighbours, method=args.method,
                              title=args.title)
    found = len(plotted) - len(words)
    print(f"{args.output}: {len(words)} word{'s' if len(words) != 1 else ''} and {found} "
          f"neighbour{'s' if found != 1 else ''} ({', '.join(words)}; {args.method}; {_size(args.output)})")
    return 0


def cmd_plot_loss(args: argparse.Namespace) -> int:
    from . import plot

    plot.image_format(args.output)
    _check_output(args.output, "picture")
    _check_not_input(("-o/--output", args.output), ("the model read", args.model))
    log = plot.load_training_log(args.model)
    plot.plot_loss(log, args.output, title=args.title or _loss_title(args.model))
    print(f"{args.output}: loss of {len(log)} epoch{'s' if len(log) != 1 else ''} ({_size(args.output)})")
    return 0


def _loss_title(model_path: str) -> str:
    return f"Training loss per epoch: {os.path.basename(model_path)}"


def cmd_demo(args: argparse.Namespace) -> int:
    from .train import Word2Vec

    t0 = time.perf_counter()
    with resources.as_file(demo_corpus_path()) as corpus:
        if not os.path.isfile(corpus):
            raise FileNotFoundError(f"the demo corpus {DEMO_CORPUS} is not installed with w2v ({corpus})")
        settings = ", ".join(f"{k}={v}" for k, v in DEMO_SETTINGS.items())
        print(f"w2v demo: skip-gram on the King James Bible ({settings})", flush=True)
        model = Word2Vec(**DEMO_SETTINGS).train(str(corpus), progress=not args.quiet)
    kv = model.wv
    out = [""] + _summary(model) + [""]
    for word in DEMO_WORDS:
        out += [f"nearest to {word!r}:"] + _neighbours(kv, word, 5)
    a, b, c = DEMO_ANALOGY
    best = kv.analogy(a, b, c, topn=3)
    out += ["", f"{a} is to {b} as {c} is to ?  " + ", ".join(f"{w} ({s:.2f})" for w, s in best)]
    out += ["", f"done in {time.perf_counter() - t0:.1f} s.  Next: `w2v train --help`, `w2v similar MODEL WORD`, "
                "`w2v evaluate MODEL`."]
    print("\n".join(out), flush=True)
    return 0


# -- phrases ------------------------------------------------------------------------------------------
_FROM_SETTINGS = "(the help of the PhraseSettings field)"  # placeholder: see _PhrasesHelp


class _PhrasesHelp(argparse.HelpFormatter):
    """The help of ``w2v phrases``: each setting's help text and default are read from
    :class:`w2v.phrases.PhraseSettings` when the help is shown (importing it loads Numba, which building the
    parser for every command must not)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        from .phrases import PhraseSettings

        f = PhraseSettings.__dataclass_fields__.get(action.dest)
        if f is None:
            return super()._get_help_string(action)
        text = (f.metadata.get("help", "") if action.help == _FROM_SETTINGS else action.help).replace("%", "%%")
        if "(default" not in text and f.type != "bool":
            text += f" (default: {'none' if f.default in (None, ()) else f.default})"
        return text


def _phrases_error_for_cli(err: Exception) -> Exception:
    """The same error with setting names written as flags ('threshold' -> --threshold)."""
    from .phrases import PhraseSettings

    names = set(PhraseSettings.__dataclass_fields__)
    text = re.sub(r"'(\w+)'", lambda m: flag_name(m.group(1)) if m.group(1) in names else m.group(0), str(err))
    return type(err)(text) if isinstance(err, W2VError) else err


def cmd_phrases(args: argparse.Namespace) -> int:
    from . import formats, outputs, sources
    from .phrases import Phrases, PhraseSettings

    given = {name: getattr(args, name) for name in PhraseSettings.__dataclass_fields__ if hasattr(args, name)}
    if args.apply is not None:
        fixed = [flag_name(k) for k in given if k not in ("allow_truncated", "allow_binary")]
        if args.save_phrases is not None:
            fixed.append("--save-phrases")
        if fixed:
            raise UsageError(f"{', '.join(fixed)}: cannot be used with --apply (the phrase file's settings are "
                             "used, and nothing is learned)")
    written = [("-o/--output", args.output)]
    if args.save_phrases is not None:
        written.append(("--save-phrases", args.save_phrases))
    for what, path in written:
        _check_output(path, f"{what} file")
    if args.cache_dir is not None and not os.path.isdir(args.cache_dir):
        raise FileNotFoundError(f"--cache-dir {args.cache_dir!r} is not an existing directory")
    read = [] if args.apply is None else [("the phrase file (--apply)", args.apply)]
    connectors = given.get("connectors")
    if isinstance(connectors, str) and connectors != "english" and os.path.exists(connectors):
        read.append(("the connector file (--connectors)", connectors))
    outputs.check_outputs(written, read)
    outputs.check_outputs(written)
    for text in args.inputs if args.apply is not None else ():
        if os.path.isfile(text) and outputs.same_file(text, args.apply):
            raise UsageError(f"{text!r} is the phrase file (--apply), given as text to phrase too: name the "
                             "text files only")
    # (whether each file is text is checked when the corpus is read, with the settings it is read with)
    files = sources.expand_paths(args.inputs, exclude={p: w for w, p in written + read[:1]}, allow_binary=True,
                                 warn_repeated=False)  # (the phrases' corpus says it; --apply's table left out)
    t0 = time.perf_counter()
    try:
        if args.apply is not None:
            ph = Phrases.load(args.apply)
            if given:
                ph.settings = dataclasses.replace(ph.settings, **given)
            ph.write(files, args.output)
        else:
            with formats.written_together():  # the text and its table appear together, or neither
                ph = Phrases(**given).learn(files, output=args.output, cache_dir=args.cache_dir)
                if args.save_phrases is not None:
                    ph.save(args.save_phrases)
    except ConfigError as err:
        raise _phrases_error_for_cli(err) from None
    if not args.quiet:
        s = ph.stats
        out = []
        if args.apply is None:
            per_pass = ", ".join(f"pass {p['pass']}: {p['phrases']:,}" for p in s["passes"])
            out.append(f"phrases: {len(ph):,} learned from {s['passes'][0]['tokens']:,} tokens ({per_pass}) in "
                       f"{s['learn_seconds']:.1f} s")
        else:
            out.append(f"phrases: {len(ph):,} read from {args.apply}")
        out.append(f"text: {args.output} ({_size(args.output)}): {s['written_tokens']:,} tokens, "
                   f"{s['joins']:,} pair{'s' if s['joins'] != 1 else ''} joined; {time.perf_counter() - t0:.1f} s in all")
        if args.save_phrases is not None:
            out.append(f"phrase table: {args.save_phrases} ({_size(args.save_phrases)})")
        print("\n".join(out), flush=True)
    return 0
# -- end phrases --


COMMANDS = {"train": cmd_train, "similar": cmd_similar, "analogy": cmd_analogy, "evaluate": cmd_evaluate,
            "export": cmd_export, "demo": cmd_demo, "import": cmd_import, "plot": cmd_plot,
            "plot-loss": cmd_plot_loss, "serve": cmd_serve, "phrases": cmd_phrases}


def _say(line: str) -> None:
    """One line on stderr in one write: processes sharing the stream (torchrun's ranks, unbuffered) cannot
    cut it (print writes the newline apart)."""
    with contextlib.suppress(OSError):  # a hung-up terminal (SIGHUP) may take stderr with it
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def _prog() -> str:
    """``w2v``, or ``w2v[rank N]`` for a rank other than 0 under torchrun (rank 0 speaks for all)."""
    from .distributed import rank

    return f"{PROG}[rank {rank()}]" if rank() else PROG


def _fail(message: str) -> None:
    _say(f"{_prog()}: error: {message}")


def _os_message(err: OSError) -> str:
    """One line for an OS error on a user path: the path and the reason, without '[Errno n]'."""
    if isinstance(err, W2VError) and len(err.args) == 1:
        # str() of an OSError whose .filename was set after construction reads "[Errno None] None: ..."
        return str(err.args[0])
    if isinstance(err, W2VError) or not err.strerror:
        return str(err)
    if err.filename is not None:
        return f"{err.filename}: {err.strerror}"
    return err.strerror


# what a stopped command leaves, for its last line
def _stopped_leaves(args: argparse.Namespace | None, err: BaseException) -> str:
    """What a command stopped by a signal (``err``) leaves behind, for its last line."""
    command = getattr(args, "command", None)
    if command == "train" and getattr(args, "resume", None) and not getattr(err, "checkpointed", False):
        return (f"the model file was not written or changed; the checkpoint {args.resume} is as it was (the same "
                "command resumes it)")
    if command == "train":
        return "the model file was not written or changed"
    if command in ("export", "import"):
        return f"{args.out} was not written or changed"
    if command in ("plot", "plot-loss"):
        return f"the picture {args.output} was not written or changed"
    if command == "phrases" and getattr(args, "save_phrases", None):
        return f"neither {args.output} nor {args.save_phrases} was written or changed"
    if command == "phrases" and getattr(args, "output", None):
        return f"{args.output} was not written or changed"
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 success, 2 a user error, 128 + the signal number when
    stopped: 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP)."""
    from .signals import StopSignals

    logger = handler = saved = args = None
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as done:  # --help and --version
            return int(done.code or 0)
        logger, handler, saved = _setup_logging(getattr(args, "quiet", False))
        with StopSignals() as args.signals:  # SIGTERM and SIGHUP stop a command as Ctrl-C does
            return COMMANDS[args.command](args)
    except (W2VError, UsageError) as err:
        _fail(_os_message(err) if isinstance(err, OSError) else str(err))
        return 2
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as err:
        _fail(_os_message(err))
        return 2
    except KeyboardInterrupt as err:
        fresh_line = "\n" if getattr(sys.stderr, "isatty", lambda: False)() else ""  # below a progress bar
        what = str(err) if str(err) else "interrupted"
        leaves = "" if getattr(err, "saved", False) else _stopped_leaves(args, err)
        _say(f"{fresh_line}{_prog()}: {what}{'; ' + leaves if leaves else ''}")
        return 128 + int(getattr(err, "signum", 2))
    except BrokenPipeError:  # e.g. `w2v similar ... | head`: not an error
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 0
    finally:
        if logger is not None:
            logger.removeHandler(handler)
            logger.setLevel(saved[0])
            logger.propagate = saved[1]


if __name__ == "__main__":
    sys.exit(main())
