"""Layout rules: which folders and files sd-scripts will load, ignore or skip
(library/config_util.py: generate_dreambooth_subsets_config_by_subdirs; library/train_util.py: glob_images)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePath

from kohya_prep.check.files import describe_entry
from kohya_prep.check.findings import Finding, error, info, warning
from kohya_prep.check.inputs import RootListing, SubsetConfig
from kohya_prep.check.scan import ScannedSubset
from kohya_prep.sdscripts.folders import IMAGE_EXTENSIONS, parse_subset_dir_name


def few(paths: Sequence[object], limit: int = 5) -> str:
    """'a.png, b.png and 3 more': file names for a message, never a wall of them."""
    names = [PurePath(str(p)).name for p in paths]
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def root_findings(root: RootListing) -> list[Finding]:
    """Folders sd-scripts drops (no number, 0_) and images lying directly in the root."""
    found = []
    kind = "reg_data_dir" if root.is_reg else "train_data_dir"
    for name, count in zip(root.dir_names, root.dir_image_counts, strict=True):
        parsed = parse_subset_dir_name(name)
        where = root.path / name
        holds = f"its {count} image(s) are not trained" if count else "it holds no images"
        if parsed.num_repeats is None:
            make = error if count else info
            found.append(make("dir-without-repeats", where,
                              f"sd-scripts ignores '{name}' (no <number>_ prefix; it logs 'ignore directory without "
                              f"repeats'): {holds}",
                              f"rename it to '10_{name}' (10 repeats) or move it out of the {kind}"))
        elif not parsed.used:
            make = error if count else warning
            found.append(make("zero-repeats", where,
                              f"sd-scripts skips '{name}' without a word (repeats {parsed.num_repeats} < 1): {holds}",
                              f"rename it to '1_{parsed.class_tokens}' or more repeats"))
    for name, kind in root.broken:
        if parse_subset_dir_name(name).used:
            found.append(warning("subset-link-broken", root.path / name, f"'{name}' is {describe_entry(kind)}: sd-scripts' "
                                 "Path.is_dir() is False for it, so it skips the folder without a word",
                                 f"point the link at the folder of images, or remove '{name}'"))
    if root.image_names:
        found.append(warning("images-in-root", root.path,
                             f"{len(root.image_names)} image(s) lie directly in the {kind} ({few(root.image_names)}); "
                             "sd-scripts reads only the <number>_<class> folders inside it",
                             "move them into a folder such as '10_<trigger> <class>'"))
    return found


def subset_findings(subset: ScannedSubset) -> list[Finding]:
    """A subset's own layout: missing or empty, files it will not load, folders it will not enter."""
    config = subset.config
    folder = config.image_dir
    if not subset.exists:
        what = "does not exist" if subset.kind in ("vanished", "dangling") else f"is {describe_entry(subset.kind)}, not a folder"
        return [error("image-dir-missing", folder, f"image_dir {folder} {what}: sd-scripts logs 'not directory' and "
                      "skips the subset",
                      "fix the path in the dataset config (an absolute path to the folder holding the images)")]
    found = []
    if not subset.images:
        make = info if config.is_reg else warning
        found.append(make("empty-subset", folder, "no image sd-scripts can load here; it skips this subset with a warning",
                          "add images (png, jpg, jpeg, webp, bmp with a lower-case extension) or remove the folder"))
    found.extend(_skipped_findings(folder, subset.skipped))
    for sub, count in subset.subfolders:
        what = "a preview folder" if "preview" in sub.name.lower() else "a folder"
        found.append(warning("nested-folder", sub,
                             f"{what} inside a subset: sd-scripts does not look into it ({count} image(s) there are not trained)",
                             f"move '{sub.name}' out of {folder.name}/ (images go directly in the subset folder)"))
    return found


def _skipped_findings(folder: Path, skipped: Sequence[Path]) -> list[Finding]:
    wrong_case = [p for p in skipped if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")]
    other = [p for p in skipped if p.suffix.lower() not in IMAGE_EXTENSIONS]
    found = []
    if wrong_case:
        found.append(error("wrong-case-extension", folder,
                           f"{len(wrong_case)} image(s) have a mixed-case extension that sd-scripts' glob misses on Linux "
                           f"(found on Windows only): {few(wrong_case)}",
                           f"rename to a lower-case extension, e.g. {wrong_case[0].stem}{wrong_case[0].suffix.lower()}"))
    if other:
        found.append(warning("unsupported-format", folder,
                             f"{len(other)} file(s) in a format sd-scripts does not load: {few(other)}",
                             "convert them to PNG (or JPEG/WebP) if they belong in the dataset"))
    return found


def dropped_findings(subsets: Sequence[tuple[SubsetConfig, int, str | None]]) -> list[Finding]:
    """Subsets DreamBoothDataset.__init__ skips: num_repeats < 1, or an image_dir already registered (it compares
    image_dir alone, so a reg subset on the training folder is dropped too). Empty ones: subset_findings."""
    found = []
    kept: dict[str, SubsetConfig] = {}
    for config, count, reason in subsets:
        written = config.image_dir_text or str(config.image_dir)
        if reason is None:
            kept[written] = config
        elif reason == "num_repeats":
            make = error if count else warning
            found.append(make("subset-skipped", config.image_dir, f"sd-scripts skips this subset: num_repeats = "
                              f"{config.num_repeats} is less than 1 ('ignore subset with image_dir=...'), so its "
                              f"{count} image(s) are not trained", "set num_repeats = 1 or more, or remove the subset"))
        elif reason == "duplicate":
            found.append(_duplicate(config, kept[written], count))
    return found


def _duplicate(config: SubsetConfig, first: SubsetConfig, count: int) -> Finding:
    kind = "reg" if config.is_reg else "training"
    if config.is_reg != first.is_reg:
        return error("subset-duplicate", config.image_dir, f"this {kind} subset has the image_dir of an earlier "
                     f"{'reg' if first.is_reg else 'training'} subset: sd-scripts compares subsets by image_dir only, keeps "
                     "the first and skips this one ('ignore duplicated subset'), so its images are used only as "
                     f"{'reg' if first.is_reg else 'training'} images", "give reg images a folder of their own")
    return warning("subset-duplicate", config.image_dir, f"this subset repeats the image_dir of an earlier one: "
                   f"sd-scripts keeps the first ({first.num_repeats} repeat(s)) and skips this one ('ignore duplicated "
                   f"subset'), so its {count} image(s) are not added again and its settings are not used",
                   "remove the second subset, or raise num_repeats on the first")


def vanished_findings(subsets: Sequence[ScannedSubset]) -> list[Finding]:
    """Files that disappeared while they were read: something (a rebuild, a sync) is writing the dataset."""
    gone = [path for s in subsets for path in s.vanished]
    gone += [s.config.image_dir for s in subsets if not s.exists and s.kind == "vanished" and _was_listed(s)]
    gone += [i.caption_problem[0] for s in subsets for i in s.images
             if i.caption_problem is not None and i.caption_problem[1] == "vanished"]
    if not gone:
        return []
    return [warning("vanished", gone[0].parent, f"{len(gone)} file(s) disappeared while the check read them "
                    f"({few(gone)}): something is writing this dataset, so these numbers may not be what sd-scripts "
                    "will see", "check again when nothing is writing the dataset (a kohya-prep build, a sync)")]


def _was_listed(subset: ScannedSubset) -> bool:
    """A folder-convention subset was seen a moment ago by list_root; a config's image_dir may never have existed."""
    return not subset.config.image_dir_text


def no_data_finding(subsets: Sequence[ScannedSubset], target: str) -> list[Finding]:
    """sd-scripts' 'No data found' when no training subset holds a loadable image."""
    if any(s.images and not s.config.is_reg and s.config.num_repeats >= 1 for s in subsets):
        return []
    return [error("no-data", target,
                  "sd-scripts will find no training image and stop with 'No data found. Please verify arguments "
                  "(train_data_dir must be the parent of folders with images)'",
                  "put the images in a folder named <repeats>_<class tokens> (e.g. '10_mychar girl') inside "
                  "train_data_dir, and point train_data_dir at its parent")]
