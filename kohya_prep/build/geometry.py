"""Letterbox and bucket-fit geometry and JPEG decode scales: pure arithmetic on crop boxes, no pixels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

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


def jpeg_decode_scale_for(scales: list[float]) -> float:
    """The same rule for outputs of any shape: `scales` are output pixels per source pixel, one per box."""
    if not scales:
        return 1.0
    need = max(DRAFT_MARGIN * s for s in scales)
    scale = 1.0
    while scale > 0.125 and scale / 2 >= need:
        scale /= 2
    return scale


# --- bucket fit: the box brought to its bucket's aspect ratio by growing into background, then padding ---------


class Sides(NamedTuple):
    """A number of pixels on each side of a rectangle."""

    left: int = 0
    top: int = 0
    right: int = 0
    bottom: int = 0

    def mirrored(self) -> Sides:
        return Sides(self.right, self.top, self.left, self.bottom)


@dataclass(frozen=True)
class FitOutcome:
    """How one crop became its output: the source pixels it used and the background padding around them."""

    size: tuple[int, int]  # the output, width x height
    region: Box  # the source pixels used: the box, grown into background
    grown: Sides  # source pixels added to each side of the box
    padded: Sides  # output pixels of background colour on each side

    @property
    def inner(self) -> tuple[int, int]:
        """The size the region is scaled to inside the output."""
        return (self.size[0] - self.padded.left - self.padded.right, self.size[1] - self.padded.top - self.padded.bottom)

    @property
    def padding_pixels(self) -> int:
        return self.size[0] * self.size[1] - self.inner[0] * self.inner[1]

    @property
    def shifted(self) -> bool:
        """Grown more on one side than on the other because that side had no room (more than rounding)."""
        return abs(self.grown.left - self.grown.right) > 1 or abs(self.grown.top - self.grown.bottom) > 1

    def mirrored(self) -> FitOutcome:
        """The same fit seen in the mirrored output (the region stays in source pixels)."""
        return FitOutcome(self.size, self.region, self.grown.mirrored(), self.padded.mirrored())

    def to_data(self) -> dict[str, Any]:
        return {"size": list(self.size), "region": self.region.as_list(), "grown": list(self.grown),
                "padded": list(self.padded)}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> FitOutcome:
        return cls((data["size"][0], data["size"][1]), Box(*data["region"]), Sides(*data["grown"]), Sides(*data["padded"]))


def letterbox_outcome(box: Box, target: int) -> FitOutcome:
    """A letterbox as a FitOutcome: nothing grown, the short side padded."""
    fit = letterbox(box.width, box.height, target)
    right = target - fit.scaled_width - fit.offset_x
    bottom = target - fit.scaled_height - fit.offset_y
    return FitOutcome((target, target), box, Sides(), Sides(fit.offset_x, fit.offset_y, right, bottom))


def output_scale(box: Box, size: tuple[int, int]) -> float:
    """Output pixels per source pixel when `box` fills `size` along the side that fits first (no crop)."""
    return min(size[0] / box.width, size[1] / box.height)


def growth_needed(box: Box, bucket: tuple[int, int]) -> tuple[str, int]:
    """The axis ('x' or 'y') and the source pixels the box must gain on it to take the bucket's aspect ratio."""
    width, height = bucket
    if box.width * height < width * box.height:  # narrower than the bucket: add columns
        return "x", max(0, round(box.height * width / height) - box.width)
    return "y", max(0, round(box.width * height / width) - box.height)


def _share(need: int, before: int, after: int) -> tuple[int, int, int, int]:
    """Split `need` pixels between the two sides: grow around the centre as far as each side has room, let the side
    with room take what the other lacks (a shift), pad the rest so the box stays as central as it can.

    Returns (grow before, grow after, pad before, pad after)."""
    half = need // 2
    grow_before, grow_after = min(half, before), min(need - half, after)
    grow_before = min(need - grow_after, before)
    grow_after = min(need - grow_before, after)
    pad = need - grow_before - grow_after
    pad_before = min(max(half - grow_before, 0), pad)
    return grow_before, grow_after, pad_before, pad - pad_before


def fit_bucket(box: Box, bucket: tuple[int, int], room: Sides) -> FitOutcome:
    """Bring `box` to the bucket's aspect ratio without stretching or cutting it.

    `room` says how far each side may grow: into the source, over background only (pixels.background_room).
    What cannot be grown is padded, in output pixels, on the side that lacked room.
    """
    axis, need = growth_needed(box, bucket)
    before, after = (room.left, room.right) if axis == "x" else (room.top, room.bottom)
    grow_before, grow_after, pad_before, pad_after = _share(need, before, after)
    pad = pad_before + pad_after
    if axis == "x":
        region = Box(box.left - grow_before, box.top, box.width + grow_before + grow_after, box.height)
        grown = Sides(grow_before, 0, grow_after, 0)
        span, out_span, scale = region.width, bucket[0], bucket[1] / box.height
    else:
        region = Box(box.left, box.top - grow_before, box.width, box.height + grow_before + grow_after)
        grown = Sides(0, grow_before, 0, grow_after)
        span, out_span, scale = region.height, bucket[1], bucket[0] / box.width
    out_pad = 0 if pad == 0 else out_span - min(out_span, max(1, round(span * scale)))
    out_before = round(out_pad * pad_before / pad) if pad else 0
    padded = (Sides(out_before, 0, out_pad - out_before, 0) if axis == "x"
              else Sides(0, out_before, 0, out_pad - out_before))
    return FitOutcome(bucket, region, grown, padded)
