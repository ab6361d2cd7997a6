"""Samples, batches and steps per epoch as sd-scripts counts them, as pure functions.

Sources: library/train_util.py (DreamBoothDataset.__init__ for reg balancing, BucketManager for batches) and
train_network.py (NetworkTrainer.train for steps per epoch and max_train_steps).

API:
- `SubsetImages(image_sizes, num_repeats, is_reg=False, paths=())`: one DreamBooth subset of one dataset,
  image sizes as (width, height); `paths` (same length, optional) name the images in reports and fix the
  order sd-scripts registers reg images in (it sorts each folder's paths; we sort them too).
- `plan_epoch(subsets, settings, batch_size, grad_accum=1, num_processes=1) -> EpochPlan`: reg balancing,
  each image's bucket, samples per bucket (repeats included), batches per epoch (a `ceil` per bucket) and
  steps per epoch = ceil(batches / num_processes / grad_accum).
- `registered_subsets(subsets)`: which subsets sd-scripts registers, and why it skips the others.
- `total_steps(plan, max_train_epochs)`: what sd-scripts sets max_train_steps to with --max_train_epochs;
  `training_length(steps_per_epoch, max_train_epochs, max_train_steps)`: epochs and steps of the whole run.
- `steps_per_epoch(plans)`: several [[datasets]] share one dataloader: their batches add up before the
  division, so this can be less than the sum of each plan's steps_per_epoch.

Reg balancing (end of DreamBoothDataset.__init__): train samples = Σ num_repeats × images over non-reg
subsets. Reg images are registered in subset order, then path order, each adding its own num_repeats, until
that count is reached; the rest are never used. If one pass falls short, further passes add +1 repeat to each
reg image in turn from the first. Subsets with num_repeats < 1, no images or the image_dir of an earlier subset are
skipped, as sd-scripts does.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from kohya_prep.sdscripts.buckets import BucketSettings, BucketTable, Size


@dataclass(frozen=True)
class SubsetImages:
    """One subset's images as sd-scripts will load them."""

    image_sizes: Sequence[Size]
    num_repeats: int
    is_reg: bool = False
    paths: Sequence[str] = field(default_factory=tuple)
    image_dir: str = ""  # as written: sd-scripts drops a later subset with the same string ("" never matches)

    def ordered(self) -> list[tuple[str, Size]]:
        """(path, size) pairs in sd-scripts' order: sorted by path; unnamed images keep their order."""
        names = list(self.paths) if self.paths else [f"#{i}" for i in range(len(self.image_sizes))]
        pairs = list(zip(names, self.image_sizes, strict=True))
        return sorted(pairs, key=lambda pair: pair[0]) if self.paths else pairs


DropReason = Literal["num_repeats", "duplicate", "no_images"]


def registered_subsets(subsets: Sequence[SubsetImages]) -> list[tuple[SubsetImages, DropReason | None]]:
    """Each subset with why DreamBoothDataset.__init__ skips it (None: registered), checked in sd-scripts' order:
    num_repeats < 1, then an image_dir equal to one already registered (DreamBoothSubset.__eq__ compares only
    image_dir, as a string, whatever is_reg says), then no images."""
    seen: set[str] = set()
    result: list[tuple[SubsetImages, DropReason | None]] = []
    for subset in subsets:
        reason: DropReason | None = None
        if subset.num_repeats < 1:
            reason = "num_repeats"
        elif subset.image_dir and subset.image_dir in seen:
            reason = "duplicate"
        elif len(subset.image_sizes) == 0:
            reason = "no_images"
        else:
            seen.add(subset.image_dir)
        result.append((subset, reason))
    return result


@dataclass(frozen=True)
class ImagePlacement:
    """One image in the epoch: its bucket, its repeats after reg balancing (0: never used), and upscaling."""

    path: str
    size: Size
    is_reg: bool
    num_repeats: int
    bucket: Size
    upscaled: bool


@dataclass(frozen=True)
class BucketCount:
    """One bucket: distinct images, samples (repeats included) and the batches cut from them."""

    reso: Size
    images: int
    train_samples: int
    reg_samples: int
    batches: int

    @property
    def samples(self) -> int:
        return self.train_samples + self.reg_samples


@dataclass(frozen=True)
class EpochPlan:
    """What one epoch of one dataset holds, as sd-scripts builds it."""

    placements: tuple[ImagePlacement, ...]
    buckets: tuple[BucketCount, ...]  # sorted by resolution, only those holding samples
    num_train_images: int  # train samples per epoch (repeats included): sd-scripts' "train images with repeats"
    num_reg_images: int  # reg samples on disk × repeats, before balancing
    reg_samples: int  # reg samples actually in each epoch
    reg_unused: tuple[str, ...]  # reg images never used
    reg_extra_repeats: int  # repeats added round-robin when the reg set is too small
    batch_size: int
    grad_accum: int
    num_processes: int

    @property
    def samples_per_epoch(self) -> int:
        return self.num_train_images + self.reg_samples

    @property
    def batches_per_epoch(self) -> int:
        return sum(bucket.batches for bucket in self.buckets)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.batches_per_epoch / (self.num_processes * self.grad_accum))

    @property
    def upscaled(self) -> tuple[ImagePlacement, ...]:
        return tuple(p for p in self.placements if p.upscaled and p.num_repeats > 0)


def training_split(pairs: Sequence[tuple[str, Size]], validation_split: float,
                   validation_seed: int | None) -> list[tuple[str, Size]]:
    """The images of a training subset that stay in the training dataset (library/train_util.py: split_train_val,
    called for non-reg subsets when validation_split > 0): the glob-sorted list, shuffled with validation_seed
    (random.seed then random.shuffle), cut at ceil(n * (1 - validation_split)). Without a seed sd-scripts
    shuffles with whatever state the random module is in, so only the count is known: the first ones are kept."""
    if validation_split <= 0.0:
        return list(pairs)
    shuffled = list(pairs)
    if validation_seed is not None:
        random.Random(validation_seed).shuffle(shuffled)
    return shuffled[0:math.ceil(len(shuffled) * (1 - validation_split))]


def balance_reg_repeats(num_train_images: int, reg_repeats: Sequence[int]) -> list[int]:
    """Effective repeats per reg image (in registration order) after sd-scripts' balancing; 0 = never used."""
    result = [0] * len(reg_repeats)
    if not reg_repeats or sum(reg_repeats) == 0:
        return result
    total = 0
    for i, repeats in enumerate(reg_repeats):
        if total >= num_train_images:
            break
        result[i] = repeats
        total += repeats
    i = 0
    while total < num_train_images:  # only after a full first pass fell short
        result[i % len(result)] += 1
        total += 1
        i += 1
    return result


def plan_epoch(
    subsets: Sequence[SubsetImages],
    settings: BucketSettings,
    batch_size: int,
    grad_accum: int = 1,
    num_processes: int = 1,
) -> EpochPlan:
    """Reg balancing, bucket assignment, per-bucket batches and steps for one dataset's epoch."""
    used = [s for s, reason in registered_subsets(subsets) if reason is None]
    train = [(path, size, s.num_repeats) for s in used if not s.is_reg for path, size in s.ordered()]
    reg = [(path, size, s.num_repeats) for s in used if s.is_reg for path, size in s.ordered()]
    num_train_images = sum(item[2] for item in train)
    reg_repeats = balance_reg_repeats(num_train_images, [item[2] for item in reg])
    table = BucketTable.from_settings(settings)
    placements: dict[str, ImagePlacement] = {}
    registered = [(item, item[2], False) for item in train]
    registered += [(item, repeats, True) for item, repeats in zip(reg, reg_repeats, strict=True) if repeats > 0]
    for (path, size, _), repeats, is_reg in registered:
        assignment = table.assign(size)
        # BaseDataset.register_image keys image_data by path: the same path registered twice (image_dir
        # '/a/x' and '/a/x/') is one image with the later repeats, though both counted in the totals.
        placements[path] = ImagePlacement(path, size, is_reg, repeats, assignment.bucket, assignment.upscaled)
    unused = [ImagePlacement(path, size, True, 0, table.assign(size).bucket, False)
              for (path, size, _), repeats in zip(reg, reg_repeats, strict=True) if repeats == 0 and path not in placements]
    return EpochPlan(
        placements=tuple(placements.values()) + tuple(unused),
        buckets=_count_buckets(list(placements.values()), batch_size),
        num_train_images=num_train_images,
        num_reg_images=sum(item[2] for item in reg),
        reg_samples=sum(reg_repeats),
        reg_unused=tuple(path for (path, _, _), repeats in zip(reg, reg_repeats, strict=True) if repeats == 0),
        reg_extra_repeats=sum(max(0, n - item[2]) for item, n in zip(reg, reg_repeats, strict=True)),
        batch_size=batch_size,
        grad_accum=grad_accum,
        num_processes=num_processes,
    )


def _count_buckets(placements: Sequence[ImagePlacement], batch_size: int) -> tuple[BucketCount, ...]:
    counts: dict[Size, list[int]] = {}
    for p in placements:
        if p.num_repeats <= 0:
            continue
        images, train, reg = counts.setdefault(p.bucket, [0, 0, 0])
        counts[p.bucket] = [images + 1, train + (0 if p.is_reg else p.num_repeats), reg + (p.num_repeats if p.is_reg else 0)]
    return tuple(
        BucketCount(reso, images, train, reg, math.ceil((train + reg) / batch_size))
        for reso, (images, train, reg) in sorted(counts.items())
    )


def total_steps(plan: EpochPlan, max_train_epochs: int) -> int:
    """max_train_steps as sd-scripts derives it from --max_train_epochs (it overrides --max_train_steps)."""
    return max_train_epochs * plan.steps_per_epoch


DEFAULT_MAX_TRAIN_STEPS = 1600  # library/train_util.py: add_training_arguments, --max_train_steps


@dataclass(frozen=True)
class TrainingLength:
    """How long the run is: epochs and optimizer steps in all, as NetworkTrainer.train computes them."""

    steps_per_epoch: int
    max_train_epochs: int
    max_train_steps: int


def training_length(steps_per_epoch: int, max_train_epochs: int | None = None,
                    max_train_steps: int | None = None) -> TrainingLength:
    """--max_train_epochs wins: steps = epochs x steps per epoch; otherwise --max_train_steps (default 1600)
    and epochs = ceil(steps / steps per epoch). An empty epoch counts as one step, so nothing divides by 0."""
    per_epoch = max(steps_per_epoch, 1)
    if max_train_epochs is not None:
        return TrainingLength(steps_per_epoch, max_train_epochs, max_train_epochs * per_epoch)
    steps = DEFAULT_MAX_TRAIN_STEPS if max_train_steps is None else max_train_steps
    return TrainingLength(steps_per_epoch, math.ceil(steps / per_epoch), steps)


def steps_per_epoch(plans: Sequence[EpochPlan]) -> int:
    """Steps per epoch of several datasets trained together (same batch count rules, one dataloader)."""
    if not plans:
        return 0
    batches = sum(plan.batches_per_epoch for plan in plans)
    return math.ceil(batches / (plans[0].num_processes * plans[0].grad_accum))
