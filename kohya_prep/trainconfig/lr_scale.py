"""The steps policy: the same samples seen on every card, the learning rate scaled with the batch.

A bigger card gets a bigger batch, so the same epochs take fewer steps (SD 1.5: 1200, 600 and 300 at 8, 12 and 24
GB). kohya-prep keeps the epochs, so every card shows each image equally often, and scales the preset's learning
rates, written for one image per step, by the square root of the images per step (train_batch_size x
gradient_accumulation_steps x processes): sd-scripts' docs say batch 4 with the same learning rate under-trains and
raise it from 1e-6 to 2e-6 for batch 4 (docs/train_README-ja.md, on steps and batch size), which is that rule.
A learning rate the user sets is written as given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

RATE_KEYS = ("learning_rate", "unet_lr", "text_encoder_lr")


@dataclass(frozen=True)
class Scaling:
    """How the preset's learning rates were scaled."""

    images_per_step: int
    factor: float


def images_per_step(batch: int, grad_accum: int, processes: int) -> int:
    return max(1, batch) * max(1, grad_accum) * max(1, processes)


def scaled(value: Any, factor: float) -> Any:
    """A learning rate (or list of them) times `factor`, to three significant digits."""
    if isinstance(value, list):
        return [scaled(v, factor) for v in value]
    return float(f"{value * factor:.3g}")


def reason(value: Any, factor: float, per_step: int, why: str | None) -> str:
    """The comment beside a scaled learning rate."""
    if factor == 1.0:
        return why or "1 image per step: the preset's rate as written (steps policy: README)"
    return (f"{value} for 1 image per step x sqrt({per_step} images per step) = {scaled(value, factor)}: same "
            "epochs on every card, rate scaled with the batch (steps policy: README)")


def factor_for(per_step: int) -> float:
    return math.sqrt(per_step)
