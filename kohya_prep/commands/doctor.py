"""`kohya-prep doctor`: parse options, run the checks, render the table or JSON, exit 0/1."""

from __future__ import annotations

from pathlib import Path

import click

from kohya_prep.commands.common import FilePath, FiniteFloat, emit, json_option

MAX_TIMEOUT_S = 3600.0  # an hour: a probe that takes longer is hung


@click.command(name="doctor")
@click.option(
    "--kohya-dir",
    type=click.Path(path_type=Path),
    help="The kohya_ss (or sd-scripts) folder. Default: $KOHYA_SS_DIR, ~/kohya_ss, ~/tools/kohya_ss, then the current folder "
    "and its parents.",
)
@click.option(
    "--fix",
    is_flag=True,
    help="Initialize/update the sd-scripts submodule and write a default accelerate config when none exists.",
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
@click.pass_context
def doctor(ctx: click.Context, kohya_dir: Path | None, fix: bool, as_json: bool, data_dir: Path, gpu_timeout: float,
           venv_timeout: float) -> None:
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

    options = DoctorOptions(kohya_dir, data_dir.resolve(), fix, gpu_timeout, venv_timeout)
    report = run_doctor(options)
    emit(ctx, as_json, report.exit_code, render_text(report), errors=notices(report.checks, "fail"),
         warnings=notices(report.checks, "warn"), data=report.to_dict())
