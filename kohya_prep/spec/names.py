"""The rule for names that become file or folder names: crop names, the dataset name."""

from __future__ import annotations

import re

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
_CACHE_LIKE = re.compile(r"_\d+x\d+($|_)|_te$|_te_outputs$")


def unsafe_name_reason(name: str) -> str | None:
    """Why `name` is no safe file stem, or None when it is."""
    if not _SAFE_NAME.match(name):
        return "use letters, digits, '.', '-' and '_' only, starting with a letter or digit"
    if name.endswith("."):
        return "a name may not end with '.'"
    if name.split(".")[0].lower() in _WINDOWS_RESERVED:
        return "that name is reserved on Windows"
    if name.count("_") >= 4:
        return "four or more '_' make sd-scripts' caption fallback misread it; use '-' instead"
    if _CACHE_LIKE.search(name):
        return "it looks like an sd-scripts cache name (_WxH or _te); rename it"
    if len(name) > 100:
        return "keep it under 100 characters"
    return None
