"""Layout findings: what sd-scripts loads, ignores or skips; one small folder per problem."""

from __future__ import annotations

from pathlib import Path

from tests.check_data import finding, image, run_check, subset


def test_subset_folder_given_is_checked_as_its_parent(tmp_path: Path) -> None:
    folder = subset(tmp_path / "train", "10_mychar girl", 2)
    code, report = run_check(str(folder), "--caption-extension", ".txt")
    found = finding(report, "subset-folder-given")
    assert code == 1
    assert found["severity"] == "error"
    assert "'No data found'" in found["message"]
    assert found["fix"] == f"set train_data_dir to {tmp_path / 'train'} (the parent of '10_mychar girl'), not to the image folder"
    assert report["datasets"][0]["subsets"][0]["images"] == 2


def test_folder_without_repeats_is_ignored(tmp_path: Path) -> None:
    subset(tmp_path, "10_mychar", 1, text="mychar")
    subset(tmp_path, "extra", 2, text="mychar")
    code, report = run_check(str(tmp_path), "--caption-extension", ".txt")
    found = finding(report, "dir-without-repeats")
    assert code == 1
    assert "its 2 image(s) are not trained" in found["message"]
    assert found["fix"] == "rename it to '10_extra' (10 repeats) or move it out of the train_data_dir"


def test_empty_folder_without_repeats_is_only_a_fact(tmp_path: Path) -> None:
    subset(tmp_path, "10_mychar", 1, text="mychar")
    (tmp_path / "logs").mkdir()
    code, report = run_check(str(tmp_path), "--caption-extension", ".txt")
    assert code == 0
    assert finding(report, "dir-without-repeats")["severity"] == "info"


def test_zero_repeats_folder_is_dropped_silently(tmp_path: Path) -> None:
    subset(tmp_path, "10_mychar", 1, text="mychar")
    subset(tmp_path, "0_mychar extra", 3, text="mychar")
    code, report = run_check(str(tmp_path), "--caption-extension", ".txt")
    found = finding(report, "zero-repeats")
    assert code == 1
    assert "skips '0_mychar extra' without a word" in found["message"]
    assert found["fix"] == "rename it to '1_mychar extra' or more repeats"


def test_no_data_found(tmp_path: Path) -> None:
    subset(tmp_path, "mychar", 2, text="mychar")
    (tmp_path / "other").mkdir()
    code, report = run_check(str(tmp_path), "--caption-extension", ".txt")
    found = finding(report, "no-data")
    assert code == 1
    assert "No data found" in found["message"]
    assert "point train_data_dir at its parent" in found["fix"]


def test_images_in_root_are_ignored(tmp_path: Path) -> None:
    subset(tmp_path, "10_mychar", 1, text="mychar")
    image(tmp_path / "loose.png")
    code, report = run_check(str(tmp_path), "--caption-extension", ".txt")
    found = finding(report, "images-in-root")
    assert (code, found["severity"]) == (0, "warning")
    assert "loose.png" in found["message"]
    assert found["fix"] == "move them into a folder such as '10_<trigger> <class>'"


def test_preview_folder_inside_subset(tmp_path: Path) -> None:
    folder = subset(tmp_path, "10_mychar", 1, text="mychar")
    image(folder / "preview" / "sheet.png")
    code, report = run_check(str(tmp_path), "--caption-extension", ".txt")
    found = finding(report, "nested-folder")
    assert (code, found["severity"]) == (0, "warning")
    assert found["message"].startswith("a preview folder inside a subset: sd-scripts does not look into it (1 image(s)")
    assert found["fix"] == "move 'preview' out of 10_mychar/ (images go directly in the subset folder)"


def test_mixed_case_extension_is_not_found_on_linux(tmp_path: Path) -> None:
    folder = subset(tmp_path, "10_mychar", 1, text="mychar")
    image(folder / "photo.Jpg", 5, fmt="JPEG")
    code, report = run_check(str(tmp_path), "--caption-extension", ".txt")
    found = finding(report, "wrong-case-extension")
    assert code == 1
    assert "photo.Jpg" in found["message"]
    assert found["fix"] == "rename to a lower-case extension, e.g. photo.jpg"
    assert report["datasets"][0]["subsets"][0]["images"] == 1


def test_upper_case_extension_is_found(tmp_path: Path) -> None:
    folder = subset(tmp_path, "10_mychar", 1, text="mychar")
    image(folder / "photo.PNG", 5)
    (folder / "photo.txt").write_text("mychar\n", encoding="utf-8")
    code, report = run_check(str(tmp_path), "--caption-extension", ".txt")
    assert code == 0
    assert report["datasets"][0]["subsets"][0]["images"] == 2


def test_unsupported_format_is_skipped(tmp_path: Path) -> None:
    folder = subset(tmp_path, "10_mychar", 1, text="mychar")
    image(folder / "anim.gif", 3, fmt="GIF")
    code, report = run_check(str(tmp_path), "--caption-extension", ".txt")
    found = finding(report, "unsupported-format")
    assert (code, found["severity"]) == (0, "warning")
    assert "anim.gif" in found["message"]
    assert found["fix"] == "convert them to PNG (or JPEG/WebP) if they belong in the dataset"


def test_empty_training_subset(tmp_path: Path) -> None:
    subset(tmp_path, "10_mychar", 1, text="mychar")
    (tmp_path / "5_empty").mkdir()
    code, report = run_check(str(tmp_path), "--caption-extension", ".txt")
    found = finding(report, "empty-subset")
    assert (code, found["severity"]) == (0, "warning")
    assert found["path"] == str(tmp_path / "5_empty")


def test_file_that_is_not_a_dataset(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("hi", encoding="utf-8")
    from click.testing import CliRunner

    from kohya_prep.cli import cli

    result = CliRunner().invoke(cli, ["dataset", "check", str(tmp_path / "notes.md")])
    assert result.exit_code == 1
    assert "is a file; give a train_data_dir folder" in result.output


def test_image_folder_without_prefix_given(tmp_path: Path) -> None:
    folder = subset(tmp_path, "pictures", 2, text="mychar")
    code, report = run_check(str(folder), "--caption-extension", ".txt")
    assert code == 1
    assert {"subset-folder-given", "dir-without-repeats", "no-data"} <= {f["code"] for f in report["findings"]}
    fix = finding(report, "dir-without-repeats")["fix"]
    assert fix == "rename it to '10_pictures' (10 repeats) or move it out of the train_data_dir"
