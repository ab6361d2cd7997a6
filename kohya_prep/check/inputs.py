"""What a check looks at, once PATH and the options are resolved: datasets of subsets, and the roots listed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kohya_prep.sdscripts.buckets import BucketSettings

if TYPE_CHECKING:  # findings.py imports RunOptions from here
    from kohya_prep.check.files import FileKind
    from kohya_prep.check.findings import Finding

DEFAULT_CAPTION_EXTENSION = ".caption"  # library/train_util.py: add_dataset_arguments' default
DEFAULT_RESOLUTION = 512


@dataclass(frozen=True)
class CheckOptions:
    """The command line, as given: None where the user did not say.

    With a dataset config these are sd-scripts' command-line options, the last fallback after subset, dataset and
    [general] (library/config_util.py: BlueprintGenerator.generate); for folders and specs they are the settings.
    """

    path: Path | None
    dataset_config: Path | None = None
    caption_extension: str | None = None
    resolution: int | tuple[int, int] | None = None  # 512, or (width, height)
    batch_size: int | None = None
    trigger: str | None = None
    duplicates: bool = True
    reg_dir: Path | None = None  # reg_data_dir beside PATH (train_data_dir)
    enable_bucket: bool | None = None
    min_bucket_reso: int | None = None
    max_bucket_reso: int | None = None
    bucket_reso_steps: int | None = None
    bucket_no_upscale: bool | None = None
    gradient_accumulation_steps: int = 1
    num_processes: int = 1
    max_train_epochs: int | None = None
    max_train_steps: int | None = None


@dataclass(frozen=True)
class SubsetConfig:
    """One DreamBooth subset with the settings sd-scripts will apply to it."""

    image_dir: Path
    num_repeats: int
    class_tokens: str | None
    is_reg: bool
    caption_extension: str
    image_dir_text: str = ""  # image_dir as sd-scripts gets it (a dataset config's string); "" = str(image_dir)
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
    validation_split: float = 0.0
    validation_seed: int | None = None


@dataclass(frozen=True)
class RootListing:
    """A train_data_dir or reg_data_dir as sd-scripts lists it: immediate folders and loose files."""

    path: Path
    is_reg: bool
    dir_names: tuple[str, ...]  # in the file system's own order, as Path.iterdir() gives them to sd-scripts
    dir_image_counts: tuple[int, ...]  # image-like files directly in each folder, same order
    image_names: tuple[str, ...]  # image-like files directly in the root (sd-scripts ignores them)
    broken: tuple[tuple[str, FileKind], ...] = ()  # (name, kind) of symlinks is_dir() passes over: loops, dangling


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
    run: RunOptions = field(default_factory=lambda: RunOptions())


@dataclass(frozen=True)
class RunOptions:
    """How the datasets are trained: what turns batches into optimizer steps (train_network.py)."""

    gradient_accumulation_steps: int = 1
    num_processes: int = 1
    max_train_epochs: int | None = None
    max_train_steps: int | None = None
