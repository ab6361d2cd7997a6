"""Image sizes as sd-scripts reads them: imagesize 1.4.1, Pillow when imagesize gives up."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from kohya_prep.sdscripts.images import sd_scripts_size, vp8x_size


def _size(image: Image.Image, **save: object) -> tuple[tuple[int, int], tuple[int, int] | None]:
    data = io.BytesIO()
    image.save(data, **save)
    return sd_scripts_size(io.BytesIO(data.getvalue())), vp8x_size(data.getvalue()[:30])


def test_extended_webp_is_one_pixel_short() -> None:
    assert _size(Image.new("RGBA", (768, 512), (1, 2, 3, 100)), format="WEBP") == ((767, 511), (768, 512))


def test_plain_and_lossless_webp_are_exact() -> None:
    assert _size(Image.new("RGB", (768, 512)), format="WEBP") == ((768, 512), None)
    assert _size(Image.new("RGBA", (768, 512)), format="WEBP", lossless=True) == ((768, 512), None)


def test_bmp_falls_back_to_pillow_and_garbage_is_zero(tmp_path: Path) -> None:
    assert _size(Image.new("RGB", (600, 400)), format="BMP")[0] == (600, 400)
    assert sd_scripts_size(io.BytesIO(b"not an image at all")) == (0, 0)


def test_jpeg_frame_header_beyond_the_first_bytes() -> None:
    big_exif = Image.Exif()
    big_exif[0x010E] = "x" * 60000  # ImageDescription: pushes the frame header past 64 KiB with the ICC below
    data = io.BytesIO()
    Image.new("RGB", (320, 200)).save(data, format="JPEG", exif=big_exif.tobytes(), icc_profile=b"\0" * 30000)
    assert sd_scripts_size(io.BytesIO(data.getvalue())) == (320, 200)
