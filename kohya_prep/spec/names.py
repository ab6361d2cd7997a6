"""The one rule for names that become file or folder names: the dataset name, crop names, subset folders and the
trigger and class words they are made of, source ids (overlay-<id>.png).

A name is one path component on Linux, macOS and Windows alike: no folder separator of any of them, no '..', no
NUL or other control character, nothing Windows refuses to create or open (`<>:"|?*`, a trailing dot or space,
CON, NUL, COM1...). Every reason ends with its fix.
"""

from __future__ import annotations

import re
import unicodedata

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_WINDOWS_FORBIDDEN = '<>:"|?*'
_WINDOWS_RESERVED = {
    "con", "prn", "aux", "nul", "conin$", "conout$",
    *(f"{port}{n}" for port in ("com", "lpt") for n in (*"0123456789", "¹", "²", "³")),
}
_CACHE_LIKE = re.compile(r"_\d+x\d+($|_)|_te$|_te_outputs$")
MAX_NAME_BYTES = 255  # NAME_MAX of ext4, APFS and NTFS (in bytes of UTF-8 on the first, close enough for the others)
MAX_PART_BYTES = 120  # trigger and class: '10000_<trigger> <class>' stays within MAX_NAME_BYTES


def _character_problem(text: str) -> str | None:
    for char in text:
        if char in "/\\":
            return f"it contains {char!r}, a folder separator; a name is one folder or file, not a path: use '-' instead"
        if char == "\0":
            return "it contains a NUL byte (\\u0000); remove it"
        category = unicodedata.category(char)
        if category == "Cc":
            return f"it contains the control character U+{ord(char):04X}; remove it"
        if category == "Cs":
            return f"it contains U+{ord(char):04X}, half of a UTF-16 pair, which is no character; remove it"
        if char in _WINDOWS_FORBIDDEN:
            return f"it contains {char!r}, which Windows does not allow in file names; use '-' instead"
    return None


def path_part_problem(text: str, ends_name: bool = False) -> str | None:
    """Why `text` cannot be part of a file or folder name (the trigger and class in '10_trigger class'), or None.

    `ends_name`: the text ends the name (the class words end both subset folder names), so Windows' rule on the
    last character applies to it.
    """
    if text in (".", ".."):
        return f"{text!r} means a folder itself, not a name; use letters or digits"
    problem = _character_problem(text)
    if problem:
        return problem
    if ends_name and text[-1:] in (".", " "):
        return "it ends with '.' or a space, which Windows drops from file names; remove it"
    size = len(text.encode("utf-8"))
    if size > MAX_PART_BYTES:
        return f"it is {size} bytes long; keep it to {MAX_PART_BYTES} so the folder name fits the file system"
    return None


def path_component_problem(name: str) -> str | None:
    """Why `name` cannot be one file or folder name on every system kohya-prep runs on, or None when it can."""
    if not name:
        return "it is empty; give it a value"
    problem = path_part_problem(name)
    if problem:
        return problem
    if name[-1] in ". ":
        return "it ends with '.' or a space, which Windows drops from file names; remove it"
    if name.split(".")[0].rstrip(" ").lower() in _WINDOWS_RESERVED:
        return f"{name.split('.')[0]!r} is a device name reserved on Windows; rename it"
    size = len(name.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        return f"it is {size} bytes long and file systems allow at most {MAX_NAME_BYTES}; shorten it"
    return None


def path_text_problem(text: str) -> str | None:
    """Why `text` cannot be a path a user wrote (a source file, the reg folder), or None: control characters only."""
    for char in text:
        if char == "\0" or unicodedata.category(char) in ("Cc", "Cs"):
            return f"it contains the control character U+{ord(char):04X}; remove it"
    return None


def unsafe_name_reason(name: str) -> str | None:
    """Why `name` is no safe file stem (a crop name, the dataset folder), or None when it is."""
    problem = path_component_problem(name)
    if problem:
        return problem
    if not _SAFE_NAME.match(name):
        return "use letters, digits, '.', '-' and '_' only, starting with a letter or digit"
    if name.count("_") >= 4:
        return "four or more '_' make sd-scripts' caption fallback misread it; use '-' instead"
    if _CACHE_LIKE.search(name):
        return "it looks like an sd-scripts cache name (_WxH or _te); rename it"
    if len(name) > 100:
        return "keep it under 100 characters"
    return None
