"""Read and validate a dataset spec: one TOML file per dataset, checked whole before any pixel is touched.

`load_spec(path)` returns a `DatasetSpec` or raises `SpecError` listing every problem at once,
each naming the crop, the field, the bad value and the fix. One module per table: dataset.py ([dataset],
[reg]), sources.py ([sources]), crops.py ([[crops]]).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, cast

from kohya_prep.errors import SpecError
from kohya_prep.spec.captions import tag_list
from kohya_prep.spec.crops import crops_section
from kohya_prep.spec.dataset import dataset_section, reg_section, subset_dir
from kohya_prep.spec.fields import Problems, did_you_mean, printable
from kohya_prep.spec.model import DatasetSpec, FitMode, MaskMode, PngMode
from kohya_prep.spec.names import path_component_problem, path_part_problem
from kohya_prep.spec.sources import sources_section

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TOP_KEYS = ("dataset", "reg", "sources", "crops", "train")


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError(str(path), ["file not found; pass the path of a dataset spec (.toml)"]) from None
    except OSError as err:
        raise SpecError(str(path), [f"cannot read it ({err.strerror})"]) from err
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(str(path), ["not UTF-8 text; save it as UTF-8"]) from None
    # Windows editors (Notepad) may start UTF-8 files with a byte-order mark; TOML has no place for it.
    text = text.removeprefix("\ufeff")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        hint = ""
        if "\\" in text:
            hint = "; Windows paths need single quotes ('C:\\data\\a.png') or forward slashes"
        raise SpecError(str(path), [f"invalid TOML: {err}{hint}"]) from None
    except ValueError as err:  # a whole number longer than Python reads (4300 digits)
        raise SpecError(str(path), [f"a number in it is too long to read ({str(err).split(':')[0]}); "
                                    "write the value you mean"]) from None


def validate_spec(path: Path, data: dict[str, Any]) -> DatasetSpec:
    """Validate parsed spec data; raise SpecError with every problem found."""
    problems = Problems()
    base = path.parent
    for key in data:
        if key not in TOP_KEYS:
            problems.add("", f"unknown table [{printable(key)}]; {did_you_mean(key, TOP_KEYS)}")
    dataset = dataset_section(data, problems)
    subset_tokens = " ".join(t for t in (dataset.get("trigger"), dataset.get("class")) if t)
    subset = subset_dir(dataset.get("subset_dir"), dataset.get("repeats"), subset_tokens, "[dataset]", problems)
    reg = reg_section(data, dataset, base, problems)
    table = sources_section(data, base, problems)
    raw_sources = data.get("sources")
    for source_id in sorted(raw_sources) if isinstance(raw_sources, dict) else ():  # the preview writes overlay-<id>.png
        problem = path_part_problem(source_id) or path_component_problem(f"overlay-{source_id}.png")
        if problem:
            problems.add(f"source {source_id!r}", f"the id cannot be part of a file name: {problem}")
    dataset_table = data.get("dataset")
    raw_tags = dataset_table.get("tags", []) if isinstance(dataset_table, dict) else []
    tags = tag_list(raw_tags, "[dataset]", "tags", problems) or ()
    crops = crops_section(data, table, tags, problems)
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
        sources=table.images,
        crops=crops,
        train=train,
        fit=cast(FitMode, dataset["fit"]),
        mask=cast(MaskMode, dataset["mask"]),
        buckets=dataset["buckets"],
        tags=tags,
        resolutions=dataset["resolutions"],
        resolution_buckets={dataset["resolution"]: dataset["buckets"], **dataset["resolution_buckets"]},
    )


def load_spec(path: str | Path) -> DatasetSpec:
    """Read and validate a dataset spec file."""
    spec_path = Path(path).absolute()
    return validate_spec(spec_path, _load_toml(spec_path))
