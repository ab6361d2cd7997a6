"""`kohya-prep dataset init` from the outside: sheets, pictures, a folder of 25 varied pictures, a kohya folder made
here (not by kohya-prep), --add, and bad input (one line, nothing written)."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from kohya_prep.cli import cli
from kohya_prep.spec import load_spec
from tests.drawn_sheets import figure_layer, random_style, sheet_small
from tests.helpers import figure_image, sd_scripts_view

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["dataset", *args])


def _json(*args: str) -> tuple[int, dict[str, Any]]:
    result = _run(*args, "--json")
    return result.exit_code, json.loads(result.stdout)


def _noise(size: tuple[int, int], seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


def test_a_sheet_becomes_speculative_crops_with_kinds_confidence_and_a_preview(tmp_path: Path) -> None:
    sheet_small().image.save(tmp_path / "sheet.png")
    result = _run("init", str(tmp_path / "mira.toml"), str(tmp_path / "sheet.png"), "--trigger", "mira", "--class", "girl")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "mira.toml").read_text(encoding="utf-8")
    crops = tomllib.loads(text)["crops"]
    assert [c["name"] for c in crops] == [f"sheet-0{i}" for i in range(1, 7)]
    assert {c["status"] for c in crops} == {"speculative"} and all(c["caption"] == ["full body"] for c in crops)
    assert text.count("confidence") == 6 and text.startswith("# Written by `kohya-prep dataset init`")
    assert "sheet.png: a sheet (plain background), 6 figure(s); left out:" in result.output
    assert result.output.splitlines()[-1].strip().startswith("kohya-prep dataset build ")
    spec = load_spec(tmp_path / "mira.toml")
    assert all(c.box.fits(spec.sources["sheet"].size) for c in spec.crops)
    assert (tmp_path / "mira" / "preview" / "contact-sheet.png").is_file()
    assert not (tmp_path / "mira" / "train").exists()  # speculative crops are only previewed


def test_one_picture_becomes_one_whole_image_crop(tmp_path: Path) -> None:
    _noise((640, 400), 1).save(tmp_path / "photo.jpg")
    (tmp_path / "photo.txt").write_text("mira, outdoors, smile\n", encoding="utf-8")
    result = _run("init", str(tmp_path / "p.toml"), str(tmp_path / "photo.jpg"), "--trigger", "mira", "--class", "girl")
    assert result.exit_code == 0, result.output
    crops = tomllib.loads((tmp_path / "p.toml").read_text(encoding="utf-8"))["crops"]
    assert crops == [{"name": "photo", "source": "photo", "caption": ["mira", "outdoors", "smile"], "status": "approved"}]


def _exif_rotated_jpeg(path: Path) -> None:
    """A 600x300 JPEG stored sideways with EXIF orientation 6 (shown 300 wide, 600 tall)."""
    img = figure_image((600, 300))
    exif = Image.Exif()
    exif[0x0112] = 6
    img.save(path, exif=exif.tobytes(), quality=90)


def _varied_pictures(folder: Path) -> int:
    """25 pictures: tall, wide, tiny, huge, RGBA, greyscale, palette, 16-bit, EXIF-rotated, several formats."""
    folder.mkdir()
    made = {
        "tall.png": figure_image((300, 2000)), "wide.png": figure_image((2000, 300)), "tiny.png": figure_image((16, 16)),
        "tiny-wide.png": figure_image((48, 20)), "square.png": figure_image((512, 512)),
        "rgba.png": figure_image((700, 900), "RGBA"), "grey.png": figure_image((640, 480)).convert("L"),
        "palette.gif": figure_image((400, 300)).convert("P"), "noise.jpg": _noise((800, 600), 2),
        "photo.webp": _noise((1024, 768), 3), "old.bmp": figure_image((320, 240)),
        "scan.tif": figure_image((900, 1200)), "strip.png": figure_image((1200, 64)),
        "deep.png": Image.fromarray(np.arange(256 * 256, dtype=np.uint16).reshape(256, 256)),  # 16-bit greyscale
    }
    for i in range(8):
        made[f"shot-{i:02d}.jpg"] = _noise((500 + 60 * i, 700 - 40 * i), 10 + i)
    character = Image.new("RGB", (900, 1400), (255, 255, 255))
    layer = figure_layer(random_style(random.Random(5)), 1200)
    character.paste(layer, (100, 100), layer)
    made["character.png"] = character  # one figure on white: a picture, kept whole
    for name, image in made.items():
        image.save(folder / name)
    _noise((6000, 4000), 4).save(folder / "huge.jpg", quality=80)
    _exif_rotated_jpeg(folder / "rotated.jpg")
    (folder / "tall.txt").write_text("mira, standing\n", encoding="utf-8")
    (folder / "rotated.caption").write_text("mira, lying\n", encoding="utf-8")
    return len(list(folder.iterdir())) - 2


def test_a_folder_of_25_varied_pictures_builds_and_checks_clean_with_no_edits(tmp_path: Path) -> None:
    assert _varied_pictures(tmp_path / "pictures") == 25
    spec = tmp_path / "pictures.toml"
    code, document = _json("init", str(spec), str(tmp_path / "pictures"), "--trigger", "mira", "--class", "girl")
    assert code == 0, document
    assert len(document["images"]) == 25 and document["approved"] >= 24
    result = _run("build", str(spec))
    assert result.exit_code == 0, result.output
    view = sd_scripts_view(tmp_path / "mira" / "train")["10_mira girl"]
    assert len(view["images"]) == document["approved"]
    assert view["captions"]["tall.png"] == "mira, standing" and view["captions"]["rotated.png"] == "mira, lying"
    with Image.open(tmp_path / "mira" / "train" / "10_mira girl" / "rotated.png") as rotated:
        assert rotated.size == (512, 512)
    code, checked = _json("check", str(spec), "--no-duplicates")
    assert code == 0 and checked["errors"] == [], checked["errors"]


def _kohya_dataset(root: Path) -> dict[str, tuple[Image.Image, str | None]]:
    """A kohya_ss-style dataset made by hand: img/10_mira girl/ with captions, reg/1_girl/ without."""
    subset = root / "img" / "10_mira girl"
    subset.mkdir(parents=True)
    made: dict[str, tuple[Image.Image, str | None]] = {
        "001.png": (figure_image((512, 512)), "mira, smile, red scarf"),
        "002.png": (figure_image((512, 512), "RGBA").convert("RGB"), "mira, from behind, twin tails"),
        "003.jpg": (figure_image((512, 512)), "mira, upper body"),
        "004.png": (figure_image((640, 480)), "mira, sitting, chair"),
        "005.webp": (_noise((512, 512), 6), "mira, portrait, close-up"),
        "006.png": (figure_image((768, 768)), "mira, full body"),
    }
    for name, (image, caption) in made.items():
        image.save(subset / name, **({"lossless": True} if name.endswith(".webp") else {}))
        if caption is not None:
            (subset / name).with_suffix(".txt").write_text(caption + "\n", encoding="utf-8")
    reg = root / "reg" / "1_girl"
    reg.mkdir(parents=True)
    for i in range(3):
        _noise((512, 512), 20 + i).save(reg / f"girl-{i}.png")
    return made


def test_a_kohya_dataset_made_by_hand_rebuilds_to_the_same_captions_and_pixels(tmp_path: Path) -> None:
    made = _kohya_dataset(tmp_path / "lora")
    spec = tmp_path / "rebuilt.toml"
    result = _run("init", str(spec), str(tmp_path / "lora"))
    assert result.exit_code == 0, result.output
    loaded = load_spec(spec)
    assert (loaded.trigger, loaded.class_tokens, loaded.num_repeats, loaded.resolution) == ("mira", "girl", 10, 512)
    assert loaded.reg.image_dir == (tmp_path / "lora" / "reg" / "1_girl").resolve()
    result = _run("build", str(spec))
    assert result.exit_code == 0, result.output
    view = sd_scripts_view(loaded.train_data_dir)
    assert list(view) == ["10_mira girl"]
    rebuilt = loaded.train_subset_dir
    for name, (_original, caption) in made.items():
        stem = Path(name).stem
        assert view["10_mira girl"]["captions"][f"{stem}.png"] == caption
        with Image.open(tmp_path / "lora" / "img" / "10_mira girl" / name) as source:
            before = np.asarray(source.convert("RGB"))
        with Image.open(rebuilt / f"{stem}.png") as image:
            after = np.asarray(image.convert("RGB"))
        if before.shape == (512, 512, 3):
            assert np.array_equal(before, after), name
    assert sorted(p.name for p in loaded.reg_subset_dir.glob("*.png")) == ["girl-0.png", "girl-1.png", "girl-2.png"]


def test_a_single_kohya_subset_folder_and_its_trigger(tmp_path: Path) -> None:
    subset = tmp_path / "5_aria woman"
    subset.mkdir()
    for i in range(3):
        figure_image((512, 512)).save(subset / f"{i}.png")
        (subset / f"{i}.txt").write_text(f"Aria, pose {i}\n", encoding="utf-8")
    assert _run("init", str(tmp_path / "a.toml"), str(subset)).exit_code == 0
    spec = load_spec(tmp_path / "a.toml")
    assert (spec.trigger, spec.class_tokens, spec.num_repeats, spec.subset_dir) == ("Aria", "woman", 5, "5_aria woman")


def test_add_appends_sources_and_crops_and_keeps_the_users_edits(tmp_path: Path) -> None:
    _noise((640, 480), 1).save(tmp_path / "one.png")
    sheet_small().image.save(tmp_path / "two.png")
    spec = tmp_path / "s.toml"
    assert _run("init", str(spec), str(tmp_path / "one.png"), "--trigger", "mira", "--class", "girl").exit_code == 0
    edited = spec.read_text(encoding="utf-8").replace('repeats = 10', 'repeats = 4  # my own choice') + "# my note\n"
    spec.write_text(edited, encoding="utf-8")
    result = _run("init", str(spec), str(tmp_path / "two.png"), "--add")
    assert result.exit_code == 0, result.output
    after = spec.read_text(encoding="utf-8")
    lines = iter(after.splitlines())
    assert all(any(line == new for new in lines) for line in edited.splitlines())  # every old line, in order
    data = tomllib.loads(after)
    assert list(data["sources"]) == ["one", "two"] and len(data["crops"]) == 7
    again = _run("init", str(spec), str(tmp_path / "two.png"), "--add")
    assert again.exit_code == 1 and "is already in the spec as 'two'" in again.stderr


def _nothing_written(tmp_path: Path, before: set[Path]) -> None:
    assert set(tmp_path.rglob("*")) == before


@pytest.mark.parametrize(
    ("make", "args", "fragment"),
    [
        (lambda p: (p / "bad.png").write_bytes(b"\x89PNG not really"), ["bad.png"], "bad.png is not a readable image"),
        (lambda p: (p / "empty").mkdir(), ["empty"], "empty is empty"),
        (lambda p: ((p / "docs").mkdir(), (p / "docs" / "a.txt").write_text("x")), ["docs"], "docs holds no images"),
        (lambda p: Image.new("RGB", (400, 300), (250, 250, 250)).save(p / "blank.png"), ["blank.png"],
         "blank.png is all background"),
        (lambda p: (p / "s.toml").write_text("# mine\n"), ["s.toml"], "already exists; pass --add"),
        (lambda p: None, ["missing.png"], "missing.png not found"),
    ],
    ids=["unreadable-image", "empty-folder", "folder-without-images", "all-background", "spec-exists", "missing"],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, make: Any, args: list[str], fragment: str) -> None:
    make(tmp_path)
    figure_image().save(tmp_path / "fine.png") if args == ["s.toml"] else None
    paths = [str(tmp_path / a) for a in args] if args != ["s.toml"] else [str(tmp_path / "fine.png")]
    before = set(tmp_path.rglob("*"))
    result = _run("init", str(tmp_path / "s.toml"), *paths, "--trigger", "mira", "--class", "girl")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1 and fragment in result.stderr
    _nothing_written(tmp_path, before)


def test_a_bad_image_in_a_folder_is_a_warning_and_listed_as_excluded(tmp_path: Path) -> None:
    folder = tmp_path / "art"
    folder.mkdir()
    figure_image().save(folder / "good.png")
    (folder / "broken.png").write_bytes(b"nope")
    Image.new("RGB", (300, 300), (255, 255, 255)).save(folder / "blank.png")
    code, document = _json("init", str(tmp_path / "s.toml"), str(folder), "--trigger", "mira", "--class", "girl")
    assert code == 0
    assert sorted(w["message"].split(" ")[0] for w in document["warnings"]) == ["blank.png", "broken.png"]
    spec = load_spec(tmp_path / "s.toml")
    assert [(c.name, c.status) for c in spec.crops] == [("blank", "excluded"), ("good", "approved")]


def test_missing_trigger_or_class_is_a_usage_error(tmp_path: Path) -> None:
    figure_image().save(tmp_path / "a.png")
    result = _run("init", str(tmp_path / "s.toml"), str(tmp_path / "a.png"), "--class", "girl")
    assert result.exit_code == 2 and "give --trigger WORD" in result.output
    result = _run("init", str(tmp_path / "s.toml"), str(tmp_path / "a.png"), "--trigger", "mira")
    assert result.exit_code == 2 and "give --class WORDS" in result.output
    assert not (tmp_path / "s.toml").exists()


def test_the_spec_path_must_be_toml(tmp_path: Path) -> None:
    figure_image().save(tmp_path / "a.png")
    result = _run("init", str(tmp_path / "a.png"), str(tmp_path / "a.png"), "--trigger", "m", "--class", "g")
    assert result.exit_code == 1 and "is not a .toml path" in result.stderr


def test_init_output_names_treated_as_sheets(tmp_path: Path) -> None:
    sheet_small().image.save(tmp_path / "sheet.png")
    _noise((300, 300), 9).save(tmp_path / "pic.png")
    code, document = _json("init", str(tmp_path / "s.toml"), str(tmp_path / "sheet.png"), str(tmp_path / "pic.png"),
                           "--trigger", "mira", "--class", "girl")
    assert code == 0 and document["sheets"] == [str(tmp_path / "sheet.png")]
    kinds = {img["source"]: img["treated_as"] for img in document["images"]}
    assert kinds == {"sheet": "sheet", "pic": "picture"}
    first = document["images"][0]["detections"][0]
    assert set(first) == {"crop", "box", "figure", "kind", "tag", "confidence", "level", "framed"}
