"""The validated dataset spec as values: the dataset, its sources, its crops and its reg settings.

Everything here is plain data; `kohya_prep.spec.validate` builds it from a TOML file or refuses.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from kohya_prep.sdscripts.buckets import (
    DEFAULT_BUCKET_RESO_STEPS,
    DEFAULT_MAX_BUCKET_RESO,
    DEFAULT_MIN_BUCKET_RESO,
    BucketSettings,
)

Status = Literal["approved", "speculative", "excluded"]
PngMode = Literal["fast", "small"]
FitMode = Literal["letterbox", "bucket"]
MaskMode = Literal["none", "alpha", "padding"]
STATUSES: tuple[Status, ...] = ("approved", "speculative", "excluded")
PNG_MODES: tuple[PngMode, ...] = ("fast", "small")
FITS: tuple[FitMode, ...] = ("letterbox", "bucket")
MASKS: tuple[MaskMode, ...] = ("none", "alpha", "padding")
FLIP_SUFFIX = "-flip"


@dataclass(frozen=True)
class Box:
    """A crop rectangle in source pixels: left, top, width, height."""

    left: int
    top: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height

    def as_list(self) -> list[int]:
        return [self.left, self.top, self.width, self.height]

    def __str__(self) -> str:
        return f"{self.left},{self.top},{self.width},{self.height}"

    def fits(self, size: tuple[int, int]) -> bool:
        """True when the box lies wholly inside an image of `size` (width, height)."""
        width, height = size
        return self.left >= 0 and self.top >= 0 and self.right <= width and self.bottom <= height

    def nearest_inside(self, size: tuple[int, int]) -> Box | None:
        """The box of the same size moved the least distance to fit, or None if it is larger than `size`."""
        width, height = size
        if self.width > width or self.height > height:
            return None
        left = min(max(self.left, 0), width - self.width)
        top = min(max(self.top, 0), height - self.height)
        return Box(left, top, self.width, self.height)

    def clipped(self, size: tuple[int, int]) -> Box:
        """The part of the box that lies inside an image of `size`."""
        left, top = max(self.left, 0), max(self.top, 0)
        right, bottom = min(self.right, size[0]), min(self.bottom, size[1])
        return Box(left, top, max(right - left, 0), max(bottom - top, 0))


@dataclass(frozen=True)
class SourceSpec:
    """A source image: its id in the spec, its file, and its size after EXIF orientation."""

    id: str
    path: Path
    size: tuple[int, int]
    jpeg: bool = False  # JPEGs can be decoded at a reduced size
    alpha: bool = False  # the file has an alpha channel or a transparent colour (mask = "alpha" reads it)
    tags: tuple[str, ...] = ()  # the source's `tags`, shared by every crop cut from it
    folder: str = ""  # the id of the folder or glob source that found this image ("" for a plain source)
    sidecar: str | None = None  # a folder image's caption file (<stem>.txt or .caption), first line


@dataclass(frozen=True)
class CropSpec:
    """One named box on one source, with its caption and flags."""

    name: str
    source: str
    box: Box
    caption: str
    flip: bool
    status: Status
    index: int  # 1-based position in the spec, used to number boxes on the overlays
    fit: FitMode = "letterbox"  # the crop's own, or the [dataset] value
    mask: MaskMode = "none"
    implicit: bool = False  # an image of a folder or glob source that no [[crops]] table lists


@dataclass(frozen=True)
class RegSpec:
    """Regularization settings: class words, repeats, and an optional folder of the user's images."""

    class_tokens: str
    num_repeats: int
    image_dir: Path | None
    subset_dir: str


@dataclass(frozen=True)
class BucketSpec:
    """The buckets a fit = "bucket" build shapes its images for, in sd-scripts' option names."""

    bucket_reso_steps: int = DEFAULT_BUCKET_RESO_STEPS
    min_bucket_reso: int = DEFAULT_MIN_BUCKET_RESO
    max_bucket_reso: int = DEFAULT_MAX_BUCKET_RESO

    def settings(self, resolution: int) -> BucketSettings:
        """sd-scripts' dataset settings with bucketing on: what train-config writes and check assumes."""
        return BucketSettings((resolution, resolution), enable_bucket=True, min_bucket_reso=self.min_bucket_reso,
                              max_bucket_reso=self.max_bucket_reso, bucket_reso_steps=self.bucket_reso_steps)


@dataclass(frozen=True)
class DatasetSpec:
    """A validated dataset spec."""

    path: Path
    name: str
    trigger: str
    class_tokens: str
    num_repeats: int
    resolution: int
    background: tuple[int, int, int]
    subset_dir: str
    png: PngMode
    reg: RegSpec
    sources: dict[str, SourceSpec]
    crops: list[CropSpec]
    train: dict[str, Any] = field(default_factory=dict)
    fit: FitMode = "letterbox"  # reg images follow it; each crop has its own (this one unless it says otherwise)
    mask: MaskMode = "none"
    buckets: BucketSpec = field(default_factory=BucketSpec)
    # resolution = [512, 1024]: every size one build writes from one decode of each source, each into its own
    # <size>px/ folder ('512px' is no subset name sd-scripts would read), with its own bucket settings. () or one
    # size: `resolution` alone, in the dataset folder itself.
    resolutions: tuple[int, ...] = ()
    resolution_buckets: dict[int, BucketSpec] = field(default_factory=dict)

    @property
    def every_resolution(self) -> tuple[int, ...]:
        return self.resolutions or (self.resolution,)

    def at(self, resolution: int) -> DatasetSpec:
        """The spec as a build of one of its resolutions: that size, its folders, its bucket settings."""
        return replace(self, resolution=resolution, buckets=self.resolution_buckets.get(resolution, self.buckets))

    def nearest_resolution(self, wanted: int) -> int:
        """The built resolution a run at `wanted` trains on: that one, else the closest (a tie: the larger)."""
        return min(self.every_resolution, key=lambda r: (abs(r - wanted), -r))

    @property
    def tree_prefix(self) -> str:
        """Where this resolution's train/ and reg/ lie in the dataset folder: '' or '1024px/' (posix)."""
        return f"{self.resolution}px/" if len(self.resolutions) > 1 else ""

    @property
    def bucket_settings(self) -> BucketSettings:
        return self.buckets.settings(self.resolution)

    def builds_buckets(self, crops: list[CropSpec] | None = None) -> bool:
        """Whether any of `crops` (default: all) or the reg images are shaped to a bucket."""
        reg = self.fit == "bucket" and self.reg.image_dir is not None
        return reg or any(crop.fit == "bucket" for crop in (self.crops if crops is None else crops))
    tags: tuple[str, ...] = ()  # [dataset] tags: shared by every crop, after the trigger

    @property
    def root(self) -> Path:
        """dataset/<name>/: the folder a build owns (train/, reg/, preview/, the manifest)."""
        return self.path.parent / self.name

    @property
    def data_root(self) -> Path:
        """The folder holding train/ and reg/ for this resolution (the dataset folder unless it lists several)."""
        return self.root / self.tree_prefix if self.tree_prefix else self.root

    @property
    def train_data_dir(self) -> Path:
        return self.data_root / "train"

    @property
    def reg_data_dir(self) -> Path:
        return self.data_root / "reg"

    @property
    def train_subset_dir(self) -> Path:
        return self.train_data_dir / self.subset_dir

    @property
    def reg_subset_dir(self) -> Path:
        return self.reg_data_dir / self.reg.subset_dir
