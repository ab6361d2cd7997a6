"""Property-based tests (Hypothesis) over the name rule and the spec validator, and over whole builds: whatever
text is in any string field, the answer is a clean error or a build whose every output lies inside the dataset.

`make test` runs a bounded number of examples (the "ci" profile in conftest.py); `make fuzz` runs many more.
"""

from __future__ import annotations

import ntpath
import os
import posixpath
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kohya_prep.cli import cli
from kohya_prep.errors import SpecError
from kohya_prep.spec import validate_spec
from kohya_prep.spec.fields import parse_background
from kohya_prep.spec.names import path_component_problem, path_part_problem, unsafe_name_reason
from tests.helpers import figure_image, snapshot, toml_string

# Any text TOML can hold (it has no lone surrogates), tilted towards the characters that break paths.
_NASTY = st.sampled_from(["/", "\\", "..", ".", "\0", "\n", ":", "*", "?", '"', "<", "|", " ", "\x7f", "\x1b",
                          "con", "NUL", "com1", "_", "-", "~", "$", "%", "\u202e", "\u200b", "é", "ß", "ミラ", "\U0001f600"])
TEXT = st.lists(st.one_of(_NASTY, st.text(st.characters(exclude_categories=("Cs",)), max_size=8)), max_size=6).map("".join)
WORDS = st.from_regex(r"[a-z][a-z0-9 .-]{0,8}", fullmatch=True)
VALUES: st.SearchStrategy[Any] = st.one_of(
    WORDS, st.integers(min_value=1, max_value=100), TEXT, st.integers(),
    st.integers(min_value=-(10**300), max_value=10**300), st.floats(), st.booleans(),
    st.lists(st.one_of(TEXT, st.integers(), st.floats()), max_size=4), st.dictionaries(TEXT, TEXT, max_size=2))


def _pillow_colour(text: str) -> tuple[int, int, int] | None:
    from PIL import ImageColor

    try:
        rgb = ImageColor.getrgb(text.strip())
    except ValueError:
        return None
    return (rgb[0], rgb[1], rgb[2])


@given(st.one_of(st.from_regex(r"\s?#{0,2}[0-9a-fA-FgG]{0,7}\s?", fullmatch=True),
                 st.sampled_from(["white", "WHITE", "Black", "red", "#abcd", "#", ""]), TEXT))
def test_background_reads_a_colour_as_pillow_does(text: str) -> None:
    """The fast path for '#rgb', '#rrggbb', 'white' and 'black' agrees with Pillow's colour parser on any text."""
    assert parse_background(text) == _pillow_colour(text)


def _windows_safe(name: str) -> bool:
    stem = name.split(".")[0].rstrip(" ").lower()
    return (not any(c in name for c in '<>:"|?*') and name[-1] not in ". "
            and stem not in {"con", "prn", "aux", "nul"} and not (stem[:3] in ("com", "lpt") and stem[3:].isdigit()))


@given(TEXT)
def test_a_name_the_rule_accepts_is_one_path_component_everywhere(name: str) -> None:
    problem = path_component_problem(name)
    if problem is not None:
        assert "\n" not in problem and problem.strip()
        return
    assert posixpath.dirname(posixpath.normpath(posixpath.join("/data/set", name))) == "/data/set"
    assert ntpath.dirname(ntpath.normpath(ntpath.join("C:\\data\\set", name))) == "C:\\data\\set"
    assert not any(unicodedata.category(c) in ("Cc", "Cs") for c in name)
    assert _windows_safe(name) and len(name.encode()) <= 255


@given(TEXT, TEXT)
def test_trigger_and_class_the_rule_accepts_make_a_safe_folder(trigger: str, class_tokens: str) -> None:
    if path_part_problem(trigger) or path_part_problem(class_tokens, ends_name=True) or not trigger or not class_tokens:
        return
    assert path_component_problem(f"10000_{trigger} {class_tokens}") is None
    assert path_component_problem(f"1_{class_tokens}") is None


@given(TEXT)
def test_a_safe_stem_is_a_safe_component(name: str) -> None:
    if unsafe_name_reason(name) is None:
        assert path_component_problem(name) is None and path_component_problem(name + "-flip.png") is None


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("project") / "deep" / "project"
    (folder / "src").mkdir(parents=True)
    figure_image((400, 300)).save(folder / "src" / "sheet.png")
    return folder


def _data(fields: dict[str, Any]) -> dict[str, Any]:
    dataset = {"name": "chara", "trigger": "chara", "class": "girl", **fields.get("dataset", {})}
    crop = {"name": "a", "source": "sheet", "box": [0, 0, 100, 100], **fields.get("crop", {})}
    data: dict[str, Any] = {"dataset": dataset, "sources": {"sheet": "src/sheet.png", **fields.get("sources", {})},
                            "crops": [crop]}
    if "reg" in fields:
        data["reg"] = fields["reg"]
    return data


FIELDS = st.fixed_dictionaries({}, optional={
    "dataset": st.fixed_dictionaries({}, optional={k: VALUES for k in ("name", "trigger", "class", "subset_dir", "png",
                                                                        "repeats", "resolution", "background")}),
    "reg": st.fixed_dictionaries({}, optional={k: VALUES for k in ("class", "subset_dir", "repeats")}),
    "crop": st.fixed_dictionaries({}, optional={k: VALUES for k in ("name", "caption", "status", "flip", "box")}),
    "sources": st.dictionaries(TEXT, st.just("src/sheet.png"), max_size=1),
})


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(FIELDS)
def test_the_validator_gives_a_clean_error_or_a_spec_that_stays_inside(project: Path, fields: dict[str, Any]) -> None:
    spec_path = project / "spec.toml"
    try:
        spec = validate_spec(spec_path, _data(fields))
        event("valid")
    except SpecError as err:
        assert err.problems and all(p.strip() and "\n" not in p and "\r" not in p for p in err.problems), err.problems
        return
    root = os.path.realpath(spec.root)
    assert os.path.dirname(root) == str(project)
    for folder in (spec.train_subset_dir, spec.reg_subset_dir):
        assert os.path.dirname(os.path.dirname(os.path.realpath(folder))) == root
    for crop in spec.crops:
        assert os.path.dirname(os.path.realpath(spec.train_subset_dir / f"{crop.name}-flip.png")) == os.path.realpath(
            spec.train_subset_dir)


def _spec_text(fields: dict[str, str]) -> str:
    dataset = {"name": "chara", "trigger": "chara", "class": "girl"}
    dataset.update({k[8:]: v for k, v in fields.items() if k.startswith("dataset.")})
    lines = ["[dataset]", *(f"{k} = {toml_string(v)}" for k, v in dataset.items())]
    if "reg.class" in fields:
        lines += ["[reg]", f"class = {toml_string(fields['reg.class'])}"]
    lines += ["[sources]", f"{toml_string(fields.get('source', 'sheet'))} = \"src/sheet.png\"", "[[crops]]",
              f"name = {toml_string(fields.get('crop.name', 'a'))}", f"source = {toml_string(fields.get('source', 'sheet'))}",
              "box = [0, 0, 100, 100]", f"caption = {toml_string(fields.get('crop.caption', 'standing'))}", "flip = true"]
    return "\n".join(lines) + "\n"


# Half plain words, so that many examples get as far as a build.
BUILD_TEXT = st.one_of(WORDS, TEXT)
BUILD_FIELDS = st.dictionaries(st.sampled_from(["dataset.name", "dataset.trigger", "dataset.class", "dataset.subset_dir",
                                                "reg.class", "crop.name", "crop.caption", "source"]), BUILD_TEXT,
                               min_size=1, max_size=4)


@settings(max_examples=max(10, settings.default.max_examples // 5), suppress_health_check=[HealthCheck.too_slow])
@given(BUILD_FIELDS)
def test_a_build_gives_a_clean_error_or_writes_only_inside_the_dataset(fields: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / "a" / "b" / "project"
        (project / "src").mkdir(parents=True)
        figure_image((400, 300)).save(project / "src" / "sheet.png")
        (project / "spec.toml").write_text(_spec_text(fields), encoding="utf-8")
        before = snapshot(Path(scratch))
        result = CliRunner().invoke(cli, ["dataset", "build", str(project / "spec.toml"), "--jobs", "1"])
        after = snapshot(Path(scratch))
        assert result.exit_code in (0, 1), (result.output, result.exception)
        assert "Traceback" not in result.output
        new = sorted(set(after) - set(before))
        event("built" if result.exit_code == 0 else "refused")
        if result.exit_code == 1:
            assert result.output.startswith("Error: ") and new == [], (result.output, new)
            return
        names = [p for p in os.listdir(project) if p not in ("spec.toml", "src")]
        assert len(names) == 1, names  # the dataset folder, and nothing beside it (no lock, no staging)
        assert all(rel.startswith(f"a/b/project/{names[0]}") for rel in new), new
        assert any(rel.endswith("-flip.png") for rel in new)
