"""Where outputs may go: never onto an input, only where there is room, and somewhere safe when a save fails.

Three guarantees every command and entry point builds on (the README's "Nothing of yours is lost"):

- **No output lands on an input.**  :func:`check_outputs` compares every output path with every input (and
  with the other outputs) by the identity of the file: device and inode for files that exist (so hard
  links, symbolic links and ``./`` spellings count), the resolved path for files still to be written.
- **Room first.**  :func:`check_room` adds up the bytes each file system will have to hold (the sizes are
  known once the vocabulary is: :mod:`w2v.formats` estimates them) and refuses before any training when
  one of them lacks the room.
- **A failed save keeps the work.**  :func:`save_with_fallback` retries a save that failed (a disk that
  filled meanwhile, a directory gone) in other directories and says where the file went.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import stat
import tempfile
from typing import Callable, Iterable, Sequence

from .errors import OutputConflictError, OutputError

log = logging.getLogger("w2v")

ROOM_MARGIN = 1 << 16
"""Bytes kept free beyond the estimates, at least (and half a percent of them): the estimates are close."""


def file_identity(path: str | os.PathLike) -> tuple[int, int] | None:
    """(device, inode) of the file ``path`` names, following symbolic links; None when it does not exist."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def _resolved(path: str | os.PathLike) -> str:
    return os.path.realpath(os.path.abspath(os.fspath(path)))


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether ``a`` and ``b`` name the same file: the same inode, or (for files not written yet) the same
    resolved path."""
    ia, ib = file_identity(a), file_identity(b)
    if ia is not None and ib is not None:
        return ia == ib
    return _resolved(a) == _resolved(b)


_STREAM_PATH = re.compile(r"/dev/(?:std(?:in|out|err)|fd/\d+)|/proc/(?:self|thread-self|\d+)/fd/\d+")


def not_a_file(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot take a file written by an atomic rename, or None: a stream (``/dev/stdout``, an
    open descriptor's ``/dev/fd/N``) or something other than a regular file (``/dev/null``, a FIFO, a socket),
    which the rename would replace (as root, ``/dev/null`` itself)."""
    try:
        absolute = hop = os.path.abspath(os.fspath(path))
        for _ in range(40):  # the name, then each link it leads through (a link to /dev/stdout is a stream too)
            if _STREAM_PATH.fullmatch(hop):
                return "is a stream (standard output or an open descriptor), not a file"
            if not os.path.islink(hop):
                break
            hop = os.path.normpath(os.path.join(os.path.dirname(hop), os.readlink(hop)))
        mode = os.stat(absolute).st_mode
    except (OSError, ValueError):  # nothing there yet (or a dangling link): a new file; a NUL in the name
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):  # (a directory: check_writable's own message)
        return None
    kind = ("a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a FIFO" if stat.S_ISFIFO(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    return f"is {kind}, not a regular file"


def check_a_file(path: str | os.PathLike, what: str, advice: str = "give a file name") -> None:
    """Refuse (an :class:`OutputError`, EINVAL, naming ``what``) an output that the atomic rename would
    replace: a device, FIFO, socket or stream (:func:`not_a_file`)."""
    odd = not_a_file(path)
    if odd:
        _raise(f"{what} {os.fspath(path)!r} {odd}: w2v writes a file whole and renames it onto its name, which "
               f"would replace it; {advice}", errno.EINVAL, os.fspath(path))


def _raise(message: str, code: int, path: str) -> None:
    error = OutputError(message)
    error.errno, error.strerror, error.filename = code, os.strerror(code), path
    raise error


def check_writable(path: str | os.PathLike, what: str, hint: str = "") -> None:
    """Refuse, before any work, a file path that cannot be written: a directory, a device, FIFO or stream
    (which the atomic rename would replace), or a file in a directory that is missing or not writable (an
    :class:`OutputError` with the errno, naming ``what``; ``hint`` after)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    check_a_file(path, what, f"give a file name; {hint}" if hint else "give a file name")
    if os.path.isdir(path):
        why, code = f"{what} {path!r} is a directory; give a file name", errno.EISDIR
    elif os.path.exists(directory) and not os.path.isdir(directory):
        why, code = f"cannot write {what} {path!r}: {directory!r} is a file, not a directory", errno.ENOTDIR
    elif not os.path.isdir(directory):
        why, code = f"cannot write {what} {path!r}: the directory {directory!r} does not exist", errno.ENOENT
    elif not os.access(directory, os.W_OK):
        why, code = f"cannot write {what} {path!r}: the directory {directory!r} is not writable", errno.EACCES
    else:
        return
    _raise(f"{why}; {hint}" if hint else why, code, path)


def check_outputs(outputs: Sequence[tuple[str, str | os.PathLike]],
                  inputs: Sequence[tuple[str, str | os.PathLike]] = ()) -> None:
    """Refuse outputs that would write, replace or delete an input, or each other.

    Parameters
    ----------
    outputs, inputs : (what, path) pairs
        ``what`` names the option in the message (``"-o/--output"``, ``"the corpus file"``); paths that are
        None are ignored.

    Raises
    ------
    OutputConflictError
        Naming both paths, before any work starts.
    """
    outputs = [(what, os.fspath(p)) for what, p in outputs if p is not None]
    inputs = [(what, os.fspath(p)) for what, p in inputs if p is not None]
    for i, (what, path) in enumerate(outputs):
        for in_what, in_path in inputs:
            if same_file(path, in_path):
                how = "" if os.path.abspath(path) == os.path.abspath(in_path) else " (the same file under " \
                                                                                 "another name)"
                raise OutputConflictError(
                    f"{what} {path!r} is {in_what} {in_path!r}{how}: writing it would destroy an input of "
                    "this command; choose another output path")
        for other_what, other in outputs[i + 1:]:
            if same_file(path, other):
                raise OutputConflictError(f"{what} {path!r} and {other_what} {other!r} are the same file; "
                                          "give each output its own path")


def free_bytes(directory: str | os.PathLike) -> int | None:
    """Bytes an unprivileged writer can still use in ``directory``'s file system; None when unknown."""
    try:
        return shutil.disk_usage(directory).free
    except (OSError, ValueError):
        return None


def size_text(n: float) -> str:
    """``1234567`` -> ``'1.2 MB'``."""
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return ""  # unreachable


def check_room(needs: Iterable[tuple[str, str | os.PathLike, int]],
               free: Callable[[str], int | None] | None = None) -> None:
    """Refuse when a file system lacks the room for the files that will be written on it.

    Parameters
    ----------
    needs : (what, path, bytes) triples
        Each file to be written and its (estimated) size; an atomic write needs the whole size free even
        when it replaces an existing file, so nothing is credited for that.
    free : callable, optional
        ``free(directory) -> bytes or None``; default :func:`free_bytes`.

    Raises
    ------
    OutputError
        Naming the directory, the files, the bytes needed and the bytes free.
    """
    free = free if free is not None else free_bytes
    by_device: dict[object, list[tuple[str, str, int]]] = {}
    for what, path, nbytes in needs:
        directory = os.path.dirname(os.path.abspath(os.fspath(path)))
        try:
            device: object = os.stat(directory).st_dev
        except OSError:
            device = directory
        by_device.setdefault(device, []).append((what, directory, int(nbytes)))
    for items in by_device.values():
        directory = items[0][1]
        have = free(directory)
        files = sum(n for _, _, n in items)
        margin = max(ROOM_MARGIN, files // 200)
        need = files + margin
        if have is not None and need > have:
            parts = ", ".join(f"{what} {size_text(n)}" for what, _, n in items)
            err = OutputError(f"not enough room in {directory!r}: about {size_text(need)} is needed ({parts}, "
                              f"and {size_text(margin)} to spare), only {size_text(have)} is free; free "
                              "some space or write the outputs elsewhere")
            err.filename = directory
            raise err


def fallback_directories(*preferred: str | os.PathLike | None) -> list[str]:
    """Directories to try when a save fails: ``preferred`` (e.g. the checkpoint's and the cache
    directory), then the system temp directory, then the home directory; existing ones, once each."""
    seen: list[str] = []
    for d in (*preferred, tempfile.gettempdir(), os.path.expanduser("~")):
        if d is None:
            continue
        d = _resolved(d)
        if os.path.isdir(d) and d not in seen:
            seen.append(d)
    return seen


def _free_name(directory: str, name: str) -> str:
    """``directory/name``, or ``directory/stem-N.ext`` when that exists."""
    candidate = os.path.join(directory, name)
    stem, ext = os.path.splitext(name)
    n = 1
    while os.path.lexists(candidate):
        candidate = os.path.join(directory, f"{stem}-{n}{ext}")
        n += 1
    return candidate


def save_with_fallback(write: Callable[[str], None], path: str | os.PathLike,
                       fallbacks: Sequence[str]) -> tuple[str, OutputError | None]:
    """``write(path)``; when it fails with an OS error, ``write`` again under the same name in each of
    ``fallbacks`` (a directory of the failed path is skipped) until one succeeds.

    Returns ``(where it was written, the first error or None)``.  Raises the first error, completed with
    the directories tried, when every place fails.
    """
    path = os.fspath(path)
    try:
        write(path)
        return path, None
    except OSError as e:
        first = e if isinstance(e, OutputError) else OutputError.wrap(e, path)
    own = _resolved(os.path.dirname(os.path.abspath(path)))
    tried = []
    for directory in fallbacks:
        if _resolved(directory) == own:
            continue
        candidate = _free_name(directory, os.path.basename(path))
        try:
            write(candidate)
        except OSError as e:
            tried.append(f"{directory} ({getattr(e, 'strerror', None) or e})")
            continue
        return candidate, first
    if tried:
        first.args = (f"{first.args[0]}; nor could it be written to {', '.join(tried)}",)
    raise first
