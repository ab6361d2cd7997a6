"""TOML text with comments, written by hand (toml.dumps cannot comment) and re-read by both parsers as a self-check.

Strings go out as literal strings ('C:\\data\\x' loads as written under toml 0.10.2 and tomllib alike), falling back
to escaped basic strings only when the text holds a quote or a control character.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class Entry:
    """One `key = value` line, with the reason it has that value."""

    key: str
    value: Any
    why: str | None = None


@dataclass
class Table:
    """A `[name]` or `[[name]]` table; `name` empty for top-level keys."""

    name: str
    entries: list[Entry] = field(default_factory=list)
    array: bool = False
    comment: str | None = None
    indent: int = 0


def render_value(value: Any) -> str:
    """One value in TOML syntax that toml 0.10.2 and tomllib read back unchanged."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"no TOML for {value!r}")
        return repr(value)  # '8.0', '0.0001', '1e-05': always a float literal
    if isinstance(value, str):
        return _render_string(value)
    if isinstance(value, (list, tuple)):
        kinds = {type(v) for v in value}
        if len(kinds) > 1:
            raise ValueError(f"mixed array {value!r}: toml 0.10.2 rejects it")
        return "[" + ", ".join(_render_array_item(v) for v in value) + "]"
    raise TypeError(f"no TOML rendering for {type(value).__name__}")


def _render_string(text: str) -> str:
    if "'" not in text and not any(ord(c) < 32 or ord(c) == 127 for c in text):
        return f"'{text}'"
    return _basic_string(text)


def _render_array_item(value: Any) -> str:
    # Arrays of option strings read best as the docs show them: ["conv_dim=4", "conv_alpha=1"].
    return _basic_string(value) if isinstance(value, str) else render_value(value)


def _basic_string(text: str) -> str:
    out = []
    for char in text:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif ord(char) < 32 or ord(char) == 127:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def render_document(header: list[str], tables: list[Table]) -> str:
    """The whole file: header comment lines, then each table with its entries and their reasons."""
    lines = [f"# {h}".rstrip() for h in header]
    for table in tables:
        pad = " " * table.indent
        if lines:
            lines.append("")
        if table.comment:
            lines.extend(f"{pad}# {c}".rstrip() for c in table.comment.splitlines())
        if table.name:
            brackets = ("[[", "]]") if table.array else ("[", "]")
            lines.append(f"{pad}{brackets[0]}{table.name}{brackets[1]}")
        for entry in table.entries:
            line = f"{pad}{entry.key} = {render_value(entry.value)}"
            if entry.why:
                line += "  # " + " ".join(entry.why.split())
            lines.append(line)
    return "\n".join(lines) + "\n"


def parse_both(text: str) -> dict[str, Any]:
    """Parse with the `toml` package (sd-scripts' reader) and tomllib; both must agree, or this is a bug."""
    import toml

    by_toml = toml.loads(text)
    by_tomllib = tomllib.loads(text)
    if by_toml != by_tomllib:
        raise AssertionError(f"toml and tomllib disagree on generated TOML:\n{by_toml}\n{by_tomllib}")
    return by_tomllib


def checked_render(header: list[str], tables: list[Table], expected: dict[str, Any]) -> str:
    """Render and re-parse; the parsed data must equal `expected` exactly (a mismatch is a kohya-prep bug)."""
    text = render_document(header, tables)
    parsed = parse_both(text)
    if parsed != expected:
        raise AssertionError(f"generated TOML does not read back as intended:\n{parsed}\n!=\n{expected}")
    return text
