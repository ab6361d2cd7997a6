"""The [[crops]] tables: a named box on a source, its caption, flip and status; names unique as output files."""

from __future__ import annotations

from typing import Any, cast

from kohya_prep.spec.fields import Problems, check_keys, choice, flag, shown
from kohya_prep.spec.model import FITS, FLIP_SUFFIX, MASKS, STATUSES, Box, CropSpec, FitMode, MaskMode, SourceSpec, Status
from kohya_prep.spec.names import unsafe_name_reason

CROP_KEYS = ("name", "source", "box", "caption", "flip", "status", "fit", "mask")
MAX_BOX_VALUE = 1_000_000  # no source is a million pixels wide (headers.MAX_SOURCE_PIXELS is 1 GP in all)


def _box(value: Any, where: str, source: SourceSpec | None, problems: Problems) -> Box | None:
    if (
        not isinstance(value, list)
        or len(value) != 4
        or any(isinstance(v, bool) or not isinstance(v, int) for v in value)
    ):
        problems.add(where, f"box = {shown(value)} must be four whole numbers [left, top, width, height]")
        return None
    if any(abs(v) > MAX_BOX_VALUE for v in value):
        problems.add(where, f"box = {shown(value)} has a value beyond {MAX_BOX_VALUE:,} pixels; use the source's pixel positions")
        return None
    box = Box(*value)
    if box.width < 1 or box.height < 1:
        problems.add(where, f"box = {value} has width {box.width} and height {box.height}; both must be at least 1")
        return None
    if source is None or box.fits(source.size):
        return box
    problems.add(where, _outside_message(box, value, source))
    return None


def _outside_message(box: Box, value: Any, source: SourceSpec) -> str:
    """Where a box leaves its source, and the nearest box that fits."""
    width, height = source.size
    if box.right > width:
        what = f"left {box.left} + width {box.width} = {box.right} > {width}"
    elif box.bottom > height:
        what = f"top {box.top} + height {box.height} = {box.bottom} > {height}"
    else:
        what = "it starts outside the image"
    nearest = box.nearest_inside(source.size)
    if nearest is None:
        fix = f"it is larger than the image; use at most {width}x{height}, e.g. box = {box.clipped(source.size).as_list()}"
    else:
        fix = f"nearest box of the same size that fits: box = {nearest.as_list()}"
    return f"box = {value} leaves {source.path.name} ({width}x{height}): {what}; {fix}"


class _Names:
    """Output stems already taken (case-insensitive, -flip names included), and by which crop."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def claim(self, name: str, flip: bool, where: str, problems: Problems) -> None:
        for output_stem in (name, name + FLIP_SUFFIX) if flip else (name,):
            key = output_stem.lower()
            if key in self.seen:
                problems.add(where, f"name {output_stem!r} is already used by {self.seen[key]}; rename one of them")
            self.seen.setdefault(key, where)


def _caption(value: Any, where: str, problems: Problems) -> str:
    if not isinstance(value, str):
        problems.add(where, f"caption = {shown(value)} must be text in quotes")
        return ""
    return value


# The crop fields that need nothing but their own value: key, default, parser.
_CROP_FIELDS: tuple[tuple[str, Any, Any], ...] = (
    ("caption", "", _caption),
    ("flip", False, lambda v, where, p: flag(v, where, "flip", p)),
    ("status", "approved", lambda v, where, p: choice(v, where, "status", STATUSES, p)),
)


def _inherited(data: dict[str, Any]) -> dict[str, str]:
    """fit and mask of [dataset], when valid: every crop's default (a bad one is reported once, by dataset.py)."""
    table = data.get("dataset")
    table = table if isinstance(table, dict) else {}
    fit, mask = table.get("fit", "letterbox"), table.get("mask", "none")
    return {"fit": fit if fit in FITS else "letterbox", "mask": mask if mask in MASKS else "none"}


def _crop(row: dict[str, Any], index: int, sources: dict[str, SourceSpec], source_ids: set[str], names: _Names,
          problems: Problems, inherited: dict[str, str]) -> CropSpec | None:
    name = row.get("name")
    where = f"crop {shown(name)}" if isinstance(name, str) and name else f"crop #{index}"
    check_keys(row, CROP_KEYS, where, problems)
    if not isinstance(name, str) or not name:
        problems.add(where, "name is missing; give every crop a unique name, e.g. name = 'front-full'")
        return None
    reason = unsafe_name_reason(name)
    if reason:
        problems.add(where, f"name {shown(name)} is not a safe file name: {reason}")
    names.claim(name, bool(row.get("flip")), where, problems)
    source_id = row.get("source")
    if not isinstance(source_id, str) or source_id not in source_ids:
        if source_ids:  # with no [sources] at all, that one problem is reported once, not once per crop
            known = ", ".join(sorted(source_ids))
            problems.add(where, f"source {shown(source_id)} is not in [sources] (known: {known}); fix the id or add the source")
        source_id = None
    box = _box(row.get("box"), where, sources.get(source_id or ""), problems)
    values = {key: parse(row.get(key, default), where, problems) for key, default, parse in _CROP_FIELDS}
    fit = choice(row.get("fit", inherited["fit"]), where, "fit", FITS, problems)
    mask = choice(row.get("mask", inherited["mask"]), where, "mask", MASKS, problems)
    if box is None or source_id is None or reason:
        return None
    return CropSpec(name, source_id, box, values["caption"], values["flip"], cast(Status, values["status"]), index,
                    fit=cast(FitMode, fit), mask=cast(MaskMode, mask))


def crops_section(data: dict[str, Any], sources: dict[str, SourceSpec], source_ids: set[str],
                   problems: Problems) -> list[CropSpec]:
    rows = data.get("crops")
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        problems.add("", "no [[crops]] found; add at least one [[crops]] table with name, source and box")
        return []
    names = _Names()
    inherited = _inherited(data)
    crops = [_crop(row, index, sources, source_ids, names, problems, inherited) for index, row in enumerate(rows, start=1)]
    return [crop for crop in crops if crop is not None]
