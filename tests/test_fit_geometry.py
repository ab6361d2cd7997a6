"""Bucket-fit geometry as plain values: how far a box grows on each side, where it shifts, what is padded."""

from __future__ import annotations

import pytest

from kohya_prep.build.geometry import (
    FitOutcome,
    Sides,
    fit_bucket,
    growth_needed,
    jpeg_decode_scale,
    jpeg_decode_scale_for,
    letterbox_outcome,
    output_scale,
)
from kohya_prep.spec import Box

BUCKET = (320, 768)  # sd-scripts' 512 bucket for tall full-body crops


def test_growth_needed_adds_columns_to_a_narrow_box_and_rows_to_a_wide_one() -> None:
    assert growth_needed(Box(0, 0, 500, 1280), BUCKET) == ("x", round(1280 * 320 / 768) - 500)
    assert growth_needed(Box(0, 0, 400, 100), (512, 512)) == ("y", 300)
    assert growth_needed(Box(0, 0, 320, 768), BUCKET)[1] == 0


@pytest.mark.parametrize(
    ("room", "grown", "padded_share"),
    [
        (Sides(100, 0, 100, 0), Sides(16, 0, 17, 0), 0.0),  # room both sides: around the centre
        (Sides(0, 0, 100, 0), Sides(0, 0, 33, 0), 0.0),  # no room on the left: shifted right
        (Sides(5, 0, 100, 0), Sides(5, 0, 28, 0), 0.0),  # a little room on the left: the right takes the rest
        (Sides(5, 0, 8, 0), Sides(5, 0, 8, 0), None),  # neither side has room enough: the rest is padded
        (Sides(0, 0, 0, 0), Sides(0, 0, 0, 0), None),  # no room at all: padded like a letterbox
    ],
    ids=["centred", "shifted", "partly-shifted", "grown-and-padded", "padded-only"],
)
def test_fit_bucket_grows_then_shifts_then_pads(room: Sides, grown: Sides, padded_share: float | None) -> None:
    box = Box(40, 10, 500, 1280)
    fit = fit_bucket(box, BUCKET, room)
    assert fit.size == BUCKET and fit.grown == grown
    assert fit.region == Box(box.left - grown.left, box.top, box.width + grown.left + grown.right, box.height)
    need = growth_needed(box, BUCKET)[1]
    if padded_share == 0.0:
        assert fit.padded == Sides() and fit.inner == BUCKET
        return
    # What could not be grown is padded, in output pixels at the box's scale, and the box stays as central as it can.
    missing = need - grown.left - grown.right
    scale = BUCKET[1] / box.height
    assert fit.padded.top == fit.padded.bottom == 0
    assert abs(fit.padded.left + fit.padded.right - missing * scale) <= 1
    assert fit.inner == (BUCKET[0] - fit.padded.left - fit.padded.right, BUCKET[1])
    left_total = grown.left + fit.padded.left / scale
    right_total = grown.right + fit.padded.right / scale
    assert abs(left_total - right_total) <= 2 / scale + 1


def test_a_wide_box_grows_rows_and_mirrors_with_its_flip() -> None:
    fit = fit_bucket(Box(0, 50, 400, 100), (512, 512), Sides(0, 50, 0, 500))
    assert fit.grown == Sides(0, 50, 0, 250) and fit.region == Box(0, 0, 400, 400)
    assert fit.padded == Sides() and FitOutcome.from_data(fit.to_data()) == fit
    shifted = fit_bucket(Box(0, 0, 300, 100), (512, 512), Sides(0, 0, 0, 50))
    assert shifted.shifted and shifted.padded.top > shifted.padded.bottom  # the top had no room: padded there
    mirrored = fit_bucket(Box(0, 0, 100, 400), (512, 512), Sides(10, 0, 0, 0)).mirrored()
    assert mirrored.grown == Sides(0, 0, 10, 0) and mirrored.padded.left > mirrored.padded.right


def test_letterbox_outcome_is_the_letterbox_geometry() -> None:
    fit = letterbox_outcome(Box(0, 0, 500, 1280), 512)
    assert fit.size == (512, 512) and fit.grown == Sides()
    assert fit.inner == (round(500 * 512 / 1280), 512)
    assert fit.padding_pixels == 512 * 512 - fit.inner[0] * 512
    assert fit.padded.left + fit.padded.right == 512 - fit.inner[0]


def test_decode_scale_of_a_bucket_output_keeps_the_letterbox_rule() -> None:
    boxes = [Box(0, 0, 3000, 4000), Box(0, 0, 1000, 1000)]
    assert jpeg_decode_scale(boxes, 512) == jpeg_decode_scale_for([output_scale(b, (512, 512)) for b in boxes])
    # A tall bucket takes more of the source than the square would: 0.256 output px per source px needs 1/2 >= 0.512.
    assert jpeg_decode_scale_for([output_scale(Box(0, 0, 1000, 4000), (256, 1024))]) == 1.0
    assert jpeg_decode_scale_for([output_scale(Box(0, 0, 2000, 8000), (256, 1024))]) == 0.5
