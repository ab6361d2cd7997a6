"""sd-scripts' folder and file-name rules, as pure functions.

Sources (kohya-ss/sd-scripts):
- `library/config_util.py: generate_dreambooth_subsets_config_by_subdirs`: subset folder names;
- `library/train_util.py: glob_images` and `IMAGE_EXTENSIONS`: which files load;
- `library/train_util.py: read_caption` (inside `DreamBoothDataset.__init__`): the caption file and its fallback;
- `library/strategy_*.py: get_latents_npz_path`, `get_outputs_npz_path`: the cache files written beside images.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# library/train_util.py IMAGE_EXTENSIONS: globbed case-sensitively on Linux, all-lower or all-upper only.
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
IMAGE_EXTENSIONS_UPPER: tuple[str, ...] = tuple(ext.upper() for ext in IMAGE_EXTENSIONS)

# Written beside the images with cache_info (train_util.py: DreamBoothDataset.__init__).
METADATA_CACHE_NAME = "metadata_cache.json"


@dataclass(frozen=True)
class SubsetDirName:
    """What sd-scripts makes of an immediate sub-folder of train_data_dir / reg_data_dir."""

    name: str
    num_repeats: int | None  # None: ignored with a warning (no integer prefix)
    class_tokens: str | None

    @property
    def used(self) -> bool:
        """sd-scripts loads it only with an integer prefix of at least 1 (0_ and -1_ are dropped silently)."""
        return self.num_repeats is not None and self.num_repeats >= 1


def parse_subset_dir_name(name: str) -> SubsetDirName:
    """Parse a folder name exactly as config_util.generate_dreambooth_subsets_config_by_subdirs does."""
    tokens = name.split("_")
    try:
        repeats = int(tokens[0])  # Python's int(): ' 5', '+5' and '05' all give 5
    except ValueError:
        return SubsetDirName(name, None, None)
    # A bare number ('5') is a subset too: its class tokens are the empty string.
    return SubsetDirName(name, repeats, "_".join(tokens[1:]))


def is_loaded_image(filename: str) -> bool:
    """True when sd-scripts' glob (`*<ext>`, one pattern per extension) matches this name on Linux: it ends in
    an exact lower- or upper-case extension and is not a dotfile (glob's '*' skips names starting with '.').
    glob matches names, not files: a folder, a FIFO or a dangling symlink with such a name is globbed too."""
    if filename.startswith("."):
        return False
    return filename.endswith(IMAGE_EXTENSIONS) or filename.endswith(IMAGE_EXTENSIONS_UPPER)


def dotted_caption_extension(extension: str) -> str:
    """DreamBoothSubset.__init__ prepends '.' to a caption extension without one; an empty one stays empty."""
    return "." + extension if extension and not extension.startswith(".") else extension


def caption_candidates(image_path: str, caption_extension: str) -> list[str]:
    """The caption files read_caption tries, in order: `<path without extension><ext>`, then the fallback's.

    The image path is the string sd-scripts globbed (image_dir joined with the file name), so underscores in
    the folders count too. When the two are the same, sd-scripts tries the same file twice (harmless).
    """
    base = os.path.splitext(image_path)[0]
    fallback = caption_fallback_stem(image_path)
    return [base + caption_extension, (fallback if fallback is not None else base) + caption_extension]


def caption_fallback_stem(image_path: str) -> str | None:
    """The stem sd-scripts' face-crop caption fallback also tries, or None when it does not apply.

    read_caption splits the whole path (folders included) on '_' and, with 5 or more pieces, drops
    the last 4. It matters only when the primary caption file is missing.
    """
    tokens = os.path.splitext(image_path)[0].split("_")
    if len(tokens) >= 5:
        return "_".join(tokens[:-4])
    return None


def stem_trips_caption_fallback(stem: str) -> bool:
    """A file stem with four or more underscores can be misread by the fallback on its own."""
    return stem.count("_") >= 4


def is_cache_file(filename: str) -> bool:
    """True for sd-scripts' own cache files (`*.npz`, metadata_cache.json)."""
    return filename == METADATA_CACHE_NAME or filename.endswith(".npz")


def cache_owner_stems(cache_name: str) -> list[str]:
    """The image stems an `.npz` cache may belong to, longest first; empty for any other file.

    sd-scripts names a cache after its image: `<stem>.npz` (old SD latents), `<stem>_<WWWW>x<HHHH>_<model>.npz`
    (latents), `<stem>_te_outputs.npz` / `<stem>_<model>_te.npz` (text-encoder outputs). So the owner is the name
    without `.npz`, or that with one or more trailing `_<piece>` removed.
    """
    if not cache_name.endswith(".npz"):
        return []
    stem = cache_name[: -len(".npz")]
    stems = [stem]
    while "_" in stem:
        stem = stem.rsplit("_", 1)[0]
        stems.append(stem)
    return [s for s in stems if s]
