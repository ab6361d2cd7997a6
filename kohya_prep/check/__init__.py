"""`kohya-prep dataset check`: read a dataset exactly as sd-scripts will and report what will happen.

`check_dataset(CheckOptions(...)) -> Report`; `render_text(report)` and `report_data(report)` (the --json fields) format it.
Flow: target.resolve (PATH / configs -> subsets; config.py for sd-scripts' dataset config) -> scan.scan_subset (the
only image and caption I/O, through files.py, which never opens anything but a regular file) -> rules (layout,
images, captions, reg, buckets; pure) -> Report (each dataset's registered and dropped subsets, every image's
bucket, the epoch plan, and the whole run's TrainingLength). Other commands read datasets through
`check_dataset` or `target.resolve`.
"""

from __future__ import annotations

from kohya_prep.check.findings import Finding, Report
from kohya_prep.check.inputs import CheckOptions
from kohya_prep.check.report import notices, render_text, report_data
from kohya_prep.check.run import check_dataset

__all__ = ["CheckOptions", "Finding", "Report", "check_dataset", "notices", "render_text", "report_data"]
