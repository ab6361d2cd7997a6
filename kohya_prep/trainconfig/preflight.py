"""Pre-flight warnings: what would make training fail or learn the wrong thing, found before it starts.

Warnings never stop the files from being written: a model may live on the training machine only.
"""

from __future__ import annotations

import os
from pathlib import Path

from kohya_prep.output import Notice
from kohya_prep.tags import has_trigger
from kohya_prep.trainconfig.source import TrainImage


def caption_warnings(images: list[TrainImage], trigger: str | None, extension: str = ".txt",
                     built: bool = True) -> list[Notice]:
    """Images whose caption lacks the trigger word, or that have no caption at all."""
    warnings = []
    missing = [i for i in images if i.caption is None]
    if missing:
        fix = "Rebuild with kohya-prep dataset build." if built else "Write a caption file beside each image."
        warnings.append(Notice(
            "caption-missing", f"{len(missing)} of {len(images)} training images have no {extension} caption "
            f"(e.g. {missing[0].path.name}); sd-scripts trains them on the class tokens alone. {fix}"))
    lacking = [i for i in images if i.caption is not None and trigger and not has_trigger(i.caption, trigger)]
    if trigger and lacking:
        warnings.append(Notice(
            "trigger-missing", f"{len(lacking)} of {len(images)} captions lack the trigger '{trigger}' "
            f"(e.g. {lacking[0].path.with_suffix(extension).name}); sd-scripts ignores class tokens where a "
            "caption exists, so those images do not teach the trigger. Add it to the captions."))
    return warnings


def model_warnings(model_paths: dict[str, tuple[str, str, bool]]) -> list[Notice]:
    """Model files that do not exist here. Value per key: (path, option flag, given by the user)."""
    warnings = []
    for key, (path, flag, given) in model_paths.items():
        if not given:
            continue
        if not Path(path).exists():
            hub = " (or is a Hugging Face model id)" if key == "pretrained_model_name_or_path" else ""
            warnings.append(Notice("model-missing", f"{flag} {path}: no such file here; training will fail unless it "
                                   f"exists on the training machine{hub}.", path))
    return warnings


def writable_warnings(folders: dict[str, str]) -> list[Notice]:
    """Output folders sd-scripts could not create or write into."""
    warnings = []
    for key, folder in folders.items():
        existing = Path(folder)
        while not existing.exists() and existing.parent != existing:
            existing = existing.parent
        if existing.exists() and not os.access(existing, os.W_OK):
            warnings.append(Notice("not-writable", f"{key} {folder}: {existing} is not writable; sd-scripts will fail "
                                   f"to save there. Fix its permissions or --set {key}=<another folder>.", folder))
    return warnings
