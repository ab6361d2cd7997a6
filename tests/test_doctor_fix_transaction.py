"""`--fix` as a transaction, with real git: a remote that lacks the pinned commit, one that never answers, the
user's own detached commits, and a checkout newer than the pin. Nothing may be lost or left half-done."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from doctor_fakes import Upstream, clone, doctor, git

from kohya_prep.cli import cli


def sd_row(report: dict) -> dict:
    return next(c for c in report["checks"] if c["name"] == "sd-scripts")


def user_view(checkout: Path) -> dict[str, object]:
    """What the user sees of both repositories: git status works (or its error), HEADs, config, files."""
    sd = checkout / "sd-scripts"
    files = sorted(str(p.relative_to(checkout)) for p in checkout.rglob("*") if ".git" not in p.relative_to(checkout).parts)
    view: dict[str, object] = {
        "status": _status(checkout),
        "head": git(checkout, "rev-parse", "HEAD"),
        "config": (checkout / ".git" / "config").read_text(encoding="utf-8"),
        "modules": sorted(p.name for p in (checkout / ".git" / "modules").iterdir())
        if (checkout / ".git" / "modules").is_dir() else None,
        "files": files,
        "sd_git": (sd / ".git").read_text(encoding="utf-8") if (sd / ".git").is_file() else None,
    }
    if (sd / ".git").exists():
        view["sd_status"], view["sd_head"] = _status(sd), git(sd, "rev-parse", "HEAD")
    return view


def _status(path: Path) -> str:
    import subprocess

    done = subprocess.run(["git", "status", "--porcelain"], cwd=path, capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else f"FAILED: {done.stderr}"


def _pin_an_unpushed_commit(upstream: Upstream) -> str:
    """kohya_ss pins a commit made in its own sd-scripts checkout and never pushed to the sd-scripts remote."""
    inner = upstream.kohya_ss / "sd-scripts"
    git(inner, "checkout", "-q", "-b", "local-only")
    (inner / "train_network.py").write_text("# not pushed\n", encoding="utf-8")
    git(inner, "commit", "-q", "-am", "not pushed")
    git(upstream.kohya_ss, "commit", "-q", "-am", "pin a commit the sd-scripts remote lacks")
    unpushed = git(inner, "rev-parse", "HEAD")
    assert git(upstream.sd_scripts, "branch", "-a", "--contains", upstream.pinned) == "* main"
    return unpushed


def test_remote_lacking_the_pinned_commit_leaves_both_repositories_as_before(upstream: Upstream, tmp_path: Path) -> None:
    unpushed = _pin_an_unpushed_commit(upstream)
    checkout = clone(upstream, tmp_path / "kohya_ss")
    before = user_view(checkout)
    code, report = doctor("--kohya-dir", str(checkout), "--fix")
    assert code == 1
    row = sd_row(report)
    assert row["finding"].startswith(
        f"{upstream.sd_scripts.as_uri()} answers but has no commit {unpushed[:8]}, the one kohya_ss pins (a mirror or "
        "fork behind kohya-ss/sd-scripts, or a commit not pushed yet) (git: "
    )
    assert row["finding"].endswith("; nothing was changed (checked: git status works in kohya_ss, HEADs as before)")
    assert row["fix"].startswith("point the submodule at a remote that has it")
    assert user_view(checkout) == before
    assert not _status(checkout).startswith("FAILED")
    # The next run sees the same state, not "holds files but is no git checkout".
    _, again = doctor("--kohya-dir", str(checkout))
    assert sd_row(again)["finding"].startswith("submodule not initialized")


def test_remote_lacking_a_new_pin_keeps_the_populated_checkout(upstream: Upstream, tmp_path: Path) -> None:
    checkout = clone(upstream, tmp_path / "kohya_ss", recursive=True)
    _pin_an_unpushed_commit(upstream)
    git(checkout, "pull", "-q", "--no-recurse-submodules")
    before = user_view(checkout)
    code, report = doctor("--kohya-dir", str(checkout), "--fix")
    assert code == 1
    assert sd_row(report)["finding"].endswith(
        "; nothing was changed (checked: git status works in kohya_ss and sd-scripts, HEADs as before)"
    )
    assert user_view(checkout) == before
    assert before["sd_head"] == upstream.pinned


@pytest.fixture
def silent_remote() -> Iterator[str]:
    """A git:// server on loopback that accepts connections and never says a word (closed after 300 s at most,
    so a broken limit fails the test instead of hanging it)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def hold() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    yield f"git://127.0.0.1:{server.getsockname()[1]}/sd-scripts"
    stop.set()
    thread.join(timeout=300)
    for connection in held:
        connection.close()
    server.close()


def test_a_remote_that_never_answers_is_cut_at_the_limit(upstream: Upstream, tmp_path: Path, silent_remote: str) -> None:
    checkout = clone(upstream, tmp_path / "kohya_ss")
    git(checkout, "config", "-f", ".gitmodules", "submodule.sd-scripts.url", silent_remote)
    git(checkout, "commit", "-q", "-am", "sd-scripts from a server that hangs")
    before = user_view(checkout)
    code, report = doctor("--kohya-dir", str(checkout), "--fix", "--git-timeout", "1")
    assert code == 1
    assert sd_row(report) == {
        "name": "sd-scripts",
        "status": "fail",
        "finding": f"git printed nothing for 1 s while fetching {silent_remote}, so doctor stopped it (the remote does "
                   "not answer: a firewall, a stalled proxy?); nothing was changed (checked: git status works in "
                   "kohya_ss, HEADs as before)",
        "fix": f"check that `git ls-remote {silent_remote}` answers, or give it longer with --git-timeout SECONDS; "
               "then run kohya-prep doctor --fix again",
    }
    assert user_view(checkout) == before


def _commit_in_submodule(sd: Path, text: str) -> str:
    (sd / "my_tweak.py").write_text(text, encoding="utf-8")
    git(sd, "add", "my_tweak.py")
    git(sd, "commit", "-q", "-m", "my tweak")
    return git(sd, "rev-parse", "HEAD")


def test_a_detached_commit_of_the_users_is_never_orphaned(upstream: Upstream, tmp_path: Path) -> None:
    checkout = clone(upstream, tmp_path / "kohya_ss", recursive=True)
    sd = checkout / "sd-scripts"
    mine = _commit_in_submodule(sd, "# mine\n")
    _, report = doctor("--kohya-dir", str(checkout), "--fix", "--to-pinned")
    row = sd_row(report)
    assert row["status"] == "warn"
    assert row["finding"] == (
        f"checked out at {mine[:8]}, 1 commit(s) newer than the {upstream.pinned[:8]} kohya_ss pins; 1 commit(s) on its "
        f"detached HEAD are on no branch or tag ({mine[:7]} my tweak), so --fix will not move it (they would survive "
        "only in the reflog)"
    )
    assert row["fix"] == (
        f"keep them on a branch: `git -C {sd} branch my-sd-scripts {mine[:8]}`, then run kohya-prep doctor --fix --to-pinned"
    )
    assert git(sd, "rev-parse", "HEAD") == mine
    # The command it names keeps the commit; then --fix --to-pinned goes to the pin and the branch still holds it.
    git(sd, "branch", "my-sd-scripts", mine[:8])
    _, report = doctor("--kohya-dir", str(checkout), "--fix", "--to-pinned")
    assert git(sd, "rev-parse", "HEAD") == upstream.pinned
    assert git(sd, "branch", "--contains", mine) == "my-sd-scripts"
    assert f"moved sd-scripts back from {mine[:8]} (newer) to {upstream.pinned[:8]}, the commit kohya_ss pins" in report["fixed"]


def test_a_detached_commit_on_an_old_pin_blocks_the_update_to_a_new_one(upstream: Upstream, tmp_path: Path) -> None:
    checkout = clone(upstream, tmp_path / "kohya_ss", recursive=True)
    sd = checkout / "sd-scripts"
    mine = _commit_in_submodule(sd, "# mine\n")
    (upstream.sd_scripts / "train_network.py").write_text("# v2\n", encoding="utf-8")
    git(upstream.sd_scripts, "commit", "-q", "-am", "v2")
    git(upstream.kohya_ss / "sd-scripts", "pull", "-q")
    git(upstream.kohya_ss, "commit", "-q", "-am", "bump sd-scripts")
    git(checkout, "pull", "-q")
    before = user_view(checkout)
    _, report = doctor("--kohya-dir", str(checkout), "--fix")
    assert "1 commit(s) on its detached HEAD are on no branch or tag" in sd_row(report)["finding"]
    assert user_view(checkout) == before
    assert git(sd, "rev-parse", "HEAD") == mine


def test_a_newer_checkout_is_reported_as_newer_and_left_alone(upstream: Upstream, tmp_path: Path) -> None:
    checkout = clone(upstream, tmp_path / "kohya_ss", recursive=True)
    sd = checkout / "sd-scripts"
    (upstream.sd_scripts / "train_network.py").write_text("# v2\n", encoding="utf-8")
    git(upstream.sd_scripts, "commit", "-q", "-am", "v2")
    newer = git(upstream.sd_scripts, "rev-parse", "HEAD")
    git(sd, "fetch", "-q")
    git(sd, "checkout", "-q", "--detach", "origin/main")  # on a remote branch: no commit of the user's at risk
    code, report = doctor("--kohya-dir", str(checkout), "--fix")
    assert (code, sd_row(report)) == (0, {
        "name": "sd-scripts",
        "status": "ok",
        "finding": f"checked out at {newer[:8]}, 1 commit(s) newer than the {upstream.pinned[:8]} kohya_ss pins; --fix "
                   "leaves a newer checkout alone (`kohya-prep doctor --fix --to-pinned` goes back to the pin)",
        "fix": "",
    })
    assert git(sd, "rev-parse", "HEAD") == newer
    assert not [line for line in report["fixed"] if "sd-scripts" in line]
    doctor("--kohya-dir", str(checkout), "--fix", "--to-pinned")
    assert git(sd, "rev-parse", "HEAD") == upstream.pinned


def test_to_pinned_without_fix_is_a_usage_error(upstream: Upstream, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["doctor", "--to-pinned"])
    assert result.exit_code == 2
    assert "--to-pinned only changes what --fix does; pass --fix --to-pinned." in result.output


def test_git_progress_reaches_the_progress_line(upstream: Upstream, tmp_path: Path) -> None:
    from kohya_prep.doctor.run import DoctorOptions, run_doctor

    checkout = clone(upstream, tmp_path / "kohya_ss")
    lines: list[str] = []
    report = run_doctor(DoctorOptions(kohya_dir=checkout, data_dir=tmp_path, fix=True, progress=lines.append))
    assert lines[0] == f"fetching sd-scripts from {upstream.sd_scripts.as_uri()} (gives up after 60 s without progress)"
    assert any(line.startswith(("Cloning into", "Submodule path")) for line in lines[1:]), lines
    assert f"checked out sd-scripts at {upstream.pinned[:8]}, the commit kohya_ss pins" in report.fixed
