"""Hostile input from the outside: names that would become paths outside the dataset, numbers that are no numbers,
and the messages that must say what is true. Each is one line, exit 1 (2 for usage), nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kohya_prep.cli import cli
from tests.helpers import assert_one_line_error, snapshot, write_spec


def _invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args))


def _spec_text(folder: Path, dataset: str = "", reg: str = "", crop: str = 'name = "a"',
               sources: str = 'sheet = "src/sheet.png"') -> Path:
    """A spec written as TOML text, with one line of a table replaced or added (`key = value` as written)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_spec(folder, [{"name": "a"}])  # the source image
    table = {"name": '"chara"', "trigger": '"chara"', "class": '"girl"'}
    if dataset:
        key, _, value = dataset.partition(" = ")
        table[key] = value
    lines = ["[dataset]", *(f"{k} = {v}" for k, v in table.items())]
    lines += ["[reg]", reg] if reg else []
    lines += ["[sources]", sources, "[[crops]]", crop, 'source = "sheet"', "box = [0, 0, 200, 300]"]
    spec = folder / "spec.toml"
    spec.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return spec


@pytest.mark.parametrize(
    ("table", "line", "fragments"),
    [
        ("dataset", "class = \"x/../../../../escape\"", ["class = 'x/../../../../escape'", "folder separator"]),
        ("dataset", "trigger = \"a/b\"", ["trigger = 'a/b'", "folder separator", "use '-' instead"]),
        ("dataset", "trigger = \"a\\\\b\"", ["folder separator"]),
        ("dataset", "trigger = \"mira\\u0000kp\"", ["NUL byte", "remove it"]),
        ("dataset", "class = \"girl\\u001b[31m\"", ["control character U+001B"]),
        ("dataset", "trigger = \"a:b\"", ["':'", "Windows does not allow"]),
        ("dataset", "class = \"girl.\"", ["ends with '.' or a space"]),
        ("dataset", "class = \"..\"", ["'..' means a folder itself"]),
        ("dataset", "subset_dir = \"10_../../x\"", ["subset_dir = '10_../../x' is not a folder name"]),
        ("dataset", "subset_dir = \"10_x\\u0001\"", ["control character U+0001"]),
        ("reg", "class = \"../../up\"", ["[reg]: class = '../../up'", "folder separator"]),
        ("reg", "subset_dir = \"1_girl/..\"", ["[reg]: subset_dir"]),
        ("dataset", "class = \"" + "x" * 200 + "\"", ["bytes long", "keep it to 120"]),
        ("crop", "name = \"../a\"", ["name '../a' is not a safe file name", "folder separator"]),
        ("crop", "name = \"nul.txt\"", ["reserved on Windows"]),
        ("sources", "\"../x\" = \"src/sheet.png\"", ["source '../x'", "folder separator"]),
    ],
    ids=["class-escape", "trigger-slash", "trigger-backslash", "trigger-nul", "class-escape-sequence", "trigger-colon",
         "class-trailing-dot", "class-dotdot", "subset-escape", "subset-control", "reg-class-escape",
         "reg-subset-escape", "class-too-long", "crop-escape", "crop-reserved", "source-id-escape"],
)
def test_every_name_that_becomes_a_path_is_one_component(tmp_path: Path, table: str, line: str,
                                                         fragments: list[str]) -> None:
    project = tmp_path / "deep" / "er" / "project"  # room above it for an escape to land in
    spec = {"dataset": lambda: _spec_text(project, dataset=line), "reg": lambda: _spec_text(project, reg=line),
            "crop": lambda: _spec_text(project, crop=line),
            "sources": lambda: _spec_text(project, sources=f'sheet = "src/sheet.png"\n{line}')}[table]()
    before = snapshot(tmp_path)
    assert_one_line_error(_invoke("dataset", "build", str(spec)), str(spec), *fragments)
    assert snapshot(tmp_path) == before


def test_a_nul_byte_in_a_source_path(tmp_path: Path) -> None:
    spec = _spec_text(tmp_path, sources='sheet = "src/sheet\\u0000.png"')
    assert_one_line_error(_invoke("dataset", "build", str(spec)), "source 'sheet'", "control character U+0000")


def test_class_of_the_wrong_type_is_one_problem_not_three(tmp_path: Path) -> None:
    spec = _spec_text(tmp_path, dataset="class = []")
    assert_one_line_error(_invoke("dataset", "build", str(spec)), "[dataset]: class = [] must be a string")


def test_a_spec_that_starts_with_a_bom_is_read(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, [{"name": "a"}])
    spec.write_bytes(b"\xef\xbb\xbf" + spec.read_bytes())
    result = _invoke("dataset", "build", str(spec))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "chara" / "train" / "10_chara girl" / "a.png").is_file()


# ---- numbers --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("line", "fragments"),
    [
        ("repeats = " + "9" * 5000, ["a number in it is too long to read", "4300 digits"]),
        ("repeats = " + "1" + "0" * 100, ["repeats = 1000", "(101 digits) is too large", "at most 10000"]),
        ("repeats = nan", ["repeats = nan must be a whole number"]),
        ("repeats = inf", ["repeats = inf must be a whole number"]),
        ("resolution = " + "5" * 300, ["(300 digits) is too large", "at most 4096"]),
        ("background = [255, 255, " + "9" * 400 + "]", ["is no colour"]),
    ],
    ids=["5000-digits", "googol-repeats", "nan-repeats", "inf-repeats", "huge-resolution", "huge-colour"],
)
def test_spec_numbers_are_numbers(tmp_path: Path, line: str, fragments: list[str]) -> None:
    spec = _spec_text(tmp_path, dataset=line)
    message = assert_one_line_error(_invoke("dataset", "build", str(spec)), *fragments)
    assert len(message) < 400


def test_a_box_of_absurd_numbers(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, [{"name": "a", "box": [0, 0, 10**30, 5]}])
    assert_one_line_error(_invoke("dataset", "build", str(spec)), "beyond 1,000,000 pixels")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["train-config", "S", "--family", "sd15", "--vram", "nan"], ["'--vram'", "'nan' is not a number"]),
        (["train-config", "S", "--family", "sd15", "--vram", "inf"], ["'--vram'", "inf is not in the range"]),
        (["train-config", "S", "--family", "sd15", "--vram", "1e400"], ["'--vram'", "not in the range"]),
        (["train-config", "S", "--family", "sd15", "--vram", "8", "--gpus", "9" * 5000], ["'--gpus'", "not a valid integer"]),
        (["train-config", "S", "--family", "sd15", "--vram", "8", "--gpus", "100000"], ["'--gpus'", "not in the range"]),
        (["doctor", "--gpu-timeout", "nan"], ["'--gpu-timeout'", "'nan' is not a number"]),
        (["doctor", "--venv-timeout", "-inf"], ["'--venv-timeout'", "not in the range"]),
        (["doctor", "--gpu-timeout", "1e308"], ["'--gpu-timeout'", "not in the range"]),
        (["dataset", "build", "S", "--jobs", "1000000"], ["'--jobs'", "not in the range"]),
        (["dataset", "check", "S", "--batch-size", "99999999999"], ["'--batch-size'", "not in the range"]),
        (["dataset", "check", "S", "--resolution", "nan"], ["'--resolution'", "'nan' is not a resolution"]),
    ],
    ids=["vram-nan", "vram-inf", "vram-overflow", "gpus-5000-digits", "gpus-huge", "gpu-timeout-nan",
         "venv-timeout-minus-inf", "gpu-timeout-huge", "jobs-huge", "batch-size-huge", "resolution-nan"],
)
def test_numeric_options_refuse_nan_infinity_and_absurd_magnitudes(tmp_path: Path, args: list[str],
                                                                   fragments: list[str]) -> None:
    spec = write_spec(tmp_path, [{"name": "a"}])
    before = snapshot(tmp_path)
    result = _invoke(*(str(spec) if a == "S" else a for a in args))
    assert_one_line_error(result, "Invalid value for", *fragments, code=2)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("setting", "fragments"),
    [
        ("network_dim=" + "9" * 5000, ["cannot read", "characters)"]),
        ("network_dim=" + "9" * 30, ["is too large", "at most 4,294,967,295"]),
        ("learning_rate=1" + "0" * 400, ["is too large"]),
        ("learning_rate=nan", ["learning_rate = nan must be a decimal number"]),
        ("learning_rate=inf", ["must be a decimal number"]),
        ("text_encoder_lr=[nan]", ["must be a list of decimal numbers"]),
        ("network_args=" + "[" * 5000, ["cannot read"]),
    ],
    ids=["5000-digits", "huge-int", "huge-int-for-float", "nan", "inf", "nan-in-list", "deep-nesting"],
)
def test_set_values_are_numbers(tmp_path: Path, setting: str, fragments: list[str]) -> None:
    spec = write_spec(tmp_path, [{"name": "a"}])
    assert _invoke("dataset", "build", str(spec)).exit_code == 0
    before = snapshot(tmp_path)
    result = _invoke("train-config", str(spec), "--family", "sd15", "--vram", "8", "--set", setting)
    message = assert_one_line_error(result, *fragments)
    assert len(message) < 400
    assert snapshot(tmp_path) == before


def test_a_huge_number_in_the_spec_train_table(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, [{"name": "a"}])
    assert _invoke("dataset", "build", str(spec)).exit_code == 0
    spec.write_text(spec.read_text() + "[train]\nmax_train_epochs = " + "9" * 1000 + "\n")
    result = _invoke("train-config", str(spec), "--family", "sd15", "--vram", "8")
    assert_one_line_error(result, "max_train_epochs", "is too large")


# ---- messages that say what is true ---------------------------------------------------------------------------

def test_train_config_after_a_build_that_left_every_crop_out(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, [{"name": "a", "status": "speculative"}, {"name": "b", "status": "excluded"}])
    build = _invoke("dataset", "build", str(spec))
    assert build.exit_code == 0 and "every crop is left out" in build.output
    message = assert_one_line_error(_invoke("train-config", str(spec), "--family", "sd15", "--vram", "8"),
                                    "the build left every crop out (1 speculative, 1 excluded)", "status = 'approved'",
                                    "--include-speculative")
    assert "not built yet" not in message


def test_train_config_before_any_build_says_so(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, [{"name": "a"}])
    assert_one_line_error(_invoke("train-config", str(spec), "--family", "sd15", "--vram", "8"), "not built yet",
                          "kohya-prep dataset build")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["dataset", "build", "DIR"], ["is a directory", "pass the spec file (.toml) itself", "spec.toml"]),
        (["train-config", "DIR", "--family", "sd15"], ["holds no dataset", "pass the spec file (.toml) itself", "spec.toml"]),
        (["train-config", "SPEC", "--family", "sd15", "--out", "SPEC"], ["is a file", "--out takes a folder"]),
        (["doctor", "--data-dir", "SPEC"], ["is a file", "pass the folder the dataset and training outputs go in"]),
    ],
    ids=["build-dir", "train-config-dir", "out-file", "data-dir-file"],
)
def test_is_a_directory_and_is_a_file_say_what_to_pass(tmp_path: Path, args: list[str], fragments: list[str]) -> None:
    spec = write_spec(tmp_path, [{"name": "a"}])
    result = _invoke(*(str(tmp_path) if a == "DIR" else str(spec) if a == "SPEC" else a for a in args))
    # train-config takes a folder (a train_data_dir): a folder of specs is a mistake it names, not a usage error
    assert_one_line_error(result, *fragments, code=1 if args[:2] == ["train-config", "DIR"] else 2)


def test_a_broken_sources_table_is_one_problem_not_one_per_crop(tmp_path: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text('sources = [1, 2]\n[dataset]\nname = "chara"\ntrigger = "chara"\nclass = "girl"\n'
                    '[[crops]]\nname = "a"\nsource = "sheet"\nbox = [0, 0, 10, 10]\n', encoding="utf-8")
    assert_one_line_error(_invoke("dataset", "build", str(spec)), "[sources] is missing or empty")


def test_an_unknown_key_with_a_newline_stays_on_one_line(tmp_path: Path) -> None:
    spec = _spec_text(tmp_path, dataset='"a\\nb" = 1')
    assert_one_line_error(_invoke("dataset", "build", str(spec)), "unknown key 'a\\nb'")
