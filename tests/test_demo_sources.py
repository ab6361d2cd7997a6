"""The demo that `make dataset` builds: its spec validates, and its sources are what make_demo.py draws."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kohya_prep.build.caption_text import one_sided_features
from kohya_prep.spec import DatasetSpec, load_spec

DATASET = Path(__file__).resolve().parents[1] / "dataset"
SPEC = DATASET / "demo.toml"
SOURCE_NAMES = ("ref-sheet.png", "turnaround-a.png", "turnaround-b.png", "turnaround-c.png")


@pytest.fixture(scope="module")
def spec() -> DatasetSpec:
    return load_spec(SPEC)


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """make_demo.py run twice, into two fresh folders (never into the repository)."""
    outs = (tmp_path_factory.mktemp("run1"), tmp_path_factory.mktemp("run2"))
    for out in outs:
        subprocess.run([sys.executable, str(DATASET / "make_demo.py"), "--out", str(out)], check=True,
                       capture_output=True)
    return outs


def test_spec_has_19_crops_one_speculative_some_flipped(spec: DatasetSpec) -> None:
    statuses = [crop.status for crop in spec.crops]
    flipped = [crop.name for crop in spec.crops if crop.flip]
    assert len(spec.crops) == 19
    assert statuses.count("speculative") == 1
    assert statuses.count("approved") == 18
    assert len(flipped) >= 3
    assert spec.trigger == "mirakp"
    assert spec.subset_dir == "10_mirakp girl"


def test_spec_crop_counts_per_source(spec: DatasetSpec) -> None:
    per_source = {source: sum(crop.source == source for crop in spec.crops) for source in spec.sources}
    assert per_source == {"sheet": 9, "turn-a": 4, "turn-b": 4, "turn-c": 2}


def test_exactly_one_flip_shows_the_one_sided_feature_warning(spec: DatasetSpec) -> None:
    warned = [crop.name for crop in spec.crops if crop.flip and one_sided_features(crop.caption)]
    assert warned == ["turn-b-three-quarter"]


def test_crop_names_have_no_underscores(spec: DatasetSpec) -> None:
    assert [crop.name for crop in spec.crops if "_" in crop.name] == []


@pytest.mark.parametrize(
    ("source_id", "size", "mode"),
    [
        ("sheet", (2816, 1536), "RGB"),
        ("turn-a", (1024, 1024), "RGB"),
        ("turn-b", (1024, 1024), "RGBA"),
        ("turn-c", (1024, 1024), "RGB"),
    ],
    ids=["sheet", "turn-a", "turn-b", "turn-c"],
)
def test_source_sizes_and_modes(spec: DatasetSpec, source_id: str, size: tuple[int, int], mode: str) -> None:
    source = spec.sources[source_id]
    with Image.open(source.path) as img:
        actual_mode = img.mode
    assert source.size == size
    assert actual_mode == mode


def test_one_source_has_transparent_and_soft_edged_alpha(spec: DatasetSpec) -> None:
    with_alpha = []
    for source in spec.sources.values():
        with Image.open(source.path) as img:
            if "A" in img.getbands():
                with_alpha.append((source.id, np.asarray(img.getchannel("A"))))
    assert [source_id for source_id, _ in with_alpha] == ["turn-b"]
    alpha = with_alpha[0][1]
    assert (alpha == 0).mean() > 0.5  # a transparent background
    assert (alpha == 255).any()  # an opaque figure
    assert ((alpha > 0) & (alpha < 255)).any()  # anti-aliased edges


def _border_touches_figure(pixels: np.ndarray, mode: str) -> bool:
    """Whether a crop's one-pixel border has anything but plain background (or transparency) on it."""
    ring = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]]).astype(int)
    if mode == "RGBA":
        return bool((ring[:, 3] > 0).any())
    return bool((np.abs(ring - ring[0]).max(axis=1) > 8).any())


def test_full_body_boxes_do_not_cut_the_figure(spec: DatasetSpec) -> None:
    """A full-body box's border lies on plain background: the figure is wholly inside it."""
    cut = []
    for crop in spec.crops:
        if "full body" not in crop.caption:
            continue
        with Image.open(spec.sources[crop.source].path) as img:
            pixels = np.asarray(img.crop((crop.box.left, crop.box.top, crop.box.right, crop.box.bottom)))
            mode = img.mode
        if _border_touches_figure(pixels, mode):
            cut.append(crop.name)
    assert cut == []


def test_make_demo_is_deterministic(drawn: tuple[Path, Path]) -> None:
    first, second = drawn
    different = [name for name in SOURCE_NAMES if (first / name).read_bytes() != (second / name).read_bytes()]
    assert sorted(p.name for p in first.iterdir()) == sorted(SOURCE_NAMES)
    assert different == []


def _thumb(path: Path) -> tuple[str, tuple[int, int], np.ndarray]:
    with Image.open(path) as img:
        small = img.resize((img.width // 8, img.height // 8), Image.Resampling.BOX)
        return img.mode, img.size, np.asarray(small).astype(int)


@pytest.mark.parametrize("name", SOURCE_NAMES, ids=SOURCE_NAMES)
def test_committed_sources_are_what_make_demo_draws(drawn: tuple[Path, Path], name: str) -> None:
    """Committed PNGs match a fresh run. Byte-identical in one environment (see the test above); compared
    here as 1/8 thumbnails, so that another Pillow's anti-aliasing or font hinting passes but a drawing
    change that was not regenerated (python dataset/make_demo.py) fails."""
    committed_mode, committed_size, committed = _thumb(DATASET / "sources" / name)
    fresh_mode, fresh_size, fresh = _thumb(drawn[0] / name)
    assert (committed_mode, committed_size) == (fresh_mode, fresh_size)
    assert np.abs(committed - fresh).max() <= 24


def test_demo_builds_from_a_copy(tmp_path: Path) -> None:
    """What `make dataset` does, on a copy: 18 approved crops + 5 flips = 23 images, speculative left out."""
    from click.testing import CliRunner

    from kohya_prep.cli import cli

    shutil.copy(SPEC, tmp_path / "demo.toml")
    shutil.copytree(DATASET / "sources", tmp_path / "sources")
    result = CliRunner().invoke(cli, ["dataset", "build", str(tmp_path / "demo.toml")])
    subset = tmp_path / "demo" / "train" / "10_mirakp girl"
    images = sorted(p.name for p in subset.glob("*.png"))
    with Image.open(subset / "turn-b-front.png") as img:
        mode, size, corner = img.mode, img.size, img.getpixel((0, 0))
    flip_caption = (subset / "sheet-side-flip.txt").read_text(encoding="utf-8")
    assert result.exit_code == 0, result.output
    assert len(images) == 23
    assert "face-angry.png" not in images
    assert (mode, size, corner) == ("RGB", (512, 512), (255, 255, 255))  # transparency laid on the background
    assert flip_caption.startswith("mirakp, full body, standing, side view, profile, facing right,")
    assert "turn-b-three-quarter" in result.output and "side ponytail" in result.output
