"""Presets: one commented TOML per family in templates/, found in an installed wheel or a source checkout.

A preset is read like sd-scripts reads an args TOML (sections lifted one level), and every key and value is
checked against the family's argparse table, so a broken preset fails loudly instead of being ignored.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kohya_prep.errors import ConfigError
from kohya_prep.trainconfig.argtable import coerce, lookup

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_SOURCE_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@dataclass(frozen=True)
class Preset:
    """A family's starting values and the comment written beside each in the template."""

    family: str
    source: str
    values: dict[str, Any]
    comments: dict[str, str]


def preset_text(family: str) -> tuple[str, str]:
    """The template's text and where it was found: the installed package first, then the checkout's templates/."""
    name = f"{family}.toml"
    try:
        from importlib.resources import files

        resource = files("kohya_prep.templates") / name
        return resource.read_text(encoding="utf-8"), f"kohya_prep.templates/{name}"
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        path = _SOURCE_TEMPLATES / name
        if not path.is_file():
            raise ConfigError(f"the {family} preset ({name}) is missing from this install; reinstall kohya-prep.") from None
        return path.read_text(encoding="utf-8"), str(path)


def load_preset(family: str) -> Preset:
    """The family's preset, flattened and type-checked."""
    text, source = preset_text(family)
    data = tomllib.loads(text)
    values: dict[str, Any] = {}
    for key, value in data.items():
        # library/train_util.py: read_config_from_file lifts one level of tables; presets follow the same rule.
        values.update(value if isinstance(value, dict) else {key: value})
    for key, value in values.items():
        where = f"preset {source}"
        values[key] = coerce(lookup(family, key, where), value, where)
    return Preset(family, source, values, trailing_comments(text))


def trailing_comments(text: str) -> dict[str, str]:
    """`key = value  # comment` lines of a template, as {key: comment}, so the reasons reach the written file."""
    comments = {}
    for line in text.splitlines():
        key, sep, rest = line.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier() or "#" not in rest:
            continue
        value_part, _, comment = rest.rpartition("#")
        # Only a '#' after the value counts: one inside a quoted value leaves an odd number of quotes before it.
        if value_part.count('"') % 2 == 0 and value_part.count("'") % 2 == 0 and comment.strip():
            comments[key] = comment.strip()
    return comments
