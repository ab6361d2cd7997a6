"""Bucket assignment against sd-scripts' algorithm, on cases computed by hand."""

from __future__ import annotations

import pytest

from kohya_prep.sdscripts.buckets import (
    BucketAssignment,
    BucketSettings,
    BucketTable,
    adjusted_bucket_range,
    assign_bucket,
    bucket_settings_problems,
    make_bucket_resolutions,
)

BUCKETED = BucketSettings(resolution=(512, 512), enable_bucket=True)
NO_UPSCALE = BucketSettings(resolution=(512, 512), enable_bucket=True, bucket_no_upscale=True)
ONE_BUCKET = BucketSettings(resolution=(512, 512), enable_bucket=False)


def test_bucket_resolutions_for_512_with_defaults() -> None:
    # max_area 262144; width 320 -> 262144 // 320 = 819 -> 12 * 64 = 768, and so on; heights below 256 drop out.
    assert make_bucket_resolutions((512, 512), 256, 1024, 64) == [
        (256, 832), (256, 896), (256, 960), (256, 1024), (320, 704), (320, 768), (384, 640), (448, 576),
        (512, 512), (576, 448), (640, 384), (704, 320), (768, 320), (832, 256), (896, 256), (960, 256), (1024, 256),
    ]


def test_bucket_resolutions_square_comes_from_the_area() -> None:
    # 768x512: sqrt(393216) = 627.1 -> 576 square, although neither side is 576.
    assert (576, 576) in make_bucket_resolutions((768, 512), 256, 1024, 64)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1024, 1024), BucketAssignment((512, 512), (512, 512), False)),
        # 600/900 = 0.667: 384/640 = 0.6 is closest; taller than the bucket -> match height 640/900.
        ((600, 900), BucketAssignment((384, 640), (427, 640), False)),
        # 900/600 = 1.5: 640/384 = 1.667 is closest; narrower than the bucket -> match width 640/900.
        ((900, 600), BucketAssignment((640, 384), (640, 427), False)),
        ((256, 256), BucketAssignment((512, 512), (512, 512), True)),
        ((448, 576), BucketAssignment((448, 576), (448, 576), False)),
        ((300, 500), BucketAssignment((384, 640), (384, 640), True)),
    ],
    ids=["square-large", "portrait", "landscape", "square-small-upscaled", "exact-bucket", "portrait-upscaled"],
)
def test_assign_with_buckets(size: tuple[int, int], expected: BucketAssignment) -> None:
    assert assign_bucket(size, BUCKETED) == expected


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        # 1024x768 over max_area: sqrt(262144 * 4/3) = 591.2 x 443.4; width-first rounding gives 576x384 (ar 1.5),
        # height-first 512x384 (ar 1.333, exact) -> height-first wins.
        ((1024, 768), BucketAssignment((512, 384), (512, 384), False)),
        ((300, 200), BucketAssignment((256, 192), (300, 200), False)),
        ((600, 600), BucketAssignment((512, 512), (512, 512), False)),
        ((200, 700), BucketAssignment((192, 640), (200, 700), False)),
    ],
    ids=["landscape-too-big", "small-kept", "square-too-big", "portrait-under-area"],
)
def test_assign_with_bucket_no_upscale(size: tuple[int, int], expected: BucketAssignment) -> None:
    assert assign_bucket(size, NO_UPSCALE) == expected


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1024, 768), BucketAssignment((512, 512), (683, 512), False)),
        ((400, 300), BucketAssignment((512, 512), (683, 512), True)),
        ((512, 512), BucketAssignment((512, 512), (512, 512), False)),
    ],
    ids=["landscape-down", "landscape-up", "exact"],
)
def test_assign_without_bucketing_uses_one_bucket(size: tuple[int, int], expected: BucketAssignment) -> None:
    assert assign_bucket(size, ONE_BUCKET) == expected


def test_table_for_no_upscale_has_no_predefined_buckets() -> None:
    assert BucketTable.from_settings(NO_UPSCALE).predefined == ()
    assert BucketTable.from_settings(ONE_BUCKET).predefined == ((512, 512),)


def test_bucket_range_is_moved_to_multiples_of_the_step() -> None:
    settings = BucketSettings(resolution=(512, 512), enable_bucket=True, min_bucket_reso=300, max_bucket_reso=1000)
    assert adjusted_bucket_range(settings) == (256, 1024)


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        (BucketSettings((512, 512), True, min_bucket_reso=640), "min_bucket_reso 640 is larger"),
        (BucketSettings((1024, 1024), True, max_bucket_reso=768), "max_bucket_reso 768 is smaller"),
    ],
    ids=["min-too-big", "max-too-small"],
)
def test_bucket_settings_problems(settings: BucketSettings, fragment: str) -> None:
    problems = bucket_settings_problems(settings)
    assert len(problems) == 1
    assert fragment in problems[0]


def test_default_settings_have_no_problems() -> None:
    assert bucket_settings_problems(BUCKETED) == []
