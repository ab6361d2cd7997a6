"""The pipelines `make bench` measures kohya-prep against, each as a competent engineer writes it in an afternoon.

Both decode every source once, cut the same crops, and write the same letterboxes (each crop scaled to fit the
square, centred on the background colour) and flips, at every output size, with two threads:
  opencv  cv2 decode (alpha composited onto the background), INTER_AREA resize, copyMakeBorder, cv2.flip,
          cv2 PNG encode at OpenCV's defaults (zlib level 1, RLE)
  pyvips  libvips decode into memory (flattened onto the background), resize, gravity to the square, flip,
          pngsave at compression 1; libvips' own threads held at one per Python thread

Run as a child process: `python benchmarks/anchors.py PIPELINE JOB.json OUT`; prints one JSON line with the
images written and the process's peak RSS. The job file lists the sources and crops (bench.py writes it from a
spec), so every pipeline works from the same boxes.
"""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

THREADS = 2


def _letterbox_size(width: int, height: int, target: int) -> tuple[int, int]:
    if width >= height:
        return target, max(1, round(height * target / width))
    return max(1, round(width * target / height)), target


# ---------------------------------------------------------------- OpenCV


def _cv2_decode(path: str, background: list[int]) -> Any:
    import cv2
    import numpy as np

    if not path.lower().endswith(".png"):
        return cv2.imread(path, cv2.IMREAD_COLOR)  # a JPEG: EXIF orientation applied
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.float32) / 255
        bg = np.array(background[::-1], dtype=np.float32)
        return (image[:, :, :3] * alpha + bg * (1 - alpha) + 0.5).astype(np.uint8)
    return image


def _cv2_crop(image: Any, crop: dict[str, Any], sizes: list[int], background: list[int], out: Path) -> int:
    import cv2

    left, top, width, height = crop["box"]
    region = image[top:top + height, left:left + width]
    written = 0
    for size in sizes:
        scaled_w, scaled_h = _letterbox_size(width, height, size)
        scaled = cv2.resize(region, (scaled_w, scaled_h), interpolation=cv2.INTER_AREA)
        x, y = (size - scaled_w) // 2, (size - scaled_h) // 2
        canvas = cv2.copyMakeBorder(scaled, y, size - scaled_h - y, x, size - scaled_w - x, cv2.BORDER_CONSTANT,
                                    value=background[::-1])
        cv2.imwrite(str(out / str(size) / f"{crop['name']}.png"), canvas)
        written += 1
        if crop["flip"]:
            cv2.imwrite(str(out / str(size) / f"{crop['name']}-flip.png"), cv2.flip(canvas, 1))
            written += 1
    return written


def opencv_pipeline(job: dict[str, Any], out: Path) -> int:
    import cv2

    cv2.setNumThreads(1)  # the two Python threads are the parallelism
    return _fan_out(job, out, _cv2_decode, _cv2_crop)


# ---------------------------------------------------------------- pyvips


def _vips_decode(path: str, background: list[int]) -> Any:
    import pyvips

    image = pyvips.Image.new_from_file(path, access="sequential").autorot()
    if image.hasalpha():
        image = image.flatten(background=background)
    if image.bands == 1:
        image = image.colourspace("srgb")
    return image.copy_memory()  # decode once; every crop reads these pixels


def _vips_crop(image: Any, crop: dict[str, Any], sizes: list[int], background: list[int], out: Path) -> int:
    left, top, width, height = crop["box"]
    region = image.crop(left, top, width, height)
    written = 0
    for size in sizes:
        scaled_w, scaled_h = _letterbox_size(width, height, size)
        scaled = region.resize(scaled_w / width, vscale=scaled_h / height)
        canvas = scaled.gravity("centre", size, size, extend="background", background=background)
        canvas.pngsave(str(out / str(size) / f"{crop['name']}.png"), compression=1)
        written += 1
        if crop["flip"]:
            canvas.fliphor().pngsave(str(out / str(size) / f"{crop['name']}-flip.png"), compression=1)
            written += 1
    return written


def pyvips_pipeline(job: dict[str, Any], out: Path) -> int:
    import pyvips

    pyvips.concurrency_set(1)  # one libvips worker per Python thread: two threads in all
    pyvips.cache_set_max(0)
    return _fan_out(job, out, _vips_decode, _vips_crop)


# ---------------------------------------------------------------- both: decode each source once, crops fan out


def _fan_out(job: dict[str, Any], out: Path, decode: Any, cut: Any) -> int:
    """Decode the sources on the pool; as each is ready, its crops go onto the same pool."""
    sizes, background = job["sizes"], job["background"]
    for size in sizes:
        (out / str(size)).mkdir(parents=True, exist_ok=True)
    by_source: dict[str, list[dict[str, Any]]] = {}
    for crop in job["crops"]:
        by_source.setdefault(crop["source"], []).append(crop)
    written = 0
    with ThreadPoolExecutor(THREADS) as pool:
        decodes = {pool.submit(decode, job["sources"][sid], background): sid for sid in by_source}
        cuts: list[Future[int]] = []
        for done in as_completed(decodes):
            image = done.result()
            cuts += [pool.submit(cut, image, crop, sizes, background, out) for crop in by_source[decodes[done]]]
        for future in cuts:
            written += future.result()
    return written


PIPELINES = {"opencv": opencv_pipeline, "pyvips": pyvips_pipeline}


def available(name: str) -> str | None:
    """None when the pipeline can run here, else why not."""
    try:
        __import__({"opencv": "cv2", "pyvips": "pyvips"}[name])
    except (ImportError, OSError) as err:  # pyvips raises OSError when libvips is missing
        return f"{name} is not installed here ({err.__class__.__name__}: {err}); pip install -e '.[bench]'"
    return None


def peak_rss_kb() -> int:
    """This process's peak RSS (VmHWM: ru_maxrss would carry the parent's peak across exec)."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    name, job_path, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    os.environ.setdefault("VIPS_CONCURRENCY", "1")
    images = PIPELINES[name](json.loads(job_path.read_text(encoding="utf-8")), out)
    print(json.dumps({"images": images, "rss_kb": peak_rss_kb()}))


if __name__ == "__main__":
    main()
