"""sd-scripts' dataset config (--dataset_config) into datasets to check.

The file is read and validated as sd-scripts does (sdscripts/dataset_config.py); a file sd-scripts refuses stops
the check with sd-scripts' own sentence, naming the key and the value. Values then fall back as in
library/config_util.py: BlueprintGenerator.generate: subset, then dataset, then [general], then the command line
(CheckOptions), then the default; a value counts only when it is not None.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kohya_prep.check.files import describe_entry, kind_of
from kohya_prep.check.findings import Finding, error, warning
from kohya_prep.check.inputs import DEFAULT_CAPTION_EXTENSION, CheckInputs, CheckOptions, DatasetConfig, SubsetConfig
from kohya_prep.errors import CheckError
from kohya_prep.output import Notice
from kohya_prep.sdscripts.buckets import (
    DEFAULT_BUCKET_RESO_STEPS,
    DEFAULT_MAX_BUCKET_RESO,
    DEFAULT_MIN_BUCKET_RESO,
    BucketSettings,
)
from kohya_prep.sdscripts.dataset_config import (
    BOM,
    SchemaProblem,
    UnreadableConfig,
    load_user_config,
    schema_problems,
    value_at,
)
from kohya_prep.sdscripts.folders import dotted_caption_extension


class DatasetConfigError(CheckError):
    """Raised when sd-scripts would refuse the dataset config itself: one notice per problem, the first being
    the one sd-scripts prints."""

    def __init__(self, path: Path, problems: Sequence[tuple[str, str]]):
        self.path = path
        self.problems = list(problems)  # (message, fix)
        first = f"{path}: {problems[0][0]}; {problems[0][1]}"
        more = f" (and {len(problems) - 1} more: {'; '.join(m for m, _ in problems[1:])})" if len(problems) > 1 else ""
        super().__init__(first + more)

    def notices(self) -> list[Notice]:
        return [Notice(self.code, message, str(self.path), fix) for message, fix in self.problems]


def sniff_toml(path: Path) -> dict[str, Any]:
    """The top-level tables of a .toml PATH, to tell a kohya-prep spec from a dataset config (a BOM is skipped
    here: each reader then judges it by its own rules)."""
    import toml

    data = _read(path)
    try:
        return dict(toml.loads(data.removeprefix(BOM).decode("utf-8")))
    except (ValueError, UnicodeDecodeError) as err:
        raise CheckError(f"{path} is not valid TOML ({err}); sd-scripts would stop on it too.") from err


def _read(path: Path) -> bytes:
    from kohya_prep.check.files import read_regular

    try:
        return read_regular(path)
    except OSError as err:
        raise CheckError(f"cannot read {path}: it is {describe_entry(kind_of(path))}.") from err


def from_dataset_config(path: Path, options: CheckOptions, notes: list[Finding]) -> CheckInputs:
    from kohya_prep.check.target import _build_running, run_options

    kind = kind_of(path)
    if kind != "file":
        what = "does not exist" if kind in ("vanished", "dangling") else f"is {describe_entry(kind)}"
        raise CheckError(f"dataset config {path} {what}; give the .toml you pass to --dataset_config.")
    try:
        data = load_user_config(path)
    except UnreadableConfig as err:
        raise CheckError(f"{path}: {err}; sd-scripts stops on it before training: {err.fix}.") from err
    except OSError as err:
        raise CheckError(f"cannot read {path} ({err.strerror or err}).") from err
    problems = schema_problems(data)
    if problems:
        raise DatasetConfigError(path, [_sentence(data, p) for p in problems])
    general = data.get("general", {})
    datasets = [_config_dataset(ds, general, options, path, notes) for ds in data.get("datasets", [])]
    for dataset in datasets:
        for subset in dataset.subsets:
            notes.extend(_build_running(subset.image_dir))
    return CheckInputs(str(path), tuple(datasets), (), options.trigger, options.trigger is not None,
                       options.duplicates, tuple(_unique(notes)), run_options(options))


def _unique(notes: list[Finding]) -> list[Finding]:
    return list(dict.fromkeys(notes))


def _config_dataset(ds: dict[str, Any], general: dict[str, Any], options: CheckOptions, path: Path,
                    notes: list[Finding]) -> DatasetConfig:
    cli = _argparse_layer(options)

    def pick(key: str, default: Any) -> Any:
        for table in (ds, general, cli):
            if table.get(key) is not None:
                return table[key]
        return default

    raw = pick("resolution", None)
    if raw is None:
        notes.append(error("resolution-missing", path, "a [[datasets]] table has no resolution: sd-scripts stops with "
                           "'resolution is required'", "add resolution = 512 (or [width, height]) to [general] or the dataset"))
        raw = 512
    resolution = (raw, raw) if isinstance(raw, int) else (int(raw[0]), int(raw[1]))
    settings = BucketSettings(
        resolution,
        enable_bucket=bool(pick("enable_bucket", False)),
        min_bucket_reso=int(pick("min_bucket_reso", DEFAULT_MIN_BUCKET_RESO)),
        max_bucket_reso=int(pick("max_bucket_reso", DEFAULT_MAX_BUCKET_RESO)),
        bucket_reso_steps=int(pick("bucket_reso_steps", DEFAULT_BUCKET_RESO_STEPS)),
        bucket_no_upscale=bool(pick("bucket_no_upscale", False)),
    )
    subsets = []
    for sub in ds.get("subsets", []):
        subset = _config_subset(sub, ds, general, cli, path, notes)
        if subset is not None:
            subsets.append(subset)
    seed = pick("validation_seed", None)
    return DatasetConfig(tuple(subsets), settings, int(pick("batch_size", 1)), float(pick("validation_split", 0.0)),
                         None if seed is None else int(seed))


def _argparse_layer(options: CheckOptions) -> dict[str, Any]:
    """The command line as sd-scripts' argparse namespace would hold it (None: not given)."""
    return {
        "resolution": options.resolution, "batch_size": options.batch_size, "caption_extension": options.caption_extension,
        "enable_bucket": options.enable_bucket, "min_bucket_reso": options.min_bucket_reso,
        "max_bucket_reso": options.max_bucket_reso, "bucket_reso_steps": options.bucket_reso_steps,
        "bucket_no_upscale": options.bucket_no_upscale,
    }


def _config_subset(sub: dict[str, Any], ds: dict[str, Any], general: dict[str, Any], cli: dict[str, Any], path: Path,
                   notes: list[Finding]) -> SubsetConfig | None:
    def pick(key: str, default: Any) -> Any:
        for table in (sub, ds, general, cli):
            if table.get(key) is not None:
                return table[key]
        return default

    if "metadata_file" in sub:
        notes.append(warning("subset-not-checked", path, "fine-tuning subsets (metadata_file) cannot be checked by "
                             "kohya-prep", "give each DreamBooth subset an image_dir"))
        return None
    written = sub["image_dir"]
    image_dir = Path(written)
    if not image_dir.is_absolute():
        notes.append(warning("relative-image-dir", image_dir,
                             f"image_dir '{image_dir}' is relative: sd-scripts resolves it against the folder training "
                             "is launched from (the GUI runs from the kohya_ss folder), not against the config",
                             f"write the absolute path: image_dir = '{image_dir.absolute().as_posix()}'"))
    return SubsetConfig(
        image_dir=image_dir,
        num_repeats=int(pick("num_repeats", 1)),
        class_tokens=pick("class_tokens", None),
        is_reg=bool(sub.get("is_reg", False)),
        caption_extension=dotted_caption_extension(str(pick("caption_extension", DEFAULT_CAPTION_EXTENSION))),
        image_dir_text=written,
        shuffle_caption=bool(pick("shuffle_caption", False)),
        keep_tokens=int(pick("keep_tokens", 0)),
        keep_tokens_separator=str(pick("keep_tokens_separator", "")),
        caption_tag_dropout_rate=float(pick("caption_tag_dropout_rate", 0.0)),
        token_warmup_step=float(pick("token_warmup_step", 0.0)),
        enable_wildcard=bool(pick("enable_wildcard", False)),
        alpha_mask=bool(sub.get("alpha_mask", False)),  # config_util.py: a subset-only key
    )


# --- sd-scripts' refusal, as one sentence naming the key and the value, and a fix -----------------------------

_KEY_FIX = {
    "resolution": "write resolution = 512 or resolution = [768, 512] (whole numbers, no quotes)",
    "face_crop_aug_range": "write two decimal numbers, e.g. face_crop_aug_range = [2.0, 4.0]",
    "datasets": "write each dataset as a [[datasets]] table, with its folders as [[datasets.subsets]] tables",
    "subsets": "write each folder as a [[datasets.subsets]] table under its [[datasets]]",
    "general": "write [general] as a table: a [general] line followed by key = value lines",
}
_TYPE_FIX = {
    "int": "a whole number without quotes, e.g. {key} = 10",
    "bool": "true or false, without quotes",
    "str": "a quoted string, e.g. {key} = '...'",
    "float": "a number with a decimal point, e.g. {key} = 0.0 (sd-scripts' schema refuses a whole number here)",
    "dict": "a table, e.g. {key} = {{ name = 'value' }}",
}


def _sentence(data: Any, problem: SchemaProblem) -> tuple[str, str]:
    where = _where(problem.path)
    found, value = value_at(data, problem.path)
    said = f"{where} = {_toml(value)}" if found and where else where or "the file"
    verb = "crashes with" if problem.crash else "stops with"
    return f"{said}: sd-scripts {verb} \"{problem.message}\"", _fix(problem)


def _fix(problem: SchemaProblem) -> str:
    key = next((p for p in reversed(problem.path) if isinstance(p, str)), "")
    message = problem.message
    if problem.crash:
        return "each [[datasets]] entry must be a table, and its subsets a list of [[datasets.subsets]] tables"
    if message.startswith("extra keys not allowed"):
        return _extra_key_fix(problem.path)
    if message.startswith("required key not provided"):
        return f"add {key} = '/absolute/path/to/the/images' to this subset"
    if message.startswith("DreamBooth subset and fine tuning subset"):
        return "put subsets with metadata_file and subsets without it in separate [[datasets]]"
    if key in _KEY_FIX:
        return _KEY_FIX[key]
    for name, fix in _TYPE_FIX.items():
        if message.startswith(f"expected {name} "):
            return f"make {key} " + fix.format(key=key)
    return "fix the value to the type sd-scripts expects"


def _extra_key_fix(path: tuple[str | int, ...]) -> str:
    from kohya_prep.sdscripts.dataset_config import known_keys

    key = str(path[-1])
    level = "top" if len(path) == 1 else "subset" if "subsets" in path else "general" if path[0] == "general" else "dataset"
    allowed = known_keys(level)
    close = difflib.get_close_matches(key, allowed, n=1)
    if close:
        return f"did you mean '{close[0]}'? (sd-scripts allows no other key here)"
    if level == "top":
        return "keep only [general] and [[datasets]] in the dataset config; training options go in --config_file"
    elsewhere = [other for other in ("subset", "dataset", "general") if other != level and key in known_keys(other)]
    if elsewhere:
        return f"move '{key}' to the {elsewhere[0]} level, where sd-scripts reads it"
    return f"remove '{key}': sd-scripts knows no such {level} option"


def _where(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _toml(value: Any) -> str:
    """A value as the user wrote it in TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list):
        text = "[" + ", ".join(_toml(v) for v in value) + "]"
    elif isinstance(value, dict):
        text = "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }" if value else "{}"
    else:
        text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."
