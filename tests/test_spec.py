"""Spec validation through the CLI: every problem named with its crop, field, value and fix; nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from kohya_prep.cli import cli
from kohya_prep.errors import SpecError
from kohya_prep.spec import load_spec
from tests.helpers import write_spec


def _build(spec: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["dataset", "build", str(spec), *args])


def _assert_one_line_error(result, *fragments: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 1, result.output
    message = result.stderr if hasattr(result, "stderr") else result.output
    assert message.startswith("Error: ")
    assert message.count("\n") == 1, message
    for fragment in fragments:
        assert fragment in message, message
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("crop", "fragments"),
    [
        ({"name": "back", "box": [790, 40, 240, 600]}, ["crop 'back'", "box = [790, 40, 240, 600]", "sheet.png (1024x768)",
                                                        "left 790 + width 240 = 1030 > 1024", "box = [784, 40, 240, 600]"]),
        ({"name": "tall", "box": [0, 500, 100, 400]}, ["top 500 + height 400 = 900 > 768", "box = [0, 368, 100, 400]"]),
        ({"name": "huge", "box": [0, 0, 2000, 100]}, ["larger than the image", "1024x768"]),
        ({"name": "ghost", "source": "nope"}, ["crop 'ghost'", "source 'nope' is not in [sources]", "known: sheet"]),
        ({"name": "bad name!"}, ["crop 'bad name!'", "not a safe file name", "letters, digits"]),
        ({"name": "a_b_c_d_e"}, ["four or more '_'", "use '-' instead"]),
        ({"name": "con"}, ["reserved on Windows"]),
        ({"name": "x", "status": "maybe"}, ["status = 'maybe'", "approved, speculative, excluded"]),
        ({"name": "x", "flipp": True}, ["unknown key 'flipp'", "did you mean 'flip'?"]),
        ({"name": "x", "box": [0, 0, 10]}, ["box = [0, 0, 10] must be four whole numbers"]),
    ],
    ids=["out-of-bounds-x", "out-of-bounds-y", "larger-than-source", "unknown-source", "unsafe-name",
         "underscores", "windows-reserved", "bad-status", "typo-key", "short-box"],
)
def test_bad_crop_is_one_clear_error_and_nothing_is_written(tmp_path: Path, crop: dict, fragments: list[str]) -> None:
    spec = write_spec(tmp_path, [crop])
    result = _build(spec)
    _assert_one_line_error(result, str(spec), *fragments)
    assert not (tmp_path / "chara").exists()


def test_duplicate_names_are_caught_case_insensitively_and_against_flips(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, [{"name": "front", "flip": True}, {"name": "Front"}, {"name": "front-flip"}])
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    problems = caught.value.problems
    assert any("'Front' is already used by crop 'front'" in p for p in problems), problems
    assert any("'front-flip' is already used by crop 'front'" in p for p in problems), problems


def test_missing_and_unreadable_sources(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "notes.png").write_text("this is no image")
    spec = write_spec(tmp_path, [{"name": "a"}], sources={"sheet": "src/missing.png", "junk": "src/notes.png"},
                      create_sources=False)
    result = _build(spec)
    assert result.exit_code == 1
    assert "source 'sheet': file 'src/missing.png' not found" in result.output
    assert "source 'junk': 'src/notes.png' is not a readable image" in result.output
    assert "re-export it as PNG or JPEG" in result.output


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, [{"name": "a", "box": [900, 0, 200, 100]}, {"name": "a"}, {"name": "b", "source": "x"}],
                      dataset={"trigger": "", "repeats": 0})
    result = _build(spec)
    assert result.exit_code == 1
    assert "5 problems" in result.output
    for fragment in ("trigger is empty", "repeats = 0 must be at least 1", "crop 'a': box", "already used", "source 'x'"):
        assert fragment in result.output


def test_dataset_fields_are_checked(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, [{"name": "a"}], dataset={"resolution": 500, "background": "plaid", "subset_dir": "0_chara"})
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    text = "\n".join(caught.value.problems)
    assert "resolution = 500 must be a multiple of 64" in text
    assert "background = 'plaid' is no colour" in text
    assert "subset_dir = '0_chara' is a folder sd-scripts skips" in text


def test_windows_path_in_double_quotes_gets_a_hint(tmp_path: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text('[dataset]\nname = "a"\n[sources]\nsheet = "C:\\Users\\me\\sheet.png"\n', encoding="utf-8")
    result = _build(spec)
    _assert_one_line_error(result, "invalid TOML", "single quotes")


def test_missing_spec_file(tmp_path: Path) -> None:
    result = _build(tmp_path / "nope.toml")
    _assert_one_line_error(result, "nope.toml: file not found")


def test_valid_spec_loads_with_defaults(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, [{"name": "a", "flip": True}]))
    assert spec.resolution == 512
    assert spec.background == (255, 255, 255)
    assert spec.subset_dir == "10_chara girl"
    assert spec.reg.subset_dir == "1_girl"
    assert spec.crops[0].status == "approved"
    assert spec.train_subset_dir == tmp_path / "chara" / "train" / "10_chara girl"


def test_exif_rotated_source_is_measured_after_rotation(tmp_path: Path) -> None:
    img = Image.new("RGB", (400, 200), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90: the upright image is 200 wide, 400 tall
    (tmp_path / "src").mkdir()
    img.save(tmp_path / "src" / "photo.jpg", exif=exif)
    spec = write_spec(tmp_path, [{"name": "a", "box": [0, 0, 200, 400]}], sources={"sheet": "src/photo.jpg"})
    assert load_spec(spec).sources["sheet"].size == (200, 400)


def test_a_large_sheet_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    Image.new("1", (20000, 10000), 1).save(tmp_path / "src" / "huge.png")  # 200 MP: Pillow's default limit refuses it
    spec = write_spec(tmp_path, [{"name": "a", "box": [19000, 9000, 1000, 1000]}], sources={"sheet": "src/huge.png"})
    assert load_spec(spec).sources["sheet"].size == (20000, 10000)
