"""Which GPU the settings are fitted to: doctor's probe, or --vram / --gpu when preparing on another machine."""

from __future__ import annotations

from kohya_prep.errors import ConfigError
from kohya_prep.trainconfig.cards import compute_capability, has_bf16
from kohya_prep.trainconfig.fit import GpuTraits

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
    """Traits of the smallest GPU doctor's probe finds, and how many there are."""
    try:
        from kohya_prep.doctor.gpu import probe_gpus
    except ImportError:  # doctor not installed in this build: no probe
        raise ConfigError(f"cannot probe the GPU here; {NO_GPU_FIX}.") from None
    probe = probe_gpus()
    if not probe.gpus:
        reason = f" ({probe.error})" if probe.error else ""
        raise ConfigError(f"no NVIDIA GPU found{reason}; {NO_GPU_FIX}.")
    smallest = min(probe.gpus, key=lambda g: g.vram_gb)
    bf16 = all(g.bf16 for g in probe.gpus)
    traits = GpuTraits(smallest.vram_gb, bf16, smallest.name, f"probed {smallest.name}")
    if gpu_name:
        traits = gpu_from_options(smallest.vram_gb, gpu_name, family)
    return traits, len(probe.gpus)
