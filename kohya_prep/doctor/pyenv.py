"""The kohya venv: a short probe run by the venv's own interpreter (doctor never imports torch itself).

The probe prints one JSON object; the checks below are pure functions over it and the GPUs.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kohya_prep.doctor.checks import CheckResult, fail, ok, warn
from kohya_prep.doctor.gpu import GpuInfo
from kohya_prep.doctor.proc import run_bounded

# kohya_ss setup/setup_common.py: MIN_PYTHON_VERSION = (3, 10, 9), MAX_PYTHON_VERSION = (3, 13, 0) exclusive.
MIN_PYTHON = (3, 10, 9)
MAX_PYTHON = (3, 13, 0)
# sd-scripts README: PyTorch 2.6.0 or newer.
MIN_TORCH = (2, 6)
TORCH_CU128 = "torch==2.7.0 torchvision==0.22.0 --index-url https://download.pytorch.org/whl/cu128"

PROBE_SCRIPT = r"""
import json, sys
out = {"python": list(sys.version_info[:3]), "packages": {}}
try:
    from importlib import metadata
    for name in ("accelerate", "bitsandbytes", "xformers"):
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


def run_probe(python: Path, timeout: float = 30.0) -> VenvProbe:
    """Run the probe with the venv's interpreter; a hang or crash becomes `error`, never an exception."""
    try:
        # -I: a torch/ or accelerate.py in the current folder must not shadow the venv's packages.
        done = run_bounded([str(python), "-I", "-c", PROBE_SCRIPT], timeout)
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


def venv_checks(probe: VenvProbe, gpus: list[GpuInfo]) -> list[CheckResult]:
    """The `python`, `torch`, `torch-arch` and `packages` rows."""
    if probe.data is None:
        return [fail("python", probe.error or "the probe failed", _setup_fix(probe.python))]
    data = probe.data
    return [python_check(data), torch_check(data, gpus, probe.python), arch_check(data, gpus, probe.python),
            packages_check(data, probe.python)]


def _setup_fix(python: Path) -> str:
    return f"re-run kohya_ss's setup (./setup.sh or setup.bat) to rebuild {python.parent.parent}"


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


def torch_check(data: dict, gpus: list[GpuInfo], python: Path) -> CheckResult:
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
    if _version_tuple(version) < MIN_TORCH:
        return warn(
            "torch", f"torch {version} is older than the 2.6 sd-scripts requires", f"{python} -m pip install {TORCH_CU128}"
        )
    return ok("torch", f"torch {version}, CUDA {cuda} build, GPU {'visible' if data.get('cuda_available') else 'not visible'}")


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version.split("+")[0])[:2])


def arch_check(data: dict, gpus: list[GpuInfo], python: Path) -> CheckResult:
    """Is every GPU's architecture among those this torch was built for? (RTX 50-series: sm_120 needs CUDA 12.8.)"""
    arch_list = data.get("arch_list") or []
    if not gpus or not arch_list:
        return ok("torch-arch", "not checked (no GPU, or torch cannot see one)")
    unsupported = [g for g in gpus if g.compute_capability and not supports(arch_list, g.compute_capability)]
    if unsupported:
        g = unsupported[0]
        major, minor = g.compute_capability or (0, 0)
        sm = f"sm_{major}{minor}"
        return fail(
            "torch-arch",
            f"{g.name} ({sm}) is not among the architectures torch {data.get('torch')} was built for ({', '.join(arch_list)})",
            f"{python} -m pip install --force-reinstall {TORCH_CU128}",
        )
    return ok("torch-arch", f"torch's kernels cover every GPU ({', '.join(arch_list)})")


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


def packages_check(data: dict, python: Path) -> CheckResult:
    packages = data.get("packages", {})
    listed = ", ".join(f"{name} {version or 'missing'}" for name, version in packages.items())
    if not packages.get("accelerate"):
        return fail(
            "packages", listed or "accelerate missing", "re-run kohya_ss's setup: `accelerate launch` starts every training"
        )
    if "bitsandbytes" in packages and not packages["bitsandbytes"]:
        # train-config picks AdamW8bit below 48 GB; without bitsandbytes that optimizer fails at start.
        return warn(
            "packages", f"{listed}; 8-bit optimizers (AdamW8bit) need bitsandbytes", f"{python} -m pip install bitsandbytes"
        )
    return ok("packages", listed)
