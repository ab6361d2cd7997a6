"""`kohya-prep doctor`: parse options, run the checks, render the table or JSON, exit 0/1."""

from __future__ import annotations

import json
from pathlib import Path

import click


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
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (checks, gpus, install).")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    default=".",
    show_default=True,
    help="Where the dataset and training outputs go (checked for free disk).",
)
@click.option(
    "--gpu-timeout", type=click.FloatRange(min=0.1), default=5.0, show_default=True, help="Seconds to wait for nvidia-smi."
)
@click.option(
    "--venv-timeout",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds to wait for the kohya venv probe (it imports torch).",
)
def doctor(kohya_dir: Path | None, fix: bool, as_json: bool, data_dir: Path, gpu_timeout: float, venv_timeout: float) -> None:
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
    from kohya_prep.doctor.report import DoctorOptions, render_text, run_doctor

    options = DoctorOptions(kohya_dir, data_dir.resolve(), fix, gpu_timeout, venv_timeout)
    report = run_doctor(options)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(render_text(report))
    raise SystemExit(report.exit_code)
