"""The final build: spec -> plan -> rendered files in a staging tree -> atomic swap -> manifest.

A crash, a kill or Ctrl-C leaves the old dataset or the new one, never a mix: the new tree is built
beside the live one (unchanged files and the user's own files hard-linked into it, so nothing is copied
and mtimes stay), then swapped in with one atomic rename. Files kohya-prep did not write are never
deleted or overwritten.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from kohya_prep.errors import BuildError
from kohya_prep.fsops import build_lock, link_or_copy, recover, same_file, swap_into_place
from kohya_prep.manifest import FileRecord, Manifest, SourceRecord, read_manifest, write_manifest
from kohya_prep.plan import MANIFEST_NAME, PREVIEW_DIR, BuildPlan, OutputFile, RegSource, digest, make_plan, reg_stem
from kohya_prep.sdscripts.folders import METADATA_CACHE_NAME, is_cache_file
from kohya_prep.spec import DatasetSpec, read_image_header

PLAN_MARKER = ".kp-plan.json"
REG_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BuildOptions:
    include_speculative: bool = False
    verify: bool = False
    jobs: int = 0  # 0: one worker per core
    progress: Progress | None = None


@dataclass
class BuildResult:
    """What a build did, for the report."""

    spec: DatasetSpec
    plan: BuildPlan
    rendered: list[str] = field(default_factory=list)  # image files rendered anew
    captions_written: list[str] = field(default_factory=list)
    reused: int = 0
    removed: list[str] = field(default_factory=list)
    kept_foreign: list[str] = field(default_factory=list)
    dropped_caches: list[str] = field(default_factory=list)
    up_to_date: bool = False
    manifest_only: bool = False
    seconds: float = 0.0

    @property
    def root(self) -> Path:
        return self.spec.root


@dataclass(frozen=True)
class _Paths:
    root: Path
    new: Path
    old: Path
    lock: Path

    @classmethod
    def for_root(cls, root: Path) -> _Paths:
        parent, name = root.parent, root.name
        return cls(root, parent / f".{name}.kp-new", parent / f".{name}.kp-old", parent / f".{name}.kp-lock")


# ---------------------------------------------------------------- inputs


def _hash_file(path: Path) -> str:
    return digest(path.read_bytes())


def _source_record(source_id: str, path: Path, previous: Manifest | None, verify: bool) -> SourceRecord:
    """Hash a source, trusting size+mtime against the last build unless --verify."""
    stat = path.stat()
    old = previous.sources.get(source_id) if previous else None
    if old and not verify and old.path == str(path) and old.size == stat.st_size and old.mtime_ns == stat.st_mtime_ns:
        return old
    return SourceRecord(str(path), _hash_file(path), stat.st_size, stat.st_mtime_ns)


def list_reg_sources(spec: DatasetSpec) -> list[RegSource]:
    """The user's reg images, sorted by name, each with a safe unique output stem."""
    if spec.reg.image_dir is None:
        return []
    taken: set[str] = set()
    found, unreadable = [], []
    for path in sorted(spec.reg.image_dir.iterdir()):
        if not path.is_file() or path.suffix.lower() not in REG_EXTENSIONS:
            continue
        try:
            size, jpeg = read_image_header(path)
        except (OSError, SyntaxError, ValueError):
            unreadable.append(path.name)
            continue
        found.append(RegSource(f"reg/{path.name}", str(path), size, reg_stem(path.name, taken), jpeg))
    if unreadable:
        raise BuildError(
            f"reg images in {spec.reg.image_dir} are not readable images: {', '.join(unreadable)}; "
            "re-export or remove them"
        )
    return found


def _check_sources_outside(spec: DatasetSpec) -> None:
    root = spec.root.resolve()
    paths = [s.path for s in spec.sources.values()] + ([spec.reg.image_dir] if spec.reg.image_dir else [])
    for path in paths:
        if path.resolve().is_relative_to(root):
            raise BuildError(
                f"{path} lies inside the output folder {root}; kohya-prep never writes where its sources are: "
                "move the sources or rename the dataset"
            )


# ---------------------------------------------------------------- the live tree


def _walk_files(tree: Path) -> Iterator[str]:
    """Relative posix paths of every file under `tree` (plain strings: this runs once per file)."""
    top = str(tree)
    for folder, _dirs, files in os.walk(top):
        rel = os.path.relpath(folder, top).replace(os.sep, "/")
        prefix = "" if rel == "." else rel + "/"
        for name in files:
            yield prefix + name


def _join(tree: Path | str, relpath: str) -> str:
    return os.path.join(tree, relpath)


@dataclass
class _Decision:
    render: list[OutputFile] = field(default_factory=list)
    write_text: list[OutputFile] = field(default_factory=list)
    reuse: dict[str, FileRecord] = field(default_factory=dict)  # relpath -> record (bytes unchanged)
    foreign: list[str] = field(default_factory=list)
    dropped_caches: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    preview: list[str] = field(default_factory=list)


def _current_record(root: Path, relpath: str, record: FileRecord, verify: bool) -> FileRecord | None:
    """The record of an output still on disk as we wrote it, or None (missing or changed by someone)."""
    try:
        stat = os.stat(_join(root, relpath))
    except OSError:
        return None
    if stat.st_size == record.size and stat.st_mtime_ns == record.mtime_ns and not verify:
        return record
    if stat.st_size == record.size and _hash_file(Path(_join(root, relpath))) == record.sha256:
        return FileRecord(record.sha256, record.size, stat.st_mtime_ns, record.key, record.kind, record.owner)
    return None


def _decide(plan: BuildPlan, root: Path, previous: Manifest | None, verify: bool) -> _Decision:
    decision = _Decision()
    old_files = previous.files if previous else {}
    planned = {o.relpath: o for o in plan.outputs}
    edited = []
    for output in plan.outputs:
        old = old_files.get(output.relpath)
        current = _current_record(root, output.relpath, old, verify) if old else None
        if old and current is None and os.path.exists(_join(root, output.relpath)):
            edited.append(output.relpath)
        if current is not None and current.key == output.key:
            decision.reuse[output.relpath] = current
        elif output.kind == "image":
            decision.render.append(output)
        else:
            decision.write_text.append(output)
    for relpath, old in old_files.items():
        if relpath not in planned and os.path.exists(_join(root, relpath)):
            if _current_record(root, relpath, old, verify) is None:
                edited.append(relpath)
            decision.removed.append(relpath)
    if edited:
        shown = ", ".join(edited[:5]) + (f" and {len(edited) - 5} more" if len(edited) > 5 else "")
        raise BuildError(
            f"{shown} in {root} changed after kohya-prep wrote them; put the change into the spec "
            "(captions, boxes) or delete those files, then build again"
        )
    if root.is_dir():
        _sort_unowned(root, plan, old_files, decision)
    return decision


def _sort_unowned(root: Path, plan: BuildPlan, old_files: dict[str, FileRecord], decision: _Decision) -> None:
    """Files in the live tree that are not in the manifest: the preview, stale sd-scripts caches, the user's."""
    planned = {o.relpath for o in plan.outputs}
    changed = {o.relpath for o in decision.render} | set(decision.removed)
    changed_stems: dict[str, set[str]] = {}
    for path in (PurePosixPath(p) for p in changed if p.endswith(".png")):
        changed_stems.setdefault(str(path.parent), set()).add(path.stem)
    collisions = []
    for relpath in _walk_files(root):
        if relpath in old_files or relpath == MANIFEST_NAME:
            continue
        if relpath.startswith(PREVIEW_DIR + "/"):
            decision.preview.append(relpath)
            continue
        pure = PurePosixPath(relpath)
        folder = str(pure.parent)
        if is_cache_file(pure.name) and _is_stale_cache(pure.name, changed_stems.get(folder, set())):
            decision.dropped_caches.append(relpath)
            continue
        if relpath in planned:
            collisions.append(relpath)
        decision.foreign.append(relpath)
    if collisions:
        raise BuildError(
            f"{', '.join(collisions[:5])} in {root} was not written by kohya-prep and a crop would overwrite it; "
            "move the file away or rename the crop"
        )


def _is_stale_cache(name: str, changed_stems: set[str]) -> bool:
    """sd-scripts' caches of an image we re-render or remove (in this folder) would train on the old pixels.

    A cache is `<stem>.npz` or `<stem>_<suffix>.npz`; metadata_cache.json covers the whole folder.
    """
    if name == METADATA_CACHE_NAME:
        return bool(changed_stems)
    if name.endswith(".npz") and name[:-4] in changed_stems:
        return True
    return any(name[:i] in changed_stems for i, char in enumerate(name) if char == "_")


# ---------------------------------------------------------------- rendering


def _cuts(outputs: list[OutputFile]) -> dict[str, dict[tuple[int, ...], list[OutputFile]]]:
    """Image outputs grouped by source, then by box: one decode per source, one resize per box."""
    grouped: dict[str, dict[tuple[int, ...], list[OutputFile]]] = {}
    for output in outputs:
        assert output.job is not None
        by_box = grouped.setdefault(output.job.source, {})
        by_box.setdefault(tuple(output.job.box.as_list()), []).append(output)
    return grouped


def _source_scale(by_box: dict[tuple[int, ...], list[OutputFile]]) -> float:
    """The decode scale the plan chose for this source (the same on every job from it)."""
    job = next(iter(by_box.values()))[0].job
    return job.scale if job else 1.0


def _source_path(spec: DatasetSpec, source_id: str, reg_sources: dict[str, RegSource]) -> Path:
    return spec.sources[source_id].path if source_id in spec.sources else Path(reg_sources[source_id].path)


def _render_cut(decoded, outputs: list[OutputFile], spec: DatasetSpec, staging: Path) -> list[tuple[str, str, int]]:
    from kohya_prep.render import encode_png, mirror, render_letterbox

    assert outputs[0].job is not None
    canvas = render_letterbox(decoded, outputs[0].job.box, spec.resolution, spec.background)
    written = []
    for output in outputs:
        assert output.job is not None
        data = encode_png(mirror(canvas) if output.job.flip else canvas, spec.png)
        (staging / output.relpath).write_bytes(data)
        written.append((output.relpath, digest(data), len(data)))
    return written


def _decode(spec: DatasetSpec, source_id: str, scale: float, reg_sources: dict[str, RegSource]):
    from kohya_prep.render import CorruptImage, decode

    path = _source_path(spec, source_id, reg_sources)
    try:
        return decode(path, spec.background, scale)
    except CorruptImage as err:
        raise BuildError(
            f"source '{source_id}' ({path.name}) could not be decoded ({err}); it is corrupt or truncated: "
            "re-export it, then build again"
        ) from None


def render_all(spec: DatasetSpec, outputs: list[OutputFile], staging: Path, reg_sources: dict[str, RegSource],
               jobs: int, progress: Progress | None, on_decoded: Callable[[str, Any], None] | None = None,
               ) -> dict[str, tuple[str, int]]:
    """Render image outputs into `staging`: each source decoded once, boxes spread over `jobs` threads.

    At most jobs + 1 decoded sources are held at once, so memory stays bounded with many large sources.
    `on_decoded(source_id, decoded)` sees each decoded source once (the preview draws its overlays there).
    """
    grouped = _cuts(outputs)
    total, done = len(outputs), 0
    results: dict[str, tuple[str, int]] = {}
    if jobs <= 1:
        for source_id, by_box in grouped.items():
            decoded = _decode(spec, source_id, _source_scale(by_box), reg_sources)
            if on_decoded:
                on_decoded(source_id, decoded)
            for cut in by_box.values():
                for relpath, sha, size in _render_cut(decoded, cut, spec, staging):
                    results[relpath] = (sha, size)
                    done += 1
                if progress:
                    progress(done, total)
        return results
    pending = list(grouped.items())
    remaining: dict[str, int] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        in_flight: dict[Future, tuple[str, str]] = {}
        decoded_alive = 0
        try:
            while pending or in_flight:
                while pending and decoded_alive <= jobs:
                    source_id, by_box = pending.pop(0)
                    in_flight[pool.submit(_decode, spec, source_id, _source_scale(by_box), reg_sources)] = ("decode", source_id)
                    decoded_alive += 1
                finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in finished:
                    kind, source_id = in_flight.pop(future)
                    if kind == "decode":
                        decoded = future.result()
                        if on_decoded:
                            on_decoded(source_id, decoded)
                        cuts = list(grouped[source_id].values())
                        remaining[source_id] = len(cuts)
                        for cut in cuts:
                            in_flight[pool.submit(_render_cut, decoded, cut, spec, staging)] = ("cut", source_id)
                        continue
                    for relpath, sha, size in future.result():
                        results[relpath] = (sha, size)
                        done += 1
                    remaining[source_id] -= 1
                    if remaining[source_id] == 0:
                        decoded_alive -= 1
                    if progress:
                        progress(done, total)
        except BaseException:
            for future in in_flight:
                future.cancel()
            raise
    return results


# ---------------------------------------------------------------- the swap


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
    for relpath in list(_walk_files(tree)):
        path, twin = _join(tree, relpath), _join(live, relpath)
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


def _stage(spec: DatasetSpec, plan: BuildPlan, decision: _Decision, paths: _Paths, reg_sources: dict[str, RegSource],
           options: BuildOptions) -> dict[str, FileRecord]:
    """Build the complete new tree in paths.new and return the manifest's file records."""
    new = paths.new
    new.mkdir(parents=True)
    (new / PLAN_MARKER).write_text("\n".join(o.relpath for o in plan.outputs), encoding="utf-8")
    for folder in plan.dirs:
        (new / folder).mkdir(parents=True, exist_ok=True)
    carried = decision.foreign + decision.preview + list(decision.reuse)
    for folder in {os.path.dirname(relpath) for relpath in carried}:
        os.makedirs(_join(new, folder), exist_ok=True)
    for relpath in carried:
        link_or_copy(_join(paths.root, relpath), _join(new, relpath))
    records = dict(decision.reuse)
    for output in decision.write_text:
        data = (output.text or "").encode("utf-8") + b"\n"
        (new / output.relpath).write_bytes(data)
        records[output.relpath] = _record(new, output, digest(data), len(data))
    jobs = options.jobs or os.cpu_count() or 1
    rendered = render_all(spec, decision.render, new, reg_sources, jobs, options.progress)
    by_path = {o.relpath: o for o in decision.render}
    for relpath, (sha, size) in rendered.items():
        records[relpath] = _record(new, by_path[relpath], sha, size)
    return records


def _record(tree: Path, output: OutputFile, sha: str, size: int) -> FileRecord:
    return FileRecord(sha, size, os.stat(_join(tree, output.relpath)).st_mtime_ns, output.key, output.kind, output.owner)


def _manifest(spec: DatasetSpec, sources: dict[str, SourceRecord], files: dict[str, FileRecord], plan: BuildPlan) -> Manifest:
    return Manifest(
        spec_path=str(spec.path),
        spec_sha256=_hash_file(spec.path),
        sources=sources,
        files=files,
        skipped=[{"crop": name, "status": status} for name, status in plan.skipped],
    )


def build_dataset(spec: DatasetSpec, options: BuildOptions | None = None) -> BuildResult:
    """Build spec.root from the spec; write nothing when nothing changed."""
    options = options or BuildOptions()
    started = time.perf_counter()
    paths = _Paths.for_root(spec.root)
    _check_sources_outside(spec)
    with build_lock(paths.lock):
        recover(paths.new, paths.root, paths.old, MANIFEST_NAME)
        leftovers = [discard_tree(tree, paths.root) for tree in (paths.new, paths.old)]
        previous = read_manifest(paths.root / MANIFEST_NAME)
        reg_list = list_reg_sources(spec)
        reg_sources = {r.id: r for r in reg_list}
        used = {c.source for c in spec.crops}
        sources = {sid: _source_record(sid, s.path, previous, options.verify) for sid, s in spec.sources.items() if sid in used}
        sources.update({r.id: _source_record(r.id, Path(r.path), previous, options.verify) for r in reg_list})
        plan = make_plan(spec, {k: v.sha256 for k, v in sources.items()}, reg_list, options.include_speculative)
        decision = _decide(plan, paths.root, previous, options.verify)
        result = BuildResult(spec, plan, removed=decision.removed, kept_foreign=decision.foreign,
                             dropped_caches=decision.dropped_caches)
        plan.warnings.extend(w for w in leftovers if w)
        dirs_present = all((paths.root / d).is_dir() for d in plan.dirs)
        if not (decision.render or decision.write_text or decision.removed or decision.dropped_caches) and dirs_present:
            result.reused = len(decision.reuse)
            manifest = _manifest(spec, sources, decision.reuse, plan)
            if manifest != previous:
                write_manifest(paths.root / MANIFEST_NAME, manifest)
                result.manifest_only = True
            else:
                result.up_to_date = True
            result.seconds = time.perf_counter() - started
            return result
        try:
            records = _stage(spec, plan, decision, paths, reg_sources, options)
            write_manifest(paths.new / MANIFEST_NAME, _manifest(spec, sources, records, plan))
            (paths.new / PLAN_MARKER).unlink()
        except BaseException:
            discard_tree(paths.new, paths.root)
            raise
        swap_into_place(paths.new, paths.root, paths.old)
        kept = discard_tree(paths.old, paths.root, tuple(decision.dropped_caches))
        if kept:
            plan.warnings.append(kept)
    result.rendered = sorted(o.relpath for o in decision.render)
    result.captions_written = sorted(o.relpath for o in decision.write_text)
    result.reused = len(decision.reuse)
    result.seconds = time.perf_counter() - started
    return result
