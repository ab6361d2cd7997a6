"""train-config on any dataset: a kohya folder made by hand, an sd-scripts dataset TOML, a built folder, and a
dataset `dataset check` finds an error in (refused with check's own message)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from PIL import Image

from kohya_prep.cli import cli
from tests.test_train_config_cli import flat, invoke, load_both, make_spec, sd_scripts_dataset_schema


def kohya_folder(root: Path, images: int = 6, reg: int = 4, extension: str = ".txt") -> Path:
    """mychar/img/10_mychar girl with captions and mychar/reg/1_girl, as a kohya_ss user lays them out."""
    train = root / "mychar" / "img" / "10_mychar girl"
    train.mkdir(parents=True)
    for i in range(images):
        Image.new("RGB", (512, 768) if i % 2 else (512, 512), (i * 30, 50, 50)).save(train / f"pic{i}.png")
        (train / f"pic{i}{extension}").write_text(f"mychar, 1girl, {'full body' if i % 2 else 'portrait'}",
                                                  encoding="utf-8")
    reg_dir = root / "mychar" / "reg" / "1_girl"
    reg_dir.mkdir(parents=True)
    for i in range(reg):
        Image.new("RGB", (512, 512), (50, i * 30, 50)).save(reg_dir / f"r{i}.png")
    return root / "mychar"


def as_json(*args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, [*args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_a_kohya_folder_with_its_reg_dir(tmp_path: Path) -> None:
    root = kohya_folder(tmp_path)
    result = invoke(str(root / "img"), "--reg-dir", str(root / "reg"), "--family", "sd15", "--vram", "8")
    assert result.exit_code == 0, result.output
    config = root / "config"  # beside img/ and reg/, as the kohya_ss GUI lays a project out
    dataset = load_both(config / "dataset_config.toml")
    sd_scripts_dataset_schema()(dataset)
    subsets = dataset["datasets"][0]["subsets"]
    assert [(Path(s["image_dir"]).name, s["num_repeats"], s.get("is_reg", False)) for s in subsets] == [
        ("10_mychar girl", 10, False), ("1_girl", 1, True)]
    assert dataset["general"]["caption_extension"] == ".txt"
    assert dataset["datasets"][0]["resolution"] == 512  # SD 1.5's own: a folder holds no resolution
    args = flat(load_both(config / "training.toml"))
    assert args["output_name"] == "mychar" and args["output_dir"] == str(root / "output")
    # 6 images x 10 + 4 reg balanced up to 60: batch 1 -> 120 steps per epoch.
    assert "Steps: 60 train samples + 60 reg, batch 1" in result.output


def test_a_folder_with_caption_files_keeps_their_extension(tmp_path: Path) -> None:
    root = kohya_folder(tmp_path, reg=0, extension=".caption")
    result = invoke(str(root / "img"), "--family", "sdxl", "--vram", "24", "--resolution", "768")
    assert result.exit_code == 0, result.output
    dataset = load_both(root / "config" / "dataset_config.toml")
    assert dataset["general"]["caption_extension"] == ".caption"
    assert dataset["datasets"][0]["resolution"] == 768


def test_an_sd_scripts_dataset_config_is_passed_as_it_is(tmp_path: Path) -> None:
    root = kohya_folder(tmp_path)
    toml_path = tmp_path / "my_dataset.toml"
    toml_path.write_text(f"""[general]
caption_extension = ".txt"

[[datasets]]
resolution = 512
batch_size = 3

  [[datasets.subsets]]
  image_dir = '{root / "img" / "10_mychar girl"}'
  num_repeats = 4
""", encoding="utf-8")
    before = toml_path.read_bytes()
    code, report = as_json("train-config", str(toml_path), "--family", "sd15", "--vram", "8")
    assert code == 0, report
    config = tmp_path / "config"
    assert not (config / "dataset_config.toml").exists() and toml_path.read_bytes() == before
    args = flat(load_both(config / "training.toml"))
    assert args["dataset_config"] == str(toml_path)
    assert f"--dataset_config '{toml_path}'" in (config / "train.sh").read_text(encoding="utf-8")
    # The config's batch_size 3 wins over the 8 GB fit's 1: 6 x 4 = 24 samples, 3 per batch per bucket.
    assert report["steps"]["train_samples"] == 24 and report["steps"]["batch_size"] == 3
    assert any("sets batch_size = 3: it wins over the fit's train_batch_size = 1" in w["message"]
               for w in report["warnings"])
    assert report["steps"]["images_per_step"] == 3  # the learning rates follow the batch that trains


def test_a_dataset_config_option_on_the_command_line_is_refused(tmp_path: Path) -> None:
    root = kohya_folder(tmp_path)
    toml_path = tmp_path / "ds.toml"
    image_dir = root / "img" / "10_mychar girl"
    toml_path.write_text(f"[[datasets]]\nresolution = 512\n[[datasets.subsets]]\nimage_dir = '{image_dir}'\n"
                         "caption_extension = '.txt'\n", encoding="utf-8")
    result = invoke(str(toml_path), "--family", "sd15", "--vram", "8", "--set", "flip_aug=true")
    assert result.exit_code == 1
    assert "flip_aug belong in the dataset config, and yours" in result.output


def test_a_relative_image_dir_is_refused(tmp_path: Path) -> None:
    kohya_folder(tmp_path)
    toml_path = tmp_path / "ds.toml"
    toml_path.write_text("[[datasets]]\nresolution = 512\n[[datasets.subsets]]\nimage_dir = 'mychar/img/10_mychar girl'\n"
                         "caption_extension = '.txt'\n", encoding="utf-8")
    result = invoke(str(toml_path), "--family", "sd15", "--vram", "8")
    assert result.exit_code == 1
    assert "[relative-image-dir]" in result.output and "write the absolute path" in result.output


def test_a_built_folder(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    result = invoke(str(tmp_path / "aria"), "--family", "sd15", "--vram", "8")
    assert result.exit_code == 0, result.output
    by_spec = invoke(str(spec), "--family", "sd15", "--vram", "8", "--out", str(tmp_path / "by-spec"))
    # The built folder leads back to its spec: the same trigger, [train] and steps as the spec itself.
    assert load_both(tmp_path / "aria" / "config" / "dataset_config.toml") == load_both(
        tmp_path / "by-spec" / "dataset_config.toml")
    assert result.output.split("Steps:")[1].splitlines()[0] == by_spec.output.split("Steps:")[1].splitlines()[0]


@pytest.mark.parametrize("given", ["folder", "json"], ids=["text", "json"])
def test_what_check_calls_an_error_stops_train_config_with_checks_message(tmp_path: Path, given: str) -> None:
    root = kohya_folder(tmp_path, reg=0)
    (root / "img" / "10_mychar girl" / "pic0.txt").write_bytes(b"")  # sd-scripts stops: 'caption file is empty'
    check_code, check = as_json("dataset", "check", str(root / "img"), "--caption-extension", ".txt", "--no-duplicates")
    assert check_code == 1
    if given == "json":
        code, report = as_json("train-config", str(root / "img"), "--family", "sd15", "--vram", "8")
        assert code == 1 and report["errors"] == check["errors"]
    else:
        result = invoke(str(root / "img"), "--family", "sd15", "--vram", "8")
        assert result.exit_code == 1
        assert all(e["message"] in result.output and e["fix"] in result.output for e in check["errors"])
    assert not (root / "config").exists()


def test_an_image_folder_given_instead_of_its_parent(tmp_path: Path) -> None:
    root = kohya_folder(tmp_path, reg=0)
    result = invoke(str(root / "img" / "10_mychar girl"), "--family", "sd15", "--vram", "8")
    assert result.exit_code == 1
    assert "[subset-folder-given]" in result.output and "set train_data_dir to" in result.output


def test_a_missing_dataset(tmp_path: Path) -> None:
    result = invoke(str(tmp_path / "nope"), "--family", "sd15", "--vram", "8")
    assert result.exit_code == 1
    assert result.output == (f"Error: {tmp_path / 'nope'} does not exist; give a dataset spec (.toml), a built dataset "
                             "folder, a kohya train_data_dir or an sd-scripts dataset config.\n")
