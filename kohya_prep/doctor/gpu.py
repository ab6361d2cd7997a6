"""NVIDIA GPUs through `nvidia-smi`: a probe that never hangs or raises, and the `gpu`, `gpu-arch` and `vram` rows.

The probe asks for every field it wants and drops, one by one, those the driver refuses (old drivers lack
compute_cap and mig.mode.current); what is missing then comes from elsewhere and the rows say so: the compute
capability from the card's name (kohya_prep/nvidia.py), a unified-memory GPU's memory from the system's RAM, a
MIG instance's memory from the table or from `nvidia-smi -L`. nvsmi.py holds the parsers.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from kohya_prep.doctor.checks import CheckResult, fail, ok, warn
from kohya_prep.doctor.host import Host, detect_host, driver_fix, nvidia_smi_fallbacks
from kohya_prep.doctor.nvsmi import (
    QUERY_FIELDS,
    REQUIRED_FIELDS,
    GpuInfo,
    MigInstance,
    NvidiaSmiOutputError,
    parse_cuda_version,
    parse_mig_list,
    parse_mig_table,
    parse_query_csv,
    refused_field,
    with_mig_instances,
    with_system_memory,
)
from kohya_prep.doctor.proc import run_bounded
from kohya_prep.nvidia import torch_support

__all__ = ["GpuInfo", "GpuProbe", "MigInstance", "NvidiaSmiOutputError", "gpu_checks", "parse_cuda_version",
           "parse_query_csv", "probe_gpus", "training_processes"]

_NO_DRIVER_HINT = "couldn't communicate with the NVIDIA driver"
MIB = 1024 * 1024


@dataclass(frozen=True)
class GpuProbe:
    """What the probe found: GPUs, or a one-line `error`; a hint at a non-NVIDIA accelerator; refused fields."""

    gpus: list[GpuInfo] = field(default_factory=list)
    error: str | None = None
    vendor_hint: str | None = None
    refused: tuple[str, ...] = ()  # query fields this driver does not know (older than R450 / R510)


def training_processes(gpus: list[GpuInfo]) -> int:
    """How many training processes the GPUs take: one per GPU, but one in all when MIG is on anywhere.

    CUDA lets a process use a single MIG instance (NVIDIA's MIG user guide, "CUDA Device Enumeration"), so
    `accelerate launch --multi_gpu` cannot spread over instances.
    """
    return 1 if any(g.mig_mode for g in gpus) else max(len(gpus), 1)


def probe_gpus(timeout: float = 5.0, host: Host | None = None) -> GpuProbe:
    """Run nvidia-smi (each call bounded by `timeout` seconds); never raises for nvidia-smi failures."""
    exe = find_nvidia_smi(host or detect_host())
    if exe is None:
        return GpuProbe(error="nvidia-smi is not on PATH (no NVIDIA driver installed)", vendor_hint=vendor_hint())
    query, refused = _query(exe, timeout)
    if query.error is not None:
        return GpuProbe(error=query.error, vendor_hint=vendor_hint(), refused=refused)
    table = _run([exe], timeout)
    try:
        gpus = parse_query_csv(query.text, parse_cuda_version(table.text))
    except NvidiaSmiOutputError as err:
        return GpuProbe(error=f"nvidia-smi printed something unexpected ({err})", refused=refused)
    if any(g.unified_memory for g in gpus):
        gpus = _with_system_memory(gpus)
    if any(g.mig_mode for g in gpus):
        listing = _run([exe, "-L"], timeout)
        gpus = [with_mig_instances(g, parse_mig_table(table.text), parse_mig_list(listing.text)) if g.mig_mode else g
                for g in gpus]
    return GpuProbe(gpus=gpus, refused=refused)


def find_nvidia_smi(host: Host) -> str | None:
    """nvidia-smi on PATH, else where the driver installs it (WSL2 and Windows do not always put it on PATH)."""
    found = shutil.which("nvidia-smi")
    if found:
        return found
    return next((str(p) for p in nvidia_smi_fallbacks(host) if p.is_file()), None)


def _query(exe: str, timeout: float) -> tuple[_Run, tuple[str, ...]]:
    """The query with every field this driver knows: a refused optional field is dropped and the query re-run."""
    fields = list(QUERY_FIELDS)
    refused: list[str] = []
    while True:
        run = _run([exe, "--query-gpu=" + ",".join(fields), "--format=csv"], timeout)
        name = refused_field(run.text) if run.error is None else None
        if name is None:
            return run, tuple(refused)
        if name in REQUIRED_FIELDS or name not in fields:
            return _Run("", f"nvidia-smi does not know the query field {name!r} (a very old driver?)"), tuple(refused)
        fields.remove(name)
        refused.append(name)


def _with_system_memory(gpus: list[GpuInfo]) -> list[GpuInfo]:
    import psutil

    memory = psutil.virtual_memory()
    total, available = memory.total // MIB, memory.available // MIB
    return [with_system_memory(g, total, available) if g.unified_memory else g for g in gpus]


@dataclass(frozen=True)
class _Run:
    text: str
    error: str | None


def _run(argv: list[str], timeout: float) -> _Run:
    try:
        done = run_bounded(argv, timeout)
    except subprocess.TimeoutExpired:
        return _Run("", f"nvidia-smi did not answer within {timeout:g} s (the driver may be hung)")
    except OSError as err:
        return _Run("", f"nvidia-smi could not be run: {err.strerror or err}")
    output = (done.stdout or "") + (done.stderr or "")
    if done.returncode != 0 and refused_field(output) is None:
        return _Run(output, _failure_line(output, done.returncode))
    # On success only stdout is data; stderr may carry driver warnings.
    return _Run(done.stdout if done.returncode == 0 else output, None)


def _failure_line(output: str, returncode: int) -> str:
    if _NO_DRIVER_HINT in output:
        return "nvidia-smi cannot communicate with the NVIDIA driver (driver not loaded or mismatched)"
    first = next((line.strip() for line in output.splitlines() if line.strip()), "no output")
    return f"nvidia-smi failed with exit code {returncode}: {first}"


def vendor_hint() -> str | None:
    """A cheap guess at a non-NVIDIA accelerator: Apple Silicon or an AMD ROCm install."""
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        return "Apple Silicon"
    if shutil.which("rocminfo") or Path("/opt/rocm").is_dir() or os.environ.get("ROCM_PATH"):
        return "ROCm"
    return None


# --- the rows --------------------------------------------------------------------------------------

# SD 1.x LoRA "barely" runs in 8 GB (sd-scripts' docs/train_network_README-ja.md); kohya_ss asks for 12 GB
# (its docs/LoRA/top_level.md). An "8 GB" card reports as little as 7979 MiB (7.8 GiB), hence the margin.
MIN_VRAM_GB = 7.5
DRIVER_FIX = driver_fix("linux")
NEW_DRIVER_FIX = "update the NVIDIA driver to R510 or newer (its nvidia-smi reports compute_cap), or pass train-config --gpu NAME"


def gpu_checks(probe: GpuProbe, host: Host = "linux") -> list[CheckResult]:
    """The `gpu`, `gpu-arch` (only when something is wrong) and `vram` rows for what the probe found."""
    if probe.error is not None:
        return [_error_row(probe, host)]
    if not probe.gpus:
        return [warn("gpu", "nvidia-smi lists no GPU: training needs one", driver_fix(host))]
    return [_gpu_row(probe), *_arch_rows(probe.gpus), _vram_row(probe.gpus)]


def _error_row(probe: GpuProbe, host: Host) -> CheckResult:
    error = probe.error or ""
    if probe.vendor_hint:
        finding = f"{error}; found {probe.vendor_hint} instead, which sd-scripts supports only partly"
        return warn("gpu", finding, "train on an NVIDIA GPU with CUDA (a local card or a rented one)")
    if "not on PATH" in error:
        return warn("gpu", f"{error}; training needs an NVIDIA GPU", driver_fix(host))
    return fail("gpu", error, driver_fix(host))


def _gpu_row(probe: GpuProbe) -> CheckResult:
    gpus = probe.gpus
    cards = "; ".join(_card(g, probe.refused) for g in gpus)
    first = gpus[0]
    cuda = f", CUDA {first.cuda_version}" if first.cuda_version else ""
    count = "1 GPU" if len(gpus) == 1 else f"{len(gpus)} GPUs"
    line = f"{count}: {cards} (driver {first.driver_version}{cuda})"
    if any(g.capability_source == "unknown" for g in gpus):
        return warn("gpu", f"{line}; without a compute capability bf16 is not assumed", NEW_DRIVER_FIX)
    return ok("gpu", line)


def _card(g: GpuInfo, refused: tuple[str, ...]) -> str:
    memory = f"{g.memory_total_mib / 1024:.1f} GB" + (" unified (system RAM)" if g.unified_memory else "")
    mig = f", MIG on ({_instances(g.mig_instances)})" if g.mig_mode else ""
    return f"#{g.index} {g.name} {memory}, compute {_cc(g, refused)}{', bf16' if g.bf16 else ''}{mig}"


def _cc(gpu: GpuInfo, refused: tuple[str, ...]) -> str:
    cc = gpu.compute_capability
    shown = f"{cc[0]}.{cc[1]}" if cc else "unknown"
    if gpu.capability_source == "nvidia-smi":
        return shown
    why = f"driver {gpu.driver_version} has no compute_cap field" if "compute_cap" in refused else "nvidia-smi gave none"
    if cc is None:
        return f"unknown ({why} and the card is not in NVIDIA's table)"
    return f"{shown} (from the card name: {why})"


def _instances(instances: tuple[MigInstance, ...]) -> str:
    if not instances:
        return "no instance"
    names = Counter(i.profile or f"{i.memory_mib} MiB" for i in instances)
    shown = ", ".join(name if count == 1 else f"{count}x {name}" for name, count in names.items())
    return f"{len(instances)} instance{'s' if len(instances) > 1 else ''}: {shown}"


def _arch_rows(gpus: list[GpuInfo]) -> list[CheckResult]:
    """One `gpu-arch` row when a GPU is one that current torch wheels do not (all) support."""
    problems = [(g, why) for g in gpus if g.compute_capability and (why := torch_support(g.compute_capability))]
    if not problems:
        return []
    g, why = problems[0]
    finding = f"GPU #{g.index} {g.name}: {why}"
    assert g.compute_capability is not None
    if g.compute_capability < (5, 0):
        return [fail("gpu-arch", finding, "train on a GPU of compute capability 5.0 or newer; 7.5 and newer (RTX 20-series, "
                     "T4 and later) run on every current torch wheel")]
    fix = ("in the kohya venv, install torch's cu126 wheels: pip install --force-reinstall torch==2.7.0 "
           "torchvision==0.22.0 --index-url https://download.pytorch.org/whl/cu126")
    return [warn("gpu-arch", finding, fix)]


def _vram_row(gpus: list[GpuInfo]) -> CheckResult:
    empty = [g for g in gpus if g.mig_mode and not g.mig_instances]
    if empty:
        i = empty[0].index
        return fail(
            "vram",
            f"GPU #{i} is in MIG mode but has no MIG instance, so CUDA sees no device on it",
            f"create one (`sudo nvidia-smi mig -i {i} -lgip` lists the profiles, `sudo nvidia-smi mig -i {i} -cgi "
            f"PROFILE -C` creates it) or turn MIG off (`sudo nvidia-smi -i {i} -mig 0`)",
        )
    small = min(gpus, key=lambda g: g.usable_mib)
    where = _memory_note(small)
    if small.vram_gb < MIN_VRAM_GB:
        return warn(
            "vram",
            f"GPU #{small.index} has {small.vram_gb:.1f} GB{where}; SD 1.5 LoRA needs about 8 GB, SDXL 10-12 GB",
            "use `kohya-prep train-config --vram` with this size: it picks the memory-saving settings",
        )
    # MIG instances and unified memory are no sign of another program: their totals are not the card's own.
    busy = [g for g in gpus if not (g.mig_mode or g.unified_memory) and g.memory_free_mib < 0.75 * g.memory_total_mib]
    if busy:
        g = busy[0]
        held = (g.memory_total_mib - g.memory_free_mib) / 1024
        return warn("vram", f"another program holds {held:.1f} GB on GPU #{g.index}", "close it: `nvidia-smi` lists it")
    free = "" if small.mig_mode else f", {small.memory_free_mib / 1024:.1f} GB of it free"
    return ok("vram", f"{small.vram_gb:.1f} GB on the smallest GPU{where}{free}")


def _memory_note(g: GpuInfo) -> str:
    if g.mig_mode:
        smallest = min(g.mig_instances, key=lambda i: i.memory_mib)
        how = "" if smallest.exact else ", nominal size from its profile name"
        label = smallest.profile or "instance"
        return (f" (MIG instance {label} of GPU #{g.index}{how}: a CUDA process runs on one instance, so training is "
                f"fitted to it, not to the card's {g.memory_total_mib / 1024:.0f} GB)")
    if g.unified_memory:
        return (" (unified memory: nvidia-smi reports none of its own ([N/A]), so this is the system's RAM, shared "
                "with the CPU)")
    return ""
