"""Plan steps beyond the merge: v-prediction rules, FLUX's flow shift, the learning-rate scaling and validation.

Each takes the merged settings (key -> Setting) and the keys the user set; plan.make_plan calls them in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from kohya_prep.trainconfig import lr_scale, validation
from kohya_prep.trainconfig.lr_scale import Scaling
from kohya_prep.trainconfig.setting import Setting

# Dataset options train-config still writes into training.toml when the dataset config is the user's own:
# sd-scripts falls back to them for every dataset that leaves them unset (config_util.py: BlueprintGenerator).
ARGS_FALLBACK = frozenset({"train_batch_size", "validation_split", "validation_seed"})
# flux_train_utils.py: get_noisy_model_input_and_timesteps: these samplings never read discrete_flow_shift.
FLOW_SHIFT_UNUSED = ("uniform", "sigmoid", "flux_shift")


class _View(Protocol):
    family: str

    def on(self, key: str) -> bool: ...
    def get(self, key: str, default: Any = None) -> Any: ...


def _v_prediction_companions(s: _View) -> list[str]:
    # library/train_util.py: verify_training_args raises for the first two; custom_train_functions.py divides by the
    # SNR, which zero terminal SNR makes 0 at the last timestep, unless the loss is v-prediction's.
    problems = []
    if s.on("scale_v_pred_loss_like_noise_pred") and not s.on("v_parameterization"):
        problems.append("scale_v_pred_loss_like_noise_pred needs v_parameterization = true")
    if s.on("v_pred_like_loss") and s.on("v_parameterization"):
        problems.append("v_pred_like_loss cannot be used with v_parameterization; drop it for a v-pred checkpoint")
    if s.on("zero_terminal_snr") and not s.on("v_parameterization"):
        weighted = [k for k in ("min_snr_gamma", "debiased_estimation_loss") if s.on(k)]
        if weighted:
            problems.append(f"zero_terminal_snr without v_parameterization makes {' and '.join(weighted)} divide by a "
                            "zero SNR (an inf or NaN loss); set v_parameterization = true for a v-pred checkpoint")
    return problems


RULES = (_v_prediction_companions,)


def tidy(settings: dict[str, Setting], user_keys: set[str]) -> list[str]:
    """Drop what sd-scripts would not read; notes for what the user set that has no effect."""
    notes = []
    sampling = settings["timestep_sampling"].value if "timestep_sampling" in settings else None
    if "discrete_flow_shift" in settings and sampling in FLOW_SHIFT_UNUSED:
        if "discrete_flow_shift" in user_keys:
            notes.append(f"discrete_flow_shift has no effect with timestep_sampling = '{sampling}'; it is read only "
                         "with 'shift' (and by the scheduler of 'sigma' and the weighting schemes).")
        else:
            del settings["discrete_flow_shift"]
    if settings.get("zero_terminal_snr", Setting(False, None)).value and not settings.get(
            "v_parameterization", Setting(False, None)).value:
        notes.append("zero_terminal_snr without v_parameterization: sd-scripts warns 'training will be unexpected'; "
                     "zero terminal SNR belongs to v-prediction checkpoints (--base vpred).")
    return notes


def scale_learning_rates(settings: dict[str, Setting], user_keys: set[str], num_processes: int,
                         batch_size: int | None = None) -> Scaling:
    """The steps policy (lr_scale.py): the preset's rates times sqrt(images per step); the user's as given.
    `batch_size`: the one the dataset config sets, when it is the user's own."""
    batch = batch_size or (settings["train_batch_size"].value if "train_batch_size" in settings else 1)
    accum = settings["gradient_accumulation_steps"].value if "gradient_accumulation_steps" in settings else 1
    per_step = lr_scale.images_per_step(batch, accum, num_processes)
    factor = lr_scale.factor_for(per_step)
    for key in lr_scale.RATE_KEYS:
        if key in settings and key not in user_keys:
            old = settings[key]
            settings[key] = Setting(lr_scale.scaled(old.value, factor), lr_scale.reason(old.value, factor, per_step, old.why))
    return Scaling(per_step, factor)


def choose_validation(settings: dict[str, Setting], user_keys: set[str],
                      subsets: Sequence[validation.S]) -> validation.Validation:
    """validation_split / validation_seed / validate_every_n_epochs: the user's, or on for a dataset large enough."""
    split = settings["validation_split"].value if "validation_split" in user_keys else None
    seed = settings["seed"].value if "seed" in settings else 42
    chosen = validation.choose(subsets, seed, split)
    if "validation_seed" in user_keys and chosen.split > 0:
        chosen = validation.with_seed(subsets, chosen.split, settings["validation_seed"].value)
    if "validation_split" not in user_keys:
        settings["validation_split"] = Setting(chosen.split, chosen.why)
    if chosen.split <= 0.0:
        for key in ("validation_seed", "validate_every_n_epochs"):
            if key not in user_keys:
                settings.pop(key, None)
        return chosen
    if "validation_seed" not in user_keys:
        settings["validation_seed"] = Setting(chosen.seed, "fixed: the same images are held out on every run and "
                                                           "resume; chosen to split the fewest -flip mirror pairs")
    if "validate_every_n_epochs" not in user_keys:
        settings["validate_every_n_epochs"] = Setting(1, "a validation-loss point per epoch in TensorBoard")
    return chosen
