"""What a check looks at, once PATH and the options are resolved: datasets of subsets, and the roots listed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kohya_prep.check.findings import Finding
from kohya_prep.sdscripts.buckets import BucketSettings

DEFAULT_CAPTION_EXTENSION = ".caption"  # library/train_util.py: add_dataset_arguments' default
DEFAULT_RESOLUTION = 512


@dataclass(frozen=True)
class CheckOptions:
    """The command line, as given: None where the user did not say."""

    path: Path | None
    dataset_config: Path | None = None
    caption_extension: str | None = None
    resolution: int | None = None
    batch_size: int | None = None
    trigger: str | None = None
    duplicates: bool = True


@dataclass(frozen=True)
class SubsetConfig:
    """One DreamBooth subset with the settings sd-scripts will apply to it."""

    image_dir: Path
    num_repeats: int
    class_tokens: str | None
    is_reg: bool
    caption_extension: str
    shuffle_caption: bool = False
    keep_tokens: int = 0
    keep_tokens_separator: str = ""
    caption_tag_dropout_rate: float = 0.0
    token_warmup_step: float = 0.0
    enable_wildcard: bool = False
    alpha_mask: bool = False  # sd-scripts multiplies the loss by each image's alpha

    @property
    def splits_caption(self) -> bool:
        """sd-scripts splits a caption into tags (so keep_tokens and `|||` act) only with one of these on."""
        return self.shuffle_caption or self.token_warmup_step > 0 or self.caption_tag_dropout_rate > 0


@dataclass(frozen=True)
class DatasetConfig:
    """One dataset: its subsets, bucket settings and batch size."""

    subsets: tuple[SubsetConfig, ...]
    bucket: BucketSettings
    batch_size: int


@dataclass(frozen=True)
class RootListing:
    """A train_data_dir or reg_data_dir as sd-scripts lists it: immediate folders and loose files."""

    path: Path
    is_reg: bool
    dir_names: tuple[str, ...]
    dir_image_counts: tuple[int, ...]  # image-like files directly in each folder, same order
    image_names: tuple[str, ...]  # image-like files directly in the root (sd-scripts ignores them)


@dataclass(frozen=True)
class CheckInputs:
    """Everything to scan, plus what resolving PATH already found out."""

    target: str
    datasets: tuple[DatasetConfig, ...]
    roots: tuple[RootListing, ...]
    trigger: str | None
    trigger_given: bool
    duplicates: bool
    notes: tuple[Finding, ...]
