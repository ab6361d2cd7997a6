"""Pixels: decode a source once into RGB (and its alpha when a mask needs it), cut letterboxed or bucket-shaped
crops from it, add the loss mask as alpha, encode PNG.

libpng and libjpeg-turbo decode plain PNGs and JPEGs; Pillow every other file (it knows every mode, palettes
with transparency, CMYK, 16-bit; it is imported only then); OpenCV resizes, because it releases the GIL and is
several times faster (README, "Speed"); png.py encodes.
Arrays are RGB uint8, shape (height, width, 3), or RGBA (height, width, 4) for masked outputs; alpha planes
are uint8 (height, width).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from kohya_prep.build.geometry import FitOutcome, Sides, fit_bucket, growth_needed, letterbox, letterbox_outcome
from kohya_prep.spec import Box, MaskMode, allow_large_sources
from kohya_prep.spec.headers import exif_orientation, probe

if TYPE_CHECKING:
    from PIL import Image

try:  # libjpeg-turbo without OpenCV's detour; optional, OpenCV decodes JPEGs where it is missing
    import simplejpeg as _simplejpeg
except ImportError:  # exercised in a subprocess by tests/test_codecs.py
    _simplejpeg = None
simplejpeg: Any = _simplejpeg

cv2.setNumThreads(1)  # we parallelize across crops ourselves; nested thread pools only contend


class CorruptImage(Exception):
    """A source's header read fine but its pixel data did not decode."""


@dataclass(frozen=True)
class Decoded:
    """A decoded source: RGB pixels, the factor from spec pixels to these pixels (1.0 unless drafted), and its
    alpha plane when asked for and the source has one."""

    pixels: np.ndarray
    scale: float
    alpha: np.ndarray | None = None
    size: tuple[int, int] | None = None  # the source's size in spec pixels (after EXIF orientation)


def _alpha_of(img: Image.Image) -> np.ndarray | None:
    """The alpha plane of a source with transparency (the RGBA conversion _to_rgb composites with), else None."""
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return None
    if img.mode not in ("RGBA", "LA", "PA", "RGBa", "La") and "transparency" not in img.info:
        return None
    return np.ascontiguousarray(np.asarray(img.convert("RGBA"))[:, :, 3])


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
    return _composite(np.asarray(img.convert("RGBA")), background)


_REDUCED_FLAGS = {1.0: cv2.IMREAD_COLOR, 0.5: cv2.IMREAD_REDUCED_COLOR_2,
                  0.25: cv2.IMREAD_REDUCED_COLOR_4, 0.125: cv2.IMREAD_REDUCED_COLOR_8}
# EXIF orientation -> the OpenCV operations that show the stored pixels upright (2-8; 1 is upright already).
_ORIENT: dict[int, tuple[int | None, int | None]] = {  # (flip code, then rotate code)
    2: (1, None), 3: (None, cv2.ROTATE_180), 4: (0, None), 5: (1, cv2.ROTATE_90_COUNTERCLOCKWISE),
    6: (None, cv2.ROTATE_90_CLOCKWISE), 7: (1, cv2.ROTATE_90_CLOCKWISE), 8: (None, cv2.ROTATE_90_COUNTERCLOCKWISE),
}


def upright(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Stored pixels turned the way EXIF orientation says they are shown (what Pillow's exif_transpose does)."""
    flip, rotate = _ORIENT.get(orientation, (None, None))
    if flip is not None:
        pixels = cv2.flip(pixels, flip)
    return cv2.rotate(pixels, rotate) if rotate is not None else pixels


def _decode_jpeg(path: Path, scale: float, orientation: int) -> np.ndarray:
    """A plain RGB or greyscale JPEG, decoded by libjpeg-turbo straight into one RGB array, DCT-scaled, upright.

    simplejpeg decodes a 24 MP photo in 55 % of OpenCV's time (the same library, without OpenCV's BGR round trip);
    OpenCV is the fallback where it is not installed. Pillow would hold 4 bytes per pixel and copy the image twice
    more on the way to an array; for a 6000x4000 photo that is hundreds of MB more at the peak. The pixels are the
    same in all three.
    """
    if simplejpeg is None:
        pixels = cv2.imdecode(np.fromfile(path, dtype=np.uint8), _REDUCED_FLAGS[scale])  # applies the orientation
        if pixels is None:
            raise CorruptImage("libjpeg could not decode it")
        return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB, dst=pixels)
    data = path.read_bytes()
    try:
        height, width = simplejpeg.decode_jpeg_header(data)[:2]
        # the smallest libjpeg scale (1/factor) that keeps width * scale pixels: exactly `scale`, rounded up
        pixels = simplejpeg.decode_jpeg(data, colorspace="RGB", min_width=math.ceil(width * scale),
                                        min_height=math.ceil(height * scale), min_factor=round(1 / scale))
    except ValueError as err:
        raise CorruptImage(f"libjpeg-turbo could not decode it: {err}") from err
    return upright(pixels, orientation)


def _plain_png(img: Image.Image, path: Path) -> bool:
    """An 8-bit RGB or RGBA PNG without a transparent colour: libpng through OpenCV decodes it straight into one
    array in 70 % of Pillow's time (which decodes, then copies into numpy), to the same pixels."""
    if img.format != "PNG" or img.mode not in ("RGB", "RGBA") or "transparency" in img.info:
        return False
    with open(path, "rb") as file:
        return file.read(25)[24:25] == b"\x08"  # IHDR's bit depth: a 16-bit PNG opens as 8-bit RGB in Pillow too


def _decode_png(path: Path, orientation: int, background: tuple[int, int, int],
                keep_alpha: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """A plain PNG (see _plain_png) as RGB, transparency composited onto `background` as _to_rgb does; its alpha."""
    pixels = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None or pixels.dtype != np.uint8 or pixels.ndim != 3:
        raise CorruptImage("libpng could not decode it")
    pixels = upright(pixels, orientation)
    if pixels.shape[2] == 3:
        return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB), None
    rgba = cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGBA)
    alpha = np.ascontiguousarray(rgba[:, :, 3]) if keep_alpha else None
    return _composite(rgba, background), alpha


def _composite(rgba: np.ndarray, background: tuple[int, int, int]) -> np.ndarray:
    """RGBA onto a background colour: exact integer rounding, never black where alpha is 0.

    Only the blended pixels (alpha 1-254, antialiased edges: 0.5 % of the demo's transparent sheet) are computed;
    the others are the background or the colour as it is, copied by OpenCV (45 ms -> 8 ms for 1024x1024)."""
    alpha = np.ascontiguousarray(rgba[:, :, 3])
    if alpha.min() == 255:
        return np.ascontiguousarray(rgba[:, :, :3])
    height, width = alpha.shape
    out = np.empty((height, width * 3), dtype=np.uint8)
    out[:] = np.tile(np.array(background, dtype=np.uint8), width)  # one row of background, copied down
    out = out.reshape(height, width, 3)
    cv2.copyTo(cv2.cvtColor(rgba, cv2.COLOR_RGBA2RGB), alpha, out)  # where alpha is not 0
    blended = cv2.findNonZero(cv2.inRange(alpha, 1, 254))
    if blended is not None:
        points = blended.reshape(-1, 2)  # (x, y) pairs; OpenCV 4 adds an axis of 1
        cols, rows = points[:, 0], points[:, 1]
        weight = alpha[rows, cols][:, None].astype(np.uint16)
        colour = rgba[rows, cols, :3].astype(np.uint16)
        bg = np.array(background, dtype=np.uint16)
        out[rows, cols] = ((colour * weight + bg * (255 - weight) + 127) // 255).astype(np.uint8)
    return out


def decode(path: Path, background: tuple[int, int, int], scale: float = 1.0, keep_alpha: bool = False) -> Decoded:
    """Decode a source once: EXIF orientation applied, RGB, transparency flattened onto `background`.

    A JPEG is decoded at `scale` (1, 1/2, 1/4 or 1/8: see geometry.jpeg_decode_scale); other formats at 1.
    With `keep_alpha`, a source with transparency also keeps its alpha plane (mask = "alpha").
    A plain PNG or JPEG (spec.headers.probe: one read of its header) goes straight to libpng or libjpeg-turbo;
    every other file through Pillow.
    """
    try:
        header = probe(path)
    except OSError as err:
        raise CorruptImage(str(err)) from err
    if header is not None and header.plain:
        if header.format == "JPEG":
            pixels = _decode_jpeg(path, scale, header.orientation)
            return Decoded(pixels, pixels.shape[1] / header.size[0], size=header.size)
        pixels, alpha = _decode_png(path, header.orientation, background, keep_alpha)
        return Decoded(pixels, 1.0, alpha, header.size)
    return _decode_with_pillow(path, background, scale, keep_alpha)


def _decode_with_pillow(path: Path, background: tuple[int, int, int], scale: float, keep_alpha: bool) -> Decoded:
    """decode() for every file Pillow opens: palettes, 16-bit, CMYK, WebP, BMP, TIFF, GIF and the unusual PNG or JPEG."""
    from PIL import Image, ImageOps

    allow_large_sources()
    try:
        with Image.open(path) as img:
            full_size = img.size
            orientation = exif_orientation(img, path)
            swaps = orientation in (5, 6, 7, 8)
            size = (full_size[1], full_size[0]) if swaps else full_size
            if img.format != "JPEG":
                scale = 1.0
            if img.format == "JPEG" and img.mode in ("RGB", "L"):
                pixels = _decode_jpeg(path, scale, orientation)
                return Decoded(pixels, pixels.shape[1] / size[0], size=size)
            if _plain_png(img, path):
                pixels, alpha = _decode_png(path, orientation, background, keep_alpha)
                return Decoded(pixels, 1.0, alpha, size)
            if scale < 1.0:
                img.draft("RGB", (int(full_size[0] * scale), int(full_size[1] * scale)))
            drafted = img.size[0] / full_size[0]
            ImageOps.exif_transpose(img, in_place=True)
            pixels = _to_rgb(img, background)
            alpha = _alpha_of(img) if keep_alpha else None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise CorruptImage(str(err)) from err
    return Decoded(np.ascontiguousarray(pixels), drafted, alpha, size)


def _scaled_box(box: Box, scale: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    if scale == 1.0:
        return box.left, box.top, box.right, box.bottom
    height, width = shape[:2]
    left, top = max(0, round(box.left * scale)), max(0, round(box.top * scale))
    right, bottom = min(round(box.right * scale), width), min(round(box.bottom * scale), height)
    return left, top, max(right, left + 1), max(bottom, top + 1)


def render_letterbox(source: Decoded, box: Box, resolution: int, background: tuple[int, int, int]) -> np.ndarray:
    """Crop `box`, scale it to fit resolution x resolution keeping its aspect ratio, pad centred with `background`."""
    left, top, right, bottom = _scaled_box(box, source.scale, source.pixels.shape)
    region = source.pixels[top:bottom, left:right]
    fit = letterbox(box.width, box.height, resolution)
    shrinking = fit.scaled_width < region.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LANCZOS4
    scaled = resize(region, (fit.scaled_width, fit.scaled_height), interpolation)
    bottom = resolution - fit.scaled_height - fit.offset_y
    right = resolution - fit.scaled_width - fit.offset_x
    return cv2.copyMakeBorder(scaled, fit.offset_y, bottom, fit.offset_x, right, cv2.BORDER_CONSTANT, value=background)


def _interpolation(output_span: int, region_span: int) -> int:
    """Area-averaging when shrinking, Lanczos when enlarging (as render_letterbox)."""
    return cv2.INTER_AREA if output_span < region_span else cv2.INTER_LANCZOS4


def resize(plane: np.ndarray, size: tuple[int, int], interpolation: int) -> np.ndarray:
    """cv2.resize; Lanczos-4 in float32, OpenCV's vectorized path: 1.8x as fast as its 8-bit fixed-point one (5.5 ms
    against 9.7 for 372 -> 512 px), the result rounded back to 8 bits, at most 1 level from it on 1 % of pixels."""
    if interpolation != cv2.INTER_LANCZOS4:
        return cv2.resize(plane, size, interpolation=interpolation)
    enlarged = cv2.resize(plane.astype(np.float32), size, interpolation=cv2.INTER_LANCZOS4)
    np.clip(enlarged, 0, 255, out=enlarged)
    return np.rint(enlarged, out=enlarged).astype(np.uint8)  # rounded half to even, as OpenCV's saturate_cast


def _place(plane: np.ndarray, fit: FitOutcome, fill: tuple[int, ...] | int, interpolation: int) -> np.ndarray:
    """Scale a region's plane to the fit's inner size and pad it to the output size with `fill`."""
    scaled = resize(plane, fit.inner, interpolation)
    pad = fit.padded
    value: Any = fill if isinstance(fill, int) else list(fill)
    return cv2.copyMakeBorder(scaled, pad.top, pad.bottom, pad.left, pad.right, cv2.BORDER_CONSTANT, value=value)


def _mask_plane(source: Decoded, region: tuple[int, int, int, int], fit: FitOutcome, mask: MaskMode,
                interpolation: int) -> np.ndarray:
    """The loss mask as an alpha plane: the source's alpha (mask = "alpha", when it has one) or 255 on the picture,
    0 on the padding either way."""
    left, top, right, bottom = region
    if mask == "alpha" and source.alpha is not None:
        return _place(source.alpha[top:bottom, left:right], fit, 0, interpolation)
    inner = np.full((fit.inner[1], fit.inner[0]), 255, dtype=np.uint8)
    pad = fit.padded
    return cv2.copyMakeBorder(inner, pad.top, pad.bottom, pad.left, pad.right, cv2.BORDER_CONSTANT, value=0)


def _with_mask(rgb: np.ndarray, source: Decoded, region: tuple[int, int, int, int], fit: FitOutcome, mask: MaskMode,
               interpolation: int) -> np.ndarray:
    if mask == "none":
        return rgb
    return np.dstack([rgb, _mask_plane(source, region, fit, mask, interpolation)])


def render_letterbox_masked(source: Decoded, box: Box, resolution: int, background: tuple[int, int, int],
                            mask: MaskMode) -> np.ndarray:
    """render_letterbox's picture (the same RGB bytes) with the loss mask as alpha."""
    rgb = render_letterbox(source, box, resolution, background)
    region = _scaled_box(box, source.scale, source.pixels.shape)
    fit = letterbox_outcome(box, resolution)
    return _with_mask(rgb, source, region, fit, mask, _interpolation(fit.inner[0], region[2] - region[0]))


# A strip the box may grow into is background when at least this share of its pixels is within
# BACKGROUND_TOLERANCE of the background colour on every channel (drawn art: exact; JPEG noise: a few levels).
BACKGROUND_TOLERANCE = 16
BACKGROUND_SHARE = 0.998


def background_colours(source: Decoded, background: tuple[int, int, int]) -> list[tuple[int, int, int]]:
    """What counts as background: the spec's colour (transparency is composited onto it) and the colour most
    common on the source's outer edge (a sheet's paper, when it is not the spec's colour)."""
    pixels = source.pixels
    edge = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    colours, counts = np.unique(edge.reshape(-1, 3), axis=0, return_counts=True)
    paper = tuple(int(v) for v in colours[int(np.argmax(counts))])
    return [background] if paper == background else [background, (paper[0], paper[1], paper[2])]


def _background_lines(strip: np.ndarray, colours: list[tuple[int, int, int]], axis: int) -> np.ndarray:
    """For each column (axis 0) or row (axis 1) of a strip: whether it is background."""
    wide = strip.astype(np.int16)
    near = np.zeros(strip.shape[:2], dtype=bool)
    for colour in colours:
        near |= np.abs(wide - np.array(colour, dtype=np.int16)).max(axis=2) <= BACKGROUND_TOLERANCE
    return np.asarray(near.mean(axis=axis) >= BACKGROUND_SHARE)


def _run(lines: np.ndarray) -> int:
    """How many lines from the start are background, up to the first that is not."""
    misses = np.flatnonzero(~lines)
    return int(misses[0]) if misses.size else int(lines.size)


def background_room(source: Decoded, box: Box, axis: str, need: int, colours: list[tuple[int, int, int]]) -> Sides:
    """How far the box may grow on each side of `axis` (at most `need` source pixels): inside the source, and only
    over lines (columns for 'x', rows for 'y') that are background along the whole box."""
    pixels, scale = source.pixels, source.scale
    left, top, right, bottom = _scaled_box(box, scale, pixels.shape)
    reach = int(np.ceil(need * scale))
    if axis == "x":
        before = pixels[top:bottom, max(0, left - reach):left][:, ::-1]
        after = pixels[top:bottom, right:right + reach]
        line_axis = 0
    else:
        before = pixels[max(0, top - reach):top, left:right][::-1]
        after = pixels[bottom:bottom + reach, left:right]
        line_axis = 1
    runs = [_run(_background_lines(strip, colours, line_axis)) if strip.size else 0 for strip in (before, after)]
    room = [need if run >= reach else min(need, int(run / scale)) for run in runs]
    if source.size is not None:  # a drafted decode rounds the edge: never past the source's own pixels
        width, height = source.size
        edges = (box.left, width - box.right) if axis == "x" else (box.top, height - box.bottom)
        room = [min(r, max(0, e)) for r, e in zip(room, edges, strict=True)]
    return Sides(room[0], 0, room[1], 0) if axis == "x" else Sides(0, room[0], 0, room[1])


def plan_bucket_fit(source: Decoded, box: Box, bucket: tuple[int, int], background: tuple[int, int, int]) -> FitOutcome:
    """Where the box grows and pads to take its bucket's shape, measured on this source's pixels."""
    axis, need = growth_needed(box, bucket)
    room = background_room(source, box, axis, need, background_colours(source, background)) if need else Sides()
    return fit_bucket(box, bucket, room)


def render_bucket(source: Decoded, box: Box, bucket: tuple[int, int], background: tuple[int, int, int],
                  mask: MaskMode) -> tuple[np.ndarray, FitOutcome]:
    """The box grown into background (padded where it cannot grow) to the bucket's aspect ratio, scaled to the
    bucket's exact size, with the loss mask as alpha unless mask is "none"."""
    fit = plan_bucket_fit(source, box, bucket, background)
    region = _scaled_box(fit.region, source.scale, source.pixels.shape)
    left, top, right, bottom = region
    interpolation = _interpolation(fit.inner[0], right - left)
    rgb = _place(source.pixels[top:bottom, left:right], fit, background, interpolation)
    return _with_mask(rgb, source, region, fit, mask, interpolation), fit


def mirror(image: np.ndarray) -> np.ndarray:
    """A horizontally mirrored copy (the alpha plane, if any, with it)."""
    return cv2.flip(image, 1)


def encode_png(image: np.ndarray, png: str = "fast") -> bytes:
    """PNG bytes of an RGB or RGBA image, with the settings named by `png` ('fast' or 'small'): png.py."""
    from kohya_prep.build import png as png_encoder

    return png_encoder.encode_png(image, png)
