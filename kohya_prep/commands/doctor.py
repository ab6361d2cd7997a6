"""`kohya-prep doctor`: parse options, run the checks, render the table or JSON, exit 0/1."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from kohya_prep.commands.common import FilePath, FiniteFloat, emit, json_option

MAX_TIMEOUT_S = 3600.0  # an hour: a probe that takes longer is hung


@click.command(name="doctor")
@click.option(
    "--kohya-dir",
    type=click.Path(path_type=Path),
    help="The kohya_ss (or sd-scripts) folder. Default: the install the current folder is in, then $KOHYA_SS_DIR, "
    "~/kohya_ss, ~/tools/kohya_ss.",
)
@click.option(
    "--venv",
    type=click.Path(path_type=Path),
    help="The kohya venv (or conda env, or its python) when it is not venv/ or .venv/ in the install. "
    "Default: $KOHYA_VENV.",
)
@click.option(
    "--fix",
    is_flag=True,
    help="Check the sd-scripts submodule out at the commit kohya_ss pins (never over local changes or commits only "
    "its HEAD holds; a failure puts everything back) and write a default accelerate config when none exists.",
)
@click.option(
    "--to-pinned",
    is_flag=True,
    help="With --fix: also move an sd-scripts checkout that is newer than the pin back to the pin.",
)
@json_option
@click.option(
    "--data-dir",
    type=FilePath(path_type=Path, exists=True, file_okay=False, fix="pass the folder the dataset and training outputs go in"),
    default=".",
    show_default=True,
    help="Where the dataset and training outputs go (checked for free disk).",
)
@click.option(
    "--gpu-timeout", type=FiniteFloat(min=0.1, max=MAX_TIMEOUT_S), default=5.0, show_default=True,
    help="Seconds to wait for nvidia-smi."
)
@click.option(
    "--venv-timeout",
    type=FiniteFloat(min=0.1, max=MAX_TIMEOUT_S),
    default=30.0,
    show_default=True,
    help="Seconds to wait for the kohya venv probe (it imports torch).",
)
@click.option(
    "--git-timeout",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    help="Seconds git may go without progress while --fix fetches sd-scripts before doctor stops it.",
)
@click.pass_context
def doctor(ctx: click.Context, kohya_dir: Path | None, venv: Path | None, fix: bool, to_pinned: bool, as_json: bool,
           data_dir: Path, gpu_timeout: float, venv_timeout: float, git_timeout: float) -> None:
    """Check and repair the kohya_ss training environment.

    Finds the install, checks the sd-scripts submodule, the NVIDIA GPUs (nvidia-smi), the kohya venv
    (Python, torch and its CUDA build, accelerate), accelerate's config, RAM, disk and git. Every warn
    or fail row names its fix. Exit status 0 when nothing fails, 1 otherwise.

    \b
    Examples:
      kohya-prep doctor
      kohya-prep doctor --kohya-dir ~/kohya_ss --fix
      kohya-prep doctor --json > doctor.json
    """
    from kohya_prep.doctor.report import notices, render_text
    from kohya_prep.doctor.run import DoctorOptions, run_doctor

    if to_pinned and not fix:
        raise click.UsageError("--to-pinned only changes what --fix does; pass --fix --to-pinned.")
    progress = TerminalProgress() if not as_json and sys.stderr.isatty() else None
    options = DoctorOptions(kohya_dir, data_dir.resolve(), fix, gpu_timeout, venv_timeout, to_pinned, git_timeout,
                            progress, venv)
    report = run_doctor(options)
    if progress is not None:
        progress.end()
    emit(ctx, as_json, report.exit_code, lambda: render_text(report), errors=notices(report.checks, "fail"),
         warnings=notices(report.checks, "warn"), data=report.to_dict)


class TerminalProgress:
    """One line on stderr that git's progress keeps rewriting; ended with a newline once doctor is done."""

    def __init__(self) -> None:
        self.shown = False

    def __call__(self, line: str) -> None:
        width = shutil.get_terminal_size((100, 20)).columns - 1
        click.echo(f"\r{line[:width]:<{width}}", nl=False, err=True)
        self.shown = True

    def end(self) -> None:
        if self.shown:
            click.echo(err=True)
