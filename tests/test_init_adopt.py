"""`kohya-prep dataset adopt`: captions edited in the built dataset go back into the spec, its comments intact,
and the next build writes exactly those captions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from kohya_prep.cli import cli
from kohya_prep.spec import load_spec
from tests.helpers import figure_image

SPEC = """# my dataset: hand-written, with comments that must survive
[dataset]
name = "out"        # where it builds
trigger = "chara"
class = "girl"
tags = ["solo"]     # every crop

[sources]
sheet = "src/sheet.png"   # the art
raw = "raw/"              # a folder of pictures

# --- crops ---
[[crops]]
name = "front"
source = "sheet"
box = [0, 0, 400, 600]
caption = "full body, smile"   # edit me in taggui
status = "approved"

[[crops]]
name = "side"
source = "sheet"
box = [400, 0, 400, 600]
caption = ["full body", "side view"]
flip = true

[[crops]]
name = "back"   # untouched
source = "sheet"
box = [500, 100, 300, 600]
caption = "from behind"
"""


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["dataset", *args])


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "src").mkdir()
    figure_image().save(tmp_path / "src" / "sheet.png")
    (tmp_path / "raw").mkdir()
    figure_image((300, 400)).save(tmp_path / "raw" / "pic.png")
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC, encoding="utf-8")
    result = _run("build", str(spec))
    assert result.exit_code == 0, result.output
    return spec, tmp_path / "out" / "train" / "10_chara girl"


def _build_json(spec: Path) -> dict[str, Any]:
    result = _run("build", str(spec), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _comments(text: str) -> list[str]:
    return [line[line.index("#"):] for line in text.splitlines() if "#" in line]


def test_adopt_round_trips_two_edited_captions(tmp_path: Path) -> None:
    spec, subset = _setup(tmp_path)
    (subset / "front.txt").write_text("chara, solo, full body, smile, red scarf\n", encoding="utf-8")
    (subset / "back.txt").write_bytes(b"chara,  from behind,twin tails")  # a tag editor: no newline, odd spaces
    stopped = _run("build", str(spec))
    assert stopped.exit_code == 1 and "changed after kohya-prep wrote them" in stopped.stderr
    result = _run("adopt", str(spec))
    assert result.exit_code == 0, result.output
    assert "Took 2 edited caption(s) back" in result.output
    text = spec.read_text(encoding="utf-8")
    assert _comments(text) == _comments(SPEC)
    assert 'caption = "full body, smile, red scarf"   # edit me in taggui' in text
    assert 'caption = "from behind, twin tails"' in text
    assert text.replace("full body, smile, red scarf", "full body, smile").replace(
        "from behind, twin tails", "from behind") == SPEC  # nothing else changed
    built = _build_json(spec)
    assert built["rendered"] == []
    assert built["captions_written"] == ["train/10_chara girl/back.txt", "train/10_chara girl/front.txt"]
    assert (subset / "back.txt").read_text(encoding="utf-8") == "chara, solo, from behind, twin tails\n"
    assert _build_json(spec)["up_to_date"] is True


def test_a_folder_image_gets_its_own_table(tmp_path: Path) -> None:
    spec, subset = _setup(tmp_path)
    (subset / "pic.txt").write_text("chara, solo, sitting\n", encoding="utf-8")
    assert _run("adopt", str(spec)).exit_code == 0
    crop = next(c for c in load_spec(spec).crops if c.name == "pic")
    assert (crop.source, crop.implicit, crop.caption) == ("raw/pic.png", False, "solo, sitting")
    assert _build_json(spec)["captions_written"] == ["train/10_chara girl/pic.txt"]


def test_a_mirror_edited_alone_is_swapped_back_and_rewrites_the_original(tmp_path: Path) -> None:
    spec, subset = _setup(tmp_path)
    (subset / "side-flip.txt").write_text("chara, solo, full body, side view, facing right\n", encoding="utf-8")
    assert _run("adopt", str(spec)).exit_code == 0
    assert next(c for c in load_spec(spec).crops if c.name == "side").caption == "solo, full body, side view, facing left"
    written = _build_json(spec)["captions_written"]
    assert written == ["train/10_chara girl/side-flip.txt", "train/10_chara girl/side.txt"]


def test_mirror_and_original_edited_differently_is_a_warning_and_changes_nothing(tmp_path: Path) -> None:
    spec, subset = _setup(tmp_path)
    (subset / "side.txt").write_text("chara, a\n", encoding="utf-8")
    (subset / "side-flip.txt").write_text("chara, b\n", encoding="utf-8")
    result = _run("adopt", str(spec), "--json")
    document = json.loads(result.stdout)
    assert result.exit_code == 0 and document["adopted"] == []
    assert [w["code"] for w in document["warnings"]] == ["adopt-conflict"]
    assert spec.read_text(encoding="utf-8") == SPEC


def test_dropping_a_shared_tag_is_named(tmp_path: Path) -> None:
    spec, subset = _setup(tmp_path)
    (subset / "front.txt").write_text("chara, full body, smile, hat\n", encoding="utf-8")
    result = _run("adopt", str(spec))
    assert result.exit_code == 0 and "drops 'solo', which every crop shares through `tags`" in result.output


def test_dry_run_nothing_edited_and_no_build(tmp_path: Path) -> None:
    spec, subset = _setup(tmp_path)
    result = _run("adopt", str(spec))
    assert result.exit_code == 0 and result.output.startswith("Nothing to adopt")
    (subset / "front.txt").write_text("chara, new\n", encoding="utf-8")
    result = _run("adopt", str(spec), "--dry-run")
    assert result.exit_code == 0 and "Would take 1 edited caption(s)" in result.output
    assert spec.read_text(encoding="utf-8") == SPEC
    other = tmp_path / "other.toml"
    other.write_text(SPEC.replace('name = "out"', 'name = "never"'), encoding="utf-8")
    result = _run("adopt", str(other))
    assert result.exit_code == 1 and result.stderr.count("\n") == 1 and "no build of 'never'" in result.stderr
