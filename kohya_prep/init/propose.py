"""Inputs to a Proposal: a source per image or folder, a crop per figure on a sheet, a whole-image crop per picture.

Sheets' crops are speculative (nothing trains before a person has looked); pictures are approved; images that
cannot be used (unreadable, all background) are left out with a warning, or listed as excluded in a folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kohya_prep.errors import InitError
from kohya_prep.init import kohya
from kohya_prep.init.inputs import Inputs
from kohya_prep.init.model import ImageFinding, Proposal, ProposedCrop, ProposedSource
from kohya_prep.init.names import Names, slug
from kohya_prep.init.sheets import examine
from kohya_prep.spec.captions import read_sidecar
from kohya_prep.spec.crops import image_crop_name
from kohya_prep.tags import split_tags


class MissingOption(InitError):
    """A value init could not find in the inputs and needs from the command line (--trigger, --class)."""


@dataclass(frozen=True)
class InitOptions:
    trigger: str | None = None
    class_tokens: str | None = None
    name: str | None = None
    repeats: int | None = None
    resolution: int | None = None
    reg: Path | None = None


LEFT_OUT_WORDS = {"text": "text line(s)", "swatch": "swatch(es)", "small": "small mark(s)", "line": "line(s)"}


def left_out_text(left_out: dict[str, int]) -> str:
    """'11 text line(s), 2 swatch(es)': what a sheet had besides its figures."""
    return ", ".join(f"{count} {LEFT_OUT_WORDS.get(kind, kind)}" for kind, count in sorted(left_out.items()))


def _sheet_comment(finding: ImageFinding) -> str:
    left = left_out_text(finding.left_out)
    found = f"sheet: {len(finding.detections)} figure(s) found, speculative until you approve them"
    return found + (f"; left out: {left}" if left else "")


def _image(path: Path, proposal: Proposal, names: Names) -> None:
    """An image named on the command line: a sheet's figures, or the whole picture."""
    source = names.source_id(path.stem)
    finding, crops = examine(path, source, source, names.crop_name)
    proposal.findings.append(finding)
    if finding.treated_as in ("unreadable", "empty"):
        names.ids.discard(source.lower())
        proposal.warnings.append(f"{finding.note}; left out")
        return
    comment = _sheet_comment(finding) if finding.treated_as == "sheet" else "one picture: the whole image"
    proposal.sources.append(ProposedSource(source, path, comment=comment))
    if finding.treated_as == "sheet":
        proposal.crops += crops
        return
    caption, problem = read_sidecar(path)
    if problem:
        proposal.warnings.append(f"{path.name}: {problem}; its caption is left empty")
    tags = split_tags(caption) if caption and not problem else []
    proposal.crops.append(ProposedCrop(names.crop_name(path.stem), source, caption=tags))


def _member(folder_id: str, path: Path, proposal: Proposal, names: Names) -> None:
    """One image of a folder source: implicit when it is a picture, listed when it is a sheet or unusable."""
    member = f"{folder_id}/{path.name}"
    base = image_crop_name(path.stem)
    finding, crops = examine(path, member, base, names.crop_name)
    proposal.findings.append(finding)
    if finding.treated_as == "sheet":
        proposal.crops += crops
    elif finding.treated_as in ("unreadable", "empty"):
        proposal.warnings.append(f"{finding.note}; listed as excluded")
        proposal.crops.append(ProposedCrop(names.crop_name(base), member, status="excluded", comment=finding.note))
    elif read_sidecar(path)[1]:
        proposal.warnings.append(f"{path.name}: {read_sidecar(path)[1]}; its caption is left empty")
        proposal.crops.append(ProposedCrop(names.crop_name(base), member, caption=[], comment="its caption file is unreadable"))
    else:
        proposal.implicit += 1


def _folder(folder: Path, pictures: list[Path], proposal: Proposal, names: Names) -> None:
    folder_id = names.source_id(folder.name)
    proposal.sources.append(ProposedSource(folder_id, folder, folder=True,
                                           comment="a folder: every image is a crop of its own unless listed below"))
    for path in pictures:
        _member(folder_id, path, proposal, names)


def _usable(proposal: Proposal) -> bool:
    """Whether the spec will have at least one crop that is not excluded."""
    return proposal.implicit > 0 or any(c.status != "excluded" for c in proposal.crops)


def _trigger_from_captions(proposal: Proposal) -> str | None:
    captions = [c for f in proposal.findings if f.treated_as == "picture"
                for c in [read_sidecar(f.path)[0]] if c]
    return kohya.common_first_tag(captions) if captions else None


def propose(inputs: Inputs, options: InitOptions, names: Names) -> Proposal:
    """Everything init will write, decided before anything is written."""
    proposal = Proposal(warnings=list(inputs.notes))
    for path in inputs.images:
        _image(path, proposal, names)
    for folder, pictures in inputs.folders:
        _folder(folder, pictures, proposal, names)
    settings = None
    for dataset in inputs.kohya:
        settings = settings or kohya.settle(dataset, options.trigger, options.class_tokens)
        if settings is None:
            raise MissingOption("no trigger word found in the captions or folder names; give --trigger WORD")
        kohya.add_dataset(dataset, settings, proposal, names)
    if not _usable(proposal):
        reasons = "; ".join(f.note for f in proposal.findings if f.note) or "no images"
        raise InitError(f"nothing to make a spec from: {reasons}")
    proposal.trigger = options.trigger or (settings.trigger if settings else None) or _trigger_from_captions(proposal) or ""
    proposal.class_tokens = options.class_tokens or (settings.class_tokens if settings else "")
    proposal.num_repeats = options.repeats or (settings.num_repeats if settings else 10)
    proposal.resolution = options.resolution or (settings.resolution if settings and settings.resolution else 512)
    proposal.subset_dir = settings.subset_dir if settings else None
    proposal.name = options.name or slug(proposal.trigger, "dataset").lower()
    return proposal
