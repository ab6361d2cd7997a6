"""Image hygiene findings, each on a folder with exactly that problem."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageOps

from kohya_prep.check.scan import is_truncated, sniff_format
from tests.check_data import codes, finding, image, picture, run_check, subset


def _dataset(tmp_path: Path) -> Path:
    return subset(tmp_path, "10_mychar", 2, text="mychar")


def _check(tmp_path: Path, *extra: str) -> tuple[int, dict]:
    return run_check(str(tmp_path), "--caption-extension", ".txt", *extra)


@pytest.mark.parametrize("name", ["cut.png", "cut.jpg"], ids=["png", "jpeg"])
def test_truncated_image(tmp_path: Path, name: str) -> None:
    folder = _dataset(tmp_path)
    data = image(tmp_path / "whole" / name, 7).read_bytes()
    (folder / name).write_bytes(data[: len(data) * 2 // 3])
    code, report = _check(tmp_path)
    found = finding(report, "truncated-image")
    assert code == 1
    assert "'image file is truncated'" in found["message"]
    assert found["fix"] == "re-export or re-copy the image from its source, or delete it"


def test_unreadable_image(tmp_path: Path) -> None:
    folder = _dataset(tmp_path)
    (folder / "broken.png").write_bytes(b"this is not an image at all")
    code, report = _check(tmp_path)
    found = finding(report, "unreadable-image")
    assert code == 1
    assert found["fix"] == "re-export it as PNG, or delete it"


def test_content_does_not_match_extension(tmp_path: Path) -> None:
    folder = _dataset(tmp_path)
    image(folder / "photo.png", 9, fmt="JPEG")
    code, report = _check(tmp_path)
    found = finding(report, "extension-mismatch")
    assert (code, found["severity"]) == (0, "warning")
    assert found["message"] == "photo.png is a JPEG file named .png"
    assert found["fix"] == "rename it to photo.jpg (or re-save as PNG)"


def test_tiny_image(tmp_path: Path) -> None:
    folder = _dataset(tmp_path)
    image(folder / "small.png", 9, (300, 600))
    code, report = _check(tmp_path, "--resolution", "512")
    found = finding(report, "tiny-image")
    assert (code, found["severity"]) == (0, "warning")
    # Bucketing off: one 512x512 bucket; 300x600 is scaled to cover it, width first: 512x1024.
    assert found["message"] == ("small.png is 300x600: sd-scripts scales it up to 512x1024 to cover its 512x512 bucket "
                                "(blurry samples)")
    assert found["fix"] == "replace it with a larger source (at least 512x512), or remove it"
    assert finding(report, "upscaled")["severity"] == "info"


def test_identical_files_and_look_alikes(tmp_path: Path) -> None:
    folder = _dataset(tmp_path)
    picture(50).save(folder / "a.png")
    picture(50).save(folder / "b.png")
    picture(60).save(folder / "c.png")
    touched = picture(60)
    ImageDraw.Draw(touched).rectangle((100, 100, 130, 130), fill=(255, 255, 255))
    touched.save(folder / "d.jpg", quality=80)
    code, report = _check(tmp_path)
    identical = finding(report, "duplicate-image")
    alike = finding(report, "look-alike")
    assert code == 0
    assert identical["severity"] == "warning"
    assert identical["message"] == "identical files: 10_mychar/a.png, 10_mychar/b.png; each copy weighs the same picture again"
    assert identical["fix"] == "keep one of them (or give the copies fewer repeats)"
    assert (alike["severity"], alike["message"]) == ("info", "images that look alike: 10_mychar/c.png, 10_mychar/d.jpg")
    assert alike["fix"] == "keep them if they differ in what you mean to teach; drop near-copies"


def test_letterbox_padding_does_not_make_crops_look_alike(tmp_path: Path) -> None:
    folder = _dataset(tmp_path)
    for i in range(3):
        padded = Image.new("RGB", (512, 512), (255, 255, 255))
        padded.paste(picture(200 + i, (160, 512)), (176, 0))
        padded.save(folder / f"tall{i}.png")
    _, report = _check(tmp_path)
    assert "look-alike" not in codes(report)


def test_mirrored_copy_is_not_a_duplicate(tmp_path: Path) -> None:
    folder = _dataset(tmp_path)
    picture(70).save(folder / "crop.png")
    ImageOps.mirror(picture(70)).save(folder / "crop-flip.png")
    _, report = _check(tmp_path)
    assert not {"duplicate-image", "look-alike", "flip-like-original"} & set(codes(report))


def test_flipped_copy_of_a_symmetric_subject_is_a_fact(tmp_path: Path) -> None:
    folder = _dataset(tmp_path)
    symmetric = picture(80, (256, 512))
    both = Image.new("RGB", (512, 512))
    both.paste(symmetric, (0, 0))
    both.paste(ImageOps.mirror(symmetric), (256, 0))
    ImageDraw.Draw(both).ellipse((100, 100, 110, 110), fill=(0, 0, 0))  # a mole on one side only
    both.save(folder / "front.png")
    ImageOps.mirror(both).save(folder / "front-flip.png")
    code, report = _check(tmp_path)
    found = finding(report, "flip-like-original")
    assert (code, found["severity"]) == (0, "info")
    assert not {"duplicate-image", "look-alike"} & set(codes(report))


def test_no_duplicates_skips_the_scan(tmp_path: Path) -> None:
    folder = _dataset(tmp_path)
    picture(50).save(folder / "a.png")
    picture(50).save(folder / "b.png")
    _, report = _check(tmp_path, "--no-duplicates")
    assert not {"duplicate-image", "look-alike"} & set(codes(report))
    assert finding(report, "duplicates-skipped")["severity"] == "info"


def test_stem_with_many_underscores(tmp_path: Path) -> None:
    folder = _dataset(tmp_path)
    image(folder / "char_a_b_c_d.png", 11)
    (folder / "char_a_b_c_d.txt").write_text("mychar\n", encoding="utf-8")
    code, report = _check(tmp_path)
    found = finding(report, "underscore-stem")
    assert (code, found["severity"]) == (0, "warning")
    assert found["fix"] == "rename it with fewer than 4 underscores, e.g. char-a-b-c-d.png"


def test_stale_latent_cache(tmp_path: Path) -> None:
    folder = _dataset(tmp_path)
    cache = folder / "img00_0512x0512_sd.npz"
    cache.write_bytes(b"old")
    fresh = folder / "img01_0512x0512_sd.npz"
    fresh.write_bytes(b"new")
    os.utime(cache, (1_000_000, 1_000_000))
    os.utime(fresh, (4_000_000_000, 4_000_000_000))
    code, report = _check(tmp_path)
    found = finding(report, "stale-cache")
    assert (code, found["path"]) == (0, str(cache))
    assert "older than img00.png" in found["message"]
    assert found["fix"] == f"delete {cache} (sd-scripts recaches)"


def test_stale_metadata_cache(tmp_path: Path) -> None:
    folder = _dataset(tmp_path)
    meta = folder / "metadata_cache.json"
    meta.write_text("{}", encoding="utf-8")
    os.utime(meta, (1_000_000, 1_000_000))
    _, report = _check(tmp_path)
    found = finding(report, "stale-cache")
    assert "with cache_info sd-scripts reuses its old captions and sizes" in found["message"]
    assert found["fix"] == f"delete {meta}"


@pytest.mark.parametrize(
    ("head", "tail", "size", "kind", "truncated"),
    [
        (b"\x89PNG\r\n\x1a\n", b"\x00\x00\x00\x00IEND\xaeB`\x82", 100, "png", False),
        (b"\x89PNG\r\n\x1a\n", b"IDATxxxx", 100, "png", True),
        (b"\xff\xd8\xff\xe0", b"\x00\xff\xd9", 100, "jpeg", False),
        (b"RIFF\x5c\x00\x00\x00WEBPVP8 ", b"", 100, "webp", False),
        (b"RIFF\x5c\x00\x00\x00WEBPVP8 ", b"", 90, "webp", True),
        (b"BM\x64\x00\x00\x00", b"", 90, "bmp", True),
    ],
    ids=["png-ok", "png-cut", "jpeg-ok", "webp-ok", "webp-cut", "bmp-cut"],
)
def test_truncation_from_end_bytes(head: bytes, tail: bytes, size: int, kind: str, truncated: bool) -> None:
    assert sniff_format(head) == kind
    assert is_truncated(kind, head, tail, size) is truncated
