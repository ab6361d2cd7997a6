"""The live tree against the plan: which outputs are still current, which must be rendered or written, which
are gone from the spec, and which files are not ours (the user's, the preview, stale sd-scripts caches)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from kohya_prep.build.manifest import FileRecord, Manifest
from kohya_prep.build.plan import MANIFEST_NAME, BuildPlan, OutputFile
from kohya_prep.build.sources import hash_file
from kohya_prep.errors import BuildError
from kohya_prep.sdscripts.folders import METADATA_CACHE_NAME, cache_owner_stems, is_cache_file


def _raise(err: OSError) -> None:
    raise err


def _walk(tree: Path | str, tops: tuple[str, ...]) -> Iterator[tuple[str, bool]]:
    """(relative posix path, is a folder) of every entry under `tree` (or under its sub-folders `tops`).

    Symlinks are entries, never followed, also when they point at a folder; an unreadable folder is an error,
    not a silent gap (what is not seen would not be carried into the new tree).
    """
    for top in tops or ("",):
        start = os.path.join(tree, top) if top else str(tree)
        if top and (os.path.islink(start) or not os.path.isdir(start)):
            continue
        for folder, dirs, files in os.walk(start, onerror=_raise):
            rel = os.path.relpath(folder, tree).replace(os.sep, "/")
            prefix = "" if rel == "." else rel + "/"
            for name in dirs:
                yield prefix + name, not os.path.islink(os.path.join(folder, name))
            for name in files:
                yield prefix + name, False


def walk_files(tree: Path | str, tops: tuple[str, ...] = ()) -> Iterator[str]:
    """Relative posix paths of every entry under `tree` that is not a folder: files, symlinks, pipes (plain strings:
    this runs once per file)."""
    return (relpath for relpath, is_dir in _walk(tree, tops) if not is_dir)


def walk_dirs(tree: Path | str, tops: tuple[str, ...] = ()) -> Iterator[str]:
    """Relative posix paths of every real folder under `tree` (symlinks to folders are entries: walk_files)."""
    return (relpath for relpath, is_dir in _walk(tree, tops) if is_dir)


def walk_entries(tree: Path | str) -> list[str]:
    """Every entry under `tree`, folders included: what a staged tree carries of a folder it owns whole."""
    return [relpath for relpath, _ in _walk(tree, ())]


def join(tree: Path | str, relpath: str) -> str:
    return os.path.join(tree, relpath)


@dataclass(frozen=True)
class Decision:
    """What the build does with each file of the plan and of the live tree."""

    render: tuple[OutputFile, ...] = ()
    write_text: tuple[OutputFile, ...] = ()
    reuse: dict[str, FileRecord] = field(default_factory=dict)  # relpath -> record (bytes unchanged)
    foreign: tuple[str, ...] = ()  # the user's files and symlinks in train/ and reg/
    dropped_caches: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    foreign_dirs: tuple[str, ...] = ()  # the user's folders in train/ and reg/ (empty ones too)

    @property
    def changes_nothing(self) -> bool:
        return not (self.render or self.write_text or self.removed or self.dropped_caches)

    @property
    def carried(self) -> list[str]:
        """Live entries that go into the new tree unchanged (hard-linked, folders re-created)."""
        return [*self.foreign_dirs, *self.foreign, *self.reuse]

    def dropped(self, previous: Manifest | None) -> list[str]:
        """Live files deliberately left out of the new tree: ours, replaced or removed, and stale caches."""
        old_files = previous.files if previous else {}
        return [*(r for r in old_files if r not in self.reuse), *self.dropped_caches, MANIFEST_NAME]


def current_record(root: Path, relpath: str, record: FileRecord, verify: bool) -> FileRecord | None:
    """The record of an output still on disk as we wrote it, or None (missing or changed by someone)."""
    try:
        stat = os.stat(join(root, relpath))
    except OSError:
        return None
    if stat.st_size == record.size and stat.st_mtime_ns == record.mtime_ns and not verify:
        return record
    if stat.st_size == record.size and hash_file(join(root, relpath)) == record.sha256:
        return replace(record, mtime_ns=stat.st_mtime_ns)
    return None


def decide(plan: BuildPlan, root: Path, previous: Manifest | None, verify: bool) -> Decision:
    """Compare the plan with the live tree; BuildError when a file we wrote was edited by hand."""
    old_files = previous.files if previous else {}
    planned = {o.relpath for o in plan.outputs}
    render, write_text, removed, edited = [], [], [], []
    reuse: dict[str, FileRecord] = {}
    for output in plan.outputs:
        old = old_files.get(output.relpath)
        current = current_record(root, output.relpath, old, verify) if old else None
        if old and current is None and os.path.exists(join(root, output.relpath)):
            edited.append(output.relpath)
        if current is not None and current.key == output.key:
            reuse[output.relpath] = current
        elif output.kind == "image":
            render.append(output)
        else:
            write_text.append(output)
    for relpath, old in old_files.items():
        if relpath not in planned and os.path.exists(join(root, relpath)):
            if current_record(root, relpath, old, verify) is None:
                edited.append(relpath)
            removed.append(relpath)
    if edited:
        shown = ", ".join(edited[:5]) + (f" and {len(edited) - 5} more" if len(edited) > 5 else "")
        raise BuildError(
            f"{shown} in {root} changed after kohya-prep wrote them; put the change into the spec "
            "(captions, boxes) or delete those files, then build again"
        )
    decision = Decision(tuple(render), tuple(write_text), reuse, removed=tuple(removed))
    return _sort_unowned(root, plan, old_files, decision, previous) if root.is_dir() else decision


def owned_tops(plan: BuildPlan, previous: Manifest | None) -> tuple[str, ...]:
    """The dataset folder's entries a build owns: the top folders of the plan and of the last build (train/ and
    reg/, or one <size>px/ per resolution), so a size dropped from the spec goes with the next build."""
    tops = {d.split("/")[0] for d in plan.dirs}
    if previous is not None:  # only names a build makes: a manifest edited by hand never hands over a folder of yours
        tops |= {top for r in (*previous.dirs, *previous.files) if "/" in r and _is_build_top(top := r.split("/")[0])}
    return tuple(sorted(tops))


def _is_build_top(name: str) -> bool:
    """train/ and reg/, or a resolution's folder: <size>px/ (spec.model: DatasetSpec.tree_prefix)."""
    return name in ("train", "reg") or (name.endswith("px") and name[:-2].isdigit() and name[:-2].isascii())


def _ours_dirs(plan: BuildPlan, old_files: dict[str, FileRecord], previous: Manifest | None) -> set[str]:
    """Folders kohya-prep made: those of the plan and of the last build, with their parents."""
    made = {*plan.dirs, *(previous.dirs if previous else ()), *(o.folder for o in plan.outputs),
            *(r.rpartition("/")[0] or "." for r in old_files)}  # posix relpaths: string work, a file at a time
    ours = {"."}
    for folder in made:
        while folder and folder not in ours:
            ours.add(folder)
            folder = folder.rpartition("/")[0]
    return ours


def _sort_unowned(root: Path, plan: BuildPlan, old_files: dict[str, FileRecord], decision: Decision,
                  previous: Manifest | None) -> Decision:
    """Entries of train/ and reg/ that are not in the manifest: stale sd-scripts caches, the user's files and
    folders. The rest of the dataset folder is not looked at: it is not ours and stays as it is."""
    planned = {o.relpath for o in plan.outputs}
    tops = owned_tops(plan, previous)
    changed = {o.relpath for o in decision.render} | set(decision.removed)
    changed_stems: dict[str, set[str]] | None = None  # made when a cache file is found (none on a first build)
    ours_dirs = _ours_dirs(plan, old_files, previous)
    foreign_dirs = tuple(d for d in walk_dirs(root, tops) if d not in ours_dirs)
    foreign, dropped, collisions = [], [], []
    for relpath in walk_files(root, tops):
        if relpath in old_files:
            continue
        parent, _, name = relpath.rpartition("/")  # a posix relpath from walk_files: string work, a file at a time
        if is_cache_file(name):
            changed_stems = _stems_by_folder(changed) if changed_stems is None else changed_stems
            if is_stale_cache(name, changed_stems.get(parent or ".", set())):
                dropped.append(relpath)
                continue
        if relpath in planned:
            collisions.append(relpath)
        foreign.append(relpath)
    if collisions:
        raise BuildError(
            f"{', '.join(collisions[:5])} in {root} was not written by kohya-prep and a crop would overwrite it; "
            "move the file away or rename the crop"
        )
    return Decision(decision.render, decision.write_text, decision.reuse, tuple(foreign), tuple(dropped),
                    decision.removed, foreign_dirs)


def _stems_by_folder(relpaths: set[str]) -> dict[str, set[str]]:
    """The stems of the PNGs among `relpaths`, by folder."""
    stems: dict[str, set[str]] = {}
    for path in (PurePosixPath(p) for p in relpaths if p.endswith(".png")):
        stems.setdefault(str(path.parent), set()).add(path.stem)
    return stems


def is_stale_cache(name: str, changed_stems: set[str]) -> bool:
    """sd-scripts' caches of an image we re-render or remove (in this folder) would train on the old pixels;
    metadata_cache.json covers the whole folder."""
    if name == METADATA_CACHE_NAME:
        return bool(changed_stems)
    return any(stem in changed_stems for stem in cache_owner_stems(name))
