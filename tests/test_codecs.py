"""The fast codecs and their fallbacks: the same pixels whichever one runs; headers read without decoding."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageOps

from kohya_prep.build import png
from kohya_prep.build.pixels import _to_rgb, decode
from kohya_prep.cli import cli
from kohya_prep.spec import read_source_header
from tests.helpers import figure_image, run_without_fast_codecs, write_spec

WHITE = (255, 255, 255)


def _drawn(mode: str = "RGB") -> np.ndarray:
    return np.asarray(figure_image((512, 384), mode))


def _noisy(channels: int = 3) -> np.ndarray:
    return np.random.default_rng(5).integers(0, 255, (384, 512, channels), dtype=np.uint8)


def _decoded(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img)


@pytest.mark.parametrize("image", [_drawn(), _drawn("RGBA"), _noisy(), _noisy(4)],
                         ids=["drawn-rgb", "drawn-rgba", "noisy-rgb", "noisy-rgba"])
def test_fast_png_keeps_every_pixel_in_a_file_no_larger_than_libpngs(image: np.ndarray) -> None:
    data = png.encode_png(image, "fast")
    assert (_decoded(data) == image).all()
    assert len(data) <= len(png._opencv_png(image, "fast"))
    assert (_decoded(png.encode_png(image, "small")) == image).all()


def test_up_filter_is_the_png_up_filter() -> None:
    image = _noisy()
    filtered = png.up_filtered(image)
    rows = image.reshape(image.shape[0], -1).astype(int)
    assert (filtered[:, 0] == 2).all()
    assert (filtered[1:, 1:] == (rows[1:] - rows[:-1]) % 256).all() and (filtered[0, 1:] == rows[0]).all()


def _jpeg(path: Path, orientation: int = 1, size: tuple[int, int] = (640, 480)) -> None:
    image = figure_image(size)
    image.paste((250, 200, 0), (0, 0, size[0] // 4, size[1] // 5))  # a corner mark, to see the orientation
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(path, quality=95, exif=exif)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_jpeg_comes_out_upright_as_pillow_shows_it(tmp_path: Path, orientation: int) -> None:
    _jpeg(tmp_path / "a.jpg", orientation)
    decoded = decode(tmp_path / "a.jpg", WHITE)
    with Image.open(tmp_path / "a.jpg") as img:
        expected = np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
    assert decoded.size == (expected.shape[1], expected.shape[0]) == read_source_header(tmp_path / "a.jpg")[0]
    assert (decoded.pixels == expected).all()


@pytest.mark.parametrize("scale", [1.0, 0.5, 0.25, 0.125])
def test_a_drafted_jpeg_has_libjpegs_scaled_size(tmp_path: Path, scale: float) -> None:
    _jpeg(tmp_path / "a.jpg", 6, (1001, 750))  # odd sizes: libjpeg rounds each scaled side up
    decoded = decode(tmp_path / "a.jpg", WHITE, scale)
    assert decoded.pixels.shape[:2] == (int(np.ceil(1001 * scale)), int(np.ceil(750 * scale)))
    assert decoded.size == (750, 1001)


def test_builds_without_the_fast_codecs_write_the_same_pixels(tmp_path: Path) -> None:
    crops = [{"name": "photo", "source": "photo", "box": [100, 50, 2000, 1400], "flip": True},
             {"name": "turned", "source": "turned", "box": [0, 0, 480, 640]},
             {"name": "clear", "source": "clear", "box": [0, 0, 512, 384]}]
    folders = {}
    for name in ("fast", "plain"):
        folder = tmp_path / name
        (folder / "src").mkdir(parents=True)
        Image.fromarray(np.random.default_rng(1).integers(0, 255, (30, 40, 3), dtype=np.uint8)).resize(
            (2400, 1600), Image.Resampling.BICUBIC).save(folder / "src" / "photo.jpg", quality=90)
        _jpeg(folder / "src" / "turned.jpg", 8)
        figure_image((512, 384), "RGBA").save(folder / "src" / "clear.png")
        spec = write_spec(folder, crops, sources={"photo": "src/photo.jpg", "turned": "src/turned.jpg",
                                                  "clear": "src/clear.png"}, dataset={"background": "#336699"})
        if name == "plain":
            done = run_without_fast_codecs(["dataset", "build", str(spec)])
            assert done.returncode == 0, done.stderr
        else:
            result = CliRunner().invoke(cli, ["dataset", "build", str(spec)])
            assert result.exit_code == 0, result.output
        folders[name] = folder / "chara" / "train" / "10_chara girl"
    names = sorted(p.name for p in folders["fast"].glob("*.png"))
    assert names == ["clear.png", "photo-flip.png", "photo.png", "turned.png"]
    for name in names:
        fast, plain = (np.asarray(Image.open(folders[k] / name)) for k in ("fast", "plain"))
        assert (fast == plain).all(), name


def test_an_opencv_decoded_png_has_pillows_pixels(tmp_path: Path) -> None:
    rgba = figure_image((300, 200), "RGBA")
    alpha = np.asarray(rgba).copy()
    alpha[:, :, 3] = np.linspace(0, 255, 300, dtype=np.uint8)[None, :]  # every level of transparency
    Image.fromarray(alpha).save(tmp_path / "clear.png")
    figure_image((300, 200)).save(tmp_path / "plain.png")
    Image.fromarray(np.asarray(figure_image((300, 200)).convert("L")).astype(np.uint16) * 257).save(tmp_path / "deep.png")
    for name in ("clear.png", "plain.png", "deep.png"):
        with Image.open(tmp_path / name) as img:
            img.load()
            expected = _to_rgb(img, (10, 200, 30))  # Pillow's decode, as every format other than these takes
        decoded = decode(tmp_path / name, (10, 200, 30), keep_alpha=True)
        assert (decoded.pixels == expected).all(), name
    assert (decode(tmp_path / "clear.png", WHITE, keep_alpha=True).alpha == alpha[:, :, 3]).all()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_with_exif_after_idat(path: Path, orientation: int, idat: bytes | None = None) -> None:
    """A 40x20 PNG whose eXIf chunk follows its pixel data (allowed; Pillow finds it only by decoding)."""
    buffer = io.BytesIO()
    figure_image((40, 20)).save(buffer, format="PNG")
    data = buffer.getvalue()
    exif = Image.Exif()
    exif[0x0112] = orientation
    chunk = _chunk(b"eXIf", exif.tobytes())
    end = data.rindex(b"IEND") - 4
    if idat is not None:  # pixel data that cannot be inflated: a header read must not try
        start = data.index(b"IDAT") - 4
        data = data[:start] + _chunk(b"IDAT", idat) + data[end:]
        end = data.rindex(b"IEND") - 4
    path.write_bytes(data[:end] + chunk + data[end:])


def test_a_png_exif_orientation_after_the_pixels_is_read_from_the_header(tmp_path: Path) -> None:
    _png_with_exif_after_idat(tmp_path / "turned.png", 6)
    assert read_source_header(tmp_path / "turned.png")[0] == (20, 40)
    decoded = decode(tmp_path / "turned.png", WHITE)
    with Image.open(tmp_path / "turned.png") as img:
        assert (decoded.pixels == np.asarray(ImageOps.exif_transpose(img).convert("RGB"))).all()
    assert decoded.pixels.shape == (40, 20, 3)


def test_reading_a_png_header_never_decodes_its_pixels(tmp_path: Path) -> None:
    _png_with_exif_after_idat(tmp_path / "broken.png", 8, idat=b"not deflate data at all")
    assert read_source_header(tmp_path / "broken.png") == ((20, 40), False, False)
    spec = write_spec(tmp_path, [{"name": "a", "box": [0, 0, 20, 40]}], sources={"sheet": "broken.png"})
    result = CliRunner().invoke(cli, ["dataset", "build", str(spec)])
    assert result.exit_code == 1  # the spec is valid; the pixels are not, and the build says so
    assert "source 'sheet' (broken.png) could not be decoded" in result.output
