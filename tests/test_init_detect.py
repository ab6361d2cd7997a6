"""The figure detector on drawn sheets with exact truth (tests/drawn_sheets.py) and on the demo's own sources."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kohya_prep.init.detect import SheetReading, detect_figures
from kohya_prep.spec import load_spec
from tests.drawn_sheets import Score, Sheet, contains, drawn_sheets, iou, sheet_small, sheet_touching

DEMO = Path(__file__).resolve().parents[1] / "dataset" / "demo.toml"


@pytest.fixture(scope="module")
def sheets() -> list[Sheet]:
    return drawn_sheets()


@pytest.fixture(scope="module")
def readings(sheets: list[Sheet]) -> list[SheetReading]:
    return [detect_figures(np.asarray(sheet.image)) for sheet in sheets]


def _boxes(reading: SheetReading) -> list[list[int]]:
    return [d.box.as_list() for d in reading.detections]


def test_the_test_set_is_varied(sheets: list[Sheet]) -> None:
    counts = sorted(len(s.figures) for s in sheets)
    assert len(sheets) >= 12 and counts[0] == 1 and counts[-1] == 12
    assert {s.background for s in sheets} >= {"white", "cream", "grey", "vgradient", "radial", "paper", "grid",
                                               "transparent", "dark"}
    assert {t.kind for s in sheets for t in s.figures} == {"full body", "bust", "face", "panel"}


def test_detector_meets_its_targets_on_the_drawn_sheets(sheets: list[Sheet], readings: list[SheetReading]) -> None:
    total, problems = Score(), {}
    for sheet, reading in zip(sheets, readings, strict=True):
        found = total.add(sheet.figures, _boxes(reading), sheet.image.size)
        if found:
            problems[sheet.name] = found
    assert total.recall >= 0.95 and total.precision >= 0.95, problems
    assert total.out_of_bounds == 0, problems
    assert total.contained == total.matched, problems  # no figure cut


def test_every_drawn_sheet_is_read_as_a_sheet(sheets: list[Sheet], readings: list[SheetReading]) -> None:
    assert [s.name for s, r in zip(sheets, readings, strict=True) if not r.is_sheet] == []


def test_titles_labels_swatches_logos_and_signatures_are_left_out(sheets: list[Sheet],
                                                                  readings: list[SheetReading]) -> None:
    single = next(r for s, r in zip(sheets, readings, strict=True) if s.name == "single-title")
    kinds = {item.kind for item in single.left_out}
    assert len(single.detections) == 1 and {"text", "swatch", "small"} <= kinds


def test_figures_three_pixels_apart_are_two_figures() -> None:
    sheet = sheet_touching()
    boxes = [t.box for t in sheet.figures]
    assert max(b[0] - (a[0] + a[2]) for a, b in itertools.pairwise(boxes)) <= 3  # boxes touch or overlap
    reading = detect_figures(np.asarray(sheet.image))
    score = Score()
    assert score.add(sheet.figures, _boxes(reading), sheet.image.size) == []


def test_the_generator_is_deterministic() -> None:
    first, second = sheet_small(), sheet_small()
    assert first.figures == second.figures
    assert first.image.tobytes() == second.image.tobytes()


def test_kind_and_confidence_are_given_for_every_detection(readings: list[SheetReading]) -> None:
    for reading in readings:
        for det in reading.detections:
            assert det.kind in ("full body", "bust", "face") and 0 < det.confidence <= 1
            assert det.level in ("high", "medium", "low")
            assert contains(det.box.as_list(), det.figure.as_list())


@pytest.mark.parametrize(
    ("pixels", "background", "empty"),
    [
        (np.full((300, 400, 3), 250, np.uint8), "plain", True),
        (np.zeros((300, 400, 4), np.uint8), "transparent", True),
        (np.random.default_rng(3).integers(0, 255, (300, 400, 3), dtype=np.uint8), "busy", False),
        (np.full((300, 400), 30, np.uint8), "plain", True),
    ],
    ids=["white", "transparent", "noise", "grey-levels"],
)
def test_images_without_figures(pixels: np.ndarray, background: str, empty: bool) -> None:
    reading = detect_figures(pixels)
    assert reading.background == background and reading.detections == () and reading.is_empty is empty
    assert not reading.is_sheet


def test_init_finds_every_figure_of_the_demos_hand_made_crops() -> None:
    spec = load_spec(DEMO)
    missed = []
    for source_id, source in spec.sources.items():
        with Image.open(source.path) as img:
            reading = detect_figures(np.asarray(img))
        boxes = _boxes(reading)
        for crop in (c for c in spec.crops if c.source == source_id):
            hand = crop.box.as_list()
            if not any(iou(box, hand) >= 0.7 or contains(box, hand) for box in boxes):
                missed.append(crop.name)
    assert missed == []
