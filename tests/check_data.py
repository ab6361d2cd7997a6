"""Small real datasets for the `dataset check` tests, laid out on disk in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image


def picture(seed: int, size: tuple[int, int] = (512, 512)) -> Image.Image:
    """A smooth random picture: distinct per seed for a perceptual hash, unlike flat noise."""
    rng = np.random.default_rng(seed)
    small = Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8), "RGB")
    return small.resize(size, Image.Resampling.BICUBIC)


def image(path: Path, seed: int = 0, size: tuple[int, int] = (512, 512), fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    picture(seed, size).save(path, format=fmt or ("JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else "PNG"))
    return path


def caption(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def subset(root: Path, name: str, count: int, ext: str = ".txt", text: str = "mychar, 1girl, red hair", seed: int = 0,
           size: tuple[int, int] = (512, 512)) -> Path:
    """A subset folder of `count` PNGs (img00.png ...) each with a caption (ext=None: no captions)."""
    folder = root / name
    for i in range(count):
        image(folder / f"img{i:02d}.png", seed + i, size)
        if ext:
            caption(folder / f"img{i:02d}{ext}", f"{text}, pose {i}\n")
    return folder


def built_dataset(root: Path, crops: int = 3, reg: int = 0, preview: bool = True) -> Path:
    """A dataset laid out exactly as `kohya-prep dataset build` writes one (see the spec model)."""
    train = root / "train" / "10_ariachar girl"
    seed = 100
    for i in range(crops):
        for stem in (f"crop{i}", f"crop{i}-flip"):
            image(train / f"{stem}.png", seed)
            caption(train / f"{stem}.txt", f"ariachar, 1girl, red hair, view {i}\n")
            seed += 1
    reg_dir = root / "reg" / "1_girl"
    reg_dir.mkdir(parents=True)
    for i in range(reg):
        image(reg_dir / f"reg{i:03d}.png", 500 + i)
        caption(reg_dir / f"reg{i:03d}.txt", "1girl\n")
    if preview:
        image(root / "preview" / "contact-sheet.png", 900, (1024, 256))
    (root / "kohya-prep-manifest.json").write_text(json.dumps({"version": 1, "outputs": []}), encoding="utf-8")
    return root


def run_check(*args: str) -> tuple[int, dict]:
    """`kohya-prep dataset check ... --json`: exit code and the parsed report."""
    from click.testing import CliRunner

    from kohya_prep.cli import cli

    result = CliRunner().invoke(cli, ["dataset", "check", *args, "--json"])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.output)


def finding(report: dict, code: str) -> dict:
    """The one finding with this code (fails the test when there is none, or several)."""
    matches = [f for f in report["findings"] if f["code"] == code]
    assert len(matches) == 1, (code, [f["code"] for f in report["findings"]])
    return matches[0]


def codes(report: dict, severity: str | None = None) -> list[str]:
    return [f["code"] for f in report["findings"] if severity is None or f["severity"] == severity]
