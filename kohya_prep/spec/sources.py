"""The [sources] table: an id per source image, its file, and its size from the header."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kohya_prep.spec.fields import Problems
from kohya_prep.spec.headers import read_source_header
from kohya_prep.spec.model import SourceSpec
from kohya_prep.spec.names import path_text_problem


def sources_section(data: dict[str, Any], base: Path, problems: Problems) -> dict[str, SourceSpec]:
    table = data.get("sources")
    if not isinstance(table, dict) or not table:
        problems.add("", "[sources] is missing or empty; map an id to an image path, e.g. sheet = 'sources/sheet.png'")
        return {}
    sources: dict[str, SourceSpec] = {}
    for source_id, raw in table.items():
        where = f"source {source_id!r}"
        if not isinstance(raw, str) or not raw.strip():
            problems.add(where, f"{raw!r} must be an image path in quotes, relative to the spec")
            continue
        problem = path_text_problem(raw)
        if problem:
            problems.add(where, f"{raw!r} cannot be a file path: {problem}")
            continue
        # A spec written on Windows may say sources\\sheet.png; on POSIX that is one odd file name.
        try:
            path = (base / (raw.replace("\\", "/") if os.sep == "/" else raw)).resolve()
        except (OSError, RuntimeError):  # RuntimeError: a symlink loop on Python < 3.13
            problems.add(where, f"{raw!r} is a symlink loop; point it at the image file")
            continue
        if not path.is_file():
            problems.add(where, f"file {raw!r} not found (looked at {path}); fix the path or add the file")
            continue
        try:
            size, jpeg, alpha = read_source_header(path)
        except (OSError, SyntaxError, ValueError) as err:
            problems.add(where, f"{raw!r} is not a readable image ({err}); re-export it as PNG or JPEG")
            continue
        sources[source_id] = SourceSpec(source_id, path, size, jpeg, alpha)
    return sources
