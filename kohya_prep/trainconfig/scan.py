"""Reads the built dataset: the images sd-scripts will load in each subset folder, their sizes and captions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kohya_prep.sdscripts.folders import is_loaded_image
from kohya_prep.spec import read_image_size

CAPTION_EXTENSION = ".txt"


@dataclass(frozen=True)
class ScannedImage:
    """One image: its path, size (width, height) and caption text (None: no caption file)."""

    path: Path
    size: tuple[int, int]
    caption: str | None


def scan_folder(folder: Path) -> list[ScannedImage]:
    """The images sd-scripts globs in `folder` (not recursive, exact-case extensions), sorted by path."""
    if not folder.is_dir():
        return []
    images = []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and is_loaded_image(p.name)):
        caption_path = path.with_suffix(CAPTION_EXTENSION)
        caption = caption_path.read_text(encoding="utf-8", errors="replace") if caption_path.is_file() else None
        images.append(ScannedImage(path, read_image_size(path), caption))
    return images
