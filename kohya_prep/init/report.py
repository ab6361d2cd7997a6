"""`dataset init` and `dataset adopt` results: the text a person reads, and the fields of the JSON envelope."""

from __future__ import annotations

from typing import Any

from kohya_prep.init.adopt import AdoptResult
from kohya_prep.init.model import KIND_TAGS, ImageFinding
from kohya_prep.init.propose import left_out_text
from kohya_prep.init.run import InitResult
from kohya_prep.output import shown_path


def _finding_data(finding: ImageFinding) -> dict[str, Any]:
    return {
        "path": str(finding.path),
        "source": finding.source,
        "treated_as": finding.treated_as,
        "background": finding.background,
        "detections": [{"crop": name, "box": d.box.as_list(), "figure": d.figure.as_list(), "kind": d.kind,
                        "tag": KIND_TAGS[d.kind], "confidence": d.confidence, "level": d.level, "framed": d.framed}
                       for name, d in finding.detections],
        "left_out": dict(finding.left_out),
        "note": finding.note,
    }


def init_data(result: InitResult) -> dict[str, Any]:
    """The command's own fields of the --json envelope."""
    spec, proposal = result.spec, result.proposal
    statuses = [c.status for c in spec.crops]
    return {
        "spec": str(result.spec_path),
        "added": result.added,
        "dataset": spec.name,
        "root": str(spec.root),
        "trigger": spec.trigger,
        "class": spec.class_tokens,
        "resolution": spec.resolution,
        "sources_added": [s.id for s in proposal.sources],
        "crops_added": [c.name for c in proposal.crops],
        "images": [_finding_data(f) for f in proposal.findings],
        "sheets": [str(f.path) for f in proposal.findings if f.treated_as == "sheet"],
        "crops": len(spec.crops),
        "approved": statuses.count("approved"),
        "speculative": statuses.count("speculative"),
        "excluded": statuses.count("excluded"),
        "contact_sheet": str(result.contact_sheet) if result.contact_sheet else None,
        "overlays": [str(p) for p in result.overlays],
        "next": result.next_command,
    }


def _finding_lines(finding: ImageFinding) -> list[str]:
    name = shown_path(finding.path)
    if finding.treated_as == "sheet":
        left = left_out_text(finding.left_out)
        lines = [f"  {name}: a sheet ({finding.background} background), {len(finding.detections)} figure(s)"
                 + (f"; left out: {left}" if left else "")]
        for crop, det in finding.detections:
            framed = ", framed" if det.framed else ""
            lines.append(f"    {crop:<24} {det.kind:<9} box = {det.box.as_list()}  confidence {det.confidence:.2f} "
                         f"({det.level}{framed})")
        return lines
    if finding.treated_as == "picture":
        return [f"  {name}: one picture, kept whole"]
    return [f"  {name}: {finding.note}"]


def init_text(result: InitResult) -> str:
    data = init_data(result)
    verb = "Added to" if result.added else "Wrote"
    lines = [f"{verb} {shown_path(result.spec_path)}: {len(result.proposal.sources)} source(s), {len(result.proposal.crops)} "
             f"[[crops]] table(s); the spec now builds {data['approved']} approved crop(s), "
             f"{data['speculative']} speculative, {data['excluded']} excluded."]
    examined = {f.source.split("/", 1)[0] for f in result.proposal.findings}
    for source in result.proposal.sources:
        if source.id not in examined:  # a kohya subset: its images are taken as they are
            lines.append(f"  {shown_path(source.path)}/: {source.comment}")
    for finding in result.proposal.findings:
        lines += _finding_lines(finding)
    if result.contact_sheet:
        lines.append(f"Preview: {shown_path(result.contact_sheet)} (and {len(result.overlays)} overlay(s) beside it)")
    lines += [f"warning: {w.message}" for w in result.warnings]
    if result.speculative:
        lines.append("Next: look at the contact sheet, fix boxes and set status = \"approved\" on the crops to keep, then:")
        lines.append(f"  kohya-prep dataset build {shown_path(result.spec_path)}")
    else:
        lines.append(f"Next: kohya-prep dataset build {shown_path(result.spec_path)}")
    return "\n".join(lines)


def adopt_data(result: AdoptResult) -> dict[str, Any]:
    return {
        "spec": str(result.spec_path),
        "dry_run": result.dry_run,
        "adopted": [{"crop": a.crop, "files": list(a.files), "old": a.old, "new": a.new, "listed": a.listed}
                    for a in result.adopted],
        "next": f"kohya-prep dataset build {result.spec_path}",
    }


def adopt_text(result: AdoptResult) -> str:
    spec = shown_path(result.spec_path)
    if not result.adopted:
        lines = [f"Nothing to adopt: every built caption of {spec} is as the build wrote it."]
    else:
        verb = "Would take" if result.dry_run else "Took"
        lines = [f"{verb} {len(result.adopted)} edited caption(s) back into {spec}:"]
        for item in result.adopted:
            listed = " (a folder image: listed in [[crops]] now)" if item.listed else ""
            lines.append(f"  {item.crop}{listed}: {item.old!r} -> {item.new!r}  ({', '.join(item.files)})")
    lines += [f"warning: {w.message}" for w in result.warnings]
    if result.adopted and not result.dry_run:
        lines.append(f"Next: kohya-prep dataset build {spec}  (rewrites those captions, nothing else)")
    return "\n".join(lines)
