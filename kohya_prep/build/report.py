"""Build and preview reports: plain data for --json, and the text a person reads in a terminal."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from kohya_prep.build.plan import CropRow
from kohya_prep.build.preview import PreviewResult
from kohya_prep.build.run import BuildResult


def _rel(path: Any) -> str:
    """A path relative to the current folder when it is below it (shorter to read), else absolute."""
    text = str(path)
    try:
        relative = os.path.relpath(text)
    except ValueError:
        return text
    return text if relative.startswith("..") else relative


def subset_counts(result: BuildResult) -> list[dict[str, Any]]:
    """What sd-scripts will see per subset folder: images, captions, repeats, samples per epoch."""
    spec, plan = result.spec, result.plan
    subsets = []
    for folder, repeats, is_reg in ((f"train/{spec.subset_dir}", spec.num_repeats, False),
                                    (f"reg/{spec.reg.subset_dir}", spec.reg.num_repeats, True)):
        images = len(plan.images_in(folder))
        captions = sum(1 for o in plan.outputs if o.kind == "caption" and o.folder == folder)
        subsets.append({
            "folder": folder, "path": str(spec.root / folder), "is_reg": is_reg, "images": images,
            "captions": captions, "num_repeats": repeats, "samples_per_epoch": images * repeats,
        })
    return subsets


def _row(row: CropRow) -> dict[str, Any]:
    return {"crop": row.name, "source": row.source, "box": row.box.as_list(), "status": row.status,
            "files": list(row.files), "flags": list(row.flags)}


def build_data(result: BuildResult) -> dict[str, Any]:
    """The command's own fields of a build's --json envelope (errors and warnings come from the envelope)."""
    spec, decision = result.spec, result.decision
    return {
        "dataset": spec.name,
        "root": str(spec.root),
        "train_data_dir": str(spec.train_data_dir),
        "reg_data_dir": str(spec.reg_data_dir),
        "caption_extension": ".txt",
        "up_to_date": result.up_to_date,
        "manifest_only": result.manifest_only,
        "crops": [_row(r) for r in result.plan.rows],
        "left_out": [{"crop": name, "status": status} for name, status in result.plan.skipped],
        "subsets": subset_counts(result),
        "rendered": list(result.rendered),
        "captions_written": list(result.captions_written),
        "reused": result.reused,
        "removed": list(decision.removed),
        "kept_foreign": list(decision.foreign),
        "dropped_caches": list(decision.dropped_caches),
        "seconds": round(result.seconds, 3),
    }


def _table(rows: Sequence[CropRow]) -> list[str]:
    header = ("crop", "source", "box", "files", "flags")
    cells = [(r.name, r.source, str(r.box), ", ".join(r.files), ", ".join(r.flags)) for r in rows]
    widths = [max(len(str(c[i])) for c in [header, *cells]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return ["  " + fmt.format(*header).rstrip(), "  " + fmt.format(*("-" * w for w in widths))] + [
        "  " + fmt.format(*c).rstrip() for c in cells
    ]


def _left_out(result: BuildResult) -> list[str]:
    lines = []
    for name, status in result.plan.skipped:
        fix = "approve it in the spec or pass --include-speculative" if status == "speculative" else "status = excluded"
        lines.append(f"  left out: {name} ({status}; {fix})")
    return lines


def _sd_scripts_view(result: BuildResult) -> list[str]:
    spec = result.spec
    lines = ["sd-scripts will see (caption_extension = \".txt\"):"]
    for label, directory, is_reg in (("train_data_dir", spec.train_data_dir, False), ("reg_data_dir", spec.reg_data_dir, True)):
        lines.append(f"  {label:<15} {_rel(directory)}")
        for subset in (s for s in subset_counts(result) if s["is_reg"] == is_reg):
            name = subset["folder"].split("/", 1)[1]
            if subset["images"] == 0:
                lines.append(f"    {name:<22} " + ("empty: no reg images (add [reg] dir = '...' to the spec to use some)"
                             if is_reg else "empty: every crop is left out; approve some (status = 'approved') "
                             "or pass --include-speculative, or sd-scripts stops with 'No data found'"))
                continue
            lines.append(
                f"    {name:<22} {subset['images']} images, {subset['captions']} captions"
                f" x {subset['num_repeats']} repeats = {subset['samples_per_epoch']} samples per epoch"
            )
    return lines


def build_text(result: BuildResult) -> str:
    """The terminal report of a build."""
    spec = result.spec
    where = _rel(spec.root)
    if result.up_to_date:
        head = [f"Nothing to do: {where} is up to date ({len(result.plan.images)} images); nothing was written."]
    elif result.manifest_only:
        head = [f"Images and captions in {where} are current; only the manifest was updated."]
    else:
        head = [
            f"Built '{spec.name}' into {where} in {result.seconds:.1f} s: rendered {len(result.rendered)} images, "
            f"wrote {len(result.captions_written)} captions, kept {result.reused} unchanged files, "
            f"removed {len(result.decision.removed)}."
        ]
    lines = [*head, "", *_table(result.plan.rows), *_left_out(result), "", *_sd_scripts_view(result)]
    foreign, dropped = result.decision.foreign, result.decision.dropped_caches
    if foreign:
        lines.append(f"Kept {len(foreign)} file(s) kohya-prep did not write: {', '.join(foreign[:5])}")
    if dropped:
        lines.append(f"Removed {len(dropped)} stale sd-scripts cache file(s) of re-rendered images.")
    lines += [f"warning: {w.message}" for w in result.warnings]
    return "\n".join(lines)


def preview_data(result: PreviewResult) -> dict[str, Any]:
    """The command's own fields of a preview's --json envelope."""
    return {
        "preview": True,
        "dataset": result.spec.name,
        "preview_dir": str(result.folder),
        "contact_sheet": str(result.contact_sheet),
        "overlays": [str(p) for p in result.overlays],
        "crops": [str(p) for p in result.crops],
        "rows": [_row(r) for r in result.rows],
    }


def preview_text(result: PreviewResult) -> str:
    """The terminal report of a preview."""
    statuses: dict[str, int] = {}
    for crop in result.spec.crops:
        statuses[crop.status] = statuses.get(crop.status, 0) + 1
    counts = ", ".join(f"{n} {s}" for s, n in statuses.items())
    lines = [
        f"Preview of '{result.spec.name}' ({counts}) in {_rel(result.folder)}; the dataset itself was not touched.",
        f"  contact sheet: {_rel(result.contact_sheet)}",
        *(f"  overlay:       {_rel(p)}" for p in result.overlays),
        f"  crops:         {len(result.crops)} images in {_rel(result.folder / 'crops')}",
    ]
    lines += [f"warning: {w.message}" for w in result.warnings]
    return "\n".join(lines)
