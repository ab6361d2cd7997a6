"""Buckets and steps: sd-scripts' bucket for each image, samples per bucket, batches and steps per epoch
(library/train_util.py: BucketManager; train_network.py: NetworkTrainer.train)."""

from __future__ import annotations

from kohya_prep.check.findings import Finding, error, info
from kohya_prep.check.layout import few
from kohya_prep.sdscripts.buckets import BucketSettings, adjusted_bucket_range, bucket_settings_problems
from kohya_prep.sdscripts.steps import EpochPlan


def smallest_unscaled_side(settings: BucketSettings) -> int:
    """The short side below which an image is surely enlarged: the resolution's without buckets; with them, the
    smallest bucket side (a 320x768 image in its 320x768 bucket is not enlarged; the plan names those that are)."""
    if settings.enable_bucket and not settings.bucket_no_upscale:
        return min(adjusted_bucket_range(settings)[0], *settings.resolution)
    return min(settings.resolution)


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
             + (f", gradient accumulation {plan.grad_accum}" if plan.grad_accum > 1 else "") + ")"),
    ]
    upscaled = plan.upscaled
    if upscaled:
        found.append(info("upscaled", label, f"{len(upscaled)} image(s) will be upscaled to fill their bucket: "
                          f"{few([p.path for p in upscaled])}", "use sources at least as large as their bucket"))
    return found
