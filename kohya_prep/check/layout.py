"""Layout rules: which folders and files sd-scripts will load, ignore or skip
(library/config_util.py: generate_dreambooth_subsets_config_by_subdirs; library/train_util.py: glob_images)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePath

from kohya_prep.check.findings import Finding, error, info, warning
from kohya_prep.check.inputs import RootListing
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
        return [error("image-dir-missing", folder, f"image_dir {folder} does not exist",
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


def no_data_finding(subsets: Sequence[ScannedSubset], target: str) -> list[Finding]:
    """sd-scripts' 'No data found' when no training subset holds a loadable image."""
    if any(s.images and not s.config.is_reg and s.config.num_repeats >= 1 for s in subsets):
        return []
    return [error("no-data", target,
                  "sd-scripts will find no training image and stop with 'No data found. Please verify arguments "
                  "(train_data_dir must be the parent of folders with images)'",
                  "put the images in a folder named <repeats>_<class tokens> (e.g. '10_mychar girl') inside "
                  "train_data_dir, and point train_data_dir at its parent")]
