"""The build's inputs on disk: source hashes (trusted by size and mtime unless --verify) and the user's reg images."""

from __future__ import annotations

import os
from pathlib import Path

from kohya_prep.build.manifest import Manifest, SourceRecord
from kohya_prep.build.plan import RegSource, digest, reg_stem
from kohya_prep.errors import BuildError
from kohya_prep.spec import DatasetSpec, read_image_header

REG_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def hash_file(path: Path | str) -> str:
    return digest(Path(path).read_bytes())


def source_record(path: Path, previous: SourceRecord | None, verify: bool) -> SourceRecord:
    """Hash a source, trusting size+mtime against the last build's record unless --verify."""
    stat = path.stat()
    old = previous
    if old and not verify and old.path == str(path) and old.size == stat.st_size and old.mtime_ns == stat.st_mtime_ns:
        return old
    return SourceRecord(str(path), hash_file(path), stat.st_size, stat.st_mtime_ns)


def source_records(spec: DatasetSpec, reg_sources: list[RegSource], previous: Manifest | None,
                   verify: bool) -> dict[str, SourceRecord]:
    """A record per source that some crop uses, and per reg image."""
    old = previous.sources if previous else {}
    used = {crop.source for crop in spec.crops}
    records = {sid: source_record(s.path, old.get(sid), verify) for sid, s in spec.sources.items() if sid in used}
    records.update({r.id: source_record(Path(r.path), old.get(r.id), verify) for r in reg_sources})
    return records


def list_reg_sources(spec: DatasetSpec) -> list[RegSource]:
    """The user's reg images, sorted by name, each with a safe unique output stem."""
    if spec.reg.image_dir is None:
        return []
    taken: set[str] = set()
    found, unreadable = [], []
    for path in sorted(spec.reg.image_dir.iterdir()):
        if not path.is_file() or path.suffix.lower() not in REG_EXTENSIONS:
            continue
        try:
            size, jpeg = read_image_header(path)
        except (OSError, SyntaxError, ValueError):
            unreadable.append(path.name)
            continue
        found.append(RegSource(f"reg/{path.name}", str(path), size, reg_stem(path.name, taken), jpeg))
    if unreadable:
        raise BuildError(
            f"reg images in {spec.reg.image_dir} are not readable images: {', '.join(unreadable)}; "
            "re-export or remove them"
        )
    return found


def check_sources_outside(spec: DatasetSpec) -> None:
    """kohya-prep never writes where its sources are."""
    root = Path(os.path.realpath(spec.root))  # never raises, also for a symlink loop (open_root reports it)
    paths = [s.path for s in spec.sources.values()] + ([spec.reg.image_dir] if spec.reg.image_dir else [])
    for path in paths:
        if Path(os.path.realpath(path)).is_relative_to(root):
            raise BuildError(
                f"{path} lies inside the output folder {root}; kohya-prep never writes where its sources are: "
                "move the sources or rename the dataset"
            )
