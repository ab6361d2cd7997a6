"""Pixels: decode a source once into RGB, cut letterboxed crops from it, encode PNG.

Pillow decodes (it knows every mode, EXIF orientation, palettes with transparency, CMYK, 16-bit);
OpenCV resizes and encodes, because both release the GIL and are several times faster (README, "Speed").
Arrays are RGB uint8, shape (height, width, 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from kohya_prep.build.geometry import letterbox
from kohya_prep.spec import Box, allow_large_sources

# PNG settings chosen by measurement (README, "Speed"). Most encode time goes to libpng trying all five
# row filters; one fixed filter (SUB) with zlib level 1 and the RLE strategy is 3x faster for files
# a little larger. "small" is level 9 with adaptive filtering: the smallest files, 5-8x slower.
PNG_SETTINGS = {
    "fast": [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE,
             cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_SUB],
    "small": [cv2.IMWRITE_PNG_COMPRESSION, 9, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_DEFAULT],
}

cv2.setNumThreads(1)  # we parallelize across crops ourselves; nested thread pools only contend
allow_large_sources()


class CorruptImage(Exception):
    """A source's header read fine but its pixel data did not decode."""


@dataclass(frozen=True)
class Decoded:
    """A decoded source: RGB pixels, and the factor from spec pixels to these pixels (1.0 unless drafted)."""

    pixels: np.ndarray
    scale: float


def _to_rgb(img: Image.Image, background: tuple[int, int, int]) -> np.ndarray:
    """Any Pillow mode to RGB uint8, compositing transparency onto `background` (never black)."""
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        wide = np.asarray(img, dtype=np.uint32)
        grey = (wide * 255 + 32767) // 65535 if wide.max(initial=0) > 255 else wide
        return np.repeat(grey.astype(np.uint8)[:, :, None], 3, axis=2)
    if img.mode == "F":
        grey = np.clip(np.asarray(img), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if not has_alpha:
        return np.asarray(img if img.mode == "RGB" else img.convert("RGB"))
    rgba = np.asarray(img.convert("RGBA"))
    alpha = rgba[:, :, 3:4].astype(np.uint16)
    if alpha.min() == 255:
        return np.ascontiguousarray(rgba[:, :, :3])
    rgb = rgba[:, :, :3].astype(np.uint16)
    bg = np.array(background, dtype=np.uint16)
    return ((rgb * alpha + bg * (255 - alpha) + 127) // 255).astype(np.uint8)


_REDUCED_FLAGS = {1.0: cv2.IMREAD_COLOR, 0.5: cv2.IMREAD_REDUCED_COLOR_2,
                  0.25: cv2.IMREAD_REDUCED_COLOR_4, 0.125: cv2.IMREAD_REDUCED_COLOR_8}


def _decode_jpeg(path: Path, scale: float) -> np.ndarray:
    """A plain RGB or greyscale JPEG, decoded by libjpeg straight into one array, DCT-scaled, EXIF-rotated.

    Pillow would hold 4 bytes per pixel and copy the image twice more on the way to an array; for a
    6000x4000 photo that is hundreds of MB more at the peak. The pixels are the same.
    """
    pixels = cv2.imdecode(np.fromfile(path, dtype=np.uint8), _REDUCED_FLAGS[scale])
    if pixels is None:
        raise CorruptImage("libjpeg could not decode it")
    return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB, dst=pixels)


def decode(path: Path, background: tuple[int, int, int], scale: float = 1.0) -> Decoded:
    """Decode a source once: EXIF orientation applied, RGB, transparency flattened onto `background`.

    A JPEG is decoded at `scale` (1, 1/2, 1/4 or 1/8: see geometry.jpeg_decode_scale); other formats at 1.
    """
    try:
        with Image.open(path) as img:
            full_size = img.size
            if img.format != "JPEG":
                scale = 1.0
            if img.format == "JPEG" and img.mode in ("RGB", "L"):
                pixels = _decode_jpeg(path, scale)
                drafted = pixels.shape[1] / (full_size[1] if _swaps_axes(img) else full_size[0])
                return Decoded(pixels, drafted)
            if scale < 1.0:
                img.draft("RGB", (int(full_size[0] * scale), int(full_size[1] * scale)))
            drafted = img.size[0] / full_size[0]
            ImageOps.exif_transpose(img, in_place=True)
            pixels = _to_rgb(img, background)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise CorruptImage(str(err)) from err
    return Decoded(np.ascontiguousarray(pixels), drafted)


def _swaps_axes(img: Image.Image) -> bool:
    try:
        return img.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    except Exception:  # a broken EXIF block: libjpeg ignores it too
        return False


def _scaled_box(box: Box, scale: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    if scale == 1.0:
        return box.left, box.top, box.right, box.bottom
    height, width = shape[:2]
    left, top = round(box.left * scale), round(box.top * scale)
    right, bottom = min(round(box.right * scale), width), min(round(box.bottom * scale), height)
    return left, top, max(right, left + 1), max(bottom, top + 1)


def render_letterbox(source: Decoded, box: Box, resolution: int, background: tuple[int, int, int]) -> np.ndarray:
    """Crop `box`, scale it to fit resolution x resolution keeping its aspect ratio, pad centred with `background`."""
    left, top, right, bottom = _scaled_box(box, source.scale, source.pixels.shape)
    region = source.pixels[top:bottom, left:right]
    fit = letterbox(box.width, box.height, resolution)
    shrinking = fit.scaled_width < region.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LANCZOS4
    scaled = cv2.resize(region, (fit.scaled_width, fit.scaled_height), interpolation=interpolation)
    bottom = resolution - fit.scaled_height - fit.offset_y
    right = resolution - fit.scaled_width - fit.offset_x
    return cv2.copyMakeBorder(scaled, fit.offset_y, bottom, fit.offset_x, right, cv2.BORDER_CONSTANT, value=background)


def mirror(image: np.ndarray) -> np.ndarray:
    """A horizontally mirrored copy."""
    return cv2.flip(image, 1)


def encode_png(image: np.ndarray, png: str = "fast") -> bytes:
    """PNG bytes of an RGB image, with the settings named by `png` ('fast' or 'small')."""
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), PNG_SETTINGS[png])
    if not ok:  # pragma: no cover - OpenCV fails only on impossible shapes
        raise RuntimeError("PNG encoding failed")
    return data.tobytes()
