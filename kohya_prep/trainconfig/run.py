"""train-config end to end: spec and built dataset in, the four files out, with a report of what and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kohya_prep.errors import ConfigError
from kohya_prep.output import Notice
from kohya_prep.sdscripts.folders import parse_subset_dir_name
from kohya_prep.spec import DatasetSpec, load_spec
from kohya_prep.trainconfig import preflight
from kohya_prep.trainconfig.argtable import parse_override
from kohya_prep.trainconfig.families import Family, get_family
from kohya_prep.trainconfig.files import DATASET_CONFIG, Launch, render_files
from kohya_prep.trainconfig.fit import Fit, GpuTraits, fit
from kohya_prep.trainconfig.install import Located, locate
from kohya_prep.trainconfig.plan import PlanInputs, ScannedSubset, TrainConfigPlan, make_plan
from kohya_prep.trainconfig.presets import load_preset
from kohya_prep.trainconfig.scan import ScannedImage, scan_folder
from kohya_prep.trainconfig.target_gpu import gpu_from_options, probed_gpu
from kohya_prep.trainconfig.writer import write_files


@dataclass(frozen=True)
class Options:
    """What the command line asked for."""

    spec_path: Path
    family: str
    vram: float | None = None
    gpu: str | None = None
    gpus: int | None = None
    model_files: dict[str, str] = field(default_factory=dict)  # option key (ae, clip_l, ...) -> path as given
    kohya_dir: Path | None = None
    out: Path | None = None
    sets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Result:
    """What was written, how it was fitted, the steps preview, and every warning."""

    out_dir: Path
    written: list[Path]
    plan: TrainConfigPlan
    gpu: GpuTraits
    fit: Fit
    located: Located
    warnings: list[Notice]


def run(options: Options) -> Result:
    """Load, scan, fit, plan, render, check and write."""
    family = get_family(options.family)
    overrides = [parse_override(family.name, text) for text in options.sets]  # usage mistakes first, before any I/O
    spec = load_spec(options.spec_path)
    train_images = scan_folder(spec.train_subset_dir)
    if not train_images:
        raise ConfigError(f"no training images in {spec.train_subset_dir}: the dataset is not built yet; "
                          f"run `kohya-prep dataset build {options.spec_path}` first.")
    reg_images = scan_folder(spec.reg_subset_dir)
    gpu, processes = _gpu(options, family)
    fitted = fit(family.name, gpu)
    out_dir = (options.out or spec.root / "config").absolute()
    located = locate(options.kohya_dir)
    paths, reasons, model_status = _paths(spec, family, options, out_dir)
    inputs = PlanInputs(family, load_preset(family.name), fitted, spec.resolution, spec.name, paths, reasons,
                        _subsets(spec, train_images, reg_images), dict(spec.train), overrides, processes)
    plan = make_plan(inputs)
    launch = Launch(str(out_dir), _str(located.sd_scripts_dir), _str(located.python), processes,
                    str(plan.args["mixed_precision"].value))
    header = [f"Written by kohya-prep train-config from {spec.path.name} ({family.title}, {family.script}).",
              f"Fitted to {gpu.vram_gb:g} GB ({fitted.tier} GB tier); {gpu.bf16_source}."]
    files = render_files(plan, launch, header)
    warnings = _warnings(spec, family, plan, train_images, reg_images, model_status, located, gpu.bf16)
    written = write_files(out_dir, files)
    return Result(out_dir, written, plan, gpu, fitted, located, warnings)


def _str(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def _gpu(options: Options, family: Family) -> tuple[GpuTraits, int]:
    if options.vram is not None:
        return gpu_from_options(options.vram, options.gpu, family.name), options.gpus or 1
    traits, count = probed_gpu(options.gpu, family.name)
    return traits, options.gpus or count


def _paths(spec: DatasetSpec, family: Family, options: Options,
           out_dir: Path) -> tuple[dict[str, str], dict[str, str], dict[str, tuple[str, str, bool]]]:
    """Model files, output and logging folders, and the dataset config, as absolute strings with reasons."""
    paths: dict[str, str] = {}
    reasons: dict[str, str] = {}
    status: dict[str, tuple[str, str, bool]] = {}
    for model in family.model_files:
        given = options.model_files.get(model.key)
        value = given or model.default or model.placeholder
        paths[model.key] = value
        status[model.key] = (value, model.flag, bool(given))
        if given:
            reasons[model.key] = f"{model.what}, from {model.flag}"
        elif model.default:
            reasons[model.key] = f"no {model.flag} given: Hugging Face id, downloaded on the first run"
        else:
            reasons[model.key] = f"PLACEHOLDER: pass {model.flag} PATH ({model.what})"
    if options.model_files.get("vae"):
        paths["vae"] = options.model_files["vae"]
        reasons["vae"] = "from --vae"
        status["vae"] = (paths["vae"], "--vae", True)
    paths["dataset_config"] = str(out_dir / DATASET_CONFIG)
    reasons["dataset_config"] = "also passed by train.sh; lets this file launch on its own"
    paths["output_dir"] = str(spec.root / "output")
    reasons["output_dir"] = "the LoRA files land here"
    paths["logging_dir"] = str(spec.root / "logs")
    reasons["logging_dir"] = "TensorBoard logs: tensorboard --logdir <this folder>"
    return paths, reasons, status


def _subsets(spec: DatasetSpec, train: list[ScannedImage], reg: list[ScannedImage]) -> list[ScannedSubset]:
    class_tokens = parse_subset_dir_name(spec.subset_dir).class_tokens or spec.trigger
    subsets = [_subset(spec.train_subset_dir, spec.num_repeats, class_tokens, False, train)]
    if reg:
        subsets.append(_subset(spec.reg_subset_dir, spec.reg.num_repeats, spec.reg.class_tokens, True, reg))
    return subsets


def _subset(folder: Path, repeats: int, tokens: str, is_reg: bool, images: list[ScannedImage]) -> ScannedSubset:
    return ScannedSubset(str(folder.absolute()), repeats, tokens, is_reg,
                         tuple(str(i.path) for i in images), tuple(i.size for i in images))


def _warnings(spec: DatasetSpec, family: Family, plan: TrainConfigPlan, train: list[ScannedImage],
              reg: list[ScannedImage], model_status: dict[str, tuple[str, str, bool]], located: Located,
              gpu_bf16: bool) -> list[Notice]:
    warnings = preflight.caption_warnings(train, spec.trigger)
    if spec.resolution < family.resolution:
        warnings.append(Notice("resolution-low", f"the dataset is built at {spec.resolution}px but {family.title} trains "
                               f"best at {family.resolution}px; set resolution = {family.resolution} in the spec's "
                               "[dataset] and rebuild."))
    warnings += preflight.model_warnings(model_status)
    for key, (value, flag, given) in model_status.items():
        if not given and value.startswith("/path/to/"):
            warnings.append(Notice("model-placeholder", f"no {flag} given: training.toml has the placeholder {key} = "
                                   f"'{value}'; pass {flag} PATH or edit the file."))
    folders: dict[str, str] = {k: str(plan.args[k].value) for k in ("output_dir", "logging_dir") if k in plan.args}
    warnings += preflight.writable_warnings(folders)
    warnings += _install_warnings(located, family)
    if spec.reg.image_dir is not None and not reg:
        warnings.append(Notice("reg-missing", f"reg images are configured ([reg] dir) but {spec.reg_subset_dir} holds none; "
                               "rebuild with `kohya-prep dataset build`, or remove [reg] dir to train without them."))
    precision = plan.args["mixed_precision"].value if "mixed_precision" in plan.args else "no"
    if precision == "bf16" and not gpu_bf16:
        warnings.append(Notice("bf16-unsupported", "mixed_precision = 'bf16' was set, but this GPU has no bf16 (it needs "
                               "compute capability 8.0); training will fail or crawl. Use --set mixed_precision=fp16."))
    warnings += [Notice("note", note) for note in plan.notes]
    return warnings


def _install_warnings(located: Located, family: Family) -> list[Notice]:
    venv = [] if located.python else [Notice(
        "venv-missing", "the kohya venv's python was not found, so train.sh and train.bat stop with a message until "
        "PYTHON is set in them; set KOHYA_VENV=PATH (or pass --kohya-dir DIR) and re-run train-config, or edit PYTHON.")]
    return venv + _sd_scripts_warnings(located, family)


def _sd_scripts_warnings(located: Located, family: Family) -> list[Notice]:
    if located.sd_scripts_dir is None:
        return [Notice("sd-scripts-missing", "sd-scripts was not found, so train.sh and train.bat hold placeholder paths; "
                       f"run `kohya-prep doctor --fix`, or pass --kohya-dir DIR (the folder holding {family.script}).")]
    if not (located.sd_scripts_dir / family.script).is_file():
        return [Notice("script-missing", f"{located.sd_scripts_dir} has no {family.script} (an empty sd-scripts "
                       "submodule?); run `kohya-prep doctor --fix` before training.", str(located.sd_scripts_dir))]
    return []


def summary(result: Result) -> dict[str, Any]:
    """The command's own fields of the --json envelope (the warnings are the envelope's)."""
    plan, epoch = result.plan, result.plan.epoch
    return {
        "out_dir": str(result.out_dir),
        "files": [str(p) for p in result.written],
        "family": plan.family.name,
        "script": plan.family.script,
        "gpu": {"vram_gb": result.gpu.vram_gb, "name": result.gpu.name, "bf16": result.gpu.bf16,
                "bf16_source": result.gpu.bf16_source, "tier_gb": result.fit.tier},
        "sd_scripts_dir": _str(result.located.sd_scripts_dir),
        "python": _str(result.located.python),
        "fit": {c.key: c.value for c in result.fit.choices},
        "training": {k: s.value for k, s in plan.args.items()},
        "dataset": plan.dataset_data(),
        "steps": {
            "train_samples": epoch.num_train_images,
            "reg_samples": epoch.reg_samples,
            "reg_images_unused": len(epoch.reg_unused),
            "reg_unused": list(epoch.reg_unused),
            "reg_extra_repeats": epoch.reg_extra_repeats,
            "batch_size": epoch.batch_size,
            "buckets": [{"reso": list(b.reso), "samples": b.samples, "batches": b.batches} for b in epoch.buckets],
            "batches_per_epoch": epoch.batches_per_epoch,
            "gradient_accumulation_steps": epoch.grad_accum,
            "num_processes": epoch.num_processes,
            "steps_per_epoch": epoch.steps_per_epoch,
            "max_train_epochs": plan.max_train_epochs,
            "max_train_steps": plan.max_train_steps,
        },
    }
