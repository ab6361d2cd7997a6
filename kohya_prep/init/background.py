"""The background of a sheet, and the foreground mask: what is drawn on it.

Pure: an RGB or RGBA array in, a mask out. A transparent sheet's background is its alpha. Otherwise the
background colour is read from a band along the border and followed across the sheet as a smooth surface
(normalized convolution at low resolution), so white, cream, grey, gradients, vignettes, paper texture and
dark backgrounds all work; a pixel is foreground when it differs from that surface by more than the
background's own noise (texture, a faint grid) allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

BackgroundKind = Literal["transparent", "plain", "busy"]
MODEL_SIDE = 192  # the background surface is estimated at this long side
MIN_THRESHOLD, MAX_THRESHOLD = 12, 56  # colour distance (max over channels) that counts as drawn
FLAT_RANGE = 24  # a background surface spanning less than this is one colour


@dataclass(frozen=True)
class Foreground:
    """What is drawn on the sheet (a 0/1 uint8 mask), the background's kind and the colour distance used."""

    mask: np.ndarray
    kind: BackgroundKind
    threshold: int
    background_share: float  # how much of the sheet is background
    flat: bool = True  # the background is one colour (a gradient or vignette is not)


def border_band(shape: tuple[int, ...]) -> np.ndarray:
    """A boolean mask of the band along the four edges: 2 % of the short side, at least 3 pixels."""
    height, width = shape[:2]
    band = max(3, round(0.02 * min(height, width)))
    mask = np.zeros((height, width), bool)
    mask[:band], mask[-band:], mask[:, :band], mask[:, -band:] = True, True, True, True
    return mask


def _smooth_fill(image: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """Normalized convolution: the image's values where weight is 1, spread smoothly over where it is 0
    (far from any background, its mean)."""
    weights = cv2.GaussianBlur(weight, (0, 0), sigma)
    spread = cv2.GaussianBlur(image * weight[..., None], (0, 0), sigma)
    known = weight > 0
    mean = image[known].mean(axis=0) if known.any() else image.reshape(-1, image.shape[-1]).mean(axis=0)
    near = weights[..., None] > 0.02
    return np.where(near, spread / np.maximum(weights, 1e-6)[..., None], mean).astype(np.float32)


def _spread(values: np.ndarray) -> float:
    """A robust 90th percentile: 2.5 medians (so for Gaussian texture), which a frame drawn along the edge or a figure
    running into it cannot raise unless it covers half of the band."""
    return 2.5 * float(np.median(values))


def background_surface(rgb: np.ndarray) -> np.ndarray:
    """The background as a smooth RGB surface at full size (uint8), estimated from the border inwards."""
    height, width = rgb.shape[:2]
    factor = MODEL_SIDE / max(height, width)
    small = cv2.resize(rgb, (max(8, round(width * factor)), max(8, round(height * factor))),
                       interpolation=cv2.INTER_AREA).astype(np.float32)
    band = border_band(small.shape)
    median = np.median(small[band], axis=0)
    distance = np.abs(small - median).max(axis=2)
    limit = max(12.0, _spread(distance[band]) + 8.0)
    sigma = max(small.shape[:2]) / 12
    model = np.broadcast_to(median, small.shape).astype(np.float32)
    weight = (distance < limit).astype(np.float32)
    for _ in range(2):
        model = _smooth_fill(small, weight, sigma)
        distance = np.abs(small - model).max(axis=2)
        weight = (distance < max(10.0, 2 * _spread(distance[band]) + 6)).astype(np.float32)
    small_surface = np.clip(model + 0.5, 0, 255).astype(np.uint8)
    return cv2.resize(small_surface, (width, height), interpolation=cv2.INTER_LINEAR)


def colour_distance(rgb: np.ndarray, surface: np.ndarray) -> np.ndarray:
    """Per pixel, the largest channel difference from the background surface (uint8)."""
    diff = cv2.absdiff(rgb, surface)
    return cv2.max(cv2.max(diff[..., 0], diff[..., 1]), diff[..., 2])


def _strips(image: np.ndarray) -> tuple[np.ndarray, ...]:
    """The four edges of border_band as separate strips (views, no copies)."""
    band = max(3, round(0.02 * min(image.shape[:2])))
    return (image[:band], image[-band:], image[:, :band], image[:, -band:])


def _clear(coverage: np.ndarray) -> bool:
    """Whether an edge strip is background, given the drawn share of each of its lines (rows or columns) along the
    edge; a line drawn along the edge (a border round the sheet) does not count."""
    kept = coverage[coverage < 0.9]
    return bool(kept.size) and float(kept.mean()) <= 0.2


def _texture(distance: np.ndarray) -> int:
    """How far the background itself strays from its surface, along the quietest edge (see _spread).

    Figures or panels may run into one or two edges, a border may be drawn along all four, and a faint grid
    covers a few per cent of each; paper texture is everywhere. A grid's lines above the threshold are removed
    later as long thin lines (lines.py).
    """
    return round(min(_spread(side) for side in _strips(distance)))


def _opaque_foreground(rgb: np.ndarray) -> Foreground:
    surface = background_surface(rgb)
    distance = colour_distance(rgb, surface)
    threshold = int(np.clip(3 * _texture(distance) + 10, MIN_THRESHOLD, MAX_THRESHOLD))
    mask = (distance > threshold).astype(np.uint8)
    # Figures may run off one or two edges (busts cut at the bottom); a picture's background reaches all four.
    top, bottom, left, right = _strips(mask)
    clear_sides = sum(_clear(strip.mean(axis=axis)) for strip, axis in ((top, 1), (bottom, 1), (left, 0), (right, 0)))
    share = 1.0 - cv2.countNonZero(mask) / mask.size
    kind: BackgroundKind = "plain" if clear_sides >= 2 and share >= 0.2 else "busy"
    small = surface[:: max(1, surface.shape[0] // 64), :: max(1, surface.shape[1] // 64)].reshape(-1, 3)
    flat = int((small.max(axis=0).astype(int) - small.min(axis=0)).max()) <= FLAT_RANGE
    return Foreground(mask, kind, threshold, share, flat)


def foreground(pixels: np.ndarray) -> Foreground:
    """The foreground mask of an RGB or RGBA sheet, and what its background is."""
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        alpha = np.ascontiguousarray(pixels[..., 3])
        if float(np.median(np.concatenate([s.ravel() for s in _strips(alpha)]))) < 128:
            mask = (alpha >= 24).astype(np.uint8)
            return Foreground(mask, "transparent", 24, 1.0 - cv2.countNonZero(mask) / mask.size)
        pixels = np.ascontiguousarray(pixels[..., :3])
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    return _opaque_foreground(np.ascontiguousarray(pixels))
