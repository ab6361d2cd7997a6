"""What `dataset init` proposes, as values: sources, crops, dataset settings, and what it saw in each image.

The spec writer (specfile.py) turns a Proposal into TOML; report.py turns it into text and JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from kohya_prep.init.detect import Detection, Kind

TreatedAs = Literal["sheet", "picture", "empty", "unreadable"]

# The kind guess becomes the first caption tag, in the words taggers and base models use for it.
KIND_TAGS: dict[Kind, str] = {"full body": "full body", "bust": "upper body", "face": "portrait"}


@dataclass(frozen=True)
class ProposedSource:
    """One [sources] entry: an id, the path as written in the spec (relative to it), and a comment."""

    id: str
    path: Path  # absolute
    folder: bool = False
    comment: str = ""


@dataclass(frozen=True)
class ProposedCrop:
    """One [[crops]] table; box None is the whole image, caption None takes a folder image's sidecar."""

    name: str
    source: str
    box: list[int] | None = None
    caption: list[str] | None = None
    status: str = "approved"
    comment: str = ""


@dataclass(frozen=True)
class ImageFinding:
    """What init made of one image: a sheet with its detections, one picture, or nothing usable."""

    path: Path
    source: str
    treated_as: TreatedAs
    detections: tuple[tuple[str, Detection], ...] = ()  # (crop name, detection)
    left_out: dict[str, int] = field(default_factory=dict)  # "text": 3, "swatch": 2 ...
    background: str = ""
    note: str = ""


@dataclass(frozen=True)
class RegProposal:
    image_dir: Path
    class_tokens: str
    num_repeats: int


@dataclass
class Proposal:
    """A whole new spec, or what --add appends to one."""

    name: str = ""
    trigger: str = ""
    class_tokens: str = ""
    num_repeats: int = 10
    resolution: int = 512
    subset_dir: str | None = None  # a kohya dataset's own train folder name, kept when it is not '<repeats>_<trigger> <class>'
    reg: RegProposal | None = None
    sources: list[ProposedSource] = field(default_factory=list)
    crops: list[ProposedCrop] = field(default_factory=list)
    findings: list[ImageFinding] = field(default_factory=list)
    implicit: int = 0  # folder images that are crops without a table (pictures, a kohya subset's images)
    warnings: list[str] = field(default_factory=list)
