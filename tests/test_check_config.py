"""sd-scripts dataset TOML (--dataset-config): subsets, buckets and steps, reg balancing, config mistakes."""

from __future__ import annotations

from pathlib import Path

from tests.check_data import codes, finding, image, run_check, subset


def _config(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def test_buckets_and_steps_from_the_dataset_config(tmp_path: Path) -> None:
    train = subset(tmp_path, "imgs", 0)
    for i in range(3):
        image(train / f"sq{i}.png", i, (512, 512))
    for i in range(2):
        image(train / f"po{i}.png", 10 + i, (600, 900))
    image(train / "la0.png", 20, (900, 600))
    for path in train.glob("*.png"):
        (path.with_suffix(".txt")).write_text("mychar\n", encoding="utf-8")
    config = _config(tmp_path / "dataset.toml", f"""
[general]
caption_extension = '.txt'

[[datasets]]
resolution = 512
batch_size = 4
enable_bucket = true

  [[datasets.subsets]]
  image_dir = '{train.as_posix()}'
  num_repeats = 2
""")
    code, report = run_check("--dataset-config", str(config))
    plan = report["datasets"][0]
    assert code == 0, report["findings"]
    # 6 + 4 + 2 samples in three buckets: ceil(6/4) + ceil(4/4) + ceil(2/4) = 4 batches (not 3).
    assert [(b["resolution"], b["train_samples"], b["batches"]) for b in plan["buckets"]] == [
        ([384, 640], 4, 1), ([512, 512], 6, 2), ([640, 384], 2, 1),
    ]
    assert (plan["batches_per_epoch"], plan["steps_per_epoch"]) == (4, 4)
    assert "4 batches, 4 steps per epoch" in finding(report, "steps")["message"]


def test_reg_images_never_used(tmp_path: Path) -> None:
    train = subset(tmp_path, "train", 2, text="mychar")
    reg = subset(tmp_path, "reg", 6, text="1girl", seed=30)
    config = _config(tmp_path / "dataset.toml", f"""
[general]
caption_extension = '.txt'
resolution = 512

[[datasets]]
  [[datasets.subsets]]
  image_dir = '{train.as_posix()}'
  num_repeats = 2
  [[datasets.subsets]]
  image_dir = '{reg.as_posix()}'
  is_reg = true
""")
    code, report = run_check("--dataset-config", str(config))
    found = finding(report, "reg-unused")
    assert (code, found["severity"]) == (0, "warning")
    assert found["message"] == ("2 of 6 reg image(s) are never used (sd-scripts keeps the first 4 in folder and name order, "
                                "every epoch): img04.png, img05.png")
    assert found["fix"].startswith("remove the unused ones")
    assert report["datasets"][0]["reg_unused"] == [str(reg / "img04.png"), str(reg / "img05.png")]


def test_reg_images_repeated_extra(tmp_path: Path) -> None:
    subset(tmp_path / "train", "10_mychar", 3, text="mychar")
    subset(tmp_path / "reg", "1_girl", 4, text="1girl", seed=30)
    code, report = run_check(str(tmp_path), "--caption-extension", ".txt")
    found = finding(report, "reg-repeated")
    assert code == 0
    # 30 train samples, 4 reg images: 26 extra repeats round-robin, up to 8 per image.
    assert found["message"] == ("too few reg images: sd-scripts adds 26 extra repeat(s) round-robin, so each reg image is "
                                "seen up to 8 time(s) per epoch")


def test_keep_tokens_without_shuffle(tmp_path: Path) -> None:
    train = subset(tmp_path, "train", 2, text="mychar")
    config = _config(tmp_path / "dataset.toml", f"""
[general]
caption_extension = '.txt'
keep_tokens = 1

[[datasets]]
resolution = 512
  [[datasets.subsets]]
  image_dir = '{train.as_posix()}'
""")
    code, report = run_check("--dataset-config", str(config))
    found = finding(report, "keep-tokens-no-effect")
    assert (code, found["severity"]) == (0, "warning")
    assert found["fix"] == "set shuffle_caption = true, or drop keep_tokens"


def test_bucket_reso_outside_resolution(tmp_path: Path) -> None:
    train = subset(tmp_path, "train", 1, text="mychar")
    config = _config(tmp_path / "dataset.toml", f"""
[[datasets]]
resolution = 512
enable_bucket = true
min_bucket_reso = 640
caption_extension = '.txt'
  [[datasets.subsets]]
  image_dir = '{train.as_posix()}'
""")
    code, report = run_check("--dataset-config", str(config))
    found = finding(report, "bucket-settings")
    assert code == 1
    assert "min_bucket_reso 640 is larger than the resolution's short side 512" in found["message"]
    assert found["fix"] == "keep min_bucket_reso <= resolution <= max_bucket_reso"


def test_config_mistakes(tmp_path: Path) -> None:
    config = _config(tmp_path / "dataset.toml", """
[[datasets]]
  [[datasets.subsets]]
  image_dir = 'relative/dir'
""")
    code, report = run_check("--dataset-config", str(config))
    assert code == 1
    assert "'resolution is required'" in finding(report, "resolution-missing")["message"]
    assert finding(report, "relative-image-dir")["fix"].startswith("write the absolute path: image_dir = '/")
    assert finding(report, "image-dir-missing")["severity"] == "error"
    assert "no-data" in codes(report, "error")


def test_path_is_ignored_with_a_dataset_config(tmp_path: Path) -> None:
    train = subset(tmp_path, "train", 1, text="mychar")
    config = _config(tmp_path / "dataset.toml", f"""
[[datasets]]
resolution = 512
  [[datasets.subsets]]
  image_dir = '{train.as_posix()}'
  caption_extension = 'txt'
""")
    code, report = run_check(str(tmp_path), "--dataset-config", str(config))
    assert code == 0, report["findings"]
    assert "ignores --train_data_dir" in finding(report, "path-ignored")["message"]


def test_invalid_toml_is_an_error(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from kohya_prep.cli import cli

    config = _config(tmp_path / "dataset.toml", '[[datasets]]\nimage_dir = "C:\\Users\\me"\n')
    result = CliRunner().invoke(cli, ["dataset", "check", "--dataset-config", str(config)])
    assert result.exit_code == 1
    assert "is not valid TOML" in result.output
