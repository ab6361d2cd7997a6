"""A dataset laid out as `kohya-prep dataset build` writes it checks clean; the report's two forms agree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kohya_prep.cli import cli
from tests.check_data import built_dataset
from tests.helpers import figure_image, write_spec


def _check(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["dataset", "check", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize("reg", [0, 12], ids=["reg-empty", "reg-filled"])
def test_built_dataset_is_clean(tmp_path: Path, reg: int) -> None:
    root = built_dataset(tmp_path / "mychar", reg=reg)
    code, output = _check(str(root), "--caption-extension", ".txt", "--trigger", "ariachar", "--json")
    report = json.loads(output)
    assert code == 0, output
    assert (report["errors"], report["warnings"]) == ([], []), output
    assert report["exit_code"] == 0


def test_built_dataset_text_report(tmp_path: Path) -> None:
    root = built_dataset(tmp_path / "mychar", reg=6)
    code, output = _check(str(root / "train"), "--caption-extension", "txt", "--resolution", "512", "--batch-size", "4")
    assert code == 0, output
    assert "10 repeat(s), class tokens 'ariachar girl', 6 image(s), 6 with a .txt caption" in output
    # 6 images x 10 repeats = 60 samples, one bucket: ceil(60 / 4) = 15 steps.
    assert "epoch: 60 samples, 15 batches of up to 4, 15 steps" in output
    assert output.endswith("Result: 0 error(s), 0 warning(s): clean\n")


def test_dataset_root_checks_train_and_reg(tmp_path: Path) -> None:
    root = built_dataset(tmp_path / "mychar", reg=20)
    code, output = _check(str(root), "--caption-extension", ".txt", "--json")
    report = json.loads(output)
    assert code == 0
    plan = report["datasets"][0]
    assert [s["is_reg"] for s in plan["subsets"]] == [False, True]
    # 60 training samples, 20 reg images: 20 extra repeats round-robin -> 60 reg samples, 120 per epoch.
    assert (plan["num_train_images"], plan["reg_samples"], plan["samples_per_epoch"]) == (60, 60, 120)
    assert any(f["code"] == "dataset-root" for f in report["findings"])


def test_no_path_is_a_usage_error() -> None:
    code, output = _check()
    assert code == 2
    assert "give PATH" in output


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["dataset", "check", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert f"Error: {tmp_path / 'nope'} does not exist" in result.output


def _build_spec(tmp_path: Path, reg: dict | None = None) -> Path:
    spec = write_spec(tmp_path, [
        {"name": "tall", "box": [50, 40, 300, 700], "flip": True, "caption": "full body, left hand up"},
        {"name": "wide", "box": [500, 50, 450, 250], "caption": "blue box"},
        {"name": "head", "box": [100, 100, 200, 200], "caption": "portrait"},
    ], reg=reg)
    result = CliRunner().invoke(cli, ["dataset", "build", str(spec)])
    assert result.exit_code == 0, result.output
    return spec


def test_dataset_built_by_kohya_prep_checks_clean_from_its_spec(tmp_path: Path) -> None:
    spec = _build_spec(tmp_path)
    code, output = _check(str(spec), "--json")
    report = json.loads(output)
    assert code == 0, output
    assert (report["errors"], report["warnings"]) == ([], []), output
    assert report["datasets"][0]["subsets"][0]["images"] == 4
    assert "trigger word 'chara' (given)" in output


def test_dataset_built_with_reg_checks_clean_from_its_folder(tmp_path: Path) -> None:
    reg = tmp_path / "my reg"
    reg.mkdir()
    for i in range(3):
        figure_image((300 + 100 * i, 600)).save(reg / f"girl_{i:03d}.jpg")
    spec = _build_spec(tmp_path, reg={"class": "girl", "repeats": 1, "dir": "my reg"})
    code, output = _check(str(tmp_path / "chara"), "--caption-extension", ".txt", "--json")
    report = json.loads(output)
    assert code == 0, output
    assert (report["errors"], report["warnings"]) == ([], []), output
    assert spec.exists()


def test_spec_not_built_yet(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, [{"name": "a"}])
    result = CliRunner().invoke(cli, ["dataset", "check", str(spec)])
    assert result.exit_code == 1
    train = tmp_path / "chara" / "train"
    assert result.output == f"Error: {train} does not exist yet; run `kohya-prep dataset build {spec}` first.\n"
