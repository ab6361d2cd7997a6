"""`--preview`: every crop rendered for review, a labelled contact sheet, and one box overlay per source.

Written to <root>/preview/, beside train/ and reg/, where sd-scripts never looks; the final dataset is
not touched. The preview folder is replaced atomically like the dataset itself.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kohya_prep.build import PLAN_MARKER, BuildOptions, discard_tree, render_all
from kohya_prep.fsops import build_lock, link_or_copy, swap_into_place
from kohya_prep.plan import PREVIEW_DIR, CropRow, OutputFile, RenderJob, make_plan
from kohya_prep.spec import FLIP_SUFFIX, CropSpec, DatasetSpec

TILE = 256
LABEL_HEIGHT = 54
COLUMNS = 6
OVERLAY_LONG_SIDE = 1600
STATUS_COLOURS = {"approved": (46, 160, 67), "speculative": (230, 140, 0), "excluded": (140, 140, 140)}


@dataclass
class PreviewResult:
    spec: DatasetSpec
    folder: Path
    contact_sheet: Path
    overlays: list[Path] = field(default_factory=list)
    crops: list[Path] = field(default_factory=list)
    rows: list[CropRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _outputs(spec: DatasetSpec) -> list[OutputFile]:
    outputs = []
    for crop in spec.crops:
        variants = [(crop.name, False)] + ([(crop.name + FLIP_SUFFIX, True)] if crop.flip else [])
        for stem, flip in variants:
            job = RenderJob(crop.source, crop.box, flip)
            outputs.append(OutputFile(f"crops/{stem}.png", "image", crop.name, "", job=job))
    return outputs


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _tile_label(crop: CropSpec) -> tuple[str, str]:
    flip = "flip" if crop.flip else "no flip"
    return f"#{crop.index} {crop.name}", f"{crop.status} · {flip}"


def contact_sheet(spec: DatasetSpec, crop_dir: Path, target: Path) -> None:
    """A grid of every crop with its number, name, status and flip flag, coloured by status."""
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
        with Image.open(crop_dir / f"{crop.name}.png") as tile:
            sheet.paste(tile.convert("RGB").resize((TILE, TILE), Image.Resampling.LANCZOS), (x, y))
        first, second = _tile_label(crop)
        draw.text((x + 4, y + TILE + 6), first, fill=(255, 255, 255), font=big)
        draw.text((x + 4, y + TILE + 28), second, fill=(255, 255, 255), font=small)
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
    for crop in (c for c in spec.crops if c.source == source_id):
        box = [round(v * scale) for v in (crop.box.left, crop.box.top, crop.box.right - 1, crop.box.bottom - 1)]
        colour = STATUS_COLOURS[crop.status]
        draw.rectangle(box, outline=colour, width=3)
        label = f"#{crop.index} {crop.name}" + (" (flip)" if crop.flip else "")
        left, top, right, bottom = draw.textbbox((box[0] + 4, box[1] + 3), label, font=font)
        draw.rectangle([left - 3, top - 2, right + 3, bottom + 2], fill=colour)
        draw.text((box[0] + 4, box[1] + 3), label, fill=(255, 255, 255), font=font)
    image.save(target, compress_level=6)


def build_preview(spec: DatasetSpec, options: BuildOptions | None = None) -> PreviewResult:
    """Render every crop (speculative and excluded too), the contact sheet and the overlays."""
    options = options or BuildOptions()
    root = spec.root
    live, new, old = root / PREVIEW_DIR, root / f".{PREVIEW_DIR}.kp-new", root / f".{PREVIEW_DIR}.kp-old"
    result = PreviewResult(spec, live, live / "contact-sheet.png")
    with build_lock(root.parent / f".{root.name}.kp-lock"):
        root.mkdir(parents=True, exist_ok=True)
        for leftover in (new, old):
            discard_tree(leftover, live)
        outputs = _outputs(spec)
        ours = [o.relpath for o in outputs] + ["contact-sheet.png"] + [f"overlay-{s}.png" for s in spec.sources]
        (new / "crops").mkdir(parents=True)
        (new / PLAN_MARKER).write_text("\n".join(ours), encoding="utf-8")
        try:
            _carry_user_files(live, new, set(ours))
            overlays: list[Path] = []

            def draw_overlay(source_id: str, decoded: Any) -> None:
                overlay(spec, source_id, decoded, new / f"overlay-{source_id}.png")
                overlays.append(live / f"overlay-{source_id}.png")

            jobs = options.jobs or os.cpu_count() or 1
            render_all(spec, outputs, new, {}, jobs, options.progress, on_decoded=draw_overlay)
            contact_sheet(spec, new / "crops", new / "contact-sheet.png")
        except BaseException:
            discard_tree(new, live)
            raise
        swap_into_place(new, live, old)
        kept = discard_tree(old, live)
    result.overlays = sorted(overlays)
    result.crops = sorted(live / o.relpath for o in outputs)
    # Only the crops' rows and warnings are wanted here; keys need no real hashes, and reg images are not previewed.
    full = make_plan(spec, dict.fromkeys(spec.sources, ""), [], include_speculative=True)
    result.rows = full.rows
    result.warnings = full.warnings + ([kept] if kept else [])
    return result


def _carry_user_files(live: Path, new: Path, ours: set[str]) -> None:
    """Files a user put into preview/ survive a new preview."""
    if not live.is_dir():
        return
    for path in live.rglob("*"):
        relpath = path.relative_to(live).as_posix()
        if path.is_file() and relpath not in ours and relpath != PLAN_MARKER:
            (new / relpath).parent.mkdir(parents=True, exist_ok=True)
            link_or_copy(path, new / relpath)
