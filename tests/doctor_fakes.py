"""Real stand-ins for the doctor tests: nvidia-smi shims on PATH, local git repos, a venv with a fake torch."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

FIXTURES = Path(__file__).parent / "fixtures" / "nvidia-smi"
SD_SCRIPTS_FILES = (
    "train_network.py",
    "library/train_util.py",
    "sdxl_train_network.py",
    "sd3_train_network.py",
    "flux_train_network.py",
)


@dataclass(frozen=True)
class Rule:
    """When nvidia-smi's arguments contain `match` ('' = always), print `fixture`, sleep `sleep` s, exit `code`."""

    match: str
    fixture: str | None = None
    code: int = 0
    sleep: int = 0


def isolated_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH holding only git, so the machine's own nvidia-smi (if any) never leaks into a test."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    git = shutil.which("git")
    if git and not (bin_dir / "git").exists():
        (bin_dir / "git").symlink_to(git)
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


def nvidia_smi_shim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rules: list[Rule]) -> Path:
    """Write an executable `nvidia-smi` shell script that answers by the first matching rule, first on PATH."""
    # Absolute paths: the shim runs under the isolated PATH, which holds no cat or sleep.
    cat, sleep = shutil.which("cat"), shutil.which("sleep")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")]))
    cases = []
    for rule in rules:
        body = [f"{cat} '{FIXTURES / rule.fixture}'"] if rule.fixture else []
        if rule.sleep:
            body.append(f"{sleep} {rule.sleep}")  # a child of the shell, as a wrapper script would have
        body.append(f"exit {rule.code}")
        cases.append(f"  *{rule.match}*) {'; '.join(body)} ;;")
    script = '#!/bin/sh\ncase "$*" in\n' + "\n".join(cases) + "\nesac\n"
    shim = bin_dir / "nvidia-smi"
    shim.write_text(script, encoding="utf-8")
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return shim


def gpu_rules(name: str) -> list[Rule]:
    """The query and the plain table of one fixture pair, e.g. 'h200'."""
    return [Rule("--query-gpu", f"{name}-query.txt"), Rule("", f"{name}-plain.txt")]


# --- a fake driver: nvidia-smi that answers every query form from one case of cases.toml ------------------

CASES = FIXTURES / "cases.toml"
_FAKE_DRIVER = r'''#!{python}
import json, sys

CASE = json.loads({case!r})
FIXTURES = {fixtures!r}
UNITS = {{"memory.total": " [MiB]", "memory.free": " [MiB]", "memory.used": " [MiB]"}}


def known(field):
    major = int(CASE["smi"].split(".")[0])
    if field == "mig.mode.current":
        return major >= 450
    if field == "compute_cap":
        return major >= 510
    return field in ("index", "name", "memory.total", "memory.free", "memory.used", "driver_version")


def value(gpu, field, units):
    if field in ("memory.total", "memory.free", "memory.used"):
        total, free = gpu["memory_total"], gpu["memory_free"]
        if isinstance(total, str):
            return total
        mib = {{"memory.total": total, "memory.free": free, "memory.used": total - free}}[field]
        return f"{{mib}} MiB" if units else str(mib)
    key = {{"driver_version": "driver", "mig.mode.current": "mig", "compute_cap": "compute_cap"}}.get(field, field)
    return str(gpu[key])


def query(spec, form):
    fields = spec.split(",")
    for field in fields:
        if not known(field):
            print(f'Field "{{field}}" is not a valid field to query.\n')
            sys.exit(2)
    options = form.split(",")
    units = "nounits" not in options
    lines = [] if "noheader" in options else [", ".join(f + (UNITS.get(f, "") if units else "") for f in fields)]
    lines += [", ".join(value(g, f, units) for f in fields) for g in CASE["gpu"]]
    print("\n".join(lines))


def show(name):
    if name == "list" and name not in CASE:  # no paste of -L for this machine: the driver's format, no MIG
        print("\n".join(f"GPU {{g['index']}}: {{g['name']}} (UUID: GPU-{{g['index']:08d}})" for g in CASE["gpu"]))
        return
    sys.stdout.write(open(FIXTURES + "/" + CASE[name], encoding="utf-8").read())


args = sys.argv[1:]
spec = next((a.split("=", 1)[1] for a in args if a.startswith("--query-gpu=")), None)
form = next((a.split("=", 1)[1] for a in args if a.startswith("--format=")), "csv")
if spec is not None:
    query(spec, form)
elif args == ["-L"]:
    show("list")
elif not args:
    show("plain")
else:
    print("Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.")
    sys.exit(2)
'''


def load_cases() -> dict:
    import toml

    return toml.loads(CASES.read_text(encoding="utf-8"))


def fake_driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> Path:
    """An executable `nvidia-smi`, first on PATH, that answers like the driver of `case` in cases.toml."""
    import json

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")]))
    script = _FAKE_DRIVER.format(python=sys.executable, case=json.dumps(load_cases()[case]), fixtures=str(FIXTURES))
    shim = bin_dir / "nvidia-smi"
    shim.write_text(script, encoding="utf-8")
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return shim


# --- git -------------------------------------------------------------------------------------------


def allow_file_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let git clone file:// submodules in the tests' own environment only (never in the product)."""
    for key, value in {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "protocol.file.allow",
        "GIT_CONFIG_VALUE_0": "always",
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }.items():
        monkeypatch.setenv(key, value)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def make_sd_scripts_repo(path: Path) -> str:
    """A local 'sd-scripts' repository with the files training needs; returns its HEAD commit."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    for name in SD_SCRIPTS_FILES:
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(f"# {name}\n", encoding="utf-8")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "sd-scripts")
    return git(path, "rev-parse", "HEAD")


def make_kohya_superproject(path: Path, sd_scripts: Path) -> None:
    """A local 'kohya_ss' repository holding sd_scripts as the submodule `sd-scripts` (file:// URL)."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / "kohya_gui.py").write_text("# GUI\n", encoding="utf-8")
    git(path, "submodule", "add", "-q", sd_scripts.as_uri(), "sd-scripts")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "kohya_ss")


@dataclass(frozen=True)
class Upstream:
    sd_scripts: Path
    kohya_ss: Path
    pinned: str


def make_upstream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Upstream:
    allow_file_protocol(monkeypatch)
    sd = tmp_path / "upstream" / "sd-scripts"
    pinned = make_sd_scripts_repo(sd)
    kohya = tmp_path / "upstream" / "kohya_ss"
    make_kohya_superproject(kohya, sd)
    return Upstream(sd, kohya, pinned)


def clone(upstream: Upstream, dest: Path, recursive: bool = False) -> Path:
    args = ["clone", "-q", *(["--recursive"] if recursive else []), upstream.kohya_ss.as_uri(), str(dest)]
    git(dest.parent, *args)
    return dest


# --- the kohya venv --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeTorch:
    version: str = "2.7.0+cu128"
    cuda: str | None = "12.8"
    available: bool = True
    arch_list: tuple[str, ...] = ("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120")


def make_venv(root: Path, torch: FakeTorch | None, packages: dict[str, str]) -> Path:
    """A real venv at root/venv whose site-packages holds a tiny fake `torch` and dist-info for `packages`."""
    venv.create(root / "venv", with_pip=False, symlinks=os.name != "nt")
    site = next((root / "venv").glob("lib/python*/site-packages"))
    if torch is not None:
        (site / "torch").mkdir()
        (site / "torch" / "__init__.py").write_text(_torch_source(torch), encoding="utf-8")
    for name, version in packages.items():
        info = site / f"{name}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    return root / "venv" / "bin" / "python"


def _torch_source(torch: FakeTorch) -> str:
    return (
        f"__version__ = {torch.version!r}\n"
        "class version:\n"
        f"    cuda = {torch.cuda!r}\n"
        "class cuda:\n"
        "    @staticmethod\n"
        f"    def is_available():\n        return {torch.available!r}\n"
        "    @staticmethod\n"
        f"    def get_arch_list():\n        return {list(torch.arch_list)!r}\n"
    )


def python_version() -> str:
    return ".".join(map(str, sys.version_info[:3]))


def doctor(*args: str) -> tuple[int, dict]:
    """`kohya-prep doctor --json ARGS`: its exit code and its report."""
    from kohya_prep.cli import cli

    result = CliRunner().invoke(cli, ["doctor", "--json", *args])
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture
def upstream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Upstream:
    """kohya_ss and sd-scripts as local repositories, with an H200 shim so the machine's own nvidia-smi is never run."""
    nvidia_smi_shim(tmp_path, monkeypatch, gpu_rules("h200"))
    return make_upstream(tmp_path, monkeypatch)
