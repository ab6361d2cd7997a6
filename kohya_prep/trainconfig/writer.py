"""Writes the file set, and never over a file kohya-prep did not write.

A small manifest in the output folder records each file's hash. A file with one of our names is replaced only if
the manifest lists it and it is unchanged since; anything else (a foreign file, a hand edit) stops the run
before any file is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path

from kohya_prep.errors import ConfigError

MANIFEST = ".kohya-prep-train-config.json"
EXECUTABLE = ("train.sh",)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _recorded(out_dir: Path) -> dict[str, str]:
    try:
        data = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
        files = data.get("files", {})
        return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}
    except (OSError, ValueError):
        return {}


def refusals(out_dir: Path, names: list[str]) -> list[str]:
    """The files among `names` that exist in `out_dir` and are not ours to replace, with why."""
    recorded = _recorded(out_dir)
    problems = []
    for name in names:
        path = out_dir / name
        if not path.exists():
            continue
        if name not in recorded:
            problems.append(f"{path} was not written by kohya-prep")
        elif not path.is_file() or _sha256(path.read_bytes()) != recorded[name]:
            problems.append(f"{path} was changed after kohya-prep wrote it")
    return problems


def write_files(out_dir: Path, files: dict[str, str]) -> list[Path]:
    """Write every file (atomically, one by one) and the manifest; ConfigError before writing if any is refused."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot create the output folder {out_dir} ({err.strerror}); pass --out DIR.") from err
    problems = refusals(out_dir, list(files))
    if problems:
        detail = "; ".join(problems)
        raise ConfigError(f"{detail}; move or delete it, or pass --out DIR to write the set elsewhere.")
    written = []
    recorded = _recorded(out_dir)
    for name, text in files.items():
        data = text.encode("utf-8")
        _atomic_write(out_dir / name, data, executable=name in EXECUTABLE)
        recorded[name] = _sha256(data)
        written.append(out_dir / name)
    manifest = json.dumps({"tool": "kohya-prep train-config", "files": recorded}, indent=1, sort_keys=True) + "\n"
    _atomic_write(out_dir / MANIFEST, manifest.encode("utf-8"), executable=False)
    return written


def _atomic_write(path: Path, data: bytes, executable: bool) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".kp-tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        mode = 0o755 if executable else 0o644
        os.chmod(tmp, mode & ~_umask() | (stat.S_IXUSR if executable else 0))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
