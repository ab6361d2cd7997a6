"""One trigger-word rule (kohya_prep/tags.py) for the build, `dataset check` and train-config: `mirakp` is not in
`mirakp-v2, standing`, `mirakp-v2` is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kohya_prep.build.caption_text import normalize_caption
from kohya_prep.cli import cli
from kohya_prep.tags import has_trigger, infer_trigger, split_tags
from tests.helpers import write_spec


@pytest.mark.parametrize(
    ("caption", "trigger", "present"),
    [
        ("mirakp-v2, standing", "mirakp", False),
        ("mirakp-v2, standing", "mirakp-v2", True),
        ("mirakp girl, standing", "mirakp", True),
        ("standing, MiraKP", "mirakp", True),
        ("mirakp_alt, standing", "mirakp", False),
        ("xmirakp, standing", "mirakp", False),
        ("(mirakp:1.2), standing", "mirakp", True),
    ],
)
def test_has_trigger(caption: str, trigger: str, present: bool) -> None:
    assert has_trigger(caption, trigger) is present


def test_tags_and_inferred_trigger() -> None:
    assert split_tags(" mirakp-v2 ,  full   body,, ") == ["mirakp-v2", "full body"]
    assert infer_trigger(["Mirakp-v2, a", "mirakp-v2, b", "other, c"]) == "mirakp-v2"
    assert infer_trigger(["a, x", "b, y"]) is None


def test_the_build_keeps_another_name_that_starts_like_the_trigger() -> None:
    assert normalize_caption("mirakp-v2, standing, mirakp", "mirakp") == "mirakp, mirakp-v2, standing"


def _json(*args: str) -> dict:
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize(("trigger", "lacking"), [("mirakp", 1), ("mirakp-v2", 0)])
def test_check_and_train_config_agree(tmp_path: Path, trigger: str, lacking: int) -> None:
    spec = write_spec(tmp_path, [{"name": "a", "box": [0, 0, 400, 400]}, {"name": "b", "box": [400, 0, 400, 400]}],
                      dataset={"trigger": trigger})
    _json("dataset", "build", str(spec))
    subset = next((tmp_path / "chara" / "train").iterdir())
    (subset / "a.txt").write_text("mirakp-v2, standing\n", encoding="utf-8")  # as a tag editor would leave it
    check = _json("dataset", "check", str(spec), "--no-duplicates")
    config = _json("train-config", str(spec), "--family", "sd15", "--vram", "8")
    check_found = [w["message"] for w in check["warnings"] if w["code"] == "trigger-missing"]
    config_found = [w["message"] for w in config["warnings"] if w["code"] == "trigger-missing"]
    assert len(check_found) == len(config_found) == (1 if lacking else 0)
    if lacking:
        assert check_found[0].startswith(f"{lacking} of 2 training image(s)")
        assert config_found[0].startswith(f"{lacking} of 2 captions lack the trigger 'mirakp'")
