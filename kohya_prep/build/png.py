"""PNG encoding: the same pixels, written faster and smaller than libpng does (README, "Speed").

'fast' is the Up row filter (each row minus the row above: flat colour and clean lines become runs of zeros) and
zlib-ng's run-length deflate: on the demo's drawn letterboxes 2-3x faster than libpng with the settings measured
before (SUB filter, level 1, RLE) in files a third smaller; on photo crops 1.7x faster in files 1-2 % smaller.
Without zlib-ng installed, 'fast' is that libpng setting, byte for byte as before it was added. 'small' is libpng
at level 9 with adaptive filtering: the smallest files, 5-10x slower.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

import cv2
import numpy as np

zlib_ng: Any
try:  # a fast deflate that releases the GIL; optional, the build falls back to OpenCV's libpng without it
    from zlib_ng import zlib_ng
except ImportError:  # exercised in a subprocess by tests/test_codecs.py
    zlib_ng = None

# libpng through OpenCV: most of its time goes to trying all five row filters; one fixed filter (SUB) with zlib
# level 1 and the RLE strategy was 3x faster for files a little larger ("fast" before zlib-ng, and its fallback).
OPENCV_SETTINGS = {
    "fast": [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE,
             cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_SUB],
    "small": [cv2.IMWRITE_PNG_COMPRESSION, 9, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_DEFAULT],
}
# zlib-ng after the Up filter, per image (benchmarks/codecs.py): RLE 2.2 ms, 69 KB on drawn art, 6.1 ms, 327 KB on a
# photo crop; level 2 (matches at any distance) 2.3 ms, 65 KB and 11.8 ms, 332 KB; level 1 1.8 ms, 83 KB and 8.6 ms,
# 505 KB; libpng 4.4 ms, 86 KB and 11.2 ms, 331 KB. RLE is the one that is fast on every kind of picture.
ZLIB_NG_LEVEL = 2
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
UP_FILTER = 2  # PNG filter type 2: each byte minus the byte above it


def up_filtered(image: np.ndarray) -> np.ndarray:
    """The image's PNG scanlines with the Up filter: one filter-type byte, then each row minus the row above."""
    height = image.shape[0]
    rows = image.reshape(height, -1)
    out = np.empty((height, rows.shape[1] + 1), dtype=np.uint8)
    out[:, 0] = UP_FILTER
    out[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=out[1:, 1:])
    return out


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def _png_file(image: np.ndarray, idat: bytes) -> bytes:
    height, width = image.shape[:2]
    colour_type = 6 if image.ndim == 3 and image.shape[2] == 4 else 2  # RGBA or RGB, 8 bits per sample
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"".join((PNG_SIGNATURE, _chunk(b"IHDR", header), _chunk(b"IDAT", idat), _chunk(b"IEND", b"")))


def _opencv_png(image: np.ndarray, png: str) -> bytes:
    conversion = cv2.COLOR_RGBA2BGRA if image.shape[2] == 4 else cv2.COLOR_RGB2BGR
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, conversion), OPENCV_SETTINGS[png])
    if not ok:  # pragma: no cover - OpenCV fails only on impossible shapes
        raise RuntimeError("PNG encoding failed")
    return data.tobytes()


def encode_png(image: np.ndarray, png: str = "fast") -> bytes:
    """PNG bytes of an RGB or RGBA uint8 image: 'fast' (Up filter and zlib-ng's RLE, or libpng where zlib-ng is
    missing) or 'small' (libpng at level 9)."""
    image = np.ascontiguousarray(image)
    if png != "fast" or zlib_ng is None:
        return _opencv_png(image, png)
    deflate = zlib_ng.compressobj(ZLIB_NG_LEVEL, zlib_ng.DEFLATED, 15, 8, zlib_ng.Z_RLE)
    filtered = up_filtered(image)
    return _png_file(image, deflate.compress(filtered) + deflate.flush())
