"""The kohya venv: a short probe run by the venv's own interpreter (doctor never imports torch itself).

The probe prints one JSON object; the checks below are pure functions over it and the GPUs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kohya_prep.doctor.checks import CheckResult, fail, ok, warn
from kohya_prep.doctor.gpu import GpuInfo
from kohya_prep.doctor.proc import run_bounded
from kohya_prep.doctor.requirements import Floor, version_tuple
from kohya_prep.nvidia import cuda_too_old, sm

# kohya_ss setup/setup_common.py: MIN_PYTHON_VERSION = (3, 10, 9), MAX_PYTHON_VERSION = (3, 13, 0) exclusive.
MIN_PYTHON = (3, 10, 9)
MAX_PYTHON = (3, 13, 0)
# Only when the install has no requirements file that names torch: sd-scripts' README asks for 2.6.0 or newer.
MIN_TORCH = (2, 6)
TORCH_CU128 = "torch==2.7.0 torchvision==0.22.0 --index-url https://download.pytorch.org/whl/cu128"
TORCH_CU126 = "torch==2.7.0 torchvision==0.22.0 --index-url https://download.pytorch.org/whl/cu126"
DEFAULT_PACKAGES = ("accelerate", "bitsandbytes", "xformers")
# What sd-scripts' training imports: missing, training cannot start. Their floors come from the install's files.
NEEDED_PACKAGES = ("accelerate", "transformers", "diffusers", "safetensors", "huggingface-hub")
CHECKED_PACKAGES = (*NEEDED_PACKAGES, "bitsandbytes", "xformers", "torchvision")

PROBE_SCRIPT = r"""
import json, sys
out = {"python": list(sys.version_info[:3]), "packages": {}}
try:
    from importlib import metadata
    for name in sys.argv[1:]:
        try:
            out["packages"][name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out["packages"][name] = None
except Exception as err:
    out["packages_error"] = repr(err)
try:
    import torch
    out["torch"] = torch.__version__
    out["torch_cuda"] = torch.version.cuda
    out["cuda_available"] = bool(torch.cuda.is_available())
    out["arch_list"] = list(torch.cuda.get_arch_list()) if out["cuda_available"] else []
except Exception as err:
    out["torch_error"] = type(err).__name__ + ": " + str(err)
print(json.dumps(out))
"""


@dataclass(frozen=True)
class VenvProbe:
    """What the probe printed (`data`), or why it printed nothing usable (`error`)."""

    python: Path
    data: dict | None
    error: str | None = None
    broken_link: bool = False


def run_probe(python: Path, timeout: float = 30.0, packages: tuple[str, ...] = DEFAULT_PACKAGES) -> VenvProbe:
    """Run the probe with the venv's interpreter; a hang or crash becomes `error`, never an exception."""
    if python.is_symlink() and not python.exists():
        return VenvProbe(python, None, _broken_link(python), broken_link=True)
    try:
        # -I: a torch/ or accelerate.py in the current folder must not shadow the venv's packages.
        done = run_bounded([str(python), "-I", "-c", PROBE_SCRIPT, *packages], timeout)
    except subprocess.TimeoutExpired:
        return VenvProbe(python, None, f"{python} did not finish the probe within {timeout:g} s")
    except OSError as err:
        return VenvProbe(python, None, f"{python} cannot run: {err.strerror or err}")
    last = done.stdout.strip().splitlines()[-1:] or [""]
    try:
        data = json.loads(last[0])
    except json.JSONDecodeError:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return VenvProbe(python, None, f"{python} failed the probe (exit {done.returncode}): {tail}")
    return VenvProbe(python, data)


def _broken_link(python: Path) -> str:
    """'venv/bin/python is a broken link to /usr/bin/python3.10 (...)', with what pyvenv.cfg says it was made from."""
    target = os.readlink(python)
    cfg = python.parent.parent / "pyvenv.cfg"
    made = ""
    if cfg.is_file():
        settings = dict(line.split("=", 1) for line in cfg.read_text(encoding="utf-8", errors="replace").splitlines()
                        if "=" in line)
        version = next((v.strip() for k, v in settings.items() if k.strip() in ("version", "version_info")), "")
        made = f"; the venv was made with Python {version}" if version else ""
    return f"{python} is a broken link to {target}: that Python is gone (removed or upgraded){made}"


def venv_checks(probe: VenvProbe, gpus: list[GpuInfo], floors: dict[str, Floor] | None = None) -> list[CheckResult]:
    """The `python`, `torch`, `torch-arch` and `packages` rows; `floors` from the install's requirements files."""
    floors = floors or {}
    if probe.data is None:
        fix = _rebuild_fix(probe.python) if probe.broken_link else _setup_fix(probe.python)
        return [fail("python", probe.error or "the probe failed", fix)]
    data = probe.data
    return [python_check(data), torch_check(data, gpus, probe.python, floors.get("torch")),
            arch_check(data, gpus, probe.python), packages_check(data, probe.python, floors)]


def _setup_fix(python: Path) -> str:
    return f"re-run kohya_ss's setup (./setup.sh or setup.bat) to rebuild {python.parent.parent}"


def _rebuild_fix(python: Path) -> str:
    venv = python.parent.parent
    return f"rebuild the venv: `mv {venv} {venv}.broken`, then re-run kohya_ss's setup (./setup.sh or setup.bat)"


def python_check(data: dict) -> CheckResult:
    version = tuple(data.get("python", ()))
    shown = ".".join(map(str, version))
    if MIN_PYTHON <= version < MAX_PYTHON:
        return ok("python", f"venv Python {shown} (kohya_ss supports 3.10.9 up to 3.13)")
    return fail(
        "python",
        f"venv Python {shown} is outside the range kohya_ss supports (3.10.9 up to, not including, 3.13)",
        "recreate the venv with Python 3.10.11 or 3.11 (e.g. `uv venv --python 3.11 venv`), then re-run setup",
    )


def torch_check(data: dict, gpus: list[GpuInfo], python: Path, floor: Floor | None = None) -> CheckResult:
    if "torch" not in data:
        return fail(
            "torch", f"torch does not import in the venv ({data.get('torch_error', 'not installed')})", _setup_fix(python)
        )
    version, cuda = data["torch"], data.get("torch_cuda")
    if not cuda:
        return fail("torch", f"torch {version} is a CPU-only build", f"{python} -m pip install --force-reinstall {TORCH_CU128}")
    if gpus and not data.get("cuda_available"):
        return fail(
            "torch",
            f"torch {version} (CUDA {cuda}) cannot use the GPU (driver supports CUDA {gpus[0].cuda_version or '?'})",
            "update the NVIDIA driver to one that supports this CUDA version, or install a torch built for an older CUDA",
        )
    minimum = version_tuple(floor.version) if floor else MIN_TORCH
    if version_tuple(version) < minimum:
        asks = f"the {floor.version} {floor.source} asks for" if floor else "the 2.6 sd-scripts requires"
        return warn("torch", f"torch {version} is older than {asks}", f"{python} -m pip install {TORCH_CU128}")
    return ok("torch", f"torch {version}, CUDA {cuda} build, GPU {'visible' if data.get('cuda_available') else 'not visible'}")


def arch_check(data: dict, gpus: list[GpuInfo], python: Path) -> CheckResult:
    """Is every GPU's architecture among those this torch was built for? (RTX 50-series: sm_120 needs CUDA 12.8.)

    With no arch list (torch sees no GPU) the CUDA version torch was built for still rules out cards newer than it.
    """
    arch_list = data.get("arch_list") or []
    cuda = data.get("torch_cuda")
    known = [g for g in gpus if g.compute_capability]
    if not known or not (arch_list or cuda):
        return ok("torch-arch", "not checked (no GPU, or torch cannot see one)")
    for g in known:
        cc = g.compute_capability or (0, 0)
        newer = cuda_too_old(cc, cuda) if cuda else None
        if arch_list and not supports(arch_list, cc):
            built = f"{g.name} ({sm(cc)}) is not among the architectures torch {data.get('torch')} was built for " \
                    f"({', '.join(arch_list)})"
            return fail("torch-arch", built + (f"; {newer}" if newer else ""), _arch_fix(python, arch_list, cc))
        if newer:
            return fail("torch-arch", f"{g.name}: {newer}", f"{python} -m pip install --force-reinstall {TORCH_CU128}")
    if not arch_list:
        return ok("torch-arch", f"torch's CUDA {cuda} build can serve every GPU (its arch list was not readable)")
    return ok("torch-arch", f"torch's kernels cover every GPU ({', '.join(arch_list)})")


def _arch_fix(python: Path, arch_list: list[str], cc: tuple[int, int]) -> str:
    """A card older than every kernel in the list needs the cu126 wheels (the last with sm_50/sm_60), else cu128."""
    built = [int(m[1] + m[2]) for a in arch_list if (m := re.fullmatch(r"(?:sm|compute)_(\d+)(\d)a?", a))]
    wheels = TORCH_CU126 if built and cc[0] * 10 + cc[1] < min(built) else TORCH_CU128
    return f"{python} -m pip install --force-reinstall {wheels}"


def supports(arch_list: list[str], capability: tuple[int, int]) -> bool:
    """sm_XY kernels run on the same major version at an equal or higher minor; compute_XY (PTX) also on newer majors."""
    major, minor = capability
    for arch in arch_list:
        match = re.fullmatch(r"(sm|compute)_(\d+)(\d)a?", arch)
        if not match:
            continue
        a_major, a_minor = int(match[2]), int(match[3])
        if match[1] == "sm" and a_major == major and a_minor <= minor:
            return True
        if match[1] == "compute" and (a_major, a_minor) <= (major, minor):
            return True
    return False


def packages_check(data: dict, python: Path, floors: dict[str, Floor] | None = None) -> CheckResult:
    """Missing packages training imports (fail), older than the install's files ask (warn), no bitsandbytes (warn)."""
    floors = floors or {}
    packages = data.get("packages", {})
    listed = ", ".join(f"{name} {version or 'missing'}" for name, version in packages.items())
    missing = [name for name in NEEDED_PACKAGES if name in packages and not packages[name]]
    if missing:
        return fail("packages", listed, f"re-run kohya_ss's setup: sd-scripts' training imports {', '.join(missing)}")
    old = [(floors[name], version) for name, version in packages.items()
           if version and name in floors and version_tuple(version) < version_tuple(floors[name].version)]
    if old:
        said = "; ".join(f"{f.package} {v} is older than the {f.version} {f.source} asks for" for f, v in old)
        specs = " ".join(f"'{f.spec}'" for f, _ in old)
        return warn("packages", f"{listed}; {said}", f"{python} -m pip install {specs}")
    if "bitsandbytes" in packages and not packages["bitsandbytes"]:
        # train-config picks AdamW8bit below 48 GB; without bitsandbytes that optimizer fails at start.
        return warn(
            "packages", f"{listed}; 8-bit optimizers (AdamW8bit) need bitsandbytes", f"{python} -m pip install bitsandbytes"
        )
    return ok("packages", listed)


def probe_packages(floors: dict[str, Floor]) -> tuple[str, ...]:
    """The packages the probe reads: the defaults, and every checked one the install's files give a floor for."""
    return tuple(dict.fromkeys([*DEFAULT_PACKAGES, *(name for name in CHECKED_PACKAGES if name in floors)]))
