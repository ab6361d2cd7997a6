"""The command line as a whole: help text, version, a light start-up, and a quick exit that loses nothing."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from kohya_prep.cli import cli
from tests.helpers import write_spec


def _all_commands(group: click.Group, ctx: click.Context, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        found.append((prefix + name, command))
        if isinstance(command, click.Group):
            found.extend(_all_commands(command, ctx, prefix + name + " "))
    return found


def test_every_command_has_help_text() -> None:
    ctx = click.Context(cli)
    for name, command in _all_commands(cli, ctx):
        assert command.help and command.help.strip(), f"'{name}' has no help text"


@pytest.mark.parametrize("args", [["--help"], ["dataset", "--help"]], ids=["root", "dataset"])
def test_help_exits_zero(args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("kohya-prep, version ")


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys; from kohya_prep.cli import cli\n"
        "try:\n    cli(['--help'], prog_name='kohya-prep')\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('PIL', 'cv2', 'numpy', 'git', 'psutil', 'toml') if m in sys.modules]\n"
        "print('HEAVY:' + ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("HEAVY:"), out


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["frobnicate"])
    assert result.exit_code == 2


# The console script leaves without the interpreter's teardown (cli.exit_now). These run it as a user does, in a
# fresh process, and check that leaving that way loses nothing: status, output, exit handlers, running threads.

def _console_script(before: str = "") -> str:
    """`python -c` code that runs `before`, then the console script on its own arguments."""
    return f"{before}\nimport sys\nfrom kohya_prep.cli import main\nsys.argv = ['kohya-prep', *sys.argv[1:]]\nmain()\n"


def _console(args: list[str], before: str = "", **run: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _console_script(before), *args], capture_output=True, text=True,
                          timeout=120, **run)


@pytest.mark.parametrize(("args", "status", "stream", "start"), [
    (["--version"], 0, "stdout", "kohya-prep, version "),
    (["frobnicate"], 2, "stderr", "Usage: kohya-prep"),
    (["dataset", "build", "missing.toml"], 1, "stderr", "Error: "),
])
def test_the_console_script_keeps_the_exit_status(tmp_path: Path, args: list[str], status: int, stream: str,
                                                  start: str) -> None:
    done = _console(args, cwd=tmp_path)
    assert done.returncode == status
    assert getattr(done, stream).startswith(start)


def test_exit_handlers_run_after_all_the_output(tmp_path: Path) -> None:
    """A build's whole --json report reaches the pipe, and an exit handler still runs after it."""
    crops = [{"name": f"c{n}", "box": [n, n, 100, 100], "caption": "x " * 200} for n in range(40)]
    spec = write_spec(tmp_path, crops)
    done = _console(["dataset", "build", str(spec), "--json"],
                    before="import atexit; atexit.register(lambda: print('handler ran', flush=True))")
    assert done.returncode == 0, done.stderr
    report, handler = done.stdout.splitlines()
    assert len(json.loads(report)["rendered"]) == 40 and len(report) > 16_384  # more than one pipe buffer
    assert handler == "handler ran"


def test_a_message_exit_prints_it_with_status_1() -> None:
    done = subprocess.run([sys.executable, "-c", "from kohya_prep.cli import exit_now; exit_now('stopped here')"],
                          capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (1, "stopped here\n")


def test_a_thread_that_has_not_returned_is_waited_for() -> None:
    """A non-daemon thread still running when the command ends gets the interpreter's normal exit, which waits.
    The thread waits for a line on stdin that is sent only once the command's own output has arrived."""
    thread = ("import sys, threading\n"
              "threading.Thread(target=lambda: print('thread:', sys.stdin.readline().strip(), flush=True)).start()")
    with subprocess.Popen([sys.executable, "-c", _console_script(thread), "--version"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None and child.stdin is not None
        first = child.stdout.readline()
        with contextlib.suppress(BrokenPipeError):  # a child that did not wait is gone already
            child.stdin.write("go\n")
            child.stdin.close()
        rest = child.stdout.read()
        status = child.wait(timeout=120)
    assert first.startswith("kohya-prep, version ")
    assert (rest, status) == ("thread: go\n", 0)


_THREADS_AT_EXIT = ("import atexit, os\n"
                    "def _count():\n"
                    "    with open('/proc/self/status') as status:\n"
                    "        threads = next(line.split()[1] for line in status if line.startswith('Threads:'))\n"
                    "    print(threads, os.environ.get('OPENBLAS_NUM_THREADS'), flush=True)\n"
                    "atexit.register(_count)")


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="counts the process's threads in /proc")
@pytest.mark.parametrize(("given", "seen"), [(None, "1"), ("", "1"), ("2", "2")])
def test_a_build_starts_no_blas_threads_unless_asked(tmp_path: Path, given: str | None, seen: str) -> None:
    """numpy's OpenBLAS would start a spinning thread for every core but one; a build makes no BLAS call, so it asks
    for none. A value the user set is kept."""
    spec = write_spec(tmp_path, [{"name": "a", "box": [0, 0, 200, 200]}])
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    done = _console(["dataset", "build", str(spec)], before=_THREADS_AT_EXIT, env=env)
    assert done.returncode == 0, done.stderr
    threads, value = done.stdout.splitlines()[-1].split()
    assert value == seen
    if not given:
        assert threads == "1"  # the main thread alone: render threads have returned, and no BLAS pool was made
