"""Stopping on a signal the way Ctrl-C stops.

Schedulers, containers and systemd stop a job with SIGTERM (Slurm and Kubernetes a little before they kill
it; a preemptible cloud machine at its reclaim notice), and a closed terminal sends SIGHUP.  By default
either ends Python at once: a training in progress is lost.  Inside :class:`StopSignals` they raise
:class:`Stopped` (a ``KeyboardInterrupt``) in the main thread instead, so the trainer stops exactly as on
Ctrl-C: the chunks in flight finish and a checkpoint is written.  :meth:`StopSignals.hold` holds every stop
signal (Ctrl-C included) back while a file that must not be cut is written, and raises it afterwards.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from typing import Iterator

logger = logging.getLogger("w2v")

ESCAPE_CTRL_C = 3
"""Ctrl-C pressed this many times while stop signals are held (a checkpoint or the model being written)
stops at once, without it: the way out of a hold that hangs."""

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def signal_name(signum: int) -> str:
    """``15`` -> ``'SIGTERM'``."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class Stopped(KeyboardInterrupt):
    """A stop signal (``signum``) arrived; the command line exits with ``128 + signum`` (143 for SIGTERM,
    129 for SIGHUP, 130 for SIGINT)."""

    def __init__(self, signum: int, message: str = "", saved: bool = False):
        super().__init__(message or f"stopped by {signal_name(signum)}")
        self.signum = signum
        self.saved = saved  # True: the command's output was written before it stopped


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


_active: list["StopSignals"] = []  # the StopSignals entered, innermost last (main thread only)


class StopSignals:
    """While inside, SIGTERM and SIGHUP raise :class:`Stopped` in the main thread.

    Only the first signal raises: later ones are ignored while the stop is under way (so that a scheduler
    that repeats SIGTERM does not cut the checkpoint being written; SIGKILL still ends everything).  A signal
    the process ignores stays ignored (``nohup`` keeps a training going when its terminal closes).  Outside
    the main thread, or with ``only_if_default`` when the program installed handlers of its own, nothing
    changes.  Handlers are restored on exit.
    """

    def __init__(self, only_if_default: bool = False, final_hold: bool = True):
        self.only_if_default = only_if_default
        self.final_hold = final_hold  # whether hold_active holds here: False where nothing is saved after training
        self._saved: dict[int, object] = {}
        self._holding = 0
        self._held_ints = 0  # Ctrl-C pressed during the current hold
        self._saved_int: object = None
        self._pending: int | None = None
        self._raised = False
        self._unseen: int | None = None  # the signal last raised as Stopped, until raise_lost() sees it

    def __enter__(self) -> "StopSignals":
        if not _main_thread():
            return self
        for signum in STOP_SIGNALS:
            current = signal.getsignal(signum)
            if current is signal.SIG_IGN or (self.only_if_default and current is not signal.SIG_DFL):
                continue
            self._saved[signum] = signal.signal(signum, self._handle)
        if self._saved:  # only the one whose handlers are in place can hold
            _active.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if self in _active:
            _active.remove(self)
        while self._holding:
            self._release()
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)
        self._saved.clear()
        pending, self._pending = self._pending, None
        if pending is not None and exc[0] is None:
            raise Stopped(pending)

    @property
    def active(self) -> bool:
        return bool(self._saved)

    def _handle(self, signum: int, frame: object) -> None:
        if self._holding:
            if self._pending is None:
                self._pending = signum
            if signum == signal.SIGINT:  # a way out of a hold that hangs: Ctrl-C three times
                self._held_ints += 1
                if self._held_ints >= ESCAPE_CTRL_C:
                    self._pending = None  # this stop is the one made
                    raise Stopped(signum, "stopped at once by Ctrl-C pressed again while a file was being "
                                          "written (it was not)")
                logger.warning("stopping once the file being written is complete (it must not be cut); Ctrl-C "
                               "%d more time%s quits at once without it", ESCAPE_CTRL_C - self._held_ints,
                               "s" if ESCAPE_CTRL_C - self._held_ints > 1 else "")
            return
        if self._raised and signum != signal.SIGINT:
            return
        self._raised = True
        self._unseen = signum
        raise Stopped(signum)

    def begin_hold(self) -> None:
        """From now on hold stop signals (SIGINT too) until as many :meth:`_release` as calls."""
        if not _main_thread():
            return
        if not self._holding:
            self._saved_int = signal.signal(signal.SIGINT, self._handle)
            self._held_ints = 0
        self._holding += 1

    def _release(self) -> None:
        self._holding -= 1
        if not self._holding:
            signal.signal(signal.SIGINT, self._saved_int)

    def take_pending(self) -> int | None:
        """The stop signal held and not raised (a hold whose block raised an exception of its own keeps it),
        forgotten from now on."""
        pending, self._pending = self._pending, None
        return pending

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Hold stop signals (SIGINT too) until the block ends, then raise the first one as
        :class:`Stopped` with ``saved=True`` (unless the block raised an exception of its own).  A hold
        begun earlier (:func:`hold_active`) ends here too."""
        if not _main_thread():
            yield
            return
        self.begin_hold()
        try:
            yield
        finally:
            while self._holding:
                self._release()
        pending, self._pending = self._pending, None
        if pending is not None:
            raise Stopped(pending, saved=True)


def raise_lost() -> None:
    """Raise again, once, a stop signal whose exception was lost.  A handler's exception lands wherever the
    main thread is; when that is a finaliser or a weakref callback (a finished thread's object being
    collected, say), Python prints "Exception ignored in ..." and drops it, and the stop would be lost.
    Loops that poll while workers train call this: it raises only there, where no stop is under way."""
    stopper = _active[-1] if _active and _main_thread() else None
    if stopper is not None and stopper._unseen is not None:
        signum, stopper._unseen = stopper._unseen, None
        raise Stopped(signum)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold stop signals in the innermost active :class:`StopSignals` while the block runs (a collective
    between processes must not be cut in the middle), then raise the first one as :class:`Stopped` (unless
    an outer hold is still in force).  With no :class:`StopSignals` active, Ctrl-C is held the same way when
    Python's own handler has it, and raised after the block as ``KeyboardInterrupt``."""
    stopper = _active[-1] if _active and _main_thread() else None
    if stopper is None:
        if not _main_thread() or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            yield
            return
        pressed: list[int] = []
        with _sigint_replaced(lambda signum, frame: pressed.append(signum)):
            yield
        if pressed:
            raise KeyboardInterrupt
        return
    with _held(stopper):
        yield
    if not stopper._holding and stopper._pending is not None:
        pending, stopper._pending = stopper._pending, None
        raise Stopped(pending)


@contextlib.contextmanager
def _sigint_replaced(handler) -> Iterator[None]:
    """Ctrl-C goes to ``handler`` while the block runs (main thread only), then to the handler it had."""
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:  # (a handler installed from C reads as None: Python's default then)
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)


@contextlib.contextmanager
def _held(stopper: StopSignals) -> Iterator[None]:
    """``stopper`` holds stop signals while the block runs (one level of its holds)."""
    stopper.begin_hold()
    try:
        yield
    finally:
        stopper._release()


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Hold every stop signal, Ctrl-C included, while a stop is under way (the chunks in flight finishing,
    the checkpoint being written): a second Ctrl-C, or SIGTERM after Ctrl-C, must not cut it.  The signals
    held are dropped when the block ends, since the stop they ask for is the one being made (unless an
    outer hold is still in force, which then raises it as usual)."""
    if not _main_thread():
        yield
        return
    stopper = _active[-1] if _active else None
    if stopper is None:  # no StopSignals here (a program with handlers of its own): at least Ctrl-C
        with _sigint_replaced(lambda signum, frame: None):
            yield
        return
    try:
        with _held(stopper):
            yield
    finally:
        if not stopper._holding:
            stopper._pending = None


def hold_active() -> None:
    """Hold stop signals in the innermost active :class:`StopSignals` from now on, until its next
    :meth:`StopSignals.hold` block (or its exit) ends: the trainer calls it once the last pass is done, so
    that a signal between the end of training and the saved model does not lose the training.  Not where the
    innermost is the trainer's own (``final_hold=False``: the Python API's, which saves nothing after training),
    where a stop after the last pass is one like any other: a checkpoint, and :class:`TrainingInterrupted`."""
    if _active and _main_thread() and _active[-1].final_hold:
        _active[-1].begin_hold()
