"""Find the kohya install: a bmaltais/kohya_ss GUI checkout or a bare kohya-ss/sd-scripts clone."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kohya_prep.doctor.checks import CheckResult, fail, ok
from kohya_prep.errors import DoctorError

InstallKind = Literal["kohya_ss", "sd-scripts"]
KOHYA_SS: InstallKind = "kohya_ss"
SD_SCRIPTS: InstallKind = "sd-scripts"
CLONE_FIX = "git clone --recursive https://github.com/bmaltais/kohya_ss.git ~/kohya_ss, or pass --kohya-dir PATH"


@dataclass(frozen=True)
class Install:
    """A located install; `python` is its venv interpreter when one exists."""

    root: Path
    kind: InstallKind
    sd_scripts_dir: Path
    python: Path | None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "root": str(self.root),
            "kind": self.kind,
            "sd_scripts_dir": str(self.sd_scripts_dir),
            "python": str(self.python) if self.python else None,
        }


def classify(path: Path) -> Install | None:
    """The install rooted at `path`, or None when it is neither kind."""
    if (path / "kohya_gui.py").is_file() or _gitmodules_names_sd_scripts(path):
        return Install(path, KOHYA_SS, path / "sd-scripts", venv_python(path))
    if (path / "train_network.py").is_file() and (path / "library").is_dir():
        return Install(path, SD_SCRIPTS, path, venv_python(path))
    return None


def _gitmodules_names_sd_scripts(path: Path) -> bool:
    gitmodules = path / ".gitmodules"
    return gitmodules.is_file() and "sd-scripts" in gitmodules.read_text(encoding="utf-8", errors="replace")


def venv_python(root: Path) -> Path | None:
    """The interpreter of `venv/` or `.venv/` under root (POSIX or Windows layout)."""
    for venv in ("venv", ".venv"):
        for exe in ("bin/python", "Scripts/python.exe"):
            if (root / venv / exe).exists():
                return root / venv / exe
    return None


def candidates(cwd: Path) -> list[Path]:
    """Where to look, in order: $KOHYA_SS_DIR, ~/kohya_ss, ~/tools/kohya_ss, the current folder and its parents."""
    found = [Path(os.environ["KOHYA_SS_DIR"]).expanduser()] if os.environ.get("KOHYA_SS_DIR") else []
    home = Path.home()
    return [*found, home / "kohya_ss", home / "tools" / "kohya_ss", cwd, *cwd.parents]


def find_install(explicit: Path | None = None, cwd: Path | None = None) -> Install | None:
    """Locate the install; an explicit --kohya-dir that is no install raises DoctorError instead of searching on."""
    if explicit is not None:
        return _explicit(explicit)
    for path in candidates((cwd or Path.cwd()).resolve()):
        install = classify(path) if path.is_dir() else None
        if install is not None:
            return install
    return None


def _explicit(path: Path) -> Install:
    path = path.expanduser().resolve()
    if not path.is_dir():
        raise DoctorError(f"--kohya-dir {path} does not exist; pass the folder of your kohya_ss or sd-scripts checkout.")
    install = classify(path)
    if install is None:
        raise DoctorError(
            f"--kohya-dir {path} is neither a kohya_ss checkout (no kohya_gui.py) nor an sd-scripts clone "
            "(no train_network.py); pass the folder that holds one of them."
        )
    return install


def install_check(install: Install | None) -> CheckResult:
    """The `install` row."""
    if install is None:
        return fail("install", "no kohya_ss or sd-scripts install found in the usual places", CLONE_FIX)
    label = "kohya_ss GUI checkout" if install.kind == KOHYA_SS else "bare sd-scripts clone"
    return ok("install", f"{label} at {install.root}")
