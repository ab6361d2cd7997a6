"""One merged setting: the value bound for one of the files, and why it has that value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    """A value bound for one of the files, and why it has that value."""

    value: Any
    why: str | None
