"""A user's sd-scripts dataset config that sd-scripts refuses: one line naming the key, the value and sd-scripts' own
sentence, exit 1, no traceback, nothing changed (issue 10).

Each expected sentence is what sd-scripts printed for the same file (library/config_util.py: load_user_config and
ConfigSanitizer, voluptuous 0.15.2, as train_network.py builds them): the last line of its traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kohya_prep.cli import cli
from tests.helpers import tree_state

SUBSET = "[[datasets.subsets]]\nimage_dir = '/data/imgs'\n"

CASES = {
    "num_repeats-str": (
        f"[[datasets]]\nresolution = 512\n{SUBSET}num_repeats = 'x'\n",
        "datasets[0].subsets[0].num_repeats = 'x': sd-scripts stops with \"expected int for dictionary value @ "
        "data['datasets'][0]['subsets'][0]['num_repeats']\"; make num_repeats a whole number without quotes, "
        "e.g. num_repeats = 10"),
    "resolution-one-item": (
        f"[[datasets]]\nresolution = [512]\n{SUBSET}",
        "datasets[0].resolution = [512]: sd-scripts stops with \"expected int for dictionary value @ "
        "data['datasets'][0]['resolution']\"; write resolution = 512 or resolution = [768, 512] (whole numbers, no quotes)"),
    "datasets-int": (
        "datasets = 5\n",
        "datasets = 5: sd-scripts stops with \"expected a list for dictionary value @ data['datasets']\"; write each "
        "dataset as a [[datasets]] table, with its folders as [[datasets.subsets]] tables"),
    "general-str": (
        f"general = 'x'\n[[datasets]]\nresolution = 512\n{SUBSET}",
        "general = 'x': sd-scripts stops with \"expected a dictionary for dictionary value @ data['general']\"; write "
        "[general] as a table: a [general] line followed by key = value lines"),
    "datasets-list-of-int": (
        "datasets = [5]\n",
        "datasets[0] = 5: sd-scripts crashes with \"AttributeError: 'int' object has no attribute 'get'\"; each "
        "[[datasets]] entry must be a table, and its subsets a list of [[datasets.subsets]] tables"),
    "subsets-list-of-int": (
        "[[datasets]]\nresolution = 512\nsubsets = [5]\n",
        "datasets[0].subsets[0] = 5: sd-scripts crashes with \"TypeError: argument of type 'int' is not iterable\"; "
        "each [[datasets]] entry must be a table, and its subsets a list of [[datasets.subsets]] tables"),
    "validation_split-int": (
        f"[general]\nvalidation_split = 0\n[[datasets]]\nresolution = 512\n{SUBSET}",
        "general.validation_split = 0: sd-scripts stops with \"expected float for dictionary value @ "
        "data['general']['validation_split']\"; make validation_split a number with a decimal point, e.g. "
        "validation_split = 0.0 (sd-scripts' schema refuses a whole number here)"),
    "enable_bucket-str": (
        f"[general]\nenable_bucket = 'yes'\n[[datasets]]\nresolution = 512\n{SUBSET}",
        "general.enable_bucket = 'yes': sd-scripts stops with \"expected bool for dictionary value @ "
        "data['general']['enable_bucket']\"; make enable_bucket true or false, without quotes"),
    "typo-key": (
        f"[[datasets]]\nresolution = 512\n{SUBSET}num_repeat = 2\n",
        "datasets[0].subsets[0].num_repeat = 2: sd-scripts stops with \"extra keys not allowed @ "
        "data['datasets'][0]['subsets'][0]['num_repeat']\"; did you mean 'num_repeats'? (sd-scripts allows no other "
        "key here)"),
    "is_reg-in-dataset": (
        f"[[datasets]]\nresolution = 512\nis_reg = true\n{SUBSET}",
        "datasets[0].is_reg = true: sd-scripts stops with \"extra keys not allowed @ data['datasets'][0]['is_reg']\"; "
        "move 'is_reg' to the subset level, where sd-scripts reads it"),
    "no-image_dir": (
        "[[datasets]]\nresolution = 512\n[[datasets.subsets]]\nnum_repeats = 2\n",
        "datasets[0].subsets[0].image_dir: sd-scripts stops with \"required key not provided @ "
        "data['datasets'][0]['subsets'][0]['image_dir']\"; add image_dir = '/absolute/path/to/the/images' to this subset"),
    "extra-top-table": (
        f"[model]\nx = 1\n[[datasets]]\nresolution = 512\n{SUBSET}",
        "model = { x = 1 }: sd-scripts stops with \"extra keys not allowed @ data['model']\"; keep only [general] and "
        "[[datasets]] in the dataset config; training options go in --config_file"),
}


def _run(tmp_path: Path, name: str, data: bytes, *extra: str) -> tuple[int, str, str]:
    config = tmp_path / name
    config.write_bytes(data)
    before = tree_state(tmp_path)
    result = CliRunner().invoke(cli, ["dataset", "check", "--dataset-config", str(config), *extra])
    assert tree_state(tmp_path) == before
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(("body", "message"), list(CASES.values()), ids=list(CASES))
def test_wrong_types_get_sd_scripts_own_sentence(tmp_path: Path, body: str, message: str) -> None:
    code, out, err = _run(tmp_path, "dataset.toml", body.encode())
    assert (code, out) == (1, "")
    assert err == f"Error: {tmp_path / 'dataset.toml'}: {message}\n"


def test_every_problem_in_json_the_first_as_sd_scripts_prints_it(tmp_path: Path) -> None:
    import json

    body = f"[[datasets]]\nresolution = 512\nbatch_size = 'a'\n{SUBSET}num_repeats = 'x'\n"
    code, out, err = _run(tmp_path, "dataset.toml", body.encode(), "--json")
    document = json.loads(out)
    assert (code, err) == (1, "")
    assert [e["message"].split(": sd-scripts")[0] for e in document["errors"]] == [
        "datasets[0].batch_size = 'a'", "datasets[0].subsets[0].num_repeats = 'x'"]
    assert {e["code"] for e in document["errors"]} == {"check"}
    assert document["errors"][0]["fix"] == "make batch_size a whole number without quotes, e.g. batch_size = 10"


@pytest.mark.parametrize(
    ("name", "data", "fragment"),
    [
        ("dataset.toml", b"\xef\xbb\xbf[general]\nresolution = 512\n",
         "it starts with a UTF-8 byte-order mark (BOM), which the parser sd-scripts uses does not skip: it stops with "
         "'Found invalid character in key name: '['. Try quoting the key name. (line 1 column 2 char 1)'; sd-scripts "
         "stops on it before training: re-save it as UTF-8 without a BOM."),
        ("dataset.toml", b"[[datasets]\nresolution = 512\n",
         "it is not valid TOML (Key group not on a line by itself. (line 1 column 1 char 0)); sd-scripts stops on it "
         "before training: fix the syntax there and check again."),
        ("dataset.toml", b"[general]\nclass_tokens = '\xe9'\n",
         "it is not UTF-8 (byte 0xe9 at offset 26), and sd-scripts reads it as UTF-8; sd-scripts stops on it before "
         "training: re-save it as UTF-8."),
        ("dataset.yaml", b"datasets: []\n",
         "sd-scripts reads a dataset config only from a .toml or .json file; it stops on 'dataset.yaml' with 'not "
         "supported config file format'; sd-scripts stops on it before training: rename it to end in .toml."),
    ],
    ids=["bom", "bad-toml", "not-utf8", "yaml"],
)
def test_files_sd_scripts_cannot_parse(tmp_path: Path, name: str, data: bytes, fragment: str) -> None:
    code, out, err = _run(tmp_path, name, data)
    assert (code, out) == (1, "")
    assert err == f"Error: {tmp_path / name}: {fragment}\n"


def test_a_json_dataset_config_is_read_like_sd_scripts(tmp_path: Path) -> None:
    code, _out, err = _run(tmp_path, "dataset.json", b'{"datasets": [{"resolution": 512, "subsets": '
                           b'[{"image_dir": "/data/imgs", "num_repeats": "x"}]}]}')
    assert code == 1
    assert "expected int for dictionary value @ data['datasets'][0]['subsets'][0]['num_repeats']" in err
