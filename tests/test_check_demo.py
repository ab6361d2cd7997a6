"""The demo dataset (dataset/demo.toml), built into tmp_path, checks clean: from its spec and its folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from kohya_prep.cli import cli

DATASET = Path(__file__).resolve().parent.parent / "dataset"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo built once, from a copy of its spec and sources (never into the repository)."""
    folder = tmp_path_factory.mktemp("demo")
    shutil.copy(DATASET / "demo.toml", folder / "demo.toml")
    shutil.copytree(DATASET / "sources", folder / "sources")
    result = CliRunner().invoke(cli, ["dataset", "build", str(folder / "demo.toml")])
    assert result.exit_code == 0, result.output
    return folder


@pytest.mark.parametrize("how", ["spec", "folder"], ids=["spec", "folder"])
def test_demo_checks_clean(demo: Path, how: str) -> None:
    target = [str(demo / "demo.toml")] if how == "spec" else [str(demo / "demo"), "--caption-extension", ".txt"]
    result = CliRunner().invoke(cli, ["dataset", "check", *target, "--json"])
    report = json.loads(result.output)
    assert result.exit_code == 0, result.output
    assert (report["errors"], report["warnings"]) == ([], []), result.output
    subsets = report["datasets"][0]["subsets"]
    assert [(s["images"], s["captioned"]) for s in subsets[:1]] == [(23, 23)]
    assert any(f["code"] == "trigger" and "'mirakp'" in f["message"] for f in report["findings"])
