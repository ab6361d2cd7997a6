"""Caption fields of the spec: tag lists, the composed caption of a crop, and sidecar caption files.

A crop's caption is composed as trigger (added by the build), [dataset] tags, its source's tags, then its own
caption, each tag once (the first occurrence wins, compared case-insensitively). A caption written as one string
with no shared tags above it is passed through as written, so existing specs build the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kohya_prep.spec.fields import Problems
from kohya_prep.tags import split_tags

# sd-scripts' caption_extension is '.caption' by default and '.txt' in kohya_ss' GUI; a folder holding both
# is read as the GUI would.
SIDECAR_EXTENSIONS = (".txt", ".caption")


def tag_list(value: Any, where: str, field_name: str, problems: Problems) -> tuple[str, ...] | None:
    """A list of tags, each one non-empty string without commas or line breaks; None (and a problem) otherwise."""
    example = f"{field_name} = ['white background', 'smile']"
    if not isinstance(value, list):
        problems.add(where, f"{field_name} = {value!r} must be a list of tags in quotes, e.g. {example}")
        return None
    tags = []
    for position, tag in enumerate(value, start=1):
        if not isinstance(tag, str) or not tag.strip():
            problems.add(where, f"{field_name}[{position}] = {tag!r} must be a tag in quotes, e.g. {example}")
            return None
        if "," in tag or "\n" in tag or "\r" in tag:
            pieces = ", ".join(repr(t) for t in split_tags(tag))
            problems.add(where, f"{field_name}[{position}] = {tag!r} holds several tags; write each as its own item: {pieces}")
            return None
        tags.append(" ".join(tag.split()))
    return tuple(tags)


def caption_value(value: Any, where: str, problems: Problems) -> str | tuple[str, ...]:
    """A crop's own caption: one string of comma-separated tags, or a list of tags."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return tag_list(value, where, "caption", problems) or ()
    problems.add(where, f"caption = {value!r} must be text in quotes or a list of tags, e.g. caption = ['full body', 'smile']")
    return ""


def compose_caption(shared: Sequence[str], own: str | Sequence[str]) -> str:
    """Shared tags, then the crop's own, each once; a plain string with nothing shared is kept as written."""
    if isinstance(own, str) and not shared:
        return own
    own_tags = split_tags(own) if isinstance(own, str) else list(own)
    seen: set[str] = set()
    tags = []
    for tag in [*shared, *own_tags]:
        if tag.lower() not in seen:
            seen.add(tag.lower())
            tags.append(tag)
    return ", ".join(tags)


def read_sidecar(image: Path) -> tuple[str | None, str | None]:
    """The caption file beside an image, as sd-scripts reads it (its first line; library/train_util.py:
    read_caption), and a problem when it cannot be read. (None, None) when there is none."""
    for extension in SIDECAR_EXTENSIONS:
        path = image.with_suffix(extension)
        if not path.is_file():
            continue
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError:
            return None, f"caption file {path.name} is not UTF-8 text; save it as UTF-8"
        except OSError as err:
            return None, f"caption file {path.name} cannot be read ({err.strerror})"
        lines = text.splitlines()
        return (lines[0].strip() if lines else ""), None
    return None, None
