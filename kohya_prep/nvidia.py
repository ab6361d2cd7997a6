"""NVIDIA's published facts about its GPUs, in one place: doctor and train-config both read them.

- `compute_capability(name)`: the compute capability of a card from the name nvidia-smi prints, for drivers
  older than R510 (they have no `compute_cap` query field) and for `train-config --gpu NAME`. Source: NVIDIA's
  table at https://developer.nvidia.com/cuda-gpus (and the product pages for cards it leaves out).
- `architecture(cc)`: the architecture's name and the first CUDA release whose toolkit builds kernels that run on
  it (NVIDIA's CUDA release notes: sm_80 in 11.0, sm_86 in 11.1, sm_89/sm_90 in 11.8, sm_100/sm_120 in 12.8, sm_103
  and sm_121 in 12.9, Thor as sm_110 in 13.0).
- `torch_support(cc)`: whether current PyTorch wheels carry kernels for it. PyTorch's release matrix: the cu126
  wheels start at sm_50, the cu128 wheels of torch 2.8 and later at sm_70, the cu130 wheels at sm_75; no torch 2.x
  wheel has Kepler (sm_3x) kernels.

bf16 needs compute capability 8.0 (Ampere) or newer (CUDA's bf16 arithmetic; sd-scripts' docs say `--full_bf16`
needs an RTX 30-series or newer); older cards train in fp16.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Capability = tuple[int, int]

# Checked in order against the lower-cased name: the first match wins, so specific names come first.
_CARDS: tuple[tuple[str, Capability], ...] = (
    (r"rtx\s*\d000\s*(sff\s*)?ada|ada\s*generation", (8, 9)),  # before "RTX 5000": the RTX 5000 Ada is Ada
    (r"\bgb10\b", (12, 1)),  # DGX Spark
    (r"\bthor\b", (11, 0)),
    (r"\bb300\b|\bgb300\b", (10, 3)),
    (r"rtx\s*pro\s*\d+\s*blackwell|rtx\s*pro\s*6000|rtx\s*50[5-9]0", (12, 0)),
    (r"\bb200\b|\bb100\b|\bgb200\b", (10, 0)),
    (r"\bh100\b|\bh200\b|\bh800\b|\bgh200\b|\bh20\b", (9, 0)),
    (r"rtx\s*40[5-9]0|\bl40s?\b|\bl4\b|\bl20\b", (8, 9)),
    (r"\borin\b", (8, 7)),
    (r"\ba100\b|\ba800\b|\ba30\b", (8, 0)),
    (r"rtx\s*30[5-9]0|\ba40\b|\ba10g?\b|\ba16\b|\ba2\b|rtx\s*a\d{3,4}|\ba\d000\b", (8, 6)),
    (r"titan\s*rtx|rtx\s*20[5-8]0|gtx\s*16\d\d|\bt4\b|quadro\s*rtx|\bt\d{3,4}\b|\bmx\s*[45]\d0\b", (7, 5)),
    (r"xavier", (7, 2)),
    (r"\bv100|titan\s*v\b|\bgv100\b", (7, 0)),
    (r"\bp100\b|\bgp100\b", (6, 0)),
    (r"gtx\s*10\d\d|gt\s*1030|titan\s*xp|titan\s*x\s*\(pascal\)|\bp40\b|\bp4\b|\bp6\b|quadro\s*p\d+|\bmx\s*[123]50\b", (6, 1)),
    (r"gtx\s*9\d\d|titan\s*x\b|\bm40\b|\bm60\b|\bm6\b|quadro\s*m\d{4}", (5, 2)),
    (r"gtx\s*7[45]0|\bm10\b|quadro\s*k(620|1200|2200)", (5, 0)),
    (r"\bk80\b", (3, 7)),
    (r"\bk40\b|\bk20|gtx\s*780|titan\s*(black|z)?\s*$|gtx\s*titan\b", (3, 5)),
    (r"\bk10\b|\bk520\b|gtx\s*6\d\d|gtx\s*7[67]0", (3, 0)),
)


def compute_capability(name: str) -> Capability | None:
    """The compute capability of a card named as nvidia-smi names it ('NVIDIA GeForce RTX 3060'); None if unknown."""
    lowered = name.lower().removesuffix("...").strip()
    for pattern, capability in _CARDS:
        if re.search(pattern, lowered):
            return capability
    return None


def has_bf16(capability: Capability) -> bool:
    """bf16 mixed precision needs Ampere (8.0) or newer."""
    return capability >= (8, 0)


def sm(capability: Capability) -> str:
    """'sm_86' for (8, 6): the name torch's arch list uses."""
    return f"sm_{capability[0]}{capability[1]}"


@dataclass(frozen=True)
class Architecture:
    """An architecture, and the first CUDA release whose kernels run on every card of it."""

    name: str
    min_cuda: tuple[int, int]


# By major version: a kernel built for sm_XY runs on any card of the same major with minor >= Y, so the first CUDA
# that builds for the family's lowest minor is what every card of that major needs (sm_121 runs sm_120 kernels).
_ARCHITECTURES: dict[int, Architecture] = {
    3: Architecture("Kepler", (5, 0)),
    5: Architecture("Maxwell", (6, 5)),
    6: Architecture("Pascal", (8, 0)),
    7: Architecture("Volta/Turing", (9, 0)),
    8: Architecture("Ampere/Ada", (11, 0)),
    9: Architecture("Hopper", (11, 8)),
    10: Architecture("Blackwell (data center)", (12, 8)),
    11: Architecture("Blackwell (Thor)", (13, 0)),
    12: Architecture("Blackwell", (12, 8)),
}


def architecture(capability: Capability) -> Architecture | None:
    return _ARCHITECTURES.get(capability[0])


def cuda_too_old(capability: Capability, torch_cuda: str) -> str | None:
    """Why a torch built for CUDA `torch_cuda` ('12.4') cannot have kernels for this card, or None."""
    arch = architecture(capability)
    built = _version(torch_cuda)
    if arch is None or built is None or built >= arch.min_cuda:
        return None
    need = f"{arch.min_cuda[0]}.{arch.min_cuda[1]}"
    return f"{sm(capability)} ({arch.name}) needs a torch built for CUDA {need} or newer; this one is CUDA {torch_cuda}"


def torch_support(capability: Capability) -> str | None:
    """What current torch wheels lack for this card, or None when every current wheel runs it."""
    if capability < (5, 0):
        return f"no torch 2.x wheel has kernels for {sm(capability)} (Kepler): current torch cannot train on this card"
    if capability < (7, 0):
        return (f"{sm(capability)} runs only on torch's cu126 (or older) wheels: the cu128 wheels of torch 2.8 and "
                "later start at sm_70")
    if capability < (7, 5):
        return f"{sm(capability)} runs on torch's cu126 and cu128 wheels, not on the cu130 ones (they start at sm_75)"
    return None


def _version(text: str) -> tuple[int, int] | None:
    match = re.match(r"(\d+)\.(\d+)", text.strip())
    return (int(match[1]), int(match[2])) if match else None
