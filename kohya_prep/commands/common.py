"""What every command shares at the edge: the `--json` option and the one way a result or an error is printed.

Errors raised as KohyaPrepError (exit 1) and click's usage errors (exit 2) are printed by `cli.LazyGroup`: as
`Error: ...` on stderr, or, when `--json` was asked for, as the same JSON envelope a success prints (output.py).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

from kohya_prep.output import Notice, dumps, envelope

_JSON = "kohya_prep.json"
SPEC_FIX = "pass the spec file (.toml) itself, not its folder"
F = TypeVar("F", bound=Callable[..., Any])


def _remember(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[_JSON] = command_name(ctx)  # meta is shared by the whole context chain
    return value


def json_option(function: F) -> F:
    """`--json`: print the result as JSON in the shape every command shares (README, 'JSON output')."""
    option = click.option("--json", "as_json", is_flag=True, is_eager=True, callback=_remember,
                          help="Print the result as JSON (the shape every command shares; see the README).")
    return option(function)


def command_name(ctx: click.Context) -> str:
    """'dataset build', 'doctor', ...: the command path without the program name."""
    return " ".join(ctx.command_path.split()[1:])


def json_command(ctx: click.Context) -> str | None:
    """The command whose --json was given, or None in text mode."""
    value = ctx.meta.get(_JSON)
    return str(value) if value else None


def emit(ctx: click.Context, as_json: bool, exit_code: int, text: Callable[[], str], errors: Iterable[Notice] = (),
         warnings: Iterable[Notice] = (), data: Callable[[], dict[str, Any]] | None = None) -> None:
    """Print the result (the text, or the JSON envelope with `data`) and end the command with its exit code. Both
    come as functions: only the one printed is made (on a 2,000-crop build each takes tens of ms)."""
    if as_json:
        click.echo(dumps(envelope(command_name(ctx), exit_code, errors, warnings, data() if data else None),
                         pretty=_terminal()))
    else:
        shown = text()
        click.echo(shown, nl=not shown.endswith("\n"))
    ctx.exit(exit_code)


def print_error_json(command: str, exit_code: int, errors: Iterable[Notice]) -> None:
    click.echo(dumps(envelope(command, exit_code, errors), pretty=_terminal()))


def _terminal() -> bool:
    """Whether standard output is a terminal (the JSON is indented there)."""
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        return False


class FiniteFloat(click.FloatRange):
    """A FloatRange that refuses NaN and infinity: click's lets NaN through, since every comparison with it is false."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a number; give a number in the range {self._describe_range()}.", param, ctx)
        return number


class FilePath(click.Path):
    """click.Path whose "is a directory" / "is a file" errors say what to pass instead."""

    def __init__(self, *args: Any, fix: str = "", **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fix = fix

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as err:
            hint = self._hint(os.fsdecode(value))
            if not hint:
                raise
            self.fail(f"{err.message.rstrip('.')}; {hint}", param, ctx)

    def _hint(self, path: str) -> str:
        if os.path.isdir(path) and not self.dir_okay:
            try:
                found = sorted(name for name in os.listdir(path) if name.endswith(".toml"))[:3]
            except OSError:
                found = []
            examples = ", ".join(repr(os.path.join(path, name)) for name in found)
            return f"{self.fix} ({examples})" if found else self.fix
        if os.path.exists(path) and not os.path.isdir(path) and not self.file_okay:
            return self.fix
        return ""
