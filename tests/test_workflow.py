"""The whole path on the demo: build, check, train-config, edit the spec, rebuild, check again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import toml
from click.testing import CliRunner

from kohya_prep.cli import cli

DATASET = Path(__file__).resolve().parent.parent / "dataset"


def _run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_demo_from_spec_to_training_configs_and_back(tmp_path: Path) -> None:
    shutil.copy(DATASET / "demo.toml", tmp_path / "demo.toml")
    shutil.copytree(DATASET / "sources", tmp_path / "sources")
    spec = str(tmp_path / "demo.toml")

    _run("dataset", "build", spec)
    check = json.loads(_run("dataset", "check", spec, "--json"))
    assert not [f for f in check["findings"] if f["severity"] in ("error", "warning")], check["findings"]

    _run("train-config", spec, "--family", "sd15", "--vram", "8")
    config = tmp_path / "demo" / "config"
    dataset_config = toml.load(config / "dataset_config.toml")
    subset = dataset_config["datasets"][0]["subsets"][0]
    assert subset["image_dir"] == str(tmp_path / "demo" / "train" / "10_mirakp girl")
    before = {p.name: p.read_bytes() for p in config.iterdir()}

    # Nudge a box and a caption: only those outputs change, the configs stay, the dataset stays clean.
    text = (tmp_path / "demo.toml").read_text(encoding="utf-8")
    text = text.replace("box = [18, 112, 500, 1280]", "box = [20, 112, 500, 1280]", 1)
    (tmp_path / "demo.toml").write_text(text, encoding="utf-8")
    rebuilt = json.loads(_run("dataset", "build", spec, "--json"))
    assert rebuilt["rendered"] == ["train/10_mirakp girl/sheet-front.png"]
    assert {p.name: p.read_bytes() for p in config.iterdir()} == before
    check = json.loads(_run("dataset", "check", spec, "--json"))
    assert not [f for f in check["findings"] if f["severity"] in ("error", "warning")], check["findings"]
