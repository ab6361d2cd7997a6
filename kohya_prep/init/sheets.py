"""One image: a sheet (one speculative crop per figure found), one picture (one whole-image crop), or nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from kohya_prep.init.detect import Detection, SheetReading, detect_figures
from kohya_prep.init.images import UnreadableImage, load_pixels
from kohya_prep.init.model import KIND_TAGS, ImageFinding, ProposedCrop

NameFor = Callable[[str], str]  # a wanted crop name -> a free one


def read_sheet(path: Path) -> SheetReading:
    """Detect the figures in an image file, boxes in full-size pixels. Raises UnreadableImage."""
    pixels = load_pixels(path)
    reading = detect_figures(pixels.array)
    if pixels.scale == 1:
        return reading
    scaled = tuple(replace(d, box=d.box.scaled(pixels.scale).grown(0, pixels.size),
                           figure=d.figure.scaled(pixels.scale).grown(0, pixels.size)) for d in reading.detections)
    return replace(reading, size=pixels.size, detections=scaled)


def _detection_crop(name: str, source: str, det: Detection) -> ProposedCrop:
    framed = ", framed panel" if det.framed else ""
    comment = f"found: {det.kind}{framed}, confidence {det.confidence:.2f} ({det.level}); check the box, then approve"
    box = det.box.as_list()
    return ProposedCrop(name, source, box, [KIND_TAGS[det.kind]], "speculative", comment)


def sheet_crops(reading: SheetReading, source: str, base: str,
                free_name: NameFor) -> tuple[list[tuple[str, Detection]], list[ProposedCrop]]:
    """One speculative crop per detection, named <base>-01, -02 ... in reading order."""
    digits = max(2, len(str(len(reading.detections))))
    named = [(free_name(f"{base}-{i:0{digits}d}"), det) for i, det in enumerate(reading.detections, start=1)]
    return named, [_detection_crop(name, source, det) for name, det in named]


def examine(path: Path, source: str, base: str, free_name: NameFor) -> tuple[ImageFinding, list[ProposedCrop]]:
    """What one image is, and the crops it proposes (none for a picture: the caller decides how it is kept)."""
    try:
        reading = read_sheet(path)
    except UnreadableImage as err:
        return ImageFinding(path, source, "unreadable", note=f"{path.name} is not a readable image ({err})"), []
    left_out: dict[str, int] = dict(Counter(str(item.kind) for item in reading.left_out))
    if reading.is_empty:
        return ImageFinding(path, source, "empty", background=reading.background,
                            note=f"{path.name} is all background: nothing is drawn on it"), []
    if not reading.is_sheet:
        return ImageFinding(path, source, "picture", left_out=left_out, background=reading.background), []
    named, crops = sheet_crops(reading, source, base, free_name)
    return ImageFinding(path, source, "sheet", tuple(named), left_out, reading.background), crops
