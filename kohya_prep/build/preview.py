"""`--preview`: every crop rendered for review, a labelled contact sheet, and one box overlay per source.

Written to <root>/preview/, beside train/ and reg/, where sd-scripts never looks; the final dataset is
not touched. The preview folder is replaced atomically like the dataset itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kohya_prep.build.fsops import build_lock
from kohya_prep.build.plan import (
    PREVIEW_DIR,
    CropRow,
    OutputFile,
    alpha_warnings,
    bucket_table,
    crop_job,
    crop_variants,
    review_crop,
)
from kohya_prep.build.render import render_all
from kohya_prep.build.run import BuildOptions, lock_path
from kohya_prep.build.stage import TreePaths, clear_leftovers, open_root, staged_tree
from kohya_prep.build.tree import walk_entries
from kohya_prep.output import Notice
from kohya_prep.spec import CropSpec, DatasetSpec

TILE = 256
LABEL_HEIGHT = 74
COLUMNS = 6
OVERLAY_LONG_SIDE = 1600
CONTACT_SHEET = "contact-sheet.png"
RECORD = ".kp-preview-files"  # what this preview wrote: the next preview replaces those and keeps the rest
STATUS_COLOURS = {"approved": (46, 160, 67), "speculative": (230, 140, 0), "excluded": (140, 140, 140)}
TILE_BACKDROP = (58, 58, 64)  # around a tile that is not square: the tile's own shape shows
MASK_SHADE = (120, 40, 150)  # masked pixels (alpha below 255) are drawn toward this, with stripes


@dataclass(frozen=True)
class PreviewResult:
    spec: DatasetSpec
    folder: Path
    contact_sheet: Path
    overlays: tuple[Path, ...] = ()
    crops: tuple[Path, ...] = ()
    rows: tuple[CropRow, ...] = ()
    warnings: tuple[Notice, ...] = ()


def overlay_name(source_id: str) -> str:
    """overlay-<id>.png; a folder image's id (`photos/a.jpg`) holds a '/', which becomes '--'."""
    return "overlay-" + source_id.replace("/", "--") + ".png"


def _outputs(spec: DatasetSpec) -> list[OutputFile]:
    """Every crop and flip of the spec, whatever its status, as files under preview/crops/."""
    table = bucket_table(spec)
    return [OutputFile(f"crops/{stem}.png", "image", crop.name, "", job=crop_job(crop, flip, 1.0, table))
            for crop in spec.crops for stem, flip in crop_variants(crop)]


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _tile_label(crop: CropSpec, size: tuple[int, int]) -> tuple[str, str, str]:
    flip = "flip" if crop.flip else "no flip"
    mask = "" if crop.mask == "none" else f" · mask {crop.mask}"
    return f"#{crop.index} {crop.name}", f"{crop.status} · {flip}", f"{crop.fit} {size[0]}x{size[1]}{mask}"


def shade_masked(image: Any) -> Any:
    """An RGB picture of what trains: pixels the loss mask weights down (alpha < 255) are tinted and striped in
    proportion, so padding and transparent background stand out from the art."""
    import numpy as np
    from PIL import Image

    if image.mode != "RGBA":
        return image.convert("RGB")
    rgba = np.asarray(image).astype(np.float32)
    masked = 1.0 - rgba[:, :, 3:4] / 255.0
    rows, cols = np.indices(rgba.shape[:2])
    stripes = (((rows + cols) // 6) % 2 == 0)[:, :, None]
    shade = np.where(stripes, np.array(MASK_SHADE, dtype=np.float32), np.array(MASK_SHADE, dtype=np.float32) * 0.6)
    mixed = rgba[:, :, :3] * (1.0 - 0.75 * masked) + shade * (0.75 * masked)
    return Image.fromarray(np.clip(mixed + 0.5, 0, 255).astype(np.uint8), "RGB")


def _tile(path: Path) -> tuple[Any, tuple[int, int]]:
    """A crop at its real shape, fitted into TILE x TILE, masked pixels shaded; and the image's size."""
    from PIL import Image

    with Image.open(path) as image:
        size = image.size
        scale = TILE / max(size)
        small = image.resize((max(1, round(size[0] * scale)), max(1, round(size[1] * scale))), Image.Resampling.LANCZOS)
    return shade_masked(small), size


def contact_sheet(spec: DatasetSpec, crop_dir: Path, target: Path) -> None:
    """A grid of every crop at its real shape, masked pixels shaded, with its number, name, status, flip flag and
    size, coloured by status."""
    from PIL import Image, ImageDraw

    rows = math.ceil(len(spec.crops) / COLUMNS)
    cell_w, cell_h = TILE + 8, TILE + LABEL_HEIGHT + 8
    sheet = Image.new("RGB", (COLUMNS * cell_w + 8, rows * cell_h + 8), (32, 32, 36))
    draw = ImageDraw.Draw(sheet)
    big, small = _font(16), _font(14)
    for position, crop in enumerate(spec.crops):
        x, y = 8 + (position % COLUMNS) * cell_w, 8 + (position // COLUMNS) * cell_h
        colour = STATUS_COLOURS[crop.status]
        draw.rectangle([x - 4, y - 4, x + TILE + 3, y + TILE + LABEL_HEIGHT], fill=colour)
        draw.rectangle([x, y, x + TILE - 1, y + TILE - 1], fill=TILE_BACKDROP)
        tile, size = _tile(crop_dir / f"{crop.name}.png")
        sheet.paste(tile, (x + (TILE - tile.size[0]) // 2, y + (TILE - tile.size[1]) // 2))
        first, second, third = _tile_label(crop, size)
        draw.text((x + 4, y + TILE + 6), first, fill=(255, 255, 255), font=big)
        draw.text((x + 4, y + TILE + 28), second, fill=(255, 255, 255), font=small)
        draw.text((x + 4, y + TILE + 48), third, fill=(255, 255, 255), font=small)
    sheet.save(target, optimize=False, compress_level=6)


def overlay(spec: DatasetSpec, source_id: str, decoded: Any, target: Path) -> None:
    """The source, scaled down, with every crop's box drawn, numbered and coloured by status."""
    import cv2
    from PIL import Image, ImageDraw

    pixels = decoded.pixels
    height, width = pixels.shape[:2]
    factor = min(1.0, OVERLAY_LONG_SIDE / max(width, height))
    small = cv2.resize(pixels, (max(1, round(width * factor)), max(1, round(height * factor))), interpolation=cv2.INTER_AREA)
    image = Image.fromarray(small)
    draw = ImageDraw.Draw(image)
    font = _font(18)
    scale = factor * decoded.scale
    table = bucket_table(spec)
    for crop in (c for c in spec.crops if c.source == source_id):
        box = [round(v * scale) for v in (crop.box.left, crop.box.top, crop.box.right - 1, crop.box.bottom - 1)]
        colour = STATUS_COLOURS[crop.status]
        _draw_bucket_region(draw, decoded, crop, table, spec.background, scale, colour)
        draw.rectangle(box, outline=colour, width=3)
        label = f"#{crop.index} {crop.name}" + (" (flip)" if crop.flip else "")
        left, top, right, bottom = draw.textbbox((box[0] + 4, box[1] + 3), label, font=font)
        draw.rectangle([left - 3, top - 2, right + 3, bottom + 2], fill=colour)
        draw.text((box[0] + 4, box[1] + 3), label, fill=(255, 255, 255), font=font)
    image.save(target, compress_level=6)


def _draw_bucket_region(draw: Any, decoded: Any, crop: CropSpec, table: Any, background: tuple[int, int, int],
                        scale: float, colour: tuple[int, int, int]) -> None:
    """A bucket crop's grown region, thin, around its box: the background the build measured and took in."""
    from kohya_prep.build.pixels import plan_bucket_fit

    job = crop_job(crop, False, 1.0, table)
    if job.bucket is None:
        return
    region = plan_bucket_fit(decoded, crop.box, job.bucket, background).region
    if region != crop.box:
        draw.rectangle([round(v * scale) for v in (region.left, region.top, region.right - 1, region.bottom - 1)],
                       outline=colour, width=1)


def build_preview(spec: DatasetSpec, options: BuildOptions | None = None) -> PreviewResult:
    """Render every crop (speculative and excluded too), the contact sheet and the overlays."""
    options = options or BuildOptions()
    paths = TreePaths.folder(spec.root / PREVIEW_DIR)
    outputs = _outputs(spec)
    ours = [o.relpath for o in outputs] + [CONTACT_SHEET, RECORD] + [overlay_name(s) for s in spec.sources]
    overlays: list[Path] = []
    with build_lock(lock_path(spec.root)):
        open_root(spec.root)
        leftovers = [Notice("kept-aside", text) for text in clear_leftovers(paths)]
        earlier = _earlier_files(paths.live)
        user_files = [p for p in walk_entries(paths.live) if p not in {*ours, *earlier}] if paths.live.is_dir() else []
        with staged_tree(paths, ours, user_files, drop=earlier) as staged:
            new = staged.folder
            (new / "crops").mkdir(exist_ok=True)

            def draw_overlay(source_id: str, decoded: Any) -> None:
                overlay(spec, source_id, decoded, new / overlay_name(source_id))
                overlays.append(paths.live / overlay_name(source_id))

            render_all(spec, outputs, new, {}, options.workers, options.progress, on_decoded=draw_overlay)
            contact_sheet(spec, new / "crops", new / CONTACT_SHEET)
            (new / RECORD).write_text("\n".join(ours) + "\n", encoding="utf-8")
    table = bucket_table(spec)
    reviews = [review_crop(crop, spec.resolution, table) for crop in spec.crops]
    kept = [Notice("kept-aside", staged.kept)] if staged.kept else []
    found = [w for _, crop_found in reviews for w in crop_found] + alpha_warnings(spec, spec.crops)
    return PreviewResult(spec, paths.live, paths.live / CONTACT_SHEET, tuple(sorted(overlays)),
                         tuple(sorted(paths.live / o.relpath for o in outputs)), tuple(row for row, _ in reviews),
                         tuple(found) + tuple(leftovers) + tuple(kept))


def _earlier_files(live: Path) -> set[str]:
    """What the last preview wrote (its record): replaced now; anything else in preview/ is the user's and stays."""
    try:
        return {*(live / RECORD).read_text(encoding="utf-8").splitlines(), RECORD}
    except OSError:
        return set()
