"""The command line as a whole: help text, version, and a light start-up."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from kohya_prep.cli import cli


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
