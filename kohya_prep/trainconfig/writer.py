"""Writes the file set as a set (all new or all old), and never over a file kohya-prep did not write.

A small manifest in the output folder records each file's hash. A file with one of our names is replaced only if
the manifest lists it and it is unchanged since; anything else (a foreign file, a hand edit) stops the run
before any file is written.

Every file is first written under a temporary name, so a full disk, a read-only folder or a file-size limit stops
the run with the old set in place. The manifest then records the old and the new hashes as ours before the files
are renamed into place: a run killed among those renames leaves files the next run knows as its own. A rename that
fails puts the old files back.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path

from kohya_prep.errors import ConfigError
from kohya_prep.fserrors import describe, failed_path

MANIFEST = ".kohya-prep-train-config.json"
EXECUTABLE = ("train.sh",)
_TEMP, _BACKUP = ".kp-tmp", ".kp-bak"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _manifest(out_dir: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    tables = {key: data.get(key, {}) for key in ("files", "previous")}
    return {key: {str(k): str(v) for k, v in table.items()} for key, table in tables.items() if isinstance(table, dict)}


def _recorded(out_dir: Path) -> dict[str, str]:
    return _manifest(out_dir).get("files", {})


def refusals(out_dir: Path, names: list[str]) -> list[str]:
    """The files among `names` that exist in `out_dir` and are not ours to replace, with why."""
    manifest = _manifest(out_dir)
    recorded, previous = manifest.get("files", {}), manifest.get("previous", {})
    problems = []
    for name in names:
        path = out_dir / name
        if not os.path.lexists(path):
            continue
        if name not in recorded:
            problems.append(f"{path} was not written by kohya-prep")
        elif not path.is_file() or path.is_symlink() or _sha256(path.read_bytes()) not in (recorded[name], previous.get(name)):
            problems.append(f"{path} was changed after kohya-prep wrote it")
    return problems


def write_files(out_dir: Path, files: dict[str, str]) -> list[Path]:
    """Write every file and the manifest as one set; ConfigError, with the old set in place, if any is refused or
    the file system fails."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(out_dir, [*files, MANIFEST])
        problems = refusals(out_dir, list(files))
    except OSError as err:
        raise ConfigError(f"cannot write the output folder {describe(err, failed_path(err) or str(out_dir))}; "
                          "or pass --out DIR.") from err
    if problems:
        detail = "; ".join(problems)
        raise ConfigError(f"{detail}; move or delete it, or pass --out DIR to write the set elsewhere.")
    data = {name: text.encode("utf-8") for name, text in files.items()}
    recorded = _recorded(out_dir)
    final = {**recorded, **{name: _sha256(blob) for name, blob in data.items()}}
    pending = {"files": final, "previous": {name: recorded[name] for name in data if name in recorded}}
    temps: dict[str, str] = {}
    try:
        for name, blob in data.items():
            temps[name] = _write_temp(out_dir / name, blob, executable=name in EXECUTABLE)
        temps[MANIFEST] = _write_temp(out_dir / MANIFEST, _manifest_text(final), executable=False)
        pending_temp = _write_temp(out_dir / MANIFEST, _manifest_text(**pending), executable=False)
        _swap_in(out_dir, temps, pending_temp)
    except OSError as err:
        raise ConfigError(f"cannot write {describe(err, _named(err, out_dir))}; the files in {out_dir} were left as "
                          "they were.") from err
    finally:
        for temp in temps.values():
            with contextlib.suppress(OSError):
                os.unlink(temp)
    return [out_dir / name for name in files]


def _manifest_text(files: dict[str, str], previous: dict[str, str] | None = None) -> bytes:
    data: dict[str, object] = {"tool": "kohya-prep train-config", "files": files}
    if previous:
        data["previous"] = previous  # during the renames: either hash is ours
    return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode("utf-8")


def _swap_in(out_dir: Path, temps: dict[str, str], pending_temp: str) -> None:
    """Rename the written set into place; on a failure put back what was there."""
    order = [*(name for name in temps if name != MANIFEST), MANIFEST]
    backups: dict[str, str] = {}
    done: list[str] = []
    try:
        for name in order:
            if os.path.lexists(out_dir / name):
                backups[name] = _backup(out_dir / name)
        os.replace(pending_temp, out_dir / MANIFEST)
        done.append(MANIFEST)
        for name in order:
            os.replace(temps[name], out_dir / name)
            done.append(name)
    except OSError:
        _put_back(out_dir, done, backups)
        raise
    finally:
        for leftover in (pending_temp, *backups.values()):
            with contextlib.suppress(OSError):
                os.unlink(leftover)


def _backup(path: Path) -> str:
    """A hard link to the file now at `path` (no space needed), to put it back if the set cannot be completed."""
    backup = path.with_name(f".{path.name}.{os.getpid()}{_BACKUP}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(backup)
    os.link(path, backup, follow_symlinks=False)
    return str(backup)


def _put_back(out_dir: Path, names: list[str], backups: dict[str, str]) -> None:
    for name in names:
        with contextlib.suppress(OSError):
            if name in backups:
                os.replace(backups[name], out_dir / name)
            else:
                os.unlink(out_dir / name)


def _named(err: OSError, out_dir: Path) -> str:
    """The failed file by its real name, not its temporary one."""
    path = failed_path(err) or str(out_dir)
    name = os.path.basename(path)
    if name.endswith((_TEMP, _BACKUP)) and name.startswith("."):
        return str(Path(path).parent / name[1:].rsplit(".", 2)[0])
    return path


def _remove_leftovers(out_dir: Path, names: list[str]) -> None:
    """Temporary files and backups of our names that a killed run left behind."""
    for entry in os.listdir(out_dir):
        if entry.endswith((_TEMP, _BACKUP)) and any(entry.startswith(f".{name}.") for name in names):
            os.unlink(out_dir / entry)


def _write_temp(path: Path, data: bytes, executable: bool) -> str:
    """`data` in a new temporary file beside `path`, with the mode the file will have; its name."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TEMP, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        mode = 0o755 if executable else 0o644
        os.chmod(tmp, mode & ~_umask() | (stat.S_IXUSR if executable else 0))
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError) and err.filename is None:
            err.filename = tmp
        raise
    return tmp


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
