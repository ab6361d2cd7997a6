"""An image's size as sd-scripts reads it (library/train_util.py: BaseDataset.get_image_size).

sd-scripts asks the `imagesize` package (pinned to 1.4.1 in its requirements.txt) for the header's size and
falls back to Pillow only when the width it gets is not positive (BMP, unknown headers); when Pillow fails too,
the size is (0, 0), which crashes bucketing later (a division by the height). imagesize's own exceptions
(a JPEG without a frame header, a WebP with an unknown chunk) are not caught: sd-scripts stops on them.

imagesize 1.4.1 reads an extended-format (VP8X) WebP's canvas fields as they are stored, which is width - 1 and
height - 1, so such an image (Pillow writes VP8X for a lossy WebP with transparency or metadata) is read one
pixel short on each side. It matters: the bucket, and with bucket_no_upscale the bucket size itself, follow
that size. `vp8x_size` gives the true size, so a check can say so.
"""

from __future__ import annotations

import io
import struct
from typing import BinaryIO

from kohya_prep.sdscripts.buckets import Size

# PNG, WebP and GIF sizes sit in the first 31 bytes; a JPEG's frame header follows its EXIF and ICC blocks.
_PREFIXES = (4096, 256 * 1024)
# What imagesize 1.4.1 raises for a file it recognises but cannot parse (its own ValueErrors, and the
# struct.error / TypeError of a header cut short where it does not catch them).
IMAGESIZE_ERRORS: tuple[type[BaseException], ...] = (ValueError, struct.error, TypeError, IndexError)


def sd_scripts_size(handle: BinaryIO) -> Size:
    """(width, height) exactly as BaseDataset.get_image_size returns it for this open file; raises what
    imagesize raises. imagesize is given the file's first bytes, more of them only when those were not enough,
    and at last the whole file (a read past their end fails as it would at the end of the file, so the answer
    is the same as imagesize.get(path))."""
    import imagesize

    for limit in (*_PREFIXES, None):
        handle.seek(0)
        head = handle.read() if limit is None else handle.read(limit)
        try:
            width, height = imagesize.get(io.BytesIO(head))
            break
        except IMAGESIZE_ERRORS:
            if limit is None or len(head) < limit:
                raise
    if width > 0:
        return int(width), int(height)
    return _pillow_size(handle)


def _pillow_size(handle: BinaryIO) -> Size:
    from PIL import Image

    try:
        handle.seek(0)
        with Image.open(handle) as image:
            return int(image.size[0]), int(image.size[1])
    except Exception:  # sd-scripts catches everything here and logs 'failed to get image size'
        return 0, 0


def vp8x_size(head: bytes) -> Size | None:
    """The true canvas size of an extended-format WebP from its first 30 bytes, or None for any other file."""
    if len(head) < 30 or head[:4] != b"RIFF" or head[8:12] != b"WEBP" or head[12:16] != b"VP8X":
        return None
    return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
