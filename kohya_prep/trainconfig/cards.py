"""Well-known NVIDIA cards and their compute capability, for `--gpu NAME` when no GPU can be probed.

bf16 needs compute capability 8.0 (Ampere) or newer (CUDA's bf16 arithmetic; sd-scripts' docs say `--full_bf16` needs
an RTX 30-series or newer); older cards train in fp16.
"""

from __future__ import annotations

import re

# Checked in order: the first pattern found in the (lower-cased) name wins, so specific names come first.
_CARDS: tuple[tuple[str, tuple[int, int]], ...] = (
    (r"rtx\s*pro\s*6000|rtx\s*50\d\d|\bb200\b|\bb100\b|\bgb200\b", (12, 0)),
    (r"\bh100\b|\bh200\b|\bh800\b|\bgh200\b", (9, 0)),
    (r"rtx\s*40\d\d|\bl40s?\b|\bl4\b|rtx\s*\d000\s*ada|ada\s*generation", (8, 9)),
    (r"\ba100\b|\ba800\b|\ba30\b", (8, 0)),
    (r"rtx\s*30\d\d|\ba40\b|\ba10g?\b|\ba16\b|\ba2\b|rtx\s*a\d{4}|\ba\d000\b", (8, 6)),
    (r"titan\s*rtx|rtx\s*20\d\d|gtx\s*16\d\d|\bt4\b|quadro\s*rtx", (7, 5)),
    (r"\bv100\b|titan\s*v\b", (7, 0)),
    (r"gtx\s*10\d\d|titan\s*x|\bp40\b|\bp4\b|\bp100\b", (6, 1)),
)


def compute_capability(name: str) -> tuple[int, int] | None:
    """The compute capability of a card named like nvidia-smi names it ('NVIDIA GeForce RTX 3060'); None if unknown."""
    lowered = name.lower()
    for pattern, capability in _CARDS:
        if re.search(pattern, lowered):
            return capability
    return None


def has_bf16(capability: tuple[int, int]) -> bool:
    """bf16 mixed precision needs Ampere (8.0) or newer."""
    return capability >= (8, 0)
