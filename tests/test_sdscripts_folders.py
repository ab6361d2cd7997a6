"""sd-scripts' folder and file-name rules, on the cases config_util.py and train_util.py show."""

from __future__ import annotations

import pytest

from kohya_prep.sdscripts.folders import (
    caption_fallback_stem,
    is_cache_file,
    is_loaded_image,
    parse_subset_dir_name,
    stem_trips_caption_fallback,
)


@pytest.mark.parametrize(
    ("name", "repeats", "tokens", "used"),
    [
        ("10_sks dog", 10, "sks dog", True),
        ("5_a_b c", 5, "a_b c", True),
        ("07_x", 7, "x", True),
        (" 4_space", 4, "space", True),
        ("3_", 3, "", True),
        ("5", 5, "", True),
        ("cat", None, None, False),
        ("2cat", None, None, False),
        ("0_x", 0, "x", False),
        ("-1_x", -1, "x", False),
    ],
    ids=["plain", "underscore-in-tokens", "leading-zero", "leading-space", "empty-tokens", "bare-number", "no-underscore",
         "no-number", "zero", "negative"],
)
def test_subset_folder_names(name: str, repeats: int | None, tokens: str | None, used: bool) -> None:
    parsed = parse_subset_dir_name(name)
    assert (parsed.num_repeats, parsed.class_tokens, parsed.used) == (repeats, tokens, used)


@pytest.mark.parametrize(
    ("filename", "loaded"),
    [("a.png", True), ("a.JPG", True), ("a.jpeg", True), ("a.webp", True), ("a.bmp", True), ("a.Jpg", False),
     ("a.jPeg", False), ("a.gif", False), ("a.tiff", False), (".hidden.png", False), ("a.png.txt", False)],
    ids=["png", "upper-jpg", "jpeg", "webp", "bmp", "mixed-case", "mixed-case-2", "gif", "tiff", "dotfile", "caption"],
)
def test_which_files_sd_scripts_globs(filename: str, loaded: bool) -> None:
    assert is_loaded_image(filename) is loaded


def test_caption_fallback_splits_the_whole_path() -> None:
    assert caption_fallback_stem("/data/train/10_x/face_0012_0034_0056_0078.png") == "/data/train/10_x/face"
    assert caption_fallback_stem("/my_data/lora_sets/train/10_x/a_b.png") == "/my"
    assert caption_fallback_stem("/data/train/10_x/front.png") is None
    assert stem_trips_caption_fallback("a_b_c_d_e") and not stem_trips_caption_fallback("a_b_c_d")


def test_cache_files() -> None:
    assert is_cache_file("front_0512x0512_sd.npz") and is_cache_file("metadata_cache.json")
    assert not is_cache_file("front.png")
