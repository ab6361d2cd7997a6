"""train-config end to end: any dataset in, the file set out, with a report of what and why."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kohya_prep.errors import ConfigError
from kohya_prep.output import Notice
from kohya_prep.trainconfig import follow_build, preflight, samples
from kohya_prep.trainconfig.argtable import parse_override
from kohya_prep.trainconfig.bases import Base, get_base, sample_style
from kohya_prep.trainconfig.families import Family, get_family
from kohya_prep.trainconfig.files import DATASET_CONFIG, Launch, render_files
from kohya_prep.trainconfig.fit import Fit, GpuTraits, fit
from kohya_prep.trainconfig.install import Located, locate
from kohya_prep.trainconfig.paths import PATH_KEYS, foreign_style, host_os, resolve
from kohya_prep.trainconfig.plan import PlanInputs, TrainConfigPlan, make_plan
from kohya_prep.trainconfig.presets import load_preset
from kohya_prep.trainconfig.resume import LAST_WRITTEN, TRAIN_STATE, SavedState, check_not_finished, newest_state, saved_states
from kohya_prep.trainconfig.setting import Setting
from kohya_prep.trainconfig.source import DatasetSource, SourceRequest, read_source
from kohya_prep.trainconfig.target_gpu import gpu_from_options, probed_gpu
from kohya_prep.trainconfig.writer import write_files


@dataclass(frozen=True)
class Options:
    """What the command line asked for."""

    dataset: Path  # a spec, a built dataset folder, a kohya train_data_dir or an sd-scripts dataset config
    family: str
    vram: float | None = None
    gpu: str | None = None
    gpus: int | None = None
    model_files: dict[str, str] = field(default_factory=dict)  # option key (ae, clip_l, ...) -> path as given
    kohya_dir: Path | None = None
    out: Path | None = None
    sets: tuple[str, ...] = ()
    reg_dir: Path | None = None
    caption_extension: str | None = None
    resolution: int | None = None
    trigger: str | None = None
    base: str | None = None
    steps: int | None = None
    epochs: int | None = None
    resume: bool = False


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
    source: DatasetSource | None = None
    base: Base | None = None
    resumed: SavedState | None = None
    sample_prompts: str | None = None
    prompts: list[str] = field(default_factory=list)


def run(options: Options) -> Result:
    """Read the dataset as check does, fit, plan, render, check and write."""
    family = get_family(options.family)
    base = get_base(options.base, family.name)
    host = host_os()
    overrides = _overrides(options, family, host)  # usage mistakes first, before any I/O
    source = read_source(SourceRequest(options.dataset, family.resolution, family.bucket_reso_steps, options.reg_dir,
                                       options.caption_extension, options.resolution, options.trigger))
    gpu, processes = _gpu(options, family)
    fitted = fit(family.name, gpu)
    out_dir = (options.out or source.root / "config").absolute()
    located = locate(options.kohya_dir)
    spec_train = _spec_train(source, host)
    paths, reasons, model_status = _paths(source, family, options, out_dir, host)
    user_prompts = _user_prompts(overrides, spec_train)
    if user_prompts is None:
        paths["sample_prompts"] = str(out_dir / samples.FILE_NAME)
        reasons["sample_prompts"] = "written beside this file; absolute, as train.sh starts in the sd-scripts folder"
    inputs = PlanInputs(family, load_preset(family.name), fitted, source.resolution, source.name, paths, reasons,
                        follow_build.with_alpha_masks(source.subsets, source.spec), spec_train, overrides, processes,
                        _layer(family, base, source), source.foreign, _targets(options),
                        build_buckets=follow_build.build_buckets(source.spec))
    plan = make_plan(inputs)
    resumed = None
    if options.resume:
        resumed, resume_notes = _resume(plan)
        plan = _with(plan, "resume", str(resumed.path), f"--resume: the newest saved state (epoch {resumed.epoch}, "
                                                           f"step {resumed.step}); sd-scripts continues from there")
        plan = replace(plan, notes=[*plan.notes, *resume_notes])
    launch = Launch(str(out_dir), _str(located.sd_scripts_dir), _str(located.python), processes,
                    str(plan.args["mixed_precision"].value), _str(source.dataset_config), host, _host_name(host))
    header = _header(source, family, base, gpu, fitted)
    files = render_files(plan, launch, header)
    prompt_lines: list[str] = []
    if user_prompts is None:
        files[samples.FILE_NAME], prompt_lines = _sample_prompts(plan, source, family, base, header)
    warnings = _warnings(source, family, plan, model_status, located, gpu.bf16, [*overrides, *spec_train.items()], host)
    warnings += [Notice("note", note) for note in (base.notes if base else ())]
    written = write_files(out_dir, files)
    return Result(out_dir, written, plan, gpu, fitted, located, warnings, source, base, resumed,
                  str(plan.args["sample_prompts"].value) if "sample_prompts" in plan.args else None, prompt_lines)


def _str(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def _host_name(host: str) -> str:
    return "Windows" if host == "windows" else ("macOS" if platform.system() == "Darwin" else "Linux")


def _overrides(options: Options, family: Family, host: str) -> list[tuple[str, Any]]:
    """--set, then --epochs / --steps, with relative paths made absolute against the current folder."""
    overrides = [parse_override(family.name, text) for text in options.sets]
    if options.steps is not None:  # exactly N steps: an epoch count would override them (train_network.py)
        overrides = [(k, v) for k, v in overrides if k != "max_train_epochs"]
    return [(k, resolve(k, v, Path.cwd(), host) if k in PATH_KEYS else v) for k, v in overrides]


def _targets(options: Options) -> list[tuple[str, Any, str]]:
    """--epochs / --steps: the run's length, exactly as asked."""
    if options.epochs is not None:
        return [("max_train_epochs", options.epochs, "--epochs: exactly this many epochs")]
    if options.steps is not None:
        return [("max_train_steps", options.steps, "--steps: exactly this many steps (no max_train_epochs, which "
                                                   "would override it)")]
    return []


def _spec_train(source: DatasetSource, host: str) -> dict[str, Any]:
    """The spec's [train] table, its relative paths made absolute against the spec's folder."""
    if source.spec is None:
        return {}
    folder = source.spec.path.parent
    return {k: resolve(k, v, folder, host) if k in PATH_KEYS else v for k, v in source.spec.train.items()}


def _user_prompts(overrides: list[tuple[str, Any]], spec_train: dict[str, Any]) -> str | None:
    """A sample_prompts file the user named: it must exist and be a format sd-scripts reads (train_util.load_prompts)."""
    given = dict([*spec_train.items(), *overrides]).get("sample_prompts")
    if given is None:
        return None
    path = Path(str(given))
    if path.suffix.lower() not in (".txt", ".toml", ".json"):
        raise ConfigError(f"sample_prompts {given}: sd-scripts reads only .txt, .toml and .json prompt files; "
                          "rename it, or leave sample_prompts unset to get kohya-prep's sample_prompts.txt.")
    if not path.is_file():
        raise ConfigError(f"sample_prompts {given}: no such file; sd-scripts would log 'No prompt file' and draw "
                          "no samples. Give an existing file, or leave sample_prompts unset.")
    return str(path)


def _gpu(options: Options, family: Family) -> tuple[GpuTraits, int]:
    if options.vram is not None:
        return gpu_from_options(options.vram, options.gpu, family.name), options.gpus or 1
    traits, count = probed_gpu(options.gpu, family.name)
    return traits, options.gpus or count


def _layer(family: Family, base: Base | None, source: DatasetSource) -> list[tuple[str, Any, str]]:
    """--base's training options, the sampler, and a folder's caption extension: after the fit, before the user's."""
    style = sample_style(family.name, base)
    layer = [(key, value, f"--base {base.name}: {why}") for key, value, why in base.settings] if base else []
    sampler_why = f"for sample_prompts.txt: {style.source}"
    layer.append(("sample_sampler", style.sampler, sampler_why))
    if source.kind == "folder":
        layer.append(("caption_extension", source.caption_extension,
                      f"the caption files found in {source.label} are {source.caption_extension}"))
    return layer


def _paths(source: DatasetSource, family: Family, options: Options, out_dir: Path,
           host: str) -> tuple[dict[str, str], dict[str, str], dict[str, tuple[str, str, bool]]]:
    """Model files, output and logging folders, and the dataset config, as absolute strings with reasons."""
    paths: dict[str, str] = {}
    reasons: dict[str, str] = {}
    status: dict[str, tuple[str, str, bool]] = {}
    given_files = {k: str(resolve(k, v, Path.cwd(), host)) for k, v in options.model_files.items()}
    for model in family.model_files:
        given = given_files.get(model.key)
        value = given or model.default or model.placeholder
        paths[model.key] = value
        status[model.key] = (value, model.flag, bool(given))
        if given:
            reasons[model.key] = f"{model.what}, from {model.flag}"
        elif model.default:
            reasons[model.key] = f"no {model.flag} given: Hugging Face id, downloaded on the first run"
        else:
            reasons[model.key] = f"PLACEHOLDER: pass {model.flag} PATH ({model.what})"
    if given_files.get("vae"):
        paths["vae"] = given_files["vae"]
        reasons["vae"] = "from --vae"
        status["vae"] = (paths["vae"], "--vae", True)
    if source.kind == "folder":
        given = f"--resolution {source.resolution}" if options.resolution else f"{family.title}'s own resolution"
        reasons["resolution"] = f"{given} (a folder holds no resolution)"
    if source.dataset_config is not None:
        paths["dataset_config"] = str(source.dataset_config)
        reasons["dataset_config"] = "your dataset config, passed as it is (it wins over the dataset options here)"
    else:
        paths["dataset_config"] = str(out_dir / DATASET_CONFIG)
        reasons["dataset_config"] = "also passed by train.sh; lets this file launch on its own"
    paths["output_dir"] = str(source.root / "output")
    reasons["output_dir"] = "the LoRA files, saved states and sample images land here"
    paths["logging_dir"] = str(source.root / "logs")
    reasons["logging_dir"] = "TensorBoard logs (loss, validation loss): tensorboard --logdir <this folder>"
    return paths, reasons, status


def _resume(plan: TrainConfigPlan) -> tuple[SavedState, list[str]]:
    output_dir, name = Path(str(plan.args["output_dir"].value)), str(plan.args["output_name"].value)
    state = newest_state(output_dir, name)
    check_not_finished(state, plan.max_train_steps)
    _states, broken = saved_states(output_dir, name)
    notes = [f"--resume: {p.name} was cut off while saving (no {LAST_WRITTEN} or {TRAIN_STATE}); resuming from "
             f"{state.path.name} instead." for p in broken]
    return state, notes


def _with(plan: TrainConfigPlan, key: str, value: Any, why: str) -> TrainConfigPlan:
    return replace(plan, args={**plan.args, key: Setting(value, why)})


def _header(source: DatasetSource, family: Family, base: Base | None, gpu: GpuTraits, fitted: Fit) -> list[str]:
    on = f" on {base.title} (--base {base.name})" if base else ""
    return [f"Written by kohya-prep train-config from {Path(source.label).name} ({family.title}{on}, {family.script}).",
            f"Fitted to {gpu.vram_gb:g} GB ({fitted.tier} GB tier); {gpu.bf16_source}."]


def _sample_prompts(plan: TrainConfigPlan, source: DatasetSource, family: Family, base: Base | None,
                    header: list[str]) -> tuple[str, list[str]]:
    style = sample_style(family.name, base)
    subsets = [*source.subsets, *(s for ds in source.foreign for s in ds.subsets)]
    class_tokens = next((s.class_tokens for s in subsets if not s.is_reg and s.class_tokens), None)
    buckets = [(b.reso, b.train_samples) for e in (plan.epochs_all or (plan.epoch,)) for b in e.buckets if b.train_samples]
    inputs = samples.SampleInputs(source.trigger, class_tokens, [i.caption for i in source.train_images if i.caption],
                                  buckets, source.resolution, family.resolution, style)
    prompts = samples.choose_prompts(inputs)
    every = plan.args["sample_every_n_epochs"].value if "sample_every_n_epochs" in plan.args else None
    when = f"every {every} epoch(s)" if every else "when sample_every_n_epochs or _steps is set"
    text = samples.render(prompts, style, [header[0], f"Sample images for --sample_prompts, drawn {when} into "
                                                      "<output_dir>/sample/."])
    return text, [samples.prompt_line(p, style) for p in prompts]


def _warnings(source: DatasetSource, family: Family, plan: TrainConfigPlan, model_status: dict[str, tuple[str, str, bool]],
              located: Located, gpu_bf16: bool, user_values: list[tuple[str, Any]], host: str) -> list[Notice]:
    warnings = preflight.caption_warnings(source.train_images, source.trigger, source.caption_extension,
                                          built=source.kind == "spec")
    warnings += source.warnings
    if source.resolution < family.resolution and source.kind != "dataset-config":
        where = "set resolution = {0} in the spec's [dataset] and rebuild" if source.spec else "pass --resolution {0}"
        warnings.append(Notice("resolution-low", f"the dataset is built at {source.resolution}px but {family.title} trains "
                               f"best at {family.resolution}px; {where.format(family.resolution)}."))
    warnings += preflight.model_warnings(model_status)
    for key, (value, flag, given) in model_status.items():
        if not given and value.startswith("/path/to/"):
            warnings.append(Notice("model-placeholder", f"no {flag} given: training.toml has the placeholder {key} = "
                                   f"'{value}'; pass {flag} PATH or edit the file."))
    folders: dict[str, str] = {k: str(plan.args[k].value) for k in ("output_dir", "logging_dir") if k in plan.args}
    warnings += preflight.writable_warnings(folders)
    warnings += _install_warnings(located, family)
    warnings += _path_style_warnings(model_status, user_values, host)
    reg_found = any(s.is_reg and s.paths for s in source.subsets)
    if source.spec is not None and source.spec.reg.image_dir is not None and not reg_found:
        warnings.append(Notice("reg-missing", f"reg images are configured ([reg] dir) but {source.spec.reg_subset_dir} holds "
                               "none; rebuild with `kohya-prep dataset build`, or remove [reg] dir to train without them."))
    precision = plan.args["mixed_precision"].value if "mixed_precision" in plan.args else "no"
    if precision == "bf16" and not gpu_bf16:
        warnings.append(Notice("bf16-unsupported", "mixed_precision = 'bf16' was set, but this GPU has no bf16 (it needs "
                               "compute capability 8.0); training will fail or crawl. Use --set mixed_precision=fp16."))
    warnings += follow_build.bucket_warnings(source.spec, plan.epoch)
    warnings += [Notice("note", note) for note in plan.notes]
    return warnings


def _path_style_warnings(model_status: dict[str, tuple[str, str, bool]], user_values: list[tuple[str, Any]],
                         host: str) -> list[Notice]:
    """Paths written for the other OS: the set mixes them with this machine's dataset paths, so it cannot run as is."""
    given = [(flag, value) for value, flag, was_given in model_status.values() if was_given]
    given += [(key, v) for key, v in user_values if key in PATH_KEYS and isinstance(v, str)]
    here = "Windows" if host == "windows" else "Linux/macOS"
    return [Notice("path-style", f"{flag} {value!r} is a {style} path, but this set is written here on {here}, with "
                   f"this machine's dataset paths: neither machine can run it unchanged; run train-config on the "
                   "training machine with its own paths.", value)
            for flag, value in given if (style := foreign_style(value, host))]


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
    plan = result.plan
    return {
        "out_dir": str(result.out_dir),
        "files": [str(p) for p in result.written],
        "family": plan.family.name,
        "script": plan.family.script,
        "base": result.base.name if result.base else None,
        "source": {"kind": result.source.kind, "path": result.source.label} if result.source else None,
        "gpu": {"vram_gb": result.gpu.vram_gb, "name": result.gpu.name, "bf16": result.gpu.bf16,
                "bf16_source": result.gpu.bf16_source, "tier_gb": result.fit.tier},
        "sd_scripts_dir": _str(result.located.sd_scripts_dir),
        "python": _str(result.located.python),
        "fit": {c.key: c.value for c in result.fit.choices},
        "training": {k: s.value for k, s in plan.args.items()},
        "dataset": None if plan.foreign else plan.dataset_data(),
        "steps": _steps(plan),
        "validation": {"split": plan.validation.split, "seed": plan.validation.seed,
                       "held_out": list(plan.validation.held_out), "mirror_leaks": plan.validation.mirror_leaks,
                       "why": plan.validation.why},
        "sample_prompts": result.sample_prompts,
        "prompts": result.prompts,
        "resume": None if result.resumed is None else {"path": str(result.resumed.path), "epoch": result.resumed.epoch,
                                                       "step": result.resumed.step},
    }


def _steps(plan: TrainConfigPlan) -> dict[str, Any]:
    epoch, plans = plan.epoch, plan.epochs_all or (plan.epoch,)
    samples_per_epoch = sum(e.samples_per_epoch for e in plans)
    return {
        "train_samples": sum(e.num_train_images for e in plans),
        "reg_samples": sum(e.reg_samples for e in plans),
        "reg_images_unused": sum(len(e.reg_unused) for e in plans),
        "reg_unused": [p for e in plans for p in e.reg_unused],
        "reg_extra_repeats": sum(e.reg_extra_repeats for e in plans),
        "batch_size": epoch.batch_size,
        "buckets": [{"reso": list(b.reso), "samples": b.samples, "batches": b.batches} for e in plans for b in e.buckets],
        "batches_per_epoch": sum(e.batches_per_epoch for e in plans),
        "gradient_accumulation_steps": epoch.grad_accum,
        "num_processes": epoch.num_processes,
        "steps_per_epoch": plan.steps_per_epoch,
        "max_train_epochs": plan.max_train_epochs,
        "max_train_steps": plan.max_train_steps,
        "samples_seen": _samples_seen(plan, samples_per_epoch),
        "images_per_step": plan.scaling.images_per_step,
        "learning_rate_factor": plan.scaling.factor,
    }


def _samples_seen(plan: TrainConfigPlan, samples_per_epoch: int) -> int:
    """Samples the run trains on: whole epochs, plus the share of the last one that max_train_steps reaches."""
    if "max_train_epochs" in plan.args:
        return plan.max_train_epochs * samples_per_epoch
    return round(plan.max_train_steps / max(plan.steps_per_epoch, 1) * samples_per_epoch)
