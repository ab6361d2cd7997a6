"""sd-scripts' aspect-ratio bucketing, as pure functions.

Mirrors `library/model_util.py::make_bucket_resolutions` and `library/train_util.py::BucketManager`
(`select_bucket`, `round_to_steps`) and `BaseDataset.adjust_min_max_bucket_reso_by_steps`:

- `BucketSettings`: resolution (width, height) and the five bucket options, with sd-scripts' defaults.
- `adjusted_bucket_range(settings)`: min/max bucket reso moved to multiples of the step (min down, max up).
- `bucket_settings_problems(settings)`: the assertions sd-scripts fails on, as sentences (empty list: fine).
- `make_bucket_resolutions(resolution, min_size, max_size, step)`: the predefined bucket list, sorted.
- `BucketTable.from_settings(settings).assign((w, h))` -> `BucketAssignment(bucket, resized_size, upscaled)`;
  `assign_bucket(size, settings)` does the same for a single image.

Sizes are always (width, height), as in sd-scripts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Size = tuple[int, int]

# The argparse defaults of --min_bucket_reso, --max_bucket_reso and --bucket_reso_steps
# (library/train_util.py: add_dataset_arguments); a dataset config that sets none of them gets these.
DEFAULT_MIN_BUCKET_RESO = 256
DEFAULT_MAX_BUCKET_RESO = 1024
DEFAULT_BUCKET_RESO_STEPS = 64


@dataclass(frozen=True)
class BucketSettings:
    """The dataset-level options sd-scripts buckets with; defaults are its effective defaults."""

    resolution: Size
    enable_bucket: bool = False
    min_bucket_reso: int = DEFAULT_MIN_BUCKET_RESO
    max_bucket_reso: int = DEFAULT_MAX_BUCKET_RESO
    bucket_reso_steps: int = DEFAULT_BUCKET_RESO_STEPS
    bucket_no_upscale: bool = False


@dataclass(frozen=True)
class BucketAssignment:
    """Where one image lands: its bucket, the size it is resized to before the crop, and whether that enlarges it."""

    bucket: Size
    resized_size: Size
    upscaled: bool


def adjusted_bucket_range(settings: BucketSettings) -> tuple[int, int]:
    """min_bucket_reso rounded down and max_bucket_reso rounded up to multiples of bucket_reso_steps."""
    step = settings.bucket_reso_steps
    low, high = settings.min_bucket_reso, settings.max_bucket_reso
    if low % step:
        low -= low % step
    if high % step:
        high += step - high % step
    return low, high


def bucket_settings_problems(settings: BucketSettings) -> list[str]:
    """The assertions sd-scripts raises for these settings when bucketing is on, as user-facing sentences."""
    if not settings.enable_bucket:
        return []
    low, high = adjusted_bucket_range(settings)
    problems = []
    if min(settings.resolution) < low:
        problems.append(
            f"min_bucket_reso {settings.min_bucket_reso} is larger than the resolution's short side "
            f"{min(settings.resolution)}; sd-scripts stops with 'min_bucket_reso must be equal or less than resolution'"
        )
    if max(settings.resolution) > high:
        problems.append(
            f"max_bucket_reso {settings.max_bucket_reso} is smaller than the resolution's long side "
            f"{max(settings.resolution)}; sd-scripts stops with 'max_bucket_reso must be equal or greater than resolution'"
        )
    return problems


def make_bucket_resolutions(resolution: Size, min_size: int = DEFAULT_MIN_BUCKET_RESO, max_size: int = DEFAULT_MAX_BUCKET_RESO,
                            step: int = DEFAULT_BUCKET_RESO_STEPS) -> list[Size]:
    """The predefined buckets: a square of the resolution's area, then each width from min to max size
    paired with the tallest height (a multiple of step, at most max_size) that keeps within that area,
    and its transpose; pairs whose height falls below min_size are left out."""
    max_area = resolution[0] * resolution[1]
    side = int(math.sqrt(max_area) // step) * step
    resos = {(side, side)}
    for width in range(min_size, max_size + 1, step):
        height = min(max_size, int((max_area // width) // step) * step)
        if height >= min_size:
            resos.add((width, height))
            resos.add((height, width))
    return sorted(resos)


@dataclass(frozen=True)
class BucketTable:
    """The buckets of one dataset, computed once, to assign many images against."""

    settings: BucketSettings
    predefined: tuple[Size, ...]  # empty with bucket_no_upscale: buckets then come from each image's size

    @classmethod
    def from_settings(cls, settings: BucketSettings) -> BucketTable:
        """Predefined buckets as sd-scripts makes them: one at `resolution` when bucketing is off."""
        if not settings.enable_bucket:
            return cls(settings, (settings.resolution,))
        if settings.bucket_no_upscale:
            return cls(settings, ())
        low, high = adjusted_bucket_range(settings)
        return cls(settings, tuple(make_bucket_resolutions(settings.resolution, low, high, settings.bucket_reso_steps)))

    def assign(self, size: Size) -> BucketAssignment:
        """The bucket sd-scripts' select_bucket picks for an image of this size."""
        if self.settings.enable_bucket and self.settings.bucket_no_upscale:
            return _assign_no_upscale(size, self.settings)
        return _assign_predefined(size, self.predefined)


def assign_bucket(size: Size, settings: BucketSettings) -> BucketAssignment:
    """One image's bucket; for many images build a BucketTable once instead."""
    return BucketTable.from_settings(settings).assign(size)


def _assign_predefined(size: Size, predefined: Sequence[Size]) -> BucketAssignment:
    width, height = size
    aspect = width / height
    if size in predefined:
        bucket = size
    else:
        # numpy's argmin over |bucket ratio - image ratio|: the first (smallest) bucket wins a tie.
        errors = [abs(w / h - aspect) for w, h in predefined]
        bucket = predefined[errors.index(min(errors))]
    # Scale to cover the bucket: match the side that leaves the other one overhanging, then crop.
    scale = bucket[1] / height if aspect > bucket[0] / bucket[1] else bucket[0] / width
    resized = (int(width * scale + 0.5), int(height * scale + 0.5))
    return BucketAssignment(bucket, resized, scale > 1)


def _round_to_steps(value: float, step: int) -> int:
    rounded = int(value + 0.5)
    return rounded - rounded % step


def _assign_no_upscale(size: Size, settings: BucketSettings) -> BucketAssignment:
    width, height = size
    step = settings.bucket_reso_steps
    max_area = settings.resolution[0] * settings.resolution[1]
    resized = size
    if width * height > max_area:
        aspect = width / height
        resized_width = math.sqrt(max_area * aspect)
        resized_height = max_area / resized_width
        # Round either side to the step and keep whichever rounding distorts the aspect ratio less.
        w_rounded = _round_to_steps(resized_width, step)
        ar_by_width = w_rounded / _round_to_steps(w_rounded / aspect, step)
        h_rounded = _round_to_steps(resized_height, step)
        ar_by_height = _round_to_steps(h_rounded * aspect, step) / h_rounded
        if abs(ar_by_width - aspect) < abs(ar_by_height - aspect):
            resized = (w_rounded, int(w_rounded / aspect + 0.5))
        else:
            resized = (int(h_rounded * aspect + 0.5), h_rounded)
    bucket = (resized[0] - resized[0] % step, resized[1] - resized[1] % step)
    return BucketAssignment(bucket, resized, False)
