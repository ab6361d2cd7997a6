"""The wheel holds every package and runs on its own: `kohya-prep --help` and a demo build from the installed wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BUILD_INPUTS = ("kohya_prep", "templates", "pyproject.toml", "setup.py", "README.md")


def _copy_checkout(target: Path) -> Path:
    """The files a wheel is built from, copied (the build writes build/ and *.egg-info beside them)."""
    target.mkdir()
    for name in BUILD_INPUTS:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, target / name)
    return target


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(wheel, site folder): the wheel built from a copy of the checkout and installed into a folder of its own."""
    work = tmp_path_factory.mktemp("wheel")
    source = _copy_checkout(work / "src")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(work / "dist"), str(source)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    wheel = next((work / "dist").glob("kohya_prep-*.whl"))
    site = work / "site"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                                "--target", str(site), str(wheel)], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    return wheel, site


def _packages_in_checkout() -> set[str]:
    found = {"kohya_prep.templates"}
    for init in (REPO / "kohya_prep").rglob("__init__.py"):
        found.add(".".join(init.parent.relative_to(REPO).parts))
    return found


@pytest.mark.slow
def test_the_wheel_holds_every_package_of_the_checkout(installed_wheel: tuple[Path, Path]) -> None:
    wheel, _site = installed_wheel
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    in_wheel = {os.path.dirname(n).replace("/", ".") for n in names if n.endswith("/__init__.py")}
    assert in_wheel == _packages_in_checkout()
    assert {"kohya_prep/templates/sd15.toml", "kohya_prep/templates/sdxl.toml", "kohya_prep/templates/flux.toml"} <= set(names)


@pytest.mark.slow
def test_the_installed_wheel_runs_help_and_builds_the_demo(installed_wheel: tuple[Path, Path], tmp_path: Path) -> None:
    _wheel, site = installed_wheel
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run([sys.executable, "-c", "import kohya_prep; print(kohya_prep.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(site), where.stdout  # the wheel's code, not the checkout's
    script = site / "bin" / "kohya-prep"
    shown = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert shown.returncode == 0 and "dataset" in shown.stdout and "train-config" in shown.stdout, shown.stderr
    shutil.copy2(REPO / "dataset" / "demo.toml", tmp_path / "demo.toml")
    shutil.copytree(REPO / "dataset" / "sources", tmp_path / "sources")
    built = subprocess.run([sys.executable, str(script), "dataset", "build", "demo.toml"], capture_output=True, text=True,
                           env=env, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert len(list((tmp_path / "demo" / "train" / "10_mirakp girl").glob("*.png"))) == 23
    config = subprocess.run([sys.executable, str(script), "train-config", "demo.toml", "--family", "sd15", "--vram", "8"],
                            capture_output=True, text=True, env=env, cwd=tmp_path)
    assert config.returncode == 0, config.stderr  # the presets ship as kohya_prep.templates
    assert (tmp_path / "demo" / "config" / "training.toml").is_file()
