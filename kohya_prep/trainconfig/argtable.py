"""The argparse options each training script knows, with the TOML type it expects (each script's
setup_parser, and library/train_util.py's add_*_arguments).

sd-scripts reads the args TOML without filtering keys or converting types (train_util.read_config_from_file): a
typo is silently ignored and `learning_rate = "1e-4"` stays a string. Every key kohya-prep writes, and every
override, is checked here first. Options left out (deepspeed tuning, huggingface upload, ...) can go on the CLI.
"""

from __future__ import annotations

import ast
import difflib
import math
import sys
from dataclasses import dataclass
from typing import Any

from kohya_prep.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

INT, FLOAT, BOOL, STR = "int", "float", "bool", "str"
STR_LIST, FLOAT_LIST = "str_list", "float_list"
STEPS = "steps"  # int = steps; float < 1 = a ratio of all steps (lr_warmup_steps, lr_decay_steps)
TYPES = (INT, FLOAT, BOOL, STR, STR_LIST, FLOAT_LIST, STEPS)


@dataclass(frozen=True)
class Arg:
    """An argparse option: its name, TOML type, and the section kohya-prep writes it under."""

    key: str
    type: str
    section: str


def _group(section: str, **by_type: str) -> dict[str, Arg]:
    """Expand `int="a b c"` into Arg rows; keeps the table below readable."""
    rows = {}
    for type_name, keys in by_type.items():
        assert type_name.rstrip("_") in TYPES, type_name
        for key in keys.split():
            rows[key] = Arg(key, type_name.rstrip("_"), section)
    return rows


# train_util.add_sd_models_arguments, add_training_arguments, add_optimizer_arguments, add_dataset_arguments,
# add_masked_loss_arguments, config_util.add_config_arguments, and train_network.setup_parser (main@48d368f).
COMMON: dict[str, Arg] = {
    **_group("model", str_="pretrained_model_name_or_path vae tokenizer_cache_dir"),
    **_group(
        "network",
        str_="network_module network_weights training_comment",
        int_="network_dim",
        float_="network_alpha network_dropout scale_weight_norms loraplus_lr_ratio loraplus_unet_lr_ratio "
        "loraplus_text_encoder_lr_ratio",
        str_list="network_args base_weights",
        float_list="base_weights_multiplier",
        bool_="network_train_unet_only network_train_text_encoder_only dim_from_weights no_metadata",
    ),
    **_group(
        "optimizer",
        str_="optimizer_type lr_scheduler lr_scheduler_type",
        float_="learning_rate unet_lr max_grad_norm lr_scheduler_power lr_scheduler_min_lr_ratio",
        float_list="text_encoder_lr",
        str_list="optimizer_args lr_scheduler_args",
        steps="lr_warmup_steps lr_decay_steps",
        int_="lr_scheduler_num_cycles lr_scheduler_timescale",
        bool_="fused_backward_pass use_8bit_adam use_lion_optimizer",
    ),
    **_group(
        "training",
        str_="dataset_config train_data_dir reg_data_dir in_json dataset_class",
        int_="max_train_steps max_train_epochs train_batch_size gradient_accumulation_steps seed clip_skip "
        "max_token_length dataset_repeats min_timestep max_timestep multires_noise_iterations initial_epoch initial_step",
        float_="prior_loss_weight noise_offset ip_noise_gamma min_snr_gamma multires_noise_discount adaptive_noise_scale "
        "huber_c huber_scale v_pred_like_loss",
        bool_="weighted_captions debiased_estimation_loss noise_offset_random_strength ip_noise_gamma_random_strength "
        "zero_terminal_snr scale_v_pred_loss_like_noise_pred masked_loss alpha_mask skip_until_initial_step debug_dataset",
    ),
    **_group("training", str_="loss_type huber_schedule"),
    **_group(
        "dataset",
        str_="caption_extension caption_separator keep_tokens_separator secondary_separator caption_prefix caption_suffix "
        "resolution face_crop_aug_range resize_interpolation conditioning_data_dir",
        int_="keep_tokens min_bucket_reso max_bucket_reso bucket_reso_steps token_warmup_min caption_dropout_every_n_epochs",
        float_="token_warmup_step caption_dropout_rate caption_tag_dropout_rate",
        bool_="shuffle_caption enable_wildcard color_aug flip_aug random_crop enable_bucket bucket_no_upscale",
    ),
    **_group(
        "memory",
        str_="mixed_precision dynamo_backend",
        int_="vae_batch_size max_data_loader_n_workers",
        bool_="full_fp16 full_bf16 fp8_base fp8_base_unet gradient_checkpointing cpu_offload_checkpointing cache_latents "
        "cache_latents_to_disk skip_cache_check xformers sdpa mem_eff_attn lowram highvram no_half_vae "
        "persistent_data_loader_workers torch_compile",
    ),
    **_group(
        "saving",
        str_="output_dir output_name save_model_as save_precision resume",
        int_="save_every_n_epochs save_every_n_steps save_n_epoch_ratio save_last_n_epochs save_last_n_epochs_state "
        "save_last_n_steps save_last_n_steps_state",
        bool_="save_state save_state_on_train_end",
    ),
    **_group(
        "logging",
        str_="logging_dir log_with log_prefix log_tracker_name wandb_run_name log_tracker_config console_log_level "
        "console_log_file metadata_title metadata_author metadata_description metadata_license metadata_tags",
        bool_="log_config console_log_simple",
    ),
    **_group(
        "sampling",
        str_="sample_prompts sample_sampler",
        int_="sample_every_n_steps sample_every_n_epochs validation_seed validate_every_n_steps validate_every_n_epochs "
        "max_validation_steps",
        float_="validation_split",
        bool_="sample_at_first",
    ),
}

SD15_ONLY = _group("model", bool_="v2 v_parameterization")

# sdxl_train_util.add_sdxl_training_arguments; v_parameterization from add_sd_models_arguments (v-pred SDXL
# checkpoints; v2 is asserted off by sdxl_train_util.verify_sdxl_training_args, so it is left out).
SDXL_ONLY = {
    **_group("memory", bool_="cache_text_encoder_outputs cache_text_encoder_outputs_to_disk disable_mmap_load_safetensors"),
    **_group("model", bool_="v_parameterization"),
}

# flux_train_utils.add_flux_train_arguments and train_util.add_dit_training_arguments
FLUX_ONLY = {
    **_group("model", str_="clip_l t5xxl ae model_type controlnet_model_name_or_path"),
    **_group(
        "flux",
        int_="t5xxl_max_token_length",
        float_="guidance_scale sigmoid_scale discrete_flow_shift logit_mean logit_std mode_scale",
        str_="timestep_sampling model_prediction_type weighting_scheme",
        bool_="apply_t5_attn_mask split_mode",
    ),
    **_group(
        "memory",
        int_="blocks_to_swap text_encoder_batch_size",
        bool_="cache_text_encoder_outputs cache_text_encoder_outputs_to_disk disable_mmap_load_safetensors",
    ),
}

TABLES: dict[str, dict[str, Arg]] = {
    "sd15": COMMON | SD15_ONLY,
    "sdxl": COMMON | SDXL_ONLY,
    "flux": COMMON | FLUX_ONLY,
}


# Options whose value sd-scripts checks only when it is too late (or never): checked here before writing.
CHOICES: dict[str, tuple[str, ...]] = {
    "mixed_precision": ("no", "fp16", "bf16"),
    "save_precision": ("float", "fp16", "bf16"),
    "save_model_as": ("safetensors", "ckpt", "pt"),
    "lr_scheduler": ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
                     "inverse_sqrt", "cosine_with_min_lr", "warmup_stable_decay", "piecewise_constant", "adafactor"),
    "log_with": ("tensorboard", "wandb", "all"),
    "loss_type": ("l1", "l2", "huber", "smooth_l1"),
    "timestep_sampling": ("sigma", "uniform", "sigmoid", "shift", "flux_shift"),
    "model_prediction_type": ("raw", "additive", "sigma_scaled"),
}


def arg_table(family: str) -> dict[str, Arg]:
    """The key/type table of one family's training script."""
    return TABLES[family]


def lookup(family: str, key: str, where: str) -> Arg:
    """The Arg for `key`, or a ConfigError that suggests the closest known key."""
    table = arg_table(family)
    if key in table:
        return table[key]
    close = difflib.get_close_matches(key, list(table), n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else "see sd-scripts' --help for the option names"
    raise ConfigError(f"{where}: '{key}' is not an option of the {family} training script; {hint}")


# Beyond these a value is a typo, not a setting: seeds and counts go to numpy/torch as 32-bit, and no rate, scale
# or ratio sd-scripts takes is anywhere near a billion.
INT_LIMIT = 2**32 - 1
FLOAT_LIMIT = 1e9


def _too_large(value: Any) -> bool:
    numbers = value if isinstance(value, list) else [value]
    return any(
        (_is_int(v) and abs(v) > INT_LIMIT) or (isinstance(v, float) and math.isfinite(v) and abs(v) > FLOAT_LIMIT)
        for v in numbers
    )


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:24]}...{text[-8:]} ({len(text)} characters)"


def type_problem(arg: Arg, value: Any) -> str | None:
    """Why `value` is not of the TOML type sd-scripts expects for `arg`, or None when it is."""
    if _too_large(value):
        limit = f"{INT_LIMIT:,}" if arg.type in (INT, STEPS) else f"{FLOAT_LIMIT:g}"
        return f"{arg.key} = {_shown(value)} is too large; it must be at most {limit} in size"
    ok = {
        INT: lambda v: _is_int(v),
        FLOAT: lambda v: isinstance(v, float) and math.isfinite(v),
        BOOL: lambda v: isinstance(v, bool),
        STR: lambda v: isinstance(v, str),
        STR_LIST: lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
        FLOAT_LIST: lambda v: isinstance(v, list) and all(isinstance(i, float) and math.isfinite(i) for i in v),
        STEPS: lambda v: _is_int(v) or (isinstance(v, float) and 0.0 <= v < 1.0),
    }[arg.type]
    if ok(value):
        return None
    return f"{arg.key} = {_shown(value)} must be {_describe(arg.type)}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _describe(type_name: str) -> str:
    return {
        INT: "a whole number (e.g. 10)",
        FLOAT: "a decimal number (e.g. 0.0001 or 8.0)",
        BOOL: "true or false",
        STR: "text",
        STR_LIST: 'a list of texts (e.g. ["conv_dim=4", "conv_alpha=1"])',
        FLOAT_LIST: "a list of decimal numbers (e.g. [0.00005])",
        STEPS: "a whole number of steps, or a ratio below 1.0",
    }[type_name]


def coerce(arg: Arg, value: Any, where: str) -> Any:
    """A TOML value (from the spec's [train] table or a preset) in the exact type sd-scripts expects.

    Lossless widening only: an int for a float option becomes a float (sd-scripts would keep the int), a single
    value for a list option becomes a one-item list. Anything else that does not fit is a ConfigError.
    """
    if arg.type == FLOAT and _is_int(value) and abs(value) <= FLOAT_LIMIT:
        value = float(value)
    elif arg.type in (STR_LIST, FLOAT_LIST) and not isinstance(value, list):
        value = [value]
    if arg.type == FLOAT_LIST and isinstance(value, list):
        value = [float(v) if _is_int(v) and abs(v) <= FLOAT_LIMIT else v for v in value]
    problem = type_problem(arg, value)
    if problem:
        raise ConfigError(f"{where}: {problem}.")
    return value


def parse_override(family: str, text: str) -> tuple[str, Any]:
    """Parse one `--set key=value` into the key and a value of the option's type."""
    where = f"--set {_shown(text)}"
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not key:
        raise ConfigError(f"{where} has no '='; write --set key=value, e.g. --set network_dim=32")
    arg = lookup(family, key, where)
    return key, coerce(arg, _parse_raw(arg, raw, where), where)


def _parse_raw(arg: Arg, raw: str, where: str) -> Any:
    """Text from the command line as a value: TOML syntax where it parses, else plain text for text options."""
    if arg.type in (STR_LIST, FLOAT_LIST) and not raw.startswith("["):
        items = raw.split()  # optimizer_args=weight_decay=0.01 betas=(0.9,0.99)
        return [_parse_raw(Arg(arg.key, FLOAT if arg.type == FLOAT_LIST else STR, arg.section), i, where) for i in items]
    if arg.type == STR and not raw.startswith(("'", '"')):
        return raw
    if arg.type == BOOL and raw.lower() in ("true", "false", "yes", "no", "1", "0"):
        return raw.lower() in ("true", "yes", "1")
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except (ValueError, RecursionError):  # TOMLDecodeError, or a whole number of more than 4300 digits
        try:
            return ast.literal_eval(raw)
        except (ValueError, SyntaxError, RecursionError, MemoryError):
            raise ConfigError(f"{where}: cannot read {_shown(raw)}; it must be {_describe(arg.type)}.") from None
