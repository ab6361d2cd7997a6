"""dataset check follows sd-scripts where it is odd (issue 15): each test a folder of exactly that shape.

The expected numbers were worked out from sd-scripts' code (library/config_util.py, library/train_util.py,
train_network.py at 48d368fa) and confirmed by running its loading code (BlueprintGenerator, then
generate_dataset_group_by_blueprint, which makes the buckets) on the same folders.
"""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

from tests.check_data import caption, codes, finding, image, run_check, subset


def _subsets(report: dict, index: int = 0) -> list[tuple[str, int, str | None, int, int]]:
    return [(Path(s["image_dir"]).name, s["num_repeats"], s["class_tokens"], s["images"], s["captioned"])
            for s in report["datasets"][index]["subsets"]]


def test_a_folder_named_only_a_number_is_a_subset(tmp_path: Path) -> None:
    subset(tmp_path, "5", 3)
    subset(tmp_path, "10_mychar", 2, seed=10)
    code, report = run_check(str(tmp_path), "--caption-extension", ".txt")
    plan = report["datasets"][0]
    assert code == 0, report["errors"]
    assert sorted(_subsets(report)) == [("10_mychar", 10, "mychar", 2, 2), ("5", 5, "", 3, 3)]
    assert (plan["num_train_images"], plan["batches_per_epoch"]) == (35, 35)
    assert "dir-without-repeats" not in codes(report)


def test_reg_folders_are_filled_in_the_file_systems_order(tmp_path: Path) -> None:
    subset(tmp_path / "train", "7_mychar", 3)  # 21 training samples
    reg = tmp_path / "reg"
    for name, count, size in (("1_girl", 8, (512, 768)), ("2_woman", 6, (768, 512)), ("1_person", 9, (512, 512))):
        subset(reg, name, count, text="1girl", seed=20 + count, size=size)
    code, report = run_check(str(tmp_path / "train"), "--reg-dir", str(reg), "--caption-extension", ".txt",
                             "--enable-bucket", "--batch-size", "2", "--trigger", "mychar")
    # By hand, in os.listdir's order (what Path.iterdir gives sd-scripts): each image adds its folder's repeats
    # until 21 samples are reached; the rest are never used.
    samples, used, needed = {}, 0, 21
    for name in os.listdir(reg):
        repeats = int(name.split("_")[0])
        for _ in [f for f in os.listdir(reg / name) if f.endswith(".png")]:
            if used >= needed:
                break
            samples[name] = samples.get(name, 0) + repeats
            used += repeats
    plan = report["datasets"][0]
    assert code == 0, report["errors"]
    assert [Path(s["image_dir"]).name for s in plan["subsets"][1:]] == os.listdir(reg)
    assert plan["reg_samples"] == used
    by_folder: dict[str, int] = {}
    for row in plan["images"]:
        if row["is_reg"]:
            by_folder[Path(row["path"]).parent.name] = by_folder.get(Path(row["path"]).parent.name, 0) + row["num_repeats"]
    assert {k: v for k, v in by_folder.items() if v} == samples
    assert "file system lists the folders (Path.iterdir(), not sorted)" in finding(report, "reg-order")["message"]


def test_face_crop_names_find_the_caption_of_their_base_name(tmp_path: Path) -> None:
    folder = subset(tmp_path, "10_mychar", 1, text="mychar")
    image(folder / "alice_10_20_30_40.png", 3)
    caption(folder / "alice.txt", "mychar, face\n")
    image(folder / "bob_1_2_3_4.png", 4)  # no bob.txt: no caption
    code, report = run_check(str(tmp_path), "--caption-extension", ".txt")
    found = finding(report, "caption-fallback")
    assert (code, found["severity"]) == (0, "warning")
    assert _subsets(report) == [("10_mychar", 10, "mychar", 3, 2)]
    assert "1 image(s) without their own .txt caption (alice_10_20_30_40.png)" in found["message"]


def test_a_subset_folder_with_four_underscores_is_captioned_from_beside_it(tmp_path: Path) -> None:
    subset(tmp_path, "2_a_b_c_d", 3, ext="")
    caption(tmp_path / "2.txt", "shared caption\n")
    code, report = run_check(str(tmp_path), "--caption-extension", ".txt")
    found = finding(report, "caption-fallback")
    assert code == 0
    assert _subsets(report) == [("2_a_b_c_d", 2, "a_b_c_d", 3, 3)]
    assert f"captioned from {tmp_path / '2.txt'}" in found["message"]
    assert "caption-missing" not in codes(report)


def test_an_extended_webp_is_read_one_pixel_short(tmp_path: Path) -> None:
    folder = tmp_path / "5_mychar"
    folder.mkdir()
    Image.new("RGBA", (768, 512), (200, 10, 10, 128)).save(folder / "alpha.webp")  # lossy + alpha: VP8X
    Image.new("RGB", (768, 512), (10, 200, 10)).save(folder / "plain.webp")  # plain VP8
    code, report = run_check(str(tmp_path), "--resolution", "768", "--enable-bucket", "--bucket-no-upscale")
    rows = {Path(r["path"]).name: (r["size"], r["bucket"]) for r in report["datasets"][0]["images"]}
    found = finding(report, "webp-size-off-by-one")
    assert code == 0
    # Under the 768x768 area nothing is resized: the bucket is the size rounded down to 64, from 767x511.
    assert rows == {"alpha.webp": ([767, 511], [704, 448]), "plain.webp": ([768, 512], [768, 512])}
    assert found["message"].startswith("alpha.webp is 768x512, but sd-scripts reads 767x511")


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "dataset.toml"
    path.write_text(body.replace("@", tmp_path.as_posix()), encoding="utf-8")
    return path


def test_subsets_sd_scripts_drops_from_a_dataset_config(tmp_path: Path) -> None:
    subset(tmp_path, "a", 3)
    subset(tmp_path, "b", 2, seed=10)
    subset(tmp_path, "reg", 20, text="1girl", seed=40)
    config = _config(tmp_path, """
[general]
caption_extension = '.txt'
resolution = 512
[[datasets]]
  [[datasets.subsets]]
  image_dir = '@/a'
  num_repeats = 4
  [[datasets.subsets]]
  image_dir = '@/a'
  num_repeats = 10
  [[datasets.subsets]]
  image_dir = '@/a'
  is_reg = true
  [[datasets.subsets]]
  image_dir = '@/b'
  num_repeats = 0
  [[datasets.subsets]]
  image_dir = '@/reg'
  is_reg = true
""")
    code, report = run_check("--dataset-config", str(config), "--trigger", "mychar")
    plan = report["datasets"][0]
    assert code == 1  # the reg subset on the training folder, and images of b left out
    assert _subsets(report) == [("a", 4, None, 3, 3), ("reg", 1, None, 20, 20)]
    assert [(Path(d["image_dir"]).name, d["reason"]) for d in plan["dropped_subsets"]] == [
        ("a", "duplicate"), ("a", "duplicate"), ("b", "num_repeats")]
    # 3 images x 4 repeats = 12 training samples, balanced by 12 of the 20 reg images.
    assert (plan["num_train_images"], plan["reg_samples"], plan["batches_per_epoch"]) == (12, 12, 24)
    assert sorted(f["severity"] for f in report["findings"] if f["code"] == "subset-duplicate") == ["error", "warning"]
    assert finding(report, "subset-skipped")["severity"] == "error"


def test_the_whole_run_in_the_report(tmp_path: Path) -> None:
    subset(tmp_path, "5_mychar", 7, size=(512, 704))
    subset(tmp_path, "3_other", 5, size=(704, 512), seed=10)
    code, report = run_check(str(tmp_path), "--caption-extension", ".txt", "--enable-bucket", "--batch-size", "2",
                             "--gradient-accumulation-steps", "3", "--num-processes", "2", "--max-train-epochs", "7")
    plan = report["datasets"][0]
    assert code == 0, report["errors"]
    # Buckets 448x576: 35 samples -> 18 batches; 576x448: 15 -> 8; 26 batches / (2 x 3) -> 5 steps, x 7 epochs.
    assert [(b["resolution"], b["train_samples"], b["batches"]) for b in plan["buckets"]] == [
        ([448, 576], 35, 18), ([576, 448], 15, 8)]
    assert report["steps"] == {"batches_per_epoch": 26, "gradient_accumulation_steps": 3, "num_processes": 2,
                               "steps_per_epoch": 5, "max_train_epochs": 7, "max_train_steps": 35}
    assert {tuple(r["bucket"]) for r in plan["images"] if Path(r["path"]).parent.name == "3_other"} == {(576, 448)}
    assert "= 5 steps per epoch; max_train_epochs = 7: 35 steps in all" in finding(report, "training-length")["message"]


def test_without_epochs_the_run_is_sd_scripts_default_steps(tmp_path: Path) -> None:
    subset(tmp_path, "10_mychar", 5)
    code, report = run_check(str(tmp_path), "--caption-extension", ".txt", "--batch-size", "4")
    assert code == 0
    assert (report["steps"]["steps_per_epoch"], report["steps"]["max_train_epochs"], report["steps"]["max_train_steps"]) == (
        13, 124, 1600)


def test_bucket_options_for_plain_folders(tmp_path: Path) -> None:
    folder = tmp_path / "3_mychar"
    for i, size in enumerate([(512, 512), (300, 700), (1000, 400), (2000, 1500)]):
        image(folder / f"x{i}.png", i, size)
    code, report = run_check(str(tmp_path), "--resolution", "768,512", "--enable-bucket", "--min-bucket-reso", "320",
                             "--max-bucket-reso", "960", "--bucket-reso-steps", "32")
    plan = report["datasets"][0]
    rows = {Path(r["path"]).name: r["bucket"] for r in plan["images"]}
    assert code == 0
    assert plan["resolution"] == [768, 512] and plan["enable_bucket"] is True
    # make_bucket_resolutions((768, 512), 320, 960, 32) and select_bucket's nearest aspect ratio, by hand.
    assert rows == {"x0.png": [608, 608], "x1.png": [416, 928], "x2.png": [960, 384], "x3.png": [704, 544]}


def test_no_upscale_warning_with_bucket_no_upscale(tmp_path: Path) -> None:
    folder = tmp_path / "2_mychar"
    image(folder / "small.png", 1, (300, 200))
    code, report = run_check(str(tmp_path), "--enable-bucket", "--bucket-no-upscale")
    assert code == 0
    assert report["datasets"][0]["images"][0]["bucket"] == [256, 192]
    assert "tiny-image" not in codes(report) and "upscaled" not in codes(report)
    code, report = run_check(str(tmp_path), "--enable-bucket")
    assert "tiny-image" in codes(report, "warning")
