"""The `sd-scripts` submodule of a kohya_ss checkout: what state it is in, and a GitPython repair.

The repair has the effect of `git submodule update --init --recursive`. It leaves a submodule with
local changes alone (and git refuses to check out over them), and when git fails it puts back what it
changed, so the checkout is as it was.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from kohya_prep.doctor.checks import CheckResult, fail, ok, warn
from kohya_prep.doctor.locate import KOHYA_SS, Install

REQUIRED_FILES = ("train_network.py", "library/train_util.py")
FAMILY_SCRIPTS = ("sdxl_train_network.py", "sd3_train_network.py", "flux_train_network.py")
SUBMODULE = "sd-scripts"
FIX_FLAG = "kohya-prep doctor --fix  (= git submodule update --init --recursive)"
ZIP_FIX = (
    "git clone --recursive https://github.com/bmaltais/kohya_ss.git kohya_ss-git "
    "(a ZIP download has no git history, so the submodule cannot be fetched), then use that folder"
)

# States of the submodule, from most to least healthy.
State = Literal["populated", "other-commit", "dirty", "not-initialized", "empty", "no-git", "not-a-checkout",
                "no-submodule"]
POPULATED: State = "populated"
OTHER_COMMIT: State = "other-commit"
DIRTY: State = "dirty"
NOT_INITIALIZED: State = "not-initialized"
EMPTY: State = "empty"
NO_GIT: State = "no-git"
NOT_A_CHECKOUT: State = "not-a-checkout"
NO_SUBMODULE: State = "no-submodule"


@dataclass(frozen=True)
class SubmoduleStatus:
    """What git says about sd-scripts: `recorded` is the commit kohya_ss pins, `actual` the one checked out."""

    state: State
    recorded: str | None = None
    actual: str | None = None
    url: str | None = None
    changed_files: list[str] = field(default_factory=list)


def inspect(install: Install) -> SubmoduleStatus:
    """Read the submodule's state through GitPython (read-only)."""
    import git

    try:
        repo = git.Repo(install.root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return SubmoduleStatus(NO_GIT)
    try:
        sm = repo.submodule(SUBMODULE)
    except (ValueError, git.GitError):
        return SubmoduleStatus(NO_SUBMODULE)
    recorded, url = sm.hexsha, sm.url
    if not _has_files(install.sd_scripts_dir):
        configured = repo.config_reader().has_section(f'submodule "{SUBMODULE}"')
        return SubmoduleStatus(EMPTY if configured else NOT_INITIALIZED, recorded, None, url)
    return _populated_state(install.sd_scripts_dir, recorded, url)


def _populated_state(path: Path, recorded: str, url: str) -> SubmoduleStatus:
    import git

    try:
        module = git.Repo(path)
        actual = module.head.commit.hexsha
    except (git.InvalidGitRepositoryError, ValueError):
        return SubmoduleStatus(NOT_A_CHECKOUT, recorded, None, url)
    diffs = [*module.index.diff(None), *module.index.diff("HEAD")]
    changed = sorted({d.a_path or d.b_path or "" for d in diffs})
    if changed:
        return SubmoduleStatus(DIRTY, recorded, actual, url, changed)
    return SubmoduleStatus(POPULATED if actual == recorded else OTHER_COMMIT, recorded, actual, url)


def _has_files(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


def submodule_check(install: Install, status: SubmoduleStatus | None) -> CheckResult:
    """The `sd-scripts` row: git state first, then the files training needs."""
    files = files_check(install.sd_scripts_dir)
    if install.kind != KOHYA_SS or status is None or status.state == POPULATED:
        return files
    row = _state_row(install, status)
    if row.status == "warn" and files.status == "fail":
        return fail(row.name, f"{row.finding}; {files.finding}", row.fix)
    return row


def _state_row(install: Install, s: SubmoduleStatus) -> CheckResult:
    rel = install.sd_scripts_dir
    pin = _short(s.recorded)
    if s.state == NO_GIT:
        return fail(
            "sd-scripts", f"{install.root} is no git checkout (a ZIP download?), so sd-scripts cannot be fetched", ZIP_FIX
        )
    if s.state == NO_SUBMODULE:
        return fail("sd-scripts", "this kohya_ss checkout records no sd-scripts submodule", ZIP_FIX)
    if s.state == NOT_INITIALIZED:
        return fail("sd-scripts", f"submodule not initialized: {rel} is empty (cloned without --recursive?)", FIX_FLAG)
    if s.state == EMPTY:
        return fail("sd-scripts", f"submodule initialized but {rel} is empty", FIX_FLAG)
    if s.state == NOT_A_CHECKOUT:
        return warn(
            "sd-scripts",
            f"{rel} holds files but is no git checkout, so its version is unknown",
            f"move {rel} aside, then run kohya-prep doctor --fix",
        )
    if s.state == DIRTY:
        files = ", ".join(s.changed_files[:3]) + (" ..." if len(s.changed_files) > 3 else "")
        return warn(
            "sd-scripts",
            f"local changes in {rel} ({files}); doctor never resets them",
            f"keep them aside with `git -C {rel} stash`, then run kohya-prep doctor --fix",
        )
    return warn("sd-scripts", f"checked out at {_short(s.actual)}, kohya_ss pins {pin}", FIX_FLAG)


def files_check(sd_scripts_dir: Path) -> CheckResult:
    """Confirm the scripts training runs are there."""
    missing = [f for f in REQUIRED_FILES if not (sd_scripts_dir / f).is_file()]
    if missing:
        return fail("sd-scripts", f"{sd_scripts_dir} lacks {', '.join(missing)}", FIX_FLAG)
    families = [f for f in FAMILY_SCRIPTS if not (sd_scripts_dir / f).is_file()]
    if families:
        return warn(
            "sd-scripts",
            f"{sd_scripts_dir} has train_network.py but not {', '.join(families)} (an old sd-scripts?)",
            f"update it: `git -C {sd_scripts_dir} pull` for a bare clone, kohya-prep doctor --fix for kohya_ss",
        )
    return ok("sd-scripts", f"{sd_scripts_dir} holds train_network.py, library/ and the SDXL/SD3/FLUX scripts")


def _short(sha: str | None) -> str:
    return sha[:8] if sha else "nothing"


def fix_submodule(install: Install, status: SubmoduleStatus) -> CheckResult | None:
    """Init and update sd-scripts at the pinned commit; a result row only when git failed (None = done)."""
    import git

    if status.state not in (NOT_INITIALIZED, EMPTY, OTHER_COMMIT):
        return None
    repo = git.Repo(install.root)
    snapshot = _Snapshot.take(repo, install.sd_scripts_dir)
    try:
        # GitPython's own Submodule.update() assumes a 'master' branch that sd-scripts does not have
        # (it leaves an empty index behind), so let GitPython run git's own submodule update.
        repo.git.submodule("update", "--init", "--recursive", "--", SUBMODULE)
    except git.GitCommandError as err:
        snapshot.restore()
        stderr = str(err.stderr or "")
        if "would be overwritten by checkout" in stderr:
            return fail(
                "sd-scripts", "local changes in sd-scripts block the checkout; doctor left them alone", _stash_fix(install)
            )
        return fail(
            "sd-scripts",
            describe_git_failure(stderr, status.url),
            "check the network and the URL in .gitmodules, then run --fix again",
        )
    return None


def _stash_fix(install: Install) -> str:
    return f"keep them aside with `git -C {install.sd_scripts_dir} stash`, then run kohya-prep doctor --fix"


def describe_git_failure(stderr: str, url: str | None) -> str:
    """Say in one line why git could not fetch sd-scripts: no network, an unreachable URL, or git's own last words."""
    if any(
        sign in stderr
        for sign in ("Could not resolve host", "Failed to connect", "Connection timed out", "Network is unreachable")
    ):
        return f"git could not reach {url} (no network?); nothing was changed"
    if any(sign in stderr for sign in ("does not appear to be a git repository", "not found", "error: 404")):
        return f"git found no repository at {url} (unreachable URL); nothing was changed"
    last = next((line.strip(" '") for line in reversed(stderr.splitlines()) if line.strip(" '")), "unknown error")
    return f"git failed fetching {url}: {last}; nothing was changed"


@dataclass
class _Snapshot:
    """Enough to undo a failed update: `--init` registers the URL in .git/config, the clone adds .git/modules."""

    sd_dir: Path
    sd_dir_existed: bool
    created: list[Path]
    config: Path
    config_text: str

    @classmethod
    def take(cls, repo: object, sd_dir: Path) -> _Snapshot:
        git_dir = Path(repo.git_dir)  # type: ignore[attr-defined]
        watch = [git_dir / "modules", git_dir / "modules" / SUBMODULE]
        config = git_dir / "config"
        created = [p for p in watch if not p.exists()]
        return cls(sd_dir, sd_dir.is_dir(), created, config, config.read_text(encoding="utf-8"))

    def restore(self) -> None:
        self.config.write_text(self.config_text, encoding="utf-8")
        for path in reversed(self.created):
            if path.is_dir():
                shutil.rmtree(path)  # only what the failed clone created: it did not exist before
        if self.sd_dir_existed and not self.sd_dir.exists():
            self.sd_dir.mkdir()
