"""A run worth starting: --resume, the steps policy across cards, validation, --base, and the launch scripts."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kohya_prep.cli import cli
from kohya_prep.trainconfig import validation
from kohya_prep.trainconfig.files import Launch, render_train_bat, render_train_sh
from kohya_prep.trainconfig.paths import foreign_style
from kohya_prep.trainconfig.plan import ScannedSubset
from tests.test_train_config_cli import FLUX_FILES, flat, invoke, load_both, make_spec, sd_scripts_dataset_schema
from tests.test_train_config_sources import kohya_folder


def report(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["train-config", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def fake_state(folder: Path, epoch: int, step: int, complete: bool = True, mtime: float | None = None) -> Path:
    """A state folder as sd-scripts' save_state leaves it (train_state.json first, random_states_0.pkl last)."""
    folder.mkdir(parents=True)
    (folder / "train_state.json").write_text(json.dumps({"current_epoch": epoch, "current_step": step}), encoding="utf-8")
    if complete:
        (folder / "random_states_0.pkl").write_bytes(b"\x80")
    if mtime is not None:
        os.utime(folder / "train_state.json", (mtime, mtime))
    return folder


# --- resume ---------------------------------------------------------------------------------------------------


def test_resume_picks_the_newest_state(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    output = tmp_path / "aria" / "output"
    fake_state(output / "aria-000002-state", 2, 120, mtime=1_700_000_000)
    newest = fake_state(output / "aria-000004-state", 4, 240, mtime=1_700_000_500)
    fake_state(output / "aria-000006-state", 6, 360, complete=False)  # killed while saving
    fake_state(output / "other-000008-state", 8, 480, mtime=1_700_000_900)  # another LoRA's
    result = invoke(str(spec), "--family", "sd15", "--vram", "8", "--resume")
    assert result.exit_code == 0, result.output
    assert f"Resume: from {newest} (epoch 4, step 240)" in result.output
    assert "aria-000006-state was cut off while saving" in result.output
    assert flat(load_both(tmp_path / "aria" / "config" / "training.toml"))["resume"] == str(newest)


def test_resume_prefers_the_state_saved_last(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    output = tmp_path / "aria" / "output"
    fake_state(output / "aria-000008-state", 8, 480, mtime=1_700_000_000)  # an older run that went further
    restarted = fake_state(output / "aria-step00000060-state", 1, 60, mtime=1_700_009_000)
    assert report(str(spec), "--family", "sd15", "--vram", "8", "--resume")["resume"]["path"] == str(restarted)


def test_resume_without_a_state_is_one_line(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    result = invoke(str(spec), "--family", "sd15", "--vram", "8", "--resume")
    assert result.exit_code == 1
    assert result.output == (f"Error: --resume: no saved training state of 'aria' in {tmp_path / 'aria' / 'output'} (sd-scripts "
                             "writes aria-000002-state and the like when save_state is on); start without --resume.\n")


def test_resume_from_a_finished_run_says_so(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    fake_state(tmp_path / "aria" / "output" / "aria-state", 10, 600)
    result = invoke(str(spec), "--family", "sd15", "--vram", "8", "--resume")
    assert result.exit_code == 1
    assert "aria-state is at step 600, and this run ends at step 600: it has finished" in result.output


def test_states_are_saved_and_kept_few(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    assert invoke(str(spec), "--family", "sdxl", "--vram", "12").exit_code == 0
    args = flat(load_both(tmp_path / "aria" / "config" / "training.toml"))
    assert args["save_state"] is True and 1 <= args["save_last_n_epochs_state"] <= 3


# --- steps policy ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["sd15", "sdxl", "flux"])
def test_samples_seen_hold_across_cards_and_rates_follow_the_batch(tmp_path: Path, family: str) -> None:
    spec = make_spec(tmp_path, reg_images=40)
    extra = FLUX_FILES if family == "flux" else []
    runs = {vram: report(str(spec), "--family", family, "--vram", str(vram), "--out", str(tmp_path / f"c{vram}"), *extra)
            for vram in (8, 12, 24)}
    seen = [r["steps"]["samples_seen"] for r in runs.values()]
    assert max(seen) <= min(seen) * 1.10, seen
    for r in runs.values():
        per_step = r["steps"]["batch_size"] * r["steps"]["gradient_accumulation_steps"] * r["steps"]["num_processes"]
        assert r["steps"]["images_per_step"] == per_step
        assert r["training"]["learning_rate"] == pytest.approx(1e-4 * math.sqrt(per_step), rel=0.01)
    # Processing: steps x images per step covers the samples (per-bucket rounding adds a few).
    for r in runs.values():
        steps = r["steps"]
        assert steps["samples_seen"] <= steps["max_train_steps"] * steps["images_per_step"] <= steps["samples_seen"] * 1.10


def test_a_learning_rate_the_user_sets_is_not_scaled(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    r = report(str(spec), "--family", "sd15", "--vram", "24", "--set", "learning_rate=3e-4")
    assert r["training"]["learning_rate"] == 3e-4 and r["training"]["unet_lr"] == pytest.approx(2e-4)


@pytest.mark.parametrize("steps", [1, 77, 600, 1234])
def test_steps_gives_exactly_n(tmp_path: Path, steps: int) -> None:
    spec = make_spec(tmp_path, train="\n[train]\nmax_train_epochs = 3\n")
    result = invoke(str(spec), "--family", "sdxl", "--vram", "24", "--steps", str(steps))
    assert result.exit_code == 0, result.output
    assert f" = {steps} steps\n" in result.output
    args = flat(load_both(tmp_path / "aria" / "config" / "training.toml"))
    assert args["max_train_steps"] == steps and "max_train_epochs" not in args


def test_epochs_gives_exactly_n(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    r = report(str(spec), "--family", "sd15", "--vram", "12", "--epochs", "7", "--set", "max_train_epochs=3")
    assert r["steps"]["max_train_epochs"] == 7 and r["steps"]["max_train_steps"] == 7 * r["steps"]["steps_per_epoch"]


def test_steps_and_epochs_together_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke(str(tmp_path / "x.toml"), "--family", "sd15", "--steps", "5", "--epochs", "2")
    assert result.exit_code == 2 and "give --epochs or --steps, not both" in result.output


# --- validation -----------------------------------------------------------------------------------------------


def _subset(count: int, flips: bool = False, is_reg: bool = False) -> ScannedSubset:
    names = [f"p{i:02d}{suffix}.png" for i in range(count) for suffix in (("", "-flip") if flips else ("",))]
    return ScannedSubset("/d/10_a", 10, "a", is_reg, tuple(f"/d/10_a/{n}" for n in sorted(names)),
                         ((512, 512),) * len(names))


def _split_train_val(paths: list[str], split: float, seed: int, training: bool) -> list[str]:
    """sd-scripts' split_train_val as read (library/train_util.py): seeded shuffle, ceil for training, round for val."""
    import random

    items = list(paths)
    state = random.getstate()
    random.seed(seed)
    random.shuffle(items)
    random.setstate(state)
    if training:
        return items[: math.ceil(len(items) * (1 - split))]
    return items[len(items) - round(len(items) * split):]


@pytest.mark.parametrize(("count", "split", "seed"), [(23, 0.1, 42), (15, 0.1, 1), (40, 0.25, 7), (3, 0.5, 0)])
def test_the_split_replays_sd_scripts(count: int, split: float, seed: int) -> None:
    subset = _subset(count)
    kept, held, _shared = validation.split_subsets([subset], split, seed)
    assert sorted(kept[0].paths) == sorted(_split_train_val(list(subset.paths), split, seed, True))
    assert sorted(held) == sorted(_split_train_val(list(subset.paths), split, seed, False))


def test_validation_is_on_for_a_large_dataset_and_splits_few_mirror_pairs() -> None:
    subsets = [_subset(30, flips=True), _subset(5, is_reg=True)]
    chosen = validation.choose(subsets, 42, None)
    assert chosen.split > 0 and chosen.held_out
    at_base = validation.mirror_leaks(*validation.split_subsets(subsets, chosen.split, 42)[:2])
    assert chosen.mirror_leaks < at_base  # the seed chosen splits fewer mirror pairs than the first one tried
    kept, held, shared = validation.split_subsets(subsets, chosen.split, chosen.seed)
    assert shared == 0 and not set(held) & {p for s in kept for p in s.paths}  # no image in both
    assert len(kept[1].paths) == 5  # reg is never split


@pytest.mark.parametrize("sizes", [[15], [23], [46], [100], [23, 46], [7, 31]])
def test_the_default_split_never_overlaps(sizes: list[int]) -> None:
    split = validation.clean_split(sizes)
    for n in sizes:
        assert math.ceil(n * (1 - split)) + round(n * split) == n
    assert abs(split - 0.1) < 0.05


def test_validation_is_off_for_a_small_dataset(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    r = report(str(spec), "--family", "sd15", "--vram", "8")
    assert r["validation"]["split"] == 0.0 and "fewer than 30" in r["validation"]["why"]
    dataset = load_both(tmp_path / "aria" / "config" / "dataset_config.toml")
    assert dataset["datasets"][0]["validation_split"] == 0.0


def test_validation_on_a_large_folder_is_written_at_the_dataset_level(tmp_path: Path) -> None:
    root = kohya_folder(tmp_path, images=40)
    r = report(str(root / "img"), "--reg-dir", str(root / "reg"), "--family", "sdxl", "--vram", "12")
    dataset = load_both(root / "config" / "dataset_config.toml")
    sd_scripts_dataset_schema()(dataset)  # dataset-level keys: a subset-level validation_split is an extra key
    block = dataset["datasets"][0]
    assert block["validation_split"] == r["validation"]["split"] > 0 and isinstance(block["validation_seed"], int)
    assert all("validation_split" not in s for s in block["subsets"])
    held = len(r["validation"]["held_out"])
    assert held >= 3 and r["steps"]["train_samples"] == (40 - held) * 10
    assert flat(load_both(root / "config" / "training.toml"))["validate_every_n_epochs"] == 1


def test_validation_can_be_turned_off(tmp_path: Path) -> None:
    root = kohya_folder(tmp_path, images=40, reg=0)
    r = report(str(root / "img"), "--family", "sd15", "--vram", "8", "--set", "validation_split=0.0")
    assert r["validation"]["split"] == 0.0 and r["steps"]["train_samples"] == 400
    assert "validate_every_n_epochs" not in r["training"]


# --- bases and model variants ---------------------------------------------------------------------------------


def test_a_v_prediction_base(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    r = report(str(spec), "--family", "sdxl", "--vram", "12", "--base", "noobai-vpred")
    assert r["training"]["v_parameterization"] is True and r["training"]["zero_terminal_snr"] is True
    assert r["training"]["sample_sampler"] == "euler" and r["base"] == "noobai-vpred"
    assert all("--l 5.0" in line and "--s 28" in line for line in r["prompts"])


def test_pony_samples_with_its_score_prefix_and_names_its_clip_skip(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    r = report(str(spec), "--family", "sdxl", "--vram", "12", "--base", "pony")
    assert all(line.startswith("score_9, score_8_up") and " --n " not in line for line in r["prompts"])
    assert "clip_skip" not in r["training"]
    assert any("CLIP skip 2" in w["message"] for w in r["warnings"])


def test_base_is_sdxl_only(tmp_path: Path) -> None:
    result = invoke(str(tmp_path / "x.toml"), "--family", "sd15", "--base", "pony")
    assert result.exit_code == 2 and "--base pony is an SDXL checkpoint" in result.output


@pytest.mark.parametrize(
    ("sets", "message"),
    [(["scale_v_pred_loss_like_noise_pred=true"], "scale_v_pred_loss_like_noise_pred needs v_parameterization"),
     (["v_parameterization=true", "v_pred_like_loss=0.2"], "v_pred_like_loss cannot be used with v_parameterization"),
     (["zero_terminal_snr=true", "min_snr_gamma=5"], "divide by a zero SNR")],
    ids=["scale-needs-vpred", "vpred-like-loss-with-vpred", "ztsnr-min-snr-on-eps"],
)
def test_v_prediction_companions(tmp_path: Path, sets: list[str], message: str) -> None:
    spec = make_spec(tmp_path)
    result = invoke(str(spec), "--family", "sdxl", "--vram", "12", *[a for s in sets for a in ("--set", s)])
    assert result.exit_code == 1 and message in result.output


@pytest.mark.parametrize(("sampling", "written"), [("flux_shift", False), ("shift", True), ("sigmoid", False)])
def test_flux_flow_shift_only_where_the_sampling_reads_it(tmp_path: Path, sampling: str, written: bool) -> None:
    spec = make_spec(tmp_path)
    r = report(str(spec), "--family", "flux", "--vram", "24", *FLUX_FILES, "--set", f"timestep_sampling={sampling}")
    assert ("discrete_flow_shift" in r["training"]) is written


# --- launch scripts and path styles ---------------------------------------------------------------------------


def _launch(host: str) -> Launch:
    return Launch(r"C:\lora\aria\config" if host == "windows" else "/home/me/aria/config",
                  r"C:\kohya_ss\sd-scripts" if host == "windows" else "/home/me/kohya_ss/sd-scripts", None, 1, "bf16",
                  host=host, host_name="Windows" if host == "windows" else "Linux")


def _plan(tmp_path: Path) -> Any:
    from kohya_prep.trainconfig.families import FAMILIES
    from kohya_prep.trainconfig.fit import GpuTraits, fit
    from kohya_prep.trainconfig.plan import PlanInputs, make_plan
    from kohya_prep.trainconfig.presets import load_preset

    paths = {"output_dir": "/o", "logging_dir": "/l", "dataset_config": "/c/dataset_config.toml",
             "pretrained_model_name_or_path": "/m.safetensors"}
    subset = ScannedSubset("/d/10_a", 10, "a", False, ("/d/10_a/x.png",), ((512, 512),))
    return make_plan(PlanInputs(FAMILIES["sd15"], load_preset("sd15"), fit("sd15", GpuTraits(8.0, True, None, "t")), 512,
                                "a", paths, {}, [subset]))


def test_train_bat_written_on_windows_waits_on_failure(tmp_path: Path) -> None:
    text = render_train_bat(_plan(tmp_path), _launch("windows"))
    lines = text.split("\r\n")
    launch = next(i for i, line in enumerate(lines) if "accelerate.commands.launch" in line)
    assert lines[launch + 1:launch + 7] == ['set "STATUS=%ERRORLEVEL%"', 'if not "%STATUS%"=="0" (',
                                             "  echo train.bat: training stopped with exit code %STATUS%; the lines "
                                             "above say why.", "  pause", ")", "exit /b %STATUS%"]
    missing = lines.index("  exit /b 1")
    assert lines[missing - 1] == "  pause"  # no sd-scripts: the window stays open too
    assert "/" not in lines[launch].replace("/d ", "")  # one path style: Windows'


def test_a_set_written_on_linux_says_so_in_train_bat(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    assert invoke(str(spec), "--family", "sd15", "--vram", "8").exit_code == 0
    bat = (tmp_path / "aria" / "config" / "train.bat").read_bytes().decode("utf-8")
    assert "this set was written on Linux, with Linux paths" in bat and "pause\r\nexit /b 1" in bat
    assert "accelerate" not in bat  # never launched with Linux paths


def test_train_sh_written_on_windows_says_so(tmp_path: Path) -> None:
    from kohya_prep.trainconfig.files import render_foreign_sh

    text = render_foreign_sh(_plan(tmp_path), _launch("windows"))
    assert "written on Windows" in text and text.rstrip().endswith("exit 1")
    assert "accelerate" in render_train_sh(_plan(tmp_path), _launch("posix"))


@pytest.mark.parametrize(("value", "host", "style"), [(r"C:\models\x.safetensors", "posix", "Windows"),
                                                      ("D:/models/x", "posix", "Windows"), ("/models/x", "posix", None),
                                                      ("/models/x", "windows", "POSIX"), (r"C:\x", "windows", None)])
def test_path_styles(value: str, host: str, style: str | None) -> None:
    assert foreign_style(value, host) == style


def test_a_windows_model_path_on_linux_is_reported(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    r = report(str(spec), "--family", "sd15", "--vram", "8", "--model", r"C:\models\v1-5.safetensors")
    styles = [w for w in r["warnings"] if w["code"] == "path-style"]
    assert len(styles) == 1 and "is a Windows path, but this set is written here on Linux" in styles[0]["message"]
    assert r["training"]["pretrained_model_name_or_path"] == r"C:\models\v1-5.safetensors"  # kept as written


def test_relative_paths_are_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = make_spec(tmp_path, train="\n[train]\noutput_dir = 'runs/out'\n")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "m.safetensors").write_bytes(b"0")
    monkeypatch.chdir(tmp_path / "models")
    r = report(str(spec), "--family", "sd15", "--vram", "8", "--model", "m.safetensors", "--set", "logging_dir=logs")
    assert r["training"]["pretrained_model_name_or_path"] == str(tmp_path / "models" / "m.safetensors")
    assert r["training"]["output_dir"] == str(tmp_path / "runs" / "out")  # the spec's folder
    assert r["training"]["logging_dir"] == str(tmp_path / "models" / "logs")  # the current folder
    hub = report(str(spec), "--family", "sd15", "--vram", "8", "--model", "org/model-id", "--out", str(tmp_path / "h"))
    assert hub["training"]["pretrained_model_name_or_path"] == "org/model-id"  # a Hugging Face id stays one


def test_the_base_choices_are_the_bases() -> None:
    from kohya_prep.commands.train_config import _BASES
    from kohya_prep.trainconfig.bases import BASES

    assert list(BASES) == _BASES


def test_folder_options_on_a_spec_are_refused(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    result = invoke(str(spec), "--family", "sd15", "--vram", "8", "--reg-dir", str(tmp_path))
    assert result.exit_code == 1
    assert "--reg-dir applies only when DATASET is a train_data_dir folder; a kohya-prep spec sets its own" in result.output
