"""The [[crops]] tables: a named box on a source, its caption, flip and status; names unique as output files.

`box` left out is the whole image. Every image of a folder or glob source that no table lists is a crop of
its own (the whole image, captioned from its sidecar file, approved), named after its file.
"""

from __future__ import annotations

import re
from typing import Any, cast

from kohya_prep.spec.captions import caption_value, compose_caption
from kohya_prep.spec.fields import Problems, check_keys, choice, flag, shown
from kohya_prep.spec.model import FITS, FLIP_SUFFIX, MASKS, STATUSES, Box, CropSpec, FitMode, MaskMode, SourceSpec, Status
from kohya_prep.spec.names import unsafe_name_reason
from kohya_prep.spec.sources import SourceTable

CROP_KEYS = ("name", "source", "box", "caption", "flip", "status", "fit", "mask")
MAX_BOX_VALUE = 1_000_000  # no source is a million pixels wide (headers.MAX_SOURCE_PIXELS is 1 GP in all)


def _box(value: Any, where: str, source: SourceSpec | None, problems: Problems) -> Box | None:
    if value is None:  # left out: the whole image
        return Box(0, 0, *source.size) if source else None
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

    def free(self, stem: str, where: str) -> str:
        """`stem`, or `stem-2`, `stem-3`...: the first name no crop has taken yet (a folder image's crop)."""
        name, number = stem, 2
        while name.lower() in self.seen:
            name, number = f"{stem}-{number}", number + 1
        self.seen[name.lower()] = where
        return name


def image_crop_name(stem: str) -> str:
    """A safe crop name for an image file's stem: other characters become '-', as do '_' where they would mislead."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._")[:90] or "image"
    if unsafe_name_reason(name):
        name = name.replace("_", "-").rstrip(".")
    return name if not unsafe_name_reason(name) else f"image-{name}"


# The crop fields that need nothing but their own value: key, default, parser.
_CROP_FIELDS: tuple[tuple[str, Any, Any], ...] = (
    ("flip", False, lambda v, where, p: flag(v, where, "flip", p)),
    ("status", "approved", lambda v, where, p: choice(v, where, "status", STATUSES, p)),
)


def _source(row: dict[str, Any], where: str, table: SourceTable, problems: Problems) -> str | None:
    """The crop's source id when it names a readable image; a problem otherwise (silent for an excluded unreadable one)."""
    source_id = row.get("source")
    if isinstance(source_id, str) and source_id in table.folders:
        example = next((i for i in sorted(table.ids) if i.startswith(source_id + "/")), source_id + "/<file>")
        problems.add(where, f"source {source_id!r} is a folder of images; name one of them, e.g. source = {example!r}")
        return None
    if isinstance(source_id, str) and source_id in table.unreadable:
        if row.get("status") != "excluded":
            problems.add(where, f"source {source_id!r}: {table.unreadable[source_id]}; re-export it, or set status = 'excluded'")
        return None
    if not isinstance(source_id, str) or source_id not in table.ids:
        if table.top_ids:  # with no [sources] at all, that one problem is reported once, not once per crop
            known = ", ".join(sorted(table.top_ids))
            problems.add(where, f"source {shown(source_id)} is not in [sources] (known: {known}); fix the id or add the source")
        return None
    return source_id


def _own_caption(row: dict[str, Any], source: SourceSpec | None, table: SourceTable, where: str,
                 problems: Problems) -> str | tuple[str, ...]:
    """The caption the table gives, else a folder image's sidecar caption, else none."""
    if "caption" in row:
        return caption_value(row["caption"], where, problems)
    if source is not None and source.id in table.sidecar_problems:
        problems.add(where, f"{table.sidecar_problems[source.id]}, or give the crop a caption")
    return source.sidecar if source is not None and source.sidecar is not None else ""


def _inherited(data: dict[str, Any]) -> dict[str, str]:
    """fit and mask of [dataset], when valid: every crop's default (a bad one is reported once, by dataset.py)."""
    table = data.get("dataset")
    table = table if isinstance(table, dict) else {}
    fit, mask = table.get("fit", "letterbox"), table.get("mask", "none")
    return {"fit": fit if fit in FITS else "letterbox", "mask": mask if mask in MASKS else "none"}


def _crop(row: dict[str, Any], index: int, table: SourceTable, shared: tuple[str, ...], names: _Names,
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
    source_id = _source(row, where, table, problems)
    source = table.images.get(source_id or "")
    box = _box(row.get("box"), where, source, problems)
    caption = compose_caption((*shared, *(source.tags if source else ())), _own_caption(row, source, table, where, problems))
    values = {key: parse(row.get(key, default), where, problems) for key, default, parse in _CROP_FIELDS}
    fit = choice(row.get("fit", inherited["fit"]), where, "fit", FITS, problems)
    mask = choice(row.get("mask", inherited["mask"]), where, "mask", MASKS, problems)
    if box is None or source_id is None or reason:
        return None
    return CropSpec(name, source_id, box, caption, values["flip"], cast(Status, values["status"]), index,
                    fit=cast(FitMode, fit), mask=cast(MaskMode, mask))


def _folder_crops(table: SourceTable, listed: set[str], shared: tuple[str, ...], names: _Names, first_index: int,
                  problems: Problems, inherited: dict[str, str]) -> list[CropSpec]:
    """A whole-image crop for every image of a folder or glob source that no [[crops]] table names."""
    for member, why in table.unreadable.items():
        if member not in listed:
            folder = member.split("/", 1)[0]
            problems.add(f"source '{folder}'", f"{why}; re-export it, or leave it out with a [[crops]] table: "
                                               f"name = '{image_crop_name(member.rsplit('/', 1)[-1].rsplit('.', 1)[0])}', "
                                               f"source = '{member}', status = 'excluded'")
    crops: list[CropSpec] = []
    for member, source in table.images.items():
        if not source.folder or member in listed:
            continue
        if member in table.sidecar_problems:
            problems.add(f"source '{source.folder}'", f"{table.sidecar_problems[member]}, or list the image in a "
                                                      f"[[crops]] table with its own caption")
        name = names.free(image_crop_name(source.path.stem), f"image {member!r}")
        caption = compose_caption((*shared, *source.tags), source.sidecar or "")
        crops.append(CropSpec(name, member, Box(0, 0, *source.size), caption, False, "approved",
                              first_index + len(crops), fit=cast(FitMode, inherited["fit"]),
                              mask=cast(MaskMode, inherited["mask"]), implicit=True))
    return crops


def crops_section(data: dict[str, Any], table: SourceTable, shared: tuple[str, ...], problems: Problems) -> list[CropSpec]:
    rows = data.get("crops", [] if table.folders else None)
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows) or not (rows or table.folders):
        problems.add("", "no [[crops]] found; add at least one [[crops]] table with name, source and box")
        return []
    names = _Names()
    inherited = _inherited(data)
    crops = [_crop(row, index, table, shared, names, problems, inherited) for index, row in enumerate(rows, start=1)]
    listed = {row["source"] for row in rows if isinstance(row.get("source"), str)}
    found = [crop for crop in crops if crop is not None]
    return found + _folder_crops(table, listed, shared, names, len(rows) + 1, problems, inherited)
