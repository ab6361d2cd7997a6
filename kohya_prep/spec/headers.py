"""Source image headers: size after EXIF orientation and format, read without decoding pixels."""

from __future__ import annotations

from pathlib import Path

MAX_SOURCE_PIXELS = 1_000_000_000  # Pillow refuses twice this; 1 GP of RGB is 3 GB once decoded


def allow_large_sources() -> None:
    """Raise Pillow's decompression-bomb limit (179 MP) for sources: a big art sheet is the user's own file."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_SOURCE_PIXELS


ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def has_alpha(img: object) -> bool:
    """Whether an opened Pillow image carries transparency: an alpha channel, or a transparent colour (tRNS)."""
    return getattr(img, "mode", "") in ALPHA_MODES or "transparency" in getattr(img, "info", {})


def read_source_header(path: Path) -> tuple[tuple[int, int], bool, bool]:
    """Size after EXIF orientation, whether it is a JPEG, and whether it has transparency, from the header only.

    Raises OSError if unreadable."""
    from PIL import Image

    allow_large_sources()
    try:
        with Image.open(path) as img:
            width, height = img.size
            jpeg = img.format == "JPEG"
            alpha = has_alpha(img)
            try:
                orientation = img.getexif().get(0x0112, 1)
            except Exception:  # a broken EXIF block is no reason to refuse the image
                orientation = 1
    except Image.DecompressionBombError as err:
        raise OSError(f"{err}; split or downscale the sheet") from err
    return ((height, width) if orientation in (5, 6, 7, 8) else (width, height)), jpeg, alpha


def read_image_header(path: Path) -> tuple[tuple[int, int], bool]:
    """Size after EXIF orientation, and whether it is a JPEG, reading the header only. Raises OSError if unreadable."""
    size, jpeg, _alpha = read_source_header(path)
    return size, jpeg


def read_image_size(path: Path) -> tuple[int, int]:
    """Width and height after EXIF orientation, reading the header only. Raises OSError if unreadable."""
    return read_image_header(path)[0]
