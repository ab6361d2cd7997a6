"""The render stage: image outputs into a folder, each source decoded once, boxes spread over worker threads.

Decoding, resizing and encoding release the GIL, so threads keep both cores busy while one decoded source
serves every crop cut from it.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from kohya_prep.build.geometry import FitOutcome
from kohya_prep.build.plan import OutputFile, RegSource, RenderJob, digest
from kohya_prep.errors import BuildError
from kohya_prep.spec import DatasetSpec

Progress = Callable[[int, int], None]
Cut = list[OutputFile]  # the outputs of one box of one source: the crop and its flip
CutKey = tuple[object, ...]
Written = tuple[str, int, FitOutcome | None]  # sha256, size, and how a bucket fit shaped the image (None: letterbox)


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
        (folder / output.relpath).write_bytes(data)
        shaped = fit.mirrored() if fit is not None and output.job.flip else fit
        written.append((output.relpath, (digest(data), len(data), shaped)))
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


def render_all(spec: DatasetSpec, outputs: list[OutputFile], folder: Path, reg_sources: dict[str, RegSource],
               jobs: int, progress: Progress | None, on_decoded: Callable[[str, Any], None] | None = None,
               ) -> dict[str, Written]:
    """Render image outputs into `folder`; relpath -> (sha256, size, bucket fit) of each file written.

    At most jobs + 1 decoded sources are held at once, so memory stays bounded with many large sources.
    `on_decoded(source_id, decoded)` sees each decoded source once (the preview draws its overlays there).
    """
    grouped = _cuts(outputs)
    if jobs <= 1:
        return _render_sequential(spec, grouped, folder, reg_sources, progress, on_decoded, len(outputs))
    return _render_threaded(spec, grouped, folder, reg_sources, jobs, progress, on_decoded, len(outputs))


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


def _render_threaded(spec: DatasetSpec, grouped: dict[str, dict[CutKey, Cut]], folder: Path,
                     reg_sources: dict[str, RegSource], jobs: int, progress: Progress | None,
                     on_decoded: Callable[[str, Any], None] | None, total: int) -> dict[str, Written]:
    results: dict[str, Written] = {}
    pending = list(grouped.items())
    remaining: dict[str, int] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        in_flight: dict[Future[Any], tuple[str, str]] = {}
        decoded_alive = 0
        try:
            while pending or in_flight:
                while pending and decoded_alive <= jobs:
                    source_id, by_box = pending.pop(0)
                    in_flight[pool.submit(_decode, spec, source_id, _source_scale(by_box), reg_sources,
                                          _keeps_alpha(by_box))] = ("decode", source_id)
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
                            in_flight[pool.submit(_render_cut, decoded, cut, spec, folder)] = ("cut", source_id)
                        continue
                    results.update(future.result())
                    remaining[source_id] -= 1
                    if remaining[source_id] == 0:
                        decoded_alive -= 1
                    if progress:
                        progress(len(results), total)
        except BaseException:
            for future in in_flight:
                future.cancel()
            raise
    return results
