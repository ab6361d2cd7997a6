"""The validated dataset spec as values: the dataset, its sources, its crops and its reg settings.

Everything here is plain data; `kohya_prep.spec.validate` builds it from a TOML file or refuses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Status = Literal["approved", "speculative", "excluded"]
PngMode = Literal["fast", "small"]
STATUSES: tuple[Status, ...] = ("approved", "speculative", "excluded")
PNG_MODES: tuple[PngMode, ...] = ("fast", "small")
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
    implicit: bool = False  # an image of a folder or glob source that no [[crops]] table lists


@dataclass(frozen=True)
class RegSpec:
    """Regularization settings: class words, repeats, and an optional folder of the user's images."""

    class_tokens: str
    num_repeats: int
    image_dir: Path | None
    subset_dir: str


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
    tags: tuple[str, ...] = ()  # [dataset] tags: shared by every crop, after the trigger

    @property
    def root(self) -> Path:
        """dataset/<name>/: the folder a build owns (train/, reg/, preview/, the manifest)."""
        return self.path.parent / self.name

    @property
    def train_data_dir(self) -> Path:
        return self.root / "train"

    @property
    def reg_data_dir(self) -> Path:
        return self.root / "reg"

    @property
    def train_subset_dir(self) -> Path:
        return self.train_data_dir / self.subset_dir

    @property
    def reg_subset_dir(self) -> Path:
        return self.reg_data_dir / self.reg.subset_dir
