"""sd-scripts' sample-prompt syntax, read back the way it reads it, so every line kohya-prep writes is checked.

The rules (library/train_util.py: load_prompts and line_to_prompt_dict, at the pinned commit):
- a .txt file is read as UTF-8; each line is stripped; empty lines are skipped, and so is a line whose *first
  character* is '#' (checked before stripping: an indented '# note' is a prompt);
- a line is split on ' --' (space, two dashes); the first piece is the prompt, and every piece, the first one
  included, is matched case-insensitively from its start against w, h, d, s, l, g, n, ss, cn, ctr, rcfg and fs in
  that order, the first match winning: so a prompt that itself starts with 'n ' or 'w 5' sets an option too;
- w, h, d and s take digits (s is clamped to 1..1000), l and g digits and dots (a float() that fails is logged and
  skipped), n, ss, cn and fs the rest of the piece, ctr and rcfg a float;
- a line that ends in '.txt' is the only format kohya-prep writes; .toml and .json files follow other rules.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any

_PATTERNS: tuple[tuple[str, str, Callable[[str], Any]], ...] = (
    (r"w (\d+)", "width", int),
    (r"h (\d+)", "height", int),
    (r"d (\d+)", "seed", int),
    (r"s (\d+)", "sample_steps", lambda v: max(1, min(1000, int(v)))),
    (r"l ([\d\.]+)", "scale", float),
    (r"g ([\d\.]+)", "guidance_scale", float),
    (r"n (.+)", "negative_prompt", str),
    (r"ss (.+)", "sample_sampler", str),
    (r"cn (.+)", "controlnet_image", str),
    (r"ctr (.+)", "cfg_trunc_ratio", float),
    (r"rcfg (.+)", "renorm_cfg", float),
    (r"fs (.+)", "flow_shift", str),
)


def parse_line(line: str) -> dict[str, Any]:
    """One prompt line as sd-scripts turns it into a prompt dict."""
    pieces = line.split(" --")
    result: dict[str, Any] = {"prompt": pieces[0]}
    for piece in pieces:
        for pattern, key, convert in _PATTERNS:
            match = re.match(pattern, piece, re.IGNORECASE)
            if match:
                with contextlib.suppress(ValueError):  # sd-scripts logs the error and moves on to the next piece
                    result[key] = convert(match.group(1))
                break
    return result


def prompt_lines(text: str) -> list[str]:
    """The lines of a .txt prompt file that sd-scripts treats as prompts."""
    # open(..., "r") turns \r\n and \r into \n; readlines() then splits on \n only (not on splitlines()' others).
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [line.strip() for line in lines if line.strip() and line[0] != "#"]


def parse_file(text: str) -> list[dict[str, Any]]:
    """Every prompt of a .txt prompt file, as sd-scripts reads them."""
    return [parse_line(line) for line in prompt_lines(text)]


def safe_text(text: str) -> str:
    """Prompt text that survives the split: no ' --' inside, no leading piece that reads as an option."""
    cleaned = " ".join(text.split())
    while "--" in cleaned:  # '---' -> '--' after one replace()
        cleaned = cleaned.replace("--", "-")
    if any(re.match(pattern, cleaned, re.IGNORECASE) for pattern, _, _ in _PATTERNS):
        cleaned = cleaned.replace(" ", ", ", 1)  # 'n 1girl' would set the negative prompt; 'n, 1girl' does not
    return cleaned
