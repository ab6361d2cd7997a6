"""The codec measurements behind the build's choices (README, "Speed"): `python benchmarks/codecs.py`.

One thread, best of three passes, on the bench's own content: letterboxes of the demo's drawn sheets, letterboxes
cut from a 6000x4000 photo-like JPEG (at 512 and 1024), and that JPEG itself. Candidates that are not installed
here (fpng, libdeflate through `deflate`, pyvips) are said to be missing and left out. Timings are reported, never
asserted; compare rows of one run, the machine is shared.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import DEMO_SPEC, _photo  # benchmarks/ is not a package: bench.py sits beside this file

from kohya_prep.build import png
from kohya_prep.build.pixels import decode, render_letterbox, resize
from kohya_prep.spec import Box, load_spec

cv2.setNumThreads(1)
WHITE = (255, 255, 255)


def _best(run: Callable[[], Any], passes: int = 3) -> float:
    best = float("inf")
    for _ in range(passes):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def _letterboxes() -> dict[str, list[np.ndarray]]:
    spec = load_spec(DEMO_SPEC)
    sources = {sid: decode(s.path, WHITE) for sid, s in spec.sources.items()}
    drawn = [render_letterbox(sources[c.source], c.box, 512, WHITE) for c in spec.crops]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo.jpg"
        _photo(path, 0)
        photo = decode(path, WHITE)
    boxes = [Box(0, 0, 3000, 2000), Box(1000, 500, 2500, 3000), Box(2500, 1500, 3400, 2400), Box(300, 900, 1600, 2900)]
    return {"drawn art": drawn, "photo 512": [render_letterbox(photo, b, 512, WHITE) for b in boxes],
            "photo 1024": [render_letterbox(photo, b, 1024, WHITE) for b in boxes]}


def _up_deflate(compress: Callable[[bytes], bytes]) -> Callable[[np.ndarray], bytes]:
    return lambda image: png._png_file(image, compress(png.up_filtered(image).tobytes()))


def png_encoders() -> dict[str, Callable[[np.ndarray], bytes]]:
    from zlib_ng import zlib_ng

    def rle(data: bytes) -> bytes:
        deflate = zlib_ng.compressobj(2, zlib_ng.DEFLATED, 15, 8, zlib_ng.Z_RLE)
        return deflate.compress(data) + deflate.flush()

    encoders = {
        "libpng via OpenCV: SUB, level 1, RLE (before)": lambda image: png._opencv_png(image, "fast"),
        "libpng via OpenCV: adaptive, level 9 (png = small)": lambda image: png._opencv_png(image, "small"),
        "Up + zlib-ng level 1": _up_deflate(lambda data: zlib_ng.compress(data, 1)),
        "Up + zlib-ng level 2": _up_deflate(lambda data: zlib_ng.compress(data, 2)),
        "Up + zlib-ng RLE (png = fast, drawn art)": _up_deflate(rle),
    }
    try:
        import deflate

        encoders["Up + libdeflate level 1"] = _up_deflate(lambda data: deflate.zlib_compress(data, 1))
    except ImportError:
        print("not measured: libdeflate (pip install deflate)")
    try:
        import fpng

        encoders["fpng (holds the GIL)"] = fpng.from_ndarray
    except ImportError:
        print("not measured: fpng (pip install fpng)")
    return encoders


def png_table(images: dict[str, list[np.ndarray]]) -> list[tuple[str, ...]]:
    rows = [("PNG encoder, per image", *images)]
    for name, encode in png_encoders().items():
        cells = []
        for batch in images.values():
            seconds = _best(lambda batch=batch, encode=encode: [encode(i) for i in batch]) / len(batch)
            size = sum(len(encode(i)) for i in batch) / len(batch)
            cells.append(f"{seconds * 1000:.2f} ms, {size / 1000:.0f} KB")
        rows.append((name, *cells))
    return rows


def decode_table() -> list[tuple[str, ...]]:
    rows = [("JPEG decode, 6000x4000", "time")]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo.jpg"
        _photo(path, 0)
        data = path.read_bytes()
        candidates: dict[str, Callable[[], Any]] = {
            "OpenCV, full size (before)": lambda: cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR),
            "OpenCV, 1/2 (DCT-scaled)": lambda: cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_COLOR_2),
        }
        import simplejpeg

        candidates["simplejpeg, full size (now)"] = lambda: simplejpeg.decode_jpeg(data)
        candidates["simplejpeg, 1/2"] = lambda: simplejpeg.decode_jpeg(data, min_factor=2, min_width=3000, min_height=2000)
        try:
            import pyvips

            pyvips.concurrency_set(1)

            def region(top: int, height: int) -> Any:
                return pyvips.Image.jpegload_buffer(data, access="sequential").crop(0, top, 6000, height).numpy()

            candidates["pyvips, full size"] = lambda: region(0, 4000)
            candidates["pyvips, only rows 0-2000 (a crop union)"] = lambda: region(0, 2000)
            candidates["pyvips, only rows 2000-4000"] = lambda: region(2000, 2000)
        except (ImportError, OSError):
            print("not measured: pyvips (pip install pyvips pyvips-binary)")
        for name, run in candidates.items():
            rows.append((name, f"{_best(run) * 1000:.0f} ms"))
    return rows


def resize_table() -> list[tuple[str, ...]]:
    spec = load_spec(DEMO_SPEC)
    sheet = decode(spec.sources["sheet"].path, WHITE).pixels
    face = np.ascontiguousarray(sheet[124:496, 1964:2336])  # a 372x372 face, enlarged to 512
    body = np.ascontiguousarray(sheet[112:1392, 18:518])  # a 500x1280 figure, shrunk to 200x512
    old = cv2.resize(face, (512, 512), interpolation=cv2.INTER_LANCZOS4)
    rows = [("resize", "time", "difference from 8-bit Lanczos")]
    for name, run in {
        "Lanczos-4, 8-bit fixed point (before)": lambda: cv2.resize(face, (512, 512), interpolation=cv2.INTER_LANCZOS4),
        "Lanczos-4 in float32 (now)": lambda: resize(face, (512, 512), cv2.INTER_LANCZOS4),
        "bicubic": lambda: cv2.resize(face, (512, 512), interpolation=cv2.INTER_CUBIC),
    }.items():
        change = np.abs(run().astype(int) - old.astype(int))
        rows.append((f"372 -> 512 px, {name}", f"{_best(lambda run=run: [run() for _ in range(20)]) / 20 * 1000:.2f} ms",
                     f"max {change.max()}, {100 * (change > 0).mean():.1f} % of values"))
    area = _best(lambda: [cv2.resize(body, (200, 512), interpolation=cv2.INTER_AREA) for _ in range(20)]) / 20
    rows.append(("500x1280 -> 200x512, area (unchanged)", f"{area * 1000:.2f} ms", "-"))
    return rows


def _print(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print("| " + " | ".join(cell.ljust(width) for cell, width in zip(rows[0], widths, strict=True)) + " |")
    print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    for row in rows[1:]:
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |")
    print()


def main() -> None:
    _print(png_table(_letterboxes()))
    _print(decode_table())
    _print(resize_table())


if __name__ == "__main__":
    main()
