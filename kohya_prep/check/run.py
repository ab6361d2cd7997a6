"""Run every rule over the scanned datasets and collect one report.

`check_dataset(CheckOptions) -> Report` is the public entry point: train-config reads datasets through it too.
"""

from __future__ import annotations

from kohya_prep.check import buckets, captions, images, layout, masks, reg
from kohya_prep.check.findings import (
    SEVERITY_ORDER,
    DatasetSummary,
    DroppedSubset,
    Finding,
    ImageSummary,
    Report,
    SubsetSummary,
    info,
)
from kohya_prep.check.inputs import CheckInputs, CheckOptions, DatasetConfig
from kohya_prep.check.scan import ImageFile, ScannedSubset, scan_subset
from kohya_prep.check.target import resolve
from kohya_prep.sdscripts.steps import (
    ImagePlacement,
    SubsetImages,
    plan_epoch,
    registered_subsets,
    steps_per_epoch,
    training_length,
    training_split,
)


def check_dataset(options: CheckOptions) -> Report:
    """Check what PATH / --dataset-config points at; raises CheckError only when there is nothing to read."""
    inputs = resolve(options)
    found: list[Finding] = list(inputs.notes)
    for root in inputs.roots:
        found.extend(layout.root_findings(root))
    summaries, scanned_all = [], []
    for index, dataset in enumerate(inputs.datasets):
        label = f"dataset {index + 1}" if len(inputs.datasets) > 1 else "dataset"
        scanned = [scan_subset(subset, inputs.duplicates) for subset in dataset.subsets]
        scanned_all.extend(scanned)
        summary, dataset_found = _check_one(dataset, scanned, label, inputs)
        summaries.append(summary)
        found.extend(dataset_found)
    found.extend(layout.vanished_findings(scanned_all))
    found.extend(layout.no_data_finding(scanned_all, inputs.target))
    found.extend(_caption_content(scanned_all, inputs.trigger, inputs.trigger_given))
    if inputs.duplicates:
        found.extend(images.duplicate_findings(_unique_images(scanned_all)))
    else:
        found.append(info("duplicates-skipped", "", "duplicate scan skipped (--no-duplicates)"))
    length = training_length(steps_per_epoch([s.plan for s in summaries]), inputs.run.max_train_epochs,
                             inputs.run.max_train_steps) if summaries else None
    if length is not None:
        found.append(buckets.length_finding(length, [s.plan for s in summaries], inputs.run))
    ordered = sorted(found, key=lambda f: SEVERITY_ORDER[f.severity])
    return Report(inputs.target, tuple(ordered), tuple(summaries), length, inputs.run)


def _subset_images(dataset: DatasetConfig, scanned: list[ScannedSubset]) -> list[SubsetImages]:
    """What sd-scripts registers from each subset: images it can size, after the validation split."""
    out = []
    for subset in scanned:
        pairs = sorted((i.key or str(i.path), i.size) for i in subset.images if i.size is not None)
        if not subset.config.is_reg:
            pairs = training_split(pairs, dataset.validation_split, dataset.validation_seed)
        written = subset.config.image_dir_text or str(subset.config.image_dir)
        out.append(SubsetImages([size for _, size in pairs], subset.config.num_repeats, subset.config.is_reg,
                                [path for path, _ in pairs], written))
    return out


def _check_one(dataset: DatasetConfig, scanned: list[ScannedSubset], label: str,
               inputs: CheckInputs) -> tuple[DatasetSummary, list[Finding]]:
    found = buckets.settings_findings(dataset.bucket, label)
    for subset in scanned:
        found.extend(layout.subset_findings(subset))
        found.extend(images.image_findings(subset))
        found.extend(masks.mask_findings(subset))
        found.extend(captions.caption_file_findings(subset))
        found.extend(captions.keep_tokens_findings(subset, [t for _, t in captions.effective_captions(subset)]))
    subset_images = _subset_images(dataset, scanned)
    registered = registered_subsets(subset_images)
    reasons = [reason for _, reason in registered]
    found.extend(layout.dropped_findings([(s.config, len(s.images), r) for s, r in zip(scanned, reasons, strict=True)]))
    plan = plan_epoch(subset_images, dataset.bucket, dataset.batch_size, inputs.run.gradient_accumulation_steps,
                      inputs.run.num_processes)
    found.extend(reg.reg_findings(plan, label))
    found.extend(buckets.plan_findings(plan, dataset.bucket, label))
    by_key = {image.key or str(image.path): image for s in scanned for image in s.images}
    found.extend(buckets.upscale_findings(plan, dataset.bucket, by_key))
    if dataset.validation_split > 0:
        found.append(buckets.split_finding(dataset, label))
    subsets = tuple(_summary(s, i) for s, (i, reason) in zip(scanned, registered, strict=True) if reason is None)
    dropped = tuple(
        DroppedSubset(str(s.config.image_dir), s.config.num_repeats, s.config.is_reg, reason, len(s.images))
        for s, (_, reason) in zip(scanned, registered, strict=True) if reason is not None
    )
    image_rows = tuple(_image_summary(p, by_key) for p in plan.placements)
    return DatasetSummary(subsets, plan, dataset.bucket.resolution, dataset.bucket.enable_bucket, dropped, image_rows,
                          dataset.bucket.enable_bucket and dataset.bucket.bucket_no_upscale), found


def _summary(subset: ScannedSubset, registered: SubsetImages) -> SubsetSummary:
    """A registered subset in sd-scripts' numbers: img_count is what glob listed (after the validation split)."""
    config = subset.config
    listed = list(subset.images)
    if len(registered.paths) < len([i for i in listed if i.size is not None]):  # the validation split held some out
        kept = set(registered.paths)
        listed = [i for i in listed if (i.key or str(i.path)) in kept]
    return SubsetSummary(str(config.image_dir), config.num_repeats, config.class_tokens, config.is_reg,
                         config.caption_extension, len(listed), sum(1 for i in listed if i.caption is not None))


def _image_summary(placement: ImagePlacement, by_key: dict[str, ImageFile]) -> ImageSummary:
    image = by_key.get(placement.path)
    caption = str(image.caption.path) if image is not None and image.caption is not None else None
    return ImageSummary(str(image.path) if image is not None else placement.path, placement.size, placement.bucket,
                        placement.num_repeats, placement.is_reg, placement.upscaled, caption)


def _caption_content(scanned: list[ScannedSubset], trigger: str | None, given: bool) -> list[Finding]:
    train = [pair for s in scanned if not s.config.is_reg for pair in captions.effective_captions(s)]
    reg_pairs = [pair for s in scanned if s.config.is_reg for pair in captions.effective_captions(s)]
    found = captions.trigger_findings(train, reg_pairs, trigger, given)
    found.extend(captions.tag_findings([text for _, text in train]))
    return found


def _unique_images(scanned: list[ScannedSubset]) -> list[ImageFile]:
    """The same image_dir may serve two datasets (multi-resolution): compare each file once."""
    seen: dict[str, ImageFile] = {}
    for subset in scanned:
        for image in subset.images:
            seen.setdefault(str(image.path), image)
    return list(seen.values())
