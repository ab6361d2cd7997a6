"""Build and preview reports: plain data for --json, and the text a person reads in a terminal."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from kohya_prep.build.geometry import FitOutcome
from kohya_prep.build.plan import CropRow
from kohya_prep.build.preview import PreviewResult
from kohya_prep.build.run import BuildResult
from kohya_prep.output import shown_path

SIDES = ("left", "top", "right", "bottom")


def subset_counts(result: BuildResult) -> list[dict[str, Any]]:
    """What sd-scripts will see per subset folder: images, captions, repeats, samples per epoch."""
    spec, plan = result.spec, result.plan
    counts = Counter((o.kind, o.folder) for o in plan.outputs)  # one pass over every file the build writes
    subsets = []
    for view in (spec.at(resolution) for resolution in spec.every_resolution):
        for folder, repeats, is_reg in ((f"{view.tree_prefix}train/{spec.subset_dir}", spec.num_repeats, False),
                                        (f"{view.tree_prefix}reg/{spec.reg.subset_dir}", spec.reg.num_repeats, True)):
            images, captions = counts["image", folder], counts["caption", folder]
            subsets.append({
                "folder": folder, "path": str(spec.root / folder), "is_reg": is_reg, "images": images,
                "captions": captions, "num_repeats": repeats, "samples_per_epoch": images * repeats,
                "resolution": view.resolution,
            })
    return subsets


def _row(row: CropRow, fit: FitOutcome | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"crop": row.name, "source": row.source, "box": row.box.as_list(), "status": row.status,
            "files": list(row.files), "flags": list(row.flags), "fit": row.fit, "mask": row.mask,
            "output": list(row.output)}
    if fit is not None:
        data["shaped"] = fit_data(fit)
    return data


def fit_data(fit: FitOutcome) -> dict[str, Any]:
    """How a crop was shaped, for --json: the source region used, pixels grown per side (source pixels), padding
    per side (output pixels) and the share of the image that is padding."""
    return {"size": list(fit.size), "region": fit.region.as_list(), "grown": dict(zip(SIDES, fit.grown, strict=True)),
            "padded": dict(zip(SIDES, fit.padded, strict=True)), "shifted": fit.shifted,
            "padding_share": round(fit.padding_pixels / (fit.size[0] * fit.size[1]), 4)}


def _sides(sides: tuple[int, ...]) -> str:
    return " + ".join(f"{n} {side}" for side, n in zip(SIDES, sides, strict=True) if n)


def fit_text(row: CropRow, fit: FitOutcome | None) -> str:
    """One crop's fit line: what the build did to reach the output shape, and by how many pixels."""
    if fit is None:
        return "not rendered yet"
    share = fit.padding_pixels / (fit.size[0] * fit.size[1])
    if row.fit == "letterbox":
        return f"letterbox, padded {_sides(fit.padded)} ({share:.0%})" if fit.padding_pixels else "letterbox, no padding"
    parts = []
    if any(fit.grown):
        parts.append(f"grew {_sides(fit.grown)}" + (" (shifted: no room on one side)" if fit.shifted else ""))
    if fit.padding_pixels:
        parts.append(f"padded {_sides(fit.padded)} ({share:.0%})")
    return ", ".join(parts) or "exact: the box has the bucket's shape"


def _crop_fits(result: BuildResult) -> dict[str, FitOutcome]:
    """Each crop's fit, from its unflipped image."""
    folder = f"{result.spec.tree_prefix}train/{result.spec.subset_dir}"
    return {row.name: result.fits[f"{folder}/{row.files[0]}"] for row in result.plan.rows
            if f"{folder}/{row.files[0]}" in result.fits}


def bucket_counts(result: BuildResult) -> list[dict[str, Any]]:
    """The buckets the outputs fall into: images per bucket, train and reg, and images x repeats."""
    spec, plan = result.spec, result.plan
    counts: dict[tuple[int, int], list[int]] = {}
    for output in plan.images:
        assert output.job is not None
        size = output.job.output_size()
        is_reg = output.owner.startswith("reg/")  # a reg image's id; crop names hold no '/'
        row = counts.setdefault(size, [0, 0, 0])
        row[1 if is_reg else 0] += 1
        row[2] += spec.reg.num_repeats if is_reg else spec.num_repeats
    return [{"bucket": list(size), "train_images": train, "reg_images": reg, "images_x_repeats": samples}
            for size, (train, reg, samples) in sorted(counts.items())]


def padding_share(result: BuildResult) -> float | None:
    """The share of all output pixels that is background padding (None until every image was rendered)."""
    fits = [result.fits.get(o.relpath) for o in result.plan.images]
    if not fits or any(f is None for f in fits):
        return None
    total = sum(f.size[0] * f.size[1] for f in fits if f)
    return sum(f.padding_pixels for f in fits if f) / total


def build_data(result: BuildResult) -> dict[str, Any]:
    """The command's own fields of a build's --json envelope (errors and warnings come from the envelope)."""
    spec, decision = result.spec, result.decision
    fits = _crop_fits(result)
    return {
        "dataset": spec.name,
        "root": str(spec.root),
        "train_data_dir": str(spec.train_data_dir),
        "reg_data_dir": str(spec.reg_data_dir),
        "resolutions": [{"resolution": r, "train_data_dir": str(spec.at(r).train_data_dir),
                         "reg_data_dir": str(spec.at(r).reg_data_dir)} for r in spec.every_resolution],
        "caption_extension": ".txt",
        "up_to_date": result.up_to_date,
        "manifest_only": result.manifest_only,
        "crops": [_row(r, fits.get(r.name)) for r in result.plan.rows],
        "buckets": bucket_counts(result),
        "padding_share": _rounded(padding_share(result)),
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


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _table(rows: Sequence[CropRow]) -> list[str]:
    header = ("crop", "source", "box", "output", "files", "flags")
    cells = [(r.name, r.source, str(r.box), f"{r.output[0]}x{r.output[1]}", ", ".join(r.files), ", ".join(r.flags))
             for r in rows]
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


def _fit_lines(result: BuildResult) -> list[str]:
    """Per crop, when some crop is shaped to a bucket: grown (source pixels) and padded (output pixels)."""
    rows = result.plan.rows
    if all(row.fit == "letterbox" for row in rows):
        return []
    fits = _crop_fits(result)
    width = max(len(row.name) for row in rows)
    return ["Fit (grown: source pixels of background taken in around the box; padded: output pixels):",
            *(f"  {row.name:<{width}}  {row.output[0]}x{row.output[1]}  {fit_text(row, fits.get(row.name))}" for row in rows),
            ""]


def _bucket_lines(result: BuildResult) -> list[str]:
    rows = bucket_counts(result)
    if not rows:
        return []
    lines = ["Buckets (each image is written at its bucket's size, so sd-scripts trains it unscaled):"]
    for row in rows:
        reg = f", {row['reg_images']} reg" if row["reg_images"] else ""
        lines.append(f"  {row['bucket'][0]:>4}x{row['bucket'][1]:<5} {row['train_images']} images{reg}, "
                     f"{row['images_x_repeats']} images x repeats")
    share = padding_share(result)
    if share is not None:
        wasteful = share > 0.2 and not result.spec.builds_buckets()
        hint = " (fit = \"bucket\" would train on the picture instead)" if wasteful else ""
        lines.append(f"  padding: {share:.1%} of all output pixels are background padding{hint}")
    return lines


def _sd_scripts_view(result: BuildResult) -> list[str]:
    lines = ["sd-scripts will see (caption_extension = \".txt\"):"]
    subsets = subset_counts(result)
    for resolution in result.spec.every_resolution:
        lines += _resolution_view(result, resolution, subsets)
    return lines


def _resolution_view(result: BuildResult, resolution: int, subsets: list[dict[str, Any]]) -> list[str]:
    """One resolution's train_data_dir and reg_data_dir with their subsets (a spec with several: a heading each)."""
    spec = result.spec.at(resolution)
    several = len(result.spec.every_resolution) > 1
    lines = [f"  at {resolution}:"] if several else []
    indent = "  " if several else ""
    for label, directory, is_reg in (("train_data_dir", spec.train_data_dir, False), ("reg_data_dir", spec.reg_data_dir, True)):
        lines.append(f"{indent}  {label:<15} {shown_path(directory)}")
        for subset in (s for s in subsets if s["is_reg"] == is_reg and s["resolution"] == resolution):
            name = subset["folder"].rsplit("/", 1)[1]
            if subset["images"] == 0:
                lines.append(f"{indent}    {name:<22} " + ("empty: no reg images (add [reg] dir = '...' to the spec to use some)"
                             if is_reg else "empty: every crop is left out; approve some (status = 'approved') "
                             "or pass --include-speculative, or sd-scripts stops with 'No data found'"))
                continue
            lines.append(
                f"{indent}    {name:<22} {subset['images']} images, {subset['captions']} captions"
                f" x {subset['num_repeats']} repeats = {subset['samples_per_epoch']} samples per epoch"
            )
    return lines


def build_text(result: BuildResult) -> str:
    """The terminal report of a build."""
    spec = result.spec
    where = shown_path(spec.root)
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
    lines = [*head, "", *_table(result.plan.rows), *_left_out(result), "", *_fit_lines(result), *_bucket_lines(result),
             "", *_sd_scripts_view(result)]
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
        f"Preview of '{result.spec.name}' ({counts}) in {shown_path(result.folder)}; the dataset itself was not touched.",
        f"  contact sheet: {shown_path(result.contact_sheet)}",
        *(f"  overlay:       {shown_path(p)}" for p in result.overlays),
        f"  crops:         {len(result.crops)} images in {shown_path(result.folder / 'crops')}",
    ]
    lines += [f"warning: {w.message}" for w in result.warnings]
    return "\n".join(lines)
