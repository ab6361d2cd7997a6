"""The `kohya-prep` command line: a thin shell that parses, calls the library, and renders.

Sub-commands load lazily so `kohya-prep --help` never imports Pillow, OpenCV or GitPython.
Each command module imports only click and the standard library at its top.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import os
import sys
import threading
from typing import Any, NoReturn

import click

from kohya_prep import __version__
from kohya_prep.errors import KohyaPrepError
from kohya_prep.output import Notice


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported only when used (or listed by --help)."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            module_name, attr = self.lazy_commands[cmd_name].split(":")
            command: click.Command = getattr(importlib.import_module(module_name), attr)
            return command
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        from kohya_prep.commands.common import json_command, print_error_json

        raw_args = [*getattr(ctx, "_protected_args", []), *ctx.args]
        try:
            return super().invoke(ctx)
        except KohyaPrepError as err:
            # A user mistake, not a bug: one clear sentence, no traceback.
            self._fail(ctx, json_command(ctx), 1, err.notices(), f"Error: {err}")
        except click.UsageError as err:
            command = json_command(ctx) or _json_in(raw_args, err)
            if command is None:
                raise
            print_error_json(command, 2, [Notice("usage", err.format_message())])
            ctx.exit(2)
        except KeyboardInterrupt:
            message = "Interrupted; nothing was changed that was not already complete."
            self._fail(ctx, json_command(ctx), 130, [Notice("interrupted", message)], message)

    @staticmethod
    def _fail(ctx: click.Context, command: str | None, code: int, notices: list[Notice], text: str) -> None:
        from kohya_prep.commands.common import print_error_json

        if command is not None:
            print_error_json(command, code, notices)
        else:
            click.echo(text, err=True)
        ctx.exit(code)


def _json_in(args: list[str], err: click.UsageError) -> str | None:
    """A usage error found before --json was processed: the command it was meant for, if --json was given."""
    given = args[: args.index("--")] if "--" in args else args
    if "--json" not in given:
        return None
    path = err.ctx.command_path if err.ctx is not None else ""
    return " ".join(path.split()[1:])


@click.group(
    cls=LazyGroup,
    lazy_commands={
        "dataset": "kohya_prep.commands.dataset:dataset",
        "doctor": "kohya_prep.commands.doctor:doctor",
        "train-config": "kohya_prep.commands.train_config:train_config",
    },
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="kohya-prep")
def cli() -> None:
    """From raw character art to a kohya-ss/sd-scripts LoRA run that starts as written.

    \b
    Typical session:
      kohya-prep doctor --fix                     # check and repair the kohya_ss install
      kohya-prep dataset build dataset/demo.toml --preview
      kohya-prep dataset build dataset/demo.toml  # the final, atomic build
      kohya-prep train-config dataset/demo.toml --family sd15 --vram 8
    """


# The cyclic garbage collector, tuned for one short command: a first collection every 50,000 new objects rather
# than 700 (a 2,000-crop build made 200 collections, 70 ms, some of them on render threads holding the GIL, and found
# next to nothing: a build's objects live until it ends). Reference counting still frees everything else at once.
GC_THRESHOLD = (50_000, 20, 20)


def main() -> None:
    """Console-script entry point."""
    tune_process()
    try:
        cli(prog_name="kohya-prep")
    except SystemExit as done:
        exit_now(done.code)


def tune_process() -> None:
    """The settings of a process that runs one short command (the console script's; `make bench` builds under them).

    numpy's OpenBLAS starts a thread for every core but one when numpy loads, and each spins for about 0.1 s before
    it sleeps: 90 ms of CPU taken from the render threads at the start of every build. kohya-prep makes no BLAS call
    (its integer matrix products are numpy's own loops), and its threads are the parallelism, as
    cv2.setNumThreads(1) says for OpenCV. A value the user set is kept; the doctor's probes inherit it.
    """
    if not os.environ.get("OPENBLAS_NUM_THREADS"):
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
    gc.freeze()  # the imports' objects are never garbage: no collection walks them again
    gc.set_threshold(*GC_THRESHOLD)


def exit_now(code: str | int | None) -> NoReturn:
    """Leave as sys.exit(code) does, without the interpreter's teardown.

    The teardown frees every module and object one by one: 15 ms after a build (300 modules, numpy and OpenCV
    among them), which the operating system does at once. What it does that matters is done first: the exit
    handlers run (they close logging and remove weakref.finalize'd temporary folders) and the standard streams are
    flushed, with the exit status Python gives when stdout cannot be flushed (120). A thread that has not returned
    gets the normal exit, which waits for it; no command leaves one.
    """
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    if code is None or isinstance(code, int):
        status = code or 0
    else:  # sys.exit("message"): printed, status 1
        print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()
    try:
        if sys.stdout is not None:  # None under pythonw
            sys.stdout.flush()
    except (OSError, ValueError):  # a closed pipe (`| head`), or a stream closed already
        status = status or 120
    with contextlib.suppress(OSError, ValueError):
        if sys.stderr is not None:
            sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":  # pragma: no cover
    main()
