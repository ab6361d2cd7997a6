"""The dataset spec: one TOML file per dataset, validated whole before any pixel is touched.

`load_spec(path)` returns a `DatasetSpec` or raises `SpecError` listing every problem at once,
each naming the crop, the field, the bad value and the fix.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kohya_prep.errors import SpecError
from kohya_prep.geometry import Box
from kohya_prep.sdscripts.folders import parse_subset_dir_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

STATUSES = ("approved", "speculative", "excluded")
PNG_MODES = ("fast", "small")
FLIP_SUFFIX = "-flip"
MAX_SOURCE_PIXELS = 1_000_000_000  # Pillow refuses twice this; 1 GP of RGB is 3 GB once decoded
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
_CACHE_LIKE = re.compile(r"_\d+x\d+($|_)|_te$|_te_outputs$")

DATASET_KEYS = (
    "name", "trigger", "class", "repeats", "resolution", "background", "subset_dir", "png",
)
REG_KEYS = ("class", "repeats", "dir", "subset_dir")
CROP_KEYS = ("name", "source", "box", "caption", "flip", "status")
TOP_KEYS = ("dataset", "reg", "sources", "crops", "train")


@dataclass(frozen=True)
class SourceSpec:
    """A source image: its id in the spec, its file, and its size after EXIF orientation."""

    id: str
    path: Path
    size: tuple[int, int]
    jpeg: bool = False  # JPEGs can be decoded at a reduced size


@dataclass(frozen=True)
class CropSpec:
    """One named box on one source, with its caption and flags."""

    name: str
    source: str
    box: Box
    caption: str
    flip: bool
    status: str
    index: int  # 1-based position in the spec, used to number boxes on the overlays


@dataclass(frozen=True)
class RegSpec:
    """Regularization settings: class words, repeats, and an optional folder of the user's images."""

    class_tokens: str
    num_repeats: int
    image_dir: Path | None
    subset_dir: str


@dataclass(frozen=True)
class DatasetSpec:
    """A validated dataset spec."""

    path: Path
    name: str
    trigger: str
    class_tokens: str
    num_repeats: int
    resolution: int
    background: tuple[int, int, int]
    subset_dir: str
    png: str
    reg: RegSpec
    sources: dict[str, SourceSpec]
    crops: list[CropSpec]
    train: dict[str, Any] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        """dataset/<name>/: the folder a build owns (train/, reg/, preview/, the manifest)."""
        return self.path.parent / self.name

    @property
    def train_data_dir(self) -> Path:
        return self.root / "train"

    @property
    def reg_data_dir(self) -> Path:
        return self.root / "reg"

    @property
    def train_subset_dir(self) -> Path:
        return self.train_data_dir / self.subset_dir

    @property
    def reg_subset_dir(self) -> Path:
        return self.reg_data_dir / self.reg.subset_dir


class _Problems:
    """Collects every problem so a user fixes the spec in one pass."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}" if where else message)


def _did_you_mean(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"


def _check_keys(table: dict[str, Any], known: tuple[str, ...], where: str, problems: _Problems) -> None:
    for key in table:
        if key not in known:
            problems.add(where, f"unknown key '{key}'; {_did_you_mean(key, known)}")


def _unsafe_name_reason(name: str) -> str | None:
    """Why `name` is no safe file stem, or None when it is."""
    if not _SAFE_NAME.match(name):
        return "use letters, digits, '.', '-' and '_' only, starting with a letter or digit"
    if name.endswith("."):
        return "a name may not end with '.'"
    if name.split(".")[0].lower() in _WINDOWS_RESERVED:
        return "that name is reserved on Windows"
    if name.count("_") >= 4:
        return "four or more '_' make sd-scripts' caption fallback misread it; use '-' instead"
    if _CACHE_LIKE.search(name):
        return "it looks like an sd-scripts cache name (_WxH or _te); rename it"
    if len(name) > 100:
        return "keep it under 100 characters"
    return None


def _int(value: Any, where: str, field_name: str, problems: _Problems, minimum: int = 1) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(where, f"{field_name} = {value!r} must be a whole number; write e.g. {field_name} = {minimum}")
        return None
    if value < minimum:
        problems.add(where, f"{field_name} = {value} must be at least {minimum}")
        return None
    return value


def _text(value: Any, where: str, field_name: str, problems: _Problems, required: bool = True) -> str:
    if not isinstance(value, str):
        problems.add(where, f"{field_name} = {value!r} must be a string in quotes")
        return ""
    text = " ".join(value.split())
    if required and not text:
        problems.add(where, f"{field_name} is empty; give it a value")
    return text


def parse_background(value: Any) -> tuple[int, int, int] | None:
    """'#rrggbb', '#rgb', a colour name, or [r, g, b] as an RGB tuple; None when unreadable."""
    if isinstance(value, list):
        if len(value) == 3 and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value):
            return (value[0], value[1], value[2])
        return None
    if isinstance(value, str):
        from PIL import ImageColor

        try:
            rgb = ImageColor.getrgb(value.strip())
        except ValueError:
            return None
        return (rgb[0], rgb[1], rgb[2])
    return None


def allow_large_sources() -> None:
    """Raise Pillow's decompression-bomb limit (179 MP) for sources: a big art sheet is the user's own file."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_SOURCE_PIXELS


def read_image_header(path: Path) -> tuple[tuple[int, int], bool]:
    """Size after EXIF orientation, and whether it is a JPEG, reading the header only. Raises OSError if unreadable."""
    from PIL import Image

    allow_large_sources()
    try:
        with Image.open(path) as img:
            width, height = img.size
            jpeg = img.format == "JPEG"
            try:
                orientation = img.getexif().get(0x0112, 1)
            except Exception:  # a broken EXIF block is no reason to refuse the image
                orientation = 1
    except Image.DecompressionBombError as err:
        raise OSError(f"{err}; split or downscale the sheet") from err
    return ((height, width) if orientation in (5, 6, 7, 8) else (width, height)), jpeg


def read_image_size(path: Path) -> tuple[int, int]:
    """Width and height after EXIF orientation, reading the header only. Raises OSError if unreadable."""
    return read_image_header(path)[0]


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


def _dataset_section(data: dict[str, Any], problems: _Problems) -> dict[str, Any]:
    table = data.get("dataset")
    if not isinstance(table, dict):
        problems.add("", "[dataset] table is missing; add name, trigger and class (see README, 'Dataset spec')")
        return {}
    where = "[dataset]"
    _check_keys(table, DATASET_KEYS, where, problems)
    out: dict[str, Any] = {}
    name = _text(table.get("name", ""), where, "name", problems)
    reason = _unsafe_name_reason(name) if name else None
    if reason:
        problems.add(where, f"name = {name!r} is not a safe folder name: {reason}")
    out["name"] = name
    trigger = _text(table.get("trigger", ""), where, "trigger", problems)
    if "," in trigger:
        problems.add(where, f"trigger = {trigger!r} contains a comma; a trigger is one tag, e.g. trigger = 'ariachar'")
    out["trigger"] = trigger
    out["class"] = _text(table.get("class", ""), where, "class", problems)
    out["repeats"] = _int(table.get("repeats", 10), where, "repeats", problems)
    resolution = _int(table.get("resolution", 512), where, "resolution", problems, minimum=64)
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


def _subset_dir(value: Any, repeats: int | None, tokens: str, where: str, problems: _Problems) -> str:
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


def _reg_section(data: dict[str, Any], dataset: dict[str, Any], base: Path, problems: _Problems) -> RegSpec:
    table = data.get("reg", {})
    where = "[reg]"
    if not isinstance(table, dict):
        problems.add("", "reg must be a table: [reg]")
        table = {}
    _check_keys(table, REG_KEYS, where, problems)
    class_tokens = _text(table.get("class", dataset.get("class", "")), where, "class", problems)
    repeats = _int(table.get("repeats", 1), where, "repeats", problems)
    image_dir = None
    if "dir" in table:
        raw = _text(table["dir"], where, "dir", problems)
        if raw:
            image_dir = (base / raw).resolve()
            if not image_dir.is_dir():
                problems.add(where, f"dir = {raw!r}: no folder at {image_dir}; create it or remove the key")
    subset = _subset_dir(table.get("subset_dir"), repeats, class_tokens, where, problems)
    return RegSpec(class_tokens, repeats or 1, image_dir, subset)


def _sources_section(data: dict[str, Any], base: Path, problems: _Problems) -> dict[str, SourceSpec]:
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


def _box(value: Any, where: str, source: SourceSpec | None, problems: _Problems) -> Box | None:
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
    width, height = source.size
    name = source.path.name
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
    problems.add(where, f"box = {value} leaves {name} ({width}x{height}): {what}; {fix}")
    return None


def _crops_section(data: dict[str, Any], sources: dict[str, SourceSpec], source_ids: set[str],
                   problems: _Problems) -> list[CropSpec]:
    rows = data.get("crops")
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        problems.add("", "no [[crops]] found; add at least one [[crops]] table with name, source and box")
        return []
    crops: list[CropSpec] = []
    seen: dict[str, str] = {}
    for index, row in enumerate(rows, start=1):
        name = row.get("name")
        where = f"crop '{name}'" if isinstance(name, str) and name else f"crop #{index}"
        _check_keys(row, CROP_KEYS, where, problems)
        if not isinstance(name, str) or not name:
            problems.add(where, "name is missing; give every crop a unique name, e.g. name = 'front-full'")
            continue
        reason = _unsafe_name_reason(name)
        if reason:
            problems.add(where, f"name {name!r} is not a safe file name: {reason}")
        for output_stem in (name, name + FLIP_SUFFIX) if row.get("flip") else (name,):
            key = output_stem.lower()
            if key in seen:
                problems.add(where, f"name {output_stem!r} is already used by {seen[key]}; rename one of them")
            seen.setdefault(key, where)
        source_id = row.get("source")
        if not isinstance(source_id, str) or source_id not in source_ids:
            known = ", ".join(sorted(source_ids)) or "none"
            problems.add(where, f"source {source_id!r} is not in [sources] (known: {known}); fix the id or add the source")
            source_id = None
        box = _box(row.get("box"), where, sources.get(source_id or ""), problems)
        caption = row.get("caption", "")
        if not isinstance(caption, str):
            problems.add(where, f"caption = {caption!r} must be text in quotes")
            caption = ""
        flip = row.get("flip", False)
        if not isinstance(flip, bool):
            problems.add(where, f"flip = {flip!r} must be true or false")
            flip = False
        status = row.get("status", "approved")
        if status not in STATUSES:
            problems.add(where, f"status = {status!r} must be one of {', '.join(STATUSES)}")
        if box is not None and source_id is not None and not reason:
            crops.append(CropSpec(name, source_id, box, caption, flip, str(status), index))
    return crops


def validate_spec(path: Path, data: dict[str, Any]) -> DatasetSpec:
    """Validate parsed spec data; raise SpecError with every problem found."""
    problems = _Problems()
    base = path.parent
    for key in data:
        if key not in TOP_KEYS:
            problems.add("", f"unknown table [{key}]; {_did_you_mean(key, TOP_KEYS)}")
    dataset = _dataset_section(data, problems)
    subset_tokens = " ".join(t for t in (dataset.get("trigger"), dataset.get("class")) if t)
    where = "[dataset]"
    subset = _subset_dir(dataset.get("subset_dir"), dataset.get("repeats"), subset_tokens, where, problems)
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
        png=dataset["png"],
        reg=reg,
        sources=sources,
        crops=crops,
        train=train,
    )


def load_spec(path: str | Path) -> DatasetSpec:
    """Read and validate a dataset spec file."""
    spec_path = Path(path).absolute()
    return validate_spec(spec_path, _load_toml(spec_path))
