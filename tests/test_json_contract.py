"""One output contract: every command's --json starts with command, ok, exit_code, errors, warnings, then its own
fields; errors and usage mistakes in --json mode are the same envelope on stdout, with nothing on stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kohya_prep.cli import cli
from tests.doctor_fakes import isolated_bin
from tests.helpers import figure_image, write_spec

SHARED = ["command", "ok", "exit_code", "errors", "warnings"]
NOTICE_KEYS = {"code", "message", "path", "fix"}


def _run(*args: str) -> tuple[int, dict[str, Any], str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, json.loads(result.stdout), result.stderr


def _assert_envelope(document: dict[str, Any], command: str, exit_code: int) -> None:
    assert list(document)[: len(SHARED)] == SHARED
    assert (document["command"], document["exit_code"], document["ok"]) == (command, exit_code, exit_code == 0)
    for notice in document["errors"] + document["warnings"]:
        assert set(notice) == NOTICE_KEYS and all(isinstance(v, str) for v in notice.values()), notice
        assert notice["code"] and notice["message"]


def _built(tmp_path: Path) -> Path:
    spec = write_spec(tmp_path, [{"name": "tall", "box": [50, 40, 300, 700], "flip": True},
                                 {"name": "face", "box": [0, 0, 200, 200], "caption": "face, eyepatch", "flip": True}])
    code, _document, _err = _run("dataset", "build", str(spec), "--json")
    assert code == 0
    return spec


def test_dataset_build(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, [{"name": "face", "box": [0, 0, 200, 200], "caption": "eyepatch", "flip": True}])
    code, document, err = _run("dataset", "build", str(spec), "--json")
    _assert_envelope(document, "dataset build", 0)
    assert code == 0 and err == ""
    assert [w["code"] for w in document["warnings"]] == ["flip-one-sided", "upscaled"]
    assert document["crops"][0]["box"] == [0, 0, 200, 200]  # lists are lists, not "0,0,200,200"
    assert document["rendered"] == ["train/10_chara girl/face-flip.png", "train/10_chara girl/face.png"]


def test_dataset_build_preview(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, [{"name": "face", "box": [0, 0, 400, 400], "status": "speculative"}])
    code, document, _err = _run("dataset", "build", str(spec), "--preview", "--json")
    _assert_envelope(document, "dataset build", 0)
    assert code == 0
    assert document["preview"] is True and document["rows"][0]["box"] == [0, 0, 400, 400]
    assert Path(document["contact_sheet"]).is_file()


def test_dataset_build_error_lists_every_spec_problem(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, [{"name": "a", "box": [900, 0, 300, 300]}, {"name": "b", "flipp": True}])
    code, document, err = _run("dataset", "build", str(spec), "--json")
    _assert_envelope(document, "dataset build", 1)
    assert code == 1 and err == ""
    assert [e["code"] for e in document["errors"]] == ["spec", "spec"]
    assert {e["path"] for e in document["errors"]} == {str(spec)}
    assert "ends at" in document["errors"][0]["message"] or "leaves" in document["errors"][0]["message"]
    assert "did you mean 'flip'?" in document["errors"][1]["message"]


def test_dataset_check_clean_and_with_errors(tmp_path: Path) -> None:
    spec = _built(tmp_path)
    code, document, _err = _run("dataset", "check", str(spec), "--no-duplicates", "--json")
    _assert_envelope(document, "dataset check", 0)
    assert code == 0 and document["errors"] == [] and document["datasets"][0]["steps_per_epoch"] > 0
    subset = tmp_path / "chara" / "train" / "10_chara girl"
    (subset / "tall.txt").write_bytes(b"")  # an empty caption stops sd-scripts
    code, document, _err = _run("dataset", "check", str(tmp_path / "chara" / "train"), "--caption-extension", ".txt",
                                "--no-duplicates", "--json")
    _assert_envelope(document, "dataset check", 1)
    assert code == 1 and "caption-empty" in [e["code"] for e in document["errors"]]
    assert all(f["severity"] in ("error", "warning", "info") for f in document["findings"])


def test_dataset_check_unreadable_target(tmp_path: Path) -> None:
    code, document, err = _run("dataset", "check", str(tmp_path / "missing"), "--json")
    _assert_envelope(document, "dataset check", 1)
    assert code == 1 and err == "" and document["errors"][0]["code"] == "check"


def test_train_config(tmp_path: Path) -> None:
    spec = _built(tmp_path)
    out = tmp_path / "config"
    code, document, err = _run("train-config", str(spec), "--family", "sd15", "--vram", "8", "--out", str(out), "--json")
    _assert_envelope(document, "train-config", 0)
    assert code == 0 and err == ""
    assert {w["code"] for w in document["warnings"]} >= {"sd-scripts-missing"}
    assert document["steps"]["max_train_steps"] > 0 and document["out_dir"] == str(out)


def test_train_config_error(tmp_path: Path) -> None:
    spec = _built(tmp_path)
    code, document, _err = _run("train-config", str(spec), "--family", "sd15", "--vram", "8", "--set", "learnig_rate=1",
                                "--json")
    _assert_envelope(document, "train-config", 1)
    assert code == 1 and "did you mean 'learning_rate'?" in document["errors"][0]["message"]


def test_doctor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolated_bin(tmp_path, monkeypatch)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.chdir(tmp_path)
    code, document, _err = _run("doctor", "--json")
    _assert_envelope(document, "doctor", 1)
    assert code == 1
    assert [e["code"] for e in document["errors"]] == ["install"]
    assert "gpu" in [w["code"] for w in document["warnings"]]
    assert {c["name"] for c in document["checks"]} >= {"install", "gpu", "ram", "disk"}


def test_doctor_error(tmp_path: Path) -> None:
    code, document, _err = _run("doctor", "--kohya-dir", str(tmp_path / "nope"), "--json")
    _assert_envelope(document, "doctor", 1)
    assert code == 1 and document["errors"][0]["code"] == "doctor"


def test_dataset_init(tmp_path: Path) -> None:
    figure_image().save(tmp_path / "a.png")
    code, document, err = _run("dataset", "init", str(tmp_path / "s.toml"), str(tmp_path / "a.png"), "--trigger", "m",
                               "--class", "girl", "--json")
    _assert_envelope(document, "dataset init", 0)
    assert code == 0 and err == ""
    assert document["spec"] == str(tmp_path / "s.toml") and document["crops_added"] == ["a"]
    assert document["images"][0]["treated_as"] == "picture" and Path(document["contact_sheet"]).is_file()
    assert document["next"] == f"kohya-prep dataset build {tmp_path / 's.toml'}"


def test_dataset_init_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, document, err = _run("dataset", "init", str(tmp_path / "s.toml"), str(tmp_path / "empty"), "--json")
    _assert_envelope(document, "dataset init", 1)
    assert code == 1 and err == "" and document["errors"][0]["code"] == "init"


def test_dataset_adopt(tmp_path: Path) -> None:
    spec = _built(tmp_path)
    (tmp_path / "chara" / "train" / "10_chara girl" / "tall.txt").write_text("chara, new tag\n", encoding="utf-8")
    code, document, err = _run("dataset", "adopt", str(spec), "--json")
    _assert_envelope(document, "dataset adopt", 0)
    assert code == 0 and err == ""
    assert document["adopted"] == [{"crop": "tall", "files": ["train/10_chara girl/tall.txt"], "old": "standing",
                                    "new": "new tag", "listed": False}]


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["dataset", "check", "--json"], "dataset check"),  # raised by the command itself
        (["train-config", "x.toml", "--family", "sd9", "--json"], "train-config"),  # a bad choice
        (["dataset", "build", "--bogus", "--json"], "dataset build"),  # found before --json is read
        (["doctor", "--gpu-timeout", "0", "--json"], "doctor"),
        (["dataset", "init", "s.toml", "--json"], "dataset init"),
        (["dataset", "adopt", "--json"], "dataset adopt"),
    ],
    ids=["missing-path", "bad-choice", "unknown-option", "out-of-range", "init-no-images", "adopt-no-spec"],
)
def test_usage_errors_in_json_mode(args: list[str], command: str) -> None:
    code, document, err = _run(*args)
    _assert_envelope(document, command, 2)
    assert code == 2 and err == "" and document["errors"][0]["code"] == "usage"


def test_text_mode_errors_stay_one_line_on_stderr(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "kohya_prep", "dataset", "build", str(tmp_path / "none.toml")],
                          capture_output=True, text=True)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == f"Error: {tmp_path / 'none.toml'}: file not found; pass the path of a dataset spec (.toml)\n"


def _json_on_a_terminal(args: list[str]) -> tuple[int, str]:
    """A command's exit code and what it prints when its stdout is a terminal (a pseudo-terminal here)."""
    import os
    import pty

    leader, follower = pty.openpty()
    child = subprocess.Popen([sys.executable, "-m", "kohya_prep", *args], stdout=follower, stderr=subprocess.DEVNULL)
    os.close(follower)  # the child holds the only writer: reading ends (EIO) when it exits
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return child.wait(timeout=120), b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def test_json_is_one_line_for_a_program_and_indented_on_a_terminal(tmp_path: Path) -> None:
    spec = _built(tmp_path)
    args = ["dataset", "check", str(spec.parent / "chara" / "train"), "--json"]
    piped = subprocess.run([sys.executable, "-m", "kohya_prep", *args], capture_output=True, text=True, check=False,
                           timeout=120)
    assert piped.stdout.count("\n") == 1 and piped.stdout.startswith('{"command": "dataset check"')
    code, shown = _json_on_a_terminal(args)
    assert code == piped.returncode
    assert shown.startswith('{\n  "command": "dataset check"')
    assert json.loads(shown) == json.loads(piped.stdout)
