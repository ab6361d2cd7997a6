"""The build's inputs on disk: source hashes (trusted by size and mtime unless --verify) and the user's reg images."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kohya_prep.build.manifest import Manifest, SourceRecord
from kohya_prep.build.plan import RegSource, reg_stem
from kohya_prep.errors import BuildError
from kohya_prep.spec import DatasetSpec, read_image_header

REG_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
HASH_CHUNK = 1 << 20


def hash_file(path: Path | str) -> str:
    """The SHA-256 of a file, read a megabyte at a time (hashlib releases the GIL for each)."""
    sha = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(HASH_CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def _trusted(path: Path, previous: SourceRecord | None, verify: bool) -> SourceRecord | None:
    """The last build's record of a source when its size and mtime still match it (never with --verify)."""
    stat = path.stat()
    if previous and not verify and previous.path == str(path) and (previous.size, previous.mtime_ns) == (
            stat.st_size, stat.st_mtime_ns):
        return previous
    return None


def _hashed(path: Path) -> SourceRecord:
    """A new record: size and mtime as seen before the hash, so a file that changes meanwhile is hashed again next time."""
    stat = path.stat()
    return SourceRecord(str(path), hash_file(path), stat.st_size, stat.st_mtime_ns)


def source_records(spec: DatasetSpec, reg_sources: list[RegSource], previous: Manifest | None, verify: bool,
                   before_hashing: Callable[[], None] | None = None) -> dict[str, SourceRecord]:
    """A record per source that some crop uses, and per reg image. Sources whose size and mtime changed (all of
    them on a first build) are hashed on one thread per core; `before_hashing` is called first when there are
    any, so the caller can start work that hashing's I/O leaves room for."""
    old = previous.sources if previous else {}
    used = {crop.source for crop in spec.crops}
    paths = {sid: s.path for sid, s in spec.sources.items() if sid in used}
    paths.update({r.id: Path(r.path) for r in reg_sources})
    records = {sid: _trusted(path, old.get(sid), verify) for sid, path in paths.items()}
    todo = [sid for sid, record in records.items() if record is None]
    if todo and before_hashing is not None:
        before_hashing()
    workers = min(len(todo), os.cpu_count() or 1)
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            records.update(zip(todo, pool.map(_hashed, [paths[sid] for sid in todo]), strict=True))
    else:
        records.update({sid: _hashed(paths[sid]) for sid in todo})
    return {sid: record for sid, record in records.items() if record is not None}


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
