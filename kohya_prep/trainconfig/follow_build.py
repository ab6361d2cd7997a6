"""What train-config takes from a kohya-prep build: the bucket settings it shaped its images for, which subsets
carry a loss mask, and whether the final settings keep each image in the bucket it was built for."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from kohya_prep.output import Notice
from kohya_prep.sdscripts.buckets import BucketSettings
from kohya_prep.sdscripts.steps import EpochPlan
from kohya_prep.spec import DatasetSpec, read_source_header
from kohya_prep.trainconfig.plan import ScannedSubset


def build_buckets(spec: DatasetSpec | None) -> BucketSettings | None:
    """The spec's bucket settings when it builds fit = "bucket" images (train-config then writes exactly those)."""
    return spec.bucket_settings if spec is not None and spec.builds_buckets() else None


def _has_alpha(path: str) -> bool:
    try:
        return read_source_header(Path(path))[2]
    except OSError:
        return False


def with_alpha_masks(subsets: Sequence[ScannedSubset], spec: DatasetSpec | None) -> list[ScannedSubset]:
    """For a kohya-prep build (a spec), alpha_mask on each subset some image of which has an alpha channel: the
    build writes alpha only for a mask (library/train_util.py: load_image(alpha=True); custom_train_functions.py:
    apply_masked_loss). Other folders are left as they are: their alpha was not written as a loss mask."""
    if spec is None:
        return list(subsets)
    return [dataclasses.replace(s, alpha_mask=any(_has_alpha(p) for p in s.paths)) for s in subsets]


def bucket_warnings(spec: DatasetSpec | None, epoch: EpochPlan) -> list[Notice]:
    """A bucket build whose images sd-scripts would move to another bucket (resized and cropped): the [train]
    table or --set changed the resolution or the bucket settings the build used."""
    if build_buckets(spec) is None:
        return []
    moved = [p for p in epoch.placements if p.num_repeats > 0 and p.bucket != p.size]
    if not moved:
        return []
    shown = ", ".join(f"{Path(p.path).name} ({p.size[0]}x{p.size[1]} -> {p.bucket[0]}x{p.bucket[1]})" for p in moved[:3])
    return [Notice("bucket-moved", f"{len(moved)} image(s) were built for their bucket but these settings put them in "
                   f"another one, resized and cropped: {shown}; keep resolution and the bucket settings as the spec's "
                   "[dataset] has them, or rebuild")]
