"""The steps preview of the plan, against sd-scripts' formula computed by hand."""

from __future__ import annotations

from typing import Any

import pytest

from kohya_prep.trainconfig.families import FAMILIES
from kohya_prep.trainconfig.fit import GpuTraits, fit
from kohya_prep.trainconfig.plan import PlanInputs, ScannedSubset, TrainConfigPlan, make_plan
from kohya_prep.trainconfig.presets import load_preset

SQUARE = (512, 512)


def subset(count: int, repeats: int, is_reg: bool = False, size: tuple[int, int] = SQUARE, name: str = "t") -> ScannedSubset:
    folder = f"/data/{'reg' if is_reg else 'train'}/{repeats}_{name}"
    paths = tuple(f"{folder}/{name}{i:02d}.png" for i in range(count))
    return ScannedSubset(folder, repeats, name, is_reg, paths, (size,) * count)


def plan_for(subsets: list[ScannedSubset], *sets: tuple[str, Any], processes: int = 1, family: str = "sd15") -> TrainConfigPlan:
    gpu = GpuTraits(24.0, True, "RTX 4090", "test")
    paths = {"output_dir": "/o", "logging_dir": "/l", "dataset_config": "/c/dataset_config.toml",
             "pretrained_model_name_or_path": "/m.safetensors"}
    inputs = PlanInputs(FAMILIES[family], load_preset(family), fit(family, gpu), 512, "aria", paths, {}, subsets,
                        overrides=list(sets), num_processes=processes)
    return make_plan(inputs)


def numbers(plan: TrainConfigPlan) -> tuple[int, int, int, int, int]:
    e = plan.epoch
    return e.samples_per_epoch, e.batches_per_epoch, e.steps_per_epoch, plan.max_train_epochs, plan.max_train_steps


@pytest.mark.parametrize(
    ("subsets", "sets", "processes", "expected"),
    [
        # 3 images x 10 repeats = 30 samples, batch 2 -> 15 batches = 15 steps; 10 epochs -> 150.
        ([subset(3, 10)], [("train_batch_size", 2)], 1, (30, 15, 15, 10, 150)),
        # reg too few: 5 reg x 1 = 5 < 30, topped up to 30 -> 60 samples; batch 4 -> ceil(60/4) = 15.
        ([subset(3, 10), subset(5, 1, True, name="r")], [("train_batch_size", 4)], 1, (60, 15, 15, 10, 150)),
        # reg too many: 3 x 2 = 6 train samples, only 6 of 10 reg images used -> 12 samples; batch 4 -> 3.
        ([subset(3, 2), subset(10, 1, True, name="r")], [("train_batch_size", 4)], 1, (12, 3, 3, 10, 30)),
        # grad accumulation 4: 15 batches -> ceil(15/4) = 4 steps per epoch.
        ([subset(3, 10)], [("train_batch_size", 2), ("gradient_accumulation_steps", 4)], 1, (30, 15, 4, 10, 40)),
        # two processes: ceil(15/2) = 8 steps per epoch.
        ([subset(3, 10)], [("train_batch_size", 2)], 2, (30, 15, 8, 10, 80)),
        # max_train_steps instead of epochs: 15 steps per epoch, 100 steps -> ceil(100/15) = 7 epochs.
        ([subset(3, 10)], [("train_batch_size", 2), ("max_train_steps", 100)], 1, (30, 15, 15, 7, 100)),
        # 7 epochs set explicitly, batch 3: ceil(30/3) = 10 steps per epoch.
        ([subset(3, 10)], [("train_batch_size", 3), ("max_train_epochs", 7)], 1, (30, 10, 10, 7, 70)),
    ],
    ids=["no-reg", "reg-too-few", "reg-too-many", "grad-accum", "two-processes", "max-steps", "epochs"],
)
def test_steps_match_hand_computed(subsets: list[ScannedSubset], sets: list[tuple[str, Any]], processes: int,
                                   expected: tuple[int, ...]) -> None:
    assert numbers(plan_for(subsets, *sets, processes=processes)) == expected


def test_reg_too_many_names_the_unused_images() -> None:
    plan = plan_for([subset(3, 2), subset(10, 1, True, name="r")])
    assert plan.epoch.reg_unused == tuple(f"/data/reg/1_r/r{i:02d}.png" for i in range(6, 10))


def test_reg_too_few_counts_extra_repeats() -> None:
    plan = plan_for([subset(3, 10), subset(4, 2, True, name="r")])
    # 4 reg x 2 = 8 of 30 samples: 22 extra repeats round-robin.
    assert (plan.epoch.reg_samples, plan.epoch.reg_extra_repeats) == (30, 22)


def test_buckets_round_up_per_bucket() -> None:
    # SD 1.5 at 512, step 64: 640x384 and 384x640 have buckets of their own (area 262144 allows 640 x 384).
    subsets = [subset(3, 1), subset(2, 1, size=(640, 384), name="w"), subset(1, 1, size=(384, 640), name="p")]
    plan = plan_for(subsets, ("train_batch_size", 2))
    assert [(b.reso, b.samples, b.batches) for b in plan.epoch.buckets] == [((384, 640), 1, 1), ((512, 512), 3, 2),
                                                                            ((640, 384), 2, 1)]
    # ceil(1/2) + ceil(3/2) + ceil(2/2) = 4 batches, where images x repeats / batch would say 3.
    assert numbers(plan) == (6, 4, 4, 10, 40)


def test_buckets_forced_off_share_one_bucket() -> None:
    subsets = [subset(3, 1), subset(2, 1, size=(640, 384), name="w"), subset(1, 1, size=(384, 640), name="p")]
    plan = plan_for(subsets, ("train_batch_size", 2), ("enable_bucket", False))
    assert numbers(plan) == (6, 3, 3, 10, 30)
