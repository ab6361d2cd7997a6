"""What `dataset init` was pointed at: image files, folders of pictures, or kohya datasets.

A kohya dataset is recognised the way sd-scripts reads one (library/config_util.py:
generate_dreambooth_subsets_config_by_subdirs): a train_data_dir whose sub-folders are named
`<repeats>_<tokens>`, a single such subset folder, or a dataset root holding `img/` or `train/` (and `reg/`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kohya_prep.errors import InitError
from kohya_prep.sdscripts.folders import parse_subset_dir_name
from kohya_prep.spec.sources import FOLDER_IMAGE_SUFFIXES, is_folder_image

TRAIN_DIR_NAMES = ("img", "train", "image", "images")
REG_DIR_NAMES = ("reg", "regularization")


@dataclass(frozen=True)
class KohyaSubset:
    """One `<repeats>_<tokens>` folder and the images in it."""

    folder: Path
    num_repeats: int
    class_tokens: str
    images: tuple[Path, ...]


@dataclass(frozen=True)
class KohyaDataset:
    root: Path
    train: tuple[KohyaSubset, ...]
    reg: tuple[KohyaSubset, ...] = ()


@dataclass
class Inputs:
    images: list[Path] = field(default_factory=list)
    folders: list[tuple[Path, list[Path]]] = field(default_factory=list)
    kohya: list[KohyaDataset] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def folder_pictures(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and is_folder_image(p.name))


def _subsets(folder: Path) -> list[KohyaSubset]:
    """The sub-folders sd-scripts trains on (`<repeats>_<tokens>`, repeats >= 1) that hold images."""
    found = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        parsed = parse_subset_dir_name(sub.name)
        images = folder_pictures(sub)
        if parsed.used and images and parsed.num_repeats is not None:
            found.append(KohyaSubset(sub, parsed.num_repeats, parsed.class_tokens or "", tuple(images)))
    return found


def _kohya(folder: Path, reg: Path | None) -> KohyaDataset | None:
    """The folder as a kohya dataset (a subset, a train_data_dir or a root), or None."""
    reg_subsets = tuple(_subsets(reg)) if reg else ()
    parsed = parse_subset_dir_name(folder.name)
    if parsed.used and parsed.num_repeats is not None and folder_pictures(folder):
        subset = KohyaSubset(folder, parsed.num_repeats, parsed.class_tokens or "", tuple(folder_pictures(folder)))
        return KohyaDataset(folder.parent, (subset,), reg_subsets)
    train = _subsets(folder)
    if train:
        return KohyaDataset(folder, tuple(train), reg_subsets)
    for name in TRAIN_DIR_NAMES:
        if (folder / name).is_dir() and _subsets(folder / name):
            found_reg = reg_subsets or next((tuple(_subsets(folder / r)) for r in REG_DIR_NAMES if (folder / r).is_dir()), ())
            return KohyaDataset(folder, tuple(_subsets(folder / name)), found_reg)
    return None


def _folder(folder: Path, reg: Path | None, inputs: Inputs) -> None:
    kohya = _kohya(folder, reg)
    if kohya is not None:
        inputs.kohya.append(kohya)
        return
    pictures = folder_pictures(folder)
    if not pictures:
        what = "is empty" if not any(folder.iterdir()) else f"holds no images ({', '.join(FOLDER_IMAGE_SUFFIXES)})"
        raise InitError(f"{folder} {what}; point init at images, a folder of images or a kohya dataset")
    if any(p.is_dir() for p in folder.iterdir()):
        inputs.notes.append(f"{folder}: only the images in the folder itself are used, not those in its sub-folders")
    inputs.folders.append((folder, pictures))


def classify(paths: list[Path], reg: Path | None = None) -> Inputs:
    """Sort the command line's paths into images, folders of pictures and kohya datasets."""
    inputs = Inputs()
    if reg is not None and not _subsets(reg):
        raise InitError(f"--reg {reg}: no '<repeats>_<class>' folders with images in it; point it at a reg_data_dir")
    for path in paths:
        if path.is_dir():
            _folder(path, reg, inputs)
        elif path.is_file():
            inputs.images.append(path)
        else:
            raise InitError(f"{path} not found; give image files, folders of images or a kohya dataset folder")
    if reg is not None and not inputs.kohya:
        raise InitError(f"--reg {reg} goes with a kohya dataset (a folder of '<repeats>_<tokens>' folders); none was given")
    return inputs
