"""The final build: spec -> plan -> rendered files in a staged tree -> atomic swap -> manifest and result.

A crash, a kill or Ctrl-C leaves the old dataset or the new one, never a mix (stage.py). Files kohya-prep did
not write are never deleted or overwritten.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from kohya_prep.build.fsops import build_lock
from kohya_prep.build.geometry import FitOutcome, letterbox_outcome
from kohya_prep.build.manifest import FileRecord, Manifest, SourceRecord, read_manifest, write_manifest
from kohya_prep.build.plan import MANIFEST_NAME, BuildPlan, OutputFile, RegSource, make_plan
from kohya_prep.build.render import Progress, RendererPreload, render_all
from kohya_prep.build.sources import check_sources_outside, hash_file, list_reg_sources, source_records
from kohya_prep.build.stage import TreePaths, clear_leftovers, open_root, refuse_foreign_places, staged_tree
from kohya_prep.build.tree import Decision, decide, owned_tops
from kohya_prep.errors import BuildError
from kohya_prep.output import Notice
from kohya_prep.spec import DatasetSpec


@dataclass(frozen=True)
class BuildOptions:
    include_speculative: bool = False
    verify: bool = False
    jobs: int = 0  # 0: one worker per core
    progress: Progress | None = None

    @property
    def workers(self) -> int:
        return self.jobs or os.cpu_count() or 1


@dataclass(frozen=True)
class BuildResult:
    """What a build did, for the report: the plan, what changed on disk, and every warning."""

    spec: DatasetSpec
    plan: BuildPlan
    decision: Decision
    warnings: tuple[Notice, ...] = ()
    rendered: tuple[str, ...] = ()  # image files rendered anew
    captions_written: tuple[str, ...] = ()
    up_to_date: bool = False
    manifest_only: bool = False
    seconds: float = 0.0
    fits: dict[str, FitOutcome] = field(default_factory=dict)  # image relpath -> how it was shaped

    @property
    def root(self) -> Path:
        return self.spec.root

    @property
    def reused(self) -> int:
        return len(self.decision.reuse)


@dataclass
class _Run:
    """What one build works with once the lock is held."""

    spec: DatasetSpec
    options: BuildOptions
    paths: TreePaths
    reg_sources: dict[str, RegSource] = field(default_factory=dict)
    sources: dict[str, SourceRecord] = field(default_factory=dict)


OWNED_DIRS = ("train", "reg")  # a one-size build's folders; with the manifest (and tree.owned_tops) all a build owns


def build_dataset(spec: DatasetSpec, options: BuildOptions | None = None) -> BuildResult:
    """Build spec.root from the spec; write nothing when nothing changed."""
    options = options or BuildOptions()
    started = time.perf_counter()
    check_sources_outside(spec)
    preload = RendererPreload()
    with build_lock(lock_path(spec.root)):
        created = open_root(spec.root)
        try:
            return _build(spec, options, started, preload)
        except BaseException:
            if created:  # a first build that failed leaves no trace
                with contextlib.suppress(OSError):
                    os.rmdir(spec.root)
            raise
        finally:
            preload.join()


def _build(spec: DatasetSpec, options: BuildOptions, started: float, preload: RendererPreload) -> BuildResult:
    paths = TreePaths.dataset(spec.root, OWNED_DIRS)
    leftovers = [Notice("kept-aside", text) for text in clear_leftovers(paths)]
    previous = _previous_manifest(paths.live / MANIFEST_NAME)
    reg_list = list_reg_sources(spec)
    # sources to hash (changed, or a first build): their crops will render, so OpenCV is imported meanwhile (not
    # for --verify, which hashes every source whether it changed or not). The import is over before the path checks
    # below: they make a system call per file, and each would hand the GIL to the import and wait to get it back.
    sources = source_records(spec, reg_list, previous, options.verify, None if options.verify else preload.start)
    preload.join()
    run = _Run(spec, options, paths, {r.id: r for r in reg_list}, sources)
    plan = make_plan(spec, {k: v.sha256 for k, v in run.sources.items()}, reg_list, options.include_speculative)
    run.paths = paths = replace(paths, dirs=owned_tops(plan, previous))
    refuse_foreign_places(paths, [o.relpath for o in plan.outputs], plan.dirs)
    decision = decide(plan, paths.live, previous, options.verify)
    dirs_present = all((paths.live / d).is_dir() for d in plan.dirs)
    if decision.changes_nothing and dirs_present:
        manifest = _manifest(spec, run.sources, decision.reuse, plan)
        changed = manifest != previous
        if changed:
            write_manifest(paths.live / MANIFEST_NAME, manifest)
        return BuildResult(spec, plan, decision, (*plan.warnings, *leftovers), up_to_date=not changed,
                           manifest_only=changed, seconds=time.perf_counter() - started,
                           fits=image_fits(plan, decision.reuse, spec.resolution))
    kept, records = _stage_and_swap(run, plan, decision, decision.dropped(previous))
    return BuildResult(
        spec, plan, decision, (*plan.warnings, *leftovers, *kept),
        rendered=tuple(sorted(o.relpath for o in decision.render)),
        captions_written=tuple(sorted(o.relpath for o in decision.write_text)),
        seconds=time.perf_counter() - started,
        fits=image_fits(plan, records, spec.resolution),
    )


def image_fits(plan: BuildPlan, records: dict[str, FileRecord], resolution: int) -> dict[str, FitOutcome]:
    """How each image of the plan was shaped: a letterbox from its box alone, a bucket fit as its render found it
    (recorded in the manifest, so a rebuild that renders nothing still reports it)."""
    fits = {}
    for output in plan.images:
        assert output.job is not None
        record = records.get(output.relpath)
        if output.job.bucket is None:
            fits[output.relpath] = letterbox_outcome(output.job.box, output.job.resolution)
        elif record is not None and record.fit is not None:
            fits[output.relpath] = FitOutcome.from_data(record.fit)
    return fits


def _previous_manifest(path: Path) -> Manifest | None:
    """The last build's manifest; BuildError when a file of that name is there but is not kohya-prep's."""
    manifest = read_manifest(path)
    if manifest is None and os.path.lexists(path) and not _says_kohya_prep(path):
        raise BuildError(f"{path} was not written by kohya-prep, and a build writes its manifest there; "
                         "move the file away, then build again")
    return manifest


def _says_kohya_prep(path: Path) -> bool:
    try:
        return b'"tool": "kohya-prep"' in path.read_bytes()[:200]
    except OSError:
        return False


def lock_path(root: Path) -> Path:
    """One lock per dataset folder, beside it; the build and the preview take the same one."""
    return root.parent / f".{root.name}.kp-lock"


def _stage_and_swap(run: _Run, plan: BuildPlan, decision: Decision,
                    drop: list[str]) -> tuple[list[Notice], dict[str, FileRecord]]:
    """Build the complete new tree beside the live one and swap it in; notices for what was set aside, and the
    record of every file."""
    ours = [*(o.relpath for o in plan.outputs), MANIFEST_NAME]
    gone = [top for top in run.paths.dirs if not any(d.split("/")[0] == top for d in plan.dirs)]  # a size dropped
    with staged_tree(run.paths, ours, decision.carried, drop=drop, dirs=(*plan.dirs, *gone)) as staged:
        new = staged.folder
        records = dict(decision.reuse)
        rendered = render_all(run.spec, list(decision.render), new, run.reg_sources, run.options.workers,
                              run.options.progress, captions=decision.write_text)  # captions written meanwhile
        by_path = {o.relpath: o for o in (*decision.render, *decision.write_text)}
        for relpath, (sha, size, mtime, fit) in rendered.items():
            records[relpath] = _record(by_path[relpath], sha, size, mtime, fit)
        write_manifest(new / MANIFEST_NAME, _manifest(run.spec, run.sources, records, plan))
    for top in gone:  # staged empty so that the swap parks the old one; kept only when the user's files are in it
        _remove_if_empty(run.paths.root / top)
    return ([Notice("kept-aside", staged.kept)] if staged.kept else []), records


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not empty: the user's files, carried over, keep it
        os.rmdir(folder)


def _record(output: OutputFile, sha: str, size: int, mtime_ns: int, fit: FitOutcome | None = None) -> FileRecord:
    return FileRecord(sha, size, mtime_ns, output.key, output.kind, output.owner, fit.to_data() if fit is not None else None)


def _manifest(spec: DatasetSpec, sources: dict[str, SourceRecord], files: dict[str, FileRecord], plan: BuildPlan) -> Manifest:
    return Manifest(
        spec_path=str(spec.path),
        spec_sha256=hash_file(spec.path),
        sources=sources,
        files=files,
        skipped=[{"crop": name, "status": status} for name, status in plan.skipped],
        dirs=list(plan.dirs),
    )
