"""Where sd-scripts and the kohya venv's interpreter are, for the launch scripts (doctor's locator)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kohya_prep.doctor.locate import find_install


@dataclass(frozen=True)
class Located:
    """sd-scripts' folder and the interpreter to launch it with; None where not found."""

    sd_scripts_dir: Path | None
    python: Path | None


def locate(kohya_dir: Path | None) -> Located:
    """The install at --kohya-dir (DoctorError when it is none), else the first one doctor's search finds."""
    install = find_install(explicit=kohya_dir, cwd=Path.cwd())
    if install is None:
        return Located(None, None)
    return Located(install.sd_scripts_dir, install.python)
