"""Framed panels: a picture inside a drawn rectangle (a grid of framed faces), one box per panel.

A frame and whatever touches it inside is one component whose box is covered by it along all four edges;
no figure looks like that. Frames that share their lines (a table of faces) are split at the rows and
columns drawn in the frame's colour. A panel counts when it holds a picture: several colours, not one
swatch colour or a line of text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from kohya_prep.init.shapes import Component, Rect, colour_bins, colour_count

EDGE_COVER = 0.9  # share of a box edge the frame covers
LINE_COLOUR = 40  # colour distance from the frame's colour that still counts as the frame
PAGE = 0.5  # a frame around at least this share of the sheet is a page border, not a panel


@dataclass(frozen=True)
class Panel:
    outer: Rect  # the frame, lines included
    inner: Rect  # the picture inside the lines


def _edge_covered(inside: np.ndarray) -> bool:
    """Whether the component covers its box along all four edges (the outermost 3 rows and columns)."""
    depth = min(3, inside.shape[0], inside.shape[1])
    rows, cols = inside.mean(axis=1), inside.mean(axis=0)
    return all(float(part.max()) >= EDGE_COVER for part in (rows[:depth], rows[-depth:], cols[:depth], cols[-depth:]))


def _gaps(is_line: np.ndarray) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of False between runs of True, the runs at both ends being the frame."""
    start = None
    for index, value in enumerate(is_line):
        if not value and start is None:
            start = index
        elif value and start is not None:
            yield start, index
            start = None


def _cells(rgb: np.ndarray, inside: np.ndarray, rect: Rect) -> list[Rect]:
    """The boxes between the frame's lines: rows and columns drawn at least 90 % in the frame's colour."""
    edge = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).astype(np.int16)
    colour = np.median(edge, axis=0)
    on_line = (np.abs(rgb.astype(np.int16) - colour).max(axis=2) <= LINE_COLOUR) & inside
    rows, cols = on_line.mean(axis=1) >= EDGE_COVER, on_line.mean(axis=0) >= EDGE_COVER
    if not (rows[0] or rows[1]) or not (cols[0] or cols[1]):
        return []  # the edge is not drawn in one colour: a filled shape, not a frame
    return [Rect(rect.left + x0, rect.top + y0, x1 - x0, y1 - y0) for y0, y1 in _gaps(rows) for x0, x1 in _gaps(cols)]


def holds_picture(rgb: np.ndarray) -> bool:
    """Several colours, none of them nearly everything: a picture, not a swatch, a blank or a line of text."""
    hist = np.bincount(colour_bins(rgb[::2, ::2]).ravel(), minlength=512)
    return colour_count(hist, 0.03) >= 3 and float(hist.max()) / max(1, int(hist.sum())) < 0.9


def find_panels(labels: np.ndarray, found: list[Component], rgb: np.ndarray, min_side: int) -> list[Panel]:
    """Every framed panel among the components, with the frame's box and the picture's box."""
    panels = []
    page = labels.shape[0] * labels.shape[1]
    for comp in found:
        rect = comp.rect
        if rect.width < min_side or rect.height < min_side or rect.area >= PAGE * page:
            continue  # too small for a picture, or a border around the whole sheet (its lines go as long lines)
        inside = labels[rect.top:rect.bottom, rect.left:rect.right] == comp.label
        if not _edge_covered(inside):
            continue
        region = rgb[rect.top:rect.bottom, rect.left:rect.right]
        cells = _cells(region, inside, rect)
        good = [c for c in cells if min(c.width, c.height) >= min_side // 2
                and holds_picture(rgb[c.top:c.bottom, c.left:c.right])]
        if good and len(good) * 2 >= len(cells):
            panels += [Panel(rect, cell) for cell in good]
    return panels
