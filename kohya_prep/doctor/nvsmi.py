"""What nvidia-smi prints, read into GpuInfo values: pure functions over its text (gpu.py runs it).

Three outputs are read:
- `--query-gpu=... --format=csv`: one line per GPU, columns found by their header so units and order do not
  matter. A driver answers a field it does not know with `Field "X" is not a valid field to query.` (exit 2):
  R450 added `mig.mode.current`, R510 `compute_cap`. Unified-memory GPUs (DGX Spark's GB10) answer `[N/A]` for
  memory.total and memory.free: they have no memory of their own.
- the plain table: its header is the only place that names the CUDA version the driver supports, and its
  "MIG devices:" box gives each MIG instance's exact memory.
- `-L`: one line per GPU, and under a MIG-enabled GPU one line per MIG instance with its profile (`1g.10gb`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from kohya_prep.nvidia import compute_capability

QUERY_FIELDS = ("index", "name", "memory.total", "memory.free", "driver_version", "compute_cap", "mig.mode.current")
REQUIRED_FIELDS = ("index", "name", "memory.total")

_CUDA_RE = re.compile(r"CUDA(?: UMD)? Version\s*:\s*(\d+\.\d+)")
_REFUSED_RE = re.compile(r'Field "([^"]+)" is not a valid field to query')
_NOT_AVAILABLE = ("[N/A]", "[Not Supported]", "N/A", "Not Supported")
_MIG_ROW_RE = re.compile(r"^\|\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\|\s*(\d+)MiB\s*/\s*(\d+)MiB")
_LIST_GPU_RE = re.compile(r"^GPU (\d+):")
_LIST_MIG_RE = re.compile(r"^\s+MIG\s+(\S+)\s+Device\s+(\d+):")


class NvidiaSmiOutputError(ValueError):
    """The text is not what nvidia-smi prints for a GPU query (internal; the probe turns it into GpuProbe.error)."""


@dataclass(frozen=True)
class MigInstance:
    """One MIG instance: its profile (`1g.10gb`, '' when only the table named it) and its memory."""

    profile: str
    memory_mib: int
    exact: bool  # True: nvidia-smi's table gave the MiB; False: read from the profile name (nominal GB)

    def to_dict(self) -> dict[str, object]:
        return {"profile": self.profile, "memory_mib": self.memory_mib, "exact": self.exact}


@dataclass(frozen=True)
class GpuInfo:
    """One NVIDIA GPU as nvidia-smi reports it, plus where the facts nvidia-smi left out came from."""

    index: int
    name: str
    memory_total_mib: int
    memory_free_mib: int
    driver_version: str
    cuda_version: str | None
    compute_capability: tuple[int, int] | None
    capability_source: str = "nvidia-smi"  # "nvidia-smi", "card name" (driver without compute_cap), or "unknown"
    unified_memory: bool = False  # nvidia-smi reported no memory: the totals are the system's RAM
    mig_mode: bool = False
    mig_instances: tuple[MigInstance, ...] = ()

    @property
    def usable_mib(self) -> int:
        """What one training process gets: the smallest MIG instance when MIG is on, else the whole card."""
        if self.mig_mode and self.mig_instances:
            return min(i.memory_mib for i in self.mig_instances)
        return self.memory_total_mib

    @property
    def vram_gb(self) -> float:
        """Usable memory in GiB, unrounded: a "24 GB" RTX 4090 reports 24564 MiB = 23.99."""
        return self.usable_mib / 1024

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
            "capability_source": self.capability_source,
            "unified_memory": self.unified_memory,
            "mig_mode": self.mig_mode,
            "mig_instances": [i.to_dict() for i in self.mig_instances],
        }


def refused_field(text: str) -> str | None:
    """The field a driver refused (`Field "compute_cap" is not a valid field to query.`), or None."""
    match = _REFUSED_RE.search(text)
    return match[1] if match else None


def parse_query_csv(text: str, cuda_version: str | None = None) -> list[GpuInfo]:
    """Parse `nvidia-smi --query-gpu=... --format=csv` output (header line required, units allowed)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        raise NvidiaSmiOutputError("nvidia-smi printed nothing")
    # A driver warning (e.g. "WARNING: infoROM is corrupted") may come before the header: skip to it.
    start = next((i for i, line in enumerate(lines) if line.split(",")[0].strip() == "index"), 0)
    lines = lines[start:]
    header = [_column_name(cell) for cell in lines[0].split(",")]
    missing = [f for f in REQUIRED_FIELDS if f not in header]
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
        total = _mib(row["memory.total"])
        free = _mib(row.get("memory.free", row["memory.total"]))
        capability, source = _capability(row.get("compute_cap"), row["name"])
        return GpuInfo(
            index=int(row["index"]),
            name=row["name"],
            memory_total_mib=total or 0,
            memory_free_mib=(total or 0) if free is None else free,
            driver_version=row.get("driver_version", ""),
            cuda_version=cuda_version,
            compute_capability=capability,
            capability_source=source,
            unified_memory=total is None,
            mig_mode=row.get("mig.mode.current", "").lower() == "enabled",
        )
    except ValueError as err:
        raise NvidiaSmiOutputError(f"cannot read nvidia-smi line {line!r}: {err}") from err


def _mib(value: str) -> int | None:
    """MiB from '24576 MiB' or '24576'; None for the driver's [N/A] (no memory of its own)."""
    if value.strip() in _NOT_AVAILABLE:
        return None
    if value.strip().startswith("["):  # [Unknown Error], [GPU requires reset]: the GPU is in trouble
        raise ValueError(f"nvidia-smi reports the memory as {value.strip()}")
    return int(value.removesuffix("MiB").strip())


def _capability(value: str | None, name: str) -> tuple[tuple[int, int] | None, str]:
    match = re.fullmatch(r"(\d+)\.(\d+)", (value or "").strip())
    if match:
        return (int(match[1]), int(match[2])), "nvidia-smi"
    derived = compute_capability(name)
    return derived, "card name" if derived else "unknown"


def parse_cuda_version(text: str) -> str | None:
    """The CUDA version the driver supports, from the plain `nvidia-smi` table header (None if absent or ERR!)."""
    match = _CUDA_RE.search(text)
    return match[1] if match else None


def parse_mig_table(text: str) -> dict[int, list[int]]:
    """GPU index -> the memory (MiB) of each MIG instance, from the table's "MIG devices:" box."""
    if "MIG devices:" not in text:
        return {}
    found: dict[int, list[int]] = {}
    for line in text.split("MIG devices:", 1)[1].splitlines():
        if line.startswith("| Processes") or "Processes:" in line:
            break
        match = _MIG_ROW_RE.match(line)
        if match:
            found.setdefault(int(match[1]), []).append(int(match[6]))
    return found


def parse_mig_list(text: str) -> dict[int, list[str]]:
    """GPU index -> the profile of each MIG instance, from `nvidia-smi -L`."""
    found: dict[int, list[str]] = {}
    gpu = None
    for line in text.splitlines():
        head = _LIST_GPU_RE.match(line)
        if head:
            gpu = int(head[1])
            found.setdefault(gpu, [])
            continue
        mig = _LIST_MIG_RE.match(line)
        if mig and gpu is not None:
            found[gpu].append(mig[1])
    return found


def profile_mib(profile: str) -> int | None:
    """The nominal memory of a MIG profile: '1g.10gb' -> 10240 MiB (the instance has a little less)."""
    match = re.search(r"(\d+)gb", profile)
    return int(match[1]) * 1024 if match else None


def with_mig_instances(gpu: GpuInfo, table: dict[int, list[int]], listing: dict[int, list[str]]) -> GpuInfo:
    """The GPU with its MIG instances: exact MiB from the table when it lists them, else from the profile names."""
    profiles = listing.get(gpu.index, [])
    exact = table.get(gpu.index, [])
    if exact:
        names = profiles if len(profiles) == len(exact) else [""] * len(exact)
        instances = [MigInstance(p, mib, True) for p, mib in zip(names, exact, strict=True)]
    else:
        instances = [MigInstance(p, mib, False) for p in profiles if (mib := profile_mib(p)) is not None]
    return replace(gpu, mig_instances=tuple(instances))


def with_system_memory(gpu: GpuInfo, total_mib: int, available_mib: int) -> GpuInfo:
    """A unified-memory GPU's totals: the system RAM it shares with the CPU."""
    return replace(gpu, memory_total_mib=total_mib, memory_free_mib=available_mib)
