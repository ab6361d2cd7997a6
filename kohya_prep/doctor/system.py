"""The machine around the install: RAM, free disk, a space in the install path, git."""

from __future__ import annotations

import shutil
from pathlib import Path

from kohya_prep.doctor.checks import CheckResult, fail, ok, warn

GB = 1024**3
MIN_RAM_GB = 16  # SDXL checkpoints alone load ~7 GB into RAM before they reach the GPU
MIN_DISK_GB = 10  # latents, sample images and a few saved LoRAs per epoch
FAIL_DISK_GB = 2


def ram_check(total: int, available: int) -> CheckResult:
    line = f"{total / GB:.1f} GB RAM, {available / GB:.1f} GB available"
    if total / GB < MIN_RAM_GB:
        return warn(
            "ram",
            f"{line}; SDXL and FLUX training want 16 GB or more",
            "add --lowram or cache latents to disk, or use a bigger machine",
        )
    return ok("ram", line)


def disk_check(path: Path, free: int) -> CheckResult:
    line = f"{free / GB:.1f} GB free at {path}"
    if free / GB < FAIL_DISK_GB:
        return fail(
            "disk",
            f"{line}; training output and caches will not fit",
            "free space on that disk or pass --data-dir on another one",
        )
    if free / GB < MIN_DISK_GB:
        return warn(
            "disk", f"{line}; latents, samples and saved LoRAs need about {MIN_DISK_GB} GB", "free some space on that disk"
        )
    return ok("disk", line)


def path_check(root: Path) -> CheckResult:
    """kohya_ss refuses to run from a folder whose path contains a space."""
    if " " in str(root):
        return fail(
            "path",
            f"the install path {root} contains a space, which kohya_ss refuses",
            "move the install to a path without spaces, e.g. ~/kohya_ss",
        )
    return ok("path", f"no space in {root}")


def git_check(git_path: str | None) -> CheckResult:
    if git_path is None:
        return fail(
            "git",
            "git is not installed; the sd-scripts submodule cannot be fetched or updated",
            "install git (https://git-scm.com/downloads)",
        )
    return ok("git", f"git at {git_path}")


def system_checks(data_dir: Path, install_root: Path | None) -> list[CheckResult]:
    """Probe psutil and the PATH, then judge."""
    import psutil

    memory = psutil.virtual_memory()
    rows = [ram_check(memory.total, memory.available), disk_check(data_dir, psutil.disk_usage(str(data_dir)).free)]
    if install_root is not None:
        rows.append(path_check(install_root))
    rows.append(git_check(shutil.which("git")))
    return rows
