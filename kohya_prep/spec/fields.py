"""Field-level validation shared by every section of the spec: problems collected, keys, numbers, text, colours."""

from __future__ import annotations

import difflib
from typing import Any

MAX_REPEATS = 10_000  # num_repeats beyond this is a typo: one image would fill an epoch 10,000 times


class Problems:
    """Collects every problem so a user fixes the spec in one pass."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}" if where else message)


def did_you_mean(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"


def printable(key: str) -> str:
    """A key as it reads in a one-line message: itself, with a newline or control character escaped as in Python."""
    text = key if key.isprintable() else repr(key)[1:-1]
    return text if len(text) <= 60 else text[:40] + "..."


def check_keys(table: dict[str, Any], known: tuple[str, ...], where: str, problems: Problems) -> None:
    for key in table:
        if key not in known:
            problems.add(where, f"unknown key '{printable(key)}'; {did_you_mean(key, known)}")


def shown(value: Any, limit: int = 60) -> str:
    """`value` as the spec would write it, cut short when it is long (a number of thousands of digits)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    what = f"{len(text)} digits" if isinstance(value, int) else f"{len(text)} characters"
    return f"{text[: limit // 2]}...{text[-8:]} ({what})"


def whole_number(value: Any, where: str, field_name: str, problems: Problems, minimum: int = 1,
                 maximum: int = MAX_REPEATS) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(where, f"{field_name} = {shown(value)} must be a whole number; write e.g. {field_name} = {minimum}")
        return None
    if value < minimum:
        problems.add(where, f"{field_name} = {shown(value)} must be at least {minimum}")
        return None
    if value > maximum:
        problems.add(where, f"{field_name} = {shown(value)} is too large; it must be at most {maximum}")
        return None
    return value


def text(value: Any, where: str, field_name: str, problems: Problems, required: bool = True) -> str:
    if not isinstance(value, str):
        problems.add(where, f"{field_name} = {shown(value)} must be a string in quotes")
        return ""
    tidied = " ".join(value.split())
    if required and not tidied:
        problems.add(where, f"{field_name} is empty; give it a value")
    return tidied


def flag(value: Any, where: str, field_name: str, problems: Problems) -> bool:
    if not isinstance(value, bool):
        problems.add(where, f"{field_name} = {shown(value)} must be true or false")
        return False
    return value


def choice(value: Any, where: str, field_name: str, choices: tuple[str, ...], problems: Problems) -> str:
    if value not in choices:
        problems.add(where, f"{field_name} = {shown(value)} must be one of {', '.join(choices)}")
        return choices[0]
    return str(value)


def parse_background(value: Any) -> tuple[int, int, int] | None:
    """'#rrggbb', '#rgb', a colour name, or [r, g, b] as an RGB tuple; None when unreadable."""
    if isinstance(value, list):
        if len(value) == 3 and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value):
            return (value[0], value[1], value[2])
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("white", "black"):  # the default and its opposite, and '#rgb' / '#rrggbb' below,
            return (255, 255, 255) if text.lower() == "white" else (0, 0, 0)  # without Pillow's colour module (35 ms)
        digits = text[1:]
        if text[:1] == "#" and len(digits) in (3, 6) and all(c in "0123456789abcdefABCDEF" for c in digits):
            digits = digits if len(digits) == 6 else "".join(c * 2 for c in digits)
            return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
        from PIL import ImageColor

        try:
            rgb = ImageColor.getrgb(value.strip())
        except ValueError:
            return None
        return (rgb[0], rgb[1], rgb[2])
    return None
