"""Resolve PATH and the options into what to check: folders (sd-scripts' folder convention), a dataset spec of
ours, or sd-scripts' dataset config (config.py). Reads configs and lists folders; scanning images is scan.py's job.

`resolve(CheckOptions) -> CheckInputs` is the public entry point (train-config reads datasets through it too).
"""

from __future__ import annotations

import os
from pathlib import Path

from kohya_prep.check.files import FileKind, describe_entry, is_dir, kind_of
from kohya_prep.check.findings import Finding, error, info, warning
from kohya_prep.check.inputs import (
    DEFAULT_CAPTION_EXTENSION,
    DEFAULT_RESOLUTION,
    CheckInputs,
    CheckOptions,
    DatasetConfig,
    RootListing,
    RunOptions,
    SubsetConfig,
)
from kohya_prep.check.scan import is_image_like
from kohya_prep.errors import CheckError
from kohya_prep.sdscripts.buckets import (
    DEFAULT_BUCKET_RESO_STEPS,
    DEFAULT_MAX_BUCKET_RESO,
    DEFAULT_MIN_BUCKET_RESO,
    BucketSettings,
    Size,
)
from kohya_prep.sdscripts.folders import dotted_caption_extension, parse_subset_dir_name

# Folders a kohya-prep build (train/, reg/) or the kohya_ss GUI's folder preparation (img/, reg/) lays out.
TRAIN_ROOT_NAMES = ("train", "img")


def resolve(options: CheckOptions) -> CheckInputs:
    """Turn PATH / --dataset-config into datasets to scan; raises CheckError when there is nothing to read."""
    if options.dataset_config is not None:
        from kohya_prep.check.config import from_dataset_config

        notes = []
        if options.path is not None:
            notes.append(info("path-ignored", options.path,
                              "sd-scripts ignores --train_data_dir and --reg_data_dir when --dataset_config is given, "
                              "so only the dataset config was checked"))
        return from_dataset_config(options.dataset_config, options, notes)
    path = options.path
    if path is None:
        raise CheckError("give a PATH (a train_data_dir, a subset folder or a dataset spec) or --dataset-config TOML.")
    kind = kind_of(path)
    if kind == "file":
        return _from_toml_file(path, options)
    if kind != "dir":
        what = "does not exist" if kind == "vanished" else f"is {describe_entry(kind)}"
        raise CheckError(f"{path} {what}; give a train_data_dir, a subset folder or a dataset spec (.toml).")
    return _from_folder(path, options)


def run_options(options: CheckOptions) -> RunOptions:
    return RunOptions(options.gradient_accumulation_steps, options.num_processes, options.max_train_epochs,
                      options.max_train_steps)


def resolution_of(value: int | tuple[int, int] | list[int]) -> Size:
    """512 -> (512, 512); (768, 512) stays (width, height)."""
    if isinstance(value, int):
        return value, value
    return int(value[0]), int(value[1])


def bucket_settings(options: CheckOptions, resolution: Size, enable_bucket: bool = False) -> BucketSettings:
    """Bucket settings for folders and specs: the options where given, else sd-scripts' argparse defaults."""
    return BucketSettings(
        resolution,
        enable_bucket=enable_bucket if options.enable_bucket is None else options.enable_bucket,
        min_bucket_reso=_given(options.min_bucket_reso, DEFAULT_MIN_BUCKET_RESO),
        max_bucket_reso=_given(options.max_bucket_reso, DEFAULT_MAX_BUCKET_RESO),
        bucket_reso_steps=_given(options.bucket_reso_steps, DEFAULT_BUCKET_RESO_STEPS),
        bucket_no_upscale=bool(options.bucket_no_upscale),
    )


def _given(value: int | None, default: int) -> int:
    return default if value is None else value


def _from_toml_file(path: Path, options: CheckOptions) -> CheckInputs:
    from kohya_prep.check.config import from_dataset_config, sniff_toml

    if path.suffix.lower() != ".toml":
        raise CheckError(f"{path} is a file; give a train_data_dir folder, a dataset spec (.toml) or --dataset-config.")
    tables = sniff_toml(path)
    if "dataset" in tables:
        return _from_spec(path, options)
    if "datasets" in tables or "general" in tables:
        return from_dataset_config(path, options, [])
    raise CheckError(f"{path} has neither a [dataset] table (a kohya-prep spec) nor [[datasets]] (an sd-scripts dataset config).")


def _from_spec(path: Path, options: CheckOptions) -> CheckInputs:
    from kohya_prep.spec import load_spec

    spec = load_spec(path)
    if isinstance(options.resolution, int):  # resolution = [512, 1024]: --resolution picks which tree is checked
        spec = spec.at(spec.nearest_resolution(options.resolution))
    if not is_dir(spec.train_data_dir):
        raise CheckError(f"{spec.train_data_dir} does not exist yet; run `kohya-prep dataset build {path}` first.")
    roots = [list_root(spec.train_data_dir, is_reg=False)]
    reg_dir = options.reg_dir or spec.reg_data_dir
    if is_dir(reg_dir):
        roots.append(list_root(reg_dir, is_reg=True))
    resolution = resolution_of(options.resolution or spec.resolution)
    settings = bucket_settings(options, resolution, bool(spec.train.get("enable_bucket", False)))
    if spec.builds_buckets():  # train-config turns bucketing on with the settings the build shaped the images for
        settings = spec.buckets.settings(resolution[0])
    caption_extension = dotted_caption_extension(options.caption_extension or ".txt")
    # train-config sets alpha_mask on the subsets whose images carry one (the build writes alpha only for a mask)
    dataset = _folder_dataset(roots, caption_extension, settings, options.batch_size or 1, alpha_mask=True)
    trigger = options.trigger or spec.trigger
    notes = _build_running(spec.root)
    return CheckInputs(str(path), (dataset,), tuple(roots), trigger, True, options.duplicates, tuple(notes),
                       run_options(options))


def _from_folder(path: Path, options: CheckOptions) -> CheckInputs:
    notes: list[Finding] = []
    listing = list_root(path, is_reg=False)
    roots = [listing]
    if not _has_subsets(listing):
        roots, notes = _guess_roots(path, listing, options.reg_dir is None)
    if options.reg_dir is not None:
        if not is_dir(options.reg_dir):
            raise CheckError(f"--reg-dir {options.reg_dir} is not a folder; give the reg_data_dir (the parent of the "
                             "N_class folders).")
        roots = [root for root in roots if not root.is_reg] + [list_root(options.reg_dir, is_reg=True)]
    caption_extension = dotted_caption_extension(options.caption_extension or DEFAULT_CAPTION_EXTENSION)
    if options.resolution is None:
        notes.append(info("resolution-assumed", path,
                          f"no --resolution given: buckets and tiny images are judged at {DEFAULT_RESOLUTION}",
                          "pass --resolution N or W,H (the resolution you will train at)"))
    settings = bucket_settings(options, resolution_of(options.resolution or DEFAULT_RESOLUTION))
    dataset = _folder_dataset(roots, caption_extension, settings, options.batch_size or 1)
    notes.extend(_build_running(path))
    return CheckInputs(str(path), (dataset,), tuple(roots), options.trigger, options.trigger is not None,
                       options.duplicates, tuple(notes), run_options(options))


def _guess_roots(path: Path, listing: RootListing, with_reg: bool) -> tuple[list[RootListing], list[Finding]]:
    """A folder without N_name sub-folders: a dataset root (train/ + reg/), or an image folder given by mistake."""
    for name in TRAIN_ROOT_NAMES:
        train = list_root(path / name, is_reg=False) if is_dir(path / name) else None
        if train is not None and _has_subsets(train):
            roots = [train]
            said = f"{name}/ as train_data_dir"
            if with_reg and is_dir(path / "reg"):
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
    """A train_data_dir / reg_data_dir's immediate folders (with their image counts) in the file system's order,
    as config_util.generate_dreambooth_subsets_config_by_subdirs walks them (Path.iterdir, Path.is_dir: a
    symlink to a folder counts, a loop or a dangling link is passed over), and its loose image files."""
    try:
        with os.scandir(path) as entries:
            names = [entry.name for entry in entries]
    except OSError as err:
        raise CheckError(f"cannot list {path} ({err.strerror or err}); is a build or a sync rewriting it? "
                         "Check again when it is done.") from err
    dirs: list[tuple[str, int]] = []
    images: list[str] = []
    broken: list[tuple[str, FileKind]] = []
    for name in names:
        kind = kind_of(path / name)
        if kind == "dir":
            dirs.append((name, _count_image_like(path / name)))
        elif kind in ("loop", "dangling"):
            broken.append((name, kind))
        elif is_image_like(name):
            images.append(name)
    return RootListing(path, is_reg, tuple(d for d, _ in dirs), tuple(n for _, n in dirs), tuple(sorted(images)),
                       tuple(broken))


def _count_image_like(folder: Path) -> int:
    try:
        with os.scandir(folder) as entries:
            return sum(1 for e in entries if is_image_like(e.name) and kind_of(e.path) == "file")
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


def _build_running(folder: Path) -> list[Finding]:
    """A warning when a kohya-prep build holds the lock of this dataset (or of the one this folder is in)."""
    from kohya_prep.check.files import flock_held

    for root in (folder, folder.parent, folder.parent.parent):
        lock = root.parent / f".{root.name}.kp-lock"  # build/run.py: lock_path
        if flock_held(lock):
            return [warning("build-running", root, f"a kohya-prep build is writing {root} right now: files may appear "
                            "or vanish while they are checked", "check again when the build has finished")]
    return []
