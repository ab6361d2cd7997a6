"""Test helpers: real images and specs written into tmp_path."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from kohya_prep.sdscripts.folders import is_loaded_image, parse_subset_dir_name


def figure_image(size: tuple[int, int] = (1024, 768), mode: str = "RGB") -> Image.Image:
    """A source with distinct shapes so crops and mirrors are not trivially symmetric."""
    background = (0, 0, 0, 0) if mode == "RGBA" else (240, 240, 230)
    img = Image.new(mode, size, background)
    draw = ImageDraw.Draw(img)
    w, h = size
    draw.ellipse([w // 10, h // 8, w // 3, h * 7 // 8], fill=(200, 40, 40))
    draw.rectangle([w // 2, h // 10, w * 9 // 10, h // 3], fill=(40, 40, 200))
    draw.polygon([(w // 2, h * 9 // 10), (w * 3 // 4, h // 2), (w * 9 // 10, h * 9 // 10)], fill=(30, 160, 60))
    return img


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value + "'"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value)


def write_spec(folder: Path, crops: list[dict[str, Any]], sources: dict[str, str] | None = None,
               dataset: dict[str, Any] | None = None, reg: dict[str, Any] | None = None, name: str = "spec.toml",
               create_sources: bool = True) -> Path:
    """Write a spec file; missing source files are created as figure images unless create_sources is off."""
    sources = sources if sources is not None else {"sheet": "src/sheet.png"}
    for relpath in sources.values():
        path = folder / relpath
        if create_sources and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            figure_image().save(path)
    table = {"name": "chara", "trigger": "chara", "class": "girl", "repeats": 10}
    table.update(dataset or {})
    lines = ["[dataset]"] + [f"{k} = {toml_value(v)}" for k, v in table.items()]
    if reg:
        lines += ["[reg]"] + [f"{k} = {toml_value(v)}" for k, v in reg.items()]
    lines += ["[sources]"] + [f"{k} = {toml_value(v)}" for k, v in sources.items()]
    for crop in crops:
        row = {"source": "sheet", "box": [0, 0, 200, 300], "caption": "standing"}
        row.update(crop)
        lines += ["[[crops]]"] + [f"{k} = {toml_value(v)}" for k, v in row.items()]
    spec = folder / name
    spec.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return spec


def tree_state(root: Path) -> dict[str, tuple[str, int]]:
    """relpath -> (sha256, mtime_ns) of every file under root."""
    state = {}
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            state[path.relative_to(root).as_posix()] = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    return state


def sd_scripts_view(data_dir: Path, caption_extension: str = ".txt") -> dict[str, dict[str, Any]]:
    """What sd-scripts loads from a train_data_dir / reg_data_dir, by its folder rules (config_util.py and
    train_util.py: glob_images).

    Immediate sub-folders with an integer prefix >= 1; images by exact-case extension, not recursive;
    the caption is the first line of <stem><caption_extension>, which must be non-empty UTF-8.
    """
    subsets: dict[str, dict[str, Any]] = {}
    for sub in sorted(p for p in data_dir.iterdir() if p.is_dir()):
        parsed = parse_subset_dir_name(sub.name)
        if not parsed.used:
            continue
        images = sorted(p for p in sub.iterdir() if p.is_file() and is_loaded_image(p.name))
        captions = {}
        for image in images:
            caption_path = image.with_suffix(caption_extension)
            if caption_path.exists():
                lines = caption_path.read_bytes().decode("utf-8").splitlines()
                assert lines, f"{caption_path} is empty: sd-scripts stops with 'caption file is empty'"
                captions[image.name] = lines[0]
        subsets[sub.name] = {"num_repeats": parsed.num_repeats, "class_tokens": parsed.class_tokens,
                             "images": [p.name for p in images], "captions": captions}
    return subsets


def snapshot(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry under root, never following a symlink: files by content and mtime, folders by mode, symlinks by
    their target. Comparing two snapshots shows whether anything was changed, moved, lost or followed."""
    state: dict[str, tuple[Any, ...]] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            info = path.lstat()
            rel = path.relative_to(root).as_posix()
            if stat.S_ISLNK(info.st_mode):
                state[rel] = ("symlink", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                state[rel] = ("folder", stat.S_IMODE(info.st_mode))
            elif stat.S_ISREG(info.st_mode):
                state[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest(), info.st_mtime_ns)
            else:
                state[rel] = ("special", stat.S_IFMT(info.st_mode))
    return state


def assert_kept(before: dict[str, tuple[Any, ...]], after: dict[str, tuple[Any, ...]]) -> None:
    """Every entry of `before` is still there, identical (new entries may have appeared)."""
    changed = {rel: (value, after.get(rel)) for rel, value in before.items() if after.get(rel) != value}
    assert not changed, changed


def assert_one_line_error(result: Any, *fragments: str, code: int = 1) -> str:
    """The CLI failed with one `Error: ...` line holding every fragment, and no traceback; the message."""
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    message = result.stderr if hasattr(result, "stderr") else result.output
    assert "Traceback" not in result.output, result.output
    lines = [line for line in message.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1 and (code == 2 or message.count("\n") == 1), message
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def toml_string(text: str) -> str:
    """`text` as a TOML basic string, any character escaped as TOML wants (NUL and newlines too)."""
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04X}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


# A fresh interpreter in which the optional codecs cannot be imported (a None in sys.modules makes `import` fail):
# what a build does on a machine where pip could not install them.
_WITHOUT_CODECS = ("import sys; sys.modules['zlib_ng'] = None; sys.modules['simplejpeg'] = None; "
                   "from kohya_prep.cli import main; sys.argv[0] = 'kohya-prep'; main()")


def run_without_fast_codecs(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a subprocess without zlib-ng and simplejpeg."""
    return subprocess.run([sys.executable, "-c", _WITHOUT_CODECS, *args], capture_output=True, text=True, check=False)
