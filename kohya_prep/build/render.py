"""The render stage: image outputs into a folder, each source decoded once, boxes spread over worker threads.

Decoding, resizing and encoding release the GIL, so threads keep both cores busy while one decoded source
serves every crop cut from it (at every resolution). Each thread takes its next task from one schedule
(decode ahead, else cut); the calling thread writes the captions meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kohya_prep.build.fsops import write_file
from kohya_prep.build.geometry import FitOutcome
from kohya_prep.build.plan import OutputFile, RegSource, RenderJob, digest
from kohya_prep.errors import BuildError
from kohya_prep.spec import DatasetSpec

Progress = Callable[[int, int], None]
Cut = list[OutputFile]  # the outputs of one box of one source: the crop and its flip
CutKey = tuple[object, ...]
# sha256, size, mtime (ns) as written, and how a bucket fit shaped the image (None: a letterbox or a caption)
Written = tuple[str, int, int, FitOutcome | None]


def _cuts(outputs: list[OutputFile]) -> dict[str, dict[CutKey, Cut]]:
    """Image outputs grouped by source, then by box and shape: one decode per source, one resize per cut."""
    grouped: dict[str, dict[CutKey, Cut]] = {}
    for output in outputs:
        assert output.job is not None
        by_box = grouped.setdefault(output.job.source, {})
        by_box.setdefault(output.job.cut, []).append(output)
    return grouped


def _source_scale(by_box: dict[CutKey, Cut]) -> float:
    """The decode scale the plan chose for this source (the same on every job from it)."""
    job = next(iter(by_box.values()))[0].job
    return job.scale if job else 1.0


def _keeps_alpha(by_box: dict[CutKey, Cut]) -> bool:
    """Whether some cut of this source takes its loss mask from the source's alpha."""
    return any(cut[0].job is not None and cut[0].job.mask == "alpha" for cut in by_box.values())


def render_job(decoded: Any, job: RenderJob, resolution: int, background: tuple[int, int, int]) -> tuple[Any, FitOutcome | None]:
    """The unflipped image of one cut, and its bucket fit (None for a letterbox, whose geometry is pure)."""
    from kohya_prep.build.pixels import render_bucket, render_letterbox, render_letterbox_masked

    if job.bucket is not None:
        return render_bucket(decoded, job.box, job.bucket, background, job.mask)
    if job.mask != "none":
        return render_letterbox_masked(decoded, job.box, resolution, background, job.mask), None
    return render_letterbox(decoded, job.box, resolution, background), None


def _source_path(spec: DatasetSpec, source_id: str, reg_sources: dict[str, RegSource]) -> Path:
    return spec.sources[source_id].path if source_id in spec.sources else Path(reg_sources[source_id].path)


def _render_cut(decoded: Any, outputs: Cut, spec: DatasetSpec, folder: Path) -> list[tuple[str, Written]]:
    from kohya_prep.build.pixels import encode_png, mirror

    assert outputs[0].job is not None
    canvas, fit = render_job(decoded, outputs[0].job, outputs[0].job.resolution, spec.background)
    written = []
    for output in outputs:
        assert output.job is not None
        data = encode_png(mirror(canvas) if output.job.flip else canvas, spec.png)
        mtime = write_file(os.path.join(folder, output.relpath), data)
        shaped = fit.mirrored() if fit is not None and output.job.flip else fit
        written.append((output.relpath, (digest(data), len(data), mtime, shaped)))
    return written


def _decode(spec: DatasetSpec, source_id: str, scale: float, reg_sources: dict[str, RegSource], keep_alpha: bool) -> Any:
    from kohya_prep.build.pixels import CorruptImage, decode

    path = _source_path(spec, source_id, reg_sources)
    try:
        return decode(path, spec.background, scale, keep_alpha)
    except CorruptImage as err:
        raise BuildError(
            f"source '{source_id}' ({path.name}) could not be decoded ({err}); it is corrupt or truncated: "
            "re-export it, then build again"
        ) from None


class RendererPreload:
    """Imports the pixel stage (OpenCV and numpy: 0.1-0.2 s, holding the GIL) on a thread of its own, started while
    the build hashes its sources, which mostly waits on reads and hashlib (both release the GIL): the two overlap
    instead of following each other, and the render threads start with it loaded."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=_import_pixels, name="kohya-prep-preload", daemon=True)
            self._thread.start()

    def join(self) -> None:
        """Wait for it (a build that stops early does not leave an import running while the interpreter exits)."""
        if self._thread is not None:
            self._thread.join()


def _import_pixels() -> None:
    with contextlib.suppress(Exception):  # a failure shows again, and is reported, where the render imports it
        import kohya_prep.build.pixels  # noqa: F401


def write_captions(outputs: Sequence[OutputFile], folder: Path) -> dict[str, Written]:
    """Caption files into `folder`: relpath -> (sha256, size, mtime, None)."""
    written: dict[str, Written] = {}
    for output in outputs:
        data = (output.text or "").encode("utf-8") + b"\n"
        mtime = write_file(os.path.join(folder, output.relpath), data)
        written[output.relpath] = (digest(data), len(data), mtime, None)
    return written


def render_all(spec: DatasetSpec, outputs: list[OutputFile], folder: Path, reg_sources: dict[str, RegSource],
               jobs: int, progress: Progress | None, on_decoded: Callable[[str, Any], None] | None = None,
               captions: Sequence[OutputFile] = ()) -> dict[str, Written]:
    """Render image outputs (and write `captions`) into `folder`; relpath -> Written (sha256, size, mtime, bucket fit).

    At most jobs + 1 decoded sources are held at once, so memory stays bounded with many large sources.
    `on_decoded(source_id, decoded)` sees each decoded source once (the preview draws its overlays there).
    With several workers the captions are written while the images render, so no core waits on that I/O.
    """
    grouped = _cuts(outputs)
    if jobs <= 1:
        results = write_captions(captions, folder)
        results.update(_render_sequential(spec, grouped, folder, reg_sources, progress, on_decoded, len(outputs)))
        return results
    return _render_threaded(spec, grouped, folder, reg_sources, jobs, progress, on_decoded, len(outputs), captions)


def _render_sequential(spec: DatasetSpec, grouped: dict[str, dict[CutKey, Cut]], folder: Path,
                       reg_sources: dict[str, RegSource], progress: Progress | None,
                       on_decoded: Callable[[str, Any], None] | None, total: int) -> dict[str, Written]:
    results: dict[str, Written] = {}
    for source_id, by_box in grouped.items():
        decoded = _decode(spec, source_id, _source_scale(by_box), reg_sources, _keeps_alpha(by_box))
        if on_decoded:
            on_decoded(source_id, decoded)
        for cut in by_box.values():
            results.update(_render_cut(decoded, cut, spec, folder))
            if progress:
                progress(len(results), total)
    return results


class _Schedule:
    """The render threads' work: decode the next source while fewer than `alive` decoded sources are held (so a
    decoded source is ready when the cuts of the last run out), else cut the next box of a decoded source. Each
    thread takes its next task here, under one lock; no thread waits on another's futures."""

    def __init__(self, grouped: dict[str, dict[CutKey, Cut]], alive: int) -> None:
        self.ready = threading.Condition()
        self.decodes = deque(grouped)
        self.grouped = grouped
        self.cuts: deque[tuple[str, Any, Cut]] = deque()
        self.left: dict[str, int] = {}  # cuts of a held source not finished yet
        self.alive = alive
        self.failure: BaseException | None = None
        self.results: dict[str, Written] = {}
        self.running = 0  # render threads that have not returned

    def take(self) -> tuple[str, Any, Cut | None] | None:
        """The next task: (source, None, None) to decode, (source, decoded, cut) to cut; None when done or failed."""
        with self.ready:
            while self.failure is None:
                if self.decodes and len(self.left) < self.alive:
                    source_id = self.decodes.popleft()
                    self.left[source_id] = len(self.grouped[source_id])
                    return source_id, None, None
                if self.cuts:
                    return self.cuts.popleft()
                if not self.decodes and not self.left:
                    return None
                self.ready.wait()
            return None

    def decoded(self, source_id: str, decoded: Any) -> None:
        with self.ready:
            self.cuts.extend((source_id, decoded, cut) for cut in self.grouped[source_id].values())
            self._settle(source_id, 0)

    def cut_done(self, source_id: str, written: list[tuple[str, Written]], progress: Progress | None, total: int) -> None:
        with self.ready:
            self.results.update(written)
            self._settle(source_id, 1)
            if progress:
                progress(len(self.results), total)

    def _settle(self, source_id: str, finished: int) -> None:
        self.left[source_id] -= finished
        if self.left[source_id] == 0:
            del self.left[source_id]  # its pixels are released with the last cut
        self.ready.notify_all()

    def fail(self, error: BaseException) -> None:
        with self.ready:
            self.failure = self.failure or error
            self.ready.notify_all()

    def worker_done(self) -> None:
        with self.ready:
            self.running -= 1
            self.ready.notify_all()

    def wait_for_workers(self) -> None:
        """Until every render thread has returned. Not Thread.join: a Ctrl-C that interrupts a join marks the thread
        stopped while it still runs (CPython's bpo-45274 repair), and its last image would land after the cleanup."""
        with self.ready:
            while self.running:
                self.ready.wait(0.2)  # timed, so a Ctrl-C reaches this thread at once


def _work(schedule: _Schedule, spec: DatasetSpec, folder: Path, reg_sources: dict[str, RegSource],
          progress: Progress | None, on_decoded: Callable[[str, Any], None] | None, total: int) -> None:
    try:
        while (task := schedule.take()) is not None:
            source_id, decoded, cut = task
            if cut is None:
                by_box = schedule.grouped[source_id]
                decoded = _decode(spec, source_id, _source_scale(by_box), reg_sources, _keeps_alpha(by_box))
                if on_decoded:
                    on_decoded(source_id, decoded)
                schedule.decoded(source_id, decoded)
            else:
                schedule.cut_done(source_id, _render_cut(decoded, cut, spec, folder), progress, total)
    except BaseException as err:  # the first failure stops every thread; the caller raises it
        schedule.fail(err)
    finally:
        schedule.worker_done()


def _render_threaded(spec: DatasetSpec, grouped: dict[str, dict[CutKey, Cut]], folder: Path,
                     reg_sources: dict[str, RegSource], jobs: int, progress: Progress | None,
                     on_decoded: Callable[[str, Any], None] | None, total: int,
                     captions: Sequence[OutputFile]) -> dict[str, Written]:
    schedule = _Schedule(grouped, jobs + 1)
    schedule.running = jobs
    for n in range(jobs):
        threading.Thread(target=_work, args=(schedule, spec, folder, reg_sources, progress, on_decoded, total),
                         name=f"kohya-prep-render-{n}", daemon=True).start()
    try:
        written = write_captions(captions, folder)  # this thread's share: small files while the images render
        schedule.wait_for_workers()
    except BaseException as err:  # Ctrl-C or a failed caption: every thread stops after its current image
        schedule.fail(err)
        schedule.wait_for_workers()
        raise
    if schedule.failure is not None:
        raise schedule.failure
    return {**written, **schedule.results}
