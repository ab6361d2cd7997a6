"""Boxes and connected components of a foreground mask: the small vocabulary the detector is written in."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# A component smaller than this share of the sheet is texture or dust, never part of what a person drew.
DUST = 2e-6


@dataclass(frozen=True)
class Rect:
    """left, top, width, height in pixels of the array it was measured on."""

    left: int
    top: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height

    @property
    def area(self) -> int:
        return self.width * self.height

    def as_list(self) -> list[int]:
        return [self.left, self.top, self.width, self.height]

    def union(self, other: Rect) -> Rect:
        left, top = min(self.left, other.left), min(self.top, other.top)
        return Rect(left, top, max(self.right, other.right) - left, max(self.bottom, other.bottom) - top)

    def intersection(self, other: Rect) -> int:
        width = min(self.right, other.right) - max(self.left, other.left)
        height = min(self.bottom, other.bottom) - max(self.top, other.top)
        return max(0, width) * max(0, height)

    def gap(self, other: Rect) -> int:
        """Chebyshev distance between the two boxes (0 when they touch or overlap)."""
        dx = max(other.left - self.right, self.left - other.right, 0)
        dy = max(other.top - self.bottom, self.top - other.bottom, 0)
        return max(dx, dy)

    def scaled(self, factor: int) -> Rect:
        return Rect(self.left * factor, self.top * factor, self.width * factor, self.height * factor)

    def grown(self, margin: int, size: tuple[int, int]) -> Rect:
        """The box with `margin` on every side, clipped to an image of `size` (width, height)."""
        left, top = max(0, self.left - margin), max(0, self.top - margin)
        right, bottom = min(size[0], self.right + margin), min(size[1], self.bottom + margin)
        return Rect(left, top, right - left, bottom - top)


@dataclass(frozen=True)
class Component:
    """One connected component: its label in the label image, box, pixel count and colour histogram."""

    label: int
    rect: Rect
    pixels: int
    colours: np.ndarray  # counts over 512 colour bins (3 bits per channel) of its inner pixels


def colour_bins(rgb: np.ndarray) -> np.ndarray:
    """3 bits per channel: 512 bins, coarse enough that anti-aliasing and texture stay in one colour."""
    return ((rgb[..., 0] >> 5).astype(np.int32) << 6) | ((rgb[..., 1] >> 5).astype(np.int32) << 3) | (rgb[..., 2] >> 5)


def components(mask: np.ndarray, rgb: np.ndarray) -> tuple[np.ndarray, list[Component]]:
    """Label the mask (8-connected) and describe every component above dust size."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    dust = max(6, int(DUST * mask.size))
    inner = cv2.erode(mask, np.ones((5, 5), np.uint8))  # 2 px in: what the blur below reads is the shape itself
    step = 2
    sampled = labels[::step, ::step][inner[::step, ::step] > 0]
    # Colours are read blurred: a dithered flat shape (a GIF's palette) is one colour, as it looks.
    smooth = cv2.blur(rgb[::step, ::step], (3, 3))
    bins = colour_bins(smooth)[inner[::step, ::step] > 0]
    hist = np.bincount(sampled.astype(np.int64) * 512 + bins, minlength=count * 512).reshape(count, 512)
    found = []
    for label in range(1, count):
        left, top, width, height, area = (int(v) for v in stats[label])
        if area >= dust:
            found.append(Component(label, Rect(left, top, width, height), area, hist[label]))
    return labels, found


def colour_count(hist: np.ndarray, share: float = 0.04) -> int:
    """How many colours make up at least `share` each of the histogram."""
    total = hist.sum()
    return int((hist >= share * total).sum()) if total else 0


def dominant_share(hist: np.ndarray) -> float:
    total = hist.sum()
    return float(hist.max() / total) if total else 1.0


def _neighbourhood_sum(hist: np.ndarray) -> np.ndarray:
    """For each of the 512 bins, the counts of it and its 26 neighbours (one step in r, g, b)."""
    cube = hist.reshape(8, 8, 8).astype(np.int64)
    padded = np.pad(cube, 1)
    total = np.zeros_like(cube)
    for dr in range(3):
        for dg in range(3):
            for db in range(3):
                total += padded[dr:dr + 8, dg:dg + 8, db:db + 8]
    return total.ravel()


def near_dominant_share(hist: np.ndarray) -> float:
    """The share of pixels within one bin of the most common colour: one colour with its dither or shading."""
    total = hist.sum()
    return float(_neighbourhood_sum(hist)[int(hist.argmax())] / total) if total else 1.0
