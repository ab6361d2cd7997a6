"""A dataset laid out as `kohya-prep dataset build` writes it checks clean; the report's two forms agree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from check_data import built_dataset
from click.testing import CliRunner

from kohya_prep.cli import cli


def _check(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["dataset", "check", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize("reg", [0, 12], ids=["reg-empty", "reg-filled"])
def test_built_dataset_is_clean(tmp_path: Path, reg: int) -> None:
    root = built_dataset(tmp_path / "mychar", reg=reg)
    code, output = _check(str(root), "--caption-extension", ".txt", "--trigger", "ariachar", "--json")
    report = json.loads(output)
    assert code == 0, output
    assert (report["errors"], report["warnings"]) == (0, 0), output
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
