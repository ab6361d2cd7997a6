"""The pure parts of train-config with plain values: option table, TOML rendering, presets, GPU fit, file ownership."""

from __future__ import annotations

import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import toml

from kohya_prep.errors import ConfigError
from kohya_prep.trainconfig import presets
from kohya_prep.trainconfig.argtable import TABLES, parse_override
from kohya_prep.trainconfig.cards import compute_capability
from kohya_prep.trainconfig.dataset_toml import dataset_config_problems
from kohya_prep.trainconfig.fit import GpuTraits, fit, tier_for
from kohya_prep.trainconfig.toml_text import Entry, Table, checked_render, render_value
from kohya_prep.trainconfig.writer import refusals, write_files

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("learning_rate=1e-4", ("learning_rate", 0.0001)),
        ("network_alpha=8", ("network_alpha", 8.0)),
        ("network_dim=32", ("network_dim", 32)),
        ("lr_warmup_steps=100", ("lr_warmup_steps", 100)),
        ("lr_warmup_steps=0.05", ("lr_warmup_steps", 0.05)),
        ("text_encoder_lr=5e-5", ("text_encoder_lr", [5e-05])),
        ("optimizer_args=weight_decay=0.01 betas=(0.9,0.99)", ("optimizer_args", ["weight_decay=0.01", "betas=(0.9,0.99)"])),
        ('network_args=["conv_dim=4", "conv_alpha=1"]', ("network_args", ["conv_dim=4", "conv_alpha=1"])),
        ("output_dir=C:\\lora\\out", ("output_dir", "C:\\lora\\out")),
        ("shuffle_caption=true", ("shuffle_caption", True)),
    ],
    ids=["float-exp", "int-widened-to-float", "int", "warmup-steps", "warmup-ratio", "single-to-list", "list-split",
         "list-toml", "windows-path", "bool"],
)
def test_override_values_get_the_option_type(text: str, expected: tuple[str, Any]) -> None:
    assert parse_override("sd15", text) == expected


@pytest.mark.parametrize(
    ("family", "text", "message"),
    [
        ("sd15", "guidance_scale=1.0", "'guidance_scale' is not an option of the sd15 training script"),
        ("flux", "blocks_to_swp=8", "did you mean 'blocks_to_swap'?"),
        ("sdxl", "v2=true", "'v2' is not an option of the sdxl training script"),
        ("sd15", "lr_warmup_steps=1.5", "a whole number of steps, or a ratio below 1.0"),
    ],
    ids=["flux-only-on-sd15", "typo", "v2-on-sdxl", "warmup-float-above-one"],
)
def test_bad_overrides(family: str, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_override(family, text)
    assert message in str(err.value)


def test_family_tables_hold_their_own_options() -> None:
    assert {"clip_l", "t5xxl", "ae", "guidance_scale", "blocks_to_swap", "fp8_base"} <= set(TABLES["flux"])
    assert "cache_text_encoder_outputs" in TABLES["sdxl"] and "cache_text_encoder_outputs" not in TABLES["sd15"]
    assert "blocks_to_swap" not in TABLES["sdxl"] and "v2" in TABLES["sd15"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("C:\\Users\\me\\10_aria girl", "'C:\\Users\\me\\10_aria girl'"),
        ("it's", '"it\'s"'),
        ('say "hi" \\ ok', "'say \"hi\" \\ ok'"),
        ("tab\there", '"tab\\u0009here"'),
        (1e-05, "1e-05"),
        (8.0, "8.0"),
        (["a=1", "b=(0.9,0.99)"], '["a=1", "b=(0.9,0.99)"]'),
        ([0.0001], "[0.0001]"),
        (True, "true"),
        ("C:\\データ\\アリア girl", "'C:\\データ\\アリア girl'"),
    ],
    ids=["windows-path", "quote", "double-quote-and-backslash", "control-char", "small-float", "whole-float",
         "string-list", "float-list", "bool", "unicode-path"],
)
def test_values_render_and_load_back_with_both_parsers(value: Any, text: str) -> None:
    assert render_value(value) == text
    assert toml.loads(f"v = {text}")["v"] == tomllib.loads(f"v = {text}")["v"] == value


def test_mixed_arrays_are_refused() -> None:
    with pytest.raises(ValueError):
        render_value([1, 2.0])


def test_checked_render_writes_comments_and_verifies() -> None:
    tables = [Table("network", [Entry("network_dim", 16, "rank"), Entry("network_alpha", 8.0)])]
    text = checked_render(["head"], tables, {"network": {"network_dim": 16, "network_alpha": 8.0}})
    assert text == "# head\n\n[network]\nnetwork_dim = 16  # rank\nnetwork_alpha = 8.0\n"
    with pytest.raises(AssertionError):
        checked_render([], tables, {"network": {"network_dim": 16}})


@pytest.mark.parametrize("family", ["sd15", "sdxl", "flux"])
def test_presets_load_from_the_package(family: str) -> None:
    resource = files("kohya_prep.templates") / f"{family}.toml"
    assert resource.is_file()
    preset = presets.load_preset(family)
    assert preset.source == f"kohya_prep.templates/{family}.toml"
    assert isinstance(preset.values["max_train_epochs"], int) and isinstance(preset.values["learning_rate"], float)
    assert preset.comments["max_train_epochs"].startswith("always explicit")


def test_presets_fall_back_to_the_checkout_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.resources

    def missing(_package: str) -> Any:
        raise ModuleNotFoundError("kohya_prep.templates")

    monkeypatch.setattr(importlib.resources, "files", missing)
    text, source = presets.preset_text("sd15")
    assert source.endswith(str(Path("templates") / "sd15.toml"))
    assert "network_module" in text


def test_trailing_comments_ignore_hashes_inside_values() -> None:
    text = "a = 'x # y'  # why a\nb = \"#\"\nc = 1 # why c\n# d = 2  # not a key\n"
    assert presets.trailing_comments(text) == {"a": "why a", "c": "why c"}


@pytest.mark.parametrize(
    ("family", "vram", "tier"),
    [("sd15", 6.0, 8), ("sd15", 11.6, 12), ("sdxl", 23.6, 24), ("flux", 10.0, 10), ("flux", 80.0, 40), ("sdxl", 47.5, 48)],
    ids=["below-all", "reported-11.6", "reported-23.6", "flux-10", "flux-80", "sdxl-47.5"],
)
def test_tiers(family: str, vram: float, tier: int) -> None:
    assert tier_for(family, vram) == tier


@pytest.mark.parametrize(
    ("vram", "expected"),
    [
        (8, {"fp8_base": True, "blocks_to_swap": 28, "optimizer_type": "Adafactor", "train_batch_size": 1}),
        (10, {"fp8_base": True, "blocks_to_swap": 22, "optimizer_type": "AdamW8bit"}),
        (12, {"fp8_base": True, "blocks_to_swap": 16, "optimizer_type": "AdamW8bit"}),
        (16, {"fp8_base": True, "blocks_to_swap": 8, "train_batch_size": 1}),
        (24, {"fp8_base": True, "train_batch_size": 2}),
        (48, {"train_batch_size": 2}),
    ],
    ids=["8GB", "10GB", "12GB", "16GB", "24GB", "48GB"],
)
def test_flux_fit_follows_sd_scripts_figures(vram: int, expected: dict[str, Any]) -> None:
    result = fit("flux", GpuTraits(float(vram), True, None, "test"))
    chosen = {c.key: c.value for c in result.choices}
    assert {k: chosen.get(k) for k in expected} == expected
    assert ("blocks_to_swap" in chosen) == (vram < 24) and ("fp8_base" in chosen) == (vram <= 24)
    assert all(c.why for c in result.choices)
    if vram == 12:
        why = next(c.why for c in result.choices if c.key == "blocks_to_swap")
        assert why == "12 GB: blocks_to_swap 16 (max 35), per sd-scripts' FLUX guidance"


def test_sdxl_8gb_caches_text_encoders_and_trains_unet_only() -> None:
    chosen = {c.key: c.value for c in fit("sdxl", GpuTraits(8.0, False, None, "test")).choices}
    assert chosen["network_train_unet_only"] and chosen["cache_text_encoder_outputs"] and chosen["no_half_vae"]
    assert (chosen["network_dim"], chosen["network_alpha"], chosen["mixed_precision"]) == (8, 4.0, "fp16")


@pytest.mark.parametrize(
    ("name", "capability"),
    [("NVIDIA GeForce RTX 3060", (8, 6)), ("NVIDIA GeForce RTX 4090", (8, 9)), ("Tesla T4", (7, 5)),
     ("NVIDIA H200", (9, 0)), ("NVIDIA GeForce GTX 1080 Ti", (6, 1)), ("Some Card", None)],
    ids=["3060", "4090", "t4", "h200", "1080ti", "unknown"],
)
def test_card_table(name: str, capability: tuple[int, int] | None) -> None:
    assert compute_capability(name) == capability


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"datasets": [{"resolution": 512, "subsets": [{"image_dir": "/a", "batch_size": 2}]}]},
         "extra keys not allowed @ data['datasets'][0]['subsets'][0]['batch_size']"),
        ({"datasets": [{"resolution": 512, "is_reg": True, "subsets": []}]},
         "extra keys not allowed @ data['datasets'][0]['is_reg']"),
        ({"general": {"prior_loss_weight": 1.0}, "datasets": []},
         "extra keys not allowed @ data['general']['prior_loss_weight']"),
        ({"datasets": [{"resolution": "512,512", "subsets": []}]},
         "expected int for dictionary value @ data['datasets'][0]['resolution']"),
        ({"datasets": [{"resolution": 512, "network_multiplier": 1, "subsets": []}]},
         "expected float for dictionary value @ data['datasets'][0]['network_multiplier']"),
        ({"datasets": [{"resolution": 512, "subsets": [{"num_repeats": 1}]}]},
         "required key not provided @ data['datasets'][0]['subsets'][0]['image_dir']"),
        ({"datasets": [{"resolution": 512, "bucket_reso_steps": 32, "subsets": []}]}, "must be divisible by 64"),
        ({"datasets": [{"subsets": []}]}, "resolution is required"),
        ({"settings": {}}, "extra keys not allowed @ data['settings']"),
    ],
    ids=["batch-in-subset", "is-reg-in-dataset", "argparse-only-key", "string-resolution", "int-for-float",
         "no-image-dir", "bucket-step", "no-resolution", "unknown-table"],
)
def test_dataset_validator_catches_what_sd_scripts_rejects(data: dict[str, Any], problem: str) -> None:
    problems = dataset_config_problems(data, bucket_step=64)
    assert any(problem in p for p in problems), problems


def test_writer_refuses_foreign_and_edited_files(tmp_path: Path) -> None:
    write_files(tmp_path, {"a.toml": "x = 1\n", "train.sh": "#!/bin/sh\n"})
    assert refusals(tmp_path, ["a.toml", "train.sh", "new.toml"]) == []
    (tmp_path / "a.toml").write_text("x = 2\n", encoding="utf-8")
    (tmp_path / "b.toml").write_text("y = 1\n", encoding="utf-8")
    assert refusals(tmp_path, ["a.toml", "b.toml"]) == [
        f"{tmp_path / 'a.toml'} was changed after kohya-prep wrote it", f"{tmp_path / 'b.toml'} was not written by kohya-prep"]
    with pytest.raises(ConfigError):
        write_files(tmp_path, {"b.toml": "y = 2\n"})
    assert (tmp_path / "b.toml").read_text(encoding="utf-8") == "y = 1\n"


def test_unwritable_output_folder_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from kohya_prep.trainconfig.preflight import writable_warnings

    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # Root may write anywhere, so a read-only folder cannot be made for real in every test run.
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != locked and real_access(p, mode))
    warnings = writable_warnings({"output_dir": str(locked / "out" / "lora"), "logging_dir": str(tmp_path / "logs")})
    assert [(w.code, w.message) for w in warnings] == [
        ("not-writable", f"output_dir {locked / 'out' / 'lora'}: {locked} is not writable; sd-scripts will fail to save "
                         "there. Fix its permissions or --set output_dir=<another folder>.")]
