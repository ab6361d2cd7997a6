"""Which GPU the settings are fitted to: doctor's probe, or --vram / --gpu when preparing on another machine.

A MIG instance is fitted to its own memory and a unified-memory GPU (DGX Spark) to the system's RAM; the note says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kohya_prep.errors import ConfigError
from kohya_prep.trainconfig.cards import compute_capability, has_bf16
from kohya_prep.trainconfig.fit import GpuTraits

if TYPE_CHECKING:
    from kohya_prep.doctor.gpu import GpuInfo

NO_GPU_FIX = "pass --vram GB (and --gpu NAME) when preparing on a machine without the training GPU"


def gpu_from_options(vram: float, gpu_name: str | None, family: str) -> GpuTraits:
    """Traits from --vram and --gpu; without --gpu, bf16 is assumed as the note says."""
    if gpu_name:
        capability = compute_capability(gpu_name)
        if capability is None:
            return GpuTraits(vram, False, gpu_name, f"unknown card {gpu_name!r}: assumed no bf16")
        where = f"{gpu_name}: compute capability {capability[0]}.{capability[1]}"
        return GpuTraits(vram, has_bf16(capability), gpu_name, where)
    if family == "flux":
        return GpuTraits(vram, True, None, "no --gpu: assumed an Ampere or newer card, as FLUX.1 training needs")
    return GpuTraits(vram, False, None, "no --gpu: assumed a card without bf16; --gpu NAME decides")


def probed_gpu(gpu_name: str | None, family: str) -> tuple[GpuTraits, int]:
    """Traits of the smallest GPU doctor's probe finds (a MIG instance, unified memory), and how many processes."""
    try:
        from kohya_prep.doctor.gpu import probe_gpus, training_processes
    except ImportError:  # doctor not installed in this build: no probe
        raise ConfigError(f"cannot probe the GPU here; {NO_GPU_FIX}.") from None
    probe = probe_gpus()
    if not probe.gpus:
        reason = f" ({probe.error})" if probe.error else ""
        raise ConfigError(f"no NVIDIA GPU found{reason}; {NO_GPU_FIX}.")
    empty = next((g for g in probe.gpus if g.mig_mode and not g.mig_instances), None)
    if empty is not None:
        raise ConfigError(f"GPU #{empty.index} is in MIG mode but has no MIG instance, so CUDA sees no device on it; "
                          f"create one (see `kohya-prep doctor`), or {NO_GPU_FIX}.")
    smallest = min(probe.gpus, key=lambda g: g.usable_mib)
    bf16 = all(g.bf16 for g in probe.gpus)
    traits = GpuTraits(smallest.vram_gb, bf16, smallest.name, _probed_note(smallest))
    if gpu_name:
        traits = gpu_from_options(smallest.vram_gb, gpu_name, family)
    return traits, training_processes(probe.gpus)


def _probed_note(gpu: GpuInfo) -> str:
    """'probed NAME', and why the memory or the compute capability is not simply what the card reports."""
    notes = [f"probed {gpu.name}"]
    if gpu.mig_mode:
        smallest = min(gpu.mig_instances, key=lambda i: i.memory_mib)
        notes.append(f"MIG mode on: fitted to its smallest MIG instance ({smallest.profile or 'instance'}, "
                     f"{smallest.memory_mib / 1024:.1f} GB), not the card's {gpu.memory_total_mib / 1024:.0f} GB, "
                     "since a CUDA process runs on one instance")
    if gpu.unified_memory:
        notes.append(f"unified memory: fitted to the system's {gpu.memory_total_mib / 1024:.1f} GB of RAM, which the "
                     "CPU shares (nvidia-smi reports no memory of the GPU's own)")
    cc = gpu.compute_capability
    if gpu.capability_source == "card name" and cc:
        notes.append(f"compute capability {cc[0]}.{cc[1]} from the card name (the driver has no compute_cap field)")
    if cc is None:
        notes.append("compute capability unknown: assumed no bf16")
    return "; ".join(notes)
