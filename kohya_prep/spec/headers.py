"""Source image headers: size after EXIF orientation and format, read without decoding pixels.

Pillow's getexif() on a PNG whose eXIf chunk was not seen before the pixel data decodes the whole image to look
for it; here the chunks after IDAT are skipped over by their lengths instead, so reading a header never decodes.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

MAX_SOURCE_PIXELS = 1_000_000_000  # Pillow refuses twice this; 1 GP of RGB is 3 GB once decoded


def allow_large_sources() -> None:
    """Raise Pillow's decompression-bomb limit (179 MP) for sources: a big art sheet is the user's own file."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_SOURCE_PIXELS


ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def has_alpha(img: object) -> bool:
    """Whether an opened Pillow image carries transparency: an alpha channel, or a transparent colour (tRNS)."""
    return getattr(img, "mode", "") in ALPHA_MODES or "transparency" in getattr(img, "info", {})


ORIENTATION = 0x0112  # EXIF orientation; 5 to 8 swap width and height
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_exif_chunk(path: Path) -> bytes | None:
    """The eXIf chunk of a PNG, found by walking the chunk lengths (IDAT is skipped, never inflated); None if absent."""
    with open(path, "rb") as file:
        if file.read(8) != PNG_SIGNATURE:
            return None
        while len(head := file.read(8)) == 8:
            length, kind = struct.unpack(">I4s", head)
            if kind == b"eXIf":
                return file.read(length)
            if kind == b"IEND":
                return None
            file.seek(length + 4, 1)  # the chunk's data and its CRC
    return None


def exif_orientation(img: Any, path: Path) -> int:
    """The EXIF orientation of an opened image (1 when it has none or it is broken), never decoding its pixels."""
    from PIL import Image

    try:
        if img.format == "PNG" and "exif" not in img.info:
            data = png_exif_chunk(path)
            if data is None:
                return 1
            exif = Image.Exif()
            exif.load(data)
            return int(exif.get(ORIENTATION, 1))
        return int(img.getexif().get(ORIENTATION, 1))
    except Exception:  # a broken EXIF block is no reason to refuse the image (libjpeg ignores it too)
        return 1


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
            orientation = exif_orientation(img, path)
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
