"""File-system failures as findings: the path and the cause in words a user can act on, with the fix.

A full disk, a read-only mount, a file-size limit, a folder made immutable, a link to another disk or a file that
vanished mid-run is no bug of kohya-prep: the build and train-config report it in one sentence and exit 1.
"""

from __future__ import annotations

import errno
import os

_CAUSES: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("the disk is full (no space or no free inodes left)", "free some space"),
    errno.EDQUOT: ("the disk quota is used up", "free some space or raise the quota"),
    errno.EROFS: ("the file system is read-only", "remount it read-write or use a folder on a writable disk"),
    errno.EFBIG: ("the file is larger than this system allows (the shell's `ulimit -f`, or the file system's limit)",
                  "raise the limit (`ulimit -f unlimited`) or use another disk"),
    errno.EACCES: ("permission denied", "check the folder's owner and permissions (`ls -ld`)"),
    errno.EPERM: ("the operation is not permitted (an immutable file or folder, `chattr +i`?)",
                  "check its attributes and owner (`lsattr -d`, `ls -ld`)"),
    errno.EXDEV: ("it lies on another file system (a mount point, or a link to another disk)",
                  "keep the dataset folder's contents on one disk"),
    errno.ELOOP: ("it is a symlink loop", "fix or remove the symlink"),
    errno.ENOENT: ("it disappeared while kohya-prep was using it (moved or deleted by another program?)",
                   "leave the folder alone while kohya-prep runs"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "move that file away"),
    errno.EISDIR: ("it is a folder where a file must go", "move that folder away"),
    errno.ENAMETOOLONG: ("the path is too long for the file system", "use a shorter folder or name"),
    errno.EMLINK: ("the file system's limit on links or sub-folders is reached", "use fewer files per folder"),
    errno.EBUSY: ("it is in use (a mount point, or open in another program)", "close the programs using it"),
    errno.ETXTBSY: ("it is in use by a running program", "close the programs using it"),
    errno.EIO: ("the disk reported an input/output error", "check the disk (`dmesg`)"),
}


def cause(err: OSError) -> tuple[str, str]:
    """The cause of a file-system failure in words, and its fix."""
    known = _CAUSES.get(err.errno or 0)
    if known:
        return known
    return (err.strerror or str(err)).lower(), "check the disk and the folder's permissions"


def failed_path(err: OSError, default: str = "") -> str:
    """The path an OSError names (the second one for a failed rename into place), or `default`."""
    name = err.filename2 if err.filename2 is not None and err.errno in (errno.EXDEV, errno.ENOTEMPTY) else err.filename
    return os.fsdecode(name) if name is not None else default


def describe(err: OSError, path: str | None = None) -> str:
    """'<path>: <cause>; <fix>' for one file-system failure; `path` defaults to the one the error names."""
    what, fix = cause(err)
    where = failed_path(err) if path is None else path
    return f"{where}: {what}; {fix}" if where else f"{what}; {fix}"
