"""The figure detector: pixels of a sheet in, one box per figure or framed panel out. Pure, no I/O.

Classical image processing only (OpenCV and numpy; no model, nothing downloaded):

1. background.py: the foreground mask (alpha, or the colour distance from the border's smooth surface);
2. panels.py: framed panels, one box each, taken out of the mask;
3. lines.py: long thin lines (floor lines, dividers, a printed grid) taken out, so they join nothing;
4. grouping.py: connected components, then the parts of one figure joined, text kept apart;
5. here: what is a figure (several colours, tall enough next to the sheet's tallest) and what is left out
   (text, swatches, logos, signatures), its kind, a confidence, and a box with a margin inside the image.

Large sheets are read at half size (a max-pool of the mask, so a 3 px gap stays open); boxes are scaled
back and always contain every pixel of the figure as seen at that size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from kohya_prep.init.background import BackgroundKind, foreground
from kohya_prep.init.grouping import Group, group_parts
from kohya_prep.init.lines import without_long_lines
from kohya_prep.init.panels import Panel, find_panels
from kohya_prep.init.shapes import Rect, colour_count, components, dominant_share, near_dominant_share

Kind = Literal["full body", "bust", "face"]
LeftOutKind = Literal["text", "swatch", "line", "small"]
FULL_SIZE_LIMIT = 3000  # longer sides are read at half size (or less): speed, and nothing is lost at that size
FIGURE_HEIGHT = 0.18  # a figure is at least this share of the tallest figure's height
MARGIN = 0.03  # of the box's long side, at least MIN_MARGIN px
MIN_MARGIN = 4
SOLID = 0.3  # a mark whose inner pixels are this share of it is drawn in solid strokes, not thin lines
INNER_SAMPLE = 4  # shapes.components samples every 2nd pixel each way
MIN_SHEET_SIDE = 200  # a smaller image is one picture, whatever is on it
EMPTY = 0.0005  # less of the image than this drawn on: all background


@dataclass(frozen=True)
class Detection:
    """One figure or framed panel: the box to crop (margin included), its kind, and how sure the guess is."""

    box: Rect
    figure: Rect  # the figure's own pixels, before the margin
    kind: Kind
    confidence: float  # 0..1
    framed: bool

    @property
    def level(self) -> str:
        return "high" if self.confidence >= 0.75 else "medium" if self.confidence >= 0.5 else "low"


@dataclass(frozen=True)
class LeftOut:
    """Something drawn on the sheet that is not a figure."""

    kind: LeftOutKind
    box: Rect


@dataclass(frozen=True)
class SheetReading:
    """What the detector found on one image."""

    size: tuple[int, int]  # width, height
    background: BackgroundKind
    detections: tuple[Detection, ...]
    left_out: tuple[LeftOut, ...]
    foreground_share: float
    flat: bool = True  # the background is one colour

    @property
    def is_sheet(self) -> bool:
        """Several figures, or one with a title or labels, on a plain or transparent background.

        One figure with nothing but a signature or a few shapes beside it is a picture: it is kept whole.
        """
        if self.background == "busy" or min(self.size) < MIN_SHEET_SIDE:
            return False
        text = any(item.kind == "text" for item in self.left_out)
        return len(self.detections) >= 2 or (len(self.detections) == 1 and text)

    @property
    def is_empty(self) -> bool:
        """Nothing drawn at all: the whole image one colour, or transparent (a gradient is a picture)."""
        return self.background != "busy" and self.flat and self.foreground_share < EMPTY


def _working(mask: np.ndarray, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """The mask max-pooled (a gap stays open) and the colours subsampled, for sheets past FULL_SIZE_LIMIT."""
    factor = 1
    while max(mask.shape) / factor > FULL_SIZE_LIMIT:
        factor *= 2
    if factor == 1:
        return mask, rgb, 1
    # A dilation anchored at the top left takes the max over each factor x factor block: a max-pool.
    pooled = cv2.dilate(mask, np.ones((factor, factor), np.uint8), anchor=(0, 0))[::factor, ::factor]
    return np.ascontiguousarray(pooled), np.ascontiguousarray(rgb[::factor, ::factor]), factor


def _rgb(pixels: np.ndarray) -> np.ndarray:
    if pixels.ndim == 2:
        return np.repeat(pixels[..., None], 3, axis=2)
    return np.ascontiguousarray(pixels[..., :3])


def _left_out_kind(group: Group) -> LeftOutKind | None:
    """Why a group is not a figure, whatever its size; None when it may be one."""
    rect = group.rect
    if group.text:
        return "text"
    if max(rect.width, rect.height) >= 12 * max(1, min(rect.width, rect.height)):
        return "line"
    # One flat colour is a swatch, a shape or big lettering; a figure drawn in one colour is line art, whose thin
    # lines leave (almost) no inner pixels to read a colour from.
    fill = group.pixels / max(1, rect.area)
    one_colour = dominant_share(group.colours) >= 0.75 and colour_count(group.colours) <= 2
    if fill >= 0.35 and (one_colour or near_dominant_share(group.colours) >= 0.92):
        return "swatch"
    solid = INNER_SAMPLE * group.colours.sum() >= SOLID * group.pixels
    return "text" if one_colour and solid else None


def guess_kind(mask: np.ndarray, rect: Rect) -> Kind:
    """Full body, bust or face: from the box's shape and how wide the head is against the figure's height.

    A head is about a seventh of a standing figure, a third of a bust and most of a face; its width is the
    median width of the rows 3-10 % below the top. A guess for a person to check, written first in the caption.
    """
    top = rect.top + max(1, round(0.03 * rect.height))
    rows = mask[top: rect.top + max(2, round(0.1 * rect.height)), rect.left:rect.right]
    widths = [int(np.ptp(np.flatnonzero(row))) + 1 for row in rows if row.any()]
    head = float(np.median(widths)) / rect.height if widths else 1.0
    tall = rect.height / max(1, rect.width)
    if tall >= 1.8 or (tall >= 1.25 and head < 0.3):
        return "full body"
    if head >= 0.55 or (tall < 0.85 and head >= 0.4):
        return "face"
    return "bust"


def _confidence(group: Group, others: list[Rect], size: tuple[int, int], typical_width: float) -> float:
    """Start sure and lose for every reason to doubt: cut by the edge, loose parts, a neighbour too near, too wide."""
    rect, score = group.rect, 0.9
    if rect.left == 0 or rect.top == 0 or rect.right >= size[0] or rect.bottom >= size[1]:
        score -= 0.25
    score -= min(0.2, 0.05 * group.parts_attached)
    nearest = min((rect.gap(o) for o in others if o != rect), default=10**6)
    if nearest <= max(4, 0.01 * rect.height):
        score -= 0.15
    if typical_width and rect.width > 1.8 * typical_width:
        score -= 0.25  # perhaps two figures taken as one
    if colour_count(group.colours) <= 1:
        score -= 0.15  # one colour: a sketch, or something that is no figure
    return round(max(0.05, min(1.0, score)), 2)


def _reading_order(items: list[tuple[Rect, Detection]]) -> list[Detection]:
    """Rows top to bottom (boxes overlapping vertically by half share a row), left to right in a row."""
    rows: list[list[tuple[Rect, Detection]]] = []
    for rect, det in sorted(items, key=lambda item: item[0].top):
        for row in rows:
            first = row[0][0]
            overlap = min(first.bottom, rect.bottom) - max(first.top, rect.top)
            if overlap >= 0.5 * min(first.height, rect.height):
                row.append((rect, det))
                break
        else:
            rows.append([(rect, det)])
    return [det for row in rows for _, det in sorted(row, key=lambda item: item[0].left)]


def _panel_detections(panels: list[Panel], factor: int, size: tuple[int, int]) -> list[tuple[Rect, Detection]]:
    out = []
    for panel in panels:
        inner = panel.inner.scaled(factor).grown(0, size)
        kind: Kind = "face" if inner.height <= 1.3 * inner.width else "bust"
        out.append((inner, Detection(inner, inner, kind, 0.95, True)))
    return out


def _figure_detections(groups: list[Group], mask: np.ndarray, factor: int,
                       size: tuple[int, int]) -> tuple[list[tuple[Rect, Detection]], list[LeftOut]]:
    left_out: list[LeftOut] = []
    candidates = []
    for group in groups:
        kind = _left_out_kind(group)
        if kind:
            left_out.append(LeftOut(kind, group.rect.scaled(factor)))
        else:
            candidates.append(group)
    tallest = max((g.rect.height for g in candidates), default=0)
    figures = [g for g in candidates if g.rect.height >= FIGURE_HEIGHT * tallest]
    left_out += [LeftOut("small", g.rect.scaled(factor)) for g in candidates if g not in figures]
    widths = sorted(g.rect.width for g in figures)
    typical = float(widths[len(widths) // 2]) if widths else 0.0
    rects = [g.rect for g in figures]
    out = []
    for group in figures:
        figure = group.rect.scaled(factor).grown(0, size)
        margin = max(MIN_MARGIN, round(MARGIN * max(figure.width, figure.height)))
        det = Detection(figure.grown(margin, size), figure, guess_kind(mask, group.rect),
                        _confidence(group, rects, (mask.shape[1], mask.shape[0]), typical), False)
        out.append((figure, det))
    return out, left_out


def detect_figures(pixels: np.ndarray) -> SheetReading:
    """Find the figures and framed panels on a sheet (RGB or RGBA uint8, or greyscale)."""
    height, width = pixels.shape[:2]
    size = (width, height)
    drawn = foreground(pixels)
    if drawn.kind == "busy":
        return SheetReading(size, "busy", (), (), 1.0 - drawn.background_share, drawn.flat)
    mask, rgb, factor = _working(drawn.mask, _rgb(pixels))
    short = min(mask.shape)
    labels, found = components(mask, rgb)
    panels = find_panels(labels, found, rgb, max(24, round(0.06 * short)))
    for panel in panels:
        mask[panel.outer.top:panel.outer.bottom, panel.outer.left:panel.outer.right] = 0
    mask, _removed = without_long_lines(mask, max(40, round(0.25 * short)), max(3, round(0.005 * short)))
    labels, found = components(mask, rgb)
    items, left_out = _figure_detections(group_parts(found), mask, factor, size)
    items += _panel_detections(panels, factor, size)
    return SheetReading(size, drawn.kind, tuple(_reading_order(items)), tuple(left_out), 1.0 - drawn.background_share,
                        drawn.flat)
