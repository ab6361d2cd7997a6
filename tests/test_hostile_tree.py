"""The swap respects what it does not own: the user's files, folders and symlinks in and around the dataset stay
where they are, byte for byte; a symlinked dataset folder stays a symlink; what is in the way is an error; every
interrupted state converges on the next build."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from kohya_prep.build import stage
from kohya_prep.cli import cli
from tests.helpers import assert_kept, assert_one_line_error, snapshot, write_spec

SUBSET = "10_chara girl"


def _build(spec: Path, *args: str, code: int = 0):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["dataset", "build", str(spec), *args])
    assert result.exit_code == code, (result.output, result.exception)
    return result


def _spec(folder: Path, box: int = 300) -> Path:
    return write_spec(folder, [{"name": "tall", "box": [50, 40, box, 600], "flip": True}, {"name": "wide"}])


def _user_things(tmp_path: Path, root: Path) -> None:
    """What a kohya_ss user keeps in a project: the GUI's empty folders, a link to the models drive, notes, their own
    images and links inside train/."""
    models = tmp_path / "models-drive"
    (models / "sd15").mkdir(parents=True)
    (models / "sd15" / "base.safetensors").write_bytes(b"weights")
    (root / "output").mkdir(parents=True)
    (root / "log" / "run1").mkdir(parents=True)
    (root / "model").symlink_to(models, target_is_directory=True)
    (root / "notes.txt").write_text("my notes")
    (root / "dangling").symlink_to(tmp_path / "nowhere")
    subset = root / "train" / SUBSET
    subset.mkdir(parents=True, exist_ok=True)
    (subset / "mine.png").write_bytes(b"my own image")
    (subset / "linked.png").symlink_to(tmp_path / "elsewhere.png")
    (tmp_path / "elsewhere.png").write_bytes(b"a picture kept elsewhere")
    (subset / "extra-dir").symlink_to(models, target_is_directory=True)
    (subset / "scratch").mkdir()
    (root / "train" / "5_other").mkdir()
    (root / "train" / "5_other" / "theirs.png").write_bytes(b"another subset")
    (root / "reg" / "empty-of-mine").mkdir(parents=True)


@pytest.mark.parametrize("first_build", [True, False], ids=["after-a-build", "before-the-first-build"])
def test_user_files_folders_and_symlinks_survive_rebuilds_untouched(tmp_path: Path, first_build: bool) -> None:
    spec = _spec(tmp_path)
    root = tmp_path / "chara"
    if first_build:
        _build(spec)
    _user_things(tmp_path, root)
    before = snapshot(tmp_path)
    _build(spec)
    spec.write_text(spec.read_text().replace("[50, 40, 300, 600]", "[60, 40, 300, 600]"))
    data = json.loads(_build(spec, "--json").stdout)
    assert data["rendered"] == [f"train/{SUBSET}/tall-flip.png", f"train/{SUBSET}/tall.png"]
    after = snapshot(tmp_path)
    ours = (f"chara/train/{SUBSET}/tall", f"chara/train/{SUBSET}/wide", "chara/kohya-prep-manifest", "spec.toml")
    mine = {k: v for k, v in before.items() if not k.startswith(ours)}
    assert_kept(mine, after)
    assert (root / "model").is_symlink() and os.readlink(root / "model") == str(tmp_path / "models-drive")
    assert not [p for p in os.listdir(tmp_path) if ".kp-" in p or ".kept-" in p]
    _build(spec)  # and the build after that is a no-op
    assert snapshot(tmp_path) == after


def test_a_dataset_folder_that_is_a_symlink_stays_one(tmp_path: Path) -> None:
    disk = tmp_path / "other-disk"
    (disk / "datasets" / "chara").mkdir(parents=True)
    (tmp_path / "chara").symlink_to(disk / "datasets" / "chara", target_is_directory=True)
    spec = _spec(tmp_path)
    for box in (300, 310, 320):
        spec = _spec(tmp_path, box)
        _build(spec)
        assert os.readlink(tmp_path / "chara") == str(disk / "datasets" / "chara")
        assert (disk / "datasets" / "chara" / "train" / SUBSET / "tall.png").is_file()
    assert sorted(os.listdir(disk / "datasets")) == ["chara"]
    assert sorted(os.listdir(tmp_path)) == ["chara", "other-disk", "spec.toml", "src"]


def _foreign_folder(path: Path) -> None:
    path.mkdir()
    (path / "x").write_text("not kohya-prep's")


@pytest.mark.parametrize(
    ("make", "fragments"),
    [
        (lambda root: root.write_text("my file"), ["is a file, not a folder", "move the file away or change name"]),
        (lambda root: root.symlink_to(root.parent / "gone"), ["is a symlink to", "which does not exist"]),
        (lambda root: root.symlink_to(root), ["is a symlink loop"]),
        (lambda root: (root.mkdir(), (root / "train").write_text("x")), ["train is a file where a folder of kohya-prep"]),
        (lambda root: (root.mkdir(), (root / "train").symlink_to(root.parent / "src", target_is_directory=True)),
         ["train is a symlink where a folder of kohya-prep's goes", "never writes through links"]),
        (lambda root: (root.mkdir(), (root / "kohya-prep-manifest.json").write_text("{}")),
         ["kohya-prep-manifest.json was not written by kohya-prep"]),
        (lambda root: (root.mkdir(), _foreign_folder(root.parent / ".chara.kp-new")),
         [".chara.kp-new was not made by kohya-prep"]),
        (lambda root: (root.mkdir(), _foreign_folder(root.parent / ".chara.kp-old")),
         [".chara.kp-old is not from an unfinished kohya-prep build"]),
    ],
    ids=["file-as-dataset", "dangling-link", "link-loop", "file-as-train", "link-as-train", "foreign-manifest",
         "foreign-staging", "foreign-parked"],
)
def test_what_is_in_the_way_of_the_dataset_is_an_error_not_a_rename(tmp_path: Path, make, fragments) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(tmp_path)
    make(tmp_path / "chara")
    before = snapshot(tmp_path)
    result = CliRunner().invoke(cli, ["dataset", "build", str(spec)])
    assert_one_line_error(result, *fragments)
    assert snapshot(tmp_path) == before


def test_a_symlink_loop_and_a_fifo_in_train_are_carried_as_they_are(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    _build(spec)
    subset = tmp_path / "chara" / "train" / SUBSET
    (subset / "loop").symlink_to(subset / "loop")
    os.mkfifo(subset / "pipe")
    before = snapshot(tmp_path / "chara")
    _build(_spec(tmp_path, 310))
    after = snapshot(tmp_path / "chara")
    assert after["train/" + SUBSET + "/loop"] == before["train/" + SUBSET + "/loop"]
    assert after["train/" + SUBSET + "/pipe"] == ("special", before["train/" + SUBSET + "/pipe"][1])


class _Killed(BaseException):
    """Stands for SIGKILL at one exact point: nothing after it runs, no cleanup (not an Exception)."""


@pytest.mark.parametrize("renames_before_kill", [0, 1, 2, 3, 4, 5], ids=lambda n: f"after-{n}-renames")
def test_a_swap_killed_at_any_rename_converges_on_the_next_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                renames_before_kill: int) -> None:
    # A kill between two renames cannot be aimed at for real; the rename that would come next raises instead.
    spec = _spec(tmp_path)
    _build(spec)
    root = tmp_path / "chara"
    _user_things(tmp_path, root)
    spec = _spec(tmp_path, 320)
    reference = tmp_path / "reference"
    reference.mkdir()
    _build(_spec(reference, 320))
    mine = {k: v for k, v in snapshot(tmp_path).items() if "tall" not in k and "wide" not in k and "manifest" not in k}
    real_rename, real_exchange, calls = os.rename, stage.exchange, []

    def counted(step):  # type: ignore[no-untyped-def]
        def run(*args):  # type: ignore[no-untyped-def]
            if len(calls) == renames_before_kill:
                raise _Killed
            calls.append(args)
            return step(*args)
        return run

    monkeypatch.setattr(stage.os, "rename", counted(real_rename))
    monkeypatch.setattr(stage, "exchange", counted(real_exchange))
    with pytest.raises(_Killed):
        CliRunner().invoke(cli, ["dataset", "build", str(spec)], catch_exceptions=False)
    monkeypatch.undo()
    assert (tmp_path / ".chara.kp-new" / stage.SWAP_RECORD).exists()  # killed mid-swap: the record is there
    _build(spec)
    assert_kept(mine, snapshot(tmp_path))
    ours = {k: v[1] for k, v in snapshot(root / "train" / SUBSET).items() if "tall" in k or "wide" in k}
    wanted = {k: v[1] for k, v in snapshot(reference / "chara" / "train" / SUBSET).items()}
    assert ours == wanted
    assert not [p for p in os.listdir(tmp_path) if ".kp-" in p or ".kept-" in p]
    assert "Nothing to do" in _build(spec).output


def test_files_that_appear_during_a_build_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _spec(tmp_path)
    _build(spec)
    subset = tmp_path / "chara" / "train" / SUBSET
    real_swap = stage._swap

    def meanwhile(paths, record):  # type: ignore[no-untyped-def]
        (subset / "dropped-in.png").write_bytes(b"copied in while the build ran")
        real_swap(paths, record)

    monkeypatch.setattr(stage, "_swap", meanwhile)
    _build(_spec(tmp_path, 310))
    assert (subset / "dropped-in.png").read_bytes() == b"copied in while the build ran"


def test_the_output_guard_stops_a_path_outside_the_dataset(tmp_path: Path) -> None:
    root = tmp_path / "chara"
    root.mkdir()
    paths = stage.TreePaths.dataset(root, ("train", "reg"))
    for relpath in ("../escape.png", "train/../../escape.png", "/tmp/escape.png", "train/a\0.png", "C:escape.png"):
        with pytest.raises(stage.BuildError) as caught, stage.staged_tree(paths, [relpath], []):
            pass
        assert "refused to write" in str(caught.value) and "outside" in str(caught.value)
    assert sorted(os.listdir(tmp_path)) == ["chara"] and os.listdir(root) == []


def test_the_preview_keeps_what_the_user_put_in_and_around_it(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    _build(spec)
    root = tmp_path / "chara"
    _user_things(tmp_path, root)
    _build(spec, "--preview")
    preview = root / "preview"
    (preview / "my-notes.md").write_text("which crops to fix")
    (preview / "empty").mkdir()
    (preview / "ref").symlink_to(tmp_path / "models-drive", target_is_directory=True)
    before = snapshot(tmp_path)
    _build(_spec(tmp_path, 310), "--preview")
    after = snapshot(tmp_path)
    assert_kept({k: v for k, v in before.items() if not k.startswith(("chara/preview/crops", "chara/preview/contact",
                                                                      "chara/preview/overlay", "chara/preview/.kp",
                                                                      "spec.toml"))}, after)
    assert not [p for p in os.listdir(root) if ".kp-" in p or ".kept-" in p]


def test_a_kill_while_the_replaced_tree_is_cleared_converges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _spec(tmp_path)
    _build(spec)
    _user_things(tmp_path, tmp_path / "chara")
    mine = {k: v for k, v in snapshot(tmp_path).items() if "tall" not in k and "wide" not in k and "manifest" not in k}
    real_unlink, calls = os.unlink, []

    def unlink(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if ".chara.kp-old" in str(path) and len(calls) == 2:
            raise _Killed
        calls.append(path)
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(stage.os, "unlink", unlink)
    spec = _spec(tmp_path, 310)
    with pytest.raises(_Killed):
        CliRunner().invoke(cli, ["dataset", "build", str(spec)], catch_exceptions=False)
    monkeypatch.undo()
    assert (tmp_path / ".chara.kp-old").is_dir()  # killed after the swap, while the replaced files were deleted
    assert "Nothing to do" in _build(spec).output
    assert_kept({k: v for k, v in mine.items() if k != "spec.toml"}, snapshot(tmp_path))
    assert not [p for p in os.listdir(tmp_path) if ".kp-" in p or ".kept-" in p]


def test_a_tree_parked_by_an_earlier_version_is_cleared_and_the_users_symlink_comes_back(tmp_path: Path) -> None:
    # kohya-prep 0.x swapped the whole dataset folder: a killed or failed rebuild could leave the previous tree,
    # the user's symlink inside, at .chara.kp-old, and every later build then failed.
    spec = _spec(tmp_path)
    _build(spec)
    root, parked = tmp_path / "chara", tmp_path / ".chara.kp-old"
    (tmp_path / "models").mkdir()
    parked.mkdir()
    for relpath in json.loads((root / "kohya-prep-manifest.json").read_text())["files"]:
        (parked / relpath).parent.mkdir(parents=True, exist_ok=True)
        os.link(root / relpath, parked / relpath)
    os.link(root / "kohya-prep-manifest.json", parked / "kohya-prep-manifest.json")
    (parked / "model").symlink_to(tmp_path / "models", target_is_directory=True)
    _build(_spec(tmp_path, 310))
    assert os.readlink(root / "model") == str(tmp_path / "models")
    assert not parked.exists()
