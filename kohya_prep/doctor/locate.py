"""Find the kohya install (a bmaltais/kohya_ss GUI checkout or a bare kohya-ss/sd-scripts clone) and its venv.

Search order: --kohya-dir; the install that contains the current folder (so running from inside
~/tools/kohya_ss finds that one, not ~/kohya_ss); $KOHYA_SS_DIR; ~/kohya_ss; ~/tools/kohya_ss. The venv: --venv
or $KOHYA_VENV (a conda env, a GUI-managed venv elsewhere), else venv/ or .venv/ in the install.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from kohya_prep.doctor.checks import CheckResult, fail, ok
from kohya_prep.errors import DoctorError

InstallKind = Literal["kohya_ss", "sd-scripts"]
KOHYA_SS: InstallKind = "kohya_ss"
SD_SCRIPTS: InstallKind = "sd-scripts"
CLONE_FIX = "git clone --recursive https://github.com/bmaltais/kohya_ss.git ~/kohya_ss, or pass --kohya-dir PATH"
VENV_ENV = "KOHYA_VENV"
# Where a venv (POSIX, Windows) or a conda env (POSIX, Windows) keeps its interpreter.
INTERPRETERS = ("bin/python", "bin/python3", "Scripts/python.exe", "python.exe")


@dataclass(frozen=True)
class Install:
    """A located install; `python` is its venv interpreter when one exists."""

    root: Path
    kind: InstallKind
    sd_scripts_dir: Path
    python: Path | None
    python_from: str = "install"  # "install" (venv/ or .venv/), "--venv" or "$KOHYA_VENV"

    def to_dict(self) -> dict[str, str | None]:
        return {
            "root": str(self.root),
            "kind": self.kind,
            "sd_scripts_dir": str(self.sd_scripts_dir),
            "python": str(self.python) if self.python else None,
            "python_from": self.python_from if self.python else None,
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
    """The interpreter of `venv/` or `.venv/` under root; a broken link counts (the probe says it is broken)."""
    for venv in ("venv", ".venv"):
        found = interpreter(root / venv)
        if found is not None:
            return found
    return None


def interpreter(venv: Path) -> Path | None:
    """The Python of a venv or conda env folder (or the interpreter itself), even when its link is broken."""
    if venv.is_file() or (venv.is_symlink() and not venv.is_dir()):
        return venv
    return next((venv / exe for exe in INTERPRETERS if os.path.lexists(venv / exe)), None)


def find_install(explicit: Path | None = None, cwd: Path | None = None, venv: Path | None = None) -> Install | None:
    """Locate the install; an explicit --kohya-dir or --venv that is not one raises DoctorError instead of searching on."""
    install = _explicit(explicit) if explicit is not None else _search((cwd or Path.cwd()).resolve())
    if install is None:
        return None
    chosen = chosen_venv(venv)
    return replace(install, python=chosen[0], python_from=chosen[1]) if chosen else install


def _search(cwd: Path) -> Install | None:
    inside = _containing(cwd)
    if inside is not None:
        return inside
    found = [Path(os.environ["KOHYA_SS_DIR"]).expanduser()] if os.environ.get("KOHYA_SS_DIR") else []
    home = Path.home()
    for path in (*found, home / "kohya_ss", home / "tools" / "kohya_ss"):
        install = classify(path) if path.is_dir() else None
        if install is not None:
            return install
    return None


def _containing(cwd: Path) -> Install | None:
    """The install the current folder is in; inside kohya_ss/sd-scripts that is kohya_ss, not the bare clone."""
    for path in (cwd, *cwd.parents):
        install = classify(path) if path.is_dir() else None
        if install is None:
            continue
        above = classify(path.parent) if install.kind == SD_SCRIPTS else None
        return above if above is not None and above.kind == KOHYA_SS and above.sd_scripts_dir == path else install
    return None


def chosen_venv(venv: Path | None) -> tuple[Path, str] | None:
    if venv is not None:
        return _venv_interpreter(venv, "--venv"), "--venv"
    if os.environ.get(VENV_ENV):
        return _venv_interpreter(Path(os.environ[VENV_ENV]), f"${VENV_ENV}"), f"${VENV_ENV}"
    return None


def _venv_interpreter(path: Path, given_by: str) -> Path:
    path = path.expanduser().absolute()
    found = interpreter(path)
    if found is None:
        shown = f"{given_by} {path}" if given_by == "--venv" else f"{given_by}={path}"
        raise DoctorError(f"{shown} holds no Python interpreter (looked for {', '.join(INTERPRETERS)}); pass the venv's "
                          "or conda env's folder, or its python.")
    return found


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
