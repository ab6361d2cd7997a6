"""Read and validate a dataset spec: one TOML file per dataset, checked whole before any pixel is touched.

`load_spec(path)` returns a `DatasetSpec` or raises `SpecError` listing every problem at once,
each naming the crop, the field, the bad value and the fix.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, cast

from kohya_prep.errors import SpecError
from kohya_prep.sdscripts.folders import parse_subset_dir_name
from kohya_prep.spec.fields import (
    Problems,
    check_keys,
    choice,
    did_you_mean,
    flag,
    parse_background,
    text,
    whole_number,
)
from kohya_prep.spec.headers import read_image_header
from kohya_prep.spec.model import (
    FLIP_SUFFIX,
    PNG_MODES,
    STATUSES,
    Box,
    CropSpec,
    DatasetSpec,
    PngMode,
    RegSpec,
    SourceSpec,
    Status,
)
from kohya_prep.spec.names import unsafe_name_reason

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DATASET_KEYS = (
    "name", "trigger", "class", "repeats", "resolution", "background", "subset_dir", "png",
)
REG_KEYS = ("class", "repeats", "dir", "subset_dir")
CROP_KEYS = ("name", "source", "box", "caption", "flip", "status")
TOP_KEYS = ("dataset", "reg", "sources", "crops", "train")


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError(str(path), ["file not found; pass the path of a dataset spec (.toml)"]) from None
    except OSError as err:
        raise SpecError(str(path), [f"cannot read it ({err.strerror})"]) from err
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SpecError(str(path), ["not UTF-8 text; save it as UTF-8"]) from None
    except tomllib.TOMLDecodeError as err:
        hint = ""
        if "\\" in raw.decode("utf-8", "replace"):
            hint = "; Windows paths need single quotes ('C:\\data\\a.png') or forward slashes"
        raise SpecError(str(path), [f"invalid TOML: {err}{hint}"]) from None


def _dataset_section(data: dict[str, Any], problems: Problems) -> dict[str, Any]:
    table = data.get("dataset")
    if not isinstance(table, dict):
        problems.add("", "[dataset] table is missing; add name, trigger and class (see README, 'Dataset spec')")
        return {}
    where = "[dataset]"
    check_keys(table, DATASET_KEYS, where, problems)
    out: dict[str, Any] = {}
    name = text(table.get("name", ""), where, "name", problems)
    reason = unsafe_name_reason(name) if name else None
    if reason:
        problems.add(where, f"name = {name!r} is not a safe folder name: {reason}")
    out["name"] = name
    trigger = text(table.get("trigger", ""), where, "trigger", problems)
    if "," in trigger:
        problems.add(where, f"trigger = {trigger!r} contains a comma; a trigger is one tag, e.g. trigger = 'ariachar'")
    out["trigger"] = trigger
    out["class"] = text(table.get("class", ""), where, "class", problems)
    out["repeats"] = whole_number(table.get("repeats", 10), where, "repeats", problems)
    resolution = whole_number(table.get("resolution", 512), where, "resolution", problems, minimum=64)
    if resolution is not None and (resolution % 64 or resolution > 4096):
        problems.add(where, f"resolution = {resolution} must be a multiple of 64 up to 4096; use 512, 768 or 1024")
    out["resolution"] = resolution
    background = parse_background(table.get("background", "white"))
    if background is None:
        value = table.get("background")
        problems.add(where, f"background = {value!r} is no colour; use '#ffffff', 'white' or [255, 255, 255]")
    out["background"] = background
    png = table.get("png", "fast")
    if png not in PNG_MODES:
        problems.add(where, f"png = {png!r} is not one of {', '.join(PNG_MODES)}")
    out["png"] = png
    out["subset_dir"] = table.get("subset_dir")
    return out


def _subset_dir(value: Any, repeats: int | None, tokens: str, where: str, problems: Problems) -> str:
    """The subset folder name: given, or `<repeats>_<tokens>`; always one sd-scripts loads."""
    if value is None:
        return f"{repeats or 1}_{tokens}"
    if not isinstance(value, str) or not value.strip() or "/" in value or "\\" in value:
        problems.add(where, f"subset_dir = {value!r} must be a folder name like '{repeats or 1}_{tokens}'")
        return f"{repeats or 1}_{tokens}"
    parsed = parse_subset_dir_name(value)
    if not parsed.used:
        problems.add(
            where,
            f"subset_dir = {value!r} is a folder sd-scripts skips; it must start with '<repeats>_' "
            f"with repeats >= 1, e.g. '{repeats or 1}_{tokens}'",
        )
    elif repeats is not None and parsed.num_repeats != repeats:
        problems.add(where, f"subset_dir = {value!r} says {parsed.num_repeats} repeats but repeats = {repeats}; make them agree")
    return value


def _reg_section(data: dict[str, Any], dataset: dict[str, Any], base: Path, problems: Problems) -> RegSpec:
    table = data.get("reg", {})
    where = "[reg]"
    if not isinstance(table, dict):
        problems.add("", "reg must be a table: [reg]")
        table = {}
    check_keys(table, REG_KEYS, where, problems)
    class_tokens = text(table.get("class", dataset.get("class", "")), where, "class", problems)
    repeats = whole_number(table.get("repeats", 1), where, "repeats", problems)
    image_dir = None
    if "dir" in table:
        raw = text(table["dir"], where, "dir", problems)
        if raw:
            image_dir = (base / raw).resolve()
            if not image_dir.is_dir():
                problems.add(where, f"dir = {raw!r}: no folder at {image_dir}; create it or remove the key")
    subset = _subset_dir(table.get("subset_dir"), repeats, class_tokens, where, problems)
    return RegSpec(class_tokens, repeats or 1, image_dir, subset)


def _sources_section(data: dict[str, Any], base: Path, problems: Problems) -> dict[str, SourceSpec]:
    table = data.get("sources")
    if not isinstance(table, dict) or not table:
        problems.add("", "[sources] is missing or empty; map an id to an image path, e.g. sheet = 'sources/sheet.png'")
        return {}
    sources: dict[str, SourceSpec] = {}
    for source_id, raw in table.items():
        where = f"source '{source_id}'"
        if not isinstance(raw, str) or not raw.strip():
            problems.add(where, f"{raw!r} must be an image path in quotes, relative to the spec")
            continue
        # A spec written on Windows may say sources\\sheet.png; on POSIX that is one odd file name.
        path = (base / (raw.replace("\\", "/") if os.sep == "/" else raw)).resolve()
        if not path.is_file():
            problems.add(where, f"file {raw!r} not found (looked at {path}); fix the path or add the file")
            continue
        try:
            size, jpeg = read_image_header(path)
        except (OSError, SyntaxError, ValueError) as err:
            problems.add(where, f"{raw!r} is not a readable image ({err}); re-export it as PNG or JPEG")
            continue
        sources[source_id] = SourceSpec(source_id, path, size, jpeg)
    return sources


def _box(value: Any, where: str, source: SourceSpec | None, problems: Problems) -> Box | None:
    if (
        not isinstance(value, list)
        or len(value) != 4
        or any(isinstance(v, bool) or not isinstance(v, int) for v in value)
    ):
        problems.add(where, f"box = {value!r} must be four whole numbers [left, top, width, height]")
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
        problems.add(where, f"caption = {value!r} must be text in quotes")
        return ""
    return value


# The crop fields that need nothing but their own value: key, default, parser.
_CROP_FIELDS: tuple[tuple[str, Any, Any], ...] = (
    ("caption", "", _caption),
    ("flip", False, lambda v, where, p: flag(v, where, "flip", p)),
    ("status", "approved", lambda v, where, p: choice(v, where, "status", STATUSES, p)),
)


def _crop(row: dict[str, Any], index: int, sources: dict[str, SourceSpec], source_ids: set[str], names: _Names,
          problems: Problems) -> CropSpec | None:
    name = row.get("name")
    where = f"crop '{name}'" if isinstance(name, str) and name else f"crop #{index}"
    check_keys(row, CROP_KEYS, where, problems)
    if not isinstance(name, str) or not name:
        problems.add(where, "name is missing; give every crop a unique name, e.g. name = 'front-full'")
        return None
    reason = unsafe_name_reason(name)
    if reason:
        problems.add(where, f"name {name!r} is not a safe file name: {reason}")
    names.claim(name, bool(row.get("flip")), where, problems)
    source_id = row.get("source")
    if not isinstance(source_id, str) or source_id not in source_ids:
        known = ", ".join(sorted(source_ids)) or "none"
        problems.add(where, f"source {source_id!r} is not in [sources] (known: {known}); fix the id or add the source")
        source_id = None
    box = _box(row.get("box"), where, sources.get(source_id or ""), problems)
    values = {key: parse(row.get(key, default), where, problems) for key, default, parse in _CROP_FIELDS}
    if box is None or source_id is None or reason:
        return None
    return CropSpec(name, source_id, box, values["caption"], values["flip"], cast(Status, values["status"]), index)


def _crops_section(data: dict[str, Any], sources: dict[str, SourceSpec], source_ids: set[str],
                   problems: Problems) -> list[CropSpec]:
    rows = data.get("crops")
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        problems.add("", "no [[crops]] found; add at least one [[crops]] table with name, source and box")
        return []
    names = _Names()
    crops = [_crop(row, index, sources, source_ids, names, problems) for index, row in enumerate(rows, start=1)]
    return [crop for crop in crops if crop is not None]


def validate_spec(path: Path, data: dict[str, Any]) -> DatasetSpec:
    """Validate parsed spec data; raise SpecError with every problem found."""
    problems = Problems()
    base = path.parent
    for key in data:
        if key not in TOP_KEYS:
            problems.add("", f"unknown table [{key}]; {did_you_mean(key, TOP_KEYS)}")
    dataset = _dataset_section(data, problems)
    subset_tokens = " ".join(t for t in (dataset.get("trigger"), dataset.get("class")) if t)
    subset = _subset_dir(dataset.get("subset_dir"), dataset.get("repeats"), subset_tokens, "[dataset]", problems)
    reg = _reg_section(data, dataset, base, problems)
    sources = _sources_section(data, base, problems)
    raw_sources = data.get("sources")
    source_ids = set(raw_sources) if isinstance(raw_sources, dict) else set()
    crops = _crops_section(data, sources, source_ids, problems)
    train = data.get("train", {})
    if not isinstance(train, dict):
        problems.add("", "train must be a table: [train]")
        train = {}
    if problems.items:
        raise SpecError(str(path), problems.items)
    return DatasetSpec(
        path=path,
        name=dataset["name"],
        trigger=dataset["trigger"],
        class_tokens=dataset["class"],
        num_repeats=dataset["repeats"],
        resolution=dataset["resolution"],
        background=dataset["background"],
        subset_dir=subset,
        png=cast(PngMode, dataset["png"]),
        reg=reg,
        sources=sources,
        crops=crops,
        train=train,
    )


def load_spec(path: str | Path) -> DatasetSpec:
    """Read and validate a dataset spec file."""
    spec_path = Path(path).absolute()
    return validate_spec(spec_path, _load_toml(spec_path))
