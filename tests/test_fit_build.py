"""`fit` and `mask` in `dataset build`, from the outside: bucket shapes, loss masks as alpha, pixel-exact, and the
rebuilds and errors around them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw

from kohya_prep.build.plan import decode_scales
from kohya_prep.cli import cli
from kohya_prep.sdscripts.buckets import make_bucket_resolutions
from kohya_prep.spec import load_spec
from tests.helpers import figure_image, write_spec

SUBSET = "10_chara girl"
WHITE = (255, 255, 255)


def _build(spec: Path, *args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(cli, ["dataset", "build", str(spec), "--json", *args])
    assert result.exit_code == code, result.output
    return json.loads(result.output)


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def _two_figures(folder: Path) -> None:
    """A white sheet: a figure with white all round, a thin line 2 px left of a second figure, and a third figure
    as tall as the sheet."""
    image = Image.new("RGB", (1000, 600), WHITE)
    draw = ImageDraw.Draw(image)
    draw.rectangle([60, 100, 200, 300], fill=(40, 40, 90))
    draw.line([240, 100, 240, 300], fill=(0, 0, 0))
    draw.rectangle([245, 100, 360, 300], fill=(90, 40, 40))
    draw.rectangle([420, 0, 880, 599], fill=(40, 90, 40))
    (folder / "src").mkdir(exist_ok=True)
    image.save(folder / "src" / "sheet.png")


def _bucket_spec(folder: Path, mask: str = "padding", **extra: Any) -> Path:
    _two_figures(folder)
    return write_spec(folder, [
        {"name": "roomy", "box": [55, 95, 150, 210]},
        {"name": "hemmed", "box": [243, 95, 120, 210], "flip": True},
        {"name": "edge", "box": [400, 0, 500, 600]},
    ], dataset={"fit": "bucket", "mask": mask, "background": "#ffffff", **extra})


BUCKETS_512 = make_bucket_resolutions((512, 512), 256, 1024, 64)  # sd-scripts' list (tests/test_sdscripts_buckets.py)


def _sd_bucket(width: int, height: int) -> tuple[int, int]:
    """select_bucket: the bucket whose aspect ratio is nearest, the first one on a tie."""
    errors = [abs(w / h - width / height) for w, h in BUCKETS_512]
    return BUCKETS_512[errors.index(min(errors))]


def _shaped(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["crop"]: row["shaped"] for row in data["crops"]}


def test_bucket_fit_writes_each_crop_at_sd_scripts_bucket_growing_only_into_background(tmp_path: Path) -> None:
    data = _build(_bucket_spec(tmp_path))
    folder = tmp_path / "chara" / "train" / SUBSET
    shaped = _shaped(data)
    for row in data["crops"]:
        with Image.open(folder / row["files"][0]) as image:
            assert image.size == tuple(row["output"]) == _sd_bucket(*row["box"][2:]) and image.mode == "RGBA"
    roomy, hemmed, edge = shaped["roomy"], shaped["hemmed"], shaped["edge"]
    # roomy: white all round: grown around its centre to the bucket's aspect ratio, nothing padded
    need = round(210 * roomy["size"][0] / roomy["size"][1]) - 150
    assert need > 5 and roomy["grown"] == {"left": need // 2, "top": 0, "right": need - need // 2, "bottom": 0}
    assert roomy["padding_share"] == 0.0 and not roomy["shifted"]
    # hemmed: two white columns, then the line: it takes those two and shifts the rest to the right
    need = round(210 * hemmed["size"][0] / hemmed["size"][1]) - 120
    assert hemmed["grown"] == {"left": 2, "top": 0, "right": need - 2, "bottom": 0}
    assert hemmed["shifted"] and hemmed["padding_share"] == 0.0
    sheet = _pixels(tmp_path / "src" / "sheet.png")
    left, top, width, height = hemmed["region"]
    assert (sheet[top:top + height, left:left + width][:, :2] == 255).all()  # what was taken in is background
    assert not (sheet[top:top + height, left - 1] == 255).all()  # the next column is the line
    # edge: no row above or below: padded, and the padding is exactly the alpha-0 rows of the mask
    assert edge["grown"] == {"left": 0, "top": 0, "right": 0, "bottom": 0} and edge["padding_share"] > 0
    alpha = _pixels(folder / "edge.png")[:, :, 3]
    pad = edge["padded"]
    assert pad["top"] > 0 and pad["bottom"] > 0 and abs(pad["top"] - pad["bottom"]) <= 1
    assert (alpha[:pad["top"]] == 0).all() and (alpha[alpha.shape[0] - pad["bottom"]:] == 0).all()
    assert (alpha[pad["top"]:alpha.shape[0] - pad["bottom"]] == 255).all()
    images: dict[tuple[int, ...], int] = {}
    for row in data["crops"]:
        images[tuple(row["output"])] = images.get(tuple(row["output"]), 0) + len(row["files"])
    assert {tuple(b["bucket"]): b["train_images"] for b in data["buckets"]} == images
    assert 0 < data["padding_share"] < 0.1


def test_the_report_names_what_each_crop_did_and_a_no_op_rebuild_still_does(tmp_path: Path) -> None:
    spec = _bucket_spec(tmp_path)
    _build(spec)
    result = CliRunner().invoke(cli, ["dataset", "build", str(spec)])
    assert result.exit_code == 0 and "Nothing to do" in result.output
    lines = result.output.splitlines()
    assert any(line.split()[:3] == ["roomy", "448x576", "grew"] and "6 left + 7 right" in line for line in lines)
    assert any(line.startswith("  hemmed") and "(shifted: no room on one side)" in line for line in lines)
    assert any(line.startswith("  edge") and "padded" in line for line in lines)
    assert any("images x repeats" in line for line in lines)


def test_flipped_bucket_crop_mirrors_picture_and_mask(tmp_path: Path) -> None:
    _build(_bucket_spec(tmp_path))
    folder = tmp_path / "chara" / "train" / SUBSET
    plain, flipped = _pixels(folder / "hemmed.png"), _pixels(folder / "hemmed-flip.png")
    assert np.array_equal(flipped, plain[:, ::-1])


def _rgba_source(folder: Path, size: tuple[int, int] = (512, 512)) -> np.ndarray:
    """A transparent source with a half-transparent disc and an opaque square; returns its RGBA pixels."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse([40, 30, 300, 240], fill=(200, 30, 30, 128))
    draw.rectangle([320, 60, 470, 200], fill=(20, 40, 200, 255))
    (folder / "src").mkdir(exist_ok=True)
    image.save(folder / "src" / "sheet.png")
    return np.asarray(image)


def test_mask_alpha_keeps_the_source_alpha_exactly_and_padding_is_zero(tmp_path: Path) -> None:
    source = _rgba_source(tmp_path)
    spec = write_spec(tmp_path, [{"name": "wide", "box": [0, 0, 512, 256], "flip": True}],
                      dataset={"mask": "alpha", "background": "#ffffff"})
    data = _build(spec)
    assert [w["code"] for w in data["warnings"]] == []
    out = _pixels(tmp_path / "chara" / "train" / SUBSET / "wide.png")
    assert out.shape == (512, 512, 4)
    # 512 wide at 512: no scaling, the picture sits in rows 128..384 and its alpha is the source's, exactly
    assert np.array_equal(out[128:384, :, 3], source[:256, :, 3])
    assert (out[:128, :, 3] == 0).all() and (out[384:, :, 3] == 0).all()
    # the colour is composited on the background, as without a mask
    alpha = source[:256, :, 3:4].astype(np.int32)
    expected = (source[:256, :, :3].astype(np.int32) * alpha + 255 * (255 - alpha) + 127) // 255
    assert np.array_equal(out[128:384, :, :3].astype(np.int32), expected)
    assert (out[:128, :, :3] == 255).all()
    flipped = _pixels(tmp_path / "chara" / "train" / SUBSET / "wide-flip.png")
    assert np.array_equal(flipped, out[:, ::-1])


def test_mask_alpha_on_a_bucket_takes_in_transparent_background_with_alpha_zero(tmp_path: Path) -> None:
    source = _rgba_source(tmp_path, (900, 600))
    spec = write_spec(tmp_path, [{"name": "square", "box": [320, 60, 151, 141]}],
                      dataset={"mask": "alpha", "fit": "bucket"})
    shaped = _shaped(_build(spec))["square"]
    assert shaped["padding_share"] == 0.0 and shaped["grown"]["top"] + shaped["grown"]["bottom"] == 10
    out = _pixels(tmp_path / "chara" / "train" / SUBSET / "square.png")
    left, top, width, height = shaped["region"]
    assert out.shape[:2] == (512, 512)
    assert (source[top:top + height, left:left + width, 3] == 255).sum() > 0
    assert (out[:2, :, 3] == 0).all()  # the rows grown into, transparent in the source: masked in the output
    assert (out[256, 100:400, 3] == 255).all()  # the opaque square: fully trained


def test_mask_padding_masks_exactly_the_letterbox_padding_and_keeps_the_colour(tmp_path: Path) -> None:
    plain = write_spec(tmp_path / "a", [{"name": "tall", "box": [50, 40, 300, 700]}])
    masked = write_spec(tmp_path / "b", [{"name": "tall", "box": [50, 40, 300, 700]}], dataset={"mask": "padding"})
    _build(plain)
    _build(masked)
    rgb = _pixels(tmp_path / "a" / "chara" / "train" / SUBSET / "tall.png")
    rgba = _pixels(tmp_path / "b" / "chara" / "train" / SUBSET / "tall.png")
    assert rgb.shape == (512, 512, 3) and rgba.shape == (512, 512, 4)
    assert np.array_equal(rgba[:, :, :3], rgb)
    width = round(300 * 512 / 700)
    offset = (512 - width) // 2
    assert (rgba[:, offset:offset + width, 3] == 255).all()
    assert (rgba[:, :offset, 3] == 0).all() and (rgba[:, offset + width:, 3] == 0).all()


def test_mask_alpha_on_an_opaque_source_warns_and_masks_the_padding(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, [{"name": "tall", "box": [50, 40, 300, 700], "mask": "alpha"}])
    data = _build(spec)
    assert [w["code"] for w in data["warnings"]] == ["mask-no-alpha"]
    assert "has no alpha channel: only the padding is masked there" in data["warnings"][0]["message"]
    alpha = _pixels(tmp_path / "chara" / "train" / SUBSET / "tall.png")[:, :, 3]
    assert set(np.unique(alpha)) == {0, 255}


def test_a_changed_mask_rerenders_and_drops_the_stale_latent_caches(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, [{"name": "tall", "box": [50, 40, 300, 700], "mask": "padding"},
                                 {"name": "wide", "box": [500, 50, 450, 250]}])
    _build(spec)
    folder = tmp_path / "chara" / "train" / SUBSET
    for name in ("tall_0512x0512_sd.npz", "wide_0512x0512_sd.npz"):
        (folder / name).write_bytes(b"cache")
    spec.write_text(spec.read_text().replace("mask = 'padding'", "mask = 'none'"))
    data = _build(spec)
    assert data["rendered"] == [f"train/{SUBSET}/tall.png"]
    assert data["dropped_caches"] == [f"train/{SUBSET}/tall_0512x0512_sd.npz"]
    assert (folder / "wide_0512x0512_sd.npz").exists() and not (folder / "tall_0512x0512_sd.npz").exists()
    with Image.open(folder / "tall.png") as image:
        assert image.mode == "RGB"
    spec.write_text(spec.read_text().replace("[dataset]", "[dataset]\nfit = 'bucket'"))
    assert sorted(_build(spec)["rendered"]) == [f"train/{SUBSET}/tall.png", f"train/{SUBSET}/wide.png"]


def test_reg_images_follow_the_dataset_fit_and_mask(tmp_path: Path) -> None:
    reg = tmp_path / "regs"
    reg.mkdir()
    figure_image((300, 900)).save(reg / "r1.png")
    spec = write_spec(tmp_path, [{"name": "a"}], dataset={"fit": "bucket", "mask": "padding"}, reg={"dir": "regs"})
    data = _build(spec)
    with Image.open(tmp_path / "chara" / "reg" / "1_girl" / "r1.png") as image:
        assert image.size in make_bucket_resolutions((512, 512), 256, 1024, 64) and image.mode == "RGBA"
    assert sum(b["reg_images"] for b in data["buckets"]) == 1


@pytest.mark.parametrize(
    ("dataset", "crop", "message"),
    [
        ({"fit": "buckets"}, {}, "[dataset]: fit = 'buckets' must be one of letterbox, bucket"),
        ({}, {"mask": "alpha-channel"}, "crop 'a': mask = 'alpha-channel' must be one of none, alpha, padding"),
        ({"bucket_reso_steps": 48}, {}, "bucket_reso_steps = 48 is no multiple of 32"),
        ({"min_bucket_reso": 32}, {}, "min_bucket_reso = 32 is below bucket_reso_steps = 64"),
        ({"min_bucket_reso": 640}, {}, "min_bucket_reso = 640 is above resolution = 512"),
        ({"max_bucket_reso": 448}, {}, "max_bucket_reso = 448 is below resolution = 512"),
        ({"max_bucket_reso": 1000}, {}, "max_bucket_reso = 1000 is no multiple of bucket_reso_steps = 64"),
        ({"resolution": 576, "bucket_reso_steps": 128, "min_bucket_reso": 256, "max_bucket_reso": 1024}, {},
         "resolution = 576 is no multiple of bucket_reso_steps = 128"),
    ],
    ids=["fit", "mask", "step", "min-below-step", "min-above-resolution", "max-below-resolution", "max-off-step",
         "resolution-off-step"],
)
def test_bad_fit_mask_and_bucket_settings_are_one_line_errors_and_build_nothing(
        tmp_path: Path, dataset: dict[str, Any], crop: dict[str, Any], message: str) -> None:
    spec = write_spec(tmp_path, [{"name": "a", **crop}], dataset={"fit": "bucket", **dataset})
    result = CliRunner().invoke(cli, ["dataset", "build", str(spec)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.output
    assert not (tmp_path / "chara").exists()


def test_preview_draws_tiles_at_their_shape_with_masked_pixels_shaded(tmp_path: Path) -> None:
    spec = _bucket_spec(tmp_path)
    result = CliRunner().invoke(cli, ["dataset", "build", str(spec), "--preview"])
    assert result.exit_code == 0, result.output
    sheet = _pixels(tmp_path / "chara" / "preview" / "contact-sheet.png")
    # tile 1 (roomy, 448x576) is 199 px wide in a 256 px cell: the cell's sides show the backdrop, not the crop
    assert tuple(sheet[100, 8 + 10]) == (58, 58, 64)
    assert (sheet[100, 8 + 30] >= 245).all()  # its own white background, not shaded: nothing of it is masked
    # tile 3 (edge, padded top and bottom): its padding rows are shaded, not background white
    edge_x = 8 + 2 * (256 + 8) + 128
    column = sheet[8:8 + 256, edge_x]
    assert not (column[:3] == 255).all() and (column[128] != 255).any()


def test_a_jpeg_decoded_at_half_size_never_grows_past_its_own_edge(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    Image.new("RGB", (4000, 3000), WHITE).save(tmp_path / "src" / "sheet.jpg", quality=90)
    spec = write_spec(tmp_path, [{"name": "low", "box": [0, 693, 1900, 2304]}], sources={"sheet": "src/sheet.jpg"},
                      dataset={"fit": "bucket"})
    shaped = _shaped(_build(spec))["low"]
    # 139 more rows for 448x576; 3 are left below the box (2997..2999): the rest grows upwards, nothing is padded
    assert shaped["size"] == [448, 576] and shaped["grown"] == {"left": 0, "top": 136, "right": 0, "bottom": 3}
    assert shaped["region"] == [0, 557, 1900, 2443] and shaped["padding_share"] == 0.0
    loaded = load_spec(spec)
    assert decode_scales(loaded, loaded.crops) == {"sheet": 0.5}  # libjpeg's half-size decode rounds the edge
    with Image.open(tmp_path / "chara" / "train" / SUBSET / "low.png") as image:
        assert image.size == (448, 576)
