"""File-system failures are findings: a full disk, a read-only mount, a file-size limit, an immutable folder,
missing permission, another file system, a symlink loop, a file that vanishes. Each is one sentence naming the path
and the cause, exit 1, the old tree byte-identical, no staging left behind; the next build after the fault is gone
converges. Real mechanisms (tests/faults.py), skipped with the reason where the machine does not allow them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from kohya_prep.cli import cli
from tests import faults
from tests.helpers import assert_one_line_error, snapshot, write_spec

SUBSET = "10_chara girl"


def _noise_source(path: Path) -> None:
    """A source whose crops encode to large PNGs (about 700 KB at 512x512): disks and limits fill fast."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    Image.fromarray(rng.integers(0, 255, (768, 1024, 3), dtype=np.uint8)).save(path)


def _project(folder: Path, crops: int = 1, source: str = "src/noise.png") -> Path:
    if not (folder / source).exists():
        _noise_source(folder / source)
    return write_spec(folder, [{"name": f"c{i}", "box": [i * 10, 0, 500, 500]} for i in range(crops)],
                      sources={"sheet": source})


def _invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args))


def _no_staging(folder: Path) -> None:
    leftovers = [str(p) for p in folder.rglob("*") if ".kp-" in p.name or ".kept-" in p.name]
    assert not leftovers, leftovers


def _built(folder: Path, crops: int = 1, source: str = "src/noise.png") -> Path:
    spec = _project(folder, crops, source)
    result = _invoke("dataset", "build", str(spec))
    assert result.exit_code == 0, result.output
    return spec


# ---- ENOSPC: a small tmpfs -------------------------------------------------------------------------------------

def test_a_full_disk_during_a_build_keeps_the_old_dataset(tmp_path: Path) -> None:
    with faults.tmpfs(tmp_path / "disk", size="5m") as disk:
        spec = _built(disk, crops=1, source="../src/noise.png")
        faults.fill(disk, leave=300_000)
        before = snapshot(disk)
        spec = _project(disk, crops=4, source="../src/noise.png")
        before["spec.toml"] = snapshot(disk)["spec.toml"]
        message = assert_one_line_error(_invoke("dataset", "build", str(spec)), "the build stopped at", "the disk is full",
                                        "free some space", "was left as it was")
        assert str(disk / "chara") in message and ".kp-new" not in message
        assert snapshot(disk) == before
        _no_staging(disk)
        (disk / "filler.bin").unlink()
        assert _invoke("dataset", "build", str(spec)).exit_code == 0  # the fault gone, the next build completes
        assert len(list((disk / "chara" / "train" / SUBSET).glob("*.png"))) == 4


def test_no_free_inodes_when_taking_the_build_lock(tmp_path: Path) -> None:
    with faults.tmpfs(tmp_path / "disk", size="4m", inodes=64) as disk:
        spec = _built(disk, crops=1, source="../src/noise.png")
        with pytest.raises(OSError):  # use up every inode
            for number in range(1000):
                (disk / f"f{number}").touch()
        before = snapshot(disk)
        assert_one_line_error(_invoke("dataset", "build", str(spec)), "cannot take the build lock",
                              str(disk / ".chara.kp-lock"), "the disk is full")
        assert snapshot(disk) == before


def test_a_full_disk_during_train_config_keeps_the_old_set(tmp_path: Path) -> None:
    spec = _built(tmp_path, crops=1)
    with faults.tmpfs(tmp_path / "disk", size="1m") as disk:
        out = disk / "config"
        config = ["train-config", str(spec), "--family", "sd15", "--vram", "8", "--out", str(out)]
        assert _invoke(*config).exit_code == 0
        faults.fill(disk, leave=4096)
        before = snapshot(disk)
        assert_one_line_error(_invoke(*config, "--set", "network_dim=64"), "cannot write", str(out), "the disk is full",
                              "were left as they were")
        assert snapshot(disk) == before
        (disk / "filler.bin").unlink()
        result = _invoke(*config, "--set", "network_dim=64")  # its own files are not 'changed after kohya-prep wrote it'
        assert result.exit_code == 0, result.output
        assert "network_dim = 64" in (out / "training.toml").read_text()
        assert sorted(p.name for p in out.iterdir()) == [".kohya-prep-train-config.json", "dataset_config.toml",
                                                          "sample_prompts.txt", "train.bat", "train.sh", "training.toml"]


# ---- EXDEV: another file system -------------------------------------------------------------------------------

def test_a_dataset_folder_linked_to_another_disk_builds_and_rebuilds(tmp_path: Path) -> None:
    with faults.tmpfs(tmp_path / "other-disk", size="8m") as disk:
        (disk / "chara").mkdir()
        (tmp_path / "chara").symlink_to(disk / "chara", target_is_directory=True)
        for crops in (1, 2, 3):
            spec = _project(tmp_path, crops)
            result = _invoke("dataset", "build", str(spec))
            assert result.exit_code == 0, result.output
            assert os.readlink(tmp_path / "chara") == str(disk / "chara")
        assert len(list((disk / "chara" / "train" / SUBSET).glob("*.png"))) == 3
        _no_staging(tmp_path)
        _no_staging(disk)


@pytest.mark.parametrize("where", ["chara/reg", f"chara/train/{SUBSET}/extra"], ids=["reg", "inside-the-subset"])
def test_another_file_system_mounted_inside_the_dataset_is_a_finding(tmp_path: Path, where: str) -> None:
    spec = _built(tmp_path, crops=1)
    with faults.tmpfs(tmp_path / where, size="1m") as mounted:
        (mounted / "mine.png").write_bytes(b"on another disk")
        spec = _project(tmp_path, crops=2)
        before = snapshot(tmp_path)
        assert_one_line_error(_invoke("dataset", "build", str(spec)), f"{tmp_path / where} is a mount point",
                              "mount that disk outside the dataset folder")
        assert snapshot(tmp_path) == before
        _no_staging(tmp_path)


def test_a_dataset_folder_that_is_a_mount_point_builds_inside_it(tmp_path: Path) -> None:
    with faults.tmpfs(tmp_path / "chara", size="8m"):
        for crops in (1, 2):
            result = _invoke("dataset", "build", str(_project(tmp_path, crops)))
            assert result.exit_code == 0, result.output
        assert len(list((tmp_path / "chara" / "train" / SUBSET).glob("*.png"))) == 2
        _no_staging(tmp_path)


# ---- EROFS: a read-only bind mount ----------------------------------------------------------------------------

def test_a_read_only_dataset_folder_is_a_finding(tmp_path: Path) -> None:
    spec = _built(tmp_path, crops=1)
    os.rename(tmp_path / "chara", tmp_path / "chara-real")
    with faults.read_only(tmp_path / "chara-real", tmp_path / "chara"):
        spec = _project(tmp_path, crops=2)
        before = snapshot(tmp_path)
        assert_one_line_error(_invoke("dataset", "build", str(spec)), "the file system is read-only",
                              "remount it read-write")
        assert snapshot(tmp_path) == before
        _no_staging(tmp_path)


def test_a_read_only_spec_folder_cannot_take_the_lock(tmp_path: Path) -> None:
    project = tmp_path / "project"
    _built(project, crops=1)
    with faults.read_only(project, tmp_path / "ro") as ro:
        before = snapshot(project)
        assert_one_line_error(_invoke("dataset", "build", str(ro / "spec.toml")), "cannot take the build lock",
                              "the file system is read-only")
        assert snapshot(project) == before


def test_a_read_only_config_folder_is_a_finding(tmp_path: Path) -> None:
    spec = _built(tmp_path, crops=1)
    out = tmp_path / "config"
    config = ["train-config", str(spec), "--family", "sd15", "--vram", "8"]
    assert _invoke(*config, "--out", str(out)).exit_code == 0
    with faults.read_only(out, tmp_path / "ro-config") as ro:
        before = snapshot(out)
        assert_one_line_error(_invoke(*config, "--out", str(ro), "--set", "network_dim=64"), "read-only")
        assert snapshot(out) == before


# ---- EFBIG: RLIMIT_FSIZE in a subprocess ----------------------------------------------------------------------

def test_a_file_size_limit_during_a_build(tmp_path: Path) -> None:
    spec = _project(tmp_path, crops=2)
    assert faults.kohya_prep("dataset", "build", str(spec), "--jobs", "1").returncode == 0
    spec = write_spec(tmp_path, [{"name": "c0", "box": [0, 0, 500, 500], "flip": True}], sources={"sheet": "src/noise.png"})
    before = snapshot(tmp_path)
    result = faults.kohya_prep("dataset", "build", str(spec), file_size_limit=200_000)
    faults.assert_one_line_failure(result, "the build stopped at", str(tmp_path / "chara" / "train" / SUBSET),
                                   "larger than this system allows", "ulimit -f")
    assert snapshot(tmp_path) == before
    _no_staging(tmp_path)


def test_a_file_size_limit_during_train_config(tmp_path: Path) -> None:
    spec = _built(tmp_path, crops=1)
    config = ["train-config", str(spec), "--family", "sd15", "--vram", "8"]
    assert _invoke(*config).exit_code == 0
    before = snapshot(tmp_path)
    result = faults.kohya_prep(*config, "--set", "network_dim=64", file_size_limit=1000)
    faults.assert_one_line_failure(result, "cannot write", "larger than this system allows")
    assert snapshot(tmp_path) == before
    _no_staging(tmp_path)


# ---- EPERM: chattr +i -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("what", ["chara", "chara/train", "chara/train/" + SUBSET], ids=["dataset", "train", "subset"])
def test_an_immutable_folder_stops_the_build_with_nothing_left(tmp_path: Path, what: str) -> None:
    spec = _built(tmp_path, crops=1)
    spec = _project(tmp_path, crops=2)
    before = snapshot(tmp_path)
    with faults.immutable(tmp_path / what):
        message = assert_one_line_error(_invoke("dataset", "build", str(spec)), "cannot be changed", "chattr +i",
                                        "nothing was changed")
        assert snapshot(tmp_path) == before
        _no_staging(tmp_path)
    assert ".kp-new" not in message
    assert _invoke("dataset", "build", str(spec)).exit_code == 0


def test_an_immutable_config_file_leaves_the_whole_old_set(tmp_path: Path) -> None:
    spec = _built(tmp_path, crops=1)
    config = ["train-config", str(spec), "--family", "sd15", "--vram", "8"]
    assert _invoke(*config).exit_code == 0
    out = tmp_path / "chara" / "config"
    before = snapshot(out)
    with faults.immutable(out / "train.sh"):  # renamed onto last but one: the files before it are put back
        assert_one_line_error(_invoke(*config, "--set", "network_dim=64"), "cannot write", "not permitted")
        assert snapshot(out) == before
    assert _invoke(*config, "--set", "network_dim=64").exit_code == 0


# ---- EACCES: permission bits, without root's override ---------------------------------------------------------

def test_a_folder_without_write_permission(tmp_path: Path) -> None:
    spec = _built(tmp_path, crops=1)
    spec = _project(tmp_path, crops=2)
    (tmp_path / "chara").chmod(0o555)
    try:
        before = snapshot(tmp_path)
        result = faults.kohya_prep("dataset", "build", str(spec), no_permission_override=True)
        faults.assert_one_line_failure(result, str(tmp_path / "chara"), "no write permission", "ls -ld")
        assert snapshot(tmp_path) == before
        _no_staging(tmp_path)
    finally:
        (tmp_path / "chara").chmod(0o755)


# ---- ELOOP and ENOENT -----------------------------------------------------------------------------------------

def test_a_symlink_loop_as_a_source_or_reg_folder_is_a_spec_error(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "loop.png").symlink_to(tmp_path / "src" / "loop.png")
    (tmp_path / "regloop").symlink_to(tmp_path / "regloop")
    spec = write_spec(tmp_path, [{"name": "a"}], sources={"sheet": "src/loop.png"}, reg={"dir": "regloop"},
                      create_sources=False)
    result = _invoke("dataset", "build", str(spec))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "source 'sheet': 'src/loop.png' is a symlink loop" in result.output
    assert "[reg]: dir = 'regloop' is a symlink loop" in result.output


def test_a_source_that_vanishes_during_the_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The race cannot be timed for real: the file is deleted at the moment the build first looks at it.
    from kohya_prep.build import run

    spec = _built(tmp_path, crops=1)
    spec = _project(tmp_path, crops=2)
    real = run.source_records

    def vanish(spec_, *args):  # type: ignore[no-untyped-def]
        for source in spec_.sources.values():
            source.path.unlink()
        return real(spec_, *args)

    monkeypatch.setattr(run, "source_records", vanish)
    before = snapshot(tmp_path / "chara")
    assert_one_line_error(_invoke("dataset", "build", str(spec)), str(tmp_path / "src" / "noise.png"),
                          "it disappeared while kohya-prep was using it")
    assert snapshot(tmp_path / "chara") == before
    _no_staging(tmp_path)


def test_a_user_file_that_vanishes_before_it_is_carried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kohya_prep.build import stage

    _built(tmp_path, crops=1)
    mine = tmp_path / "chara" / "train" / SUBSET / "mine.txt"
    mine.write_text("deleted by its owner during the build")
    real = stage._carry

    def deleted_first(live, new, relpaths):  # type: ignore[no-untyped-def]
        mine.unlink()
        real(live, new, relpaths)

    monkeypatch.setattr(stage, "_carry", deleted_first)
    assert _invoke("dataset", "build", str(_project(tmp_path, crops=2))).exit_code == 0
    assert not mine.exists()
    _no_staging(tmp_path)
