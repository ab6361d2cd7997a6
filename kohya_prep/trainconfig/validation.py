"""Validation loss: which images sd-scripts holds out with validation_split, and whether to hold any out.

sd-scripts (library/train_util.py: split_train_val, called per non-reg subset by DreamBoothDataset.__init__) shuffles
each subset's sorted image paths with random.seed(validation_seed), keeps the first ceil(n * (1 - split)) for
training and gives the last round(n * split) to the validation dataset; reg subsets are never split. The split is a
dataset-level key of the dataset config (library/config_util.py: DATASET_ASCENDABLE_SCHEMA; a subset-level one is
rejected as an extra key at this commit) and falls back to --validation_split. Without a seed the training and
validation datasets shuffle apart and overlap, so kohya-prep always writes one. Pure: the same shuffle, replayed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import PurePath
from typing import Protocol, TypeVar

MIN_PICTURES = 30  # distinct pictures (a -flip mirror counts with its original): below this, each is worth more in
# training than in a loss over the two or three that 10% would hold out
DEFAULT_SPLIT = 0.1
SEED_TRIES = 200  # seeds tried for the fewest split mirror pairs (each try is one shuffle per subset)


class _Subset(Protocol):
    @property
    def is_reg(self) -> bool: ...
    @property
    def paths(self) -> tuple[str, ...]: ...
    @property
    def sizes(self) -> tuple[tuple[int, int], ...]: ...


S = TypeVar("S", bound=_Subset)


@dataclass(frozen=True)
class Validation:
    """The split written, its seed, the images it holds out, and why."""

    split: float
    seed: int | None
    held_out: tuple[str, ...]
    mirror_leaks: int  # held-out images whose mirror (-flip) copy stays in training
    why: str


def training_indices(count: int, split: float, seed: int | None) -> list[int]:
    """Positions (in sorted order) of the images the training dataset keeps; seed None: sd-scripts' is random."""
    order = list(range(count))
    random.Random(seed).shuffle(order)  # the same Mersenne Twister draws as random.seed(seed); random.shuffle(...)
    return order[: math.ceil(count * (1 - split))]


def validation_indices(count: int, split: float, seed: int | None) -> list[int]:
    """Positions of the images the validation dataset holds."""
    order = list(range(count))
    random.Random(seed).shuffle(order)
    return order[count - round(count * split):]


def split_subsets(subsets: Sequence[S], split: float, seed: int | None) -> tuple[list[S], list[str], int]:
    """The subsets as the training dataset loads them, the validation images, and how many of those are also
    trained (ceil and round can overlap by one: 15 images at 0.1 train 14 and validate 2)."""
    if split <= 0.0:
        return list(subsets), [], 0
    kept, held, shared = [], [], 0
    for subset in subsets:
        if subset.is_reg or not subset.paths:
            kept.append(subset)
            continue
        order = sorted(range(len(subset.paths)), key=lambda i: subset.paths[i])
        train = sorted(order[i] for i in training_indices(len(order), split, seed))
        validate = [order[i] for i in validation_indices(len(order), split, seed)]
        held += [subset.paths[i] for i in validate]
        shared += len(set(validate) & set(train))
        kept.append(replace(subset, paths=tuple(subset.paths[i] for i in train),  # type: ignore[type-var]
                            sizes=tuple(subset.sizes[i] for i in train)))
    return kept, held, shared


def clean_split(counts: Sequence[int], target: float = DEFAULT_SPLIT) -> float:
    """The split nearest `target` at which no subset's ceil/round pair overlaps or drops an image: n * split must
    fall between two whole numbers, in the lower half, for every subset size n."""
    candidates = sorted((round(target * 0.5 + i * 0.0005, 4) for i in range(int(target * 3 / 0.0005))),
                        key=lambda s: abs(s - target))
    for split in candidates:
        if all(0.02 < n * split - math.floor(n * split) < 0.48 for n in counts if n):
            return split
    return target


def distinct_pictures(subsets: Sequence[_Subset]) -> int:
    """Training images, a 'name-flip' mirror counted once with 'name'."""
    stems = {PurePath(p).stem for s in subsets if not s.is_reg for p in s.paths}
    return len({stem[: -len("-flip")] if stem.endswith("-flip") and stem[: -len("-flip")] in stems else stem
                for stem in stems})


def mirror_leaks(subsets: Sequence[_Subset], held: Sequence[str]) -> int:
    """Held-out images whose mirror copy ('name-flip.png' of 'name.png', or the reverse) is still trained."""
    trained = {PurePath(p).stem for s in subsets if not s.is_reg for p in s.paths}
    leaks = 0
    for path in held:
        stem = PurePath(path).stem
        partner = stem[: -len("-flip")] if stem.endswith("-flip") else stem + "-flip"
        leaks += partner in trained
    return leaks


def choose(subsets: Sequence[S], base_seed: int, split: float | None) -> Validation:
    """The split to write: the user's, else about 10% once the train subsets hold MIN_PICTURES pictures; with the seed
    (from base_seed on) that keeps the most mirror pairs on one side."""
    counts = [len(s.paths) for s in subsets if not s.is_reg]
    if split is None:
        pictures = distinct_pictures(subsets)
        if pictures < MIN_PICTURES:
            return Validation(0.0, None, (), 0, f"off: {pictures} distinct training pictures, fewer than {MIN_PICTURES}; "
                                                "each is worth more in training than in a loss over the few held out")
        split = clean_split(counts)
    if split <= 0.0:
        return Validation(0.0, None, (), 0, "off (validation_split = 0.0)")
    seed, leaks, held, shared = _best_seed(subsets, split, base_seed)
    why = (f"{len(held)} of {sum(counts)} training images held out for validation loss (4 fixed timesteps each, "
           "train_network.py); the seed is fixed, so training and validation shuffle alike")
    if shared:
        why += f"; {shared} of them are trained too (sd-scripts' ceil/round overlap at this split)"
    if leaks:
        why += f"; {leaks} keep their mirror copy in training, so the loss reads a little low"
    return Validation(split, seed, tuple(held), leaks, why)


def _best_seed(subsets: Sequence[S], split: float, base_seed: int) -> tuple[int, int, list[str], int]:
    best: tuple[int, int, list[str], int] | None = None
    for seed in range(base_seed, base_seed + SEED_TRIES):
        kept, held, shared = split_subsets(subsets, split, seed)
        leaks = mirror_leaks(kept, held)
        if best is None or leaks < best[1]:
            best = (seed, leaks, held, shared)
        if leaks == 0:
            break
    assert best is not None
    return best


def with_seed(subsets: Sequence[S], split: float, seed: int) -> Validation:
    """The split at the user's own validation_seed."""
    kept, held, shared = split_subsets(subsets, split, seed)
    leaks = mirror_leaks(kept, held)
    why = f"{len(held)} training images held out for validation loss at validation_seed {seed}"
    if shared:
        why += f"; {shared} of them are trained too (sd-scripts' ceil/round overlap at this split)"
    return Validation(split, seed, tuple(held), leaks, why)
