"""The build manifest: what kohya-prep wrote, from which inputs, with which hashes.

It is how a rebuild knows which files are ours (everything else is the user's and is kept), which
outputs are still current (same key, unchanged on disk), and which sources need no re-hashing.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kohya_prep import __version__
from kohya_prep.build.plan import RENDERER_VERSION

TOOL = "kohya-prep"


@dataclass(frozen=True)
class FileRecord:
    sha256: str
    size: int
    mtime_ns: int
    key: str
    kind: str
    owner: str
    fit: dict[str, Any] | None = None  # a bucket fit's FitOutcome.to_data(): how the image was shaped

    def to_data(self) -> dict[str, Any]:
        """The record as JSON data; `fit` only where there is one, so letterbox manifests read as before."""
        data = dict(vars(self))
        if data["fit"] is None:
            del data["fit"]
        return data


@dataclass(frozen=True)
class SourceRecord:
    path: str
    sha256: str
    size: int
    mtime_ns: int


@dataclass
class Manifest:
    spec_path: str = ""
    spec_sha256: str = ""
    sources: dict[str, SourceRecord] = field(default_factory=dict)
    files: dict[str, FileRecord] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)  # the folders the build made (empty ones too: reg/1_girl)
    version: str = __version__
    renderer: int = RENDERER_VERSION

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "tool": TOOL,
            "version": self.version,
            "renderer": self.renderer,
            "spec": {"path": self.spec_path, "sha256": self.spec_sha256},
            # vars() rather than asdict(): asdict deep-copies, and a manifest lists thousands of files
            "sources": {k: dict(vars(v)) for k, v in sorted(self.sources.items())},
            "files": {k: v.to_data() for k, v in sorted(self.files.items())},
            "skipped": self.skipped,
            "dirs": self.dirs,
        }
        return _lines(data)


def _lines(data: dict[str, Any]) -> str:
    """The manifest's JSON with one source or file a line: readable and diffable, and written by json's C encoder
    (an indented dump goes through its pure-Python one: 1 s of a 2,000-crop build, holding the GIL)."""
    fields = []
    for key, value in data.items():
        if key in ("sources", "files") and value:
            records = ",\n".join(f"  {json.dumps(name)}: {json.dumps(record)}" for name, record in value.items())
            fields.append(f" {json.dumps(key)}: {{\n{records}\n }}")
        else:
            fields.append(f" {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(fields) + "\n}\n"


def read_manifest(path: Path) -> Manifest | None:
    """The manifest at `path`, or None when there is none or it is not kohya-prep's."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("tool") != TOOL:
        return None
    try:
        return Manifest(
            spec_path=data["spec"]["path"],
            spec_sha256=data["spec"]["sha256"],
            sources={k: SourceRecord(**v) for k, v in data["sources"].items()},
            files={k: FileRecord(**v) for k, v in data["files"].items()},
            skipped=data.get("skipped", []),
            dirs=[str(d) for d in data.get("dirs", [])],
            version=data.get("version", ""),
            renderer=data.get("renderer", 0),
        )
    except (KeyError, TypeError):
        return None


def write_manifest(path: Path, manifest: Manifest) -> None:
    """Write atomically: a reader sees the old manifest or the new one."""
    tmp = path.with_name(path.name + ".kp-tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(manifest.to_json())
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if err.filename is None:
            err.filename = str(path)
        raise
