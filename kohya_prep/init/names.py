"""Free source ids and crop names for what init adds: readable, unique (case-insensitively), safe as keys and files."""

from __future__ import annotations

import re

from kohya_prep.spec.crops import image_crop_name


def slug(text: str, fallback: str = "source") -> str:
    """Letters, digits, '-' and '_' only: a bare TOML key and a safe file stem."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-_")[:60] or fallback


class Names:
    """The ids and names taken so far (the existing spec's, with --add), handing out free ones."""

    def __init__(self, ids: set[str] | None = None, names: set[str] | None = None) -> None:
        self.ids = {i.lower() for i in ids or set()}
        self.names = {n.lower() for n in names or set()}

    @staticmethod
    def _free(wanted: str, taken: set[str]) -> str:
        candidate, number = wanted, 2
        while candidate.lower() in taken or candidate.lower() + "-flip" in taken:
            candidate, number = f"{wanted}-{number}", number + 1
        taken.add(candidate.lower())
        return candidate

    def source_id(self, wanted: str) -> str:
        return self._free(slug(wanted), self.ids)

    def crop_name(self, wanted: str) -> str:
        return self._free(image_crop_name(wanted), self.names)
