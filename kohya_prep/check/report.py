"""Render a check report as text (for people) or JSON (for scripts); same content either way."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from kohya_prep.check.findings import DatasetSummary, Finding, Report
from kohya_prep.output import Notice

_MARK = {"error": "x", "warning": "!", "info": "-"}
_TITLE = {"error": "Errors", "warning": "Warnings", "info": "Facts"}


def render_text(report: Report) -> str:
    """The human report: what sd-scripts will load, then errors, warnings and facts, each with its fix."""
    lines = [f"kohya-prep dataset check: {report.target}", ""]
    for index, dataset in enumerate(report.datasets):
        lines.extend(_dataset_lines(dataset, index, len(report.datasets)))
    for severity in ("error", "warning", "info"):
        group = [f for f in report.findings if f.severity == severity]
        if group:
            lines.append(f"{_TITLE[severity]} ({len(group)})")
            for finding in group:
                lines.extend(_finding_lines(finding))
            lines.append("")
    verdict = "clean"
    if report.errors:
        verdict = "training will fail or go wrong"
    elif report.warnings:
        verdict = "usable"
    lines.append(f"Result: {len(report.errors)} error(s), {len(report.warnings)} warning(s): {verdict}")
    return "\n".join(lines) + "\n"


def _dataset_lines(dataset: DatasetSummary, index: int, count: int) -> list[str]:
    title = "What sd-scripts will load" + (f" (dataset {index + 1})" if count > 1 else "")
    lines = [title]
    for s in dataset.subsets:
        kind = "reg  " if s.is_reg else "train"
        tokens = f"class tokens '{s.class_tokens}'" if s.class_tokens else "no class tokens"
        lines.append(f"  {kind} {s.image_dir}")
        lines.append(f"        {s.num_repeats} repeat(s), {tokens}, {s.images} image(s), {s.captioned} with a "
                     f"{s.caption_extension} caption")
    plan = dataset.plan
    lines.append(f"  epoch: {plan.samples_per_epoch} samples, {plan.batches_per_epoch} batches of up to "
                 f"{plan.batch_size}, {plan.steps_per_epoch} steps")
    lines.append("")
    return lines


def _finding_lines(finding: Finding) -> list[str]:
    where = f" {finding.path}" if finding.path else ""
    lines = [f"  {_MARK[finding.severity]} [{finding.code}]{where}", f"    {finding.message}"]
    if finding.fix:
        lines.append(f"    fix: {finding.fix}")
    return lines


def notices(findings: tuple[Finding, ...]) -> list[Notice]:
    return [Notice(f.code, f.message, f.path, f.fix) for f in findings]


def report_data(report: Report) -> dict[str, Any]:
    """The command's own fields of the --json envelope: every finding (facts too) and per-dataset plans."""
    return {
        "target": report.target,
        "findings": [asdict(f) for f in report.findings],
        "datasets": [_dataset_json(d) for d in report.datasets],
    }


def _dataset_json(dataset: DatasetSummary) -> dict[str, Any]:
    plan = dataset.plan
    return {
        "resolution": list(dataset.resolution),
        "enable_bucket": dataset.enable_bucket,
        "subsets": [asdict(s) for s in dataset.subsets],
        "buckets": [{"resolution": list(b.reso), "images": b.images, "train_samples": b.train_samples,
                     "reg_samples": b.reg_samples, "batches": b.batches} for b in plan.buckets],
        "num_train_images": plan.num_train_images,
        "num_reg_images": plan.num_reg_images,
        "reg_samples": plan.reg_samples,
        "reg_unused": list(plan.reg_unused),
        "reg_extra_repeats": plan.reg_extra_repeats,
        "samples_per_epoch": plan.samples_per_epoch,
        "batch_size": plan.batch_size,
        "batches_per_epoch": plan.batches_per_epoch,
        "steps_per_epoch": plan.steps_per_epoch,
        "upscaled": [p.path for p in plan.upscaled],
    }
