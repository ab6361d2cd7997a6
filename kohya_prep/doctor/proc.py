"""Run an outside program with a hard time limit that also ends whatever it started.

`subprocess.run(timeout=...)` kills only the direct child; a wrapper script's own child (a hung
nvidia-smi behind a shell script) keeps the pipes open and run() then waits for it anyway.
Starting a new session and killing the whole group avoids that.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys


def run_bounded(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Like subprocess.run(capture_output=True, text=True), but the timeout ends the whole process group."""
    posix = sys.platform != "win32"
    with subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=posix,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process, posix)
            process.communicate()
            raise
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


def _kill_group(process: subprocess.Popen[str], posix: bool) -> None:
    if posix:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    else:
        process.kill()
