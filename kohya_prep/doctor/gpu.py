"""NVIDIA GPUs through `nvidia-smi`: a pure parser over its text, and a probe that never hangs or raises.

Two calls: the `--query-gpu` CSV (one line per GPU, columns found by their header so units and order
do not matter) and the plain table, whose header is the only place that names the CUDA version the
driver supports (there is no `cuda_version` query field).
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from kohya_prep.doctor.checks import CheckResult, fail, ok, warn
from kohya_prep.doctor.proc import run_bounded

QUERY_FIELDS = ("index", "name", "memory.total", "memory.free", "driver_version", "compute_cap")
QUERY_ARGS = ["--query-gpu=" + ",".join(QUERY_FIELDS), "--format=csv"]
# Drivers older than 510 do not know compute_cap; they answer 'Field "compute_cap" is not a valid field'.
LEGACY_QUERY_ARGS = ["--query-gpu=" + ",".join(QUERY_FIELDS[:-1]), "--format=csv"]

_CUDA_RE = re.compile(r"CUDA(?: UMD)? Version\s*:\s*(\d+\.\d+)")
_NO_DRIVER_HINT = "couldn't communicate with the NVIDIA driver"


@dataclass(frozen=True)
class GpuInfo:
    """One NVIDIA GPU as nvidia-smi reports it."""

    index: int
    name: str
    memory_total_mib: int
    memory_free_mib: int
    driver_version: str
    cuda_version: str | None
    compute_capability: tuple[int, int] | None

    @property
    def vram_gb(self) -> float:
        """Total VRAM in GiB, unrounded: a "24 GB" RTX 4090 reports 24564 MiB = 23.99."""
        return self.memory_total_mib / 1024

    @property
    def bf16(self) -> bool:
        """bf16 mixed precision needs Ampere (compute capability 8.0) or newer."""
        return self.compute_capability is not None and self.compute_capability >= (8, 0)

    def to_dict(self) -> dict[str, object]:
        cc = self.compute_capability
        return {
            "index": self.index,
            "name": self.name,
            "memory_total_mib": self.memory_total_mib,
            "memory_free_mib": self.memory_free_mib,
            "driver_version": self.driver_version,
            "cuda_version": self.cuda_version,
            "compute_capability": list(cc) if cc else None,
            "vram_gb": round(self.vram_gb, 2),
            "bf16": self.bf16,
        }


@dataclass(frozen=True)
class GpuProbe:
    """What the probe found: GPUs, or a one-line `error`, plus a hint at a non-NVIDIA accelerator."""

    gpus: list[GpuInfo] = field(default_factory=list)
    error: str | None = None
    vendor_hint: str | None = None


class NvidiaSmiOutputError(ValueError):
    """The text is not what nvidia-smi prints for a GPU query (internal; the probe turns it into GpuProbe.error)."""


def parse_query_csv(text: str, cuda_version: str | None = None) -> list[GpuInfo]:
    """Parse `nvidia-smi --query-gpu=... --format=csv` output (header line required, units allowed)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        raise NvidiaSmiOutputError("nvidia-smi printed nothing")
    # A driver warning (e.g. "WARNING: infoROM is corrupted") may come before the header: skip to it.
    start = next((i for i, line in enumerate(lines) if line.split(",")[0].strip() == "index"), 0)
    lines = lines[start:]
    header = [_column_name(cell) for cell in lines[0].split(",")]
    missing = [f for f in ("index", "name", "memory.total") if f not in header]
    if missing:
        raise NvidiaSmiOutputError(f"nvidia-smi's CSV has no {', '.join(missing)} column")
    return [_parse_row(header, line, cuda_version) for line in lines[1:]]


def _column_name(cell: str) -> str:
    # "memory.total [MiB]" -> "memory.total"
    return cell.split("[")[0].strip()


def _parse_row(header: list[str], line: str, cuda_version: str | None) -> GpuInfo:
    # Only `name` may hold a comma; everything else is a number or a version, so split from both ends.
    cells = [c.strip() for c in line.split(",")]
    extra = len(cells) - len(header)
    if extra < 0:
        raise NvidiaSmiOutputError(f"nvidia-smi line has {len(cells)} fields, expected {len(header)}: {line!r}")
    name_at = header.index("name")
    cells[name_at : name_at + extra + 1] = [", ".join(cells[name_at : name_at + extra + 1])]
    row = dict(zip(header, cells, strict=False))
    try:
        return GpuInfo(
            index=int(row["index"]),
            name=row["name"],
            memory_total_mib=_mib(row["memory.total"]),
            memory_free_mib=_mib(row.get("memory.free", row["memory.total"])),
            driver_version=row.get("driver_version", ""),
            cuda_version=cuda_version,
            compute_capability=_capability(row.get("compute_cap", "")),
        )
    except ValueError as err:
        raise NvidiaSmiOutputError(f"cannot read nvidia-smi line {line!r}: {err}") from err


def _mib(value: str) -> int:
    return int(value.removesuffix("MiB").strip())


def _capability(value: str) -> tuple[int, int] | None:
    match = re.fullmatch(r"(\d+)\.(\d+)", value.strip())
    return (int(match[1]), int(match[2])) if match else None


def parse_cuda_version(text: str) -> str | None:
    """The CUDA version the driver supports, from the plain `nvidia-smi` table header (None if absent)."""
    match = _CUDA_RE.search(text)
    return match[1] if match else None


def probe_gpus(timeout: float = 5.0) -> GpuProbe:
    """Run nvidia-smi (each call bounded by `timeout` seconds); never raises for nvidia-smi failures."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return GpuProbe(error="nvidia-smi is not on PATH (no NVIDIA driver installed)", vendor_hint=vendor_hint())
    query = _run([exe, *QUERY_ARGS], timeout)
    if query.error is None and "is not a valid field" in query.text:
        query = _run([exe, *LEGACY_QUERY_ARGS], timeout)
    if query.error is not None:
        return GpuProbe(error=query.error, vendor_hint=vendor_hint())
    table = _run([exe], timeout)
    try:
        gpus = parse_query_csv(query.text, parse_cuda_version(table.text))
    except NvidiaSmiOutputError as err:
        return GpuProbe(error=f"nvidia-smi printed something unexpected ({err})")
    return GpuProbe(gpus=gpus)


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
    if done.returncode != 0 and "is not a valid field" not in output:
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


# SD 1.x LoRA "barely" runs in 8 GB (sd-scripts' docs/train_network_README-ja.md); kohya_ss asks for 12 GB
# (its docs/LoRA/top_level.md). An "8 GB" card reports as little as 7979 MiB (7.8 GiB), hence the margin.
MIN_VRAM_GB = 7.5
DRIVER_FIX = "install or repair the NVIDIA driver (e.g. `sudo ubuntu-drivers install` and reboot), then run `nvidia-smi`"


def gpu_checks(probe: GpuProbe) -> list[CheckResult]:
    """The `gpu` and `vram` rows for what the probe found."""
    if probe.error is not None:
        return [_error_row(probe)]
    if not probe.gpus:
        return [warn("gpu", "nvidia-smi lists no GPU: training needs one", DRIVER_FIX)]
    return [ok("gpu", _gpus_line(probe.gpus)), _vram_row(probe.gpus)]


def _error_row(probe: GpuProbe) -> CheckResult:
    error = probe.error or ""
    if probe.vendor_hint:
        finding = f"{error}; found {probe.vendor_hint} instead, which sd-scripts supports only partly"
        return warn("gpu", finding, "train on an NVIDIA GPU with CUDA (a local card or a rented one)")
    if "not on PATH" in error:
        return warn("gpu", f"{error}; training needs an NVIDIA GPU", DRIVER_FIX)
    return fail("gpu", error, DRIVER_FIX)


def _gpus_line(gpus: list[GpuInfo]) -> str:
    cards = "; ".join(f"#{g.index} {g.name} {g.vram_gb:.1f} GB, compute {_cc(g)}{', bf16' if g.bf16 else ''}" for g in gpus)
    first = gpus[0]
    cuda = f", CUDA {first.cuda_version}" if first.cuda_version else ""
    count = "1 GPU" if len(gpus) == 1 else f"{len(gpus)} GPUs"
    return f"{count}: {cards} (driver {first.driver_version}{cuda})"


def _cc(gpu: GpuInfo) -> str:
    cc = gpu.compute_capability
    return f"{cc[0]}.{cc[1]}" if cc else "unknown"


def _vram_row(gpus: list[GpuInfo]) -> CheckResult:
    small = min(gpus, key=lambda g: g.memory_total_mib)
    if small.vram_gb < MIN_VRAM_GB:
        return warn(
            "vram",
            f"GPU #{small.index} has {small.vram_gb:.1f} GB; SD 1.5 LoRA needs about 8 GB, SDXL 10-12 GB",
            "use `kohya-prep train-config --vram` with this size: it picks the memory-saving settings",
        )
    busy = [g for g in gpus if g.memory_free_mib < 0.75 * g.memory_total_mib]
    if busy:
        g = busy[0]
        held = (g.memory_total_mib - g.memory_free_mib) / 1024
        return warn("vram", f"another program holds {held:.1f} GB on GPU #{g.index}", "close it: `nvidia-smi` lists it")
    return ok("vram", f"{small.vram_gb:.1f} GB on the smallest GPU, {small.memory_free_mib / 1024:.1f} GB of it free")
