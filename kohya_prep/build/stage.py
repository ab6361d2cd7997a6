"""The staged tree: a new tree built beside the live one, then swapped in whole; shared by the build and the preview.

A crash, a kill or Ctrl-C leaves the old tree or the new one, never a mix. The new tree holds a plan marker (the
files that are ours) until it is complete; the live tree's unchanged files and the user's own are hard-linked into
it, so nothing is copied and mtimes stay. Nothing that is not provably ours is ever deleted.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kohya_prep.build.fsops import link_or_copy, same_file, swap_into_place
from kohya_prep.build.manifest import read_manifest
from kohya_prep.build.plan import MANIFEST_NAME
from kohya_prep.build.tree import join, walk_files

PLAN_MARKER = ".kp-plan.json"


@dataclass(frozen=True)
class TreePaths:
    """A live tree and its two companions: the tree being built, and the previous tree after the swap."""

    live: Path
    new: Path
    old: Path

    @classmethod
    def beside(cls, live: Path) -> TreePaths:
        parent, name = live.parent, live.name
        return cls(live, parent / f".{name}.kp-new", parent / f".{name}.kp-old")


@dataclass
class StagedTree:
    """The tree being built; after the swap, `kept` says where leftovers were set aside (or None)."""

    paths: TreePaths
    kept: str | None = None

    @property
    def folder(self) -> Path:
        return self.paths.new


def recover(paths: TreePaths) -> None:
    """After a death between the two renames of a non-atomic swap, put a whole tree back in place.

    A new tree is complete once its plan marker is gone (the marker is removed last, just before the swap).
    """
    if paths.live.exists() or not paths.old.exists():
        return
    if paths.new.is_dir() and not (paths.new / PLAN_MARKER).exists():
        os.rename(paths.new, paths.live)
    else:
        os.rename(paths.old, paths.live)


def clear_leftovers(paths: TreePaths) -> list[str]:
    """Mend and remove what an interrupted run left beside the live tree; warnings for what was set aside."""
    recover(paths)
    return [w for w in (discard_tree(tree, paths.live) for tree in (paths.new, paths.old)) if w]


def discard_tree(tree: Path, live: Path, also_ours: tuple[str, ...] = ()) -> str | None:
    """Remove a leftover tree, deleting only what is provably ours or still present in `live`.

    Ours: listed in the tree's manifest or plan marker (or `also_ours`). Present: the same file (hard
    link) at the same place in `live`. Anything else moves into `live` if its place is free; what is
    left then is set aside in a `.kept-` folder whose name is returned, so nothing is ever lost.
    """
    if not tree.exists():
        return None
    ours: set[str] = set(also_ours)
    manifest = read_manifest(tree / MANIFEST_NAME)
    if manifest:
        ours.update(manifest.files)
    marker = tree / PLAN_MARKER
    if marker.exists():
        ours.update(marker.read_text(encoding="utf-8").splitlines())
    kept = []
    live_exists = live.exists()
    for relpath in list(walk_files(tree)):
        path, twin = join(tree, relpath), join(live, relpath)
        if relpath in ours or relpath in (MANIFEST_NAME, PLAN_MARKER) or same_file(path, twin):
            os.unlink(path)
        elif live_exists and not os.path.exists(twin):
            os.makedirs(os.path.dirname(twin), exist_ok=True)
            os.rename(path, twin)
        elif not path.endswith(".kp-tmp"):
            kept.append(relpath)
        else:
            os.unlink(path)
    for folder, _dirs, _files in sorted(os.walk(tree), key=lambda entry: -len(entry[0])):
        with contextlib.suppress(OSError):
            os.rmdir(folder)
    if not kept:
        return None
    aside = tree.with_name(f"{live.name}.kept-{time.strftime('%Y%m%d-%H%M%S')}")
    os.rename(tree, aside)
    return f"{len(kept)} file(s) that appeared in {live} during a build were kept in {aside}; move them back by hand"


@contextlib.contextmanager
def staged_tree(paths: TreePaths, ours: Iterable[str], carry: Iterable[str], drop: Iterable[str] = ()) -> Iterator[StagedTree]:
    """A new tree holding `carry` (hard-linked from the live tree); written to by the caller, then swapped in.

    `ours` are the files the caller will write (a killed run's leftovers are recognised by them). `drop` are live
    files deliberately left out of the new tree; they are deleted with the old tree after the swap. On any
    exception the new tree is discarded and the live tree stays as it was.
    """
    new = paths.new
    new.mkdir(parents=True)
    staged = StagedTree(paths)
    try:
        (new / PLAN_MARKER).write_text("\n".join(ours), encoding="utf-8")
        _carry(paths.live, new, list(carry))
        yield staged
        (new / PLAN_MARKER).unlink()
    except BaseException:
        discard_tree(new, paths.live)
        raise
    swap_into_place(new, paths.live, paths.old)
    staged.kept = discard_tree(paths.old, paths.live, tuple(drop))


def _carry(live: Path, new: Path, relpaths: list[str]) -> None:
    for folder in {os.path.dirname(relpath) for relpath in relpaths}:
        os.makedirs(join(new, folder), exist_ok=True)
    for relpath in relpaths:
        link_or_copy(join(live, relpath), join(new, relpath))
