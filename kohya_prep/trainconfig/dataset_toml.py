"""The dataset config (`--dataset_config`): one [[datasets]] with the train subset and the reg subset (is_reg = true).

Reg subsets must share the dataset of the train subset: sd-scripts balances reg images against that dataset's own
train count, so a dataset of reg images alone contributes nothing
(library/train_util.py: DreamBoothDataset.__init__). The validator replays the
levels and literal types of sd-scripts' schema (library/config_util.py: ConfigSanitizer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kohya_prep.sdscripts.buckets import DEFAULT_BUCKET_RESO_STEPS, DEFAULT_MAX_BUCKET_RESO, DEFAULT_MIN_BUCKET_RESO
from kohya_prep.sdscripts.dataset_config import schema_problems
from kohya_prep.trainconfig.toml_text import Entry, Table

# Options of the args namespace that belong in the dataset config; the dataset config wins over args
# (library/config_util.py: BlueprintGenerator.generate).
ARG_TO_DATASET_KEY: dict[str, str] = {
    "train_batch_size": "batch_size",
    **{
        key: key
        for key in [
            "resolution", "enable_bucket", "min_bucket_reso", "max_bucket_reso", "bucket_reso_steps", "bucket_no_upscale",
            "shuffle_caption", "keep_tokens", "keep_tokens_separator", "secondary_separator", "caption_separator",
            "caption_prefix", "caption_suffix", "enable_wildcard", "color_aug", "flip_aug", "random_crop",
            "token_warmup_min", "token_warmup_step", "caption_dropout_rate", "caption_dropout_every_n_epochs",
            "caption_tag_dropout_rate", "caption_extension", "validation_split", "validation_seed",
        ]
    },
}


@dataclass(frozen=True)
class SubsetConfig:
    """One [[datasets.subsets]]: a folder of images and how sd-scripts reads it."""

    image_dir: str
    num_repeats: int
    class_tokens: str
    is_reg: bool = False
    alpha_mask: bool = False

    def entries(self) -> list[Entry]:
        rows = [
            Entry("image_dir", self.image_dir, "absolute: a relative path resolves against the trainer's working folder"),
            Entry("num_repeats", self.num_repeats, "not parsed from the folder name inside a dataset config"),
            Entry("class_tokens", self.class_tokens, "used only for images without a caption file"),
        ]
        if self.is_reg:
            rows.append(Entry("is_reg", True, "reg subset in the same [[datasets]]: balanced against the train count"))
        if self.alpha_mask:
            # library/train_util.py: load_image(alpha=True) keeps the alpha; custom_train_functions.py:
            # apply_masked_loss multiplies the loss by it.
            rows.append(Entry("alpha_mask", True, "the images carry a loss mask in their alpha channel (the spec's "
                                                  "mask): the loss is multiplied by it"))
        return rows


def dataset_tables(general: list[Entry], dataset: list[Entry], subsets: list[SubsetConfig]) -> list[Table]:
    """The tables of the dataset config, in the order sd-scripts' docs show them."""
    tables = [
        Table("general", general),
        Table("datasets", dataset, array=True, comment="one dataset: the reg subset must sit beside the train subset"),
    ]
    for subset in subsets:
        comment = "regularization images" if subset.is_reg else "training images"
        tables.append(Table("datasets.subsets", subset.entries(), array=True, comment=comment, indent=2))
    return tables


def dataset_data(general: list[Entry], dataset: list[Entry], subsets: list[SubsetConfig]) -> dict[str, Any]:
    """The same content as plain data: what the written file must parse back to."""
    data = {e.key: e.value for e in dataset}
    data["subsets"] = [{e.key: e.value for e in s.entries()} for s in subsets]
    return {"general": {e.key: e.value for e in general}, "datasets": [data]}


# --- validation: sd-scripts' own schema (sdscripts/dataset_config.py), then the asserts its dataset code makes ----


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _resolution(v: Any) -> bool:
    return _int(v) or (isinstance(v, list) and len(v) == 2 and all(_int(i) for i in v))


def dataset_config_problems(data: dict[str, Any], bucket_step: int) -> list[str]:
    """Everything sd-scripts would reject in this dataset config, plus the bucket asserts of the training script."""
    problems = [f'sd-scripts stops with "{p.message}"' for p in schema_problems(data)]
    datasets = data.get("datasets", [])
    general = data.get("general", {})
    for i, dataset in enumerate(datasets if isinstance(datasets, list) else []):
        if not isinstance(dataset, dict):
            continue
        merged = (general if isinstance(general, dict) else {}) | dataset
        problems += _bucket_problems(merged, bucket_step, f"datasets[{i}]")
    return problems


def _bucket_problems(merged: dict[str, Any], bucket_step: int, where: str) -> list[str]:
    """The asserts sd-scripts makes when it builds the dataset (library/config_util.py: generate_dataset_group_by_blueprint,
    library/train_util.py: BaseDataset.adjust_min_max_bucket_reso_by_steps, train_network.py: verify_bucket_reso_steps)."""
    problems = []
    resolution = merged.get("resolution")
    if resolution is None:
        return [f"{where}: resolution is required for a DreamBooth dataset"]
    steps = merged.get("bucket_reso_steps", DEFAULT_BUCKET_RESO_STEPS)
    if _int(steps) and steps % bucket_step:
        problems.append(f"{where}: bucket_reso_steps = {steps} must be divisible by {bucket_step} for this script")
    if merged.get("enable_bucket") and not merged.get("bucket_no_upscale") and _resolution(resolution):
        sides = [resolution, resolution] if _int(resolution) else resolution
        low, high = merged.get("min_bucket_reso", DEFAULT_MIN_BUCKET_RESO), merged.get("max_bucket_reso", DEFAULT_MAX_BUCKET_RESO)
        if min(sides) < low or max(sides) > high:
            problems.append(f"{where}: resolution {resolution} must lie within min_bucket_reso {low} and max_bucket_reso {high}")
    return problems
