"""Where sd-scripts and the kohya venv's interpreter are, for the launch scripts (doctor's locator when present)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from kohya_prep.errors import ConfigError


@dataclass(frozen=True)
class Located:
    """sd-scripts' folder and the interpreter to launch it with; None where not found."""

    sd_scripts_dir: Path | None
    python: Path | None


def locate(kohya_dir: Path | None, script: str) -> Located:
    """sd-scripts from --kohya-dir (a kohya_ss checkout or sd-scripts itself), else doctor's search."""
    if kohya_dir is not None and not kohya_dir.is_dir():
        raise ConfigError(f"--kohya-dir {kohya_dir}: no such folder; pass your kohya_ss (or sd-scripts) folder.")
    found = _from_doctor(kohya_dir)
    if found is not None:
        return found
    if kohya_dir is None:
        return Located(None, None)
    root = kohya_dir.resolve()
    for candidate in (root / "sd-scripts", root):
        if (candidate / script).is_file():
            return Located(candidate, _venv_python(root if candidate != root else root.parent))
    return Located(None, None)


def _from_doctor(kohya_dir: Path | None) -> Located | None:
    try:
        from kohya_prep.doctor.locate import find_install
    except ImportError:  # doctor not present in this build
        return None
    install = find_install(explicit=kohya_dir, cwd=Path.cwd())
    if install is None:
        return None
    return Located(install.sd_scripts_dir, install.python)


def _venv_python(kohya_root: Path) -> Path | None:
    names = ("Scripts/python.exe",) if sys.platform == "win32" else ("bin/python", "bin/python3")
    for venv in (kohya_root / "venv", kohya_root / ".venv"):
        for name in names:
            if (venv / name).is_file():
                return venv / name
    return None
