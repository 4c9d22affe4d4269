"""``w2v train``: the command behind the trainer, and what it does so that nothing of the user's is lost.

Before any work: the settings, the device, every output checked against every input and against each other
(:mod:`w2v.outputs`), outputs found in corpus directories left out of the corpus.  Once the vocabulary is
known: room on every file system for what will be written, phase by phase.  After training: the model saved
while stop signals wait, elsewhere if its directory fails, then the vectors and the loss picture.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import re
import shlex
import signal
import time
from typing import Any, Sequence

from . import engine, formats, outputs, sources
from .cli import UsageError, _check_output, _config_error_for_cli, _loss_title, _size, _summary
from .config import Config
from .errors import ConfigError, ModelFileError, OutputError
from .signals import Stopped, signal_name

logger = logging.getLogger("w2v")

SAVE_RETRY_SECONDS = 30.0
"""When no place takes the trained model (no room anywhere), the wait before trying again..."""
SAVE_WAIT_SECONDS = 1800.0
"""...and for how long in all before giving up (the training is then lost)."""


def _outputs(args: argparse.Namespace, checkpoint: str) -> list[tuple[str, str]]:
    """The files ``train`` writes, each named as the user named it."""
    ckpt = "--checkpoint" if args.checkpoint else ("the checkpoint resumed (--resume)" if args.resume else
                                                   "the checkpoint (-o/--output + .ckpt by default)")
    named = [("-o/--output", args.output), (ckpt, checkpoint), ("--vectors", args.vectors),
             ("--plot-loss", args.plot_loss)]
    return [(what, path) for what, path in named if path is not None]


def _preflight(args: argparse.Namespace, checkpoint: str):
    """The check run once the vocabulary is known: room for the files written after training, in the order
    they coexist (the trainer checks the checkpoint and the encoded corpus itself).

    - saving the model: the model, and the checkpoint when periodic checkpoints wrote one (a resumed one
      exists already and takes no new room);
    - then the checkpoint is removed and the vectors written: the model and the vectors.
    """
    from .train import native_file_bytes

    def check(vocab: Any, config: Config) -> None:
        if not _writes_outputs():
            return
        size = native_file_bytes(vocab, config.dim)
        saving = [("the model file", args.output, size)]
        if args.checkpoint_every and not os.path.exists(checkpoint):
            saving.append(("the checkpoint", checkpoint, size))
        outputs.check_room(saving)
        if args.vectors:
            words_nbytes = sum(len(w.encode("utf-8")) for w in vocab.words)
            vectors = formats.word2vec_size(len(vocab), words_nbytes, config.dim,
                                            binary=formats.binary_for_name(args.vectors))
            outputs.check_room([("the model file", args.output, size), ("the vectors file", args.vectors, vectors)])
    return check


def _distributed_options(args: argparse.Namespace, warn: bool = True):
    """How ranks cooperate under torchrun (checked here, used only there: elsewhere, a warning names the
    options given that do nothing)."""
    from .distributed import Options, launched

    options = Options(timeout=args.dist_timeout, sync=args.sync, sync_words=args.sync_words)
    default = Options()
    given = [flag for flag, mine, theirs in (("--dist-timeout", options.timeout, default.timeout),
                                             ("--sync", options.sync, default.sync),
                                             ("--sync-words", options.sync_words, default.sync_words))
             if mine != theirs]
    if warn and given and not launched():
        logger.warning("%s: distributed settings, ignored in a training of one process (start it with torchrun "
                       "to train on several)", ", ".join(given))
    return options


def _check_resumed_settings(path: str, settings: dict[str, Any]) -> None:
    """Refuse the settings given with --resume that differ from the checkpoint's (which are used); --threads
    may change (the corpus shares are the first run's, whatever the count), --epochs is the passes of the
    checkpoint's training (a Python training may have run fewer than its config's)."""
    from .checkpoint import checkpoint_config, checkpoint_header

    try:
        saved = Config.from_dict(checkpoint_config(path))
    except ConfigError as err:
        raise ModelFileError(f"{path}: corrupt checkpoint: {err}") from None
    effective = {"alpha": "start_alpha", "hogbatch": "use_hogbatch", "negative": "n_negative",
                 "ns_exponent": "noise_exponent"}  # an unset setting is its default: given, it is the same
    changed = []
    settings = {name: value for name, value in settings.items() if name != "threads"}
    if "epochs" in settings:
        epochs = settings.pop("epochs")
        passes = checkpoint_header(path).get("position", {}).get("epochs", saved.epochs)
        if epochs != passes:
            changed.append(f"--epochs {epochs} (the checkpoint's training: --epochs {passes})")
    for name, value in settings.items():
        attribute = effective.get(name, name)
        try:
            same = getattr(saved.replace(**{name: value}), attribute) == getattr(saved, attribute)
        except ConfigError:  # a value the checkpoint's other settings do not admit: changed, certainly
            same = False
        if not same:
            changed.append(f"{_as_option(name, value)} (the checkpoint's: "
                           f"{_as_option(name, getattr(saved, attribute))})")
    if changed:
        raise UsageError(f"{'; '.join(changed)}: settings cannot change when resuming; leave them out (the "
                         "checkpoint's are used) or give the checkpoint's own")


def _as_option(name: str, value: Any) -> str:
    """A setting's value as the command line writes it: ``--dim 50``, ``--no-hogbatch``, ``--cbow-sum``."""
    from .cli import _NEGATED_FLAGS, flag_name

    if value is None:
        return f"{flag_name(name)} unset"
    if isinstance(value, bool):
        if name in _NEGATED_FLAGS:  # a flag that turns a default on off: --cbow-sum is cbow_mean=False
            return _NEGATED_FLAGS[name][0] if not value else f"no {_NEGATED_FLAGS[name][0]}"
        if Config.__dataclass_fields__[name].default is None:  # on, off or unset: a --no- form (cli's rule)
            return flag_name(name) if value else "--no-" + flag_name(name)[2:]
        return flag_name(name) if value else f"without {flag_name(name)}"
    return f"{flag_name(name)} {value}"


def _check_arguments(args: argparse.Namespace) -> tuple[Config, str, str, str]:
    """Everything that can be checked before reading: returns (config, device, backend, checkpoint path)."""
    settings = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config) if hasattr(args, f.name)}
    try:
        config = Config(**settings)
    except ConfigError as err:
        raise _config_error_for_cli(err) from None
    if "cbow_mean" in settings and config.model != "cbow" and not args.resume:
        raise UsageError("--cbow-sum applies to --model cbow only (skip-gram has no context sum)")
    if args.resume and not os.path.isfile(args.resume):
        finished = (f" (the model {args.output!r} is there: if this training wrote it, it finished, and its "
                    "checkpoint was removed)" if os.path.isfile(args.output) else "")
        raise FileNotFoundError(f"--resume {args.resume!r}: no such checkpoint file{finished}")
    if args.resume and settings:  # the same command again with --resume: the same settings are fine
        _check_resumed_settings(args.resume, settings)
    if args.checkpoint_every is not None and not args.checkpoint_every > 0:
        raise UsageError(f"--checkpoint-every must be a number of seconds in (0, inf); got "
                         f"{args.checkpoint_every!r}")
    try:
        _distributed_options(args, warn=False)
    except ConfigError as err:
        raise ConfigError(re.sub(r"'(dist_timeout|sync_words|sync)'", lambda m: "--" + m.group(1).replace("_", "-"),
                                 str(err))) from None
    loss = config.loss
    if args.resume:  # the loss is the checkpoint's, whatever the flags say
        from .checkpoint import checkpoint_config

        with contextlib.suppress(ConfigError, OSError, ValueError):  # a bad checkpoint: the resume says so
            loss = Config.from_dict(checkpoint_config(args.resume)).loss
    try:
        device, backend = engine.resolve(args.device, args.backend)  # ConfigError: exit 2
        engine.check_loss(loss, device, backend, resumed=args.resume)
        engine.check_available(device, backend, loss)  # PyTorch installed, the GPU visible, the loss
    except ConfigError as err:
        raise _config_error_for_cli(err) from None
    checkpoint = args.checkpoint or args.resume or args.output + ".ckpt"
    writes = _writes_outputs()
    if writes:
        _check_output(args.output, "model file")
        _check_output(checkpoint, "checkpoint")
    formats.check_native_name(checkpoint, "checkpoint")
    formats.check_native_name(args.output, "model file")
    if args.vectors and writes:
        _check_output(args.vectors, "vectors file")
    if args.cache_dir is not None and not os.path.isdir(args.cache_dir):
        raise FileNotFoundError(f"--cache-dir {args.cache_dir!r} is not an existing directory")
    if args.plot_loss:
        from . import plot

        plot.image_format(args.plot_loss)  # matplotlib installed and a known extension
        if writes:
            _check_output(args.plot_loss, "loss picture")
    return config, device, backend, checkpoint


def _writes_outputs() -> bool:
    """Whether this process writes the outputs: always, but under torchrun rank 0 only (the others, maybe on
    machines without those directories, neither check nor write them)."""
    from .distributed import rank

    return not rank()


def run(args: argparse.Namespace) -> int:
    config, device, backend, checkpoint = _check_arguments(args)
    # no output may be an input (the corpus, the checkpoint resumed) or another output; an output found in
    # a corpus directory is left out of the corpus
    written = _outputs(args, checkpoint)
    resumed = [] if args.resume is None else [("the checkpoint resumed (--resume)", args.resume)]
    outputs.check_outputs([(w, p) for w, p in written if p != checkpoint or not args.resume], resumed)
    outputs.check_outputs(written)
    # (whether each file is text is checked by the trainer's corpus, with the settings it trains with)
    files = sources.expand_paths(args.corpus, exclude={p: w for w, p in written + resumed}, allow_binary=True,
                                 warn_repeated=False)  # (the trainer's corpus says it)

    from .train import Word2Vec  # the trainer (and Numba) only now

    common = dict(progress=not args.quiet, cache_dir=args.cache_dir, checkpoint_every=args.checkpoint_every,
                  preflight=_preflight(args, checkpoint), distributed=_distributed_options(args))
    if args.resume:
        model = Word2Vec.resume(args.resume, files, device=device, backend=backend, checkpoint_to=checkpoint,
                                threads=getattr(args, "threads", None), **common)
    else:
        model = Word2Vec(config, device=device, backend=backend).train(files, checkpoint=checkpoint, **common)
    if not _writes_outputs():
        return 0  # rank 0 writes the model (and wrote the checkpoints)
    # The model exists only in memory now (the trainer holds stop signals since its last pass): they wait
    # until it is on disk, and a failed save (a disk that filled meanwhile) puts it somewhere else.
    fallbacks = outputs.fallback_directories(os.path.dirname(os.path.abspath(checkpoint)), args.cache_dir)
    left = _outputs_left(args)
    not_written = f"; {_not_written(left)}" if left else ""
    where, failure = _save_model(args, model, fallbacks, checkpoint, not_written)
    _drop_checkpoint(checkpoint, args.resume)
    if failure is not None:
        raise OutputError(f"{failure}; the trained model was saved to {where} instead: move it where it "
                          f"belongs{not_written}")
    _write_the_rest(args, model)
    if not args.quiet:
        out = _summary(model)
        out.append(f"model: {args.output} ({_size(args.output)})")
        if args.vectors:
            out.append(f"vectors: {args.vectors} ({_size(args.vectors)})")
        if args.plot_loss:
            out.append(f"loss picture: {args.plot_loss} ({_size(args.plot_loss)})")
        print("\n".join(out), flush=True)
    return 0


def _drop_checkpoint(checkpoint: str, resumed: str | None = None) -> None:
    """Remove the training's checkpoint once the model is saved (anywhere), and the one it resumed from when
    that is another file: the model holds all they did (left, the second would invite a --resume of a finished
    training)."""
    for path in dict.fromkeys(p for p in (checkpoint, resumed) if p):
        if os.path.exists(path):
            with contextlib.suppress(OSError):
                os.remove(path)


def _save_model(args: argparse.Namespace, model, fallbacks: list[str], checkpoint: str,
                not_written: str) -> tuple[str, Any]:
    """The trained model saved at -o, or elsewhere when that fails (:func:`w2v.outputs.save_with_fallback`),
    stop signals waiting meanwhile.  When no place takes it (no room anywhere), it is tried again every
    :data:`SAVE_RETRY_SECONDS` for :data:`SAVE_WAIT_SECONDS`, the user told what would make room: the model
    is only in memory, and giving up loses the training.  Raises :class:`Stopped` (``saved`` when the model
    was saved) or, having given up, :class:`OutputError`."""
    from .train import native_file_bytes

    waited = 0.0
    while True:
        kept = (f" (the checkpoint {checkpoint} keeps the training up to its last save: --resume it once there "
                "is room)" if os.path.exists(checkpoint) else "")
        saved = None
        attempts = []  # (each path a save was tried at, the file there before it)

        def write(path: str) -> None:
            attempts.append((path, outputs.file_identity(path)))
            model.save(path)

        try:
            with args.signals.hold():
                saved = outputs.save_with_fallback(write, args.output, fallbacks)
        except OutputError as err:
            failed = err
        except Stopped as stop:
            if saved is None:  # cut after a rename, at -o or in a fallback directory: the model is there, whole
                saved = next(((path, None) for path, before in attempts
                              if outputs.file_identity(path) not in (None, before)), None)
            if saved is None:  # Ctrl-C pressed three times: out at once, the save cut
                raise Stopped(stop.signum, f"{stop}: the trained model is lost{kept}", saved=True) from None
            where, failure = saved  # a stop held while the model was saved
            _drop_checkpoint(checkpoint, args.resume)
            elsewhere = (f" (instead of {args.output}: {failure})" if failure is not None else
                         f" (instead of {args.output})" if where != args.output else "")
            raise Stopped(stop.signum, f"stopped by {signal_name(stop.signum)} after the model was saved to "
                                       f"{where}{elsewhere}{not_written}", saved=True) from None
        else:
            return saved
        stopped = args.signals.take_pending()
        if stopped is not None:
            raise Stopped(stopped, f"stopped by {signal_name(stopped)}: {failed}; the trained model is lost"
                                   f"{kept}", saved=True)
        if waited >= SAVE_WAIT_SECONDS:
            raise OutputError(f"{failed}; gave up after waiting {waited / 60:.0f} minutes for room: the trained "
                              f"model is lost{kept}")
        if not waited:
            room = outputs.size_text(native_file_bytes(model.vocab, model.config.dim))
            logger.warning("%s.  The trained model (%s) is only in memory: make room in one of these places (or "
                           "mend what the message says); "
                           "trying again every %.0f s for %.0f minutes (Ctrl-C gives up and loses it)%s", failed,
                           room, SAVE_RETRY_SECONDS, SAVE_WAIT_SECONDS / 60,
                           f"; this training's checkpoint {checkpoint} may go, the model holds all it does"
                           if kept else "")
        try:
            time.sleep(SAVE_RETRY_SECONDS)
        except KeyboardInterrupt as stop:  # Ctrl-C (Python's own handler here) or a stop signal
            signum = getattr(stop, "signum", signal.SIGINT)
            raise Stopped(signum, f"stopped by {signal_name(signum)} while waiting for room to save the trained "
                                  f"model: it is lost{kept}", saved=True) from None
        waited += SAVE_RETRY_SECONDS


def _outputs_left(args: argparse.Namespace, done: Sequence[str] = ()) -> list[tuple[str, str]]:
    """The outputs asked for after the model and not in ``done``, each with the command that writes it from
    the saved model."""
    model, vectors, picture = (shlex.quote(p or "") for p in (args.output, args.vectors, args.plot_loss))
    binary = "binary" if args.vectors and formats.binary_for_name(args.vectors) else "text"
    return [(what, how) for what, wanted, how in (
        ("the vectors", args.vectors and "vectors" not in done,
         f"w2v export {model} {vectors} --format word2vec-{binary}"),
        ("the loss picture", args.plot_loss, f"w2v plot-loss {model} -o {picture}")) if wanted]


def _not_written(left: list[tuple[str, str]]) -> str:
    """"the vectors and the loss picture were not written (write them with '...' and '...')"."""
    one = [what for what, _ in left] == ["the loss picture"]  # (the vectors: plural)
    return (f"{' and '.join(what for what, _ in left)} {'was' if one else 'were'} not written (write "
            f"{'it' if one else 'them'} with {' and '.join(repr(how) for _, how in left)})")


def _write_the_rest(args: argparse.Namespace, model) -> None:
    """The vectors and the loss picture, after the model: a failure or a stop says the model is safe."""
    done = []
    try:
        if args.vectors:
            model.wv.save_word2vec_format(args.vectors)  # text or binary by the name
            done.append("vectors")
        if args.plot_loss:
            from . import plot

            plot.plot_loss(model.training_log, args.plot_loss, title=_loss_title(args.output))
    except (OutputError, Stopped) as e:
        rest = _not_written(_outputs_left(args, done))
        if isinstance(e, OutputError):
            raise OutputError(f"{e}; the model was saved to {args.output}, {rest}") from None
        raise Stopped(e.signum, f"stopped by {signal_name(e.signum)} after the model was saved to {args.output}; "
                                f"{rest}", saved=True) from None
