"""Reading an image for the detector: EXIF orientation applied, alpha kept, large JPEGs decoded at half size."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kohya_prep.init.detect import FULL_SIZE_LIMIT
from kohya_prep.spec import allow_large_sources


class UnreadableImage(Exception):
    """The file is no image Pillow can decode; the message says why."""


@dataclass(frozen=True)
class Pixels:
    """An image's pixels (RGB, RGBA or greyscale uint8) and the factor from them back to full size."""

    array: np.ndarray
    scale: int  # 1, or 2 when a large JPEG was decoded at half size
    size: tuple[int, int]  # full width, height after EXIF orientation


def _array(img: object) -> np.ndarray:
    from PIL import Image

    assert isinstance(img, Image.Image)
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        return np.asarray(img.convert("RGBA"))
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        wide = np.asarray(img, dtype=np.float64)
        top = 65535.0 if wide.max(initial=0) > 255 else 255.0
        return np.clip(wide * 255.0 / top, 0, 255).astype(np.uint8)
    return np.asarray(img if img.mode in ("RGB", "L") else img.convert("RGB"))


def _png(path: Path, mode: str) -> np.ndarray:
    """A plain PNG through libpng directly: twice as fast as Pillow on a large sheet (no EXIF to apply)."""
    import cv2

    data = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if data is None:
        raise UnreadableImage("libpng could not decode it")
    if data.dtype != np.uint8:
        data = np.right_shift(data.astype(np.uint16), 8).astype(np.uint8)
    if data.ndim == 3:
        data = cv2.cvtColor(data, cv2.COLOR_BGRA2RGBA if data.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    if mode == "RGB" and data.ndim == 3 and data.shape[2] == 4:
        data = np.ascontiguousarray(data[..., :3])
    return data


def _orientation(img: object) -> int:
    try:
        return int(img.getexif().get(0x0112, 1))  # type: ignore[attr-defined]
    except Exception:  # a broken EXIF block: the build ignores it too
        return 1


def load_pixels(path: Path) -> Pixels:
    """The image at `path` as the detector reads it; UnreadableImage when Pillow cannot decode it."""
    from PIL import Image, ImageOps

    allow_large_sources()
    try:
        with Image.open(path) as img:
            full = img.size
            if img.format == "PNG" and img.mode in ("RGB", "RGBA", "L") and "exif" not in img.info:
                return Pixels(_png(path, img.mode), 1, full)
            if img.format == "JPEG" and max(full) > FULL_SIZE_LIMIT:
                img.draft(img.mode, (full[0] // 2, full[1] // 2))  # DCT scaling: a fraction of the work
            scale = max(1, round(full[0] / img.size[0]))
            rotated = ImageOps.exif_transpose(img) if _orientation(img) != 1 else img  # as build/pixels.py does
            array = _array(rotated)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise UnreadableImage(str(err) or type(err).__name__) from err
    swapped = rotated.size != img.size
    return Pixels(np.ascontiguousarray(array), scale, (full[1], full[0]) if swapped else full)
