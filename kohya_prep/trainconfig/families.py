"""The model families train-config knows: script, network module, bucket step and model-file options.

From each script's argparse setup and `assert_extra_args` (train_network.py, sdxl_train_network.py,
flux_train_network.py)."""

from __future__ import annotations

from dataclasses import dataclass

from kohya_prep.errors import ConfigError


@dataclass(frozen=True)
class ModelFile:
    """A model option of the training script (`pretrained_model_name_or_path`, `ae`, ...) and its CLI flag."""

    key: str
    flag: str
    what: str
    default: str | None  # a Hugging Face id sd-scripts can download, or None: the user must give a path
    placeholder: str = "/path/to/model.safetensors"  # written when neither a path nor a default exists


@dataclass(frozen=True)
class Family:
    """One model family as sd-scripts trains its LoRA."""

    name: str
    title: str
    script: str
    network_module: str
    bucket_reso_steps: int
    resolution: int
    model_files: tuple[ModelFile, ...]
    latent_cache_suffix: str  # library/strategy_*.py: the latent cache file suffix


SD15 = Family(
    name="sd15",
    title="SD 1.5",
    script="train_network.py",
    network_module="networks.lora",
    bucket_reso_steps=64,  # train_network.py asserts divisibility by 64
    resolution=512,
    model_files=(
        ModelFile("pretrained_model_name_or_path", "--model", "SD 1.5 checkpoint", "stable-diffusion-v1-5/stable-diffusion-v1-5"),
    ),
    latent_cache_suffix="_sd.npz",
)

SDXL = Family(
    name="sdxl",
    title="SDXL",
    script="sdxl_train_network.py",
    network_module="networks.lora",
    bucket_reso_steps=32,
    resolution=1024,
    model_files=(
        ModelFile("pretrained_model_name_or_path", "--model", "SDXL checkpoint", "stabilityai/stable-diffusion-xl-base-1.0"),
    ),
    latent_cache_suffix="_sdxl.npz",
)

FLUX = Family(
    name="flux",
    title="FLUX.1",
    script="flux_train_network.py",
    network_module="networks.lora_flux",
    bucket_reso_steps=64,  # flux_train_network.py: assert_extra_args runs train_network.py's check for 64 first, then 32
    resolution=1024,
    model_files=(
        ModelFile("pretrained_model_name_or_path", "--model", "FLUX.1 dev transformer (flux1-dev.safetensors)", None,
                  "/path/to/flux1-dev.safetensors"),
        ModelFile("clip_l", "--clip-l", "CLIP-L text encoder (clip_l.safetensors)", None, "/path/to/clip_l.safetensors"),
        ModelFile("t5xxl", "--t5xxl", "T5-XXL text encoder (t5xxl_fp16 or t5xxl_fp8_e4m3fn.safetensors)", None,
                  "/path/to/t5xxl_fp16.safetensors"),
        ModelFile("ae", "--ae", "FLUX autoencoder (ae.safetensors)", None, "/path/to/ae.safetensors"),
    ),
    latent_cache_suffix="_flux.npz",
)

FAMILIES: dict[str, Family] = {f.name: f for f in (SD15, SDXL, FLUX)}


def get_family(name: str) -> Family:
    """The family called `name`; ConfigError naming the known ones otherwise."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ConfigError(f"unknown model family {name!r}; use one of {', '.join(FAMILIES)}.") from None
