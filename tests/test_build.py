"""`kohya-prep dataset build` end to end: layout, sd-scripts' view, incremental and atomic rebuilds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from kohya_prep.cli import cli
from tests.helpers import figure_image, sd_scripts_view, tree_state, write_spec

SUBSET = "10_chara girl"


def _build(spec: Path, *args: str, code: int = 0):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["dataset", "build", str(spec), *args])
    assert result.exit_code == code, result.output
    return result


def _three_crops(tmp_path: Path, **dataset) -> Path:  # type: ignore[no-untyped-def]
    return write_spec(tmp_path, [
        {"name": "tall", "box": [50, 40, 300, 700], "flip": True, "caption": "full body, left hand up"},
        {"name": "wide", "box": [500, 50, 450, 250], "caption": "blue box"},
        {"name": "maybe", "box": [0, 0, 500, 500], "status": "speculative"},
        {"name": "gone", "box": [0, 0, 100, 100], "status": "excluded"},
    ], dataset=dataset)


def test_build_writes_the_kohya_layout_that_sd_scripts_reads(tmp_path: Path) -> None:
    spec = _three_crops(tmp_path)
    result = _build(spec)
    root = tmp_path / "chara"
    train = sd_scripts_view(root / "train")
    assert list(train) == [SUBSET]
    subset = train[SUBSET]
    assert subset["num_repeats"] == 10 and subset["class_tokens"] == "chara girl"
    assert subset["images"] == ["tall-flip.png", "tall.png", "wide.png"]
    assert set(subset["captions"]) == set(subset["images"])
    assert all(c.startswith("chara, ") and c.count("chara") == 1 for c in subset["captions"].values())
    assert subset["captions"]["tall-flip.png"] == "chara, full body, right hand up"
    assert sd_scripts_view(root / "reg") == {"1_girl": {"num_repeats": 1, "class_tokens": "girl", "images": [], "captions": {}}}
    for name in subset["images"]:
        with Image.open(root / "train" / SUBSET / name) as img:
            assert (img.format, img.mode, img.size) == ("PNG", "RGB", (512, 512))
    manifest = json.loads((root / "kohya-prep-manifest.json").read_text())
    assert manifest["tool"] == "kohya-prep" and manifest["spec"]["sha256"]
    assert set(manifest["sources"]) == {"sheet"}
    assert len(manifest["files"]) == 6
    assert {"crop": "maybe", "status": "speculative"} in manifest["skipped"]
    assert "left out: maybe (speculative; approve it in the spec or pass --include-speculative)" in result.output
    assert "3 images, 3 captions x 10 repeats = 30 samples per epoch" in result.output


def test_include_speculative_and_json_report(tmp_path: Path) -> None:
    spec = _three_crops(tmp_path)
    data = json.loads(_build(spec, "--include-speculative", "--json").output)
    assert data["subsets"][0]["images"] == 4
    assert data["left_out"] == [{"crop": "gone", "status": "excluded"}]
    assert data["caption_extension"] == ".txt"
    assert data["train_data_dir"] == str(tmp_path / "chara" / "train")


def test_png_small_gives_the_same_pixels_in_smaller_files(tmp_path: Path) -> None:
    spec = _three_crops(tmp_path)
    _build(spec)
    image = tmp_path / "chara" / "train" / SUBSET / "tall.png"
    fast_bytes, fast_pixels = image.stat().st_size, np.asarray(Image.open(image))
    data = json.loads(_build(spec, "--png", "small", "--json").output)
    assert len(data["rendered"]) == 3  # the PNG mode is an input of every image
    assert image.stat().st_size < fast_bytes
    assert (np.asarray(Image.open(image)) == fast_pixels).all()


def test_reg_folder_is_letterboxed_with_class_captions(tmp_path: Path) -> None:
    reg = tmp_path / "my reg"
    reg.mkdir()
    figure_image((300, 600)).save(reg / "girl_001.jpg")
    figure_image((800, 400), "RGBA").save(reg / "Girl 002.PNG")
    (reg / "notes.txt").write_text("not an image")
    spec = write_spec(tmp_path, [{"name": "a"}], reg={"class": "girl", "repeats": 2, "dir": "my reg"})
    _build(spec)
    view = sd_scripts_view(tmp_path / "chara" / "reg")
    assert view == {"2_girl": {"num_repeats": 2, "class_tokens": "girl", "images": ["Girl-002.png", "girl-001.png"],
                               "captions": {"Girl-002.png": "girl", "girl-001.png": "girl"}}}
    with Image.open(tmp_path / "chara" / "reg" / "2_girl" / "Girl-002.png") as img:
        assert img.size == (512, 512) and img.mode == "RGB"
        assert img.getpixel((5, 5)) == (255, 255, 255)  # letterbox band, not black


def test_second_run_writes_nothing(tmp_path: Path) -> None:
    spec = _three_crops(tmp_path)
    _build(spec)
    before = tree_state(tmp_path / "chara")
    result = _build(spec)
    assert "Nothing to do" in result.output and "nothing was written" in result.output
    assert tree_state(tmp_path / "chara") == before


def test_touching_a_source_without_changing_it_renders_nothing(tmp_path: Path) -> None:
    spec = _three_crops(tmp_path)
    _build(spec)
    before = tree_state(tmp_path / "chara" / "train")
    source = tmp_path / "src" / "sheet.png"
    os.utime(source, ns=(time.time_ns(), time.time_ns()))
    result = _build(spec)
    assert "only the manifest was updated" in result.output
    assert tree_state(tmp_path / "chara" / "train") == before


def test_changing_one_crop_rerenders_only_it_and_its_flip(tmp_path: Path) -> None:
    spec = _three_crops(tmp_path)
    _build(spec)
    before = tree_state(tmp_path / "chara")
    spec.write_text(spec.read_text().replace("[50, 40, 300, 700]", "[60, 40, 300, 700]"))
    data = json.loads(_build(spec, "--json").output)
    assert data["rendered"] == [f"train/{SUBSET}/tall-flip.png", f"train/{SUBSET}/tall.png"]
    assert data["captions_written"] == []
    after = tree_state(tmp_path / "chara")
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {f"train/{SUBSET}/tall.png", f"train/{SUBSET}/tall-flip.png", "kohya-prep-manifest.json"}


def test_changing_a_caption_rewrites_only_the_caption(tmp_path: Path) -> None:
    spec = _three_crops(tmp_path)
    _build(spec)
    before = tree_state(tmp_path / "chara")
    spec.write_text(spec.read_text().replace("'blue box'", "'blue box, sky'"))
    data = json.loads(_build(spec, "--json").output)
    assert data["rendered"] == [] and data["captions_written"] == [f"train/{SUBSET}/wide.txt"]
    after = tree_state(tmp_path / "chara")
    assert {k for k in after if after[k] != before.get(k)} == {f"train/{SUBSET}/wide.txt", "kohya-prep-manifest.json"}
    assert (tmp_path / "chara" / "train" / SUBSET / "wide.txt").read_text() == "chara, blue box, sky\n"


def test_removed_crop_outputs_are_removed_and_foreign_files_survive(tmp_path: Path) -> None:
    spec = _three_crops(tmp_path)
    _build(spec)
    folder = tmp_path / "chara" / "train" / SUBSET
    (folder / "my-extra.png").write_bytes(b"user file")
    (folder / "notes.md").write_text("mine")
    (tmp_path / "chara" / "model").mkdir()
    (tmp_path / "chara" / "model" / "lora.safetensors").write_bytes(b"weights")
    spec.write_text(spec.read_text().replace("name = 'wide'", "name = 'wide2'"))
    data = json.loads(_build(spec, "--json").output)
    assert sorted(data["removed"]) == [f"train/{SUBSET}/wide.png", f"train/{SUBSET}/wide.txt"]
    assert not (folder / "wide.png").exists() and (folder / "wide2.png").exists()
    assert (folder / "my-extra.png").read_bytes() == b"user file"
    assert (folder / "notes.md").read_text() == "mine"
    assert (tmp_path / "chara" / "model" / "lora.safetensors").read_bytes() == b"weights"
    assert f"train/{SUBSET}/my-extra.png" in data["kept_foreign"]


def test_a_foreign_file_in_the_way_of_a_crop_is_an_error(tmp_path: Path) -> None:
    spec = _three_crops(tmp_path)
    folder = tmp_path / "chara" / "train" / SUBSET
    folder.mkdir(parents=True)
    (folder / "wide.png").write_bytes(b"the user's own")
    result = _build(spec, code=1)
    assert f"train/{SUBSET}/wide.png" in result.output and "was not written by kohya-prep" in result.output
    assert "move the file away or rename the crop" in result.output
    assert (folder / "wide.png").read_bytes() == b"the user's own"
    assert sorted(p.name for p in folder.iterdir()) == ["wide.png"]


def test_an_output_edited_by_hand_is_not_overwritten(tmp_path: Path) -> None:
    spec = _three_crops(tmp_path)
    _build(spec)
    caption = tmp_path / "chara" / "train" / SUBSET / "wide.txt"
    caption.write_text("chara, my careful edit\n")
    spec.write_text(spec.read_text().replace("'blue box'", "'blue box, sky'"))
    result = _build(spec, code=1)
    assert "changed after kohya-prep wrote them" in result.output and "put the change into the spec" in result.output
    assert caption.read_text() == "chara, my careful edit\n"


def test_stale_sd_scripts_caches_of_rerendered_images_are_removed(tmp_path: Path) -> None:
    spec = _three_crops(tmp_path)
    _build(spec)
    folder = tmp_path / "chara" / "train" / SUBSET
    for name in ("tall_0512x0512_sd.npz", "wide_0512x0512_sd.npz", "metadata_cache.json"):
        (folder / name).write_bytes(b"cache")
    spec.write_text(spec.read_text().replace("[50, 40, 300, 700]", "[60, 40, 300, 700]"))
    data = json.loads(_build(spec, "--json").output)
    assert sorted(data["dropped_caches"]) == [f"train/{SUBSET}/metadata_cache.json", f"train/{SUBSET}/tall_0512x0512_sd.npz"]
    assert not (folder / "tall_0512x0512_sd.npz").exists()
    assert (folder / "wide_0512x0512_sd.npz").exists()


def test_corrupt_source_fails_cleanly_without_partial_output(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    figure_image().save(tmp_path / "src" / "sheet.png")
    data = (tmp_path / "src" / "sheet.png").read_bytes()
    (tmp_path / "src" / "sheet.png").write_bytes(data[: len(data) // 2])  # header fine, pixels cut off
    spec = write_spec(tmp_path, [{"name": "a"}])
    result = _build(spec, code=1)
    assert "source 'sheet' (sheet.png) could not be decoded" in result.output and "re-export it" in result.output
    assert result.output.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.toml", "src"]


def test_preview_writes_pictures_and_leaves_the_dataset_byte_identical(tmp_path: Path) -> None:
    spec = _three_crops(tmp_path)
    _build(spec)
    before = tree_state(tmp_path / "chara" / "train") | tree_state(tmp_path / "chara" / "reg")
    result = _build(spec, "--preview")
    preview = tmp_path / "chara" / "preview"
    assert "the dataset itself was not touched" in result.output
    crops = sorted(p.name for p in (preview / "crops").iterdir())
    assert crops == ["gone.png", "maybe.png", "tall-flip.png", "tall.png", "wide.png"]
    with Image.open(preview / "contact-sheet.png") as sheet:
        assert sheet.width > 1000
    with Image.open(preview / "overlay-sheet.png") as overlay:
        assert overlay.size == (1024, 768)
        assert overlay.getpixel((50, 45))[1] > 120  # the green (approved) box edge over the 'tall' crop
    assert (tree_state(tmp_path / "chara" / "train") | tree_state(tmp_path / "chara" / "reg")) == before
    assert sd_scripts_view(tmp_path / "chara" / "train")[SUBSET]["images"] == ["tall-flip.png", "tall.png", "wide.png"]
    _build(spec)  # the preview folder is ours; a rebuild keeps it and stays a no-op for the dataset
    assert (preview / "contact-sheet.png").exists()


def test_preview_of_a_spec_with_a_reg_folder(tmp_path: Path) -> None:
    (tmp_path / "reg").mkdir()
    figure_image((300, 400)).save(tmp_path / "reg" / "a.png")
    spec = write_spec(tmp_path, [{"name": "c"}], reg={"dir": "reg"})
    result = _build(spec, "--preview")
    assert "the dataset itself was not touched" in result.output
    assert (tmp_path / "chara" / "preview" / "crops" / "c.png").exists()
    assert not (tmp_path / "chara" / "reg").exists()


def test_parallel_sequential_and_incremental_builds_are_identical(tmp_path: Path) -> None:
    crops = [{"name": f"c{i}", "box": [i * 37 % 700, i * 23 % 400, 100 + i * 13 % 300, 120 + i * 17 % 340], "flip": i % 2 == 0}
             for i in range(12)]
    states = []
    for jobs in ("1", "2"):
        folder = tmp_path / f"jobs{jobs}"
        folder.mkdir()
        spec = write_spec(folder, crops)
        _build(spec, "--jobs", jobs)
        states.append({k: v[0] for k, v in tree_state(folder / "chara" / "train").items()})
    assert states[0] == states[1]
    folder = tmp_path / "incremental"
    folder.mkdir()
    spec = write_spec(folder, crops[:5])
    _build(spec)
    spec = write_spec(folder, crops)
    _build(spec)
    assert {k: v[0] for k, v in tree_state(folder / "chara" / "train").items()} == states[0]


def _manifest_matches_tree(root: Path) -> bool:
    manifest = json.loads((root / "kohya-prep-manifest.json").read_text())
    state = tree_state(root)
    listed = {k: v["sha256"] for k, v in manifest["files"].items()}
    on_disk = {k: v[0] for k, v in state.items() if k != "kohya-prep-manifest.json"}
    return listed == on_disk


def _built_then_changed(tmp_path: Path) -> tuple[Path, dict[str, tuple[str, int]]]:
    """A built 320-image dataset whose spec then changes every image: the next build has much to do."""
    crops = [{"name": f"c{i}", "box": [i % 20 * 30, i % 13 * 30, 300, 200], "flip": True} for i in range(160)]
    spec = write_spec(tmp_path, crops)
    _build(spec)
    old_state = tree_state(tmp_path / "chara")
    spec.write_text(spec.read_text().replace("[dataset]", "[dataset]\nbackground = '#102030'"))
    return spec, old_state


def _staged_images(staging: Path) -> int:
    try:
        return sum(1 for _ in staging.rglob("*.png"))
    except OSError:  # the tree went away while it was listed (swapped in)
        return 0


def _stopped(pid: int) -> bool:
    """Whether the process is frozen by SIGSTOP (state 'T' in /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        return handle.read().rsplit(")", 1)[1].split()[0] in ("T", "t")


def _interrupt_part_way(spec: Path, sig: signal.Signals, *args: str) -> subprocess.Popen[str]:
    """Start a build in its own process and deliver `sig` while it is provably still rendering.

    Once the staging tree holds some images the build is frozen (SIGSTOP). If the staging tree is still there, the
    swap has not happened; `sig` is queued while it is frozen and delivered the moment it resumes (SIGCONT), so
    the signal always lands part-way. A build that ends before that fails the test with a clear message, never
    with a wrong assertion.
    """
    staging = spec.parent / ".chara.kp-new"
    process = subprocess.Popen([sys.executable, "-m", "kohya_prep", "dataset", "build", str(spec), *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if _staged_images(staging) > 20:
            process.send_signal(signal.SIGSTOP)
            while process.poll() is None and not _stopped(process.pid):
                time.sleep(0.001)
            if process.poll() is None and staging.is_dir():
                process.send_signal(sig)
                process.send_signal(signal.SIGCONT)
                return process
            process.send_signal(signal.SIGCONT)
        time.sleep(0.005)
    process.kill()
    _out, err = process.communicate()
    pytest.fail(f"the build ended (exit {process.returncode}) before it could be interrupted part-way; "
                f"give it more work: {err[-500:]}")


@pytest.mark.slow
def test_a_build_killed_part_way_leaves_a_whole_dataset(tmp_path: Path) -> None:
    spec, old_state = _built_then_changed(tmp_path)
    root = tmp_path / "chara"
    for _attempt in range(3):
        _interrupt_part_way(spec, signal.SIGKILL, "--jobs", "1").communicate(timeout=60)
        assert tree_state(root) == old_state  # killed before the swap: the old dataset, untouched
        assert _manifest_matches_tree(root)
    result = _build(spec)  # the next build cleans up the leftovers and completes
    assert "Built 'chara'" in result.output
    assert not (tmp_path / ".chara.kp-new").exists()
    assert _manifest_matches_tree(root)
    with Image.open(root / "train" / SUBSET / "c0.png") as img:
        assert np.asarray(img)[0, 0].tolist() == [16, 32, 48]


@pytest.mark.slow
def test_ctrl_c_part_way_keeps_the_old_dataset_and_cleans_up(tmp_path: Path) -> None:
    spec, old_state = _built_then_changed(tmp_path)
    process = _interrupt_part_way(spec, signal.SIGINT)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Interrupted" in err and "Traceback" not in err
    assert tree_state(tmp_path / "chara") == old_state
    assert not (tmp_path / ".chara.kp-new").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chara", "spec.toml", "src"]


def test_verify_rehashes_what_size_and_mtime_would_trust(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    source = tmp_path / "src" / "sheet.bmp"  # a BMP keeps its byte size when its pixels change
    figure_image().save(source)
    spec = write_spec(tmp_path, [{"name": "a", "box": [0, 0, 400, 400]}], sources={"sheet": "src/sheet.bmp"})
    _build(spec)
    stat = source.stat()
    Image.new("RGB", (1024, 768), (9, 99, 199)).save(source)
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert source.stat().st_size == stat.st_size
    assert "Nothing to do" in _build(spec).output  # size and mtime match: trusted, as documented
    data = json.loads(_build(spec, "--verify", "--json").output)
    assert data["rendered"] == [f"train/{SUBSET}/a.png"]
    with Image.open(tmp_path / "chara" / "train" / SUBSET / "a.png") as img:
        assert img.getpixel((256, 256)) == (9, 99, 199)


def test_a_jpeg_source_renders_alike_in_full_and_incremental_builds(tmp_path: Path) -> None:
    # The decode scale of a JPEG depends on every crop of that source: removing the small crop lets
    # the big one decode at half size. An incremental build must end where a full build of the same
    # spec does, so the big crop is re-rendered, not kept.
    rng = np.random.default_rng(5)
    photo = Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).resize((2400, 1600), Image.Resampling.BICUBIC)
    big, small = {"name": "big", "box": [100, 50, 2000, 1500]}, {"name": "small", "box": [0, 0, 300, 300]}
    folders = {}
    for name, steps in (("full", [[big]]), ("incremental", [[big, small], [big]])):
        folder = tmp_path / name
        (folder / "src").mkdir(parents=True)
        photo.save(folder / "src" / "photo.jpg", quality=90)
        for crops in steps:
            spec = write_spec(folder, crops, sources={"sheet": "src/photo.jpg"}, dataset={"resolution": 256})
            data = json.loads(_build(spec, "--json").output)
        folders[name] = folder / "chara" / "train" / SUBSET / "big.png"
    assert data["rendered"] == [f"train/{SUBSET}/big.png"]
    assert folders["full"].read_bytes() == folders["incremental"].read_bytes()
