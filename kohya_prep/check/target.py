"""Resolve PATH and the options into what to check: folders (sd-scripts' folder convention), a dataset
spec of ours, or sd-scripts' dataset TOML. Reads configs and lists folders; scanning images is scan.py's job."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kohya_prep.check.findings import Finding, error, info, warning
from kohya_prep.check.inputs import (
    DEFAULT_CAPTION_EXTENSION,
    DEFAULT_RESOLUTION,
    CheckInputs,
    CheckOptions,
    DatasetConfig,
    RootListing,
    SubsetConfig,
)
from kohya_prep.check.scan import is_image_like
from kohya_prep.errors import CheckError
from kohya_prep.sdscripts.buckets import (
    DEFAULT_BUCKET_RESO_STEPS,
    DEFAULT_MAX_BUCKET_RESO,
    DEFAULT_MIN_BUCKET_RESO,
    BucketSettings,
)
from kohya_prep.sdscripts.folders import parse_subset_dir_name

CONFIG_TOP_KEYS = ("general", "datasets")
# Folders a kohya-prep build (train/, reg/) or the kohya_ss GUI's folder preparation (img/, reg/) lays out.
TRAIN_ROOT_NAMES = ("train", "img")


def resolve(options: CheckOptions) -> CheckInputs:
    """Turn PATH / --dataset-config into datasets to scan; raises CheckError when there is nothing to read."""
    if options.dataset_config is not None:
        notes = []
        if options.path is not None:
            notes.append(info("path-ignored", options.path,
                              "sd-scripts ignores --train_data_dir and --reg_data_dir when --dataset_config is given, "
                              "so only the dataset config was checked"))
        return _from_dataset_config(options.dataset_config, options, notes)
    path = options.path
    if path is None:
        raise CheckError("give a PATH (a train_data_dir, a subset folder or a dataset spec) or --dataset-config TOML.")
    if not path.exists():
        raise CheckError(f"{path} does not exist; give a train_data_dir, a subset folder or a dataset spec (.toml).")
    if path.is_file():
        return _from_toml_file(path, options)
    return _from_folder(path, options)


def _load_toml(path: Path) -> dict[str, Any]:
    import toml  # library/config_util.py: load_user_config parses with this package

    try:
        return toml.load(str(path))
    except (toml.TomlDecodeError, UnicodeDecodeError) as err:
        raise CheckError(f"{path} is not valid TOML ({err}); sd-scripts would stop on it too.") from err


def _from_toml_file(path: Path, options: CheckOptions) -> CheckInputs:
    if path.suffix.lower() != ".toml":
        raise CheckError(f"{path} is a file; give a train_data_dir folder, a dataset spec (.toml) or --dataset-config.")
    data = _load_toml(path)
    if "dataset" in data:
        return _from_spec(path, options)
    if "datasets" in data or "general" in data:
        return _from_dataset_config(path, options, [])
    raise CheckError(f"{path} has neither a [dataset] table (a kohya-prep spec) nor [[datasets]] (an sd-scripts dataset config).")


def _from_spec(path: Path, options: CheckOptions) -> CheckInputs:
    from kohya_prep.spec import load_spec

    spec = load_spec(path)
    if not spec.train_data_dir.is_dir():
        raise CheckError(f"{spec.train_data_dir} does not exist yet; run `kohya-prep dataset build {path}` first.")
    roots = [list_root(spec.train_data_dir, is_reg=False)]
    if spec.reg_data_dir.is_dir():
        roots.append(list_root(spec.reg_data_dir, is_reg=True))
    enable_bucket = bool(spec.train.get("enable_bucket", False))
    resolution = options.resolution or spec.resolution
    settings = BucketSettings((resolution, resolution), enable_bucket=enable_bucket)
    if spec.builds_buckets():  # train-config turns bucketing on with the settings the build shaped the images for
        settings = spec.buckets.settings(resolution)
    caption_extension = _dotted(options.caption_extension or ".txt")
    # train-config sets alpha_mask on the subsets whose images carry one (the build writes alpha only for a mask)
    dataset = _folder_dataset(roots, caption_extension, settings, options.batch_size or 1, alpha_mask=True)
    trigger = options.trigger or spec.trigger
    return CheckInputs(str(path), (dataset,), tuple(roots), trigger, True, options.duplicates, ())


def _from_folder(path: Path, options: CheckOptions) -> CheckInputs:
    notes: list[Finding] = []
    listing = list_root(path, is_reg=False)
    roots = [listing]
    if not _has_subsets(listing):
        roots, notes = _guess_roots(path, listing)
    caption_extension = _dotted(options.caption_extension or DEFAULT_CAPTION_EXTENSION)
    if options.resolution is None:
        notes.append(info("resolution-assumed", path,
                          f"no --resolution given: buckets and tiny images are judged at {DEFAULT_RESOLUTION}",
                          "pass --resolution N (the resolution you will train at)"))
    resolution = options.resolution or DEFAULT_RESOLUTION
    settings = BucketSettings((resolution, resolution))
    dataset = _folder_dataset(roots, caption_extension, settings, options.batch_size or 1)
    return CheckInputs(str(path), (dataset,), tuple(roots), options.trigger, options.trigger is not None,
                       options.duplicates, tuple(notes))


def _guess_roots(path: Path, listing: RootListing) -> tuple[list[RootListing], list[Finding]]:
    """A folder without N_name sub-folders: a dataset root (train/ + reg/), or an image folder given by mistake."""
    for name in TRAIN_ROOT_NAMES:
        train = list_root(path / name, is_reg=False) if (path / name).is_dir() else None
        if train is not None and _has_subsets(train):
            roots = [train]
            said = f"{name}/ as train_data_dir"
            if (path / "reg").is_dir():
                roots.append(list_root(path / "reg", is_reg=True))
                said += " and reg/ as reg_data_dir"
            return roots, [info("dataset-root", path, f"{path} holds a dataset: checked {said}")]
    if listing.image_names:
        parent = path.resolve().parent
        note = error(
            "subset-folder-given", path,
            f"'{path.name}' holds the images itself, but sd-scripts reads only the folders inside train_data_dir: "
            f"given this folder it stops with 'No data found'; checked as if its parent {parent} were given",
            f"set train_data_dir to {parent} (the parent of '{path.name}'), not to the image folder",
        )
        return [list_root(parent, is_reg=False)], [note]
    return [listing], []


def _has_subsets(listing: RootListing) -> bool:
    return any(parse_subset_dir_name(name).used for name in listing.dir_names)


def list_root(path: Path, is_reg: bool) -> RootListing:
    """A train_data_dir / reg_data_dir's immediate folders (with their image counts) and loose image files."""
    dirs: list[tuple[str, int]] = []
    images: list[str] = []
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.is_dir():
                dirs.append((entry.name, _count_image_like(entry.path)))
            elif is_image_like(entry.name):
                images.append(entry.name)
    dirs.sort()
    return RootListing(path, is_reg, tuple(d for d, _ in dirs), tuple(n for _, n in dirs), tuple(sorted(images)))


def _count_image_like(folder: str) -> int:
    try:
        with os.scandir(folder) as entries:
            return sum(1 for e in entries if is_image_like(e.name) and e.is_file())
    except OSError:
        return 0


def _folder_dataset(roots: list[RootListing], caption_extension: str, settings: BucketSettings, batch_size: int,
                    alpha_mask: bool = False) -> DatasetConfig:
    subsets = []
    for root in roots:
        for name in root.dir_names:
            parsed = parse_subset_dir_name(name)
            if parsed.used and parsed.num_repeats is not None:
                subsets.append(SubsetConfig(root.path / name, parsed.num_repeats, parsed.class_tokens, root.is_reg,
                                            caption_extension, alpha_mask=alpha_mask))
    return DatasetConfig(tuple(subsets), settings, batch_size)


def _dotted(extension: str) -> str:
    """sd-scripts prepends a dot to a caption extension given without one."""
    return extension if extension.startswith(".") else "." + extension


def _from_dataset_config(path: Path, options: CheckOptions, notes: list[Finding]) -> CheckInputs:
    if not path.is_file():
        raise CheckError(f"dataset config {path} does not exist; give the .toml you pass to --dataset_config.")
    data = _load_toml(path)
    for key in data:
        if key not in CONFIG_TOP_KEYS:
            notes.append(error("config-extra-key", path,
                               f"[{key}] is not allowed at the top of a dataset config: sd-scripts stops with "
                               f"\"extra keys not allowed @ data['{key}']\"",
                               "keep only [general] and [[datasets]] in the dataset config; "
                               "training options go in --config_file"))
    general = data.get("general", {}) or {}
    datasets = [_config_dataset(ds, general, options, path, notes) for ds in data.get("datasets", []) or []]
    return CheckInputs(str(path), tuple(datasets), (), options.trigger, options.trigger is not None,
                       options.duplicates, tuple(notes))


def _config_dataset(ds: dict[str, Any], general: dict[str, Any], options: CheckOptions, path: Path,
                    notes: list[Finding]) -> DatasetConfig:
    def pick(key: str, default: Any) -> Any:
        for table in (ds, general):
            if table.get(key) is not None:
                return table[key]
        return default

    raw = pick("resolution", options.resolution)
    if raw is None:
        notes.append(error("resolution-missing", path, "a [[datasets]] table has no resolution: sd-scripts stops with "
                           "'resolution is required'", "add resolution = 512 (or [width, height]) to [general] or the dataset"))
        raw = DEFAULT_RESOLUTION
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
    for sub in ds.get("subsets", []) or []:
        subset = _config_subset(sub, ds, general, options, path, notes)
        if subset is not None:
            subsets.append(subset)
    return DatasetConfig(tuple(subsets), settings, int(pick("batch_size", options.batch_size or 1)))


def _config_subset(sub: dict[str, Any], ds: dict[str, Any], general: dict[str, Any], options: CheckOptions, path: Path,
                   notes: list[Finding]) -> SubsetConfig | None:
    def pick(key: str, default: Any) -> Any:
        for table in (sub, ds, general):
            if table.get(key) is not None:
                return table[key]
        return default

    if "metadata_file" in sub or "image_dir" not in sub:
        what = "fine-tuning subsets (metadata_file)" if "metadata_file" in sub else "a subset without image_dir"
        notes.append(warning("subset-not-checked", path, f"{what} cannot be checked by kohya-prep",
                             "give each DreamBooth subset an image_dir"))
        return None
    image_dir = Path(str(sub["image_dir"]))
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
        caption_extension=_dotted(
            str(pick("caption_extension", options.caption_extension or DEFAULT_CAPTION_EXTENSION))),
        shuffle_caption=bool(pick("shuffle_caption", False)),
        keep_tokens=int(pick("keep_tokens", 0)),
        keep_tokens_separator=str(pick("keep_tokens_separator", "")),
        caption_tag_dropout_rate=float(pick("caption_tag_dropout_rate", 0.0)),
        token_warmup_step=float(pick("token_warmup_step", 0.0)),
        enable_wildcard=bool(pick("enable_wildcard", False)),
        alpha_mask=bool(sub.get("alpha_mask", False)),  # config_util.py: a subset-only key
    )
