"""The [dataset] and [reg] tables: names, trigger, class, repeats, resolution, colours, subset folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kohya_prep.sdscripts.folders import parse_subset_dir_name
from kohya_prep.spec.fields import Problems, check_keys, choice, parse_background, shown, text, whole_number
from kohya_prep.spec.model import FITS, MASKS, PNG_MODES, BucketSpec, RegSpec
from kohya_prep.spec.names import path_component_problem, path_part_problem, path_text_problem, unsafe_name_reason

DATASET_KEYS = (
    "name", "trigger", "class", "repeats", "resolution", "background", "subset_dir", "png", "fit", "mask",
    "bucket_reso_steps", "min_bucket_reso", "max_bucket_reso",
    "tags",  # parsed with the crops: spec/captions.py
)
# sdxl_train_network.py asserts bucket_reso_steps % 32 == 0; train_network.py (SD 1.5, and FLUX through it) % 64.
SMALLEST_BUCKET_STEP = 32
DEFAULT_BUCKET_STEP = 64  # every family's script accepts it
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
        problems.add(where, f"name = {shown(name)} is not a safe folder name: {reason}")
    out["name"] = name
    trigger = text(table.get("trigger", ""), where, "trigger", problems)
    if "," in trigger:
        problems.add(where, f"trigger = {shown(trigger)} contains a comma; a trigger is one tag, e.g. trigger = 'ariachar'")
        trigger = ""
    out["trigger"] = name_part(trigger, where, "trigger", problems)
    out["class"] = name_part(text(table.get("class", ""), where, "class", problems), where, "class", problems)
    out["repeats"] = whole_number(table.get("repeats", 10), where, "repeats", problems)
    resolutions = _resolutions(table.get("resolution", 512), where, problems)
    resolution = resolutions[0] if resolutions else None
    out["resolution"], out["resolutions"] = resolution, resolutions
    background = parse_background(table.get("background", "white"))
    if background is None:
        value = table.get("background")
        problems.add(where, f"background = {shown(value)} is no colour; use '#ffffff', 'white' or [255, 255, 255]")
    out["background"] = background
    png = table.get("png", "fast")
    if png not in PNG_MODES:
        problems.add(where, f"png = {shown(png)} is not one of {', '.join(PNG_MODES)}")
    out["png"] = png
    out["subset_dir"] = table.get("subset_dir")
    out["fit"] = choice(table.get("fit", "letterbox"), where, "fit", FITS, problems)
    out["mask"] = choice(table.get("mask", "none"), where, "mask", MASKS, problems)
    out["buckets"] = _buckets(table, resolution, where, problems)
    out["resolution_buckets"] = _more_buckets(table, resolutions[1:], where, problems)
    return out


def _resolutions(value: Any, where: str, problems: Problems) -> tuple[int, ...]:
    """resolution = 512, or a list of sizes built from one decode of each source (resolution = [512, 1024])."""
    values = value if isinstance(value, list) and value else [value]
    found: list[int] = []
    for item in values:
        resolution = whole_number(item, where, "resolution", problems, minimum=64, maximum=4096)
        if resolution is None:
            continue
        if resolution % 64:
            problems.add(where, f"resolution = {shown(resolution)} must be a multiple of 64 up to 4096; use 512, 768 or 1024")
        if resolution in found:
            problems.add(where, f"resolution = {shown(value)} lists {resolution} twice; list each size once")
        else:
            found.append(resolution)
    return tuple(found)


def _more_buckets(table: dict[str, Any], resolutions: tuple[int, ...], where: str, problems: Problems) -> dict[int, BucketSpec]:
    """The bucket settings of each further resolution (its own defaults; a problem said once, not per size)."""
    found = {}
    for resolution in resolutions:
        own = Problems()
        found[resolution] = _buckets(table, resolution, where, own)
        for message in own.items:
            if message not in problems.items:
                problems.items.append(message)
    return found


def default_bucket_range(resolution: int, step: int) -> tuple[int, int]:
    """kohya-prep's min and max bucket reso: half and twice the resolution (256..1024 at 512, sd-scripts' defaults)."""
    return max(step, (resolution // 2) // step * step), resolution * 2


def _buckets(table: dict[str, Any], resolution: int | None, where: str, problems: Problems) -> BucketSpec:
    """bucket_reso_steps, min_bucket_reso and max_bucket_reso, held to what sd-scripts accepts
    (library/train_util.py: BaseDataset.adjust_min_max_bucket_reso_by_steps, model_util.make_bucket_resolutions)."""
    step = whole_number(table.get("bucket_reso_steps", DEFAULT_BUCKET_STEP), where, "bucket_reso_steps", problems)
    if step is None or step % SMALLEST_BUCKET_STEP:
        if step is not None:
            problems.add(where, f"bucket_reso_steps = {step} is no multiple of {SMALLEST_BUCKET_STEP}: sdxl_train_network.py "
                                "asserts divisibility by 32, train_network.py and flux_train_network.py by 64; use 64")
        return BucketSpec()
    if resolution is None:
        return BucketSpec(step)
    if resolution % step:
        problems.add(where, f"resolution = {resolution} is no multiple of bucket_reso_steps = {step}, so square crops would "
                            f"miss sd-scripts' square bucket; use bucket_reso_steps = {DEFAULT_BUCKET_STEP}")
    low_default, high_default = default_bucket_range(resolution, step)
    low = whole_number(table.get("min_bucket_reso", low_default), where, "min_bucket_reso", problems)
    high = whole_number(table.get("max_bucket_reso", high_default), where, "max_bucket_reso", problems)
    if low is None or high is None:
        return BucketSpec(step)
    for message in _bucket_range_problems(resolution, step, low, high):
        problems.add(where, message)
    return BucketSpec(step, low, high)


def _bucket_range_problems(resolution: int, step: int, low: int, high: int) -> list[str]:
    if low < step:
        return [f"min_bucket_reso = {low} is below bucket_reso_steps = {step}: sd-scripts rounds it down to 0 and "
                f"fails dividing by it; use min_bucket_reso = {max(step, (resolution // 2) // step * step)}"]
    found = []
    for key, value, rounded in (("min_bucket_reso", low, low - low % step), ("max_bucket_reso", high, high + -high % step)):
        if value % step:
            found.append(f"{key} = {value} is no multiple of bucket_reso_steps = {step} (sd-scripts would use {rounded}); "
                         f"write {key} = {rounded}")
    if low > resolution:
        found.append(f"min_bucket_reso = {low} is above resolution = {resolution}: sd-scripts stops with 'min_bucket_reso "
                     f"must be equal or less than resolution'; use min_bucket_reso <= {resolution}")
    if high < resolution:
        found.append(f"max_bucket_reso = {high} is below resolution = {resolution}: sd-scripts stops with 'max_bucket_reso "
                     f"must be equal or greater than resolution'; use max_bucket_reso >= {resolution}")
    return found


def name_part(value: str, where: str, field_name: str, problems: Problems) -> str:
    """Words that become part of a folder name (trigger, class): `value`, or "" once its problem is reported.

    The class words end both subset folder names, '10_<trigger> <class>' and '1_<class>'.
    """
    problem = path_part_problem(value, ends_name=field_name == "class") if value else None
    if problem:
        problems.add(where, f"{field_name} = {shown(value)} cannot be part of a folder name: {problem}")
        return ""
    return value


def subset_dir(value: Any, repeats: int | None, tokens: str, where: str, problems: Problems) -> str:
    """The subset folder name: given, or `<repeats>_<tokens>`; always one sd-scripts loads and every system can open."""
    made = f"{repeats or 1}_{tokens}"
    if value is None:
        problem = path_component_problem(made) if tokens else None
        if problem:
            problems.add(where, f"the subset folder name {shown(made)} (from repeats and the class words) {_unfit(problem)}")
        return made
    problem = "it must be text in quotes" if not isinstance(value, str) else path_component_problem(value)
    if problem:
        problems.add(where, f"subset_dir = {shown(value)} is not a folder name: {problem}; e.g. subset_dir = {made!r}")
        return made
    parsed = parse_subset_dir_name(value)
    if not parsed.used:
        problems.add(
            where,
            f"subset_dir = {shown(value)} is a folder sd-scripts skips; it must start with '<repeats>_' "
            f"with repeats >= 1, e.g. '{made}'",
        )
    elif repeats is not None and parsed.num_repeats != repeats:
        problems.add(where, f"subset_dir = {value!r} says {parsed.num_repeats} repeats but repeats = {repeats}; make them agree")
    return str(value)


def _unfit(problem: str) -> str:
    return "cannot be created: " + problem.removeprefix("it ")


def reg_section(data: dict[str, Any], dataset: dict[str, Any], base: Path, problems: Problems) -> RegSpec:
    table = data.get("reg", {})
    where = "[reg]"
    if not isinstance(table, dict):
        problems.add("", "reg must be a table: [reg]")
        table = {}
    check_keys(table, REG_KEYS, where, problems)
    if "class" in table:
        class_tokens = name_part(text(table["class"], where, "class", problems), where, "class", problems)
    else:  # the dataset's class words, already checked (and reported) under [dataset]
        class_tokens = dataset.get("class", "")
    repeats = whole_number(table.get("repeats", 1), where, "repeats", problems)
    image_dir = _reg_dir(table["dir"], base, where, problems) if "dir" in table else None
    subset = subset_dir(table.get("subset_dir"), repeats, class_tokens, where, problems)
    return RegSpec(class_tokens, repeats or 1, image_dir, subset)


def _reg_dir(value: Any, base: Path, where: str, problems: Problems) -> Path | None:
    raw = text(value, where, "dir", problems)
    problem = path_text_problem(raw) if raw else None
    if problem:
        problems.add(where, f"dir = {shown(raw)} cannot be a folder path: {problem}")
        return None
    if not raw:
        return None
    try:
        image_dir = (base / raw).resolve()
        found = image_dir.is_dir()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop on Python < 3.13
        problems.add(where, f"dir = {raw!r} is a symlink loop; point it at a real folder")
        return None
    if not found:
        problems.add(where, f"dir = {raw!r}: no folder at {image_dir}; create it or remove the key")
    return image_dir
