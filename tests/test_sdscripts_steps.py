"""Reg balancing, per-bucket batches and steps against sd-scripts' counting, computed by hand."""

from __future__ import annotations

import random

import pytest

from kohya_prep.sdscripts.buckets import BucketSettings
from kohya_prep.sdscripts.steps import (
    BucketCount,
    SubsetImages,
    TrainingLength,
    balance_reg_repeats,
    plan_epoch,
    registered_subsets,
    steps_per_epoch,
    total_steps,
    training_length,
    training_split,
)

BUCKETED = BucketSettings(resolution=(512, 512), enable_bucket=True)
ONE_BUCKET = BucketSettings(resolution=(512, 512))
SQUARE = (512, 512)


def _train(count: int, repeats: int, size: tuple[int, int] = (512, 512), prefix: str = "t") -> SubsetImages:
    return SubsetImages([size] * count, repeats, False, [f"{prefix}{i:02d}.png" for i in range(count)])


def _reg(count: int, repeats: int, prefix: str = "r") -> SubsetImages:
    return SubsetImages([(512, 512)] * count, repeats, True, [f"{prefix}{i:02d}.png" for i in range(count)])


def test_square_single_bucket() -> None:
    plan = plan_epoch([_train(10, 5)], BUCKETED, batch_size=4)
    assert plan.buckets == (BucketCount((512, 512), 10, 50, 0, 13),)
    assert (plan.batches_per_epoch, plan.steps_per_epoch, total_steps(plan, 10)) == (13, 13, 130)


def test_mixed_sizes_round_up_per_bucket() -> None:
    subsets = [_train(3, 2), _train(2, 2, (600, 900), "p"), _train(1, 2, (900, 600), "l")]
    plan = plan_epoch(subsets, BUCKETED, batch_size=4)
    # 6 + 4 + 2 samples: ceil(6/4) + ceil(4/4) + ceil(2/4) = 4 batches, not ceil(12/4) = 3.
    assert [(b.reso, b.samples, b.batches) for b in plan.buckets] == [((384, 640), 4, 1), ((512, 512), 6, 2), ((640, 384), 2, 1)]
    assert plan.steps_per_epoch == 4


def test_mixed_sizes_without_bucketing_share_one_bucket() -> None:
    subsets = [_train(3, 2), _train(2, 2, (600, 900), "p"), _train(1, 2, (900, 600), "l")]
    plan = plan_epoch(subsets, ONE_BUCKET, batch_size=4)
    assert [(b.reso, b.samples, b.batches) for b in plan.buckets] == [((512, 512), 12, 3)]


def test_mixed_sizes_with_bucket_no_upscale() -> None:
    settings = BucketSettings((512, 512), enable_bucket=True, bucket_no_upscale=True)
    plan = plan_epoch([_train(2, 1, (1024, 768)), _train(3, 1, (300, 200), "s")], settings, batch_size=2)
    assert [(b.reso, b.samples, b.batches) for b in plan.buckets] == [((256, 192), 3, 2), ((512, 384), 2, 1)]
    assert plan.upscaled == ()


def test_upscaled_images_are_listed() -> None:
    plan = plan_epoch([_train(1, 1, (256, 256))], BUCKETED, batch_size=1)
    assert [p.path for p in plan.upscaled] == ["t00.png"]


@pytest.mark.parametrize(
    ("batches", "grad_accum", "processes", "steps"),
    [(13, 1, 1, 13), (13, 2, 1, 7), (13, 2, 2, 4), (12, 4, 1, 3)],
    ids=["plain", "grad-accum-2", "accum-2-two-gpus", "exact"],
)
def test_steps_divide_by_accumulation_and_processes(batches: int, grad_accum: int, processes: int, steps: int) -> None:
    plan = plan_epoch([_train(batches, 1)], BUCKETED, batch_size=1, grad_accum=grad_accum, num_processes=processes)
    assert plan.steps_per_epoch == steps
    assert total_steps(plan, 3) == 3 * steps


def test_reg_too_many_uses_the_first_in_path_order() -> None:
    names = [f"r{i:02d}.png" for i in (9, 3, 0, 7, 1, 5, 2, 8, 4, 6)]
    reg = SubsetImages([(512, 512)] * 10, 1, True, names)
    plan = plan_epoch([_train(4, 2), reg], BUCKETED, batch_size=4)
    assert plan.num_train_images == 8
    assert plan.num_reg_images == 10
    assert plan.reg_samples == 8
    assert plan.reg_unused == ("r08.png", "r09.png")
    assert plan.reg_extra_repeats == 0
    assert plan.buckets == (BucketCount((512, 512), 12, 8, 8, 4),)


def test_reg_repeats_can_overshoot_the_train_count() -> None:
    plan = plan_epoch([_train(4, 2), _reg(5, 3)], BUCKETED, batch_size=1)
    # 3 + 3 + 3 = 9 >= 8: the third reg image is registered whole.
    assert plan.reg_samples == 9
    assert plan.reg_unused == ("r03.png", "r04.png")


def test_reg_too_few_gets_extra_repeats_round_robin() -> None:
    plan = plan_epoch([_train(5, 2), _reg(3, 1)], BUCKETED, batch_size=5)
    reg_repeats = [p.num_repeats for p in plan.placements if p.is_reg]
    assert reg_repeats == [4, 3, 3]
    assert (plan.reg_samples, plan.reg_extra_repeats, plan.reg_unused) == (10, 7, ())
    assert plan.batches_per_epoch == 4


def test_reg_subsets_in_subset_order() -> None:
    plan = plan_epoch([_train(1, 3), _reg(2, 1, "z"), _reg(2, 1, "a")], BUCKETED, batch_size=1)
    used = [p.path for p in plan.placements if p.is_reg and p.num_repeats]
    assert used == ["z00.png", "z01.png", "a00.png"]


def test_reg_without_train_images_is_never_used() -> None:
    assert balance_reg_repeats(0, [1, 1]) == [0, 0]


def test_subsets_with_zero_repeats_are_skipped() -> None:
    plan = plan_epoch([_train(3, 0), _train(2, 1, prefix="u")], BUCKETED, batch_size=1)
    assert plan.num_train_images == 2
    assert [p.path for p in plan.placements] == ["u00.png", "u01.png"]


def test_datasets_add_batches_before_dividing() -> None:
    first = plan_epoch([_train(3, 1)], BUCKETED, batch_size=1, grad_accum=2)
    second = plan_epoch([_train(3, 1, prefix="u")], BUCKETED, batch_size=1, grad_accum=2)
    # 3 + 3 batches -> ceil(6 / 2) = 3, not ceil(3/2) + ceil(3/2) = 4.
    assert (first.steps_per_epoch, steps_per_epoch([first, second])) == (2, 3)
    assert steps_per_epoch([]) == 0


def test_a_later_subset_with_the_same_image_dir_is_skipped() -> None:
    first = SubsetImages([SQUARE] * 2, 3, paths=["/d/a0.png", "/d/a1.png"], image_dir="/d")
    again = SubsetImages([SQUARE] * 2, 10, paths=["/d/a0.png", "/d/a1.png"], image_dir="/d")
    as_reg = SubsetImages([SQUARE] * 2, 1, is_reg=True, paths=["/d/a0.png", "/d/a1.png"], image_dir="/d")
    assert [reason for _, reason in registered_subsets([first, again, as_reg])] == [None, "duplicate", "duplicate"]
    plan = plan_epoch([first, again, as_reg], BUCKETED, batch_size=1)
    assert (plan.num_train_images, plan.reg_samples) == (6, 0)


def test_the_same_path_registered_twice_is_one_image_with_the_later_repeats() -> None:
    # image_dir '/d' and '/d/' are different subsets to sd-scripts but give the same image paths.
    plan = plan_epoch([SubsetImages([SQUARE], 2, paths=["/d/a.png"], image_dir="/d"),
                       SubsetImages([SQUARE], 3, paths=["/d/a.png"], image_dir="/d/")], BUCKETED, batch_size=2)
    assert plan.num_train_images == 5  # counted twice
    assert [(p.path, p.num_repeats) for p in plan.placements] == [("/d/a.png", 3)]
    assert plan.batches_per_epoch == 2  # ceil(3 / 2): the bucket holds the registered image's repeats


def test_training_length() -> None:
    assert training_length(5, max_train_epochs=7) == TrainingLength(5, 7, 35)
    assert training_length(13) == TrainingLength(13, 124, 1600)  # sd-scripts' default --max_train_steps
    assert training_length(0, max_train_steps=10) == TrainingLength(0, 10, 10)


def test_training_split_is_seeded_like_sd_scripts() -> None:
    pairs = [(f"/d/x{i}.png", SQUARE) for i in range(9)]
    kept = training_split(pairs, 0.3, 42)
    assert len(kept) == 7  # ceil(9 * 0.7)
    shuffled = list(pairs)
    random.seed(42)  # split_train_val: random.seed(validation_seed); random.shuffle(...)
    random.shuffle(shuffled)
    assert kept == shuffled[:7]
    assert training_split(pairs, 0.0, None) == pairs
