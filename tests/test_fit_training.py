"""train-config and dataset check on bucket and masked builds: the arithmetic of every assert sd-scripts' training
scripts make on bucket settings, replayed on the configs written; alpha_mask on exactly the masked subsets."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import toml
from click.testing import CliRunner
from PIL import Image

from kohya_prep.cli import cli
from tests.helpers import figure_image, write_spec

# The bucket steps each script asserts, in the order it runs them (verify_bucket_reso_steps in assert_extra_args):
# train_network.py 64; sdxl_train_network.py overrides it with 32; flux_train_network.py calls train_network.py's
# (64) through super() and then its own (32).
SCRIPT_STEPS = {"sd15": (64,), "sdxl": (32,), "flux": (64, 32)}
MODEL_FILES = {"flux": ["--model", "/m/f.safetensors", "--clip-l", "/m/c", "--t5xxl", "/m/t", "--ae", "/m/a"]}


def _spec(folder: Path, dataset: dict[str, Any], crop_mask: str | None = None) -> Path:
    reg = folder / "regs"
    reg.mkdir(parents=True)
    figure_image((500, 700)).save(reg / "r1.png")
    crops: list[dict[str, Any]] = [{"name": "tall", "box": [50, 40, 300, 700], "flip": True},
                                   {"name": "face", "box": [500, 50, 250, 250]},
                                   {"name": "wide", "box": [500, 400, 500, 300]}]
    if crop_mask:
        crops[0]["mask"] = crop_mask
    spec = write_spec(folder, crops, dataset=dataset, reg={"dir": "regs"})
    result = CliRunner().invoke(cli, ["dataset", "build", str(spec)])
    assert result.exit_code == 0, result.output
    return spec


def _train_config(spec: Path, family: str, *extra: str, code: int = 0) -> Any:
    result = CliRunner().invoke(cli, ["train-config", str(spec), "--family", family, "--vram", "24", "--json",
                                      *MODEL_FILES.get(family, []), *extra])
    assert result.exit_code == code, result.output
    return json.loads(result.output)


def _image_sizes(image_dir: str) -> dict[str, tuple[tuple[int, int], bool]]:
    sizes = {}
    for path in sorted(Path(image_dir).glob("*.png")):
        with Image.open(path) as image:
            sizes[path.name] = (image.size, image.mode == "RGBA")
    return sizes


def _replay_asserts(family: str, block: dict[str, Any]) -> list[str]:
    """What sd-scripts would stop on, as its code computes it (library/train_util.py; train_network.py)."""
    failed = []
    res = block["resolution"]
    width, height = (res, res) if isinstance(res, int) else res
    bucketing = block.get("enable_bucket", False)
    step = block.get("bucket_reso_steps", 64) if bucketing else None  # BaseDataset keeps None without buckets
    for min_steps in SCRIPT_STEPS[family]:  # DatasetGroup.verify_bucket_reso_steps
        if step is not None and step % min_steps != 0:
            failed.append(f"bucket_reso_steps is {step}. it must be divisible by {min_steps}")
    images = [size for subset in block["subsets"] for size, _ in _image_sizes(subset["image_dir"]).values()]
    if not bucketing:  # DreamBoothDataset.__getitem__ without buckets: every image exactly the resolution
        failed += [f"image size is small / too large: {s}" for s in images if s != (width, height)]
        return failed
    low, high = block.get("min_bucket_reso", 256), block.get("max_bucket_reso", 1024)
    low -= low % step  # adjust_min_max_bucket_reso_by_steps: min down, max up to the step
    if high % step:
        high += step - high % step
    if min(width, height) < low:
        failed.append("min_bucket_reso must be equal or less than resolution")
    if max(width, height) > high:
        failed.append("max_bucket_reso must be equal or greater than resolution")
    if high < width or high < height or high < low:  # BucketManager.__init__
        failed.append("the max_size should be larger than ...")
    if low <= 0:
        failed.append("make_bucket_resolutions divides by a zero width")
        return failed
    # model_util.make_bucket_resolutions, then select_bucket: an image at a predefined size stays as it is
    area = width * height
    side = int(math.sqrt(area) // step) * step
    buckets = {(side, side)}
    for w in range(low, high + 1, step):
        h = min(high, int((area // w) // step) * step)
        if h >= low:
            buckets |= {(w, h), (h, w)}
    failed += [f"{s} is not a bucket: sd-scripts resizes and crops it" for s in images if s not in buckets]
    return failed


@pytest.mark.parametrize("family", ["sd15", "sdxl", "flux"])
@pytest.mark.parametrize(
    ("kind", "dataset", "crop_mask"),
    [("bucket", {"fit": "bucket"}, None), ("masked-letterbox", {}, "padding"), ("masked-bucket", {"fit": "bucket",
      "mask": "padding"}, None)],
    ids=["bucket", "masked-letterbox", "masked-bucket"],
)
def test_configs_satisfy_every_bucket_assert_of_the_training_script(tmp_path: Path, family: str, kind: str,
                                                                    dataset: dict[str, Any], crop_mask: str | None) -> None:
    spec = _spec(tmp_path, dataset, crop_mask)
    summary = _train_config(spec, family)
    written = toml.load(tmp_path / "chara" / "config" / "dataset_config.toml")  # sd-scripts reads it with toml
    block = written["datasets"][0]
    assert block == {k: v for k, v in summary["dataset"]["datasets"][0].items()}
    assert _replay_asserts(family, block) == []
    assert block["enable_bucket"] is (kind != "masked-letterbox")
    for subset in block["subsets"]:  # alpha_mask exactly where the images carry a mask
        carries = [rgba for _, rgba in _image_sizes(subset["image_dir"]).values()]
        assert subset.get("alpha_mask", False) is any(carries), subset
    masked = [s.get("is_reg", False) for s in block["subsets"] if s.get("alpha_mask")]
    assert masked == ([False] if kind == "masked-letterbox" else [False, True] if kind == "masked-bucket" else [])
    if kind != "masked-letterbox":  # the steps preview puts each image in its own bucket
        sizes = [size for s in block["subsets"] for size, _ in _image_sizes(s["image_dir"]).values()]
        assert {tuple(b["reso"]) for b in summary["steps"]["buckets"]} == set(sizes)


def test_the_replayed_asserts_catch_what_sd_scripts_rejects() -> None:
    block = {"resolution": 512, "enable_bucket": True, "bucket_reso_steps": 32, "min_bucket_reso": 256,
             "max_bucket_reso": 1024, "subsets": []}
    assert _replay_asserts("flux", block) == ["bucket_reso_steps is 32. it must be divisible by 64"]
    assert _replay_asserts("sdxl", block) == []
    assert _replay_asserts("sd15", {**block, "bucket_reso_steps": 64, "min_bucket_reso": 640}) == [
        "min_bucket_reso must be equal or less than resolution"]


def test_a_build_step_the_family_rejects_is_a_one_line_error_and_writes_nothing(tmp_path: Path) -> None:
    spec = _spec(tmp_path, {"fit": "bucket", "bucket_reso_steps": 32})
    assert _train_config(spec, "sdxl")["dataset"]["datasets"][0]["bucket_reso_steps"] == 32
    result = CliRunner().invoke(cli, ["train-config", str(spec), "--family", "sd15", "--vram", "8",
                                      "--out", str(tmp_path / "sd15")])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: the dataset is built for bucket_reso_steps = 32, but train_network.py asserts a multiple of 64; set "
        "bucket_reso_steps = 64 in the spec's [dataset] and build it again."]
    assert not (tmp_path / "sd15").exists()


def test_settings_that_move_built_images_to_another_bucket_warn(tmp_path: Path) -> None:
    spec = _spec(tmp_path, {"fit": "bucket"})
    summary = _train_config(spec, "sd15", "--set", "resolution=768")
    moved = [w for w in summary["warnings"] if w["code"] == "bucket-moved"]
    assert len(moved) == 1 and "were built for their bucket but these settings put them in another one" in moved[0]["message"]


def test_check_reports_masked_subsets_and_alpha_it_would_ignore(tmp_path: Path) -> None:
    spec = _spec(tmp_path, {}, crop_mask="padding")  # a letterboxed tall crop: its padding is masked
    report = json.loads(CliRunner().invoke(cli, ["dataset", "check", str(spec), "--json", "--no-duplicates"]).output)
    masked = [f for f in report["findings"] if f["code"] == "masked-subset"]
    assert len(masked) == 1 and masked[0]["path"].endswith("10_chara girl")
    assert "2 of 4 image(s) carry a loss mask; mean masked share" in masked[0]["message"]
    share = float(masked[0]["message"].split("mean masked share ")[1].split("%")[0]) / 100
    assert 0 < share < 0.5
    folder = json.loads(CliRunner().invoke(cli, ["dataset", "check", str(tmp_path / "chara"), "--json",
                                                 "--caption-extension", ".txt", "--no-duplicates"]).output)
    assert [f["code"] for f in folder["findings"] if f["code"] in ("masked-subset", "alpha-unused")] == ["alpha-unused"]
    config = tmp_path / "dataset.toml"
    config.write_text(f"[[datasets]]\nresolution = 512\nenable_bucket = true\n[[datasets.subsets]]\n"
                      f"image_dir = '{tmp_path / 'chara' / 'train' / '10_chara girl'}'\nalpha_mask = true\n"
                      "caption_extension = '.txt'\n", encoding="utf-8")
    by_config = json.loads(CliRunner().invoke(cli, ["dataset", "check", "--dataset-config", str(config), "--json",
                                                    "--no-duplicates"]).output)
    assert [f["code"] for f in by_config["findings"] if f["code"] == "masked-subset"] == ["masked-subset"]
