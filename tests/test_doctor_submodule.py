"""The sd-scripts submodule, with real git: a local sd-scripts repo and a kohya_ss superproject over file:// URLs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from doctor_fakes import Upstream, clone, git, gpu_rules, make_sd_scripts_repo, make_upstream, nvidia_smi_shim

from kohya_prep.cli import cli
from kohya_prep.doctor.submodule import FIX_FLAG, ZIP_FIX, describe_git_failure


@pytest.fixture
def upstream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Upstream:
    nvidia_smi_shim(tmp_path, monkeypatch, gpu_rules("h200"))  # never the machine's own nvidia-smi
    return make_upstream(tmp_path, monkeypatch)


def doctor(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, ["doctor", "--json", *args])
    return result.exit_code, json.loads(result.stdout)


def row(report: dict, name: str) -> dict:
    return next(c for c in report["checks"] if c["name"] == name)


def state(checkout: Path) -> tuple[str, str, list[str]]:
    """What a user would notice changing: git status, the submodule's config, every path in the tree."""
    paths = sorted(str(p.relative_to(checkout)) for p in checkout.rglob("*"))
    return git(checkout, "status", "--porcelain"), (checkout / ".git" / "config").read_text(), paths


def test_clone_without_recursive_is_reported_with_its_fix(upstream: Upstream, tmp_path: Path) -> None:
    checkout = clone(upstream, tmp_path / "kohya_ss")
    code, report = doctor("--kohya-dir", str(checkout))
    assert code == 1
    assert row(report, "sd-scripts") == {
        "name": "sd-scripts",
        "status": "fail",
        "finding": f"submodule not initialized: {checkout / 'sd-scripts'} is empty (cloned without --recursive?)",
        "fix": FIX_FLAG,
    }
    assert report["install"]["kind"] == "kohya_ss"


def test_fix_populates_at_the_pinned_commit_and_a_second_fix_changes_nothing(upstream: Upstream, tmp_path: Path) -> None:
    checkout = clone(upstream, tmp_path / "kohya_ss")
    _, first = doctor("--kohya-dir", str(checkout), "--fix")
    assert git(checkout / "sd-scripts", "rev-parse", "HEAD") == upstream.pinned
    assert row(first, "sd-scripts")["status"] == "ok"
    assert f"checked out sd-scripts at {upstream.pinned[:8]}, the commit kohya_ss pins" in first["fixed"]
    before = state(checkout)
    _, second = doctor("--kohya-dir", str(checkout), "--fix")
    assert state(checkout) == before
    assert second["fixed"] == []
    assert row(second, "sd-scripts")["status"] == "ok"


def test_fix_with_the_upstream_gone_fails_cleanly_and_changes_nothing(upstream: Upstream, tmp_path: Path) -> None:
    checkout = clone(upstream, tmp_path / "kohya_ss")
    shutil.move(upstream.sd_scripts, tmp_path / "gone")
    before = state(checkout)
    code, report = doctor("--kohya-dir", str(checkout), "--fix")
    assert code == 1
    assert row(report, "sd-scripts") == {
        "name": "sd-scripts",
        "status": "fail",
        "finding": f"git found no repository at {upstream.sd_scripts.as_uri()} (unreachable URL); nothing was changed",
        "fix": "check the network and the URL in .gitmodules, then run --fix again",
    }
    assert state(checkout) == before


def test_local_changes_are_reported_not_reset(upstream: Upstream, tmp_path: Path) -> None:
    checkout = clone(upstream, tmp_path / "kohya_ss", recursive=True)
    edited = checkout / "sd-scripts" / "train_network.py"
    edited.write_text("# my local patch\n", encoding="utf-8")
    code, report = doctor("--kohya-dir", str(checkout), "--fix")
    assert (code, row(report, "sd-scripts")["status"]) == (0, "warn")
    assert row(report, "sd-scripts")["finding"] == (
        f"local changes in {checkout / 'sd-scripts'} (train_network.py); doctor never resets them"
    )
    assert edited.read_text(encoding="utf-8") == "# my local patch\n"


def test_local_changes_blocking_a_checkout_are_left_alone(upstream: Upstream, tmp_path: Path) -> None:
    checkout = clone(upstream, tmp_path / "kohya_ss", recursive=True)
    _move_pin_forward(upstream, checkout)
    edited = checkout / "sd-scripts" / "train_network.py"
    edited.write_text("# my local patch\n", encoding="utf-8")
    _, report = doctor("--kohya-dir", str(checkout), "--fix")
    assert row(report, "sd-scripts")["status"] == "warn"
    assert edited.read_text(encoding="utf-8") == "# my local patch\n"


def _move_pin_forward(upstream: Upstream, checkout: Path) -> str:
    """Upstream sd-scripts gets a commit, kohya_ss pins it, and the user pulls kohya_ss only."""
    (upstream.sd_scripts / "train_network.py").write_text("# v2\n", encoding="utf-8")
    git(upstream.sd_scripts, "commit", "-q", "-am", "v2")
    git(upstream.kohya_ss / "sd-scripts", "pull", "-q")
    git(upstream.kohya_ss, "commit", "-q", "-am", "bump sd-scripts")
    git(checkout, "pull", "-q")
    return git(upstream.sd_scripts, "rev-parse", "HEAD")


def test_other_commit_is_reported_and_fixed(upstream: Upstream, tmp_path: Path) -> None:
    checkout = clone(upstream, tmp_path / "kohya_ss", recursive=True)
    new_pin = _move_pin_forward(upstream, checkout)
    _, report = doctor("--kohya-dir", str(checkout))
    assert row(report, "sd-scripts")["finding"] == f"checked out at {upstream.pinned[:8]}, kohya_ss pins {new_pin[:8]}"
    doctor("--kohya-dir", str(checkout), "--fix")
    assert git(checkout / "sd-scripts", "rev-parse", "HEAD") == new_pin


def test_initialized_but_empty(upstream: Upstream, tmp_path: Path) -> None:
    checkout = clone(upstream, tmp_path / "kohya_ss")
    git(checkout, "submodule", "init", "-q")
    _, report = doctor("--kohya-dir", str(checkout))
    assert row(report, "sd-scripts")["finding"] == f"submodule initialized but {checkout / 'sd-scripts'} is empty"


def test_zip_download_says_how_to_get_a_clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nvidia_smi_shim(tmp_path, monkeypatch, gpu_rules("h200"))
    unpacked = tmp_path / "kohya_ss-master"
    (unpacked / "sd-scripts").mkdir(parents=True)
    (unpacked / "kohya_gui.py").write_text("# GUI\n", encoding="utf-8")
    _, report = doctor("--kohya-dir", str(unpacked))
    assert row(report, "sd-scripts") == {
        "name": "sd-scripts",
        "status": "fail",
        "finding": f"{unpacked} is no git checkout (a ZIP download?), so sd-scripts cannot be fetched",
        "fix": ZIP_FIX,
    }


def test_bare_sd_scripts_clone(upstream: Upstream, tmp_path: Path) -> None:
    sd = tmp_path / "sd-scripts"
    make_sd_scripts_repo(sd)
    _, report = doctor("--kohya-dir", str(sd))
    assert report["install"] == {"root": str(sd), "kind": "sd-scripts", "sd_scripts_dir": str(sd), "python": None}
    assert row(report, "sd-scripts")["status"] == "ok"


@pytest.mark.parametrize(
    ("stderr", "finding"),
    [
        (
            "fatal: unable to access 'https://github.com/kohya-ss/sd-scripts.git/': Could not resolve host: github.com",
            "git could not reach https://github.com/kohya-ss/sd-scripts.git (no network?); nothing was changed",
        ),
        (
            "remote: Repository not found.\nfatal: repository 'https://github.com/kohya-ss/sd-scripts.git/' not found",
            "git found no repository at https://github.com/kohya-ss/sd-scripts.git (unreachable URL); nothing was changed",
        ),
        (
            "fatal: detected dubious ownership in repository\n",
            "git failed fetching https://github.com/kohya-ss/sd-scripts.git: "
            "fatal: detected dubious ownership in repository; nothing was changed",
        ),
    ],
    ids=["no-network", "unreachable-url", "other"],
)
def testdescribe_git_failures_say_which(stderr: str, finding: str) -> None:
    assert describe_git_failure(stderr, "https://github.com/kohya-ss/sd-scripts.git") == finding


def test_deleted_training_script_fails(upstream: Upstream, tmp_path: Path) -> None:
    checkout = clone(upstream, tmp_path / "kohya_ss", recursive=True)
    (checkout / "sd-scripts" / "library" / "train_util.py").unlink()
    code, report = doctor("--kohya-dir", str(checkout))
    assert (code, row(report, "sd-scripts")["finding"]) == (
        1,
        f"local changes in {checkout / 'sd-scripts'} (library/train_util.py); doctor never resets them; "
        f"{checkout / 'sd-scripts'} lacks library/train_util.py",
    )


def test_files_copied_in_by_hand(upstream: Upstream, tmp_path: Path) -> None:
    checkout = clone(upstream, tmp_path / "kohya_ss")
    (checkout / "sd-scripts" / "train_network.py").write_text("# copied\n", encoding="utf-8")
    _, report = doctor("--kohya-dir", str(checkout), "--fix")
    assert row(report, "sd-scripts")["finding"] == (
        f"{checkout / 'sd-scripts'} holds files but is no git checkout, so its version is unknown; "
        f"{checkout / 'sd-scripts'} lacks library/train_util.py"
    )
    assert (checkout / "sd-scripts" / "train_network.py").read_text(encoding="utf-8") == "# copied\n"
