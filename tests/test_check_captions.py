"""Caption findings: which file sd-scripts reads, what each image trains on, trigger and tags."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.check_data import caption, codes, finding, image, run_check, subset


def test_txt_captions_with_default_caption_extension(tmp_path: Path) -> None:
    subset(tmp_path, "10_mychar girl", 3)
    code, report = run_check(str(tmp_path))
    found = finding(report, "caption-extension-mismatch")
    assert code == 1
    assert "3 image(s) have a .txt caption but sd-scripts looks for .caption" in found["message"]
    assert found["fix"] == 'set caption_extension = ".txt" in the dataset config (or --caption_extension .txt)'
    assert "caption-missing" not in codes(report)


@pytest.mark.parametrize(
    ("folder", "trains_on"),
    [("10_mychar girl", "the class tokens 'mychar girl'"), ("10_", "an empty caption (no class tokens either)")],
    ids=["class-tokens", "empty"],
)
def test_missing_caption_says_what_the_image_trains_on(tmp_path: Path, folder: str, trains_on: str) -> None:
    subset(tmp_path, folder, 2, ext="")
    code, report = run_check(str(tmp_path), "--caption-extension", ".txt")
    found = finding(report, "caption-missing")
    assert (code, found["severity"]) == (0, "warning")
    assert found["message"] == f"2 image(s) have no caption file (img00.png, img01.png): they train on {trains_on}"
    assert found["fix"] == "write a one-line caption next to each image (<image stem> + caption extension)"


@pytest.mark.parametrize(
    ("data", "code_name", "fix"),
    [
        (b"", "caption-empty",
         "write the caption on its first line, or delete the file (the image then trains on the class tokens)"),
        ("mychar, café".encode("latin-1"), "caption-not-utf8", "re-save the caption as UTF-8"),
    ],
    ids=["empty", "latin-1"],
)
def test_caption_files_that_stop_sd_scripts(tmp_path: Path, data: bytes, code_name: str, fix: str) -> None:
    folder = subset(tmp_path, "10_mychar", 2, text="mychar")
    (folder / "img01.txt").write_bytes(data)
    code, report = run_check(str(tmp_path), "--caption-extension", ".txt")
    found = finding(report, code_name)
    assert (code, found["path"], found["fix"]) == (1, str(folder / "img01.txt"), fix)


@pytest.mark.parametrize(
    ("text", "code_name", "fix"),
    [
        ("mychar, 1girl\nsecond line\n", "caption-multiline",
         "join the caption into one line (or set enable_wildcard = true to pick a line at random)"),
        ("\nmychar, 1girl\n", "caption-blank", "put the caption on the first line"),
        ("\ufeffmychar, 1girl\n", "caption-bom", "re-save the caption as UTF-8 without BOM"),
    ],
    ids=["multiline", "blank-first-line", "bom"],
)
def test_caption_text_sd_scripts_reads_differently(tmp_path: Path, text: str, code_name: str, fix: str) -> None:
    folder = subset(tmp_path, "10_mychar", 2, text="mychar")
    caption(folder / "img01.txt", text)
    code, report = run_check(str(tmp_path), "--caption-extension", ".txt", "--trigger", "mychar")
    found = finding(report, code_name)
    assert (code, found["severity"], found["fix"]) == (0, "warning", fix)


def test_caption_fallback_reads_another_file(tmp_path: Path) -> None:
    folder = subset(tmp_path, "10_mychar", 1, text="mychar")
    image(folder / "face_10_20_30_40.png", 3)
    caption(folder / "face.txt", "someone else\n")
    code, report = run_check(str(tmp_path), "--caption-extension", ".txt")
    found = finding(report, "caption-fallback")
    assert (code, found["severity"]) == (0, "warning")
    assert f"face_10_20_30_40.png) are captioned from {folder / 'face.txt'}" in found["message"]
    assert report["datasets"][0]["subsets"][0]["captioned"] == 2  # sd-scripts reads face.txt for it


def test_given_trigger_missing_from_some_captions(tmp_path: Path) -> None:
    folder = subset(tmp_path, "10_mychar girl", 3, text="mychar, 1girl")
    caption(folder / "img02.txt", "1girl, red hair\n")
    code, report = run_check(str(tmp_path), "--caption-extension", ".txt", "--trigger", "mychar")
    found = finding(report, "trigger-missing")
    assert (code, found["severity"]) == (0, "warning")
    assert found["message"].startswith("1 of 3 training image(s) train on a caption without 'mychar' (img02.png)")
    assert found["fix"] == "add 'mychar, ' at the start of those captions"


def test_trigger_is_inferred_from_first_tags(tmp_path: Path) -> None:
    folder = subset(tmp_path, "10_mychar girl", 4, text="zzchar, 1girl")
    caption(folder / "img03.txt", "1girl, smile\n")
    _, report = run_check(str(tmp_path), "--caption-extension", ".txt")
    assert finding(report, "trigger")["message"] == "trigger word 'zzchar' (most common first tag)"
    assert "'zzchar'" in finding(report, "trigger-missing")["message"]


def test_trigger_in_reg_captions(tmp_path: Path) -> None:
    subset(tmp_path / "train", "10_mychar girl", 2, text="mychar, 1girl")
    subset(tmp_path / "reg", "1_girl", 2, text="mychar, 1girl", seed=40)
    code, report = run_check(str(tmp_path), "--caption-extension", ".txt", "--trigger", "mychar")
    found = finding(report, "trigger-in-reg")
    assert (code, found["severity"]) == (0, "warning")
    assert found["fix"] == "remove 'mychar' from the reg captions (reg images show only the class)"


def test_tag_frequency_and_single_use_tags(tmp_path: Path) -> None:
    folder = subset(tmp_path, "10_mychar", 3, text="mychar, 1girl")
    caption(folder / "img00.txt", "mychar, 1girl, smlie\n")
    _, report = run_check(str(tmp_path), "--caption-extension", ".txt")
    assert finding(report, "tag-frequency")["message"].startswith("top tags over 3 captions: 1girl (3), mychar (3)")
    once = finding(report, "tag-once")
    assert "smlie" in once["message"]
    assert once["fix"] == "check them for typos; a tag seen once is hardly learned"


def test_keep_tokens_separator_without_shuffle_is_literal(tmp_path: Path) -> None:
    subset(tmp_path, "10_mychar", 2, text="mychar ||| 1girl")
    code, report = run_check(str(tmp_path), "--caption-extension", ".txt")
    found = finding(report, "keep-tokens-separator-literal")
    assert (code, found["severity"]) == (0, "warning")
    assert found["fix"] == 'set keep_tokens_separator = "|||" with shuffle_caption = true, or remove the |||'


def test_reg_images_without_captions_use_their_class_tokens(tmp_path: Path) -> None:
    subset(tmp_path / "train", "10_mychar girl", 2, text="mychar, 1girl")
    subset(tmp_path / "reg", "1_girl", 2, ext="", seed=40)
    code, report = run_check(str(tmp_path), "--caption-extension", ".txt")
    found = finding(report, "caption-missing")
    assert (code, found["severity"]) == (0, "info")
    assert found["message"].endswith("they train on the class tokens 'girl'")
