"""Long thin straight lines: floor lines under a row of figures, dividers, a grid printed on the paper.

They touch the figures and would join them into one; a figure never has a straight part that is both thin
and a quarter of the sheet long. A line is a run at least `length` long whose other direction is at most
`thickness` thick; pixels where a figure meets the line are thick and stay with the figure.
"""

from __future__ import annotations

import cv2
import numpy as np

RULED = 0.33  # a row or column this much covered by line is ruled across the sheet


def _open(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    return cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (width, height)))


def _ruled(lines: np.ndarray, thin: np.ndarray, axis: int) -> np.ndarray:
    """Every thin pixel of a row (axis 1) or column (axis 0) that lines cover for a third of the sheet: a ruled or grid
    line, whose short pieces between two figures standing close would otherwise join them."""
    ruled = lines.mean(axis=axis) >= RULED
    out = np.zeros_like(thin)
    if axis == 1:
        out[ruled] = thin[ruled]
    else:
        out[:, ruled] = thin[:, ruled]
    return out


def long_lines(mask: np.ndarray, length: int, thickness: int) -> np.ndarray:
    """The pixels of thin horizontal and vertical lines at least `length` long (0/1 uint8)."""
    thin_rows = cv2.subtract(mask, _open(mask, 1, thickness + 1))  # vertically no thicker than `thickness`
    thin_cols = cv2.subtract(mask, _open(mask, thickness + 1, 1))
    horizontal = cv2.bitwise_and(_open(mask, length, 1), thin_rows)
    vertical = cv2.bitwise_and(_open(mask, 1, length), thin_cols)
    horizontal = cv2.bitwise_or(horizontal, _ruled(horizontal, thin_rows, 1))
    vertical = cv2.bitwise_or(vertical, _ruled(vertical, thin_cols, 0))
    return cv2.bitwise_or(horizontal, vertical)


def without_long_lines(mask: np.ndarray, length: int, thickness: int) -> tuple[np.ndarray, int]:
    """The mask with its long thin lines taken out, and how many pixels that took."""
    lines = long_lines(mask, length, thickness)
    return cv2.subtract(mask, lines), int(np.count_nonzero(lines))
