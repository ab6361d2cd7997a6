"""Low-level file-system moves that keep a tree whole: the atomic exchange, hard links, the build lock."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from kohya_prep.errors import BuildError

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _renameat2_exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2). False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def swap_into_place(new: Path, live: Path, old: Path) -> None:
    """Make `new` the live tree; the previous live tree ends at `old` (nothing there if there was none).

    With renameat2 the swap is one atomic step. Elsewhere it is two renames; `stage.recover` mends the
    gap between them if the process dies there.
    """
    try:
        if not live.exists():
            os.rename(new, live)
        elif _renameat2_exchange(new, live):
            os.rename(new, old)  # `new` now holds the previous tree
        else:
            os.rename(live, old)
            os.rename(new, live)
    except OSError as err:
        raise BuildError(
            f"could not move the new build into {live} ({err.strerror}); close programs using files in it "
            "(a training run, an image viewer) and build again"
        ) from err


def link_or_copy(src: Path | str, dst: Path | str) -> None:
    """Hard-link `src` to `dst` (same bytes, same mtime, no copy); copy where links are not supported."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def same_file(a: Path | str, b: Path | str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


@contextlib.contextmanager
def build_lock(lock_path: Path) -> Iterator[None]:
    """One build per dataset at a time; the lock goes away with the process, even on SIGKILL."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; builds are rarely concurrent there
        yield
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildError(f"another kohya-prep build is writing {lock_path.parent}; wait for it to finish") from None
        try:
            yield
        finally:
            lock_path.unlink(missing_ok=True)  # leave no trace; a killed build's lock dies with its process
