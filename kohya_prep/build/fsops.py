"""Low-level file-system moves that keep a tree whole: the atomic exchange, hard links, writes, the build lock."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kohya_prep.errors import BuildError
from kohya_prep.fserrors import describe, failed_path

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


@functools.cache
def _renameat2() -> object | None:
    """libc's renameat2, looked up once in the symbols the process has loaded (ctypes.util.find_library would run
    ldconfig in a subprocess on every call); None where there is none (glibc < 2.28, other systems)."""
    if not sys.platform.startswith("linux"):
        return None
    return getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)


def _renameat2_exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2). False where the system cannot."""
    renameat2: Any = _renameat2()
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


def exchange(a: Path | str, b: Path | str) -> bool:
    """Swap two existing entries in one atomic step; False where the system cannot (the caller then renames twice)."""
    return _renameat2_exchange(Path(a), Path(b))


_COPY_INSTEAD = (errno.EXDEV, errno.EMLINK, errno.EPERM, errno.EACCES, errno.ENOTSUP, errno.EOPNOTSUPP)


def link_or_copy(src: Path | str, dst: Path | str) -> None:
    """Hard-link the entry `src` (a file, or a symlink itself, never what it points at) to `dst`: same bytes, same
    mtime, no copy. Copy where a link is refused (another file system, an immutable file, too many links)."""
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError as err:
        if err.errno not in _COPY_INSTEAD:
            raise
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst, follow_symlinks=False)


def same_entry(a: Path | str, b: Path | str) -> bool:
    """Whether `a` and `b` are one directory entry's inode (a hard link), symlinks compared as links."""
    try:
        first, second = os.lstat(a), os.lstat(b)
    except (OSError, ValueError):
        return False
    return (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)


def write_file(path: Path | str, data: bytes) -> int:
    """Write `data` to a new file and return its mtime (ns, stat after close: what a rebuild compares with); an
    OSError names the file even when the write itself fails (disk full, EFBIG).

    Four system calls: each releases the GIL, and with several render threads every release hands the GIL to
    another thread (open() and Path.write_bytes make seven: fstat, ioctl, lseek besides)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o644)  # Windows: no \r\n
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        return os.stat(path).st_mtime_ns
    except OSError as err:
        if err.filename is None:
            err.filename = os.fspath(path)
        raise


@contextlib.contextmanager
def build_lock(lock_path: Path) -> Iterator[None]:
    """One build per dataset at a time; the lock goes away with the process, even on SIGKILL.

    Inside it a file-system failure (full disk, read-only, file too large, permission, a vanished file) becomes
    a BuildError naming the path and the cause: the staged tree has been discarded by then (stage.py).
    """
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; builds are rarely concurrent there
        with _findings(lock_path):
            yield
        return
    try:
        handle = open(lock_path, "a")  # noqa: SIM115 - held open for the whole build
    except OSError as err:
        raise BuildError(f"cannot take the build lock {describe(err, str(lock_path))}, then build again") from err
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildError(f"another kohya-prep build is writing {lock_path.parent}; wait for it to finish") from None
        try:
            with _findings(lock_path):
                yield
        finally:
            with contextlib.suppress(OSError):  # leave no trace; a killed build's lock dies with its process
                lock_path.unlink(missing_ok=True)


@contextlib.contextmanager
def _findings(lock_path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as err:
        dataset = lock_path.with_name(lock_path.name.removeprefix(".").removesuffix(".kp-lock"))
        raise BuildError(f"the build stopped at {describe(err, failed_path(err) or str(dataset))}, then build again; "
                         f"{dataset} was left as it was") from err
