"""Path options as sd-scripts will see them: absolute, in this machine's style.

train.sh and train.bat change into the sd-scripts folder before they start, so a relative path in a config points
into sd-scripts, not where the user meant: a relative path given on the command line is resolved against the
current folder, one in the spec's [train] table against the spec's folder. A path in the other OS's style (a
drive letter or backslashes here on Linux, a /-rooted path on Windows) is kept as written and reported: the
dataset folders in the same files are this machine's, so the set cannot run unchanged on either machine.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

# Options that name a file or folder (argtable's STR options; base_weights is a list of them).
PATH_KEYS = frozenset({
    "pretrained_model_name_or_path", "vae", "clip_l", "t5xxl", "ae", "network_weights", "output_dir", "logging_dir",
    "sample_prompts", "resume", "dataset_config", "tokenizer_cache_dir", "conditioning_data_dir", "log_tracker_config",
    "console_log_file", "controlnet_model_name_or_path", "train_data_dir", "reg_data_dir", "in_json", "base_weights",
})
_WINDOWS = re.compile(r"^[A-Za-z]:[\\/]|^\\\\|\\")


def host_os() -> str:
    """'windows' or 'posix': the style of the paths this machine writes."""
    return "windows" if os.name == "nt" else "posix"


def foreign_style(value: str, host: str) -> str | None:
    """'Windows' or 'POSIX' when `value` is written for the other OS; None when it is this machine's style."""
    if host == "posix" and _WINDOWS.search(value):
        return "Windows"
    if host == "windows" and value.startswith("/") and not value.startswith("//"):
        return "POSIX"
    return None


def resolve(key: str, value: Any, base: Path, host: str) -> Any:
    """`value` made absolute against `base`, unless it is absolute, foreign-style, or a Hugging Face model id."""
    if isinstance(value, list):
        return [resolve(key, v, base, host) for v in value]
    if not isinstance(value, str) or not value or foreign_style(value, host):
        return value
    path = Path(value).expanduser()
    if path.is_absolute():
        return str(path)
    candidate = base / path
    if key in ("pretrained_model_name_or_path", "controlnet_model_name_or_path") and not candidate.exists():
        return value  # 'stabilityai/stable-diffusion-xl-base-1.0': sd-scripts downloads it by that id
    return str(candidate.absolute())
