"""Writes that cannot destroy, and reads that cannot hang: every file llmhw writes, and every user file it reads whole.

``batch --out``, ``--trace``, ``ask``'s ``save`` (and any later output file) are written to a hidden temp
file beside the target, fsync'ed, then renamed over it. So:

- the target is replaced only by a complete file: an interrupted or failed write leaves the previous file as
  it was (a full disk says so in one line, ``OutputError``, exit 1);
- a target is refused (``InputError``, exit 2) when it is one of the command's inputs (also through a
  symlink or a hard link), a directory, a device, a FIFO or a socket, or an existing file that llmhw did
  not write (``ours`` decides), unless ``force``;
- a symlink is followed: its target file is replaced, the link stays.

``open_regular`` opens a user's file for reading only when it is a regular file within a size limit: a FIFO
would block for ever and ``/dev/zero`` never ends.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import ForeignFileError, InputError, OutputError

Ours = Callable[[Path], bool]
FULL_DISK = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)  # the environment's fault, not the input's: exit 1


def starts_with(*prefixes: bytes) -> Ours:
    """A file is ours when it is empty or begins with one of ``prefixes`` (the header llmhw writes)."""

    def ours(path: Path) -> bool:
        try:
            with open(path, "rb") as f:
                head = f.read(max(len(p) for p in prefixes))
        except OSError:
            return False
        return not head or any(head.startswith(p) for p in prefixes)

    return ours


def _identity(path: str | Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def target(path: str | Path, field: str, *, inputs: Iterable[str | Path] = (), ours: Ours,
           force: bool = False) -> Path:
    """The real file a write to ``path`` would replace, after every refusal; raises ``InputError`` naming ``field``.

    :param inputs: the files the command reads: never written over, however they are named.
    :param ours: whether an existing regular file is one llmhw wrote (and may replace without ``force``).
    """
    shown = str(path)
    real = Path(os.path.realpath(path))  # a symlink is followed: the link stays, its target is replaced
    try:
        info = os.stat(real)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise InputError(field, f"{shown}: cannot write: {exc.strerror or exc}") from exc
    wanted = _identity(real)
    for given in inputs:
        if wanted is not None and _identity(given) == wanted:
            raise InputError(field, f"{shown} is an input of this command; writing it would destroy it: name another file")
    if info is None:
        if not real.parent.is_dir():
            raise InputError(field, f"{shown}: cannot write: No such file or directory")
        return real
    if stat.S_ISDIR(info.st_mode):
        raise InputError(field, f"{shown} is a directory: name a file")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(field, f"{shown} is not a regular file (a device, FIFO or socket): name a file")
    if not force and not ours(real):
        raise ForeignFileError(field, shown)
    return real


def _fail(field: str, shown: str, exc: OSError) -> Exception:
    if exc.errno in FULL_DISK:
        return OutputError(f"{field}: {shown}: cannot write: {exc.strerror or 'no space left'}; the previous file is unchanged")
    return InputError(field, f"{shown}: cannot write: {exc.strerror or exc}")


@contextlib.contextmanager
def replacing(real: Path, field: str, shown: str | None = None) -> Iterator[BinaryIO]:
    """A binary stream to a temp file beside ``real`` (from ``target``); renamed over it only if the block completes.

    On any exception (a full disk, Ctrl-C) the temp file is removed and ``real`` is left as it was; an
    ``OSError`` becomes ``OutputError`` (full disk, exit 1) or ``InputError`` (exit 2), other exceptions pass.
    """
    shown = shown or str(real)
    tmp = real.with_name(f".{real.name}.{secrets.token_hex(6)}.tmp")
    try:  # created like any new file (0666 less the umask); a replaced file keeps its own mode below
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError as exc:
        raise _fail(field, shown, exc) from exc
    done = False
    try:
        with os.fdopen(fd, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())  # on disk before it replaces the old file: a crash leaves one or the other
        if real.exists():
            os.chmod(tmp, os.stat(real).st_mode & 0o7777)
        os.replace(tmp, real)
        done = True
    except OSError as exc:
        raise _fail(field, shown, exc) from exc
    finally:
        if not done:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def write_text(path: str | Path, text: str, field: str, *, inputs: Iterable[str | Path] = (), ours: Ours,
               force: bool = False) -> None:
    """Write ``text`` (UTF-8) to ``path`` through ``target`` and ``replacing``."""
    real = target(path, field, inputs=inputs, ours=ours, force=force)
    with replacing(real, field, str(path)) as stream:
        stream.write(text.encode("utf-8"))


def open_regular(path: str | Path, limit: int, fail: Callable[[str], Exception]) -> BinaryIO:
    """Open a regular file of at most ``limit`` bytes for reading; else raise ``fail(reason)``.

    Opened without blocking (a FIFO with no writer would wait for ever), then checked on the open descriptor,
    so the file checked is the file read. A caller that reads it must still stop at ``limit + 1`` bytes (a
    file may grow after the check).
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise fail(f"cannot read: {exc.strerror or exc}") from exc
    stream = os.fdopen(fd, "rb")
    info = os.fstat(fd)
    problem = ("is a directory" if stat.S_ISDIR(info.st_mode) else "cannot read: not a regular file (a FIFO, device or socket)"
               if not stat.S_ISREG(info.st_mode) else
               f"file is {info.st_size:,} bytes, over the {limit:,}-byte limit" if info.st_size > limit else None)
    if problem:
        stream.close()
        raise fail(problem)
    return stream


def read_regular(path: str | Path, limit: int, fail: Callable[[str], Exception]) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (``open_regular``), however it grows meanwhile."""
    with open_regular(path, limit, fail) as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise fail(f"file is over the {limit:,}-byte limit")
    return data
