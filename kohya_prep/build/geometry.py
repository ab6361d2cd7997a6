"""Letterbox geometry and JPEG decode scales: pure arithmetic on crop boxes, no pixels."""

from __future__ import annotations

from dataclasses import dataclass

from kohya_prep.spec.model import Box


@dataclass(frozen=True)
class Letterbox:
    """Where a scaled crop sits inside the target square."""

    scaled_width: int
    scaled_height: int
    offset_x: int
    offset_y: int
    target: int


def letterbox(width: int, height: int, target: int) -> Letterbox:
    """Scale (width, height) to fit inside target x target keeping the aspect ratio, centred.

    The long side becomes exactly `target`; the short side is rounded to the nearest pixel (at least 1).
    """
    if width >= height:
        scaled_w, scaled_h = target, max(1, round(height * target / width))
    else:
        scaled_w, scaled_h = max(1, round(width * target / height)), target
    return Letterbox(scaled_w, scaled_h, (target - scaled_w) // 2, (target - scaled_h) // 2, target)


# Reduced (DCT-scaled) JPEG decoding keeps at least this many source pixels per output pixel, so the
# result differs from a full decode by resampling noise only (README, "Speed").
DRAFT_MARGIN = 2.0


def jpeg_decode_scale(boxes: list[Box], resolution: int) -> float:
    """The smallest JPEG decode scale (1, 1/2, 1/4, 1/8) that leaves every box above DRAFT_MARGIN x resolution."""
    if not boxes:
        return 1.0
    need = max(DRAFT_MARGIN * resolution / max(b.width, b.height) for b in boxes)
    scale = 1.0
    while scale > 0.125 and scale / 2 >= need:
        scale /= 2
    return scale
