"""Compute capability by card name, for `--gpu NAME`: NVIDIA's table lives in kohya_prep/nvidia.py, shared with doctor.

Kept so train-config's imports (`from kohya_prep.trainconfig.cards import compute_capability`) keep working.
"""

from __future__ import annotations

from kohya_prep.nvidia import compute_capability, has_bf16

__all__ = ["compute_capability", "has_bf16"]
