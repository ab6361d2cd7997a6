"""Run every doctor check (the slow probes side by side) and apply --fix; report.py renders the result."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from kohya_prep.doctor import accelerate, pyenv, submodule, system
from kohya_prep.doctor.checks import CheckResult, exit_code, warn
from kohya_prep.doctor.fixsub import DEFAULT_GIT_TIMEOUT, fix_submodule
from kohya_prep.doctor.gitrun import Progress
from kohya_prep.doctor.gpu import GpuInfo, GpuProbe, gpu_checks, probe_gpus
from kohya_prep.doctor.host import detect_host
from kohya_prep.doctor.locate import KOHYA_SS, Install, chosen_venv, find_install, install_check
from kohya_prep.doctor.requirements import Floor, install_floors


@dataclass(frozen=True)
class DoctorOptions:
    """What the command line asked for."""

    kohya_dir: Path | None = None
    data_dir: Path = field(default_factory=Path.cwd)
    fix: bool = False
    gpu_timeout: float = 5.0
    venv_timeout: float = 30.0
    to_pinned: bool = False  # --fix --to-pinned: also move a checkout newer than the pin back to it
    git_timeout: float = DEFAULT_GIT_TIMEOUT  # seconds git may stay silent during --fix's fetch
    progress: Progress | None = None  # called with git's progress lines (a terminal shows them)
    venv: Path | None = None  # --venv: the kohya venv (or conda env) when it is not inside the install


@dataclass(frozen=True)
class DoctorReport:
    """Every row, plus the facts train-config uses (GPUs, install) and what --fix changed."""

    checks: list[CheckResult]
    gpus: list[GpuInfo]
    install: Install | None
    fixed: list[str]

    @property
    def exit_code(self) -> int:
        return exit_code(self.checks)

    def to_dict(self) -> dict[str, object]:
        """The command's own fields of the --json envelope."""
        return {
            "checks": [c.to_dict() for c in self.checks],
            "gpus": [g.to_dict() for g in self.gpus],
            "install": self.install.to_dict() if self.install else None,
            "fixed": self.fixed,
        }


def run_doctor(options: DoctorOptions) -> DoctorReport:
    """Locate, probe (nvidia-smi, the venv and git at once), fix what is safe, and judge."""
    install = find_install(options.kohya_dir, venv=options.venv)
    python = install.python if install else (chosen_venv(options.venv) or (None, ""))[0]
    git_path = shutil.which("git")
    host = detect_host()
    floors = install_floors(install.root, install.kind == KOHYA_SS, host) if install else {}
    with ThreadPoolExecutor(max_workers=3) as pool:
        gpu_job = pool.submit(probe_gpus, options.gpu_timeout, host)
        venv_job = pool.submit(pyenv.run_probe, python, options.venv_timeout, pyenv.probe_packages(floors)) \
            if python else None
        sub_job = pool.submit(submodule.inspect, install) if install and install.kind == KOHYA_SS and git_path else None
        gpu_probe: GpuProbe = gpu_job.result()
        venv_probe = venv_job.result() if venv_job else None
        sub_status = sub_job.result() if sub_job else None
    fixed: list[str] = []
    rows = [install_check(install)]
    if install is not None:
        rows.append(_submodule_row(install, sub_status, options, fixed))
    rows += gpu_checks(gpu_probe, host)
    rows += _venv_rows(install, venv_probe, gpu_probe.gpus, floors)
    rows.append(_accelerate_row(gpu_probe.gpus, options.fix, fixed))
    rows += system.system_checks(options.data_dir, install.root if install else None)
    return DoctorReport(rows, gpu_probe.gpus, install, fixed)


def _submodule_row(install: Install, status: submodule.SubmoduleStatus | None, options: DoctorOptions,
                   fixed: list[str]) -> CheckResult:
    if options.fix and status is not None:
        outcome = fix_submodule(install, status, options.to_pinned, options.git_timeout, options.progress)
        if outcome.failure is not None:
            return outcome.failure
        if outcome.done is not None:
            fixed.append(outcome.done)
            status = submodule.inspect(install)
    return submodule.submodule_check(install, status, options.to_pinned)


def _venv_rows(install: Install | None, probe: pyenv.VenvProbe | None, gpus: list[GpuInfo],
               floors: dict[str, Floor]) -> list[CheckResult]:
    if probe is not None:
        return pyenv.venv_checks(probe, gpus, floors)
    if install is None:
        return []
    where = f"{install.root}/venv or {install.root}/.venv"
    return [
        warn(
            "python",
            f"no kohya venv found ({where}), so torch was not checked",
            "run kohya_ss's setup (./setup.sh or setup.bat), or point doctor at the venv: --venv PATH or $KOHYA_VENV",
        )
    ]


def _accelerate_row(gpus: list[GpuInfo], fix: bool, fixed: list[str]) -> CheckResult:
    path = accelerate.config_path()
    # A default written without a GPU would say use_cpu: true and mislead the first real training run.
    if fix and gpus and accelerate.write_default(path, gpus):
        fixed.append(f"wrote a single-machine accelerate config to {path}")
    row = accelerate.accelerate_check(path, gpus)
    if fix and not gpus and row.status != "ok":
        return warn("accelerate", f"{row.finding}; --fix writes one only once nvidia-smi lists a GPU", row.fix)
    return row
