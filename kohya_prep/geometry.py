"""Crop boxes and letterbox geometry: pure integer arithmetic, no pixels."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Box:
    """A crop rectangle in source pixels: left, top, width, height."""

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

    def as_list(self) -> list[int]:
        return [self.left, self.top, self.width, self.height]

    def __str__(self) -> str:
        return f"{self.left},{self.top},{self.width},{self.height}"

    def fits(self, size: tuple[int, int]) -> bool:
        """True when the box lies wholly inside an image of `size` (width, height)."""
        width, height = size
        return self.left >= 0 and self.top >= 0 and self.right <= width and self.bottom <= height

    def nearest_inside(self, size: tuple[int, int]) -> Box | None:
        """The box of the same size moved the least distance to fit, or None if it is larger than `size`."""
        width, height = size
        if self.width > width or self.height > height:
            return None
        left = min(max(self.left, 0), width - self.width)
        top = min(max(self.top, 0), height - self.height)
        return Box(left, top, self.width, self.height)

    def clipped(self, size: tuple[int, int]) -> Box:
        """The part of the box that lies inside an image of `size`."""
        left, top = max(self.left, 0), max(self.top, 0)
        right, bottom = min(self.right, size[0]), min(self.bottom, size[1])
        return Box(left, top, max(right - left, 0), max(bottom - top, 0))


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
