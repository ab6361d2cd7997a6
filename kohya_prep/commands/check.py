"""`kohya-prep dataset check`: parse options, run the check, print the report, exit 0 / 1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from kohya_prep.commands.common import emit, json_option

MAX_RESO = 8192


class Resolution(click.ParamType):
    """sd-scripts' --resolution: 'SIZE' or 'WIDTH,HEIGHT' (library/train_util.py: prepare_dataset_args)."""

    name = "SIZE|W,H"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int | tuple[int, int]:
        if isinstance(value, (int, tuple)):
            return value
        parts = str(value).replace("x", ",").split(",")
        try:
            numbers = [int(p) for p in parts]
        except ValueError:
            numbers = []
        if len(numbers) not in (1, 2) or not all(64 <= n <= MAX_RESO for n in numbers):
            self.fail(f"{value!r} is not a resolution: give 512 or 768,512 (each side 64 to {MAX_RESO})", param, ctx)
        return numbers[0] if len(numbers) == 1 else (numbers[0], numbers[1])


def _count(high: int) -> click.IntRange:
    return click.IntRange(1, high)


@click.command(name="check")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--dataset-config", type=click.Path(path_type=Path),
              help="sd-scripts dataset TOML (--dataset_config) to check instead of folders.")
@click.option("--reg-dir", type=click.Path(path_type=Path), help="reg_data_dir to check beside PATH (its N_class folders).")
@click.option("--caption-extension",
              help="Caption extension sd-scripts will use (its default: .caption; .txt for a kohya-prep spec).")
@click.option("--resolution", type=Resolution(), help="Training resolution: 512, or W,H (default 512, or the spec's).")
@click.option("--batch-size", type=_count(4096), help="train_batch_size, for steps per epoch (default 1).")
@click.option("--enable-bucket", is_flag=True, default=None, help="Aspect-ratio bucketing on (sd-scripts' default: off).")
@click.option("--min-bucket-reso", type=click.IntRange(1, MAX_RESO), help="min_bucket_reso (default 256).")
@click.option("--max-bucket-reso", type=click.IntRange(1, MAX_RESO), help="max_bucket_reso (default 1024).")
@click.option("--bucket-reso-steps", type=click.IntRange(1, 1024), help="bucket_reso_steps (default 64).")
@click.option("--bucket-no-upscale", is_flag=True, default=None,
              help="bucket_no_upscale: buckets from image sizes, never upscaled.")
@click.option("--gradient-accumulation-steps", "--gradient-accumulation", "grad_accum", type=_count(4096), default=1,
              show_default=True, help="gradient_accumulation_steps, for optimizer steps per epoch.")
@click.option("--num-processes", "--processes", "num_processes", type=_count(4096), default=1, show_default=True,
              help="Training processes (GPUs under accelerate): each takes its share of the batches.")
@click.option("--max-train-epochs", type=_count(1_000_000), help="max_train_epochs: total steps = epochs x steps per epoch.")
@click.option("--max-train-steps", type=_count(10**9),
              help="max_train_steps (sd-scripts' default 1600) when no epochs are given.")
@click.option("--trigger", help="Trigger word every training caption must hold (default: the most common first tag).")
@click.option("--no-duplicates", is_flag=True, help="Skip the perceptual-hash duplicate scan (reads headers only: fast).")
@json_option
@click.pass_context
def check(ctx: click.Context, path: Path | None, dataset_config: Path | None, reg_dir: Path | None,
          caption_extension: str | None, resolution: int | tuple[int, int] | None, batch_size: int | None,
          enable_bucket: bool | None, min_bucket_reso: int | None, max_bucket_reso: int | None,
          bucket_reso_steps: int | None, bucket_no_upscale: bool | None, grad_accum: int, num_processes: int,
          max_train_epochs: int | None, max_train_steps: int | None, trigger: str | None, no_duplicates: bool,
          as_json: bool) -> None:
    """Check a dataset the way sd-scripts will read it, before training.

    PATH is a train_data_dir (the parent of N_name folders), a single subset folder (checked as if its
    parent were given, which is what sd-scripts wants), a built dataset folder (train/ and reg/), or a
    kohya-prep dataset spec (.toml). With --dataset-config, sd-scripts' dataset TOML is checked instead
    (the bucket and batch options then act as sd-scripts' command line: the TOML wins where it sets them).

    Reports errors (training fails or silently goes wrong), warnings and facts, each with its fix, and what
    one epoch and the whole run hold: subsets, each image's bucket, batches, steps per epoch, total steps.
    Exit 0: no errors (warnings allowed); 1: errors; 2: usage.

    \b
    Examples:
      kohya-prep dataset check ~/lora/mychar/img --caption-extension .txt --resolution 512
      kohya-prep dataset check img --reg-dir reg --enable-bucket --resolution 768,512 --max-train-epochs 10
      kohya-prep dataset check dataset/demo.toml --batch-size 2
      kohya-prep dataset check --dataset-config dataset.toml --no-duplicates --json
    """
    from kohya_prep.check import CheckOptions, check_dataset, notices, render_text, report_data

    if path is None and dataset_config is None:
        raise click.UsageError("give PATH (a train_data_dir, a subset folder or a dataset spec) or --dataset-config TOML.")
    options = CheckOptions(
        path, dataset_config, caption_extension, resolution, batch_size, trigger, not no_duplicates,
        reg_dir=reg_dir, enable_bucket=enable_bucket, min_bucket_reso=min_bucket_reso, max_bucket_reso=max_bucket_reso,
        bucket_reso_steps=bucket_reso_steps, bucket_no_upscale=bucket_no_upscale, gradient_accumulation_steps=grad_accum,
        num_processes=num_processes, max_train_epochs=max_train_epochs, max_train_steps=max_train_steps,
    )
    report = check_dataset(options)
    emit(ctx, as_json, report.exit_code, lambda: render_text(report), errors=notices(report.errors),
         warnings=notices(report.warnings), data=lambda: report_data(report))
