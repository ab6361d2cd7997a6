"""The `sd-scripts` submodule of a kohya_ss checkout: what state it is in, and the row that says so.

The state compares the checked-out commit with the one kohya_ss pins (older, newer, elsewhere), and looks for
what a checkout would cost the user: local changes, and commits only the detached HEAD holds. fixsub.py repairs.
"""

from __future__ import annotations

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
State = Literal["populated", "newer", "other-commit", "not-initialized", "empty", "no-git", "not-a-checkout",
                "no-submodule"]
POPULATED: State = "populated"
NEWER: State = "newer"
OTHER_COMMIT: State = "other-commit"
NOT_INITIALIZED: State = "not-initialized"
EMPTY: State = "empty"
NO_GIT: State = "no-git"
NOT_A_CHECKOUT: State = "not-a-checkout"
NO_SUBMODULE: State = "no-submodule"
Relation = Literal["same", "newer", "older", "diverged", "unknown"]


@dataclass(frozen=True)
class SubmoduleStatus:
    """What git says about sd-scripts: `recorded` is the commit kohya_ss pins, `actual` the one checked out.

    `relation` says how `actual` stands to the pin (`distance` commits apart); `orphans` are commits reachable
    only from the submodule's detached HEAD (no branch, tag, remote branch or the pin holds them), as
    "abcd1234 subject" lines: checking out another commit would leave them to the reflog.
    """

    state: State
    recorded: str | None = None
    actual: str | None = None
    url: str | None = None
    changed_files: list[str] = field(default_factory=list)
    relation: Relation = "same"
    distance: int = 0
    orphans: list[str] = field(default_factory=list)


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
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        return SubmoduleStatus(NOT_A_CHECKOUT, recorded, None, url)
    diffs = [*module.index.diff(None), *module.index.diff("HEAD")]
    changed = sorted({d.a_path or d.b_path or "" for d in diffs})
    if actual == recorded:
        return SubmoduleStatus(POPULATED, recorded, actual, url, changed)
    relation, distance = _relation(module, recorded, actual)
    state = NEWER if relation == "newer" else OTHER_COMMIT
    return SubmoduleStatus(state, recorded, actual, url, changed, relation, distance, _orphans(module, recorded))


def _relation(module: object, recorded: str, actual: str) -> tuple[Relation, int]:
    import git

    repo: git.Repo = module  # type: ignore[assignment]
    try:
        repo.git.cat_file("-e", f"{recorded}^{{commit}}")
    except git.GitCommandError:
        return "unknown", 0  # the pin is not fetched yet
    if repo.is_ancestor(repo.commit(recorded), repo.commit(actual)):
        return "newer", int(repo.git.rev_list("--count", f"{recorded}..{actual}"))
    if repo.is_ancestor(repo.commit(actual), repo.commit(recorded)):
        return "older", int(repo.git.rev_list("--count", f"{actual}..{recorded}"))
    return "diverged", 0


def _orphans(module: object, recorded: str) -> list[str]:
    """Commits only the detached HEAD holds (on a branch, the branch keeps them)."""
    import git

    repo: git.Repo = module  # type: ignore[assignment]
    if not repo.head.is_detached:
        return []
    pin = [recorded] if _has_commit(repo, recorded) else []
    out = repo.git.log("--format=%h %s", "--max-count=20", "HEAD", "--not", "--branches", "--tags", "--remotes", *pin)
    return [line for line in out.splitlines() if line.strip()]


def _has_commit(repo: object, sha: str) -> bool:
    import git

    try:
        repo.git.cat_file("-e", f"{sha}^{{commit}}")  # type: ignore[attr-defined]
    except git.GitCommandError:
        return False
    return True


def _has_files(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


def needs_checkout(status: SubmoduleStatus, to_pinned: bool) -> bool:
    """Whether --fix has to move the submodule to the pin: not when it is there, or newer and not asked to."""
    return status.state in (NOT_INITIALIZED, EMPTY, OTHER_COMMIT) or (status.state == NEWER and to_pinned)


def blocked(status: SubmoduleStatus) -> bool:
    """--fix leaves a checkout whose move would carry local changes or orphan commits of the user's own."""
    return bool(status.changed_files or status.orphans)


def submodule_check(install: Install, status: SubmoduleStatus | None, to_pinned: bool = False) -> CheckResult:
    """The `sd-scripts` row: git state first, then the files training needs."""
    files = files_check(install.sd_scripts_dir)
    if install.kind != KOHYA_SS or status is None:
        return files
    row = _state_row(install, status, to_pinned)
    if row is None:
        return files
    if files.status == "fail" and row.status != "fail":
        return fail(row.name, f"{row.finding}; {files.finding}", row.fix or files.fix)
    if row.status == "ok" and files.status == "warn":
        return warn(files.name, f"{files.finding}; {row.finding}", files.fix)
    return row


def _state_row(install: Install, s: SubmoduleStatus, to_pinned: bool) -> CheckResult | None:
    rel = install.sd_scripts_dir
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
    if s.state == POPULATED:
        return ok("sd-scripts", f"at the pinned commit {_short(s.actual)}{_changes_note(s)}") if s.changed_files else None
    return _commit_row(rel, s, to_pinned)


def _commit_row(rel: Path, s: SubmoduleStatus, to_pinned: bool) -> CheckResult:
    where = _where(s)
    if s.state == NEWER and not to_pinned:
        return ok("sd-scripts", f"{where}; --fix leaves a newer checkout alone (`kohya-prep doctor --fix --to-pinned` "
                                f"goes back to the pin){_changes_note(s)}")
    if s.orphans:
        shown = "; ".join(s.orphans[:3]) + (" ..." if len(s.orphans) > 3 else "")
        return warn(
            "sd-scripts",
            f"{where}; {len(s.orphans)} commit(s) on its detached HEAD are on no branch or tag ({shown}), so --fix "
            "will not move it (they would survive only in the reflog)",
            f"keep them on a branch: `git -C {rel} branch my-sd-scripts {_short(s.actual)}`, then run kohya-prep doctor "
            f"--fix{' --to-pinned' if s.state == NEWER else ''}",
        )
    if s.changed_files:
        return warn(
            "sd-scripts",
            f"{where}; local changes in {rel} ({_files(s.changed_files)}) would have to move with it, so --fix leaves "
            "it (doctor never touches them)",
            f"`git -C {rel} stash`, then `kohya-prep doctor --fix{' --to-pinned' if s.state == NEWER else ''}`, then "
            f"`git -C {rel} stash pop`",
        )
    return warn("sd-scripts", where, FIX_FLAG + (" --to-pinned" if s.state == NEWER else ""))


def _where(s: SubmoduleStatus) -> str:
    at, pin = _short(s.actual), _short(s.recorded)
    if s.relation == "newer":
        return f"checked out at {at}, {s.distance} commit(s) newer than the {pin} kohya_ss pins"
    if s.relation == "older":
        return f"checked out at {at}, {s.distance} commit(s) older than the {pin} kohya_ss pins"
    if s.relation == "diverged":
        return f"checked out at {at}, which is neither older nor newer than the {pin} kohya_ss pins (another branch?)"
    return f"checked out at {at}, kohya_ss pins {pin} (not fetched yet)"


def _files(changed: list[str]) -> str:
    return ", ".join(changed[:3]) + (" ..." if len(changed) > 3 else "")


def _changes_note(s: SubmoduleStatus) -> str:
    if not s.changed_files:
        return ""
    return f"; local changes in {len(s.changed_files)} file(s) ({_files(s.changed_files)}), which doctor leaves alone"


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
