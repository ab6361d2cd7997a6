"""Run every rule over the scanned datasets and collect one report."""

from __future__ import annotations

from kohya_prep.check import buckets, captions, images, layout, masks, reg
from kohya_prep.check.findings import SEVERITY_ORDER, DatasetSummary, Finding, Report, SubsetSummary, info
from kohya_prep.check.inputs import CheckOptions, DatasetConfig
from kohya_prep.check.scan import ImageFile, ScannedSubset, scan_subset
from kohya_prep.check.target import resolve
from kohya_prep.sdscripts.steps import SubsetImages, plan_epoch


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
        summary, dataset_found = _check_one(dataset, scanned, label)
        summaries.append(summary)
        found.extend(dataset_found)
    found.extend(layout.no_data_finding(scanned_all, inputs.target))
    found.extend(_caption_content(scanned_all, inputs.trigger, inputs.trigger_given))
    if inputs.duplicates:
        found.extend(images.duplicate_findings(_unique_images(scanned_all)))
    else:
        found.append(info("duplicates-skipped", "", "duplicate scan skipped (--no-duplicates)"))
    ordered = sorted(found, key=lambda f: SEVERITY_ORDER[f.severity])
    return Report(inputs.target, tuple(ordered), tuple(summaries))


def _check_one(dataset: DatasetConfig, scanned: list[ScannedSubset], label: str) -> tuple[DatasetSummary, list[Finding]]:
    found = buckets.settings_findings(dataset.bucket, label)
    min_side = buckets.smallest_unscaled_side(dataset.bucket)
    for subset in scanned:
        found.extend(layout.subset_findings(subset))
        found.extend(images.image_findings(subset, min_side))
        found.extend(masks.mask_findings(subset))
        found.extend(captions.caption_file_findings(subset))
        found.extend(captions.keep_tokens_findings(subset, [t for _, t in captions.effective_captions(subset)]))
    readable = [[image for image in s.images if image.size is not None] for s in scanned]
    plan = plan_epoch(
        [SubsetImages([i.size for i in imgs if i.size], s.config.num_repeats, s.config.is_reg, [str(i.path) for i in imgs])
         for s, imgs in zip(scanned, readable, strict=True)],
        dataset.bucket,
        dataset.batch_size,
    )
    found.extend(reg.reg_findings(plan, label))
    found.extend(buckets.plan_findings(plan, dataset.bucket, label))
    subsets = tuple(
        SubsetSummary(str(s.config.image_dir), s.config.num_repeats, s.config.class_tokens, s.config.is_reg,
                      s.config.caption_extension, len(s.images), sum(1 for i in s.images if i.caption is not None))
        for s in scanned
    )
    return DatasetSummary(subsets, plan, dataset.bucket.resolution, dataset.bucket.enable_bucket), found


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
