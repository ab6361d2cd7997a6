"""Settings that fit a GPU: batch size, checkpointing, precision, optimizer, caching, attention, FLUX block swap.

Figures follow what sd-scripts documents (docs/train_network_README-ja.md, docs/train_SDXL-en.md,
docs/flux_train_network.md); where the docs name no number, the reason says the
value is kohya-prep's own choice. Every setting carries its reason, written as a comment beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Choice:
    """One fitted option with the reason it was chosen."""

    key: str
    value: Any
    why: str


@dataclass(frozen=True)
class GpuTraits:
    """What fitting needs to know of the training GPU(s)."""

    vram_gb: float
    bf16: bool
    name: str | None
    bf16_source: str  # how bf16 was decided: 'probed', 'from --gpu NAME', or the assumption made


@dataclass(frozen=True)
class Fit:
    """The fitted settings for one family on one GPU, and notes for the user."""

    tier: int
    choices: list[Choice]
    notes: list[str]


TIERS = {"sd15": (8, 12, 16, 24, 48), "sdxl": (8, 12, 16, 24, 48), "flux": (8, 10, 12, 16, 24, 40)}


def tier_for(family: str, vram_gb: float) -> int:
    """The largest documented tier that fits in `vram_gb` (the smallest tier when below all)."""
    tiers = TIERS[family]
    fitting = [t for t in tiers if t <= vram_gb + 0.5]  # 11.5 GiB reported for a '12 GB' card still counts as 12
    return fitting[-1] if fitting else tiers[0]


def fit(family: str, gpu: GpuTraits) -> Fit:
    """Choose memory and speed settings for `family` on `gpu`."""
    tier = tier_for(family, gpu.vram_gb)
    notes = []
    if gpu.vram_gb + 0.5 < TIERS[family][0]:
        notes.append(f"{gpu.vram_gb:g} GB is below the smallest tier sd-scripts documents for {family} "
                     f"({TIERS[family][0]} GB); the {tier} GB settings may still run out of memory.")
    choices = [_precision(family, gpu, notes), Choice("sdpa", True, "PyTorch's built-in attention: no xformers wheel needed")]
    choices += {"sd15": _sd15, "sdxl": _sdxl, "flux": _flux}[family](tier, gpu, notes)
    return Fit(tier, choices, notes)


def _precision(family: str, gpu: GpuTraits, notes: list[str]) -> Choice:
    if gpu.bf16:
        return Choice("mixed_precision", "bf16", f"bf16: the GPU supports it ({gpu.bf16_source}); no fp16 overflow")
    if family == "flux":
        notes.append("FLUX.1 is trained in bf16 in sd-scripts' docs; this GPU has no bf16, so fp16 may give NaN losses.")
    return Choice("mixed_precision", "fp16", f"fp16: no bf16 on this GPU ({gpu.bf16_source})")


def _latent_cache() -> list[Choice]:
    why = "frees the VAE during training; needs color_aug and random_crop off (they are)"
    return [Choice("cache_latents", True, why), Choice("cache_latents_to_disk", True, "reused by later runs")]


def _optimizer(name: str, tier: int, source: str) -> Choice:
    return Choice("optimizer_type", name, f"{tier} GB: {name}, {source}")


def _sd15(tier: int, gpu: GpuTraits, notes: list[str]) -> list[Choice]:
    batch = {8: 1, 12: 2, 16: 4, 24: 4, 48: 8}[tier]
    checkpointing = tier <= 16
    doc = "sd-scripts: SD 1.5 LoRA 'seems to run, barely' at 8 GB"
    own = "kohya-prep's choice above sd-scripts' 8 GB figure"
    return [
        Choice("train_batch_size", batch, f"{tier} GB: batch {batch}, " + (doc if tier == 8 else own)),
        Choice("gradient_checkpointing", checkpointing,
               f"{tier} GB: " + ("trades a little speed for a large memory saving" if checkpointing else "not needed, faster")),
        _optimizer("AdamW" if tier >= 48 else "AdamW8bit", tier,
                   "memory is plentiful" if tier >= 48 else "8-bit optimizer states save memory (bitsandbytes)"),
        *_latent_cache(),
    ]


def _sdxl(tier: int, gpu: GpuTraits, notes: list[str]) -> list[Choice]:
    batch = {8: 1, 12: 1, 16: 2, 24: 2, 48: 4}[tier]
    guide = "per sd-scripts' SDXL guidance (8 GB works, 10 GB recommended)"
    choices = [
        Choice("train_batch_size", batch, f"{tier} GB: batch {batch}" + (f", {guide}" if tier == 8 else ", kohya-prep's choice")),
        Choice("gradient_checkpointing", True,
               f"{tier} GB: sd-scripts warns SDXL may run out of memory even at 24 GB without it"),
        _optimizer("AdamW" if tier >= 48 else "AdamW8bit", tier,
                   "memory is plentiful" if tier >= 48 else "8-bit optimizer states, " + guide),
        *_latent_cache(),
    ]
    if not gpu.bf16:
        choices.append(Choice("no_half_vae", True, "fp16: SDXL's VAE overflows in half precision"))
    if tier <= 16:
        te_why = f"{tier} GB: text encoders not trained and their outputs cached, {guide}"
        choices += [
            Choice("network_train_unet_only", True, te_why),
            Choice("cache_text_encoder_outputs", True, "frees both text encoders; needs no caption shuffle or dropout"),
            Choice("cache_text_encoder_outputs_to_disk", True, "reused by later runs"),
        ]
    if tier == 8:
        choices += [Choice("network_dim", 8, f"8 GB: dim 4-8, {guide}"), Choice("network_alpha", 4.0, "half of network_dim")]
    return choices


_FLUX_SWAP = {8: 28, 10: 22, 12: 16, 16: 8}


def _flux(tier: int, gpu: GpuTraits, notes: list[str]) -> list[Choice]:
    guide = "per sd-scripts' FLUX guidance"
    batch = 2 if tier >= 24 else 1
    choices = [
        Choice("train_batch_size", batch, f"{tier} GB: batch {batch}, {guide}"),
        Choice("gradient_checkpointing", True, "FLUX.1 needs it at every size sd-scripts documents"),
        *_latent_cache(),
        Choice("cache_text_encoder_outputs", True, "frees CLIP-L and T5-XXL during training"),
        Choice("cache_text_encoder_outputs_to_disk", True, "reused by later runs"),
        Choice("network_train_unet_only", True, "train the FLUX transformer only; the text-encoder outputs are cached"),
    ]
    if tier < 40:
        choices.append(Choice("fp8_base", True, f"{tier} GB: the base model in fp8, {guide} (24 GB and below)"))
    if tier in _FLUX_SWAP:
        swap = _FLUX_SWAP[tier]
        source = "kohya-prep's number: sd-scripts names none for 16 GB" if tier == 16 else guide
        choices.append(Choice("blocks_to_swap", swap, f"{tier} GB: blocks_to_swap {swap} (max 35), {source}"))
    if tier == 8:
        choices += [
            _optimizer("Adafactor", tier, f"saves more than AdamW8bit, {guide}"),
            Choice("optimizer_args", ["relative_step=False", "scale_parameter=False", "warmup_init=False"],
                   "Adafactor with a fixed learning rate, so learning_rate and lr_scheduler apply"),
        ]
    else:
        choices.append(_optimizer("AdamW8bit", tier, guide))
    if tier <= 10:
        notes.append(f"{tier} GB: use the fp8 T5-XXL checkpoint (t5xxl_fp8_e4m3fn.safetensors) for --t5xxl, {guide}.")
    return choices
