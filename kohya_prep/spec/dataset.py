"""The [dataset] and [reg] tables: names, trigger, class, repeats, resolution, colours, subset folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kohya_prep.sdscripts.folders import parse_subset_dir_name
from kohya_prep.spec.fields import Problems, check_keys, parse_background, text, whole_number
from kohya_prep.spec.model import PNG_MODES, RegSpec
from kohya_prep.spec.names import unsafe_name_reason

DATASET_KEYS = (
    "name", "trigger", "class", "repeats", "resolution", "background", "subset_dir", "png",
    "tags",  # parsed with the crops: spec/captions.py
)
REG_KEYS = ("class", "repeats", "dir", "subset_dir")


def dataset_section(data: dict[str, Any], problems: Problems) -> dict[str, Any]:
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


def subset_dir(value: Any, repeats: int | None, tokens: str, where: str, problems: Problems) -> str:
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


def reg_section(data: dict[str, Any], dataset: dict[str, Any], base: Path, problems: Problems) -> RegSpec:
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
    subset = subset_dir(table.get("subset_dir"), repeats, class_tokens, where, problems)
    return RegSpec(class_tokens, repeats or 1, image_dir, subset)
