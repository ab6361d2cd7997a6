"""`dataset adopt`: captions edited in the built dataset (taggui, BooruDatasetTagManager) taken back into the spec.

Tag editors rewrite the built `.txt` files in place, and a build stops on a file changed after it wrote it. adopt
finds those files through the manifest, writes each edited caption into its crop (the crop's own tags: the trigger
and the shared `tags` are added by the build anyway), keeps the spec's formatting and comments (tomlkit), and
marks the files in the manifest as taken back, so the next build rewrites exactly them, tidied, and nothing else.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

import tomlkit
from tomlkit.items import AoT, Table

from kohya_prep.build.caption_text import normalize_caption, swap_left_right
from kohya_prep.build.fsops import build_lock
from kohya_prep.build.manifest import FileRecord, Manifest, read_manifest, write_manifest
from kohya_prep.build.plan import MANIFEST_NAME
from kohya_prep.build.run import lock_path
from kohya_prep.errors import InitError
from kohya_prep.init.specfile import read_document, validated
from kohya_prep.init.specfile import replace as replace_spec
from kohya_prep.output import Notice
from kohya_prep.spec import FLIP_SUFFIX, CropSpec, DatasetSpec, load_spec
from kohya_prep.tags import split_tags


@dataclass(frozen=True)
class Edit:
    """A built caption file whose bytes differ from what the build wrote."""

    relpath: str
    owner: str
    text: str  # its first line
    record: FileRecord


@dataclass(frozen=True)
class Adopted:
    crop: str
    files: tuple[str, ...]
    old: str  # the caption the spec gave
    new: str  # the crop's caption now (its own tags)
    listed: bool  # a folder image that gets its own [[crops]] table


@dataclass(frozen=True)
class AdoptResult:
    spec_path: Path
    adopted: tuple[Adopted, ...]
    warnings: tuple[Notice, ...]
    dry_run: bool


def _edits(spec: DatasetSpec, manifest: Manifest, warnings: list[Notice]) -> list[Edit]:
    """Every train caption changed since the build; other changed outputs are named in a warning."""
    found = []
    for relpath, record in sorted(manifest.files.items()):
        path = spec.root / relpath
        try:
            data = path.read_bytes()
        except OSError:
            continue  # gone: the next build writes it again
        if hashlib.sha256(data).hexdigest() == record.sha256:
            continue
        if record.kind != "caption" or not relpath.startswith("train/"):
            what = "reg captions are the [reg] class words" if record.kind == "caption" else "adopt takes back captions only"
            warnings.append(Notice("adopt-skipped", f"{relpath} changed after the build; {what}", str(path)))
            continue
        try:
            lines = data.decode("utf-8-sig").splitlines()
        except UnicodeDecodeError:
            warnings.append(Notice("adopt-skipped", f"{relpath} is not UTF-8 text; save it as UTF-8", str(path)))
            continue
        if len(lines) > 1:
            warnings.append(Notice("adopt-lines", f"{relpath} has {len(lines)} lines; sd-scripts reads the first only, "
                                                  "so that one is adopted", str(path)))
        found.append(Edit(relpath, record.owner, lines[0].strip() if lines else "", record))
    return found


def _wanted_caption(crop: CropSpec, edits: list[Edit], warnings: list[Notice]) -> str | None:
    """The caption the edits ask for (a flip's edit swapped back), or None when the edits disagree."""
    base = [e for e in edits if Path(e.relpath).stem == crop.name]
    flips = [e for e in edits if Path(e.relpath).stem == crop.name + FLIP_SUFFIX]
    if base and flips and split_tags(swap_left_right(flips[0].text)) != split_tags(base[0].text):
        warnings.append(Notice("adopt-conflict", f"{base[0].relpath} and {flips[0].relpath} were edited differently; "
                                                 "make the mirror's caption match (left and right swapped), then adopt again",
                               base[0].relpath))
        return None
    return base[0].text if base else swap_left_right(flips[0].text)


def _own_tags(spec: DatasetSpec, crop: CropSpec, wanted: str, warnings: list[Notice]) -> list[str]:
    """The wanted caption less the trigger and the shared tags (the build puts those back in front)."""
    shared = [*spec.tags, *spec.sources[crop.source].tags]
    tags = split_tags(normalize_caption(wanted, spec.trigger))[1:]
    lowered = {t.lower() for t in tags}
    dropped = [t for t in shared if t.lower() not in lowered]
    if dropped:
        warnings.append(Notice("adopt-shared", f"crop '{crop.name}': the edit drops {', '.join(map(repr, dropped))}, which "
                                               "every crop shares through `tags`; remove it there to drop it everywhere",
                               fix="edit the [dataset] or source tags"))
    shared_lower = {t.lower() for t in shared}
    return [t for t in tags if t.lower() not in shared_lower]


def _own_caption(spec: DatasetSpec, crop: CropSpec) -> str:
    """The crop's caption without the shared tags: what its table (or sidecar) says."""
    shared = {t.lower() for t in (*spec.tags, *spec.sources[crop.source].tags)}
    return ", ".join(t for t in split_tags(crop.caption) if t.lower() not in shared)


def _crop_tables(doc: tomlkit.TOMLDocument) -> AoT:
    crops = doc.get("crops")
    if not isinstance(crops, AoT):
        crops = tomlkit.aot()
        doc.add(tomlkit.nl())
        doc.add("crops", crops)
    return crops


def _set_caption(doc: tomlkit.TOMLDocument, crop: CropSpec, tags: list[str]) -> bool:
    """Write the crop's caption into its table, in the form it had; a folder image gets a table. True if listed anew."""
    crops = _crop_tables(doc)
    table = next((t for t in crops if isinstance(t, Table) and t.get("name") == crop.name), None)
    value = tomlkit.array()
    value.extend(tags)
    if table is None:
        table = tomlkit.table()
        table.add(tomlkit.comment("caption taken back from the built dataset by `kohya-prep dataset adopt`"))
        table.add("name", crop.name)
        table.add("source", crop.source)
        table.add("caption", value)
        crops.append(table)
        return True
    if isinstance(table.get("caption"), str):
        table["caption"] = ", ".join(tags)
    else:
        table["caption"] = value
    return False


def _take_back(manifest: Manifest, spec: DatasetSpec, edits: list[Edit]) -> Manifest:
    """The manifest with the adopted files recorded as they are now: the build may rewrite them."""
    files = dict(manifest.files)
    for edit in edits:
        stat = os.stat(spec.root / edit.relpath)
        sha = hashlib.sha256((spec.root / edit.relpath).read_bytes()).hexdigest()
        files[edit.relpath] = replace(edit.record, sha256=sha, size=stat.st_size, mtime_ns=stat.st_mtime_ns)
    return replace(manifest, files=files)


def _adopt_crops(spec: DatasetSpec, doc: tomlkit.TOMLDocument, edits: list[Edit],
                 warnings: list[Notice]) -> tuple[list[Adopted], list[Edit]]:
    crops = {c.name: c for c in spec.crops}
    adopted, taken = [], []
    for owner in sorted({e.owner for e in edits}):
        mine = [e for e in edits if e.owner == owner]
        crop = crops.get(owner)
        if crop is None:
            warnings.append(Notice("adopt-skipped", f"{mine[0].relpath} belongs to crop '{owner}', which is no longer in "
                                                    "the spec; the next build removes it", mine[0].relpath))
            continue
        wanted = _wanted_caption(crop, mine, warnings)
        if wanted is None:
            continue
        tags = _own_tags(spec, crop, wanted, warnings)
        listed = _set_caption(doc, crop, tags)
        adopted.append(Adopted(owner, tuple(e.relpath for e in mine), _own_caption(spec, crop), ", ".join(tags), listed))
        taken += mine
    return adopted, taken


def run_adopt(spec_path: Path, dry_run: bool = False) -> AdoptResult:
    """Take every edited train caption back into the spec (with dry_run: only say what would change)."""
    spec_path = spec_path.absolute()
    spec = load_spec(spec_path)
    with build_lock(lock_path(spec.root)):
        manifest = read_manifest(spec.root / MANIFEST_NAME)
        if manifest is None:
            raise InitError(f"no build of '{spec.name}' at {spec.root}; adopt takes back captions edited after a build: "
                            f"run kohya-prep dataset build {spec_path} first")
        warnings: list[Notice] = []
        doc = read_document(spec_path)
        adopted, taken = _adopt_crops(spec, doc, _edits(spec, manifest, warnings), warnings)
        if adopted and not dry_run:
            text, _new = validated(doc, spec_path)
            replace_spec(spec_path, text)
            write_manifest(spec.root / MANIFEST_NAME, _take_back(manifest, spec, taken))
    return AdoptResult(spec_path, tuple(adopted), tuple(warnings), dry_run)
