"""Caption tags and the trigger word: one rule, shared by the build, `dataset check` and train-config.

A caption is comma-separated tags. The trigger is present where it stands as a whole word: not glued to a
letter, digit, '_' or '-' on either side, case-insensitive. So `mirakp` is in `mirakp girl, standing` but not in
`mirakp-v2, standing` (another name), and `mirakp-v2` is in the latter.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

_SPACES = re.compile(r"\s+")


def split_tags(caption: str) -> list[str]:
    """The caption's comma-separated tags, whitespace tidied, empty ones dropped (case kept)."""
    return [tag for tag in (_SPACES.sub(" ", piece).strip() for piece in caption.split(",")) if tag]


@lru_cache(maxsize=64)
def trigger_pattern(trigger: str) -> re.Pattern[str]:
    """The trigger as a whole word (see the module docstring)."""
    word = re.escape(_SPACES.sub(" ", trigger).strip())
    return re.compile(rf"(?<![\w-]){word}(?![\w-])", re.IGNORECASE)


def has_trigger(caption: str, trigger: str) -> bool:
    """Whether `caption` holds `trigger` as a whole word."""
    return trigger_pattern(trigger).search(caption) is not None


def infer_trigger(captions: Sequence[str]) -> str | None:
    """The most common first tag (lower-cased), when more than half the captions start with it."""
    firsts = Counter(tags[0].lower() for tags in (split_tags(c) for c in captions) if tags)
    if not firsts:
        return None
    tag, count = firsts.most_common(1)[0]
    return tag if count * 2 > len(captions) else None
