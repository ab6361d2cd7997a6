"""The staged tree: the entries kohya-prep owns in a dataset folder are built anew in a staging folder, then
swapped in; shared by the build (train/, reg/, the manifest) and the preview (preview/).

Only the owned entries move. Everything else in the dataset folder (the user's files, empty folders such as the
kohya_ss GUI's output/ and log/run1/, symlinks and what they point at) stays where it is, untouched, and a dataset
folder that is a symlink stays one. The staging folder is on the file system of the entries it replaces (beside
the dataset folder's target, or inside it when it is a mount point). Inside an owned entry the user's files and
symlinks are hard-linked into the new one (same inode, bytes and mtime) and their folders re-created.

Each entry is swapped in with one atomic rename (renameat2's exchange where Linux has it). Before the first one a
record of the new entries' inodes is written: with it the next run finishes a swap that a kill interrupted, and an
error part-way swaps the moved entries back. Nothing that is not provably ours is ever deleted.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import signal
import stat
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kohya_prep.build.fsops import exchange, link_or_copy, same_entry
from kohya_prep.build.plan import MANIFEST_NAME
from kohya_prep.build.tree import join, walk_dirs, walk_files
from kohya_prep.errors import BuildError
from kohya_prep.fserrors import cause, describe, failed_path

PLAN_MARKER = ".kp-plan.json"  # in the staging folder while it is built: which files in it are ours
SWAP_RECORD = ".kp-swap.json"  # in the staging folder once it is complete: the swap to finish
_BOOKKEEPING = (PLAN_MARKER, SWAP_RECORD)


@dataclass(frozen=True)
class TreePaths:
    """A dataset folder, the entries of it one swap owns, the folder relative paths start from (`base`), and where
    the staging folder (`new`) and the replaced entries (`old`) go: `home`, on the same file system."""

    root: Path
    dirs: tuple[str, ...]
    files: tuple[str, ...]
    base: str
    home: Path
    stem: str

    @classmethod
    def dataset(cls, root: Path, dirs: tuple[str, ...]) -> TreePaths:
        """The build's entries: its folders (train/, reg/) and the manifest; relative paths start at the root.

        The staging folder goes beside the dataset folder (beside its target when it is a symlink); inside it when
        the dataset folder is a mount point (every rename stays on one file system) or its parent is read-only.
        """
        real = Path(os.path.realpath(root))
        if not _is_mount_point(real) and os.access(real.parent, os.W_OK | os.X_OK):
            return cls(root, dirs, (MANIFEST_NAME,), "", real.parent, f".{real.name}")
        return cls(root, dirs, (MANIFEST_NAME,), "", real, ".kohya-prep")

    @classmethod
    def folder(cls, live: Path) -> TreePaths:
        """One folder of the dataset (preview/), owned whole; relative paths start inside it."""
        return cls(live.parent, (live.name,), (), live.name, live.parent, f".{live.name}")

    @property
    def entries(self) -> tuple[str, ...]:
        return (*self.dirs, *self.files)

    @property
    def live(self) -> Path:
        return self.root / self.base if self.base else self.root

    @property
    def new(self) -> Path:
        return self.home / f"{self.stem}.kp-new"

    @property
    def old(self) -> Path:
        return self.home / f"{self.stem}.kp-old"

    def aside(self) -> Path:
        """A free place for what a cleanup could neither delete nor move back."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        candidate, number = self.home / f"{self.stem.lstrip('.')}.kept-{stamp}", 2
        while os.path.lexists(candidate):
            candidate, number = self.home / f"{self.stem.lstrip('.')}.kept-{stamp}-{number}", number + 1
        return candidate


@dataclass
class StagedTree:
    """The tree being built; after the swap, `kept` says where leftovers were set aside (or None)."""

    paths: TreePaths
    kept: str | None = None

    @property
    def folder(self) -> Path:
        return self.paths.new / self.paths.base if self.paths.base else self.paths.new


def _mount_points() -> set[bytes]:
    """Every mount point Linux lists in /proc/self/mountinfo (bind mounts of the same file system included)."""
    try:
        with open("/proc/self/mountinfo", "rb") as handle:
            fields = [line.split() for line in handle]
    except OSError:
        return set()
    # mountinfo writes a space, tab, newline or backslash in a mount point as an octal escape
    unescape = re.compile(rb"\\([0-7]{3})")
    return {unescape.sub(lambda m: bytes([int(m.group(1), 8)]), f[4]) for f in fields if len(f) > 4}


def _is_mount_point(path: Path, points: set[bytes] | None = None) -> bool:
    """Whether `path` is a mount point: another device than its parent, or a bind mount of the same one (a rename
    across either fails with EXDEV)."""
    return os.path.ismount(path) or os.fsencode(path) in (_mount_points() if points is None else points)


def open_root(root: Path) -> bool:
    """Make sure the dataset folder is a folder (a symlink to one is fine); True when it was created now."""
    try:
        if os.path.isdir(root):
            return False
        os.stat(root)
    except FileNotFoundError:
        if os.path.islink(root):
            raise BuildError(f"{root} is a symlink to {os.readlink(root)}, which does not exist; create that folder "
                             "or remove the link, then build again") from None
        os.mkdir(root)
        return True
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise BuildError(f"{root} is a symlink loop; remove the link or point it at a folder, then build again") from None
        raise
    raise BuildError(f"{root} is a file, not a folder, and kohya-prep writes the dataset into a folder of that name; "
                     "move the file away or change name in [dataset]")


def _kind(path: str) -> str | None:
    """'a symlink', 'a folder', 'a file' or 'a special file' for what is at `path`, or None when nothing is."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(mode):
        return "a symlink"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "a file" if stat.S_ISREG(mode) else "a special file (a pipe, socket or device)"


def refuse_foreign_places(paths: TreePaths, relpaths: Iterable[str], dirs: Iterable[str] = ()) -> None:
    """BuildError when something not ours sits where an owned entry, one of its folders or a file of ours goes.

    kohya-prep never writes through a symlink nor replaces what it did not write: a symlink where train/ goes
    would let a build write outside the dataset folder, a file where a folder goes would be moved aside.
    """
    wanted: dict[str, bool] = {name: True for name in paths.dirs}
    wanted.update({name: False for name in paths.files})
    base = f"{paths.base}/" if paths.base else ""
    for relpath, is_dir in (*((r, False) for r in relpaths), *((d, True) for d in dirs)):
        place = base + relpath  # posix relpaths (checked by the caller's _relative); their parents are folders
        parent = place.rpartition("/")[0]
        while parent and parent not in wanted:
            wanted[parent] = True
            parent = parent.rpartition("/")[0]
        if parent:
            wanted[parent] = True
        wanted[place] = wanted.get(place, False) or is_dir
    for place, is_dir in sorted(wanted.items()):
        found = _kind(join(paths.root, place))
        if found is None or found == ("a folder" if is_dir else "a file"):
            continue
        goes = "a folder of kohya-prep's" if is_dir else "a file kohya-prep writes"
        raise BuildError(f"{join(paths.root, place)} is {found} where {goes} goes; kohya-prep never writes through "
                         "links or over what it did not write: move it out of the dataset folder, then build again")


def refuse_unchangeable(paths: TreePaths) -> None:
    """BuildError, before anything is written, when a folder the swap must change is read-only, immutable or not
    writable: the dataset folder, where the staging folder goes, and every folder of the owned entries (the swap
    renames them and empties the replaced ones)."""
    owned = [paths.root / name for name in paths.dirs]
    owned += [paths.root / name / sub for name in paths.dirs if os.path.isdir(paths.root / name)
              for sub in walk_dirs(paths.root / name)]
    points = _mount_points()
    for place in owned:
        if os.path.isdir(place) and _is_mount_point(Path(os.path.realpath(place)), points):
            raise BuildError(f"{place} is a mount point, and a build replaces the folder it is in as a whole; mount "
                             "that disk outside the dataset folder (or link to it from elsewhere), then build again")
    for place in (paths.root, paths.home, *owned):
        if not os.path.isdir(place) or os.access(place, os.W_OK | os.X_OK):
            continue
        if os.statvfs(place).f_flag & os.ST_RDONLY:
            what, fix = cause(OSError(errno.EROFS, "read-only"))
        else:
            what = "it cannot be changed (no write permission, or it is immutable: `chattr +i`)"
            fix = "fix it (`ls -ld`, `lsattr -d`)"
        raise BuildError(f"{place}: {what}, and a build must change it; {fix}, then build again; nothing was changed")


def _relative(relpath: str) -> bool:
    """Whether `relpath` reads as a path below a folder on every system: no root, drive, '..' or empty part."""
    return bool(relpath) and not relpath.startswith("/") and not any(c in relpath for c in "\\\0:") and all(
        part not in ("", ".", "..") for part in relpath.split("/"))


def check_inside(folder: Path, relpath: str) -> None:
    """The last guard before a write: `relpath` must name a place inside `folder`, or the build stops."""
    check_all_inside(folder, [relpath])


def check_all_inside(folder: Path, relpaths: Iterable[str]) -> None:
    """check_inside for many relpaths: the real path of each parent folder is resolved once, and only a name that
    is itself a symlink is followed on its own (a build checks every file it writes)."""
    base = os.path.realpath(folder)
    parents: dict[str, str] = {}
    for relpath in relpaths:
        if _relative(relpath):
            parent, _, name = relpath.rpartition("/")
            if parent not in parents:
                parents[parent] = os.path.realpath(join(folder, parent)) if parent else base
            target = join(parents[parent], name)
            if os.path.islink(target):
                target = os.path.realpath(target)
            if target.startswith(base + os.sep):
                continue
        raise BuildError(f"kohya-prep refused to write {relpath!r}: it would land outside {folder}; nothing was "
                         "changed (this is a bug in kohya-prep: please report it with your spec)")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".kp-tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def clear_leftovers(paths: TreePaths) -> list[str]:
    """Finish or undo what an interrupted run left; warnings for what was set aside.

    A complete staging folder (its swap record, no plan marker) is swapped in, since the kill came during its swap;
    an incomplete one is discarded. Either way the next state is one a build handles: rebuilds converge.
    """
    new, old = paths.new, paths.old
    warnings: list[str] = []
    if os.path.lexists(new):
        if not os.path.isdir(new) or os.path.islink(new):
            raise BuildError(f"{new} is not kohya-prep's staging folder; move it away, then build again")
        if os.path.exists(new / PLAN_MARKER):
            warnings += _discard_staging(paths, _read_marker(new / PLAN_MARKER))
        elif os.path.exists(new / SWAP_RECORD):
            record = _read_json(new / SWAP_RECORD)
            _swap(paths, record)
            warnings += _clear_parked(paths, record)
        elif any(not name.endswith(".kp-tmp") for name in os.listdir(new)):
            raise BuildError(f"{new} was not made by kohya-prep (it holds no plan of a build); move it away, "
                             "then build again")
        else:
            _remove_empty(new)
    if os.path.lexists(old):
        warnings += _clear_parked(paths, _parked_record(paths))
    return warnings


def _read_marker(path: Path) -> dict[str, Any]:
    """The plan marker; one written by kohya-prep 0.x listed the files, one a line."""
    marker = _read_json(path)
    if marker:
        return marker
    try:
        return {"ours": path.read_text(encoding="utf-8").splitlines()}
    except (OSError, ValueError):
        return {}


def _parked_record(paths: TreePaths) -> dict[str, Any]:
    """Replaced entries without the record of their swap: a whole tree parked by kohya-prep 0.x, cleared by its
    manifest; anything else there is not ours to touch."""
    from kohya_prep.build.manifest import read_manifest

    manifest = read_manifest(paths.old / MANIFEST_NAME) if not paths.base else None
    if manifest is None or not os.path.isdir(paths.old):
        raise BuildError(f"{paths.old} is not from an unfinished kohya-prep build (nothing records it); move it "
                         "away, then build again")
    return {"drop": list(manifest.files), "files": list(paths.files)}


def _discard_staging(paths: TreePaths, marker: dict[str, Any]) -> list[str]:
    """Remove an incomplete staging folder: ours and the hard links of live entries go, anything else is kept."""
    new, ours = paths.new, set(marker.get("ours", []))
    kept = discard_tree(new / paths.base if paths.base else new, paths.live, ours)
    if paths.base:  # kohya-prep 0.x staged a folder straight in the staging folder
        kept += discard_tree(new, paths.live, ours)
    for name in _BOOKKEEPING:
        (new / name).unlink(missing_ok=True)
    return _set_aside(paths, new, kept) if kept else _remove_empty(new)


def _clear_parked(paths: TreePaths, record: dict[str, Any]) -> list[str]:
    """After a swap: delete the replaced entries that are provably ours, keep the rest; then the record goes."""
    old = paths.old
    ours = {*record.get("drop", []), *record.get("files", [])}
    kept = discard_tree(old / paths.base if paths.base else old, paths.live, ours) if old.is_dir() else []
    warnings = _set_aside(paths, old, kept) if kept else _remove_empty(old)
    (paths.new / SWAP_RECORD).unlink(missing_ok=True)
    _remove_empty(paths.new)
    return warnings


def _remove_empty(folder: Path) -> list[str]:
    """Remove `folder` and the empty folders in it, bottom up; never a file but our own temporary ones."""
    if not os.path.isdir(folder) or os.path.islink(folder):
        return []
    for tmp in Path(folder).glob("*.kp-tmp"):
        tmp.unlink()
    for relpath in sorted(walk_dirs(folder), key=len, reverse=True):
        _rmdir(join(folder, relpath))
    _rmdir(str(folder))
    return []


def _rmdir(folder: str) -> None:
    try:
        os.rmdir(folder)
    except OSError as err:
        if err.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
            raise


def _set_aside(paths: TreePaths, tree: Path, kept: list[str]) -> list[str]:
    aside = paths.aside()
    os.rename(tree, aside)
    for relpath in sorted(walk_dirs(aside), key=len, reverse=True):
        _rmdir(join(aside, relpath))
    return [f"{len(kept)} file(s) that appeared in {paths.live} during a build were kept in {aside}; "
            "move them back by hand"]


def discard_tree(tree: Path, live: Path, ours: set[str]) -> list[str]:
    """Empty a staged or parked tree, deleting only what is provably ours or still present in `live`.

    Ours: listed in `ours`. Present: the same entry (a hard link) at the same place in `live`. Anything else
    moves into `live` if its place is free; the relative paths of what is left are returned, to be set aside.
    """
    if not os.path.isdir(tree):
        return []
    kept = []
    for relpath in list(walk_files(tree)):
        path, twin = join(tree, relpath), join(live, relpath)
        if relpath in ours or relpath in _BOOKKEEPING or path.endswith(".kp-tmp") or same_entry(path, twin):
            os.unlink(path)
        elif not os.path.lexists(twin) and _free_place(live, relpath):
            os.makedirs(os.path.dirname(twin), exist_ok=True)
            os.rename(path, twin)
        else:
            kept.append(relpath)
    for relpath in sorted(walk_dirs(tree), key=len, reverse=True):
        _rmdir(join(tree, relpath))
    return kept


def _free_place(live: Path, relpath: str) -> bool:
    """Whether an entry can move back to `live/relpath` without passing through a link or a file."""
    try:
        check_inside(live, relpath)
    except BuildError:
        return False
    parent = os.path.dirname(join(live, relpath))
    while not os.path.lexists(parent):
        parent = os.path.dirname(parent)
    return os.path.isdir(parent) and not os.path.islink(parent)


@contextlib.contextmanager
def staged_tree(paths: TreePaths, ours: Iterable[str], carry: Iterable[str], drop: Iterable[str] = (),
                dirs: Iterable[str] = ()) -> Iterator[StagedTree]:
    """A new tree holding `carry` (hard-linked from the live tree); written to by the caller, then swapped in.

    `ours` are the files the caller will write (a killed run's leftovers are recognised by them) and `dirs` the
    folders it needs (made here); each must lie inside the staged folder. `drop` are live files deliberately left
    out of the new tree; they are deleted with the replaced entries after the swap. On any exception the new tree
    is discarded and the live tree stays as it was; a file-system failure becomes a BuildError naming the live
    path and the cause.
    """
    ours, dirs = list(ours), list(dirs)
    for relpath in (*ours, *dirs):
        if not _relative(relpath):
            check_inside(paths.live, relpath)  # raises: the name of a file kohya-prep writes is never a path
    refuse_foreign_places(paths, ours, dirs)
    refuse_unchangeable(paths)
    staged = StagedTree(paths)
    os.mkdir(paths.new)  # clear_leftovers has removed any earlier one
    try:
        _write_json(paths.new / PLAN_MARKER, {"base": paths.base, "ours": ours})
        staged.folder.mkdir(exist_ok=True)
        _carry(paths.live, staged.folder, list(carry))
        check_all_inside(staged.folder, (*dirs, *ours))
        for folder in dirs:
            os.makedirs(staged.folder / folder, exist_ok=True)
        yield staged
        record = {"base": paths.base, "ours": ours, "files": list(paths.files), "drop": list(drop),
                  "entries": {name: os.lstat(paths.new / name).st_ino for name in paths.entries
                              if os.path.lexists(paths.new / name)}}
        _write_json(paths.new / SWAP_RECORD, record)
        (paths.new / PLAN_MARKER).unlink()
    except BaseException as err:
        _abandon(paths, ours, err)
        raise
    _swap_or_undo(paths, record, ours)
    try:
        kept = _clear_parked(paths, record)
    except OSError as err:  # the new tree is in place; the next build clears what is left
        kept = [f"the replaced files in {paths.old} could not all be removed ({describe(err)}); the next build does it"]
    staged.kept = kept[0] if kept else None


def _abandon(paths: TreePaths, ours: list[str], err: BaseException) -> None:
    """Discard the staging folder after a failure; a file-system failure is raised as a BuildError."""
    note = ""
    try:
        if os.path.exists(paths.new / SWAP_RECORD) and not os.path.exists(paths.new / PLAN_MARKER):
            os.rename(paths.new / SWAP_RECORD, paths.new / PLAN_MARKER)  # incomplete again; a rename needs no space
        if os.path.isdir(paths.new):
            _discard_staging(paths, {"ours": ours})
    except OSError as cleanup:
        note = f"; the unfinished build in {paths.new} could not be removed ({describe(cleanup)}): the next build does it"
    if isinstance(err, OSError):
        where = _live_name(paths, failed_path(err)) or str(paths.live)
        raise BuildError(f"the build stopped at {describe(err, where)}, then build again; "
                         f"{paths.live} was left as it was{note}") from err


def _live_name(paths: TreePaths, path: str) -> str:
    """A path inside the staging folder as the user knows it: its place in the live tree."""
    new = str(paths.new)
    return str(paths.root) + path[len(new):] if path.startswith(new + os.sep) else path


@contextlib.contextmanager
def _no_ctrl_c() -> Iterator[None]:
    """Hold SIGINT back for the few renames of a swap: Ctrl-C lands before it or after it, never between two."""
    blockable = hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
    if blockable:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        if blockable:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _swap_or_undo(paths: TreePaths, record: dict[str, Any], ours: list[str]) -> None:
    try:
        with _no_ctrl_c():
            _swap(paths, record)
    except OSError as err:
        try:
            _unswap(paths, record)
        except OSError:
            raise BuildError(f"the new build could not be moved into {paths.root} ({describe(err)}) nor the old one "
                             "back; fix the cause and build again: it finishes the swap") from err
        _abandon(paths, ours, err)
        raise


def _swap(paths: TreePaths, record: dict[str, Any]) -> None:
    """Move each new entry into place and park the one it replaces; idempotent, so it also finishes a killed swap."""
    os.makedirs(paths.old, exist_ok=True)
    for name, inode in dict(record.get("entries", {})).items():
        staged, live, parked = paths.new / name, paths.root / name, paths.old / name
        if _inode(staged) == inode:  # not moved yet
            if not os.path.lexists(live):
                os.rename(staged, live)
            elif exchange(staged, live):
                os.rename(staged, parked)
            else:
                os.rename(live, parked)
                os.rename(staged, live)
        elif os.path.lexists(staged):  # exchanged before a kill: what is left is the replaced entry
            os.rename(staged, parked)


def _unswap(paths: TreePaths, record: dict[str, Any]) -> None:
    """Undo `_swap` after an error: new entries back into the staging folder, the replaced ones back in place."""
    for name, inode in dict(record.get("entries", {})).items():
        staged, live, parked = paths.new / name, paths.root / name, paths.old / name
        if _inode(live) == inode:
            os.rename(live, staged)
        if os.path.lexists(parked) and not os.path.lexists(live):
            os.rename(parked, live)
    _remove_empty(paths.old)


def _inode(path: Path) -> int | None:
    try:
        return os.lstat(path).st_ino
    except OSError:
        return None


def _carry(live: Path, new: Path, relpaths: list[str]) -> None:
    """Hard-link live entries into the new tree and re-create folders (with their mode and times); an entry that
    vanished since it was listed is gone and is not carried."""
    folders, made = [], set()
    for relpath in relpaths:
        source, target = join(live, relpath), join(new, relpath)
        try:
            is_dir = stat.S_ISDIR(os.lstat(source).st_mode)
        except FileNotFoundError:
            continue
        if is_dir:
            os.makedirs(target, exist_ok=True)
            folders.append(relpath)
            continue
        parent = os.path.dirname(target)
        if parent not in made:  # thousands of files share a few folders
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        try:
            link_or_copy(source, target)
        except FileNotFoundError:
            if os.path.lexists(source):
                raise
    for relpath in sorted(folders, key=len, reverse=True):
        with contextlib.suppress(OSError):
            os.chmod(join(new, relpath), stat.S_IMODE(os.stat(join(live, relpath)).st_mode))
            stats = os.stat(join(live, relpath))
            os.utime(join(new, relpath), ns=(stats.st_atime_ns, stats.st_mtime_ns))
