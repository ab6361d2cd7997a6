"""The train-config plan: preset, GPU fit, the spec's [train] table and --set overrides, merged and cross-checked.

Pure: takes plain values (the scanned subsets, paths as strings) and returns what each file will say and why.
Layer order, later wins: preset -> GPU fit -> base and sampling (--base) -> paths from the spec and options ->
[train] -> --set. Then the learning rates are scaled with the batch (lr_scale.py), validation is chosen
(validation.py) and the steps are previewed on the images the training dataset keeps.
With a dataset config of the user's own (`foreign`), nothing is routed into a dataset config: their file is
passed as it is, and the args fill in only what it leaves unset (library/config_util.py: BlueprintGenerator).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kohya_prep.errors import ConfigError
from kohya_prep.sdscripts.buckets import (
    DEFAULT_BUCKET_RESO_STEPS,
    DEFAULT_MAX_BUCKET_RESO,
    DEFAULT_MIN_BUCKET_RESO,
    BucketSettings,
)
from kohya_prep.sdscripts.steps import EpochPlan, SubsetImages, plan_epoch, steps_per_epoch, training_length
from kohya_prep.spec.dataset import default_bucket_range
from kohya_prep.trainconfig import extra_rules
from kohya_prep.trainconfig.argtable import CHOICES, coerce, lookup
from kohya_prep.trainconfig.dataset_toml import ARG_TO_DATASET_KEY, SubsetConfig, dataset_config_problems, dataset_data
from kohya_prep.trainconfig.families import Family
from kohya_prep.trainconfig.fit import Fit
from kohya_prep.trainconfig.lr_scale import Scaling
from kohya_prep.trainconfig.presets import Preset
from kohya_prep.trainconfig.setting import Setting
from kohya_prep.trainconfig.toml_text import Entry
from kohya_prep.trainconfig.validation import Validation, split_subsets


@dataclass(frozen=True)
class ScannedSubset:
    """A subset folder as the scan found it: where, how often, and each loaded image's name and size."""

    image_dir: str
    num_repeats: int
    class_tokens: str
    is_reg: bool
    paths: tuple[str, ...]
    sizes: tuple[tuple[int, int], ...]
    alpha_mask: bool = False  # some image carries a loss mask in its alpha channel


@dataclass(frozen=True)
class ForeignDataset:
    """One [[datasets]] of the user's own dataset config, as sd-scripts will build it."""

    where: str
    bucket: BucketSettings
    batch_size: int | None  # None: the config leaves it to train_batch_size
    validation_split: float | None  # None: left to --validation_split
    validation_seed: int | None
    subsets: tuple[ScannedSubset, ...]


@dataclass(frozen=True)
class PlanInputs:
    """Everything the plan needs, as plain values."""

    family: Family
    preset: Preset
    fit: Fit
    resolution: int
    output_name: str
    paths: dict[str, str]  # output_dir, logging_dir, dataset_config and the family's model files
    path_reasons: dict[str, str]
    subsets: list[ScannedSubset]
    spec_train: dict[str, Any] = field(default_factory=dict)
    overrides: list[tuple[str, Any]] = field(default_factory=list)
    num_processes: int = 1
    layer: list[tuple[str, Any, str]] = field(default_factory=list)  # --base and sampling, after the GPU fit
    foreign: tuple[ForeignDataset, ...] = ()  # the user's own dataset config (then `subsets` is empty)
    targets: list[tuple[str, Any, str]] = field(default_factory=list)  # --epochs / --steps: last, over --set
    build_buckets: BucketSettings | None = None  # the buckets a fit = "bucket" build shaped its images for


@dataclass(frozen=True)
class TrainConfigPlan:
    """What train-config writes: args settings, dataset entries, and the steps preview."""

    family: Family
    args: dict[str, Setting]
    general: list[Entry]
    dataset: list[Entry]
    subsets: list[SubsetConfig]
    epoch: EpochPlan
    max_train_epochs: int
    max_train_steps: int
    notes: list[str]
    epochs_all: tuple[EpochPlan, ...] = ()  # every dataset (a dataset config of the user's own may hold several)
    validation: Validation = field(default_factory=lambda: Validation(0.0, None, (), 0, "off"))
    scaling: Scaling = field(default_factory=lambda: Scaling(1, 1.0))
    foreign: bool = False

    def dataset_data(self) -> dict[str, Any]:
        """The dataset config as plain data."""
        return dataset_data(self.general, self.dataset, self.subsets)

    @property
    def steps_per_epoch(self) -> int:
        """Steps per epoch over all datasets (their batches share one dataloader)."""
        return steps_per_epoch(self.epochs_all or (self.epoch,))


def make_plan(inputs: PlanInputs) -> TrainConfigPlan:
    """Merge the layers, route dataset options to the dataset config, cross-check, and preview the steps."""
    family = inputs.family.name
    settings: dict[str, Setting] = {}
    for key, value in inputs.preset.values.items():
        settings[key] = Setting(value, inputs.preset.comments.get(key))
    for choice in inputs.fit.choices:
        settings[choice.key] = Setting(choice.value, choice.why)
    for key, value, why in inputs.layer:
        settings[key] = Setting(value, why)
    settings["output_name"] = Setting(inputs.output_name, "the LoRA file name: <output_name>.safetensors")
    for key, value in inputs.paths.items():
        settings[key] = Setting(value, inputs.path_reasons.get(key))
    if not inputs.foreign:
        _bucket_defaults(inputs, settings)
    user_keys = _apply_user_layers(inputs, settings)
    if not inputs.foreign:
        _bucket_range(settings)
    steps_asked = any(key == "max_train_steps" for key, _, _ in inputs.targets)
    if steps_asked or ("max_train_steps" in user_keys and "max_train_epochs" not in user_keys):
        settings.pop("max_train_epochs", None)  # max_train_epochs would override the steps the user asked for
    notes = extra_rules.tidy(settings, user_keys)
    own_batch = inputs.foreign[0].batch_size if inputs.foreign else None  # a foreign dataset config's batch_size wins
    scaling = extra_rules.scale_learning_rates(settings, user_keys, inputs.num_processes, own_batch)
    problems = _conflicts(family, settings)
    if problems:
        raise ConfigError(_sentence(problems))
    return _finish(inputs, settings, user_keys, scaling, notes)


def _apply_user_layers(inputs: PlanInputs, settings: dict[str, Setting]) -> set[str]:
    family = inputs.family.name
    keys = set()
    for key, raw in inputs.spec_train.items():
        where = f"{inputs.paths.get('spec', 'spec')} [train]"
        value = _resolution(raw, where) if key == "resolution" else coerce(lookup(family, key, where), raw, where)
        settings[key] = Setting(value, "from the spec's [train] table")
        keys.add(key)
    for key, value in inputs.overrides:
        if key == "resolution":
            value = _resolution(value, "--set resolution")
        settings[key] = Setting(value, "set on the command line (--set)")
        keys.add(key)
    for key, value, why in inputs.targets:
        settings[key] = Setting(value, why)
        keys.add(key)
    return keys


def _resolution(value: Any, where: str) -> int | list[int]:
    """resolution for the dataset config: an int, or [width, height] from 'W,H' (the args TOML's string form)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return list(value)
    parts = str(value).replace("x", ",").split(",")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) == 1:
        return numbers[0]
    if len(numbers) == 2:
        return numbers
    raise ConfigError(f"{where}: resolution = {value!r} must be a whole number like 512 or 'width,height' like '768,512'.")


def _bucket_defaults(inputs: PlanInputs, settings: dict[str, Setting]) -> None:
    """Letterboxed squares need no buckets; a bucket build gets the very buckets it was shaped for; any other
    shape keeps its aspect ratio in a bucket."""
    step = inputs.family.bucket_reso_steps
    settings["resolution"] = Setting(inputs.resolution, inputs.path_reasons.get("resolution") or (
        f"the spec's resolution; {inputs.family.title} trains at {inputs.family.resolution}"))
    settings["bucket_reso_steps"] = Setting(step, f"{inputs.family.script} asserts divisibility by {step}")
    if inputs.build_buckets is not None:
        _build_buckets(inputs, inputs.build_buckets, settings)
        return
    sizes = [size for subset in inputs.subsets for size in subset.sizes]
    if all(w == h for w, h in sizes):
        settings["enable_bucket"] = Setting(False, "every image is square: scaled to the resolution, no bucket needed")
        return
    settings["enable_bucket"] = Setting(True, "some images are not square: buckets keep their aspect ratio")


def _build_buckets(inputs: PlanInputs, built: BucketSettings, settings: dict[str, Setting]) -> None:
    """The bucket settings the build used, so sd-scripts puts every image in the bucket it was written for."""
    family = inputs.family
    if built.bucket_reso_steps % family.bucket_reso_steps:
        raise ConfigError(
            f"the dataset is built for bucket_reso_steps = {built.bucket_reso_steps}, but {family.script} asserts a "
            f"multiple of {family.bucket_reso_steps}; set bucket_reso_steps = {family.bucket_reso_steps} in the spec's "
            "[dataset] and build it again.")
    why = "the build shaped each image to its bucket (fit = 'bucket'); these are its bucket settings"
    settings["enable_bucket"] = Setting(True, why)
    settings["bucket_reso_steps"] = Setting(built.bucket_reso_steps, f"the build's step; {family.script} asserts "
                                                                     f"divisibility by {family.bucket_reso_steps}")
    settings["min_bucket_reso"] = Setting(built.min_bucket_reso, "the build's min_bucket_reso")
    settings["max_bucket_reso"] = Setting(built.max_bucket_reso, "the build's max_bucket_reso")


def _bucket_range(settings: dict[str, Setting]) -> None:
    """With buckets on, a range around the resolution (sd-scripts' 256..1024 default is too tight for SDXL)."""
    if not settings["enable_bucket"].value:
        return
    step = settings["bucket_reso_steps"].value
    res = settings["resolution"].value
    low, high = (res, res) if isinstance(res, int) else (min(res), max(res))
    if "min_bucket_reso" not in settings:
        settings["min_bucket_reso"] = Setting(default_bucket_range(low, step)[0], "half the resolution")
    if "max_bucket_reso" not in settings:
        settings["max_bucket_reso"] = Setting(default_bucket_range(high, step)[1], "twice the resolution")


@dataclass(frozen=True)
class _Settings:
    """The merged settings as the conflict rules read them."""

    family: str
    values: dict[str, Setting]

    def on(self, key: str) -> bool:
        return bool(self.values[key].value) if key in self.values else False

    def get(self, key: str, default: Any = None) -> Any:
        return self.values[key].value if key in self.values else default


def _bad_choices(s: _Settings) -> list[str]:
    return [f"{key} = {s.get(key)!r} is not one of {', '.join(choices)}"
            for key, choices in CHOICES.items() if key in s.values and s.get(key) not in choices]


def _constant_with_warmup(s: _Settings) -> list[str]:
    # library/train_util.py: get_scheduler_fix raises for warm-up steps on a constant schedule.
    if str(s.get("lr_scheduler", "constant")).lower() == "constant" and s.get("lr_warmup_steps", 0):
        return ["lr_scheduler 'constant' with lr_warmup_steps > 0 makes sd-scripts raise "
                "'constant does not require num_warmup_steps'; use lr_scheduler=constant_with_warmup"]
    return []


def _augmentation_with_cached_latents(s: _Settings) -> list[str]:
    # train_network.py asserts train_dataset_group.is_latent_cacheable() (library/train_util.py: no color_aug or
    # random_crop in any subset) when latents are cached.
    if (s.on("cache_latents") or s.on("cache_latents_to_disk")) and (s.on("color_aug") or s.on("random_crop")):
        return ["color_aug and random_crop cannot be used with cached latents; "
                "--set cache_latents=false --set cache_latents_to_disk=false to use them"]
    return []


def _caching_text_encoder(s: _Settings) -> bool:
    return s.on("cache_text_encoder_outputs") or s.on("cache_text_encoder_outputs_to_disk")


def _caption_changes_with_cached_text(s: _Settings) -> list[str]:
    # sdxl_train_network.py and flux_train_network.py: assert_extra_args refuses caption changes with cached outputs.
    changing = [k for k in ("shuffle_caption", "caption_dropout_rate", "caption_tag_dropout_rate", "token_warmup_step")
                if s.on(k)]
    if _caching_text_encoder(s) and changing:
        return [f"{', '.join(changing)} cannot be used with cached text-encoder outputs; "
                "--set cache_text_encoder_outputs=false --set cache_text_encoder_outputs_to_disk=false to use them"]
    return []


def _network_module_family(s: _Settings) -> list[str]:
    module = str(s.get("network_module", ""))
    if module.startswith("networks.") and (s.family == "flux") != module.endswith("_flux"):
        wanted = "networks.lora_flux" if s.family == "flux" else "networks.lora"
        return [f"network_module = {module!r} does not train {s.family} models; use {wanted!r}"]
    return []


def _sdxl_cached_text_trains_unet_only(s: _Settings) -> list[str]:
    # sdxl_train_network.py: assert_extra_args.
    if s.family == "sdxl" and _caching_text_encoder(s) and not s.on("network_train_unet_only"):
        return ["SDXL with cached text-encoder outputs needs network_train_unet_only = true"]
    return []


def _flux_block_swap(s: _Settings) -> list[str]:
    # flux_train_network.py: assert_extra_args; library/flux_models.py: Flux.enable_block_swap keeps two double and
    # two single blocks on the GPU, so 35 is the most it swaps.
    problems = []
    if s.on("blocks_to_swap") and s.on("cpu_offload_checkpointing"):
        problems.append("blocks_to_swap cannot be combined with cpu_offload_checkpointing; drop one")
    if s.get("blocks_to_swap", 0) > 35:
        problems.append(f"blocks_to_swap = {s.get('blocks_to_swap')} exceeds FLUX's maximum of 35")
    return problems


def _full_precision(s: _Settings) -> list[str]:
    problems = []
    if s.on("full_fp16") and s.get("mixed_precision") != "fp16":
        problems.append("full_fp16 needs mixed_precision = 'fp16'")
    if s.on("full_bf16") and s.get("mixed_precision") != "bf16":
        problems.append("full_bf16 needs mixed_precision = 'bf16'")
    return problems


def _fused_backward_pass(s: _Settings) -> list[str]:
    adafactor = str(s.get("optimizer_type")).lower() == "adafactor"
    if s.on("fused_backward_pass") and (not adafactor or s.get("gradient_accumulation_steps", 1) > 1):
        return ["fused_backward_pass works only with optimizer_type = 'Adafactor' and gradient_accumulation_steps = 1"]
    return []


def _length_set(s: _Settings) -> list[str]:
    problems = []
    if "max_train_epochs" not in s.values and "max_train_steps" not in s.values:
        problems.append("neither max_train_epochs nor max_train_steps is set; sd-scripts would stop at 1600 steps")
    for key in ("train_batch_size", "gradient_accumulation_steps", "max_train_epochs", "max_train_steps"):
        if key in s.values and s.get(key) < 1:
            problems.append(f"{key} = {s.get(key)} must be at least 1")
    return problems


# Combinations sd-scripts rejects at start-up or mid-run, one rule each.
_CONFLICT_RULES: tuple[Callable[[Any], list[str]], ...] = (
    _bad_choices, _constant_with_warmup, _augmentation_with_cached_latents, _caption_changes_with_cached_text,
    _network_module_family, _sdxl_cached_text_trains_unet_only, _flux_block_swap, _full_precision,
    _fused_backward_pass, _length_set, *extra_rules.RULES,
)


def _conflicts(family: str, settings: dict[str, Setting]) -> list[str]:
    """Every rule of _CONFLICT_RULES over the merged settings."""
    view = _Settings(family, settings)
    return [problem for rule in _CONFLICT_RULES for problem in rule(view)]


def _sentence(problems: list[str]) -> str:
    if len(problems) == 1:
        return f"these settings would fail in sd-scripts: {problems[0]}."
    return "these settings would fail in sd-scripts:\n" + "\n".join(f"  - {p}" for p in problems)


def _finish(inputs: PlanInputs, settings: dict[str, Setting], user_keys: set[str], scaling: Scaling,
            notes: list[str]) -> TrainConfigPlan:
    """Choose validation, split the settings between the two files and compute the steps preview."""
    validation = extra_rules.choose_validation(settings, user_keys, _validated_subsets(inputs))
    if inputs.foreign:
        return _finish_foreign(inputs, settings, user_keys, scaling, [*notes, *inputs.fit.notes], validation)
    general = [Entry("caption_extension", ".txt", "the build writes .txt captions; sd-scripts' default is .caption")]
    dataset: list[Entry] = []
    args: dict[str, Setting] = {}
    for key, setting in settings.items():
        if key == "caption_extension":
            general = [Entry(key, setting.value, setting.why)]
        elif key in ARG_TO_DATASET_KEY:
            dataset.append(Entry(ARG_TO_DATASET_KEY[key], setting.value, setting.why))
            if key == "train_batch_size":  # also in the args, so the LoRA's metadata records it
                args[key] = setting
        else:
            args[key] = setting
    dataset.sort(key=lambda e: _DATASET_ORDER.get(e.key, len(_DATASET_ORDER)))
    subsets = [SubsetConfig(s.image_dir, s.num_repeats, s.class_tokens, s.is_reg, s.alpha_mask) for s in inputs.subsets]
    problems = dataset_config_problems(dataset_data(general, dataset, subsets), inputs.family.bucket_reso_steps)
    trained, _held, _shared = split_subsets(inputs.subsets, validation.split, validation.seed)
    epoch = _epoch(inputs, dataset, args, trained)
    if problems:
        raise ConfigError(_sentence(problems))
    epochs, steps = _length(args, epoch.steps_per_epoch)
    notes = [*notes, *inputs.fit.notes, *_no_effect({e.key: e.value for e in dataset})]
    return TrainConfigPlan(inputs.family, args, general, dataset, subsets, epoch, epochs, steps, notes, (epoch,),
                           validation, scaling)


def _validated_subsets(inputs: PlanInputs) -> list[ScannedSubset]:
    """The subsets a default validation split would apply to (foreign datasets with their own split keep it)."""
    if not inputs.foreign:
        return list(inputs.subsets)
    return [s for ds in inputs.foreign if ds.validation_split is None for s in ds.subsets]


def _finish_foreign(inputs: PlanInputs, settings: dict[str, Setting], user_keys: set[str], scaling: Scaling,
                    notes: list[str], validation: Validation) -> TrainConfigPlan:
    """The user's dataset config is passed as it is: every setting goes to the args, which fill in what it leaves."""
    routed = sorted(k for k in user_keys if k in ARG_TO_DATASET_KEY and k not in extra_rules.ARGS_FALLBACK)
    if routed:
        raise ConfigError(f"{', '.join(routed)} belong in the dataset config, and yours ({inputs.paths['dataset_config']}) "
                          "wins over training.toml: set them there (sd-scripts reads them from it).")
    args = {k: v for k, v in settings.items() if k not in ARG_TO_DATASET_KEY or k in extra_rules.ARGS_FALLBACK}
    batch = args["train_batch_size"].value if "train_batch_size" in args else 1
    grad_accum = args["gradient_accumulation_steps"].value if "gradient_accumulation_steps" in args else 1
    unseeded = [ds for ds in inputs.foreign if (ds.validation_split or 0) > 0 and ds.validation_seed is None]
    if unseeded and "validation_seed" not in args:  # else training and validation shuffle apart and overlap
        seed = settings["seed"].value if "seed" in settings else 42
        args["validation_seed"] = Setting(seed, f"{unseeded[0].where} of your dataset config sets validation_split "
                                                "without a seed: this one keeps training and validation apart")
    args_seed = args["validation_seed"].value if "validation_seed" in args else None
    plans, held = [], []
    for ds in inputs.foreign:
        split = ds.validation_split if ds.validation_split is not None else validation.split
        seed = ds.validation_seed if ds.validation_seed is not None else args_seed
        trained, ds_held, _shared = split_subsets(ds.subsets, split, seed)
        held += ds_held
        images = [SubsetImages(s.sizes, s.num_repeats, s.is_reg, s.paths) for s in trained]
        plans.append(plan_epoch(images, ds.bucket, ds.batch_size or batch, grad_accum, inputs.num_processes))
    if held and not validation.held_out:
        splits = [ds.validation_split for ds in inputs.foreign if ds.validation_split]
        validation = Validation(splits[0], args_seed, tuple(held), 0, f"{len(held)} images held out by your dataset config")
    epochs, steps = _length(args, steps_per_epoch(plans))
    notes += [f"{ds.where} of {inputs.paths['dataset_config']} sets batch_size = {ds.batch_size}: it wins over the "
              f"fit's train_batch_size = {batch}" for ds in inputs.foreign if ds.batch_size and ds.batch_size != batch]
    return TrainConfigPlan(inputs.family, args, [], [], [], plans[0], epochs, steps, notes, tuple(plans), validation,
                           scaling, foreign=True)


def _no_effect(dataset: dict[str, Any]) -> list[str]:
    """Options sd-scripts accepts but ignores here: the caption is used verbatim unless one of three switches is on."""
    splits = dataset.get("shuffle_caption") or dataset.get("caption_tag_dropout_rate") or dataset.get("token_warmup_step")
    used = [k for k in ("keep_tokens", "keep_tokens_separator") if dataset.get(k)]
    if used and not splits:
        verb = "has" if len(used) == 1 else "have"
        return [f"{' and '.join(used)} {verb} no effect without shuffle_caption, caption_tag_dropout_rate or "
                "token_warmup_step: sd-scripts then uses each caption verbatim."]
    return []


_DATASET_ORDER = {k: i for i, k in enumerate(
    ["resolution", "batch_size", "enable_bucket", "bucket_reso_steps", "min_bucket_reso", "max_bucket_reso",
     "bucket_no_upscale"])}


def _epoch(inputs: PlanInputs, dataset: list[Entry], args: dict[str, Setting], trained: list[ScannedSubset]) -> EpochPlan:
    values = {e.key: e.value for e in dataset}
    res = values["resolution"]
    bucket = BucketSettings(
        resolution=(res, res) if isinstance(res, int) else (res[0], res[1]),
        enable_bucket=bool(values.get("enable_bucket", False)),
        min_bucket_reso=values.get("min_bucket_reso", DEFAULT_MIN_BUCKET_RESO),
        max_bucket_reso=values.get("max_bucket_reso", DEFAULT_MAX_BUCKET_RESO),
        bucket_reso_steps=values.get("bucket_reso_steps", DEFAULT_BUCKET_RESO_STEPS),
        bucket_no_upscale=bool(values.get("bucket_no_upscale", False)),
    )
    subsets = [SubsetImages(s.sizes, s.num_repeats, s.is_reg, s.paths) for s in trained]
    grad_accum = args["gradient_accumulation_steps"].value if "gradient_accumulation_steps" in args else 1
    return plan_epoch(subsets, bucket, values.get("batch_size", 1), grad_accum, inputs.num_processes)


def _length(args: dict[str, Setting], per_epoch: int) -> tuple[int, int]:
    """(epochs, total steps) as sd-scripts will run them (train_network.py: NetworkTrainer.train)."""
    epochs = args["max_train_epochs"].value if "max_train_epochs" in args else None
    length = training_length(per_epoch, epochs, args["max_train_steps"].value if epochs is None else None)
    return length.max_train_epochs, length.max_train_steps
