"""The dataset spec, read by every command: `load_spec(path) -> DatasetSpec`, or SpecError with every problem.

model.py holds the values; validate.py reads the file and runs one module per table (dataset.py, sources.py,
crops.py); names.py holds the rule for names that become paths, headers.py the header reads of source images,
fields.py the field-level checks the tables share.
"""

from __future__ import annotations

from kohya_prep.spec.fields import parse_background
from kohya_prep.spec.headers import allow_large_sources, has_alpha, read_image_header, read_image_size, read_source_header
from kohya_prep.spec.model import (
    FITS,
    FLIP_SUFFIX,
    MASKS,
    PNG_MODES,
    STATUSES,
    Box,
    BucketSpec,
    CropSpec,
    DatasetSpec,
    FitMode,
    MaskMode,
    PngMode,
    RegSpec,
    SourceSpec,
    Status,
)
from kohya_prep.spec.validate import load_spec, validate_spec

__all__ = [
    "FITS", "FLIP_SUFFIX", "MASKS", "PNG_MODES", "STATUSES", "Box", "BucketSpec", "CropSpec", "DatasetSpec", "FitMode",
    "MaskMode", "PngMode", "RegSpec", "SourceSpec", "Status", "allow_large_sources", "has_alpha", "load_spec",
    "parse_background", "read_image_header", "read_image_size", "read_source_header", "validate_spec",
]
