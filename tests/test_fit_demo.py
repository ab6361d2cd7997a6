"""The demo both ways: letterbox with the pixels of the build before `fit` existed (its bytes without zlib-ng; enlarged
crops within 1 level of its 8-bit Lanczos), and `fit = "bucket"` with every image in sd-scripts' bucket list, padded
only where its source had no room, and placed there by check and train-config alike."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from kohya_prep.build.geometry import letterbox
from kohya_prep.build.pixels import decode
from kohya_prep.build.plan import RENDERER_VERSION
from kohya_prep.cli import cli
from kohya_prep.sdscripts.buckets import make_bucket_resolutions
from kohya_prep.spec import load_spec
from tests.helpers import run_without_fast_codecs

DATASET = Path(__file__).resolve().parent.parent / "dataset"
# sha256 over "<relpath>\0<sha256 of the file>\n" of every file under train/ and reg/, sorted, from `make dataset`
# at commit c04f4ef (before fit and mask existed): 23 PNGs and 23 captions, each file's own hashes in the fixture
# (for a PNG also the hash of its decoded pixels). Those PNGs were written by OpenCV's libpng (SUB filter, level 1,
# RLE), which a build still uses where zlib-ng is not installed, and enlarged with OpenCV's 8-bit Lanczos-4.
LETTERBOX_DEMO_SHA256 = "cfc87608fa5c48b6801ee3023483770ff2101ad4a05472aa1ae51350fa28e0f0"
BEFORE_FIT = json.loads((Path(__file__).parent / "fixtures" / "letterbox-demo-c04f4ef.json").read_text(encoding="utf-8"))
BUCKETS_512 = make_bucket_resolutions((512, 512), 256, 1024, 64)  # checked by hand in test_sdscripts_buckets.py
SUBSET = "10_mirakp girl"


def _demo(folder: Path, dataset_lines: str = "") -> Path:
    """A copy of the demo spec and sources, with extra [dataset] lines, built; returns the spec."""
    shutil.copytree(DATASET / "sources", folder / "sources")
    text = (DATASET / "demo.toml").read_text(encoding="utf-8")
    if dataset_lines:
        text = text.replace("\n[reg]\n", f"\n{dataset_lines}\n\n[reg]\n", 1)
    (folder / "demo.toml").write_text(text, encoding="utf-8")
    return folder / "demo.toml"


def _build(spec: Path) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["dataset", "build", str(spec), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _tree_digest(root: Path) -> tuple[int, str]:
    items = []
    for top in ("train", "reg"):
        for folder, _dirs, files in os.walk(root / top):
            for name in files:
                path = Path(folder) / name
                items.append((path.relative_to(root).as_posix(), hashlib.sha256(path.read_bytes()).hexdigest()))
    return len(items), _digest(items)


def _digest(items: list[tuple[str, str]]) -> str:
    digest = hashlib.sha256()
    for relpath, sha in sorted(items):
        digest.update(f"{relpath}\0{sha}\n".encode())
    return digest.hexdigest()


def _pixels(path: Path) -> tuple[np.ndarray, str]:
    with Image.open(path) as img:
        array = np.asarray(img)
        return array, hashlib.sha256(f"{img.mode} {array.shape}".encode() + array.tobytes()).hexdigest()


def _enlarged(spec: Path) -> dict[str, np.ndarray]:
    """The demo's enlarged crops (and flips) as the renderer before them drew them: OpenCV's 8-bit Lanczos-4."""
    loaded = load_spec(spec)
    found = {}
    for crop in loaded.crops:
        box = crop.box
        if crop.status != "approved" or max(box.width, box.height) >= loaded.resolution:
            continue
        region = decode(loaded.sources[crop.source].path, loaded.background).pixels[box.top:box.bottom, box.left:box.right]
        fit = letterbox(box.width, box.height, loaded.resolution)
        scaled = cv2.resize(region, (fit.scaled_width, fit.scaled_height), interpolation=cv2.INTER_LANCZOS4)
        image = cv2.copyMakeBorder(scaled, fit.offset_y, loaded.resolution - fit.scaled_height - fit.offset_y, fit.offset_x,
                                   loaded.resolution - fit.scaled_width - fit.offset_x, cv2.BORDER_CONSTANT,
                                   value=list(loaded.background))
        found[f"train/{SUBSET}/{crop.name}.png"] = image
        if crop.flip:
            found[f"train/{SUBSET}/{crop.name}-flip.png"] = image[:, ::-1]
    return found


def test_the_stored_demo_is_the_build_before_fit_existed() -> None:
    files = BEFORE_FIT["files"]
    assert len(files) == 46
    assert _digest([(relpath, entry["sha256"]) for relpath, entry in files.items()]) == LETTERBOX_DEMO_SHA256


def _compare_with_before(root: Path, spec: Path, compare_bytes: bool) -> list[str]:
    """Every file of a new letterbox demo against the build before fit: the same pixels (the same bytes when asked)
    where crops shrink; where they are enlarged, within 1 level on a few pixels of the 8-bit Lanczos they had."""
    enlarged = _enlarged(spec)
    differing = []
    for relpath, entry in BEFORE_FIT["files"].items():
        path = root / relpath
        if relpath.endswith(".txt") or (compare_bytes and relpath not in enlarged):
            assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], relpath
            continue
        pixels, pixels_sha = _pixels(path)
        if relpath not in enlarged:
            assert pixels_sha == entry["pixels_sha256"], relpath
            continue
        before = enlarged[relpath]
        assert hashlib.sha256(f"RGB {before.shape}".encode() + np.ascontiguousarray(before).tobytes()).hexdigest() \
            == entry["pixels_sha256"], relpath  # the reference above is the old renderer
        change = np.abs(pixels.astype(int) - before.astype(int))
        assert change.max() <= 1 and (change > 0).mean() < 0.03, relpath
        differing.append(relpath)
    return differing


def test_letterbox_demo_keeps_the_pixels_of_the_build_before_fit_existed(tmp_path: Path) -> None:
    spec = _demo(tmp_path)
    data = _build(spec)
    enlarged = _compare_with_before(tmp_path / "demo", spec, compare_bytes=False)
    assert len(enlarged) == 9  # the four faces and turn-b's four views with its one flip
    assert _tree_digest(tmp_path / "demo") != (46, LETTERBOX_DEMO_SHA256)  # zlib-ng's bytes, not libpng's
    manifest = json.loads((tmp_path / "demo" / "kohya-prep-manifest.json").read_text(encoding="utf-8"))
    assert RENDERER_VERSION == 2 and manifest["renderer"] == 2
    assert all("fit" not in record for record in manifest["files"].values())
    assert data["padding_share"] > 0.5  # two thirds of a full-body letterbox is padding


def test_letterbox_demo_without_zlib_ng_keeps_the_bytes_of_the_build_before_fit_existed(tmp_path: Path) -> None:
    spec = _demo(tmp_path)
    done = run_without_fast_codecs(["dataset", "build", str(spec)])
    assert done.returncode == 0, done.stderr
    assert len(_compare_with_before(tmp_path / "demo", spec, compare_bytes=True)) == 9


@pytest.fixture(scope="module")
def bucket_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("bucket-demo")
    spec = _demo(folder, 'fit = "bucket"\nmask = "padding"')
    return spec, _build(spec)


def _images(spec: Path) -> dict[str, tuple[int, int]]:
    folder = spec.parent / "demo" / "train" / SUBSET
    sizes = {}
    for path in sorted(folder.glob("*.png")):
        with Image.open(path) as image:
            sizes[path.name] = image.size
    return sizes


def test_bucket_demo_images_are_all_in_sd_scripts_bucket_list_for_512(bucket_demo: tuple[Path, dict[str, Any]]) -> None:
    spec, data = bucket_demo
    sizes = _images(spec)
    assert len(sizes) == 23 and all(size in BUCKETS_512 for size in sizes.values())
    assert len(set(sizes.values())) < 6  # a handful of buckets
    assert {tuple(b["bucket"]): b["train_images"] for b in data["buckets"]} == dict(Counter(sizes.values()))


def _is_background(line: np.ndarray, colours: list[np.ndarray]) -> bool:
    """A source line counts as background when nearly all of it is within 16 levels of a background colour."""
    near = np.zeros(line.shape[0], dtype=bool)
    for colour in colours:
        near |= np.abs(line.astype(np.int16) - colour).max(axis=1) <= 16
    return bool(near.mean() >= 0.998)


def _source_colours(path: Path) -> tuple[np.ndarray, list[np.ndarray]]:
    with Image.open(path) as image:
        rgba = np.asarray(image.convert("RGBA")).astype(np.int32)
    alpha = rgba[:, :, 3:4]
    rgb = (rgba[:, :, :3] * alpha + 255 * (255 - alpha) + 127) // 255  # on the demo's white background
    edge = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    colours, counts = np.unique(edge, axis=0, return_counts=True)
    return rgb, [np.array([255, 255, 255]), colours[int(np.argmax(counts))]]


def test_bucket_demo_pads_only_where_its_source_had_no_room(bucket_demo: tuple[Path, dict[str, Any]]) -> None:
    spec, data = bucket_demo
    sources = {"sheet": "ref-sheet.png", "turn-a": "turnaround-a.png", "turn-b": "turnaround-b.png",
               "turn-c": "turnaround-c.png"}
    padded = 0
    for row in data["crops"]:
        rgb, colours = _source_colours(spec.parent / "sources" / sources[row["source"]])
        left, top, width, height = row["shaped"]["region"]
        grown = row["shaped"]["grown"]
        lines = {"left": rgb[top:top + height, left - 1] if left > 0 else None,
                 "right": rgb[top:top + height, left + width] if left + width < rgb.shape[1] else None,
                 "top": rgb[top - 1, left:left + width] if top > 0 else None,
                 "bottom": rgb[top + height, left:left + width] if top + height < rgb.shape[0] else None}
        box_left, box_top, box_width, box_height = row["box"]
        box_right, box_bottom = box_left + box_width, box_top + box_height
        taken = [rgb[box_top:box_bottom, x] for x in [*range(left, box_left), *range(box_right, left + width)]]
        taken += [rgb[y, box_left:box_right] for y in [*range(top, box_top), *range(box_bottom, top + height)]]
        assert sum(grown.values()) == len(taken)
        assert all(_is_background(line, colours) for line in taken), row["crop"]  # what was taken in is background
        for side, n in row["shaped"]["padded"].items():
            if n:  # padding on a side: the next source line there is content, or there is none
                padded += 1
                axis_sides = ("left", "right") if side in ("left", "right") else ("top", "bottom")
                for near_side in axis_sides:
                    line = lines[near_side]
                    assert line is None or not _is_background(line, colours), (row["crop"], near_side, grown)
    assert padded <= 4  # the demo pads two crops whose boxes sit between a title and a label or a floor line


def test_bucket_demo_padding_share_drops_from_the_letterbox_share(bucket_demo: tuple[Path, dict[str, Any]]) -> None:
    spec, data = bucket_demo
    masked = total = 0
    for path in (spec.parent / "demo" / "train" / SUBSET).glob("*.png"):
        with Image.open(path) as image:
            alpha = np.asarray(image)[:, :, 3]
        masked += int((alpha == 0).sum())
        total += alpha.size
    assert masked / total < 0.02 and abs(masked / total - data["padding_share"]) < 0.001


def test_check_and_train_config_put_every_bucket_demo_image_where_the_build_did(
        bucket_demo: tuple[Path, dict[str, Any]]) -> None:
    spec, _data = bucket_demo
    sizes = Counter(_images(spec).values())
    result = CliRunner().invoke(cli, ["dataset", "check", str(spec), "--json", "--no-duplicates"])
    report = json.loads(result.output)
    assert result.exit_code == 0 and (report["errors"], report["warnings"]) == ([], []), result.output
    dataset = report["datasets"][0]
    assert dataset["enable_bucket"] and {tuple(b["resolution"]): b["images"] for b in dataset["buckets"]} == dict(sizes)
    assert dataset["upscaled"] == []
    masked = [f for f in report["findings"] if f["code"] == "masked-subset"]
    assert len(masked) == 1 and "23 of 23 image(s) carry a loss mask" in masked[0]["message"]
    for family in ("sd15", "sdxl", "flux"):
        result = CliRunner().invoke(cli, ["train-config", str(spec), "--family", family, "--vram", "24", "--json",
                                          "--out", str(spec.parent / f"config-{family}")])
        assert result.exit_code == 0, result.output
        summary = json.loads(result.output)
        steps = {tuple(b["reso"]): b["samples"] for b in summary["steps"]["buckets"]}
        assert steps == {size: n * 10 for size, n in sizes.items()}
        block = summary["dataset"]["datasets"][0]
        assert (block["enable_bucket"], block["bucket_reso_steps"], block["min_bucket_reso"], block["max_bucket_reso"]) \
            == (True, 64, 256, 1024)
        assert [s.get("alpha_mask", False) for s in block["subsets"]] == [True]
        assert [w["code"] for w in summary["warnings"] if w["code"] == "bucket-moved"] == []
