"""Pixels: letterbox geometry, transparency, EXIF, odd modes, exact mirrors; captions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from kohya_prep.build.caption_text import normalize_caption, one_sided_features, swap_left_right
from kohya_prep.build.geometry import jpeg_decode_scale, letterbox
from kohya_prep.build.pixels import decode, encode_png, render_letterbox
from kohya_prep.cli import cli
from kohya_prep.spec import Box
from tests.helpers import write_spec

WHITE = (255, 255, 255)


def _build(spec: Path, *args: str) -> None:
    result = CliRunner().invoke(cli, ["dataset", "build", str(spec), *args])
    assert result.exit_code == 0, result.output


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        assert img.mode == "RGB"
        assert img.size == (512, 512)
        return np.asarray(img)


@pytest.mark.parametrize(
    ("box", "padded"),
    [([0, 0, 256, 512], "columns"), ([0, 0, 512, 256], "rows"), ([100, 100, 300, 300], "none")],
    ids=["tall", "wide", "square"],
)
def test_letterbox_pads_the_short_side_with_the_background(tmp_path: Path, box: list[int], padded: str) -> None:
    (tmp_path / "src").mkdir()
    Image.new("RGB", (1024, 768), (200, 30, 30)).save(tmp_path / "src" / "red.png")
    spec = write_spec(tmp_path, [{"name": "c", "box": box}], sources={"sheet": "src/red.png"})
    _build(spec)
    img = _pixels(tmp_path / "chara" / "train" / "10_chara girl" / "c.png")
    red, white = np.array([200, 30, 30]), np.array(WHITE)
    if padded == "columns":  # 256x512 -> 256x512 centred: 128 white columns each side
        assert (img[:, :128] == white).all() and (img[:, -128:] == white).all()
        assert (img[:, 130:380] == red).all()
    elif padded == "rows":
        assert (img[:128] == white).all() and (img[-128:] == white).all()
        assert (img[130:380] == red).all()
    else:
        assert (img == red).all()


def test_letterbox_geometry_is_centred_and_exact() -> None:
    fit = letterbox(300, 1000, 512)  # 300 * 512 / 1000 = 153.6
    assert (fit.scaled_width, fit.scaled_height) == (154, 512)
    assert (fit.offset_x, fit.offset_y) == (179, 0)
    assert letterbox(1000, 1000, 512).offset_x == 0


def test_transparent_pixels_become_the_background_never_black(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    img = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    img.paste((0, 0, 255, 255), (100, 100, 300, 300))
    img.paste((0, 0, 255, 128), (0, 0, 50, 400))  # half-transparent blue strip
    img.save(tmp_path / "src" / "alpha.png")
    spec = write_spec(tmp_path, [{"name": "c", "box": [0, 0, 400, 400]}], sources={"sheet": "src/alpha.png"},
                      dataset={"background": "#00ff00"})
    _build(spec)
    out = _pixels(tmp_path / "chara" / "train" / "10_chara girl" / "c.png")
    assert tuple(out[256, 200 + 0]) == (0, 0, 255)
    assert tuple(out[256, 400]) == (0, 255, 0)  # fully transparent -> background
    strip = out[256, 20].astype(int)  # half blue over green
    assert abs(strip[1] - 127) <= 3 and abs(strip[2] - 128) <= 3 and strip[0] == 0


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: Image.new("L", (64, 64), 100), (100, 100, 100)),
        (lambda: Image.new("1", (64, 64), 1), (255, 255, 255)),
        (lambda: Image.new("I;16", (64, 64), 65535), (255, 255, 255)),
        (lambda: Image.new("I;16", (64, 64), 32896), (128, 128, 128)),
        (lambda: Image.new("RGB", (64, 64), (10, 120, 250)).convert("P", palette=Image.Palette.ADAPTIVE), (10, 120, 250)),
        (lambda: Image.new("CMYK", (64, 64), (0, 255, 255, 0)), (255, 0, 0)),
        (lambda: Image.new("LA", (64, 64), (0, 0)), WHITE),
    ],
    ids=["grey", "bilevel", "16-bit-white", "16-bit-mid", "palette", "cmyk", "grey-alpha-transparent"],
)
def test_odd_modes_come_out_as_correct_rgb(tmp_path: Path, make, expected: tuple[int, int, int]) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / ("src.jpg" if make().mode == "CMYK" else "src.png")
    make().save(path, **({"quality": 100} if path.suffix == ".jpg" else {}))
    pixels = decode(path, WHITE).pixels
    assert pixels.shape == (64, 64, 3) and pixels.dtype == np.uint8
    assert np.abs(pixels[32, 32].astype(int) - np.array(expected)).max() <= 2


def test_palette_with_transparency_is_composited(tmp_path: Path) -> None:
    img = Image.new("P", (32, 32), 0)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.paste(1, (0, 0, 16, 32))
    img.info["transparency"] = 0
    img.save(tmp_path / "p.png", transparency=0)
    pixels = decode(tmp_path / "p.png", (0, 0, 255)).pixels
    assert tuple(pixels[5, 5]) == (255, 0, 0)
    assert tuple(pixels[5, 25]) == (0, 0, 255)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = Image.new("RGB", (200, 100), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 100, 100))  # left half red in the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise: red ends up on top
    img.save(tmp_path / "r.jpg", exif=exif, quality=100)
    pixels = decode(tmp_path / "r.jpg", WHITE).pixels
    assert pixels.shape == (200, 100, 3)
    assert pixels[20, 50, 0] > 200 and pixels[180, 50, 2] > 200


def test_reduced_jpeg_decoding_matches_full_decoding(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (60, 90, 3), dtype=np.uint8)
    big = Image.fromarray(base).resize((6000, 4000), Image.Resampling.BICUBIC)
    big.save(tmp_path / "photo.jpg", quality=92)
    box = Box(1000, 500, 3000, 3000)
    full = render_letterbox(decode(tmp_path / "photo.jpg", WHITE), box, 512, WHITE)
    scale = jpeg_decode_scale([box], 512)
    assert scale == 0.5  # at 1/4 the box would be 750 px, under twice the 512 output
    drafted_source = decode(tmp_path / "photo.jpg", WHITE, scale)
    assert drafted_source.scale == scale
    drafted = render_letterbox(drafted_source, box, 512, WHITE)
    assert np.abs(full.astype(int) - drafted.astype(int)).mean() < 1.5


def test_png_modes_decode_to_the_same_pixels() -> None:
    image = np.random.default_rng(2).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    fast, small = encode_png(image, "fast"), encode_png(image, "small")
    import io

    assert (np.asarray(Image.open(io.BytesIO(fast))) == image).all()
    assert (np.asarray(Image.open(io.BytesIO(small))) == image).all()


def test_flip_is_an_exact_mirror_with_its_own_swapped_caption(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, [{"name": "c", "box": [13, 7, 333, 501], "flip": True,
                                  "caption": "Left hand raised, facing right, chara"}])
    _build(spec)
    folder = tmp_path / "chara" / "train" / "10_chara girl"
    original, flipped = _pixels(folder / "c.png"), _pixels(folder / "c-flip.png")
    assert (flipped == original[:, ::-1]).all()
    assert not (flipped == original).all()
    assert (folder / "c.txt").read_text(encoding="utf-8") == "chara, Left hand raised, facing right\n"
    assert (folder / "c-flip.txt").read_text(encoding="utf-8") == "chara, Right hand raised, facing left\n"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("standing,  smiling ,,", "mira, standing, smiling"),
        ("mira, standing", "mira, standing"),
        ("standing, MIRA,\nsmiling", "mira, standing, smiling"),
        ("portrait of mira smiling", "mira, portrait of smiling"),
        ("", "mira"),
        ("mirage, sky", "mira, mirage, sky"),
    ],
    ids=["tidy", "already-first", "elsewhere-and-newline", "inside-a-tag", "empty", "word-boundary"],
)
def test_caption_has_the_trigger_first_exactly_once(raw: str, expected: str) -> None:
    assert normalize_caption(raw, "mira") == expected


def test_left_right_swap_keeps_case_and_whole_words() -> None:
    assert swap_left_right("left arm, RIGHT leg, Leftover, bright") == "right arm, LEFT leg, Leftover, bright"


def test_flipping_a_one_sided_feature_warns(tmp_path: Path) -> None:
    assert one_sided_features("smile, Eyepatch, side ponytail") == ["eyepatch", "side ponytail"]
    spec = write_spec(tmp_path, [{"name": "c", "flip": True, "caption": "eyepatch, smile"}])
    result = CliRunner().invoke(cli, ["dataset", "build", str(spec)])
    assert result.exit_code == 0
    assert "warning: crop 'c' is flipped but its caption names a one-sided feature (eyepatch)" in result.output
