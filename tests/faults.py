"""Real file-system faults for tests: a small tmpfs, a read-only bind mount, `chattr +i`, RLIMIT_FSIZE, and a
process without root's permission override. Each skips the test, with the reason, where the machine cannot."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "4m", inodes: int | None = None) -> Iterator[Path]:
    """A tmpfs of `size` (and at most `inodes` files) mounted at `path` for the block."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (f",nr_inodes={inodes}" if inodes else "")
    mounted = _run("mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        _run("umount", "-l", str(path))


@contextlib.contextmanager
def read_only(source: Path, at: Path) -> Iterator[Path]:
    """`source` bind-mounted read-only at `at` (created) for the block."""
    at.mkdir(parents=True, exist_ok=True)
    bound = _run("mount", "--bind", str(source), str(at))
    if bound.returncode != 0:
        pytest.skip(f"cannot bind-mount here (needs root with CAP_SYS_ADMIN): {bound.stderr.strip()}")
    try:
        remounted = _run("mount", "-o", "remount,ro,bind", str(at))
        if remounted.returncode != 0:
            pytest.skip(f"cannot remount a bind mount read-only here: {remounted.stderr.strip()}")
        yield at
    finally:
        _run("umount", "-l", str(at))


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[Path]:
    """`chattr +i path` for the block: not even root may change, rename or add to it."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    made = _run("chattr", "+i", str(path))
    if made.returncode != 0:
        pytest.skip(f"chattr +i is not possible here (needs root and ext4/xfs/btrfs): {made.stderr.strip()}")
    try:
        yield path
    finally:
        _run("chattr", "-i", str(path))


def free_bytes(path: Path) -> int:
    info = os.statvfs(path)
    return info.f_bavail * info.f_frsize


def fill(path: Path, leave: int) -> Path:
    """A filler file that leaves only about `leave` bytes free on the file system of `path`."""
    filler = path / "filler.bin"
    with open(filler, "wb") as handle, contextlib.suppress(OSError):
        for block in (b"\1" * 65536, b"\1" * 4096):
            while free_bytes(path) >= leave + len(block):
                handle.write(block)
                handle.flush()
    return filler


def kohya_prep(*args: str, file_size_limit: int | None = None, no_permission_override: bool = False,
               cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in its own process, optionally with RLIMIT_FSIZE or without root's permission override."""
    command = [sys.executable, "-B", "-m", "kohya_prep", *args]
    if no_permission_override and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root, which ignores permission bits, and setpriv (util-linux) is missing to drop that")
        command = [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", "--inh-caps=-all", "--", *command]

    def limit() -> None:
        if file_size_limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, not a kill
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    return subprocess.run(command, capture_output=True, text=True, check=False, preexec_fn=limit, cwd=cwd)


def assert_one_line_failure(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """A subprocess run of the CLI failed with exit 1 and one `Error: ...` line holding every fragment."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    return result.stderr
