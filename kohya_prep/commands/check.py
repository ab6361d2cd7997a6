"""`kohya-prep dataset check`: parse options, run the check, print the report, exit 0 / 1."""

from __future__ import annotations

from pathlib import Path

import click

from kohya_prep.commands.common import emit, json_option


@click.command(name="check")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--dataset-config", type=click.Path(path_type=Path),
              help="sd-scripts dataset TOML (--dataset_config) to check instead of folders.")
@click.option("--caption-extension",
              help="Caption extension sd-scripts will use (its default: .caption; .txt for a kohya-prep spec).")
@click.option("--resolution", type=click.IntRange(64, 8192), help="Training resolution (default 512, or the spec's).")
@click.option("--batch-size", type=click.IntRange(1, 4096), help="train_batch_size, for steps per epoch (default 1).")
@click.option("--trigger", help="Trigger word every training caption must hold (default: the most common first tag).")
@click.option("--no-duplicates", is_flag=True, help="Skip the perceptual-hash duplicate scan (reads headers only: fast).")
@json_option
@click.pass_context
def check(ctx: click.Context, path: Path | None, dataset_config: Path | None, caption_extension: str | None,
          resolution: int | None, batch_size: int | None, trigger: str | None, no_duplicates: bool, as_json: bool) -> None:
    """Check a dataset the way sd-scripts will read it, before training.

    PATH is a train_data_dir (the parent of N_name folders), a single subset folder (checked as if its
    parent were given, which is what sd-scripts wants), a built dataset folder (train/ and reg/), or a
    kohya-prep dataset spec (.toml). With --dataset-config, sd-scripts' dataset TOML is checked instead.

    Reports errors (training fails or silently goes wrong), warnings and facts, each with its fix.
    Exit 0: no errors (warnings allowed); 1: errors; 2: usage.

    \b
    Examples:
      kohya-prep dataset check ~/lora/mychar/img --caption-extension .txt --resolution 512
      kohya-prep dataset check dataset/demo.toml --batch-size 2
      kohya-prep dataset check --dataset-config dataset.toml --no-duplicates --json
    """
    from kohya_prep.check import CheckOptions, check_dataset, notices, render_text, report_data

    if path is None and dataset_config is None:
        raise click.UsageError("give PATH (a train_data_dir, a subset folder or a dataset spec) or --dataset-config TOML.")
    options = CheckOptions(path, dataset_config, caption_extension, resolution, batch_size, trigger, not no_duplicates)
    report = check_dataset(options)
    emit(ctx, as_json, report.exit_code, render_text(report), errors=notices(report.errors),
         warnings=notices(report.warnings), data=report_data(report))
