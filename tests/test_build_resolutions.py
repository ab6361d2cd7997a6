"""Several resolutions in one build (resolution = [512, 1024]): one decode of each source serves every size, each
size in its own <size>px/ folder that sd-scripts reads like any build; train-config takes the one its family wants."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from kohya_prep.build.plan import make_plan
from kohya_prep.build.render import render_all
from kohya_prep.cli import cli
from kohya_prep.spec import load_spec
from tests.helpers import assert_kept, figure_image, sd_scripts_view, snapshot, tree_state, write_spec

SUBSET = "10_chara girl"
CROPS = [{"name": "tall", "box": [10, 20, 300, 600], "flip": True}, {"name": "small", "box": [500, 100, 200, 150]}]


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def _build(spec: Path, *args: str) -> dict[str, Any]:
    result = _invoke("dataset", "build", str(spec), "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img)


def _sources(folder: Path) -> dict[str, str]:
    """A drawn PNG sheet and a photo-like JPEG, so both decoders serve several sizes."""
    (folder / "src").mkdir()
    figure_image((1024, 768)).save(folder / "src" / "sheet.png")
    rng = np.random.default_rng(3)
    coarse = Image.fromarray(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)).resize((2400, 1800), Image.Resampling.BICUBIC)
    coarse.save(folder / "src" / "photo.jpg", quality=92)
    return {"sheet": "src/sheet.png", "photo": "src/photo.jpg"}


def _spec(folder: Path, resolution: Any, **dataset: Any) -> Path:
    crops = [*CROPS, {"name": "wide", "source": "photo", "box": [100, 200, 2200, 1300], "flip": True}]
    return write_spec(folder, crops, sources=_sources(folder), dataset={"resolution": resolution, **dataset})


def test_each_resolution_gets_its_own_folder_that_sd_scripts_reads(tmp_path: Path) -> None:
    data = _build(_spec(tmp_path, [512, 1024]))
    root = tmp_path / "chara"
    assert sorted(p.name for p in root.iterdir()) == ["1024px", "512px", "kohya-prep-manifest.json"]
    for size in (512, 1024):
        view = sd_scripts_view(root / f"{size}px" / "train", ".txt")
        assert view[SUBSET]["images"] == ["small.png", "tall-flip.png", "tall.png", "wide-flip.png", "wide.png"]
        assert view[SUBSET]["captions"]["tall.png"] == "chara, standing"
        assert (root / f"{size}px" / "reg" / "1_girl").is_dir()
        for name in view[SUBSET]["images"]:
            with Image.open(root / f"{size}px" / "train" / SUBSET / name) as img:
                assert img.size == (size, size)
    assert [(r["resolution"], Path(r["train_data_dir"]).relative_to(root).as_posix()) for r in data["resolutions"]] == \
        [(512, "512px/train"), (1024, "1024px/train")]
    assert data["train_data_dir"] == str(root / "512px" / "train")  # the first listed
    assert [(s["folder"], s["images"]) for s in data["subsets"]] == [
        (f"512px/train/{SUBSET}", 5), ("512px/reg/1_girl", 0), (f"1024px/train/{SUBSET}", 5), ("1024px/reg/1_girl", 0)]
    assert len(data["rendered"]) == 10 and len(data["crops"]) == 3  # one row per crop, at the first resolution


def test_a_single_resolution_keeps_todays_layout(tmp_path: Path) -> None:
    for resolution, name in ((512, "plain"), ([512], "listed")):
        folder = tmp_path / name
        folder.mkdir()
        _build(write_spec(folder, CROPS, dataset={"resolution": resolution}))
        assert sorted(p.name for p in (folder / "chara").iterdir()) == ["kohya-prep-manifest.json", "reg", "train"]
    plain, listed = (json.loads((tmp_path / n / "chara" / "kohya-prep-manifest.json").read_text()) for n in ("plain", "listed"))
    assert {k: v["key"] for k, v in plain["files"].items()} == {k: v["key"] for k, v in listed["files"].items()}


def test_every_size_has_the_pixels_of_its_own_single_resolution_build(tmp_path: Path) -> None:
    (tmp_path / "both").mkdir()
    _build(_spec(tmp_path / "both", [512, 1024]))
    for size in (512, 1024):
        alone = tmp_path / f"alone{size}"
        alone.mkdir()
        _build(_spec(alone, size))
        for name in ("tall.png", "tall-flip.png", "small.png", "wide.png"):
            both = _pixels(tmp_path / "both" / "chara" / f"{size}px" / "train" / SUBSET / name)
            single = _pixels(alone / "chara" / "train" / SUBSET / name)
            if name.startswith("wide") and size == 512:
                # alone, 512 decodes the JPEG at half size (drafted); with 1024 beside it the one decode is full size
                assert np.abs(both.astype(int) - single.astype(int)).mean() < 1.5, name
            else:
                assert (both == single).all(), (size, name)


def test_one_decode_serves_every_size(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path, [512, 768, 1024]))
    plan = make_plan(spec, dict.fromkeys(spec.sources, "hash"), [])
    decoded: list[str] = []
    out = tmp_path / "out"
    for folder in plan.dirs:
        (out / folder).mkdir(parents=True)
    written = render_all(spec, plan.images, out, {}, 2, None, on_decoded=lambda sid, _pixels: decoded.append(sid))
    assert sorted(decoded) == ["photo", "sheet"]
    assert len(written) == 3 * 5


def test_a_rebuild_with_nothing_changed_writes_nothing_and_one_changed_crop_renders_its_sizes(tmp_path: Path) -> None:
    spec = _spec(tmp_path, [512, 1024])
    _build(spec)
    before = tree_state(tmp_path / "chara")
    assert _build(spec)["up_to_date"] is True
    assert tree_state(tmp_path / "chara") == before
    spec.write_text(spec.read_text().replace("box = [500, 100, 200, 150]", "box = [501, 100, 200, 150]"))
    data = _build(spec)
    assert sorted(data["rendered"]) == [f"1024px/train/{SUBSET}/small.png", f"512px/train/{SUBSET}/small.png"]


def test_going_from_one_resolution_to_several_moves_the_build_into_size_folders(tmp_path: Path) -> None:
    spec = _spec(tmp_path, 512)
    _build(spec)
    (tmp_path / "chara" / "notes.txt").write_text("mine\n")
    spec.write_text(spec.read_text().replace("resolution = 512", "resolution = [512, 1024]"))
    data = _build(spec)
    root = tmp_path / "chara"
    assert sorted(p.name for p in root.iterdir()) == ["1024px", "512px", "kohya-prep-manifest.json", "notes.txt"]
    assert f"train/{SUBSET}/tall.png" in data["removed"]


def test_dropping_a_resolution_removes_its_folder_but_never_the_users_files_in_it(tmp_path: Path) -> None:
    spec = _spec(tmp_path, [512, 1024, 768])
    _build(spec)
    root = tmp_path / "chara"
    (root / "1024px" / "train" / SUBSET / "mine.txt").write_text("mine\n")
    spec.write_text(spec.read_text().replace("resolution = [512, 1024, 768]", "resolution = 512"))
    data = _build(spec)
    assert sorted(p.name for p in root.iterdir()) == ["1024px", "kohya-prep-manifest.json", "reg", "train"]
    assert [p.relative_to(root).as_posix() for p in (root / "1024px").rglob("*")] == \
        ["1024px/train", f"1024px/train/{SUBSET}", f"1024px/train/{SUBSET}/mine.txt"]
    assert (root / "1024px" / "train" / SUBSET / "mine.txt").read_text() == "mine\n"
    assert f"768px/train/{SUBSET}/tall.png" in data["removed"]
    assert sd_scripts_view(root / "train", ".txt")[SUBSET]["images"] == \
        ["small.png", "tall-flip.png", "tall.png", "wide-flip.png", "wide.png"]
    again = _build(spec)
    assert again["rendered"] == [] and again["removed"] == []


def test_a_folder_a_hand_edited_manifest_claims_is_never_handed_over(tmp_path: Path) -> None:
    """Only train/, reg/ and <size>px/ can be owned: a manifest that lists the user's notes/ does not make it ours."""
    spec = _spec(tmp_path, [512, 1024])
    _build(spec)
    root = tmp_path / "chara"
    mine = root / "notes" / "mine.txt"
    mine.parent.mkdir()
    mine.write_text("mine\n")
    manifest_path = root / "kohya-prep-manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    record = dict(next(iter(manifest["files"].values())))
    record.update(sha256=hashlib.sha256(mine.read_bytes()).hexdigest(), size=mine.stat().st_size,
                  mtime_ns=mine.stat().st_mtime_ns)
    manifest["files"]["notes/mine.txt"] = record
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    before = snapshot(root / "notes")
    spec.write_text(spec.read_text().replace("resolution = [512, 1024]", "resolution = 512"))
    _build(spec)
    assert_kept(before, snapshot(root / "notes"))
    assert mine.read_text() == "mine\n"


@pytest.mark.parametrize(
    ("family", "train_dir", "resolution"),
    [("sd15", "512px", 512), ("sdxl", "1024px", 1024), ("flux", "1024px", 1024)],
    ids=["sd15-takes-512", "sdxl-takes-1024", "flux-takes-1024"],
)
def test_train_config_takes_the_resolution_its_family_trains_at(tmp_path: Path, family: str, train_dir: str,
                                                                resolution: int) -> None:
    spec = _spec(tmp_path, [512, 1024])
    _build(spec)
    result = _invoke("train-config", str(spec), "--family", family, "--vram", "24", "--json")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "chara" / "config" / "dataset_config.toml").read_text(encoding="utf-8")
    assert f"resolution = {resolution}" in text
    assert f"image_dir = '{tmp_path / 'chara' / train_dir / 'train' / SUBSET}'" in text
    assert "resolution-low" not in result.output


def test_train_config_warns_when_no_listed_resolution_reaches_the_family(tmp_path: Path) -> None:
    spec = _spec(tmp_path, [512, 768])
    _build(spec)
    result = _invoke("train-config", str(spec), "--family", "sdxl", "--vram", "24", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert "768px/train" in (tmp_path / "chara" / "config" / "dataset_config.toml").read_text(encoding="utf-8")
    assert [w["code"] for w in data["warnings"]].count("resolution-low") == 1


def test_check_reads_the_resolution_it_is_given(tmp_path: Path) -> None:
    spec = _spec(tmp_path, [512, 1024])
    _build(spec)
    for size in (512, 1024):
        result = _invoke("dataset", "check", str(spec), "--resolution", str(size), "--json")
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        paths = [image["path"] for dataset in data["datasets"] for image in dataset["images"]]
        assert paths and all(f"/{size}px/train/" in path for path in paths)


@pytest.mark.parametrize(
    ("resolution", "fragment"),
    [([512, 512], "resolution = [512, 512] lists 512 twice"), ([512, 1000], "resolution = 1000 must be a multiple of 64"),
     ([512, "1024"], "resolution = '1024' must be a whole number"), ([], "resolution = [] must be a whole number")],
    ids=["twice", "not-64", "string", "empty"],
)
def test_a_bad_resolution_list_is_one_clear_error(tmp_path: Path, resolution: list[Any], fragment: str) -> None:
    result = _invoke("dataset", "build", str(write_spec(tmp_path, CROPS, dataset={"resolution": resolution})))
    assert result.exit_code == 1
    assert fragment in result.output and "Traceback" not in result.output
    assert not (tmp_path / "chara").exists()


def test_each_resolution_has_its_own_default_bucket_range(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, CROPS, dataset={"resolution": [512, 1024], "fit": "bucket"}))
    assert [(r, spec.at(r).buckets.min_bucket_reso, spec.at(r).buckets.max_bucket_reso) for r in spec.every_resolution] == \
        [(512, 256, 1024), (1024, 512, 2048)]
    data = _build(spec.path)
    sizes = {tuple(b["bucket"]) for b in data["buckets"]}
    assert max(w * h for w, h in sizes) > 1024 * 1024 * 0.8  # the 1024 tree has 1024-class buckets
