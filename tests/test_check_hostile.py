"""dataset check on hostile folders (issue 10): FIFOs, sockets, devices, symlink loops and dangling links as images,
as captions, as subset folders and as PATH; files that vanish mid-scan; a rebuild racing the check.

Each from the outside: the CLI in a subprocess (a FIFO that is opened blocks forever, so a timeout guards the
run; it is never a pass condition), asserting the exit code, no traceback, and that nothing was changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.check_data import finding, image, subset

GUARD_S = 300  # far above any real run: only a hang reaches it


def _state(root: Path) -> dict[str, tuple[str, str]]:
    """Every entry under root (not followed): kind and content hash / link target."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                out[rel] = ("link", os.readlink(path))
            elif path.is_file():
                out[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
            else:
                out[rel] = ("other", oct(path.lstat().st_mode))
    return out


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kohya_prep", "dataset", "check", *args], capture_output=True, text=True,
                          timeout=GUARD_S, stdin=subprocess.DEVNULL)


def _json(result: subprocess.CompletedProcess[str]) -> dict:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    return json.loads(result.stdout)


def _socket(path: Path) -> None:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()  # the socket file stays


MAKERS: dict[str, Callable[[Path], None]] = {
    "fifo": lambda p: os.mkfifo(p),
    "socket": _socket,
    "device": lambda p: os.symlink("/dev/null", p),
    "loop": lambda p: os.symlink(p.name, p),
    "dangling": lambda p: os.symlink("missing-target.png", p),
    "dir": lambda p: p.mkdir(),
}


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    subset(tmp_path / "train", "3_mychar", 2, text="mychar")
    return tmp_path / "train"


@pytest.mark.parametrize("kind", list(MAKERS))
def test_an_image_name_that_is_not_a_file(dataset: Path, kind: str) -> None:
    MAKERS[kind](dataset / "3_mychar" / "odd.png")
    before = _state(dataset)
    result = _check(str(dataset), "--caption-extension", ".txt", "--json")
    report = _json(result)
    found = finding(report, "not-an-image-file")
    assert result.returncode == 1
    assert found["path"].endswith("odd.png") and "sd-scripts' glob lists it as an image" in found["message"]
    assert _state(dataset) == before


@pytest.mark.parametrize("kind", ["fifo", "loop", "dangling", "dir", "socket"])
def test_a_caption_that_is_not_a_file_is_passed_over(dataset: Path, kind: str) -> None:
    folder = dataset / "3_mychar"
    (folder / "img00.txt").unlink()
    MAKERS[kind](folder / "img00.txt")
    before = _state(dataset)
    result = _check(str(dataset), "--caption-extension", ".txt", "--json")
    report = _json(result)
    found = finding(report, "caption-not-a-file")
    assert result.returncode == 0
    assert "os.path.isfile passes over it, so img00.png trains on the class tokens 'mychar'" in found["message"]
    assert report["datasets"][0]["subsets"][0]["captioned"] == 1
    assert _state(dataset) == before


@pytest.mark.parametrize("kind", ["loop", "dangling"])
def test_a_subset_folder_that_is_a_broken_link(dataset: Path, kind: str) -> None:
    MAKERS[kind](dataset / "5_other")
    before = _state(dataset)
    result = _check(str(dataset), "--caption-extension", ".txt", "--json")
    report = _json(result)
    assert result.returncode == 0
    assert "skips the folder without a word" in finding(report, "subset-link-broken")["message"]
    assert _state(dataset) == before


@pytest.mark.parametrize("kind", ["fifo", "socket", "loop", "dangling"])
def test_path_or_dataset_config_that_is_not_a_file(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "target.toml"
    MAKERS[kind](target)
    before = _state(tmp_path)
    for args in ([str(target)], ["--dataset-config", str(target)]):
        result = _check(*args)
        lines = result.stderr.splitlines()
        assert result.returncode == 1 and result.stdout == ""
        assert len(lines) == 1 and lines[0].startswith("Error: ") and str(target) in lines[0], result.stderr
    assert _state(tmp_path) == before


def test_a_file_that_vanishes_mid_scan(dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The folder is listed, then an image and a caption disappear before they are read (really deleted:
    only the moment is chosen by the hook, which a real race cannot do reliably)."""
    from click.testing import CliRunner

    from kohya_prep.check import scan
    from kohya_prep.cli import cli

    real_list = scan._list

    def list_then_delete(folder: Path) -> dict:
        listed = real_list(folder)
        (folder / "img01.png").unlink()
        (folder / "img00.txt").unlink()
        return listed

    monkeypatch.setattr(scan, "_list", list_then_delete)
    result = CliRunner().invoke(cli, ["dataset", "check", str(dataset), "--caption-extension", ".txt", "--json"])
    report = json.loads(result.stdout)
    found = finding(report, "vanished")
    assert result.exit_code == 0 and result.exception is None
    assert found["severity"] == "warning" and "2 file(s) disappeared while the check read them" in found["message"]


def test_a_rebuild_racing_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real `dataset build` swaps the tree (one crop fewer) right after the check listed the subset."""
    from click.testing import CliRunner

    from kohya_prep.check import scan
    from kohya_prep.cli import cli
    from tests.helpers import write_spec

    crops = [{"name": f"c{i}", "box": [i * 10, 0, 200, 300]} for i in range(4)]
    spec = write_spec(tmp_path, crops)
    assert CliRunner().invoke(cli, ["dataset", "build", str(spec)]).exit_code == 0
    real_list = scan._list
    after_build: dict[str, dict] = {}

    def list_then_rebuild(folder: Path) -> dict:
        listed = real_list(folder)
        if not after_build:
            write_spec(tmp_path, crops[:2])
            built = subprocess.run([sys.executable, "-m", "kohya_prep", "dataset", "build", str(spec)],
                                   capture_output=True, text=True, timeout=GUARD_S)
            assert built.returncode == 0, built.stderr
            after_build["state"] = _state(tmp_path)
        return listed

    monkeypatch.setattr(scan, "_list", list_then_rebuild)
    result = CliRunner().invoke(cli, ["dataset", "check", str(spec), "--json"])
    report = json.loads(result.stdout)
    assert result.exit_code in (0, 1) and result.exception is None
    assert "c3.png" in finding(report, "vanished")["message"] or "c2.png" in finding(report, "vanished")["message"]
    assert _state(tmp_path) == after_build["state"]  # the check itself wrote nothing


def test_a_build_holding_the_lock_is_reported(tmp_path: Path) -> None:
    import fcntl

    from click.testing import CliRunner

    from kohya_prep.cli import cli
    from tests.helpers import write_spec

    spec = write_spec(tmp_path, [{"name": "a"}])
    assert CliRunner().invoke(cli, ["dataset", "build", str(spec)]).exit_code == 0
    lock = tmp_path / ".chara.kp-lock"
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        result = _check(str(spec), "--json")
    report = _json(result)
    assert "a kohya-prep build is writing" in finding(report, "build-running")["message"]


def test_an_unreadable_caption_stops_sd_scripts(dataset: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    path = dataset / "3_mychar" / "img00.txt"
    path.chmod(0)
    result = _check(str(dataset), "--caption-extension", ".txt", "--json")
    path.chmod(0o644)
    assert result.returncode == 1
    assert finding(_json(result), "caption-unreadable")["severity"] == "error"


def test_images_in_a_checked_root_that_are_fifos_are_never_opened(dataset: Path) -> None:
    os.mkfifo(dataset / "loose.png")
    image(dataset / "3_mychar" / "img02.png", 3)
    result = _check(str(dataset), "--caption-extension", ".txt", "--json")
    assert result.returncode == 0
    assert "loose.png" in finding(_json(result), "images-in-root")["message"]
