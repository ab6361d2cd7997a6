"""The live tree against the plan: which outputs are still current, which must be rendered or written, which
are gone from the spec, and which files are not ours (the user's, the preview, stale sd-scripts caches)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from kohya_prep.build.manifest import FileRecord, Manifest
from kohya_prep.build.plan import MANIFEST_NAME, PREVIEW_DIR, BuildPlan, OutputFile
from kohya_prep.build.sources import hash_file
from kohya_prep.errors import BuildError
from kohya_prep.sdscripts.folders import METADATA_CACHE_NAME, cache_owner_stems, is_cache_file


def walk_files(tree: Path | str) -> Iterator[str]:
    """Relative posix paths of every file under `tree` (plain strings: this runs once per file)."""
    top = str(tree)
    for folder, _dirs, files in os.walk(top):
        rel = os.path.relpath(folder, top).replace(os.sep, "/")
        prefix = "" if rel == "." else rel + "/"
        for name in files:
            yield prefix + name


def join(tree: Path | str, relpath: str) -> str:
    return os.path.join(tree, relpath)


@dataclass(frozen=True)
class Decision:
    """What the build does with each file of the plan and of the live tree."""

    render: tuple[OutputFile, ...] = ()
    write_text: tuple[OutputFile, ...] = ()
    reuse: dict[str, FileRecord] = field(default_factory=dict)  # relpath -> record (bytes unchanged)
    foreign: tuple[str, ...] = ()
    dropped_caches: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    preview: tuple[str, ...] = ()

    @property
    def changes_nothing(self) -> bool:
        return not (self.render or self.write_text or self.removed or self.dropped_caches)

    @property
    def carried(self) -> list[str]:
        """Live files that go into the new tree unchanged (hard-linked)."""
        return [*self.foreign, *self.preview, *self.reuse]


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
    return _sort_unowned(root, planned, old_files, decision) if root.is_dir() else decision


def _sort_unowned(root: Path, planned: set[str], old_files: dict[str, FileRecord], decision: Decision) -> Decision:
    """Files in the live tree that are not in the manifest: the preview, stale sd-scripts caches, the user's."""
    changed = {o.relpath for o in decision.render} | set(decision.removed)
    changed_stems: dict[str, set[str]] = {}
    for path in (PurePosixPath(p) for p in changed if p.endswith(".png")):
        changed_stems.setdefault(str(path.parent), set()).add(path.stem)
    foreign, preview, dropped, collisions = [], [], [], []
    for relpath in walk_files(root):
        if relpath in old_files or relpath == MANIFEST_NAME:
            continue
        if relpath.startswith(PREVIEW_DIR + "/"):
            preview.append(relpath)
            continue
        pure = PurePosixPath(relpath)
        if is_cache_file(pure.name) and is_stale_cache(pure.name, changed_stems.get(str(pure.parent), set())):
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
                    decision.removed, tuple(preview))


def is_stale_cache(name: str, changed_stems: set[str]) -> bool:
    """sd-scripts' caches of an image we re-render or remove (in this folder) would train on the old pixels;
    metadata_cache.json covers the whole folder."""
    if name == METADATA_CACHE_NAME:
        return bool(changed_stems)
    return any(stem in changed_stems for stem in cache_owner_stems(name))
