"""What kind of thing a directory entry is, and reading it only when it is a regular file.

The check never opens a FIFO (it would block), a socket or a device: every read goes through `read_regular`,
which opens without blocking and refuses anything that is not a regular file, even one swapped in after a stat.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO, Literal

FileKind = Literal["file", "dir", "fifo", "socket", "device", "dangling", "loop", "vanished", "denied", "error"]

WHAT: dict[str, str] = {
    "dir": "a folder",
    "fifo": "a FIFO (named pipe)",
    "socket": "a socket",
    "device": "a device file",
    "dangling": "a symlink whose target does not exist",
    "loop": "a symlink loop",
    "vanished": "gone (it disappeared while being checked)",
    "denied": "unreadable (permission denied)",
    "error": "unreadable",
}


class NotReadable(OSError):
    """An entry that is not a regular file we may read; `kind` says what it is instead."""

    def __init__(self, kind: FileKind, detail: str = ""):
        super().__init__(detail or WHAT.get(kind, kind))
        self.kind: FileKind = kind


def kind_of(path: str | os.PathLike[str]) -> FileKind:
    """The entry's kind, following symlinks as open() would; never raises."""
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        return error_kind(err, path)
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "device"


def error_kind(err: OSError, path: str | os.PathLike[str] | None = None) -> FileKind:
    """What an OSError from stat or open says about the entry."""
    if isinstance(err, NotReadable):
        return err.kind
    if err.errno == errno.ELOOP:
        return "loop"
    if isinstance(err, FileNotFoundError):
        return "dangling" if path is not None and os.path.islink(path) else "vanished"
    if isinstance(err, PermissionError):
        return "denied"
    return "error"


def is_dir(path: str | os.PathLike[str]) -> bool:
    """pathlib's Path.is_dir: follows symlinks; False for a loop or a dangling link instead of raising."""
    return kind_of(path) == "dir"


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a regular file for reading without ever blocking; NotReadable for anything else."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        kind = kind_of(path)  # a socket fails to open (ENXIO): say what it is rather than the errno
        raise NotReadable(error_kind(err, path) if kind == "file" else kind, str(err)) from err
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise NotReadable("dir" if stat.S_ISDIR(mode) else "fifo" if stat.S_ISFIFO(mode) else "device")
    return os.fdopen(fd, "rb")


def read_regular(path: str | os.PathLike[str]) -> bytes:
    """A regular file's bytes; NotReadable when it is something else or cannot be read."""
    with open_regular(path) as handle:
        try:
            return handle.read()
        except OSError as err:
            raise NotReadable(error_kind(err), str(err)) from err


def describe_entry(kind: FileKind) -> str:
    """'a FIFO (named pipe)', 'a symlink loop', ...: what an entry is, for a message."""
    return WHAT.get(kind, kind)


def flock_held(lock: Path) -> bool:
    """Whether some process holds a flock on this file, read from /proc/locks (Linux) without taking one: even a
    shared lock for an instant would make a concurrent build's non-blocking exclusive lock fail."""
    try:
        inode = os.stat(lock).st_ino
        with open("/proc/locks", encoding="ascii", errors="replace") as handle:
            rows = handle.read().splitlines()
    except OSError:
        return False
    for row in rows:
        fields = row.split()
        if "FLOCK" in fields and len(fields) > 5 and fields[5].rsplit(":", 1)[-1] == str(inode):
            return True
    return False
