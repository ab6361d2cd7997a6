"""`--fix` for the sd-scripts submodule: `git submodule update --init --recursive` as a transaction.

Before git runs, gitstate.Snapshot records all it may change; when git fails or stays silent past the limit,
the snapshot is put back and checked, and the row names the real cause with git's own line. A checkout that
would carry local changes or leave the user's own commits to the reflog is not moved at all (submodule.blocked):
doctor refuses and says which command keeps them, rather than inventing a branch for them.
"""

from __future__ import annotations

from dataclasses import dataclass

from kohya_prep.doctor.checks import CheckResult, fail
from kohya_prep.doctor.gitrun import GitTimeout, Progress, run_git
from kohya_prep.doctor.gitstate import Snapshot
from kohya_prep.doctor.locate import Install
from kohya_prep.doctor.submodule import SUBMODULE, SubmoduleStatus, blocked, needs_checkout

DEFAULT_GIT_TIMEOUT = 60.0

# git's words for each cause, checked in this order (a proxy failure also says "Failed to connect").
_CAUSES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("missing", ("did not contain", "not our ref", "reference is not a tree", "unadvertised object",
                 "no such remote ref", "upload-pack: not our ref", "couldn't find remote ref")),
    ("auth", ("Authentication failed", "could not read Username", "could not read Password",
              "terminal prompts disabled", "Permission denied (publickey", "HTTP Basic: Access denied",
              "The requested URL returned error: 403", "The requested URL returned error: 401")),
    ("tls", ("SSL certificate problem", "server certificate verification failed", "SSL_ERROR", "gnutls_handshake",
             "SSL_connect", "schannel", "OpenSSL", "unable to get local issuer certificate", "Proxy CONNECT aborted",
             "from proxy after CONNECT", "Received HTTP code 407", "Could not resolve proxy", "proxy")),
    ("unreachable", ("Could not resolve host", "Failed to connect", "Connection timed out", "Network is unreachable",
                     "Connection refused", "Operation timed out")),
    ("not-found", ("Repository not found", "does not appear to be a git repository", "not found", "error: 404",
                   "returned error: 404")),
    ("local-changes", ("would be overwritten by checkout",)),
)


@dataclass(frozen=True)
class FixOutcome:
    """What --fix did: a failed row (and nothing changed), or the line for `fixed`, or neither (nothing to do)."""

    failure: CheckResult | None = None
    done: str | None = None


def fix_submodule(install: Install, status: SubmoduleStatus, to_pinned: bool = False,
                  limit: float = DEFAULT_GIT_TIMEOUT, progress: Progress | None = None) -> FixOutcome:
    """Check sd-scripts out at the pinned commit when that is needed and safe; put everything back on failure."""
    if not needs_checkout(status, to_pinned) or blocked(status):
        return FixOutcome()
    snapshot = Snapshot.take(install.root, install.sd_scripts_dir, SUBMODULE)
    if progress is not None:
        progress(f"fetching sd-scripts from {status.url} (gives up after {limit:g} s without progress)")
    args = ["submodule", "update", "--init", "--recursive", "--progress", "--", SUBMODULE]
    timed_out: float | None = None
    try:
        result = run_git(args, install.root, limit, progress)
    except GitTimeout as err:
        stderr, timed_out = err.stderr, err.limit
    except OSError as err:
        return FixOutcome(fail("sd-scripts", f"git could not be run: {err.strerror or err}", "install git"))
    else:
        if result.returncode == 0:
            return FixOutcome(done=_done_line(status))
        stderr = result.stderr
    snapshot.restore()
    finding, fix = describe_git_failure(stderr, status.url, status.recorded, timed_out)
    return FixOutcome(fail("sd-scripts", finding + _restored_note(snapshot), fix))


def _done_line(status: SubmoduleStatus) -> str:
    pin = (status.recorded or "")[:8]
    if status.relation == "newer":
        return f"moved sd-scripts back from {(status.actual or '')[:8]} (newer) to {pin}, the commit kohya_ss pins"
    return f"checked out sd-scripts at {pin}, the commit kohya_ss pins"


def _restored_note(snapshot: Snapshot) -> str:
    problems = snapshot.problems()
    if problems:
        return f"; doctor could not put everything back: {'; '.join(problems)}"
    both = "kohya_ss and sd-scripts" if snapshot.submodule is not None else "kohya_ss"
    return f"; nothing was changed (checked: git status works in {both}, HEADs as before)"


def describe_git_failure(stderr: str, url: str | None, pin: str | None = None,
                         timed_out: float | None = None) -> tuple[str, str]:
    """Say in one line why git could not fetch sd-scripts, quoting git's own line, and the fix for that cause."""
    again = "then run kohya-prep doctor --fix again"
    if timed_out is not None:
        return (f"git printed nothing for {timed_out:g} s while fetching {url}, so doctor stopped it (the remote does "
                "not answer: a firewall, a stalled proxy?)",
                f"check that `git ls-remote {url}` answers, or give it longer with --git-timeout SECONDS; {again}")
    cause, line = _cause(stderr)
    said = f" (git: {line})" if line else ""
    short = (pin or "")[:8]
    if cause == "missing":
        return (f"{url} answers but has no commit {short}, the one kohya_ss pins (a mirror or fork behind "
                f"kohya-ss/sd-scripts, or a commit not pushed yet){said}",
                f"point the submodule at a remote that has it (`git submodule set-url sd-scripts "
                f"https://github.com/kohya-ss/sd-scripts.git` in kohya_ss), or update your mirror; {again}")
    fixes = {
        "auth": (f"{url} refused the credentials (or asked for some){said}",
                 f"check your access with `git ls-remote {url}` (a token, an SSH key); {again}"),
        "tls": (f"the TLS or proxy connection to {url} failed{said}",
                f"check the proxy (https_proxy, `git config --get http.proxy`) and the system's CA certificates; "
                f"`git ls-remote {url}` shows the same error; {again}"),
        "unreachable": (f"git could not reach {url} (no network?){said}", f"check the network; {again}"),
        "not-found": (f"git found no repository at {url} (unreachable URL){said}",
                      f"check the URL in .gitmodules (`git submodule set-url sd-scripts URL`); {again}"),
        "local-changes": (f"local changes in sd-scripts block the checkout; doctor left them alone{said}",
                          f"`git stash` them in sd-scripts, {again}, then `git stash pop`"),
    }
    return fixes.get(cause, (f"git failed fetching {url}{said}", f"check the network and the URL in .gitmodules; {again}"))


def _cause(stderr: str) -> tuple[str, str]:
    """The cause and the line of git's output that shows it (the last error line when no cause is known)."""
    lines = [line.strip(" '") for line in stderr.splitlines() if line.strip(" '")]
    for cause, signs in _CAUSES:
        for line in lines:
            if any(sign in line for sign in signs):
                return cause, line
    errors = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return "other", (errors or lines or [""])[-1]
