"""What a check reports: findings (error / warning / info, each with its path and fix) and the whole report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from kohya_prep.check.inputs import RunOptions
from kohya_prep.sdscripts.steps import EpochPlan, TrainingLength

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Finding:
    """One thing sd-scripts will do with the dataset.

    error: training fails, or silently does the wrong thing; warning: worth fixing; info: a fact.
    """

    severity: Severity
    code: str
    path: str
    message: str
    fix: str = ""


def error(code: str, path: object, message: str, fix: str = "") -> Finding:
    return Finding("error", code, str(path), message, fix)


def warning(code: str, path: object, message: str, fix: str = "") -> Finding:
    return Finding("warning", code, str(path), message, fix)


def info(code: str, path: object, message: str, fix: str = "") -> Finding:
    return Finding("info", code, str(path), message, fix)


@dataclass(frozen=True)
class SubsetSummary:
    """A subset as sd-scripts will load it."""

    image_dir: str
    num_repeats: int
    class_tokens: str | None
    is_reg: bool
    caption_extension: str
    images: int
    captioned: int


@dataclass(frozen=True)
class DroppedSubset:
    """A subset sd-scripts skips (DreamBoothDataset.__init__), and why: num_repeats, duplicate or no_images."""

    image_dir: str
    num_repeats: int
    is_reg: bool
    reason: str
    images: int


@dataclass(frozen=True)
class ImageSummary:
    """One image in the epoch: its size as sd-scripts reads it, its bucket and repeats (0: a reg image never used)."""

    path: str
    size: tuple[int, int]
    bucket: tuple[int, int]
    num_repeats: int
    is_reg: bool
    upscaled: bool
    caption: str | None  # the caption file sd-scripts reads for it, if any


@dataclass(frozen=True)
class DatasetSummary:
    """One dataset (one [[datasets]] table, or the folders): the subsets sd-scripts registers, those it skips,
    and its epoch."""

    subsets: tuple[SubsetSummary, ...]
    plan: EpochPlan
    resolution: tuple[int, int]
    enable_bucket: bool
    dropped: tuple[DroppedSubset, ...] = ()
    images: tuple[ImageSummary, ...] = ()
    bucket_no_upscale: bool = False


@dataclass(frozen=True)
class Report:
    """Everything a check found; the exit code follows from the severities."""

    target: str
    findings: tuple[Finding, ...]
    datasets: tuple[DatasetSummary, ...] = field(default_factory=tuple)
    length: TrainingLength | None = None  # the whole run: all datasets share one dataloader
    run: RunOptions = field(default_factory=RunOptions)

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")

    @property
    def exit_code(self) -> int:
        """1 when any error, else 0: warnings and facts alone do not fail a check."""
        return 1 if self.errors else 0
