"""The text of every file train-config writes, from the plan: dataset config, args TOML, train.sh, train.bat.

Each TOML is rendered by hand with a comment per value, then re-read with `toml` (sd-scripts' reader) and tomllib
and compared with the intended data before anything reaches the disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kohya_prep.trainconfig.argtable import arg_table
from kohya_prep.trainconfig.dataset_toml import dataset_tables
from kohya_prep.trainconfig.plan import TrainConfigPlan
from kohya_prep.trainconfig.toml_text import Entry, Table, checked_render

DATASET_CONFIG = "dataset_config.toml"
TRAINING_CONFIG = "training.toml"
TRAIN_SH = "train.sh"
TRAIN_BAT = "train.bat"

_SECTION_ORDER = ("model", "network", "optimizer", "training", "flux", "memory", "saving", "logging", "sampling", "dataset")


@dataclass(frozen=True)
class Launch:
    """How the scripts start training: where sd-scripts and its interpreter are, and on how many GPUs."""

    config_dir: str
    sd_scripts_dir: str | None
    python: str | None
    num_processes: int
    mixed_precision: str
    dataset_config: str | None = None  # the user's own dataset config, passed instead of ours
    host: str = "posix"  # the OS whose paths the set holds ('posix' or 'windows'): the other's script says so
    host_name: str = "Linux"


def render_files(plan: TrainConfigPlan, launch: Launch, header: list[str]) -> dict[str, str]:
    """File name -> text for the whole set (no dataset_config.toml when the dataset config is the user's own)."""
    files = {} if plan.foreign else {DATASET_CONFIG: render_dataset_config(plan, header)}
    files[TRAINING_CONFIG] = render_training_config(plan, header)
    files[TRAIN_SH] = render_train_sh(plan, launch) if launch.host == "posix" else render_foreign_sh(plan, launch)
    files[TRAIN_BAT] = render_train_bat(plan, launch) if launch.host == "windows" else render_foreign_bat(plan, launch)
    return files


def steps_lines(plan: TrainConfigPlan) -> list[str]:
    """The steps preview as comment lines (also printed by the command)."""
    plans = plan.epochs_all or (plan.epoch,)
    lines = []
    for index, e in enumerate(plans):
        where = f"datasets[{index}] " if len(plans) > 1 else ""
        lines.append(f"{where}samples per epoch: {e.num_train_images} train (images x repeats)"
                     + (f" + {e.reg_samples} reg" if e.reg_samples else "") + f" = {e.samples_per_epoch}")
        lines.append(f"{where}batches per epoch: {e.batches_per_epoch} (batch {e.batch_size}, {len(e.buckets)} bucket(s), "
                     "ceil per bucket)")
    e = plans[0]
    lines.append(f"steps per epoch: {plan.steps_per_epoch} (/ {e.num_processes} process(es) / {e.grad_accum} grad "
                 "accumulation)")
    lines.append(f"total: {plan.max_train_epochs} epochs = {plan.max_train_steps} steps")
    if plan.validation.split > 0:
        lines.append(f"validation: {len(plan.validation.held_out)} image(s) held out (validation_split "
                     f"{plan.validation.split}), not in the counts above")
    lines.append(f"steps policy: the same epochs on every card; learning rates x {plan.scaling.factor:.3g} "
                 f"= sqrt({plan.scaling.images_per_step} images per step)")
    return lines


def render_dataset_config(plan: TrainConfigPlan, header: list[str]) -> str:
    """dataset_config.toml for --dataset_config."""
    head = [*header, f"Dataset config for {plan.family.script} (--dataset_config). Keys at the levels sd-scripts' "
            "schema allows; it wins over the same options in training.toml."]
    tables = dataset_tables(plan.general, plan.dataset, plan.subsets)
    return checked_render(head, tables, plan.dataset_data())


def render_training_config(plan: TrainConfigPlan, header: list[str]) -> str:
    """training.toml for --config_file; sections are only for reading (sd-scripts lifts keys one level)."""
    table = arg_table(plan.family.name)
    by_section: dict[str, list[Entry]] = {}
    for key, setting in plan.args.items():
        by_section.setdefault(table[key].section, []).append(Entry(key, setting.value, setting.why))
    tables = [Table(name, by_section[name]) for name in _SECTION_ORDER if name in by_section]
    expected: dict[str, Any] = {t.name: {e.key: e.value for e in t.entries} for t in tables}
    head = [*header, f"Training arguments for {plan.family.script} (--config_file).",
            "A flag set true here cannot be switched off on the command line: re-run train-config with --set KEY=false.",
            "Steps preview:",
            *(f"  {line}" for line in steps_lines(plan))]
    return checked_render(head, tables, expected)


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _accelerate_flags(launch: Launch) -> str:
    processes = f"--multi_gpu --num_processes {launch.num_processes}" if launch.num_processes > 1 else "--num_processes 1"
    return f"--num_cpu_threads_per_process 1 {processes} --mixed_precision {launch.mixed_precision}"


def render_train_sh(plan: TrainConfigPlan, launch: Launch) -> str:
    """train.sh: accelerate launch with the kohya venv's interpreter; extra arguments go to the trainer."""
    script = plan.family.script
    sd_scripts = launch.sd_scripts_dir or "/path/to/kohya_ss/sd-scripts"
    python = launch.python or ("" if launch.sd_scripts_dir else "/path/to/kohya_ss/venv/bin/python")
    note = [] if launch.sd_scripts_dir else ["# sd-scripts was not found: edit SD_SCRIPTS and PYTHON, or run doctor --fix."]
    if launch.sd_scripts_dir and not launch.python:
        note = ["# The kohya venv's interpreter was not found: set PYTHON to it (this script stops until then)."]
    return "\n".join([
        "#!/usr/bin/env bash",
        f"# Written by kohya-prep train-config: trains the LoRA with sd-scripts' {script}.",
        "# Arguments given to this script are passed on to the trainer (they override training.toml).",
        *note,
        "set -euo pipefail",
        f"SD_SCRIPTS={_sh_quote(sd_scripts)}",
        f"PYTHON={_sh_quote(python)}",
        f"CONFIG_DIR={_sh_quote(launch.config_dir)}",
        f'if [ ! -f "$SD_SCRIPTS/{script}" ]; then',
        f'  echo "train.sh: no {script} in $SD_SCRIPTS; edit SD_SCRIPTS in this script, or run: kohya-prep doctor --fix" >&2',
        "  exit 1",
        "fi",
        *_sh_python_guard(launch),
        'cd "$SD_SCRIPTS"',
        f'exec "$PYTHON" -m accelerate.commands.launch {_accelerate_flags(launch)} \\',
        f'  "$SD_SCRIPTS/{script}" \\',
        f'  --config_file "$CONFIG_DIR/{TRAINING_CONFIG}" \\',
        f'  --dataset_config {_sh_dataset_config(launch)} \\',
        '  "$@"',
        "",
    ])


def _sh_dataset_config(launch: Launch) -> str:
    return _sh_quote(launch.dataset_config) if launch.dataset_config else f'"$CONFIG_DIR/{DATASET_CONFIG}"'


def _bat_dataset_config(launch: Launch) -> str:
    return f'"{launch.dataset_config}"' if launch.dataset_config else f'"%CONFIG_DIR%\\{DATASET_CONFIG}"'


def _elsewhere(launch: Launch, other: str) -> str:
    return (f"this set was written on {launch.host_name}, with {launch.host_name} paths ({launch.config_dir}); "
            f"on {other}, run kohya-prep train-config there so the dataset, model and output paths are its own")


def render_foreign_sh(plan: TrainConfigPlan, launch: Launch) -> str:
    """train.sh in a set written on Windows: says so, and stops, rather than run with Windows paths."""
    return "\n".join(["#!/usr/bin/env bash", f"# Written by kohya-prep train-config on {launch.host_name}: use train.bat.",
                       f"echo {_sh_quote('train.sh: ' + _elsewhere(launch, 'Linux or macOS'))} >&2", "exit 1", ""])


def _bat_echo(text: str) -> str:
    """Text for cmd's echo: its special characters escaped."""
    for char in "^&|<>":
        text = text.replace(char, "^" + char)
    return text.replace("%", "%%")


def render_foreign_bat(plan: TrainConfigPlan, launch: Launch) -> str:
    """train.bat in a set written on Linux or macOS: says so and waits, rather than run with mixed path styles."""
    return "\r\n".join(["@echo off", f"rem Written by kohya-prep train-config on {launch.host_name}: use train.sh there.",
                         f"echo train.bat: {_bat_echo(_elsewhere(launch, 'Windows'))}.", "pause", "exit /b 1", ""])


def render_train_bat(plan: TrainConfigPlan, launch: Launch) -> str:
    """train.bat: the same launch for Windows' cmd, with CRLF line endings."""
    script = plan.family.script
    sd_scripts = launch.sd_scripts_dir or r"C:\path\to\kohya_ss\sd-scripts"
    python = launch.python or ("" if launch.sd_scripts_dir else r"C:\path\to\kohya_ss\venv\Scripts\python.exe")
    lines = [
        "@echo off",
        f"rem Written by kohya-prep train-config: trains the LoRA with sd-scripts' {script}.",
        "rem Arguments given to this script are passed on to the trainer (they override training.toml).",
        "setlocal",
        f'set "SD_SCRIPTS={sd_scripts}"',
        f'set "PYTHON={python}"',
        f'set "CONFIG_DIR={launch.config_dir}"',
        *_bat_python_guard(launch),
        f'if not exist "%SD_SCRIPTS%\\{script}" (',
        f"  echo train.bat: no {script} in %SD_SCRIPTS%; edit SD_SCRIPTS in this file, or run: kohya-prep doctor --fix",
        "  pause",
        "  exit /b 1",
        ")",
        'cd /d "%SD_SCRIPTS%"',
        f'"%PYTHON%" -m accelerate.commands.launch {_accelerate_flags(launch)} "%SD_SCRIPTS%\\{script}" '
        f'--config_file "%CONFIG_DIR%\\{TRAINING_CONFIG}" --dataset_config {_bat_dataset_config(launch)} %*',
        # Keep a double-clicked window open when training fails, so its last lines can be read.
        'set "STATUS=%ERRORLEVEL%"',
        'if not "%STATUS%"=="0" (',
        "  echo train.bat: training stopped with exit code %STATUS%; the lines above say why.",
        "  pause",
        ")",
        "exit /b %STATUS%",
        "",
    ]
    return "\r\n".join(lines)


# Without a known venv, a bare `python` would be whatever is on PATH (often one without torch or accelerate),
# so the scripts refuse to start until PYTHON is set. No parentheses in the text: they would end cmd's block.
_NO_VENV = ("the kohya venv's python is unknown: set PYTHON in this file to it, e.g. kohya_ss/venv/bin/python or "
            "kohya_ss/venv/Scripts/python.exe, or re-run kohya-prep train-config with KOHYA_VENV=PATH")


def _sh_python_guard(launch: Launch) -> list[str]:
    if launch.python:
        return []
    return ['if ! command -v "$PYTHON" >/dev/null 2>&1; then', f'  echo "train.sh: {_NO_VENV}" >&2', "  exit 1", "fi"]


def _bat_python_guard(launch: Launch) -> list[str]:
    if launch.python:
        return []
    return ['if "%PYTHON%"=="" (', f"  echo train.bat: {_NO_VENV}", "  pause", "  exit /b 1", ")"]
