"""The sd-scripts submodule, with real git: a local sd-scripts repo and a kohya_ss superproject over file:// URLs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from doctor_fakes import Upstream, clone, doctor, git, gpu_rules, make_sd_scripts_repo, nvidia_smi_shim

from kohya_prep.doctor.fixsub import describe_git_failure
from kohya_prep.doctor.submodule import FIX_FLAG, ZIP_FIX


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
    found = row(report, "sd-scripts")
    assert found["finding"].startswith(
        f"git found no repository at {upstream.sd_scripts.as_uri()} (unreachable URL) (git: fatal: "
    )
    assert found["finding"].endswith("; nothing was changed (checked: git status works in kohya_ss, HEADs as before)")
    assert found["fix"] == "check the URL in .gitmodules (`git submodule set-url sd-scripts URL`); then run kohya-prep " \
        "doctor --fix again"
    assert state(checkout) == before


def test_local_changes_at_the_pin_are_reported_and_left_alone(upstream: Upstream, tmp_path: Path) -> None:
    checkout = clone(upstream, tmp_path / "kohya_ss", recursive=True)
    edited = checkout / "sd-scripts" / "train_network.py"
    edited.write_text("# my local patch\n", encoding="utf-8")
    code, report = doctor("--kohya-dir", str(checkout), "--fix")
    assert (code, row(report, "sd-scripts")) == (0, {
        "name": "sd-scripts",
        "status": "ok",
        "finding": f"at the pinned commit {upstream.pinned[:8]}; local changes in 1 file(s) (train_network.py), which "
                   "doctor leaves alone",
        "fix": "",
    })
    assert "stash" not in json.dumps(report)  # nothing needs fixing, so no fix line
    assert edited.read_text(encoding="utf-8") == "# my local patch\n"


def test_local_changes_when_the_commit_must_change_are_left_with_stash_and_pop(upstream: Upstream, tmp_path: Path) -> None:
    checkout = clone(upstream, tmp_path / "kohya_ss", recursive=True)
    _move_pin_forward(upstream, checkout)
    sd = checkout / "sd-scripts"
    edited = sd / "sdxl_train_network.py"  # a file the new pin does not touch: git alone would carry it over
    edited.write_text("# my local patch\n", encoding="utf-8")
    head = git(sd, "rev-parse", "HEAD")
    _, report = doctor("--kohya-dir", str(checkout), "--fix")
    found = row(report, "sd-scripts")
    assert found["status"] == "warn"
    assert "local changes in" in found["finding"] and "so --fix leaves it (doctor never touches them)" in found["finding"]
    assert found["fix"] == f"`git -C {sd} stash`, then `kohya-prep doctor --fix`, then `git -C {sd} stash pop`"
    assert (git(sd, "rev-parse", "HEAD"), edited.read_text(encoding="utf-8")) == (head, "# my local patch\n")
    assert not [line for line in report["fixed"] if "sd-scripts" in line]


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
    assert row(report, "sd-scripts")["finding"] == (
        f"checked out at {upstream.pinned[:8]}, 1 commit(s) older than the {new_pin[:8]} kohya_ss pins"
    )
    _, report = doctor("--kohya-dir", str(checkout), "--fix")
    assert git(checkout / "sd-scripts", "rev-parse", "HEAD") == new_pin
    assert f"checked out sd-scripts at {new_pin[:8]}, the commit kohya_ss pins" in report["fixed"]


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
    assert report["install"] == {"root": str(sd), "kind": "sd-scripts", "sd_scripts_dir": str(sd), "python": None,
                                "python_from": None}
    assert row(report, "sd-scripts")["status"] == "ok"


URL = "https://github.com/kohya-ss/sd-scripts.git"
PIN = "7cae0edf8d2b1c3a4e5f60718293a4b5c6d7e8f9"


@pytest.mark.parametrize(
    ("stderr", "finding", "fix_starts"),
    [
        (
            f"Cloning into '/home/me/kohya_ss/sd-scripts'...\nfatal: unable to access '{URL}/': Could not resolve host: "
            "github.com\nfatal: clone of '...' into submodule path '/home/me/kohya_ss/sd-scripts' failed\n"
            "Failed to clone 'sd-scripts' a second time, aborting",
            f"git could not reach {URL} (no network?) (git: fatal: unable to access '{URL}/': Could not resolve host: "
            "github.com)",
            "check the network",
        ),
        (
            f"remote: Repository not found.\nfatal: repository '{URL}/' not found",
            f"git found no repository at {URL} (unreachable URL) (git: remote: Repository not found.)",
            "check the URL in .gitmodules",
        ),
        (
            f"fatal: unable to access '{URL}/': SSL certificate problem: unable to get local issuer certificate\n"
            "Failed to clone 'sd-scripts' a second time, aborting",
            f"the TLS or proxy connection to {URL} failed (git: fatal: unable to access '{URL}/': SSL certificate "
            "problem: unable to get local issuer certificate)",
            "check the proxy",
        ),
        (
            f"fatal: unable to access '{URL}/': Received HTTP code 407 from proxy after CONNECT",
            f"the TLS or proxy connection to {URL} failed (git: fatal: unable to access '{URL}/': Received HTTP code 407 "
            "from proxy after CONNECT)",
            "check the proxy",
        ),
        (
            "fatal: could not read Username for 'https://github.com': terminal prompts disabled",
            f"{URL} refused the credentials (or asked for some) (git: fatal: could not read Username for "
            "'https://github.com': terminal prompts disabled)",
            f"check your access with `git ls-remote {URL}`",
        ),
        (
            f"error: Server does not allow request for unadvertised object {PIN}\nFetched in submodule path "
            f"'sd-scripts', but it did not contain {PIN}. Direct fetching of that commit failed.",
            f"{URL} answers but has no commit {PIN[:8]}, the one kohya_ss pins (a mirror or fork behind "
            f"kohya-ss/sd-scripts, or a commit not pushed yet) (git: error: Server does not allow request for "
            f"unadvertised object {PIN})",
            "point the submodule at a remote that has it",
        ),
        (
            "fatal: detected dubious ownership in repository\n",
            f"git failed fetching {URL} (git: fatal: detected dubious ownership in repository)",
            "check the network and the URL",
        ),
    ],
    ids=["no-network", "unreachable-url", "tls", "proxy", "auth", "commit-missing", "other"],
)
def test_git_failures_name_the_cause_with_gits_line(stderr: str, finding: str, fix_starts: str) -> None:
    found, fix = describe_git_failure(stderr, URL, PIN)
    assert found == finding
    assert fix.startswith(fix_starts) and fix.endswith("then run kohya-prep doctor --fix again")


def test_deleted_training_script_fails(upstream: Upstream, tmp_path: Path) -> None:
    checkout = clone(upstream, tmp_path / "kohya_ss", recursive=True)
    (checkout / "sd-scripts" / "library" / "train_util.py").unlink()
    code, report = doctor("--kohya-dir", str(checkout))
    assert (code, row(report, "sd-scripts")["finding"]) == (
        1,
        f"at the pinned commit {upstream.pinned[:8]}; local changes in 1 file(s) (library/train_util.py), which doctor "
        f"leaves alone; {checkout / 'sd-scripts'} lacks library/train_util.py",
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
