"""`kohya-prep train-config`: parse the options, call kohya_prep.trainconfig.run, render the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from kohya_prep.commands.common import FilePath, FiniteFloat, emit, json_option

MAX_VRAM_GB = 2048.0  # the largest GPUs hold a few hundred GB
MAX_GPUS = 64  # accelerate's num_processes on one machine
OUT_FIX = "--out takes a folder (created when missing), not a file"

_FAMILY_ONLY = {"clip_l": ("flux",), "t5xxl": ("flux",), "ae": ("flux",), "vae": ("sd15", "sdxl")}


_BASES = ["pony", "illustrious", "noobai", "noobai-vpred", "vpred"]  # trainconfig/bases.py: BASES


@click.command(name="train-config")
@click.argument("dataset", metavar="DATASET", type=click.Path(path_type=Path))
@click.option("--family", required=True, type=click.Choice(["sd15", "sdxl", "flux"]), help="Model family to train.")
@click.option("--base", type=click.Choice(_BASES), help="SDXL checkpoint family: v-prediction, Pony, Illustrious, NoobAI.")
@click.option("--vram", type=FiniteFloat(min=1.0, max=MAX_VRAM_GB), help="GPU memory in GB (skips the GPU probe).")
@click.option("--gpu", "gpu_name", metavar="NAME", help="Training GPU's name, e.g. 'RTX 3060': decides bf16 vs fp16.")
@click.option("--gpus", type=click.IntRange(min=1, max=MAX_GPUS), help="GPUs to train on (default: those probed, or 1).")
@click.option("--model", metavar="PATH", help="Base model checkpoint (FLUX: the flux1-dev transformer).")
@click.option("--vae", metavar="PATH", help="SD 1.5 / SDXL: a separate VAE.")
@click.option("--clip-l", "clip_l", metavar="PATH", help="FLUX: CLIP-L text encoder.")
@click.option("--t5xxl", metavar="PATH", help="FLUX: T5-XXL text encoder.")
@click.option("--ae", metavar="PATH", help="FLUX: autoencoder (ae.safetensors).")
@click.option("--kohya-dir", type=click.Path(path_type=Path), help="kohya_ss (or sd-scripts) folder for the launch scripts.")
@click.option("--out", type=FilePath(file_okay=False, path_type=Path, fix=OUT_FIX),
              help="Output folder [default: <dataset>/config].")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a training option (repeatable).")
@click.option("--epochs", type=click.IntRange(min=1, max=1_000_000), help="Train exactly N epochs (max_train_epochs).")
@click.option("--steps", type=click.IntRange(min=1, max=10**9), help="Train exactly N steps (max_train_steps, no epoch count).")
@click.option("--resume", is_flag=True, help="Resume from the newest training state saved in output_dir.")
@click.option("--reg-dir", type=click.Path(file_okay=False, path_type=Path), help="reg_data_dir beside a train_data_dir.")
@click.option("--caption-extension", metavar="EXT", help="Caption extension of a folder [default: the one it holds].")
@click.option("--resolution", type=click.IntRange(64, 8192), help="Training resolution of a folder [default: the family's].")
@click.option("--trigger", help="Trigger word for the sample prompts [default: the spec's, or the most common first tag].")
@json_option
@click.pass_context
def train_config(ctx: click.Context, dataset: Path, family: str, base: str | None, vram: float | None,
                 gpu_name: str | None, gpus: int | None, model: str | None, vae: str | None, clip_l: str | None,
                 t5xxl: str | None, ae: str | None, kohya_dir: Path | None, out: Path | None, sets: tuple[str, ...],
                 epochs: int | None, steps: int | None, resume: bool, reg_dir: Path | None, caption_extension: str | None,
                 resolution: int | None, trigger: str | None, as_json: bool) -> None:
    """Write sd-scripts' dataset config, training TOML, sample prompts, train.sh and train.bat for a dataset.

    DATASET is a kohya-prep spec (.toml), a built dataset folder, a kohya train_data_dir (with --reg-dir),
    or an sd-scripts dataset config (.toml with [[datasets]], passed to sd-scripts as it is). It is read
    as `dataset check` reads it, and refused where check finds an error.

    Settings come from the family's preset, fitted to the GPU (probed, or --vram/--gpu), then --base, then
    the spec's [train] table, then --set, --epochs and --steps. Every key is checked against the training
    script's options. Bigger cards keep the same epochs and get learning rates scaled with the batch (see
    the README's steps policy). Never writes over a file it did not write.

    \b
    Examples:
      kohya-prep train-config dataset/demo.toml --family sd15 --vram 8
      kohya-prep train-config ~/lora/mychar/img --reg-dir ~/lora/mychar/reg --family sdxl --vram 12 \\
          --base illustrious --model /models/illustrious.safetensors --epochs 8
      kohya-prep train-config dataset.toml --family flux --model flux1-dev.safetensors \\
          --clip-l clip_l.safetensors --t5xxl t5xxl_fp16.safetensors --ae ae.safetensors
      kohya-prep train-config dataset/demo.toml --family sd15 --vram 8 --resume
    """
    from kohya_prep.trainconfig.run import Options, run, summary

    if epochs is not None and steps is not None:
        raise click.UsageError("give --epochs or --steps, not both: sd-scripts lets max_train_epochs win.")
    if base is not None and family != "sdxl":
        raise click.UsageError(f"--base {base} is an SDXL checkpoint; use it with --family sdxl.")

    files = {"pretrained_model_name_or_path": model, "vae": vae, "clip_l": clip_l, "t5xxl": t5xxl, "ae": ae}
    for key, families in _FAMILY_ONLY.items():
        if files[key] and family not in families:
            flag = "--" + key.replace("_", "-")
            raise click.UsageError(f"{flag} applies to {' and '.join(families)} only, not {family}.")
    options = Options(dataset, family, vram, gpu_name, gpus, {k: v for k, v in files.items() if v}, kohya_dir, out, sets,
                      reg_dir, caption_extension, resolution, trigger, base, steps, epochs, resume)
    result = run(options)
    data = summary(result)
    if not as_json:
        for warning in result.warnings:
            click.echo(f"Warning: {warning.message}", err=True)
    emit(ctx, as_json, 0, lambda: _render(data), warnings=result.warnings, data=lambda: data)


def _render(report: dict[str, Any]) -> str:
    """The terminal report: what was written, the fit, the steps preview and the launch command."""
    gpu, steps = report["gpu"], report["steps"]
    lines: list[str] = []
    lines.append(f"Wrote {report['out_dir']} for {report['script']} ({report['family']}):")
    for path in report["files"]:
        lines.append(f"  {Path(path).name}")
    fitted = ", ".join(f"{k}={_show(v)}" for k, v in report["fit"].items())
    lines.append(f"Fit ({gpu['tier_gb']} GB tier, {gpu['bf16_source']}): {fitted}")
    reg = f" + {steps['reg_samples']} reg" if steps["reg_samples"] else ""
    lines.append(f"Steps: {steps['train_samples']} train samples{reg}"
                 + f", batch {steps['batch_size']} -> {steps['batches_per_epoch']} batches in {len(steps['buckets'])} bucket(s)"
                 + f" -> {steps['steps_per_epoch']} steps/epoch (grad accumulation {steps['gradient_accumulation_steps']}, "
                 + f"{steps['num_processes']} process(es)) x {steps['max_train_epochs']} epochs"
                 + f" = {steps['max_train_steps']} steps")
    if len(steps["buckets"]) > 1:
        for bucket in steps["buckets"]:
            width, height = bucket["reso"]
            lines.append(f"  bucket {width}x{height}: {bucket['samples']} samples -> {bucket['batches']} batches")
    if steps["reg_images_unused"]:
        examples = ", ".join(Path(p).name for p in steps["reg_unused"][:3])
        lines.append(f"Reg: {steps['reg_images_unused']} reg images will never be used (sd-scripts stops at the train count "
                     f"and keeps the first in sorted order), e.g. {examples}.")
    if steps["reg_extra_repeats"]:
        lines.append(f"Reg: too few reg images; sd-scripts repeats them {steps['reg_extra_repeats']} extra times per epoch.")
    lines.extend(_run_lines(report))
    lines.append(f"Launch: {Path(report['out_dir']) / 'train.sh'}  (Windows: train.bat)")
    return "\n".join(lines)


def _run_lines(report: dict[str, Any]) -> list[str]:
    """Policy, validation, samples and resume: what the run will do beyond the steps."""
    steps, validation, training = report["steps"], report["validation"], report["training"]
    lines = [f"Policy: {steps['samples_seen']} samples seen, the same epochs on every card; learning rates x "
             f"{steps['learning_rate_factor']:.3g} for {steps['images_per_step']} image(s) per step (README: steps policy)"]
    if validation["split"] > 0:
        lines.append(f"Validation: {len(validation['held_out'])} image(s) held out (validation_split {validation['split']}, "
                     f"seed {validation['seed']}): validation loss in TensorBoard every "
                     f"{training.get('validate_every_n_epochs', 1)} epoch(s)")
    else:
        lines.append(f"Validation: {validation['why']}")
    if report["sample_prompts"]:
        every = training.get("sample_every_n_epochs")
        lines.append(f"Samples: {report['sample_prompts']}" + (f", every {every} epoch(s)" if every else "")
                     + f" ({len(report['prompts']) or 'your'} prompts), into <output_dir>/sample/")
    if report["resume"]:
        resume = report["resume"]
        lines.append(f"Resume: from {resume['path']} (epoch {resume['epoch']}, step {resume['step']})")
    return lines


def _show(value: Any) -> str:
    return "true" if value is True else "false" if value is False else str(value)
