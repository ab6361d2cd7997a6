"""PNG encoding: per image, the encoder that writes it fastest at the same size or smaller (README, "Speed").

Drawn art (flat colours, clean lines: most rows repeat the row above) is written with the Up row filter and
zlib-ng's run-length deflate: 3-4x faster than libpng, in files about a third smaller. Noisy content (photos, JPEG sources)
gains nothing from zlib-ng, which is slower there than libpng's RLE strategy; it goes to OpenCV's libpng with
the settings measured before (SUB filter, level 1, RLE). Which one an image takes is decided by its own bytes:
the share of non-zero bytes after the Up filter (drawn art 1-21 %, photo crops 45-91 %, letterbox padding
included). Without zlib-ng installed every image takes the OpenCV path, byte for byte as before it was added.
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
except ImportError:  # exercised in a subprocess by tests/test_png.py
    zlib_ng = None

# OpenCV's settings: most of libpng's time goes to trying all five row filters; one fixed filter (SUB) with
# zlib level 1 and the RLE strategy is 3x faster for files a little larger. "small" is level 9 with adaptive
# filtering: the smallest files, 5-8x slower.
OPENCV_SETTINGS = {
    "fast": [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE,
             cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_SUB],
    "small": [cv2.IMWRITE_PNG_COMPRESSION, 9, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_DEFAULT],
}
# Measured on 200 letterboxes of the demo's sheets, per image: level 2 1.24 ms, 40.8 KB; level 2 with the RLE
# strategy 0.94 ms, 44.2 KB (after the Up filter flat colour is runs of zeros); level 1 0.88 ms, 52.2 KB; libpng 3.7 ms,
# 65.8 KB. RLE is the fastest that stays well below libpng's size.
ZLIB_NG_LEVEL = 2
NOISY_SHARE = 1 / 3  # above this share of non-zero Up-filtered bytes an image goes to libpng
SAMPLED_ROWS = 4  # the share is counted on every 4th row: drawn art and photos lie far apart (21 % against 45 %)
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


def encoder_for(filtered: np.ndarray) -> str:
    """'zlib-ng' for redundant content (drawn art), 'opencv' for noisy content or where zlib-ng is missing."""
    if zlib_ng is None:
        return "opencv"
    sample = filtered[::SAMPLED_ROWS]
    return "opencv" if np.count_nonzero(sample) > NOISY_SHARE * sample.size else "zlib-ng"


def encode_png(image: np.ndarray, png: str = "fast") -> bytes:
    """PNG bytes of an RGB or RGBA uint8 image; 'fast' picks the encoder per image, 'small' is libpng at level 9."""
    image = np.ascontiguousarray(image)
    if png != "fast":
        return _opencv_png(image, png)
    filtered = up_filtered(image)
    if encoder_for(filtered) == "opencv":
        return _opencv_png(image, png)
    deflate = zlib_ng.compressobj(ZLIB_NG_LEVEL, zlib_ng.DEFLATED, 15, 8, zlib_ng.Z_RLE)
    return _png_file(image, deflate.compress(filtered) + deflate.flush())
