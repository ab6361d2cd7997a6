"""`--fix` as a transaction over git state: what `git submodule update` may change, recorded before it runs,
put back exactly when it fails, and checked afterwards (git status works in both repositories, same HEADs).

What git touches: `.git/config` (`--init` writes the submodule's URL), `.git/modules/sd-scripts` (the clone),
`sd-scripts/.git` (a file pointing at that clone), the files of `sd-scripts/` and the submodule's HEAD. The
gitlink (the commit kohya_ss pins, in its index) is never written by a submodule update; it is recorded only to
prove that.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kohya_prep.doctor.gitrun import GitResult, run_git

LOCAL_LIMIT = 60.0  # local git commands answer at once; the limit only guards against a broken repository


@dataclass(frozen=True)
class PathState:
    """A path as it was: missing, a file (with its bytes) or a folder."""

    path: Path
    kind: Literal["missing", "file", "dir"]
    data: bytes | None = None

    @classmethod
    def read(cls, path: Path) -> PathState:
        if path.is_symlink() or path.is_file():
            return cls(path, "file", path.read_bytes())
        if path.is_dir():
            return cls(path, "dir")
        return cls(path, "missing")

    def restore(self) -> None:
        """Put the path back: remove what appeared, rewrite a changed file. A folder that was there stays."""
        if self.kind == "dir":
            self.path.mkdir(parents=True, exist_ok=True)
            return
        if self.path.is_dir() and not self.path.is_symlink():
            shutil.rmtree(self.path)
        elif self.path.exists() or self.path.is_symlink():
            self.path.unlink()
        if self.kind == "file":
            self.path.write_bytes(self.data or b"")


@dataclass(frozen=True)
class RepoState:
    """What a user would see of one repository: `git status` (or its failure) and HEAD."""

    status: str
    head: str
    branch: str  # refs/heads/... when on a branch, '' when detached or unknown

    @classmethod
    def read(cls, path: Path) -> RepoState:
        status = _git(["status", "--porcelain"], path)
        head = _git(["rev-parse", "HEAD"], path)
        branch = _git(["symbolic-ref", "-q", "HEAD"], path)
        return cls(_shown(status), head.stdout.strip() if head.returncode == 0 else "",
                   branch.stdout.strip() if branch.returncode == 0 else "")


def _shown(result: GitResult) -> str:
    if result.returncode == 0:
        return result.stdout
    line = next((ln for ln in result.stderr.splitlines() if ln.strip()), "no output")
    return f"git status failed: {line.strip()}"


def _git(args: list[str], cwd: Path) -> GitResult:
    if not cwd.is_dir():
        return GitResult(128, "", f"fatal: {cwd} does not exist")
    return run_git(args, cwd, LOCAL_LIMIT)


@dataclass(frozen=True)
class Snapshot:
    """Everything `git submodule update --init` may change for one submodule, as it was before."""

    root: Path
    sd_dir: Path
    name: str
    config: PathState
    modules: PathState  # .git/modules itself: the first clone of any submodule creates it
    module_dir: PathState
    module_files: tuple[PathState, ...]  # HEAD and config inside .git/modules/<name>, when it existed
    dot_git: PathState
    sd_entries: frozenset[str] | None  # names in sd-scripts/, None when it was no folder
    gitlink: str
    superproject: RepoState
    submodule: RepoState | None  # None when sd-scripts was no checkout

    @classmethod
    def take(cls, root: Path, sd_dir: Path, name: str) -> Snapshot:
        config = _git_path(root, "config")
        module_dir = _git_path(root, f"modules/{name}")
        module_state = PathState.read(module_dir)
        inner = tuple(PathState.read(module_dir / f) for f in ("HEAD", "config")) if module_state.kind == "dir" else ()
        dot_git = PathState.read(sd_dir / ".git")
        entries = frozenset(p.name for p in sd_dir.iterdir()) if sd_dir.is_dir() else None
        gitlink = _git(["ls-files", "-s", "--", name], root).stdout
        sub = RepoState.read(sd_dir) if dot_git.kind != "missing" else None
        return cls(root, sd_dir, name, PathState.read(config), PathState.read(module_dir.parent), module_state,
                   inner, dot_git, entries, gitlink, RepoState.read(root), sub)

    def restore(self) -> None:
        """Undo a failed update: the submodule's HEAD first (git needs its clone for that), then the files."""
        if self.submodule is not None and RepoState.read(self.sd_dir).head != self.submodule.head:
            target = self.submodule.branch.removeprefix("refs/heads/") or self.submodule.head
            _git(["checkout", "-q", target, "--"], self.sd_dir)
        self.config.restore()
        if self.module_dir.kind == "missing":
            self.module_dir.restore()
        if self.modules.kind == "missing":
            self.modules.restore()
        for state in self.module_files:
            state.restore()
        self.dot_git.restore()
        self._restore_sd_dir()

    def _restore_sd_dir(self) -> None:
        if self.sd_entries is None:
            if self.sd_dir.is_dir():
                shutil.rmtree(self.sd_dir)  # it did not exist: all of it came from the failed update
            return
        if self.submodule is not None:
            return  # a checkout: git put back its own files, or `problems` says what differs
        for path in self.sd_dir.iterdir():  # an empty submodule folder: remove what the failed clone wrote
            if path.name not in self.sd_entries:
                PathState(path, "missing").restore()

    def problems(self) -> list[str]:
        """What is not as it was (empty: proven restored): git status in both repositories, HEADs, the gitlink."""
        found = []
        now = RepoState.read(self.root)
        if now != self.superproject:
            found.append(f"kohya_ss: {_difference(self.superproject, now)}")
        if _git(["ls-files", "-s", "--", self.name], self.root).stdout != self.gitlink:
            found.append("kohya_ss's pinned commit changed")
        if self.submodule is not None:
            sub = RepoState.read(self.sd_dir)
            if sub != self.submodule:
                found.append(f"sd-scripts: {_difference(self.submodule, sub)}")
        elif (self.sd_dir / ".git").exists():
            found.append(f"{self.sd_dir / '.git'} is still there")
        return found


def _git_path(root: Path, name: str) -> Path:
    """Where git keeps `name` for this checkout (.git/config, .git/modules/...; worktrees differ)."""
    found = _git(["rev-parse", "--git-path", name], root)
    path = Path(found.stdout.strip() or f".git/{name}")
    return path if path.is_absolute() else root / path


def _difference(before: RepoState, after: RepoState) -> str:
    if after.status.startswith("git status failed"):
        return after.status
    if after.head != before.head:
        return f"HEAD is {after.head[:8] or 'unknown'}, was {before.head[:8] or 'unknown'}"
    return "git status differs from before"
