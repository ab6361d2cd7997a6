"""The [sources] table: an id per source image (or per folder or glob of images), its file, and its size.

A source is a path, relative to the spec: one image, a folder (its images, not its sub-folders) or a glob
(`photos = "raw/*.jpg"`). It may also be a table, `sheet = { path = "...", tags = ["white background"] }`,
whose tags every crop cut from it shares. Each image a folder or glob finds is a source of its own, named
`<id>/<path below the folder>` (`photos/a.jpg`), so a [[crops]] table can name it.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from kohya_prep.spec.captions import read_sidecar, tag_list
from kohya_prep.spec.fields import Problems, check_keys
from kohya_prep.spec.headers import read_source_header
from kohya_prep.spec.model import SourceSpec
from kohya_prep.spec.names import path_text_problem

SOURCE_KEYS = ("path", "tags")
# What a folder or glob source picks up (case-insensitive): every format Pillow reads that art comes in.
FOLDER_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
_GLOB_MAGIC = ("*", "?", "[")


@dataclass
class SourceTable:
    """The [sources] table, validated: readable images by id, and what crops may name."""

    images: dict[str, SourceSpec] = field(default_factory=dict)
    ids: set[str] = field(default_factory=set)  # every id a crop may name, readable or not
    top_ids: list[str] = field(default_factory=list)  # the ids as written in [sources]
    folders: dict[str, str] = field(default_factory=dict)  # folder or glob id -> its path as written
    unreadable: dict[str, str] = field(default_factory=dict)  # folder image id -> why it cannot be read
    sidecar_problems: dict[str, str] = field(default_factory=dict)  # folder image id -> why its caption file fails


def _native(raw: str) -> str:
    # A spec written on Windows may say sources\\sheet.png; on POSIX that is one odd file name.
    return raw.replace("\\", "/") if os.sep == "/" else raw


def _entry(raw: Any, where: str, problems: Problems) -> tuple[str | None, tuple[str, ...]]:
    """The path text and the tags of one [sources] entry (a string, or a table with path and tags)."""
    tags: tuple[str, ...] = ()
    if isinstance(raw, dict):
        check_keys(raw, SOURCE_KEYS, where, problems)
        tags = tag_list(raw.get("tags", []), where, "tags", problems) or ()
        raw = raw.get("path")
    if not isinstance(raw, str) or not raw.strip():
        problems.add(where, f"{raw!r} must be an image path in quotes, relative to the spec (or a folder, or a glob)")
        return None, tags
    problem = path_text_problem(raw)
    if problem:
        problems.add(where, f"{raw!r} cannot be a file path: {problem}")
        return None, tags
    return raw, tags


def is_folder_image(name: str) -> bool:
    return not name.startswith(".") and PurePosixPath(name).suffix.lower() in FOLDER_IMAGE_SUFFIXES


def folder_images(base: Path, raw: str) -> tuple[Path, list[Path]] | None:
    """(the folder ids are relative to, the images found) for a folder or glob source; None for a single file."""
    path = (base / _native(raw)).resolve()
    if path.is_dir():
        return path, sorted(p for p in path.iterdir() if p.is_file() and is_folder_image(p.name))
    if path.exists() or not any(magic in raw for magic in _GLOB_MAGIC):
        return None
    parts = PurePosixPath(_native(raw)).parts
    static = next(i for i, part in enumerate(parts) if any(magic in part for magic in _GLOB_MAGIC))
    top = Path(os.path.normpath(base.joinpath(*parts[:static])))
    found = (Path(os.path.normpath(base / f)) for f in glob.glob(_native(raw), root_dir=base, recursive=True))
    return top, sorted(p for p in found if p.is_file() and is_folder_image(p.name))


def _single(source_id: str, raw: str, base: Path, tags: tuple[str, ...], table: SourceTable, problems: Problems) -> None:
    where = f"source {source_id!r}"
    path = (base / _native(raw)).resolve()
    if not path.is_file():
        problems.add(where, f"file {raw!r} not found (looked at {path}); fix the path or add the file")
        return
    try:
        size, jpeg, alpha = read_source_header(path)
    except (OSError, SyntaxError, ValueError) as err:
        problems.add(where, f"{raw!r} is not a readable image ({err}); re-export it as PNG or JPEG")
        return
    table.images[source_id] = SourceSpec(source_id, path, size, jpeg, alpha=alpha, tags=tags)


def _folder(source_id: str, raw: str, top: Path, images: list[Path], tags: tuple[str, ...], table: SourceTable,
            problems: Problems) -> None:
    """Every image the folder or glob finds becomes a source `<id>/<path below the folder>`."""
    where = f"source {source_id!r}"
    table.folders[source_id] = raw
    if not images:
        problems.add(where, f"{raw!r} finds no images ({', '.join(FOLDER_IMAGE_SUFFIXES)}); add images or fix the path")
        return
    for image in images:
        member = f"{source_id}/{image.relative_to(top).as_posix()}"
        table.ids.add(member)
        try:
            size, jpeg, alpha = read_source_header(image)
        except (OSError, SyntaxError, ValueError) as err:
            table.unreadable[member] = f"{image.name} is not a readable image ({err})"
            continue
        caption, problem = read_sidecar(image)
        if problem:  # a problem only for a crop that takes its caption from the file (crops.py)
            table.sidecar_problems[member] = f"{image.relative_to(top).as_posix()}: {problem}"
        table.images[member] = SourceSpec(member, image, size, jpeg, alpha=alpha, tags=tags, folder=source_id,
                                          sidecar=caption)


def sources_section(data: dict[str, Any], base: Path, problems: Problems) -> SourceTable:
    table = data.get("sources")
    sources = SourceTable()
    if not isinstance(table, dict) or not table:
        problems.add("", "[sources] is missing or empty; map an id to an image path, e.g. sheet = 'sources/sheet.png'")
        return sources
    for source_id, raw_entry in table.items():
        sources.ids.add(source_id)
        sources.top_ids.append(source_id)
        raw, tags = _entry(raw_entry, f"source {source_id!r}", problems)
        if raw is None:
            continue
        try:
            listing = folder_images(base, raw)
        except (OSError, RuntimeError):  # RuntimeError: a symlink loop on Python < 3.13
            problems.add(f"source {source_id!r}", f"{raw!r} is a symlink loop; point it at the image file or folder")
            continue
        if listing is None:
            _single(source_id, raw, base, tags, sources, problems)
        else:
            _folder(source_id, raw, *listing, tags, sources, problems)
    return sources
