"""Read a subset folder as sd-scripts will: the only module of the check that touches image and caption files.

Speed: image sizes come from headers (Pillow opens lazily), never from decoded pixels. A truncated file is
caught from its last bytes: a PNG must end with its IEND chunk, a JPEG must hold the EOI marker (FF D9) in
its last 32 bytes (FF is byte-stuffed inside JPEG data, so FF D9 marks only the end), a WebP's or BMP's size
field must not exceed the file. Pixels are decoded only for the duplicate scan (a 64-bit dHash per image).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path, PurePath

from kohya_prep.check.inputs import SubsetConfig
from kohya_prep.sdscripts.buckets import Size
from kohya_prep.sdscripts.folders import IMAGE_EXTENSIONS, caption_fallback_stem, is_cache_file, is_loaded_image

# Formats people keep next to their images that sd-scripts does not glob.
OTHER_IMAGE_SUFFIXES = (".gif", ".tif", ".tiff", ".avif", ".jxl", ".heic", ".heif", ".jfif")
CAPTION_SUFFIXES = (".txt", ".caption", ".cap", ".tags")
_TAIL = 32


def is_image_like(name: str) -> bool:
    """Any image file, whatever its case or format: what a user thinks of as an image."""
    suffix = PurePath(name).suffix.lower()
    return suffix in IMAGE_EXTENSIONS or suffix in OTHER_IMAGE_SUFFIXES


@dataclass(frozen=True)
class CaptionFile:
    """A caption file's path and raw bytes (decoding is a rule's job: non-UTF-8 is a finding)."""

    path: Path
    data: bytes


@dataclass(frozen=True)
class ImageFile:
    """One image sd-scripts will load, with what its header and its caption files say."""

    path: Path
    size: Size | None  # None: the header cannot be read
    kind: str | None  # format sniffed from the first bytes: png, jpeg, webp, bmp, gif, tiff
    truncated: bool
    mtime: float
    caption: CaptionFile | None  # <stem><caption_extension>
    other_captions: tuple[Path, ...]  # <stem>.txt / .caption / ... under another extension
    fallback_caption: Path | None  # what the underscore fallback would read instead, when it exists
    dhash: int | None = None  # duplicate scan only: 256-bit difference hash of the trimmed picture
    digest: str | None = None  # duplicate scan only: SHA-1 of the file's bytes
    alpha: bool = False  # an alpha channel (or transparent colour): a loss mask where the subset has alpha_mask


@dataclass(frozen=True)
class ScannedSubset:
    """A subset folder as found on disk."""

    config: SubsetConfig
    exists: bool
    images: tuple[ImageFile, ...]  # sorted by path, as sd-scripts lists them
    skipped: tuple[Path, ...]  # image files sd-scripts will not find (wrong case, other formats, dotfiles)
    subfolders: tuple[tuple[Path, int], ...]  # folders inside, with their image count (not read: not recursive)
    caches: tuple[tuple[Path, float], ...]  # sd-scripts' cache files and their mtimes


def scan_subset(config: SubsetConfig, duplicates: bool) -> ScannedSubset:
    """List one image_dir and read each image's header, end bytes and caption."""
    folder = config.image_dir
    if not folder.is_dir():
        return ScannedSubset(config, False, (), (), (), ())
    files: dict[str, os.DirEntry[str]] = {}
    subfolders = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir():
                subfolders.append((Path(entry.path), _count_images(entry.path)))
            else:
                files[entry.name] = entry
    images, skipped, caches = [], [], []
    for name in sorted(files):
        if is_cache_file(name):
            caches.append((folder / name, files[name].stat().st_mtime))
        elif is_image_like(name):
            if is_loaded_image(name):
                images.append(_scan_image(folder / name, files[name], files, config))
            else:
                skipped.append(folder / name)
    if duplicates:
        images = _with_dhashes(images)
    return ScannedSubset(config, True, tuple(images), tuple(skipped), tuple(sorted(subfolders)), tuple(caches))


def _with_dhashes(images: list[ImageFile]) -> list[ImageFile]:
    """Decode for the perceptual hash in threads: Pillow releases the GIL while it decodes."""
    from concurrent.futures import ThreadPoolExecutor

    readable = [image for image in images if image.size is not None and not image.truncated]
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        hashes = dict(zip((str(i.path) for i in readable), pool.map(_hash_file, [i.path for i in readable]), strict=True))
    return [replace(image, dhash=hashes.get(str(image.path), (None, None))[0],
                    digest=hashes.get(str(image.path), (None, None))[1]) for image in images]


def _hash_file(path: Path) -> tuple[int | None, str | None]:
    import hashlib
    import io

    from PIL import Image

    data = path.read_bytes()
    digest = hashlib.sha1(data).hexdigest()
    try:
        with Image.open(io.BytesIO(data)) as image:
            return dhash_of(image), digest
    except (OSError, ValueError, Image.DecompressionBombError):
        return None, digest


def _count_images(folder: str) -> int:
    with os.scandir(folder) as entries:
        return sum(1 for e in entries if is_image_like(e.name))


def _scan_image(path: Path, entry: os.DirEntry[str], names: dict[str, os.DirEntry[str]], config: SubsetConfig) -> ImageFile:
    stem = path.name[: -len(path.suffix)]
    caption_name = stem + config.caption_extension
    caption = CaptionFile(path.parent / caption_name, _read(path.parent / caption_name)) if caption_name in names else None
    others = tuple(path.parent / (stem + ext) for ext in CAPTION_SUFFIXES
                   if ext != config.caption_extension and stem + ext in names)
    fallback = None
    if caption is None:
        fallback_stem = caption_fallback_stem(str(path))
        if fallback_stem is not None and os.path.isfile(fallback_stem + config.caption_extension):
            fallback = Path(fallback_stem + config.caption_extension)
    size, kind, truncated, alpha = _read_image(path)
    return ImageFile(path, size, kind, truncated, entry.stat().st_mtime, caption, others, fallback, alpha=alpha)


def _read(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def sniff_format(head: bytes) -> str | None:
    """The format the first bytes announce, whatever the file is named."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"BM"):
        return "bmp"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    return None


def is_truncated(kind: str | None, head: bytes, tail: bytes, file_size: int) -> bool:
    """Whether the file stops before its format's end marker (see the module docstring)."""
    if kind == "png":
        return b"IEND" not in tail
    if kind == "jpeg":
        return b"\xff\xd9" not in tail
    if kind == "webp":
        return int.from_bytes(head[4:8], "little") + 8 > file_size
    if kind == "bmp":
        return int.from_bytes(head[2:6], "little") > file_size
    return False


def _read_image(path: Path) -> tuple[Size | None, str | None, bool, bool]:
    from PIL import Image

    from kohya_prep.spec import has_alpha

    with open(path, "rb") as handle:
        head = handle.read(_TAIL)
        file_size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, file_size - _TAIL))
        tail = handle.read(_TAIL)
        kind = sniff_format(head)
        truncated = is_truncated(kind, head, tail, file_size)
        handle.seek(0)
        try:
            with Image.open(handle) as image:
                size = image.size
                alpha = has_alpha(image)
        except (OSError, ValueError, Image.DecompressionBombError):
            return None, kind, truncated, False
    return (int(size[0]), int(size[1])), kind, truncated, alpha


HASH_SIDE = 16  # a 16x16 difference hash: 256 bits


def dhash_of(image: object) -> int:
    """256-bit difference hash (brightness steps between neighbours on a 17x16 grey thumbnail) of the
    picture without its uniform border, so letterbox padding does not make every crop look alike."""
    import numpy as np
    from PIL import Image, ImageChops

    assert isinstance(image, Image.Image)
    image.draft("L", (128, 128))  # JPEG: decode at reduced scale
    grey = image.convert("L")
    border = Image.new("L", grey.size, grey.getpixel((0, 0)))
    box = ImageChops.difference(grey, border).point(lambda v: 255 if v > 8 else 0).getbbox()
    if box:
        grey = grey.crop(box)
    small = np.asarray(grey.resize((HASH_SIDE + 1, HASH_SIDE), Image.Resampling.BILINEAR), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int(sum(1 << i for i, bit in enumerate(bits) if bit))
