"""Source image headers: size after EXIF orientation, format and transparency, read without decoding pixels.

PNG and JPEG, the formats sources come in, are read here from their own structure (a PNG's chunks, a JPEG's
markers up to its first scan; the EXIF orientation from the TIFF block in an eXIf chunk or an APP1 segment), with
Pillow's reading of every field: the spec validates and a build plans without importing Pillow (35 ms of a command's
start-up), and the render decodes such files with libpng or libjpeg-turbo directly. Anything else, or a PNG or JPEG
with something this reader does not expect (an MPO, a broken chunk, a size over the limit), goes to Pillow, which
reads it, or refuses it, as it always did. Pillow's getexif() on a PNG whose eXIf chunk follows the pixel data
decodes the whole image to look for it; both readers here skip over the chunks by their lengths instead.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import Any, NamedTuple

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
        end = os.fstat(file.fileno()).st_size
        while len(head := file.read(8)) == 8:
            length, kind = struct.unpack(">I4s", head)
            if kind == b"eXIf":
                return file.read(min(length, end - file.tell()))  # a hostile length reads what the file holds
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


class Header(NamedTuple):
    """What a PNG's or a JPEG's header says, as Pillow reads it."""

    format: str  # "PNG" or "JPEG"
    stored_size: tuple[int, int]  # width and height as stored, before the EXIF orientation
    orientation: int
    alpha: bool  # an alpha channel or a transparent colour (Pillow's has_alpha)
    plain: bool  # 8-bit RGB or RGBA PNG without a transparent colour, or a greyscale or colour JPEG: Pillow's
    # modes RGB, RGBA and L, which libpng and libjpeg-turbo decode straight into one array

    @property
    def size(self) -> tuple[int, int]:
        """Width and height as shown, after the EXIF orientation."""
        width, height = self.stored_size
        return (height, width) if self.orientation in (5, 6, 7, 8) else (width, height)


UNSURE = -1  # tiff_orientation: an orientation entry that is not the one SHORT value the standard says it is


def tiff_orientation(tiff: bytes) -> int | None:
    """The orientation tag of an EXIF block's first directory (IFD0): its value; None when there is none (or the
    block is broken before it); UNSURE when the entry is not one SHORT, whose reading is left to Pillow."""
    if tiff.startswith(b"Exif\x00\x00"):
        tiff = tiff[6:]
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    try:
        if order is None or struct.unpack_from(order + "H", tiff, 2)[0] != 42:
            return None
        offset = struct.unpack_from(order + "I", tiff, 4)[0]
        for index in range(struct.unpack_from(order + "H", tiff, offset)[0]):
            tag, kind, count = struct.unpack_from(order + "HHI", tiff, offset + 2 + 12 * index)
            if tag == ORIENTATION:
                if kind != 3 or count != 1:
                    return UNSURE
                return int(struct.unpack_from(order + "H", tiff, offset + 10 + 12 * index)[0])
    except struct.error:  # a directory or an entry past the block's end
        return None
    return None


def _orientation(exif: bytes | None, xmp: bool) -> int | None:
    """The EXIF orientation (1 without one); None where Pillow should read it: an XMP packet may hold it instead,
    or the entry is unusual."""
    found = tiff_orientation(exif) if exif else None
    if found == UNSURE or (found is None and xmp):
        return None
    return 1 if found is None else found


# PNG colour types by bit depth as Pillow opens them (PngImagePlugin._MODES): 0 grey, 2 RGB, 3 palette, 4 grey and
# alpha, 6 RGBA; an alpha channel in 4 and 6.
_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}


def _png_header(file: Any) -> Header | None:
    """A PNG's header from its chunks (the file just past the signature); None where Pillow should read it."""
    head = file.read(25)  # IHDR: length, type, 13 bytes of data, CRC
    if len(head) != 25 or head[:8] != b"\x00\x00\x00\rIHDR" or zlib.crc32(head[4:21]) != struct.unpack(">I", head[21:])[0]:
        return None
    width, height, depth, colour = struct.unpack(">IIBB", head[8:18])
    if not width or not height or depth not in _PNG_DEPTHS.get(colour, ()):
        return None
    transparent, exif, pixels_seen, xmp = False, None, False, False
    end = os.fstat(file.fileno()).st_size  # a chunk's length is the file's word: never read past its end
    while len(chunk := file.read(8)) == 8:
        length, kind = struct.unpack(">I4s", chunk)
        if kind == b"IEND":
            break
        if kind == b"IDAT" or pixels_seen:  # never read, let alone inflated; nor is anything after it, but an eXIf
            pixels_seen = True
            if kind == b"eXIf" and exif is None:
                exif = file.read(min(length, end - file.tell()))
                length = 0
            file.seek(length + 4, 1)
            continue
        if length > end - file.tell():
            return None  # truncated, or a length no file here has: Pillow says which
        data = file.read(length)  # the chunks before the pixels: Pillow reads each and checks its CRC
        crc = file.read(4)
        if len(data) != length or not kind.isalpha() or crc != struct.pack(">I", zlib.crc32(data, zlib.crc32(kind))):
            return None
        transparent = transparent or kind == b"tRNS"
        xmp = xmp or (kind in (b"iTXt", b"tEXt", b"zTXt") and data.startswith(_XMP_KEY))
        if kind == b"eXIf" and exif is None:
            exif = data
    orientation = _orientation(exif, xmp)
    if not pixels_seen or orientation is None:
        return None
    alpha = colour in (4, 6) or transparent
    return Header("PNG", (width, height), orientation, alpha, depth == 8 and colour in (2, 6) and not transparent)


_XMP_KEY = b"XML:com.adobe.xmp\x00"  # a PNG text chunk holding an XMP packet
_XMP_APP1 = b"http://ns.adobe.com/xap/1.0/\x00"  # a JPEG's APP1 segment holding one
# Pillow's JPEG marker table (JpegImagePlugin.MARKER): the markers it reads no length after (RSTn, SOI, EOI, JPG,
# JPGn) and fill bytes, and those it reads as a start of frame (the size), DHP included.
_NO_LENGTH = {*range(0xD0, 0xDA), 0xC8, *range(0xF0, 0xFE), 0xFF}
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF, 0xDE}


def _jpeg_header(file: Any) -> Header | None:
    """A JPEG's header from its segments up to the first scan (the file just past SOI), each checked as Pillow checks
    it when it opens the file; None where Pillow should read it (and perhaps refuse it)."""
    exif, xmp = b"", False
    size: tuple[int, int] | None = None
    layers = 0
    icc: list[bytes] = []
    while True:
        marker = file.read(4)
        if len(marker) != 4 or marker[0] != 0xFF or marker[1] < 0xC0 or marker[1] in _NO_LENGTH:
            return None  # padding, junk, a marker Pillow does not know or one without a length, a truncated file
        code, length = marker[1], struct.unpack(">H", marker[2:])[0]
        data = file.read(length - 2) if length >= 2 else b""
        if length < 2 or len(data) != length - 2 or not _segment_reads(code, data):
            return None
        if code == 0xDA:  # start of scan: Pillow reads its header, and nothing after it
            break
        if code in _SOF:
            if icc and len(min(icc)) < 14:  # Pillow orders the ICC segments and reads the first one's count
                return None
            size, layers = (struct.unpack(">H", data[3:5])[0], struct.unpack(">H", data[1:3])[0]), data[5]
        elif code == 0xE1 and data.startswith(b"Exif\x00\x00"):
            exif += data[6:] if exif else data  # Pillow joins the segments of an EXIF block the same way
        elif code == 0xE1 and data.startswith(_XMP_APP1):
            xmp = True
        elif code == 0xE2 and data.startswith(b"ICC_PROFILE\x00"):
            icc.append(data)
    orientation = _orientation(exif, xmp)
    if size is None or not size[0] or not size[1] or orientation is None:
        return None
    return Header("JPEG", size, orientation, False, layers in (1, 3))


def _segment_reads(code: int, data: bytes) -> bool:
    """Whether Pillow's handler for this segment reads it without raising (JpegImagePlugin: SOF, DQT, APP)."""
    if code in _SOF:  # 8-bit samples, 1, 3 or 4 layers, three bytes per layer after the first six
        return len(data) >= 6 and data[0] == 8 and data[5] in (1, 3, 4) and (len(data) - 6) % 3 == 0
    if code == 0xDB:  # quantization tables of 64 bytes or 64 words, each after one byte
        while data:
            need = 1 + 64 * (1 if data[0] < 16 else 2)
            if len(data) < need:
                return False
            data = data[need:]
        return True
    if code == 0xE2 and data.startswith(b"MPF\x00"):
        return False  # a multi-picture file: Pillow opens it as MPO, not JPEG
    if code == 0xED and data.startswith(b"Photoshop 3.0\x00"):
        return False  # image resource blocks: left to Pillow, whose reader may refuse a broken one
    if (code == 0xE0 and data.startswith(b"JFIF")) or (code == 0xEE and data.startswith(b"Adobe")):
        return len(data) >= 7  # the version word at offset 5
    return True


def probe(path: Path) -> Header | None:
    """The header of a PNG or a JPEG; None for any other file or one to leave to Pillow. Raises OSError if the
    file cannot be read."""
    with open(path, "rb") as file:
        start = file.read(8)
        if start == PNG_SIGNATURE:
            header = _png_header(file)
        elif start[:3] == b"\xff\xd8\xff":
            file.seek(2)
            header = _jpeg_header(file)
        else:
            return None
    if header is None or header.stored_size[0] * header.stored_size[1] > MAX_SOURCE_PIXELS:
        return None  # over the limit: Pillow says so in its own words
    return header


def read_source_header(path: Path) -> tuple[tuple[int, int], bool, bool]:
    """Size after EXIF orientation, whether it is a JPEG, and whether it has transparency, from the header only.

    Raises OSError if unreadable."""
    header = probe(path)
    if header is not None:
        return header.size, header.format == "JPEG", header.alpha
    return pillow_source_header(path)


def pillow_source_header(path: Path) -> tuple[tuple[int, int], bool, bool]:
    """read_source_header through Pillow: every format it opens."""
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
