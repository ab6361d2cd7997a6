"""Render a check report as text (for people) or JSON (for scripts); same content either way."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import PurePath
from typing import Any

from kohya_prep.check.findings import DatasetSummary, Finding, Report
from kohya_prep.check.layout import few
from kohya_prep.output import Notice

_MARK = {"error": "x", "warning": "!", "info": "-"}
_TITLE = {"error": "Errors", "warning": "Warnings", "info": "Facts"}


def render_text(report: Report) -> str:
    """The human report: what sd-scripts will load, then errors, warnings and facts, each with its fix."""
    lines = [f"kohya-prep dataset check: {report.target}", ""]
    for index, dataset in enumerate(report.datasets):
        lines.extend(_dataset_lines(dataset, index, len(report.datasets)))
    lines.extend(_run_lines(report))
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
    for d in dataset.dropped:
        lines.append(f"  skipped {d.image_dir} ({_DROPPED[d.reason]})")
    plan = dataset.plan
    for bucket in plan.buckets:
        names = [PurePath(i.path).name for i in dataset.images if i.bucket == bucket.reso and i.num_repeats > 0]
        lines.append(f"  bucket {bucket.reso[0]}x{bucket.reso[1]}: {bucket.images} image(s), {bucket.samples} sample(s), "
                     f"{bucket.batches} batch(es): {few(names, 4)}")
    lines.append(f"  epoch: {plan.samples_per_epoch} samples, {plan.batches_per_epoch} batches of up to "
                 f"{plan.batch_size}, {plan.steps_per_epoch} steps")
    lines.append("")
    return lines


_DROPPED = {"num_repeats": "num_repeats < 1", "duplicate": "same image_dir as an earlier subset", "no_images": "no images"}


def _run_lines(report: Report) -> list[str]:
    length = report.length
    if length is None or not report.datasets:
        return []
    run = report.run
    how = f"gradient accumulation {run.gradient_accumulation_steps}, {run.num_processes} process(es)"
    return [f"Training run: {length.steps_per_epoch} steps per epoch ({how}), {length.max_train_epochs} epoch(s), "
            f"{length.max_train_steps} steps", ""]


def _finding_lines(finding: Finding) -> list[str]:
    where = f" {finding.path}" if finding.path else ""
    lines = [f"  {_MARK[finding.severity]} [{finding.code}]{where}", f"    {finding.message}"]
    if finding.fix:
        lines.append(f"    fix: {finding.fix}")
    return lines


def notices(findings: tuple[Finding, ...]) -> list[Notice]:
    return [Notice(f.code, f.message, f.path, f.fix) for f in findings]


def report_data(report: Report) -> dict[str, Any]:
    """The command's own fields of the --json envelope: every finding (facts too), per-dataset plans, the run."""
    return {
        "target": report.target,
        "findings": [asdict(f) for f in report.findings],
        "datasets": [_dataset_json(d) for d in report.datasets],
        "steps": _steps_json(report),
    }


def _steps_json(report: Report) -> dict[str, Any] | None:
    """The whole run, as train_network.py counts it: every dataset's batches share one dataloader."""
    if report.length is None:
        return None
    return {
        "batches_per_epoch": sum(d.plan.batches_per_epoch for d in report.datasets),
        "gradient_accumulation_steps": report.run.gradient_accumulation_steps,
        "num_processes": report.run.num_processes,
        "steps_per_epoch": report.length.steps_per_epoch,
        "max_train_epochs": report.length.max_train_epochs,
        "max_train_steps": report.length.max_train_steps,
    }


def _dataset_json(dataset: DatasetSummary) -> dict[str, Any]:
    plan = dataset.plan
    return {
        "resolution": list(dataset.resolution),
        "enable_bucket": dataset.enable_bucket,
        "bucket_no_upscale": dataset.bucket_no_upscale,
        "subsets": [asdict(s) for s in dataset.subsets],
        "dropped_subsets": [asdict(d) for d in dataset.dropped],
        "buckets": [{"resolution": list(b.reso), "images": b.images, "train_samples": b.train_samples,
                     "reg_samples": b.reg_samples, "batches": b.batches} for b in plan.buckets],
        "images": [{"path": i.path, "size": list(i.size), "bucket": list(i.bucket), "num_repeats": i.num_repeats,
                    "is_reg": i.is_reg, "upscaled": i.upscaled, "caption": i.caption} for i in dataset.images],
        "num_train_images": plan.num_train_images,
        "num_reg_images": plan.num_reg_images,
        "reg_samples": plan.reg_samples,
        "reg_unused": list(plan.reg_unused),
        "reg_extra_repeats": plan.reg_extra_repeats,
        "samples_per_epoch": plan.samples_per_epoch,
        "batch_size": plan.batch_size,
        "batches_per_epoch": plan.batches_per_epoch,
        "gradient_accumulation_steps": plan.grad_accum,
        "num_processes": plan.num_processes,
        "steps_per_epoch": plan.steps_per_epoch,
        "upscaled": [p.path for p in plan.upscaled],
    }
