"""The spec file as a TOML document that keeps its formatting: written new, appended to, or edited in place.

tomlkit round-trips a file: comments, order, blank lines and quoting survive a parse and a dump, so --add and
`dataset adopt` change only what they mean to change. A new spec is never written over an existing file;
an edited one is replaced atomically (a reader sees the old file or the new one).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Table

from kohya_prep.errors import InitError, SpecError
from kohya_prep.init.model import Proposal, ProposedCrop, ProposedSource
from kohya_prep.spec import DatasetSpec, validate_spec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

HEADER = """\
Written by `kohya-prep dataset init`. Edit freely: `dataset init --add` and `dataset adopt` keep your edits,
comments and order. Paths are relative to this file; README, "The spec", explains every key.
  Review:  kohya-prep dataset build {spec} --preview    (contact sheet and box overlays)
  Build:   kohya-prep dataset build {spec}
Crops found on sheets are status = "speculative": set status = "approved" on the ones to train on."""


def spec_path_text(path: Path, spec_dir: Path) -> str:
    """A path as the spec writes it: relative to the spec's folder when it can be, '/' separators; folders end in '/'."""
    try:
        text = Path(os.path.relpath(path, spec_dir)).as_posix()
    except ValueError:  # another drive on Windows
        text = path.as_posix()
    return text + "/" if path.is_dir() else text


def _comment(table: Table, key: str, text: str) -> None:
    """A comment after the key's value, two spaces from it."""
    table[key].comment(text)
    table[key].trivia.comment_ws = "  "


def _dataset_table(proposal: Proposal) -> Table:
    table = tomlkit.table()
    table.add("name", proposal.name)
    _comment(table, "name", "output folder beside this spec: train/, reg/, preview/")
    table.add("trigger", proposal.trigger)
    _comment(table, "trigger", "written first in every caption, exactly once")
    table.add("class", proposal.class_tokens)
    table.add("repeats", proposal.num_repeats)
    table.add("resolution", proposal.resolution)
    default_dir = f"{proposal.num_repeats}_{proposal.trigger} {proposal.class_tokens}"
    if proposal.subset_dir and proposal.subset_dir != default_dir:
        table.add("subset_dir", proposal.subset_dir)
        _comment(table, "subset_dir", "the original dataset's folder name, kept")
    return table


def _reg_table(proposal: Proposal, spec_dir: Path) -> Table | None:
    reg = proposal.reg
    if reg is None:
        return None
    table = tomlkit.table()
    table.add("class", reg.class_tokens)
    table.add("repeats", reg.num_repeats)
    table.add("dir", spec_path_text(reg.image_dir, spec_dir).rstrip("/"))
    if reg.image_dir.name != f"{reg.num_repeats}_{reg.class_tokens}":
        table.add("subset_dir", reg.image_dir.name)
    return table


def _crop_table(crop: ProposedCrop) -> Table:
    table = tomlkit.table()
    if crop.comment:
        table.add(tomlkit.comment(crop.comment))
    table.add("name", crop.name)
    table.add("source", crop.source)
    if crop.box is not None:
        table.add("box", crop.box)
    if crop.caption is not None:
        caption = tomlkit.array()
        caption.extend(crop.caption)
        table.add("caption", caption)
    table.add("status", crop.status)
    return table


def _add_sources(sources: Table, new: list[ProposedSource], spec_dir: Path) -> None:
    for source in new:
        sources.add(source.id, spec_path_text(source.path, spec_dir))
        if source.comment:
            _comment(sources, source.id, source.comment)


def new_document(proposal: Proposal, spec_path: Path) -> tomlkit.TOMLDocument:
    """A whole new spec from a proposal."""
    doc = tomlkit.document()
    for line in HEADER.format(spec=spec_path.name).splitlines():
        doc.add(tomlkit.comment(line))
    doc.add(tomlkit.nl())
    doc.add("dataset", _dataset_table(proposal))
    reg = _reg_table(proposal, spec_path.parent)
    if reg is not None:
        doc.add("reg", reg)
    sources = tomlkit.table()
    _add_sources(sources, proposal.sources, spec_path.parent)
    doc.add("sources", sources)
    if proposal.crops:
        crops = tomlkit.aot()
        for crop in proposal.crops:
            crops.append(_crop_table(crop))
        doc.add("crops", crops)
    return doc


def add_to_document(doc: tomlkit.TOMLDocument, proposal: Proposal, spec_path: Path) -> None:
    """Append a proposal's sources and crops to an existing spec, touching nothing else."""
    sources = doc.get("sources")
    if not isinstance(sources, Table):
        sources = tomlkit.table()
        doc.add("sources", sources)
    _add_sources(sources, proposal.sources, spec_path.parent)
    if not proposal.crops:
        return
    crops = doc.get("crops")
    if not isinstance(crops, AoT):
        crops = tomlkit.aot()
        doc.add(tomlkit.nl())
        doc.add("crops", crops)
    elif len(crops):
        last = crops[-1]
        if not tomlkit.dumps(last).endswith("\n\n"):
            last.add(tomlkit.nl())
    for crop in proposal.crops:
        table = _crop_table(crop)
        table.add(tomlkit.nl())  # appended tables get no blank line of their own
        crops.append(table)


def read_document(path: Path) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomlkit.exceptions.TOMLKitError) as err:
        raise InitError(f"{path}: cannot read it as TOML ({err}); run kohya-prep dataset build {path} to see why") from err


def validated(doc: tomlkit.TOMLDocument, spec_path: Path) -> tuple[str, DatasetSpec]:
    """The document's text and the spec it makes, validated as `dataset build` will read it."""
    text = tomlkit.dumps(doc)
    data: dict[str, Any] = tomllib.loads(text)
    try:
        return text, validate_spec(spec_path, data)
    except SpecError as err:
        raise InitError(f"the spec for {spec_path} would not validate, so nothing was written: {err}") from err


def write_new(path: Path, text: str) -> None:
    """Create the spec; never over an existing file."""
    try:
        with open(path, "x", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    except FileExistsError:
        raise InitError(f"{path} already exists; pass --add to add to it, or give another spec path") from None
    except OSError as err:
        raise InitError(f"cannot write {path} ({err.strerror}); check the folder exists and is writable") from err


def replace(path: Path, text: str) -> None:
    """Write the edited spec beside the old one and rename it over it, keeping its permissions."""
    temp = path.with_name(f".{path.name}.kp-tmp")
    try:
        temp.write_text(text, encoding="utf-8", newline="\n")
        os.chmod(temp, path.stat().st_mode & 0o7777)
        os.replace(temp, path)
    except OSError as err:
        temp.unlink(missing_ok=True)
        raise InitError(f"cannot write {path} ({err.strerror}); it is unchanged") from err
