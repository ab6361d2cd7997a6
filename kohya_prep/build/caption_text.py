"""Caption text the build writes: the trigger first exactly once, and left/right swapped for flipped copies."""

from __future__ import annotations

import re

from kohya_prep.tags import trigger_pattern

# Features that a mirror image gets wrong: flipping them teaches the model the wrong side.
ONE_SIDED_FEATURES: tuple[str, ...] = (
    "eyepatch",
    "eye patch",
    "hair over one eye",
    "hair over eye",
    "one eye covered",
    "one eye closed",
    "scar",
    "side ponytail",
    "side braid",
    "single braid",
    "one side up",
    "asymmetrical",
    "single earring",
    "single glove",
    "single thighhigh",
    "single sleeve",
    "mole under eye",
    "beauty mark",
    "monocle",
    "sword on hip",
    "holding sword",
    "tattoo",
)

_ONE_SIDED = re.compile(r"\b(" + "|".join(re.escape(f) for f in ONE_SIDED_FEATURES) + r")\b")
_SIDE_WORDS = re.compile(r"\b(left|right)\b", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def _match_case(word: str, template: str) -> str:
    if template.isupper():
        return word.upper()
    if template[:1].isupper():
        return word.capitalize()
    return word


def swap_left_right(caption: str) -> str:
    """Swap the words 'left' and 'right' (whole words, keeping their case): a mirror's caption."""

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        return _match_case("right" if word.lower() == "left" else "left", word)

    return _SIDE_WORDS.sub(swap, caption)


def one_sided_features(caption: str) -> list[str]:
    """The one-sided features a caption names (whole words, case-insensitive)."""
    found = set(_ONE_SIDED.findall(_SPACES.sub(" ", caption.lower())))
    return [f for f in ONE_SIDED_FEATURES if f in found]


def normalize_caption(caption: str, trigger: str) -> str:
    """One line: trigger first exactly once, then the caption's comma-separated tags, tidied.

    Whitespace runs become one space, empty tags and line breaks disappear, and any other whole-word
    occurrence of the trigger is removed so that it appears exactly once.
    """
    trigger = _SPACES.sub(" ", trigger).strip()
    pattern = trigger_pattern(trigger)
    tags = []
    for piece in re.split(r"[,\r\n]+", caption):
        tag = _SPACES.sub(" ", pattern.sub(" ", piece)).strip()
        if tag:
            tags.append(tag)
    return ", ".join([trigger, *tags])
