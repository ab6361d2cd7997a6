"""`kohya-prep train-config` from the outside: a spec built with `dataset build` in tmp_path, then the CLI."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import toml
from click.testing import CliRunner
from PIL import Image

from kohya_prep.cli import cli
from kohya_prep.trainconfig.argtable import arg_table, type_problem

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SPEC = """\
[dataset]
name = "aria"
trigger = "ariachar"
class = "girl"
repeats = 10
resolution = {resolution}
{reg}
[sources]
sheet = "sources/sheet.png"

[[crops]]
name = "front"
source = "sheet"
box = [0, 0, 300, 500]
caption = "ariachar, girl, front view"

[[crops]]
name = "back"
source = "sheet"
box = [300, 0, 300, 500]
caption = "girl, back view"
flip = true
{train}"""


def make_spec(tmp_path: Path, reg_images: int = 5, train: str = "", resolution: int = 512, build: bool = True) -> Path:
    """A spec with 2 crops (3 images with the flip) and `reg_images` reg sources, built with `dataset build`."""
    (tmp_path / "sources").mkdir(exist_ok=True)
    Image.new("RGB", (800, 600), (200, 30, 30)).save(tmp_path / "sources" / "sheet.png")
    reg = ""
    if reg_images >= 0:
        (tmp_path / "regsrc").mkdir(exist_ok=True)
        for i in range(reg_images):
            Image.new("RGB", (640, 480), (i * 40, 90, 90)).save(tmp_path / "regsrc" / f"r{i}.png")
        reg = '\n[reg]\ndir = "regsrc"\n'
    spec = tmp_path / "aria.toml"
    spec.write_text(SPEC.format(resolution=resolution, reg=reg, train=train), encoding="utf-8")
    if build:
        result = CliRunner().invoke(cli, ["dataset", "build", str(spec)])
        assert result.exit_code == 0, result.output
    return spec


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, ["train-config", *args])


def load_both(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    by_toml = toml.loads(text)
    assert by_toml == tomllib.loads(text)
    return by_toml


def flat(data: dict[str, Any]) -> dict[str, Any]:
    """The args TOML as sd-scripts sees it: one level of tables lifted."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(value if isinstance(value, dict) else {key: value})
    return out


def sd_scripts_dataset_schema() -> Any:
    """sd-scripts' config_util.ConfigSanitizer schema for DreamBooth datasets with dropout (all LoRA scripts)."""
    from voluptuous import Any as AnyOf
    from voluptuous import ExactSequence, Required, Schema

    subset_ascendable = {
        "color_aug": bool, "face_crop_aug_range": ExactSequence([float, float]), "flip_aug": bool, "num_repeats": int,
        "random_crop": bool, "shuffle_caption": bool, "keep_tokens": int, "keep_tokens_separator": str,
        "secondary_separator": str, "caption_separator": str, "enable_wildcard": bool, "token_warmup_min": int,
        "token_warmup_step": AnyOf(float, int), "caption_prefix": str, "caption_suffix": str,
        "custom_attributes": dict, "resize_interpolation": str,
    }
    dropout = {"caption_dropout_every_n_epochs": int, "caption_dropout_rate": AnyOf(float, int),
               "caption_tag_dropout_rate": AnyOf(float, int)}
    db_ascendable = {"caption_extension": str, "class_tokens": str, "cache_info": bool}
    db_distinct = {Required("image_dir"): str, "is_reg": bool, "alpha_mask": bool}
    dataset_ascendable = {
        "batch_size": int, "bucket_no_upscale": bool, "bucket_reso_steps": int, "enable_bucket": bool,
        "max_bucket_reso": int, "min_bucket_reso": int, "resolution": AnyOf(int, ExactSequence([int, int])),
        "network_multiplier": float, "validation_seed": int, "validation_split": float, "resize_interpolation": str,
    }
    subset = {**subset_ascendable, **db_distinct, **db_ascendable, **dropout}
    dataset = {**dataset_ascendable, **subset_ascendable, **db_ascendable, **dropout, "subsets": [subset]}
    general = {**dataset_ascendable, **subset_ascendable, **db_ascendable, **dropout}
    return Schema({"general": general, "datasets": [dataset]})


FAMILY_STEP = {"sd15": 64, "sdxl": 32, "flux": 64}  # flux_train_network.py also runs train_network.py's 64 check
FLUX_FILES = ["--model", "/m/flux1-dev.safetensors", "--clip-l", "/m/clip_l.safetensors",
              "--t5xxl", "/m/t5xxl_fp16.safetensors", "--ae", "/m/ae.safetensors"]


@pytest.mark.parametrize("vram", [8, 12, 16, 24, 48], ids=lambda v: f"{v}GB")
@pytest.mark.parametrize("family", ["sd15", "sdxl", "flux"])
def test_every_family_and_tier_writes_a_set_sd_scripts_accepts(tmp_path: Path, family: str, vram: int) -> None:
    spec = make_spec(tmp_path)
    extra = FLUX_FILES if family == "flux" else []
    result = invoke(str(spec), "--family", family, "--vram", str(vram), *extra)
    assert result.exit_code == 0, result.output
    config = tmp_path / "aria" / "config"
    dataset = load_both(config / "dataset_config.toml")
    sd_scripts_dataset_schema()(dataset)
    assert dataset["general"]["caption_extension"] == ".txt"
    assert len(dataset["datasets"]) == 1
    block = dataset["datasets"][0]
    assert block["resolution"] == 512 and block["bucket_reso_steps"] == FAMILY_STEP[family]
    assert [s.get("is_reg", False) for s in block["subsets"]] == [False, True]
    assert all(Path(s["image_dir"]).is_absolute() and Path(s["image_dir"]).is_dir() for s in block["subsets"])
    args = flat(load_both(config / "training.toml"))
    table = arg_table(family)
    assert [k for k in args if k not in table] == []
    assert [type_problem(table[k], v) for k, v in args.items() if type_problem(table[k], v)] == []
    assert isinstance(args["max_train_epochs"], int) and isinstance(args["network_alpha"], float)
    assert not (args["lr_scheduler"] == "constant" and args.get("lr_warmup_steps"))
    assert "resolution" not in args
    if family == "flux":
        assert args["guidance_scale"] == 1.0 and args["ae"] == "/m/ae.safetensors"
        assert args.get("fp8_base", False) == (vram <= 24)
        assert args.get("blocks_to_swap") == {8: 28, 12: 16, 16: 8}.get(vram)
    if args.get("cache_text_encoder_outputs"):
        assert args["network_train_unet_only"] is True
        assert not block.get("shuffle_caption") and not block.get("caption_dropout_rate")
    if args.get("cache_latents"):
        assert not block.get("color_aug") and not block.get("random_crop")


def test_sd15_8gb_writes_the_file_set_and_reports(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    result = invoke(str(spec), "--family", "sd15", "--vram", "8")
    assert result.exit_code == 0, result.output
    config = tmp_path / "aria" / "config"
    assert sorted(p.name for p in config.iterdir()) == [
        ".kohya-prep-train-config.json", "dataset_config.toml", "sample_prompts.txt", "train.bat", "train.sh", "training.toml"]
    assert os.stat(config / "train.sh").st_mode & stat.S_IXUSR
    assert b"\r\n" in (config / "train.bat").read_bytes()
    # 3 images x 10 repeats = 30; 5 reg images x 1 balanced up to 30; batch 1; 10 epochs.
    assert "Steps: 30 train samples + 30 reg, batch 1 -> 60 batches in 1 bucket(s) -> 60 steps/epoch" in result.output
    assert "x 10 epochs = 600 steps" in result.output
    assert "sd-scripts repeats them 25 extra times per epoch" in result.output
    assert "kohya-prep doctor --fix" in result.output  # no sd-scripts here: the scripts hold placeholders


def test_json_report(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, reg_images=40)
    result = CliRunner().invoke(cli, ["train-config", str(spec), "--family", "sd15", "--vram", "12", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["steps"]["train_samples"] == 30
    assert report["steps"]["reg_samples"] == 30 and report["steps"]["reg_images_unused"] == 10
    assert report["steps"]["batch_size"] == 2 and report["steps"]["steps_per_epoch"] == 30
    assert report["gpu"]["tier_gb"] == 12
    # sd-scripts keeps the first 30 in sorted path order (r0, r1, r10, ... r19, r2, r20, ...).
    assert [Path(p).name for p in report["steps"]["reg_unused"]] == sorted(f"r{i}.png" for i in range(40))[30:]


def test_spec_train_table_and_set_overrides_are_typed(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, train='\n[train]\nnetwork_dim = 32\nnetwork_alpha = 16\nlearning_rate = 2e-4\n')
    result = invoke(str(spec), "--family", "sd15", "--vram", "8", "--set", "max_train_epochs=6",
                    "--set", "network_args=conv_dim=4 conv_alpha=1", "--set", "text_encoder_lr=5e-5")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "aria" / "config" / "training.toml").read_text(encoding="utf-8")
    args = flat(load_both(tmp_path / "aria" / "config" / "training.toml"))
    assert (args["network_dim"], args["network_alpha"], args["learning_rate"]) == (32, 16.0, 0.0002)
    assert args["network_args"] == ["conv_dim=4", "conv_alpha=1"] and args["text_encoder_lr"] == [5e-05]
    assert args["max_train_epochs"] == 6
    assert "network_alpha = 16.0  # from the spec's [train] table" in text


def test_set_typo_suggests_the_closest_option(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    result = invoke(str(spec), "--family", "sd15", "--vram", "8", "--set", "learnig_rate=1e-4")
    assert result.exit_code == 1
    assert result.output == ("Error: --set 'learnig_rate=1e-4': 'learnig_rate' is not an option of the sd15 training "
                             "script; did you mean 'learning_rate'?\n")
    assert not (tmp_path / "aria" / "config").exists()


def test_spec_train_typo_is_an_error(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, train="\n[train]\nnetwork_dimm = 8\n")
    result = invoke(str(spec), "--family", "sdxl", "--vram", "12")
    assert result.exit_code == 1
    assert "'network_dimm' is not an option of the sdxl training script; did you mean 'network_dim'?" in result.output


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("max_train_epochs=2.5", "max_train_epochs = 2.5 must be a whole number"),
        ("learning_rate=fast", "cannot read 'fast'; it must be a decimal number"),
        ("gradient_checkpointing=maybe", "cannot read 'maybe'; it must be true or false"),
        ("noequals", "has no '='"),
    ],
    ids=["float-for-int", "text-for-float", "bad-bool", "no-equals"],
)
def test_set_value_of_the_wrong_type(tmp_path: Path, setting: str, message: str) -> None:
    spec = make_spec(tmp_path)
    result = invoke(str(spec), "--family", "sd15", "--vram", "8", "--set", setting)
    assert result.exit_code == 1
    assert message in result.output


@pytest.mark.parametrize(
    ("family", "sets", "message"),
    [
        ("sd15", ["lr_scheduler=constant", "lr_warmup_steps=100"], "constant_with_warmup"),
        ("sd15", ["color_aug=true"], "color_aug and random_crop cannot be used with cached latents"),
        ("sdxl", ["shuffle_caption=true"], "shuffle_caption cannot be used with cached text-encoder outputs"),
        ("sdxl", ["network_train_unet_only=false"], "needs network_train_unet_only = true"),
        ("sd15", ["mixed_precision=fp32"], "mixed_precision = 'fp32' is not one of no, fp16, bf16"),
        ("sd15", ["full_bf16=true"], "full_bf16 needs mixed_precision = 'bf16'"),
        ("flux", ["network_module=networks.lora"], "network_module = 'networks.lora' does not train flux models"),
    ],
    ids=["constant-warmup", "latent-cache-color-aug", "te-cache-shuffle", "sdxl-te-cache-unet-only", "bad-precision",
         "full-bf16-on-fp16", "sd-module-on-flux"],
)
def test_settings_sd_scripts_would_reject_are_refused(tmp_path: Path, family: str, sets: list[str], message: str) -> None:
    spec = make_spec(tmp_path)
    set_args = [a for s in sets for a in ("--set", s)]
    result = invoke(str(spec), "--family", family, "--vram", "8", *set_args)
    assert result.exit_code == 1
    assert result.output.startswith("Error: these settings would fail in sd-scripts: ")
    assert message in result.output


def test_max_train_steps_replaces_the_preset_epochs(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    result = invoke(str(spec), "--family", "sd15", "--vram", "8", "--set", "max_train_steps=500")
    assert result.exit_code == 0, result.output
    args = flat(load_both(tmp_path / "aria" / "config" / "training.toml"))
    assert args["max_train_steps"] == 500 and "max_train_epochs" not in args
    assert "x 9 epochs = 500 steps" in result.output  # 60 steps per epoch: ceil(500 / 60) = 9


def test_windows_paths_load_as_written(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, train="\n[train]\noutput_dir = 'D:\\lora\\out'\nlogging_dir = 'D:\\lora\\logs'\n")
    model = r"C:\Users\me\models\v1-5-pruned.safetensors"
    result = invoke(str(spec), "--family", "sd15", "--vram", "8", "--model", model)
    assert result.exit_code == 0, result.output
    args = flat(load_both(tmp_path / "aria" / "config" / "training.toml"))
    assert args["pretrained_model_name_or_path"] == model
    assert args["output_dir"] == r"D:\lora\out" and args["logging_dir"] == r"D:\lora\logs"
    assert f"--model {model}: no such file here" in result.output


def test_not_built_dataset_says_how_to_build(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, build=False)
    result = invoke(str(spec), "--family", "sd15", "--vram", "8")
    assert result.exit_code == 1
    assert "the dataset is not built yet; run `kohya-prep dataset build" in result.output


def test_never_overwrites_a_foreign_file_but_rewrites_its_own(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    config = tmp_path / "aria" / "config"
    assert invoke(str(spec), "--family", "sd15", "--vram", "8").exit_code == 0
    again = invoke(str(spec), "--family", "sd15", "--vram", "16")
    assert again.exit_code == 0, again.output
    assert "batch_size = 4" in (config / "dataset_config.toml").read_text(encoding="utf-8")
    (config / "training.toml").write_text("# my own edits\n", encoding="utf-8")
    edited = invoke(str(spec), "--family", "sd15", "--vram", "8")
    assert edited.exit_code == 1
    assert "training.toml was changed after kohya-prep wrote it" in edited.output
    assert (config / "training.toml").read_text(encoding="utf-8") == "# my own edits\n"


def test_foreign_file_in_a_fresh_output_folder_is_kept(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "train.sh").write_text("echo mine\n", encoding="utf-8")
    result = invoke(str(spec), "--family", "sd15", "--vram", "8", "--out", str(out))
    assert result.exit_code == 1
    assert f"{out / 'train.sh'} was not written by kohya-prep; move or delete it, or pass --out DIR" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["train.sh"]


def test_without_vram_and_without_a_gpu_says_to_pass_vram(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no nvidia-smi reachable
    spec = make_spec(tmp_path)
    result = invoke(str(spec), "--family", "sd15")
    assert result.exit_code == 1
    assert result.output.startswith("Error: ")
    assert "pass --vram GB (and --gpu NAME) when preparing on a machine without the training GPU." in result.output


def test_flux_option_on_sd15_is_a_usage_error(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    result = invoke(str(spec), "--family", "sd15", "--vram", "8", "--ae", "/m/ae.safetensors")
    assert result.exit_code == 2
    assert "--ae applies to flux only, not sd15." in result.output


@pytest.mark.parametrize(
    ("gpu", "precision", "no_half_vae"),
    [("NVIDIA GeForce RTX 3060", "bf16", False), ("NVIDIA GeForce GTX 1080 Ti", "fp16", True), (None, "fp16", True)],
    ids=["ampere-bf16", "pascal-fp16", "unknown-assumes-fp16"],
)
def test_gpu_name_decides_bf16(tmp_path: Path, gpu: str | None, precision: str, no_half_vae: bool) -> None:
    spec = make_spec(tmp_path)
    result = invoke(str(spec), "--family", "sdxl", "--vram", "12", *(["--gpu", gpu] if gpu else []))
    assert result.exit_code == 0, result.output
    args = flat(load_both(tmp_path / "aria" / "config" / "training.toml"))
    assert args["mixed_precision"] == precision
    assert args.get("no_half_vae", False) is no_half_vae


def test_preflight_warnings(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, reg_images=0)
    caption = next((tmp_path / "aria" / "train").glob("*/front.txt"))
    caption.write_text("girl, front view", encoding="utf-8")
    result = invoke(str(spec), "--family", "flux", "--vram", "24")
    assert result.exit_code == 0, result.output
    assert "1 of 3 captions lack the trigger 'ariachar' (e.g. front.txt)" in result.output
    assert "no --ae given: training.toml has the placeholder ae = '/path/to/ae.safetensors'" in result.output
    assert "reg images are configured ([reg] dir) but" in result.output
    dataset = load_both(tmp_path / "aria" / "config" / "dataset_config.toml")
    assert [s.get("is_reg", False) for s in dataset["datasets"][0]["subsets"]] == [False]


def write_fake_kohya(root: Path) -> Path:
    """A kohya_ss folder with sd-scripts' trainer files and a venv python that prints what it was given."""
    (root / "sd-scripts" / "library").mkdir(parents=True)
    (root / "kohya_gui.py").write_text("# the GUI\n", encoding="utf-8")
    for script in ("train_network.py", "sdxl_train_network.py", "flux_train_network.py"):
        (root / "sd-scripts" / script).write_text("# trainer\n", encoding="utf-8")
    python = root / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text('#!/bin/sh\necho "cwd=$(pwd)"\nfor a in "$@"; do echo "arg=$a"; done\n', encoding="utf-8")
    python.chmod(0o755)
    return root


@pytest.mark.skipif(sys.platform == "win32", reason="runs train.sh with bash")
@pytest.mark.parametrize("gpus", [1, 2], ids=["one-gpu", "two-gpus"])
def test_train_sh_launches_the_trainer_with_accelerate(tmp_path: Path, gpus: int) -> None:
    spec = make_spec(tmp_path)
    kohya = write_fake_kohya(tmp_path / "kohya_ss")
    result = invoke(str(spec), "--family", "sd15", "--vram", "8", "--gpus", str(gpus), "--kohya-dir", str(kohya))
    assert result.exit_code == 0, result.output
    assert "sd-scripts was not found" not in result.output
    config = tmp_path / "aria" / "config"
    run = subprocess.run(["bash", str(config / "train.sh"), "--max_train_epochs", "1"], capture_output=True, text=True,
                         check=True)
    lines = run.stdout.splitlines()
    processes = ["arg=--multi_gpu", "arg=--num_processes", "arg=2"] if gpus == 2 else ["arg=--num_processes", "arg=1"]
    assert lines == [
        f"cwd={kohya / 'sd-scripts'}", "arg=-m", "arg=accelerate.commands.launch",
        "arg=--num_cpu_threads_per_process", "arg=1", *processes, "arg=--mixed_precision", "arg=fp16",
        f"arg={kohya / 'sd-scripts' / 'train_network.py'}",
        "arg=--config_file", f"arg={config / 'training.toml'}",
        "arg=--dataset_config", f"arg={config / 'dataset_config.toml'}",
        "arg=--max_train_epochs", "arg=1",
    ]
    assert f"/ {gpus} process(es)" in (config / "training.toml").read_text(encoding="utf-8")


def test_buckets_turn_on_for_images_that_are_not_square(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    subset = next((tmp_path / "aria" / "train").iterdir())
    Image.new("RGB", (640, 384), (1, 2, 3)).save(subset / "wide.png")
    (subset / "wide.txt").write_text("ariachar, girl, wide", encoding="utf-8")
    result = invoke(str(spec), "--family", "sdxl", "--vram", "24", "--set", "resolution=512")
    assert result.exit_code == 0, result.output
    block = load_both(tmp_path / "aria" / "config" / "dataset_config.toml")["datasets"][0]
    assert (block["enable_bucket"], block["min_bucket_reso"], block["max_bucket_reso"]) == (True, 256, 1024)
    # 3 squares x 10 repeats + 1 wide x 10, reg 5 balanced to 40 (squares too): batch 2 per bucket.
    assert "  bucket 512x512: 70 samples -> 35 batches\n  bucket 640x384: 10 samples -> 5 batches\n" in result.output
    sd_scripts_dataset_schema()(load_both(tmp_path / "aria" / "config" / "dataset_config.toml"))


@pytest.mark.parametrize(
    ("fixture", "tier", "precision", "processes"),
    [("rtx3060", 12, "bf16", ["--num_processes 1"]), ("p100x4", 16, "fp16", ["--multi_gpu --num_processes 4"]),
     ("rtx5090x2", 24, "bf16", ["--multi_gpu --num_processes 2"]), ("a100-mig", 8, "bf16", ["--num_processes 1"])],
    ids=["rtx3060", "four-p100s-no-bf16", "two-5090s", "mig-instance-one-process"],
)
def test_without_vram_the_probed_gpus_decide(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fixture: str, tier: int,
                                             precision: str, processes: list[str]) -> None:
    from doctor_fakes import fake_driver

    spec = make_spec(tmp_path)
    fake_driver(tmp_path, monkeypatch, fixture)
    result = CliRunner().invoke(cli, ["train-config", str(spec), "--family", "sdxl", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["gpu"]["tier_gb"], report["fit"]["mixed_precision"]) == (tier, precision)
    train_sh = (tmp_path / "aria" / "config" / "train.sh").read_text(encoding="utf-8")
    assert all(p in train_sh for p in processes)


def test_kohya_dir_that_is_no_install_is_an_error(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    (tmp_path / "empty").mkdir()
    result = invoke(str(spec), "--family", "sd15", "--vram", "8", "--kohya-dir", str(tmp_path / "empty"))
    assert result.exit_code == 1
    assert f"--kohya-dir {tmp_path / 'empty'} is neither a kohya_ss checkout" in result.output


def test_empty_sd_scripts_submodule_is_a_warning(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    kohya = tmp_path / "kohya_ss"
    (kohya / "sd-scripts").mkdir(parents=True)
    (kohya / "kohya_gui.py").write_text("# the GUI\n", encoding="utf-8")
    result = invoke(str(spec), "--family", "sd15", "--vram", "8", "--kohya-dir", str(kohya))
    assert result.exit_code == 0, result.output
    assert f"{kohya / 'sd-scripts'} has no train_network.py (an empty sd-scripts submodule?)" in result.output


def test_bf16_forced_on_a_card_without_it_is_a_warning(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    result = invoke(str(spec), "--family", "sd15", "--vram", "8", "--gpu", "Tesla T4", "--set", "mixed_precision=bf16")
    assert result.exit_code == 0, result.output
    assert "mixed_precision = 'bf16' was set, but this GPU has no bf16" in result.output


@pytest.mark.slow
def test_the_demo_as_make_train_config_runs_it(tmp_path: Path) -> None:
    """`make dataset` then `make train-config`, on a copy of the demo (never in the repository)."""
    import shutil

    demo = Path(__file__).resolve().parents[1] / "dataset"
    shutil.copy(demo / "demo.toml", tmp_path / "demo.toml")
    shutil.copytree(demo / "sources", tmp_path / "sources")
    assert CliRunner().invoke(cli, ["dataset", "build", str(tmp_path / "demo.toml")]).exit_code == 0
    result = invoke(str(tmp_path / "demo.toml"), "--family", "sd15", "--vram", "8")
    assert result.exit_code == 0, result.output
    config = tmp_path / "demo" / "config"
    dataset = load_both(config / "dataset_config.toml")
    sd_scripts_dataset_schema()(dataset)
    args = flat(load_both(config / "training.toml"))
    table = arg_table("sd15")
    assert [k for k, v in args.items() if k not in table or type_problem(table[k], v)] == []
    # 23 images x 10 repeats, no reg images in the demo, batch 1, 10 epochs.
    assert "Steps: 230 train samples, batch 1 -> 230 batches in 1 bucket(s) -> 230 steps/epoch" in result.output
    assert "x 10 epochs = 2300 steps" in result.output


def test_keep_tokens_without_shuffle_is_a_warning(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    result = invoke(str(spec), "--family", "sd15", "--vram", "8", "--set", "keep_tokens=1")
    assert result.exit_code == 0, result.output
    assert "keep_tokens has no effect without shuffle_caption" in result.output
    block = load_both(tmp_path / "aria" / "config" / "dataset_config.toml")["datasets"][0]
    assert block["keep_tokens"] == 1


def test_low_resolution_for_the_family_is_a_warning(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    result = invoke(str(spec), "--family", "sdxl", "--vram", "24")
    assert result.exit_code == 0, result.output
    assert "the dataset is built at 512px but SDXL trains best at 1024px" in result.output
    sh = (tmp_path / "aria" / "config" / "train.sh").read_text(encoding="utf-8")
    assert "SD_SCRIPTS='/path/to/kohya_ss/sd-scripts'\nPYTHON='/path/to/kohya_ss/venv/bin/python'\n" in sh
