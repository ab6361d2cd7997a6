"""Read a subset folder as sd-scripts will: the only module of the check that touches image and caption files.

sd-scripts lists a subset with glob (library/train_util.py: glob_images), which matches names, not files: a
folder, a FIFO or a dangling symlink named `x.png` is listed as an image too, and sd-scripts then hangs or crashes
reading its size. Such entries are kept, with what they are, and never opened (files.py).

Sizes are read as sd-scripts reads them (sdscripts/images.py: imagesize 1.4.1, Pillow when it gives up). A
truncated file is caught from its last bytes: a PNG must end with its IEND chunk, a JPEG must hold the EOI marker
(FF D9) in its last 32 bytes (FF is byte-stuffed inside JPEG data, so FF D9 marks only the end), a WebP's or
BMP's size field must not exceed the file. Pixels are decoded only for the duplicate scan (a dHash per image).
A file that disappears while it is read (a rebuild swapping the tree) is recorded as vanished, never raised.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path, PurePath
from typing import BinaryIO

from kohya_prep.check.files import FileKind, NotReadable, error_kind, kind_of, open_regular, read_regular
from kohya_prep.check.inputs import SubsetConfig
from kohya_prep.sdscripts.buckets import Size
from kohya_prep.sdscripts.folders import IMAGE_EXTENSIONS, caption_candidates, is_cache_file, is_loaded_image
from kohya_prep.sdscripts.images import IMAGESIZE_ERRORS, sd_scripts_size, vp8x_size

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
    fallback: bool = False  # found by read_caption's underscore fallback, not as <stem><caption_extension>


@dataclass(frozen=True)
class ImageFile:
    """One entry sd-scripts will list as an image, with what its header and its caption files say."""

    path: Path
    size: Size | None  # as sd-scripts reads it; None: sd-scripts cannot (see problem)
    kind: str | None  # format sniffed from the first bytes: png, jpeg, webp, bmp, gif, tiff
    truncated: bool
    mtime: float
    caption: CaptionFile | None  # what read_caption reads: <stem><caption_extension>, or the fallback's file
    other_captions: tuple[Path, ...]  # <stem>.txt / .caption / ... under another extension
    entry: FileKind = "file"  # anything else is listed by glob but cannot be read as an image
    size_error: str | None = None  # what imagesize stopped with (sd-scripts does not catch it)
    decodes: bool = True  # Pillow can open it (sd-scripts loads every image with Pillow)
    true_size: Size | None = None  # a VP8X WebP's real size, when sd-scripts' reading differs from it
    # A caption candidate that exists but is not a readable file, and whether sd-scripts opens it anyway (then a
    # failed read crashes it) or passes over it (os.path.isfile is False: a FIFO, a broken link, a folder).
    caption_problem: tuple[Path, FileKind, bool] | None = None
    dhash: int | None = None  # duplicate scan only: 256-bit difference hash of the trimmed picture
    digest: str | None = None  # duplicate scan only: SHA-1 of the file's bytes
    key: str = ""  # the path string sd-scripts uses (image_dir as written, joined with the name)
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
    vanished: tuple[Path, ...] = ()  # entries that disappeared while they were read
    kind: FileKind = "dir"  # what image_dir is, when it is not a folder


def scan_subset(config: SubsetConfig, duplicates: bool) -> ScannedSubset:
    """List one image_dir and read each image's header, end bytes and caption."""
    folder = config.image_dir
    kind = kind_of(folder)
    if kind != "dir":
        return ScannedSubset(config, False, (), (), (), (), kind=kind)
    try:
        entries = _list(folder)
    except OSError as err:
        return ScannedSubset(config, False, (), (), (), (), kind=error_kind(err))
    images, skipped, caches, subfolders, vanished = [], [], [], [], []
    glob_dir = _glob_dir(config)
    for name in sorted(entries):
        path = folder / name
        if is_loaded_image(name):
            images.append(_scan_image(path, os.path.join(glob_dir, name), entries, config))
        elif is_cache_file(name):
            mtime = _mtime(path)
            if mtime is not None:
                caches.append((path, mtime))
        elif is_image_like(name) and entries[name] != "dir":
            skipped.append(path)
        elif entries[name] == "dir":
            subfolders.append((path, _count_images(path)))
    vanished = [image.path for image in images if image.entry == "vanished"]
    if duplicates:
        images = _with_dhashes(images)
    return ScannedSubset(config, True, tuple(images), tuple(skipped), tuple(subfolders), tuple(caches), tuple(vanished))


def _glob_dir(config: SubsetConfig) -> str:
    """The folder part of the paths glob returns for image_dir as written (os.path.join, then glob's split)."""
    written = config.image_dir_text or str(config.image_dir)
    return os.path.split(os.path.join(written, "*"))[0]


def _list(folder: Path) -> dict[str, FileKind]:
    """Names in the folder with their kind, following symlinks; an entry that vanishes is 'vanished'."""
    with os.scandir(folder) as it:
        names = [entry.name for entry in it]
    return {name: kind_of(folder / name) for name in names}


def _mtime(path: Path) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def _count_images(folder: Path) -> int:
    try:
        with os.scandir(folder) as entries:
            return sum(1 for e in entries if is_image_like(e.name))
    except OSError:
        return 0


def _scan_image(path: Path, key: str, names: dict[str, FileKind], config: SubsetConfig) -> ImageFile:
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    caption, caption_problem = _read_caption(key, config.caption_extension, names)
    others = tuple(path.parent / (stem + ext) for ext in CAPTION_SUFFIXES
                   if ext != config.caption_extension and names.get(stem + ext) == "file")
    base = ImageFile(path, None, None, False, 0.0, caption, others, caption_problem=caption_problem, key=key)
    if names[path.name] != "file":
        return replace(base, entry=names[path.name], decodes=False)
    try:
        with open_regular(path) as handle:
            return _read_image(handle, base)
    except OSError as err:
        return replace(base, entry=error_kind(err, path), decodes=False)


def _read_caption(key: str, caption_extension: str, names: dict[str, FileKind]
                  ) -> tuple[CaptionFile | None, tuple[Path, FileKind, bool] | None]:
    """read_caption: the first candidate that os.path.isfile accepts is read (a FIFO or a broken link is passed
    over, as sd-scripts passes over it); the primary's kind comes from the folder listing when it lies there."""
    primary, fallback = caption_candidates(key, caption_extension)
    same_folder = os.path.dirname(primary) == os.path.dirname(key)
    # Not in the listing: no such file ("vanished" is never reported for a primary caption).
    primary_kind = names.get(os.path.basename(primary), "vanished") if same_folder else kind_of(primary)
    problem = (Path(primary), primary_kind, False) if primary_kind not in ("file", "vanished") else None
    candidates = [(primary, primary_kind == "file"), (fallback, fallback != primary and os.path.isfile(fallback))]
    for index, (candidate, is_file) in enumerate(candidates):
        if is_file:
            try:
                return CaptionFile(Path(candidate), read_regular(candidate), fallback=index == 1), problem
            except NotReadable as err:
                return None, (Path(candidate), err.kind, True)
    return None, problem


def _read_image(handle: BinaryIO, base: ImageFile) -> ImageFile:
    from PIL import Image

    from kohya_prep.spec import has_alpha

    head = handle.read(_TAIL)
    file_size = handle.seek(0, os.SEEK_END)
    handle.seek(max(0, file_size - _TAIL))
    tail = handle.read(_TAIL)
    kind = sniff_format(head)
    size: Size | None = None
    size_error = None
    try:
        size = sd_scripts_size(handle)
    except IMAGESIZE_ERRORS as err:
        size_error = f"{type(err).__name__}: {err}"
    if size is not None and (size[0] <= 0 or size[1] <= 0):
        size = None  # (0, 0) from get_image_size: sd-scripts divides by the height and crashes
    handle.seek(0)
    decodes, alpha = True, False
    try:
        with Image.open(handle) as image:
            alpha = has_alpha(image)
    except (OSError, ValueError, Image.DecompressionBombError):
        decodes = False
    true = vp8x_size(head[:30]) if kind == "webp" else None
    return replace(base, size=size, kind=kind, truncated=is_truncated(kind, head, tail, file_size),
                   mtime=os.fstat(handle.fileno()).st_mtime, size_error=size_error, decodes=decodes, alpha=alpha,
                   true_size=true if true is not None and true != size else None)


def _with_dhashes(images: list[ImageFile]) -> list[ImageFile]:
    """Decode for the perceptual hash in threads: Pillow releases the GIL while it decodes."""
    from concurrent.futures import ThreadPoolExecutor

    readable = [image for image in images if image.size is not None and image.decodes and not image.truncated]
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        hashes = dict(zip((str(i.path) for i in readable), pool.map(_hash_file, [i.path for i in readable]), strict=True))
    return [replace(image, dhash=hashes.get(str(image.path), (None, None))[0],
                    digest=hashes.get(str(image.path), (None, None))[1]) for image in images]


def _hash_file(path: Path) -> tuple[int | None, str | None]:
    import hashlib
    import io

    from PIL import Image

    try:
        data = read_regular(path)
    except OSError:  # gone or swapped since its header was read: nothing to compare
        return None, None
    digest = hashlib.sha1(data).hexdigest()
    try:
        with Image.open(io.BytesIO(data)) as image:
            return dhash_of(image), digest
    except (OSError, ValueError, Image.DecompressionBombError):
        return None, digest


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
