"""Run git so that a remote which hangs cannot hang doctor: a limit on silence, and a progress line.

git prints progress to stderr while a fetch moves (`--progress` asks for it even without a terminal), so
"nothing printed for `limit` seconds" means the remote does not answer; then the whole process group is
ended (git's own children, git-remote-https or ssh, included). Credentials are never prompted for
(GIT_TERMINAL_PROMPT=0: an invisible prompt would be a hang too), and messages are git's English ones
(LC_ALL=C), which describe_git_failure() reads.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Progress = Callable[[str], None]


@dataclass(frozen=True)
class GitResult:
    returncode: int
    stdout: str
    stderr: str


class GitTimeout(Exception):
    """git printed nothing for `limit` seconds and was ended (internal; the caller turns it into a row)."""

    def __init__(self, limit: float, stderr: str):
        super().__init__(f"git printed nothing for {limit:g} s")
        self.limit = limit
        self.stderr = stderr


def git_env() -> dict[str, str]:
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "LANGUAGE": "C"}


def run_git(args: list[str], cwd: Path, limit: float, progress: Progress | None = None) -> GitResult:
    """`git ARGS` in `cwd`; raises GitTimeout when it stays silent for `limit` seconds, OSError when git is missing."""
    posix = sys.platform != "win32"
    with subprocess.Popen(["git", *args], cwd=cwd, env=git_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, start_new_session=posix) as process:
        chunks: queue.Queue[tuple[str, bytes]] = queue.Queue()
        readers = [threading.Thread(target=_pump, args=(name, pipe, chunks), daemon=True)
                   for name, pipe in (("out", process.stdout), ("err", process.stderr))]
        for reader in readers:
            reader.start()
        out, err = _collect(chunks, limit, progress, lambda: _kill_group(process, posix))
        process.wait()
    return GitResult(process.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


def _pump(name: str, pipe: object, chunks: queue.Queue[tuple[str, bytes]]) -> None:
    read = pipe.read1 if hasattr(pipe, "read1") else pipe.read  # type: ignore[attr-defined]
    with contextlib.suppress(ValueError, OSError):  # the pipe closed under us after a kill
        while data := read(65536):
            chunks.put((name, data))
    chunks.put((name, b""))


def _collect(chunks: queue.Queue[tuple[str, bytes]], limit: float, progress: Progress | None,
             kill: Callable[[], None]) -> tuple[bytes, bytes]:
    streams = {"out": b"", "err": b""}
    open_streams = 2
    while open_streams:
        try:
            name, data = chunks.get(timeout=limit)
        except queue.Empty:
            kill()
            raise GitTimeout(limit, streams["err"].decode("utf-8", "replace")) from None
        if not data:
            open_streams -= 1
            continue
        streams[name] += data
        if name == "err" and progress is not None:
            _report(data, progress)
    return streams["out"], streams["err"]


def _report(data: bytes, progress: Progress) -> None:
    # git redraws its progress with \r; the last piece is the newest state.
    pieces = [p.strip() for p in data.decode("utf-8", "replace").replace("\r", "\n").split("\n")]
    last = next((p for p in reversed(pieces) if p), None)
    if last:
        progress(last)


def _kill_group(process: subprocess.Popen[bytes], posix: bool) -> None:
    if posix:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    else:
        process.kill()
