"""Image hygiene: unreadable, truncated, mislabelled, tiny, duplicated, badly named, stale caches."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kohya_prep.check.files import describe_entry
from kohya_prep.check.findings import Finding, error, info, warning
from kohya_prep.check.scan import HASH_SIDE, ImageFile, ScannedSubset
from kohya_prep.sdscripts.folders import cache_owner_stems, stem_trips_caption_fallback

_SUFFIX_KIND = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp", ".bmp": "bmp"}
FLIP_SUFFIXES = ("-flip", "_flip", "-flipped", "_flipped")  # mirrored copies, kohya-prep's first
LOOK_ALIKE_BITS = 10  # of the 256 dHash bits, that may differ for two images to look alike


def image_findings(subset: ScannedSubset) -> list[Finding]:
    """Per-image problems in one subset."""
    found: list[Finding] = []
    for image in subset.images:
        found.extend(_one_image(image))
    found.extend(_stale_caches(subset))
    return found


# What sd-scripts does with an entry glob lists as an image that is not a readable file.
_FATE = {
    "fifo": "sd-scripts hangs for good reading its size (a FIFO blocks until something writes to it)",
    "dir": "sd-scripts crashes reading its size (IsADirectoryError)",
    "socket": "sd-scripts crashes opening it (OSError: No such device or address)",
    "device": "sd-scripts reads no image from it and crashes or hangs",
    "dangling": "sd-scripts crashes opening it (FileNotFoundError)",
    "loop": "sd-scripts crashes opening it (OSError: Too many levels of symbolic links)",
    "denied": "sd-scripts crashes opening it (PermissionError)",
    "error": "sd-scripts crashes opening it",
}


def _one_image(image: ImageFile) -> list[Finding]:
    path = image.path
    if image.entry == "vanished":
        return []  # layout.vanished_findings reports it with the rest of the race
    if image.entry != "file":
        return [error("not-an-image-file", path, f"{path.name} is {describe_entry(image.entry)}, but sd-scripts' glob "
                      f"lists it as an image by its name: {_FATE[image.entry]}",
                      "move it out of the subset folder (or make it a real image file)")]
    found = _readability(image)
    expected = _SUFFIX_KIND.get(path.suffix.lower())
    if image.kind is not None and expected is not None and image.kind != expected:
        found.append(warning("extension-mismatch", path, f"{path.name} is a {image.kind.upper()} file named {path.suffix}",
                             f"rename it to {path.stem}.{'jpg' if image.kind == 'jpeg' else image.kind} (or re-save as "
                             f"{expected.upper()})"))
    if image.true_size is not None and image.size is not None:
        (w, h), (tw, th) = image.size, image.true_size
        found.append(warning("webp-size-off-by-one", path, f"{path.name} is {tw}x{th}, but sd-scripts reads {w}x{h}: "
                             "the imagesize package it uses (1.4.1) reads an extended (VP8X) WebP header one pixel "
                             "short on each side, so the image is bucketed (and with bucket_no_upscale cropped) as if it "
                             "were that size", "re-save it as PNG, or as a WebP without alpha or metadata (plain VP8/VP8L)"))
    if stem_trips_caption_fallback(path.stem):
        found.append(warning("underscore-stem", path, f"'{path.stem}' has {path.stem.count('_')} underscores: sd-scripts'"
                             " face-crop caption fallback and face_crop_aug_range read such names as "
                             "name_x_y_w_h", f"rename it with fewer than 4 underscores, e.g. {path.stem.replace('_', '-')}"
                             f"{path.suffix}"))
    return found


def _readability(image: ImageFile) -> list[Finding]:
    path = image.path
    if image.truncated:
        return [error("truncated-image", path, f"{path.name} ends before its {image.kind} end marker (a cut-off "
                      "download or copy): sd-scripts stops with 'image file is truncated' when it loads it",
                      "re-export or re-copy the image from its source, or delete it")]
    if image.size_error is not None:
        return [error("unreadable-image", path, f"sd-scripts cannot read the size of {path.name}: the imagesize "
                      f"package stops with '{image.size_error}', which sd-scripts does not catch",
                      "re-export it as PNG, or delete it")]
    if image.size is None or not image.decodes:
        return [error("unreadable-image", path, f"{path.name} cannot be read as an image: sd-scripts will crash "
                      "loading it", "re-export it as PNG, or delete it")]
    return []


def _stale_caches(subset: ScannedSubset) -> list[Finding]:
    """Cache files older than the image they belong to: sd-scripts reuses them after the image changed."""
    found = []
    newest = max((image.mtime for image in subset.images), default=0.0)
    by_stem = {image.path.stem: image for image in subset.images}
    for path, mtime in subset.caches:
        if path.name == "metadata_cache.json":
            if mtime < newest:
                found.append(warning("stale-cache", path, "metadata_cache.json is older than the newest image: with "
                                     "cache_info sd-scripts reuses its old captions and sizes", f"delete {path}"))
            continue
        image = _owner(path.name, by_stem)
        if image is not None and mtime < image.mtime:
            found.append(warning("stale-cache", path, f"{path.name} is older than {image.path.name}: sd-scripts will "
                                 "train on the latents cached from the old image", f"delete {path} (sd-scripts recaches)"))
    return found


def _owner(cache_name: str, by_stem: dict[str, ImageFile]) -> ImageFile | None:
    """The image a cache file belongs to (sdscripts.folders.cache_owner_stems), or None."""
    return next((by_stem[stem] for stem in cache_owner_stems(cache_name) if stem in by_stem), None)


def duplicate_findings(images: Sequence[ImageFile]) -> list[Finding]:
    """Identical files (a warning: each copy weighs the same picture again) and look-alikes (a fact).

    Look-alikes are images whose 256-bit dHash differs in at most LOOK_ALIKE_BITS bits. On flat line art a
    JPEG re-encode moves as many bits as the same pose redrawn on another sheet, so a look-alike is left
    for the user to judge. A deliberate mirrored copy (`name-flip.png` next to `name.png`, as kohya-prep
    builds them) is neither; when it looks like its original the subject is symmetric, which is a fact.
    """
    found = _identical_files(images)
    hashed = [image for image in images if image.dhash is not None]
    if len(hashed) < 2:
        return found
    close = _close_pairs([int(image.dhash or 0) for image in hashed])
    seen: set[int] = set()
    for i in range(len(hashed)):
        if i in seen:
            continue
        flips = [j for j in range(len(hashed)) if close[i, j] and _is_flip_pair(hashed[i].path, hashed[j].path)]
        group = [j for j in range(i + 1, len(hashed)) if j not in seen and close[i, j] and j not in flips
                 and hashed[i].digest != hashed[j].digest]
        found.extend(_flip_fact(hashed[i].path, hashed[j].path) for j in flips if j > i)
        if group:
            seen.update(group)
            paths = [hashed[i].path, *(hashed[j].path for j in group)]
            found.append(info("look-alike", paths[0], f"images that look alike: {_relative(paths)}",
                              "keep them if they differ in what you mean to teach; drop near-copies"))
    return found


def _identical_files(images: Sequence[ImageFile]) -> list[Finding]:
    groups: dict[str, list[Path]] = {}
    for image in images:
        if image.digest is not None:
            groups.setdefault(image.digest, []).append(image.path)
    return [warning("duplicate-image", paths[0], f"identical files: {_relative(paths)}; each copy weighs the same "
                    "picture again", "keep one of them (or give the copies fewer repeats)")
            for paths in groups.values() if len(paths) > 1]


def _close_pairs(hashes: list[int]) -> Any:
    """A boolean matrix: Hamming distance between two hashes at most LOOK_ALIKE_BITS."""
    import numpy as np

    bits = np.array([[(h >> i) & 1 for i in range(HASH_SIDE * HASH_SIDE)] for h in hashes], dtype=np.int32)
    return (bits @ (1 - bits).T + (1 - bits) @ bits.T) <= LOOK_ALIKE_BITS


def _is_flip_pair(a: Path, b: Path) -> bool:
    return a.parent == b.parent and any(
        x.stem == y.stem + suffix for x, y in ((a, b), (b, a)) for suffix in FLIP_SUFFIXES
    )


def _flip_fact(a: Path, b: Path) -> Finding:
    return info("flip-like-original", a, f"{a.name} and {b.name} look alike although one is mirrored: the subject is "
                "nearly symmetric, so the flipped copy adds little", "drop flip for this crop if you want fewer samples")


def _relative(paths: Sequence[Path]) -> str:
    return ", ".join(f"{p.parent.name}/{p.name}" for p in paths[:6]) + (f" and {len(paths) - 6} more" if len(paths) > 6 else "")
