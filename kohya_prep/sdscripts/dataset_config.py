"""sd-scripts' dataset config (--dataset_config): how it reads the file, and the schema it holds it to.

Sources: library/config_util.py: load_user_config (the format follows the lower-cased suffix: `.json` with the
json module, `.toml` with the toml package, anything else refused) and ConfigSanitizer as train_network.py
builds it (DreamBooth, fine-tuning and caption dropout on; ControlNet only with --masked_loss, left out here).
sd-scripts validates with voluptuous 0.15.2; so does this module, with the same validators at the same levels,
so a problem reads exactly as sd-scripts prints it (the last line of its traceback), e.g.
`expected int for dictionary value @ data['datasets'][0]['subsets'][0]['num_repeats']`.

voluptuous's `int` accepts true/false (a bool is an int in Python) and its `float` refuses 0 (an int): both as
sd-scripts does. A dataset table that is not a table, or subsets that are not a list of tables, crash
sd-scripts' dataset-kind test (ConfigSanitizer's validate_flex_dataset) before the schema says anything; those
come back as crashes with the exception sd-scripts dies of.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PathPart = str | int

MIXED_SUBSETS = "DreamBooth subset and fine tuning subset cannot be mixed in the same dataset"


class UnreadableConfig(ValueError):
    """The file cannot be parsed the way load_user_config parses it; the message says why, `fix` what to do."""

    def __init__(self, message: str, fix: str = "fix the file and check again"):
        super().__init__(message)
        self.fix = fix


@dataclass(frozen=True)
class SchemaProblem:
    """One thing sd-scripts refuses: where (a key path), the text it stops with, and whether it is a crash."""

    path: tuple[PathPart, ...]
    message: str
    crash: bool = False


BOM = b"\xef\xbb\xbf"


def load_user_config(path: Path) -> Any:
    """The file's content as sd-scripts loads it; UnreadableConfig (a sentence naming the problem) if it cannot."""
    suffix = path.name.lower()
    if not (suffix.endswith(".toml") or suffix.endswith(".json")):
        raise UnreadableConfig(f"sd-scripts reads a dataset config only from a .toml or .json file; it stops on "
                               f"'{path.name}' with 'not supported config file format'", "rename it to end in .toml")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UnreadableConfig(f"it is not UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start}), and sd-scripts "
                               "reads it as UTF-8", "re-save it as UTF-8") from err
    try:
        return json.loads(text) if suffix.endswith(".json") else _toml_loads(text)
    except ValueError as err:  # toml.TomlDecodeError and json.JSONDecodeError are ValueErrors
        fix = "re-save it as UTF-8 without a BOM" if data.startswith(BOM) else "fix the syntax there and check again"
        raise UnreadableConfig(_parse_problem(data, err), fix) from err


def _toml_loads(text: str) -> Any:
    import toml

    return toml.loads(text)


def _parse_problem(data: bytes, err: ValueError) -> str:
    if data.startswith(BOM):
        return ("it starts with a UTF-8 byte-order mark (BOM), which the parser sd-scripts uses does not skip: it stops "
                f"with '{err}'")
    return f"it is not valid {'JSON' if isinstance(err, json.JSONDecodeError) else 'TOML'} ({err})"


def schema_problems(user_config: Any) -> list[SchemaProblem]:
    """What sd-scripts' ConfigSanitizer.sanitize_user_config stops on, in its order; empty when it accepts it.

    sd-scripts prints only the first; the rest are what it would say once the first is fixed (all of one
    dataset table at once, as voluptuous collects them).
    """
    from voluptuous import MultipleInvalid

    seen: list[Any] = []
    try:
        _validator(seen.append)(user_config)
    except MultipleInvalid as invalid:
        return [SchemaProblem(tuple(_parts(e.path)), str(e)) for e in invalid.errors]
    except (AttributeError, TypeError) as crash:
        index = _index_of(user_config, seen[-1]) if seen else 0
        where = _crash_path(seen[-1] if seen else None)
        return [SchemaProblem(("datasets", index, *where), f"{type(crash).__name__}: {crash}", crash=True)]
    return []


def _parts(path: list[Any]) -> list[PathPart]:
    return [part if isinstance(part, int) else str(part) for part in path]


def _crash_path(dataset: Any) -> tuple[PathPart, ...]:
    """Where in a dataset table validate_flex_dataset's test broke: the table itself, its subsets, or one subset."""
    if not isinstance(dataset, dict):
        return ()
    subsets = dataset.get("subsets", [])
    if not isinstance(subsets, (list, str, dict)):
        return ("subsets",)
    for j, subset in enumerate(subsets if isinstance(subsets, list) else []):
        if not isinstance(subset, (dict, list, str)):
            return ("subsets", j)
    return ("subsets",)


def _index_of(user_config: Any, dataset: Any) -> int:
    datasets = user_config.get("datasets", []) if isinstance(user_config, dict) else []
    return next((i for i, d in enumerate(datasets) if d is dataset), 0)


@functools.lru_cache(maxsize=4)
def _schemas() -> dict[str, Any]:
    """The key -> validator tables of ConfigSanitizer, merged per level as train_network.py's sanitizer merges them."""
    from voluptuous import Any as AnyOf
    from voluptuous import Required

    subset_common = {
        "color_aug": bool, "face_crop_aug_range": _pair(float), "flip_aug": bool, "num_repeats": int,
        "random_crop": bool, "shuffle_caption": bool, "keep_tokens": int, "keep_tokens_separator": str,
        "secondary_separator": str, "caption_separator": str, "enable_wildcard": bool, "token_warmup_min": int,
        "token_warmup_step": AnyOf(float, int), "caption_prefix": str, "caption_suffix": str, "custom_attributes": dict,
        "resize_interpolation": str,
    }
    dropout = {"caption_dropout_every_n_epochs": int, "caption_dropout_rate": AnyOf(float, int),
               "caption_tag_dropout_rate": AnyOf(float, int)}
    dreambooth = {"caption_extension": str, "class_tokens": str, "cache_info": bool}
    dataset_level = {
        "batch_size": int, "bucket_no_upscale": bool, "bucket_reso_steps": int, "enable_bucket": bool,
        "max_bucket_reso": int, "min_bucket_reso": int, "validation_seed": int, "validation_split": float,
        "resolution": _scalar_or_pair(int), "network_multiplier": float, "resize_interpolation": str,
    }
    db_subset: dict[Any, Any] = {**subset_common, Required("image_dir"): str, "is_reg": bool, "alpha_mask": bool,
                                 **dreambooth, **dropout}
    ft_subset: dict[Any, Any] = {**subset_common, Required("metadata_file"): str, "image_dir": str, "alpha_mask": bool,
                                 **dropout}
    return {
        "general": {**dataset_level, **subset_common, **dreambooth, **dropout},
        "dreambooth": {**dataset_level, **subset_common, **dreambooth, **dropout, "subsets": [db_subset]},
        "fine_tuning": {**dataset_level, **subset_common, **dropout, "subsets": [ft_subset]},
    }


def _validator(on_dataset: Callable[[Any], None]) -> Any:
    from voluptuous import Invalid, Schema

    tables = _schemas()

    def dataset(config: Any) -> Any:
        on_dataset(config)
        subsets = config.get("subsets", [])  # a dataset that is not a table crashes here, as in sd-scripts
        kinds = ["metadata_file" in subset for subset in subsets]  # ... and subsets that are not tables here
        if all(kinds):  # no subsets at all counts as fine-tuning style, as in sd-scripts
            return Schema(tables["fine_tuning"])(config)
        if not any(kinds):
            return Schema(tables["dreambooth"])(config)
        raise Invalid(MIXED_SUBSETS)

    return Schema({"general": tables["general"], "datasets": [dataset]})


def _pair(klass: type) -> Callable[[Any], tuple[Any, ...]]:
    def check(value: Any) -> tuple[Any, ...]:
        from voluptuous import ExactSequence, Schema

        Schema(ExactSequence([klass, klass]))(value)
        return tuple(value)

    return check


def _scalar_or_pair(klass: type) -> Callable[[Any], tuple[Any, ...]]:
    def check(value: Any) -> tuple[Any, ...]:
        from voluptuous import Any as AnyOf
        from voluptuous import ExactSequence, Schema

        Schema(AnyOf(klass, ExactSequence([klass, klass])))(value)
        return (value, value) if isinstance(value, klass) else tuple(value)

    return check


def value_at(user_config: Any, path: tuple[PathPart, ...]) -> tuple[bool, Any]:
    """(found, value) at a problem's key path."""
    value = user_config
    for part in path:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return False, None
    return True, value


def known_keys(level: str) -> list[str]:
    """The keys sd-scripts allows at one level: 'top', 'general', 'dataset' or 'subset' (DreamBooth)."""
    if level == "top":
        return ["general", "datasets"]
    tables = _schemas()
    table = tables["general"] if level == "general" else tables["dreambooth"]
    if level == "subset":
        table = table["subsets"][0]
    return sorted(str(key) for key in table if str(key) != "subsets")
