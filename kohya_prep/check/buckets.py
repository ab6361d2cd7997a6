"""Buckets and steps: sd-scripts' bucket for each image, samples per bucket, batches and steps per epoch
(library/train_util.py: BucketManager; train_network.py: NetworkTrainer.train)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePath

from kohya_prep.check.findings import Finding, error, info, warning
from kohya_prep.check.inputs import DatasetConfig, RunOptions
from kohya_prep.check.layout import few
from kohya_prep.check.scan import ImageFile
from kohya_prep.sdscripts.buckets import BucketSettings, assign_bucket, bucket_settings_problems
from kohya_prep.sdscripts.steps import EpochPlan, TrainingLength


def settings_findings(settings: BucketSettings, label: str) -> list[Finding]:
    """The bucket assertions sd-scripts stops on."""
    return [error("bucket-settings", label, problem, "keep min_bucket_reso <= resolution <= max_bucket_reso")
            for problem in bucket_settings_problems(settings)]


def plan_findings(plan: EpochPlan, settings: BucketSettings, label: str) -> list[Finding]:
    """Facts about the epoch: buckets, steps, upscaled images."""
    if not plan.buckets:
        return []
    width, height = settings.resolution
    mode = "bucketing on" if settings.enable_bucket else "bucketing off: one bucket"
    if settings.enable_bucket and settings.bucket_no_upscale:
        mode += ", bucket_no_upscale"
    rows = "; ".join(f"{w}x{h}: {b.images} image(s), {b.samples} sample(s), {b.batches} batch(es)"
                     for b in plan.buckets for w, h in [b.reso])
    found = [
        info("buckets", label, f"{len(plan.buckets)} bucket(s) at {width}x{height} ({mode}): {rows}"),
        info("steps", label, f"{plan.samples_per_epoch} samples per epoch, batch size {plan.batch_size}: "
             f"{plan.batches_per_epoch} batches, {plan.steps_per_epoch} steps per epoch (per-bucket rounding"
             + (f", gradient accumulation {plan.grad_accum}" if plan.grad_accum > 1 else "")
             + (f", {plan.num_processes} processes" if plan.num_processes > 1 else "") + ")"),
    ]
    upscaled = plan.upscaled
    if upscaled:
        found.append(info("upscaled", label, f"{len(upscaled)} image(s) will be upscaled to fill their bucket: "
                          f"{few([p.path for p in upscaled])}", "use sources at least as large as their bucket"))
    return found


def upscale_findings(plan: EpochPlan, settings: BucketSettings, images: Mapping[str, ImageFile]) -> list[Finding]:
    """Images select_bucket scales up to cover their bucket; never with bucket_no_upscale, which only crops."""
    found = []
    for placement in plan.upscaled:
        resized = assign_bucket(placement.size, settings).resized_size
        image = images.get(placement.path)
        path = image.path if image is not None else placement.path
        (w, h), (bw, bh) = placement.size, placement.bucket
        found.append(warning("tiny-image", path, f"{PurePath(str(path)).name} is {w}x{h}: sd-scripts scales it up to "
                             f"{resized[0]}x{resized[1]} to cover its {bw}x{bh} bucket (blurry samples)",
                             f"replace it with a larger source (at least {bw}x{bh}), or remove it"))
    return found


def split_finding(dataset: DatasetConfig, label: str) -> Finding:
    """validation_split holds images of each training subset out of training (library/train_util.py: split_train_val)."""
    seeded = (f"with validation_seed = {dataset.validation_seed} the same ones every run (counted here exactly)"
              if dataset.validation_seed is not None else
              "without validation_seed, which ones is random (the count is exact, the buckets are for the first ones)")
    return info("validation-split", label, f"validation_split = {dataset.validation_split}: sd-scripts keeps "
                f"ceil(n x {1 - dataset.validation_split:g}) images of each training subset for training and holds the "
                f"rest out; {seeded}", "set validation_seed to make the split repeatable")


def length_finding(length: TrainingLength, plans: Sequence[EpochPlan], run: RunOptions) -> Finding:
    """The whole run: batches of every dataset, then gradient accumulation and processes (train_network.py)."""
    batches = sum(plan.batches_per_epoch for plan in plans)
    how = f"{batches} batches per epoch"
    if run.gradient_accumulation_steps > 1 or run.num_processes > 1:
        how += f" / ({run.num_processes} process(es) x {run.gradient_accumulation_steps} accumulation step(s))"
    if run.max_train_epochs is not None:
        total = f"max_train_epochs = {length.max_train_epochs}: {length.max_train_steps} steps in all"
    else:
        default = "" if run.max_train_steps is not None else " (sd-scripts' default)"
        total = f"max_train_steps = {length.max_train_steps}{default}: {length.max_train_epochs} epoch(s)"
    given = run.max_train_epochs is not None or run.max_train_steps is not None
    return info("training-length", "", f"{how} = {length.steps_per_epoch} steps per epoch; {total}",
                "" if given else "pass --max-train-epochs N (or --max-train-steps N) to see your run's length")
